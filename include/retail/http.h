/* SPDX-License-Identifier: MIT */
/* The HTTP server: libmicrohttpd with an epoll thread pool, the router and
 * the handlers for /health and /v1/products.
 *
 * Routes: GET|HEAD /health (no key); GET|HEAD /v1/products and
 * /v1/products/ (X-API-Key); GET|HEAD /v1/products/{id} (X-API-Key).
 * Products are answered from the catalog in service without touching
 * Redis or Shopify: fresh (X-Cache: HIT), else stale (STALE), else the
 * fallback (FALLBACK). Only when there is nothing servable and the breaker
 * says a read is in flight whose result is worth waiting for is the
 * request's connection suspended and parked (see waiters.h), for at most
 * PRODUCTS_DEADLINE_MS: no HTTP thread ever blocks, and while the breaker
 * is open every answer is immediate.
 *
 * Threads: MHD's pool threads run the handlers; http_create, http_quiesce
 * and http_destroy are called by main only. */
#ifndef RETAIL_HTTP_H
#define RETAIL_HTTP_H

#include "retail/auth.h"
#include "retail/breaker.h"
#include "retail/cache.h"
#include "retail/catalog.h"
#include "retail/health.h"
#include "retail/waiters.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_RESPONSE_MAX (64u * 1024 * 1024)

/* What the server needs; every pointer is *borrowed* and must outlive it. */
struct http_deps {
    const char *host;
    unsigned port;
    unsigned threads; /* 0: one per core this process may run on */
    int64_t products_deadline_ms;
    bool catalog_expected;   /* false: no refresher runs, answer from the fallback at once */
    int64_t ttl_ms;          /* fresh below this age */
    int64_t stale_ms;        /* servable below this age */
    struct breaker *breaker; /* says whether a cold request may wait; NULL without Shopify */
    struct cache *cache;
    const struct catalog *fallback;
    struct health *health;
    struct waiters *waiters;
    const struct auth *auth;
};

struct http_server;

/* Binds, listens and starts serving. NULL on failure, with err saying why
 * in one line (e.g. "bind 0.0.0.0:8000: Address already in use"). */
struct http_server *http_create(const struct http_deps *deps, char *err, size_t errlen);

/* The number of cores this process may run on (its CPU affinity). */
unsigned http_usable_cores(void);

/* Stops accepting new connections; requests already running go on. */
void http_quiesce(struct http_server *server);

/* Resumes parked requests (they are answered), waits briefly for them,
 * stops the daemon and frees the server; accepts NULL. */
void http_destroy(struct http_server *server);

#endif
