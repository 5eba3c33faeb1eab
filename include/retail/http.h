/* SPDX-License-Identifier: MIT */
/* The HTTP server: libmicrohttpd with an epoll thread pool, the router and
 * the handlers.
 *
 * Routes (all GET or HEAD):
 *   /health             the health document (no key)
 *   /live               200 while the process answers (no key)
 *   /ready              200 while serving, 503 while draining (no key)
 *   /metrics            Prometheus text format (no key: it holds no secret)
 *   /v1/products[/]     a page of products (X-API-Key)
 *   /v1/products/{id}   one product (X-API-Key)
 * Products are answered from the catalog in service without touching
 * Redis or Shopify: fresh (X-Cache: HIT), else stale (STALE), else the
 * fallback (FALLBACK). Only when there is nothing servable and the breaker
 * says a read is in flight whose result is worth waiting for is the
 * request's connection suspended and parked (see waiters.h), for at most
 * the products deadline: no HTTP thread ever blocks.
 *
 * A request's X-Request-Id (1 to 64 of A-Z a-z 0-9 . _ : / -) is echoed in
 * its answer and tagged on its log lines; without one, log lines carry an
 * id the server makes up.
 *
 * Threads: MHD's pool threads run the handlers; http_create, http_drain
 * and http_destroy are called by main only; http_set_limits by main at
 * any time (on a reload). */
#ifndef RETAIL_HTTP_H
#define RETAIL_HTTP_H

#include "retail/auth.h"
#include "retail/breaker.h"
#include "retail/cache.h"
#include "retail/catalog.h"
#include "retail/health.h"
#include "retail/metrics.h"
#include "retail/published.h"
#include "retail/waiters.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_RESPONSE_MAX (64u * 1024 * 1024)
#define HTTP_REQUEST_ID_MAX 64

/* What the server needs; every pointer is *borrowed* and must outlive it. */
struct http_deps {
    const char *host;
    unsigned port;
    unsigned threads;      /* 0: one per core this process may run on */
    bool catalog_expected; /* false: no refresher runs, answer from the fallback at once */
    struct cache *cache;
    const struct catalog *fallback;
    struct health *health;
    struct metrics *metrics;
    struct waiters *waiters;
    struct published *auth;  /* of struct auth: swapped by a reload */
    struct breaker *breaker; /* says whether a cold request may wait; NULL without Shopify */
    /* Client connections. */
    unsigned max_connections;
    unsigned max_connections_per_client; /* 0: no limit */
    int64_t header_timeout_ms;           /* for a new connection's first request headers */
    int64_t idle_timeout_ms;             /* for a kept-alive connection's next ones */
};

/* What the server accepts of a request; longer or more is refused with a
 * JSON 414 or 431 (libmicrohttpd itself refuses, in HTML, what does not fit
 * its 16 KiB of memory per connection). */
#define HTTP_URI_MAX 8192
#define HTTP_ARGS_MAX 64
#define HTTP_HEADERS_MAX 64

/* What a reload may change while the server runs. */
struct http_limits {
    int64_t ttl_ms;               /* fresh below this age */
    int64_t stale_ms;             /* servable below this age */
    int64_t products_deadline_ms; /* the longest a request waits for a catalog */
};

struct http_server;

/* Binds, listens and starts serving. NULL on failure, with err saying why
 * in one line (e.g. "bind 0.0.0.0:8000: Address already in use"). */
struct http_server *http_create(const struct http_deps *deps, const struct http_limits *limits,
                                char *err, size_t errlen);

/* Applies new limits to the requests that arrive from now on. */
void http_set_limits(struct http_server *server, const struct http_limits *limits);

/* Starts draining: the listening socket closes (new connections are
 * refused), /ready answers 503 on kept-alive connections, answers carry
 * Connection: close. Waits up to timeout_ms for the requests in flight to
 * finish, parked ones included (they still get the catalog a refresh
 * brings, or the fallback at their deadline); returns how many were still
 * running when it stopped waiting. http_destroy answers those. */
unsigned http_drain(struct http_server *server, int64_t timeout_ms);

/* Stops the daemon and frees the server; accepts NULL. */
void http_destroy(struct http_server *server);

/* GET /live at host (the listening address; loopback when it is a
 * wildcard or "localhost") and port, within timeout_ms: the watchdog's
 * proof that the HTTP threads still answer. */
bool http_probe_live(const char *host, unsigned port, int64_t timeout_ms);

/* The number of cores this process may run on (its CPU affinity). */
unsigned http_usable_cores(void);

#endif
