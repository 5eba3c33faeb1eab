/* SPDX-License-Identifier: MIT */
/* Private to the HTTP server: what http.c (daemon, connections, routing,
 * probes, drain) and http_answers.c (products and /health) share. */
#ifndef RETAIL_HTTP_INTERNAL_H
#define RETAIL_HTTP_INTERNAL_H

#include "retail/buf.h"
#include "retail/http.h"
#include "retail/log.h"
#include "retail/product.h"
#include "retail/query.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum route {
    ROUTE_NONE = 0,
    ROUTE_HEALTH,
    ROUTE_LIVE,
    ROUTE_READY,
    ROUTE_METRICS,
    ROUTE_PRODUCTS,
    ROUTE_PRODUCT,
};

struct http_server {
    struct http_deps deps;
    struct MHD_Daemon *daemon;
    int listen_fd;
    _Atomic int64_t ttl_ms;
    _Atomic int64_t stale_ms;
    _Atomic int64_t products_deadline_ms;
    atomic_bool draining;
    atomic_uint in_flight; /* requests between their first call and completion */
    atomic_uint suspended; /* connections suspended and not yet run again */
    struct log_ratelimit fallback_log;
    struct log_ratelimit wait_log;
    struct log_ratelimit miss_log;
};

/* One connection's state (MHD's socket context), reused by each request
 * it carries; owned by MHD's connection notifications in http.c. */
struct conn {
    bool active;        /* a request is between its first call and completion */
    int64_t started_us; /* monotonic, at its first call */
    enum route route;
    unsigned status; /* of the answer queued */
    uint64_t number; /* for the id the log makes up */
    bool echo_id;    /* the client sent X-Request-Id: echo it */
    char client_id[HTTP_REQUEST_ID_MAX + 1];
    /* Kept only while the log writes a line per request (LOG_LEVEL=debug). */
    bool access_log;
    char method[8];
    char path[200];
};

/* A request that waits for a catalog: its own allocation, freed when it
 * completes. A request answered on its first call allocates nothing. */
struct request {
    struct waiter waiter;
    enum route route;
    int64_t started_ms;
    struct products_query query;
    char category[QUERY_CATEGORY_MAX + 1];
    char id[PRODUCT_ID_MAX];
};

/* Headers an answer may carry beside Content-Type. */
struct reply {
    const char *x_cache; /* or NULL */
    int64_t age_s;       /* sent when x_cache is set */
    const char *allow;   /* or NULL */
    bool www_authenticate;
};

/* The connection's state (never NULL while MHD serves it). */
struct conn *http_conn(struct MHD_Connection *connection);

/* Queues response with status, noting the status for the metrics. */
enum MHD_Result http_queue(struct MHD_Connection *connection, unsigned status,
                           struct MHD_Response *response);

/* True when an answer kept for reuse may be queued: not while draining
 * (answers then carry Connection: close) nor when the request's id must be
 * echoed. */
bool http_may_reuse(struct http_server *s, struct MHD_Connection *connection);

/* A response for body (its contents are *taken*) with reply's headers, the
 * request's echoed id and Connection: close while draining: *new*, one
 * reference (MHD_destroy_response); NULL on failure. */
struct MHD_Response *http_make_response(struct http_server *s, struct MHD_Connection *connection,
                                        struct buf *body, const struct reply *reply, size_t *size);

/* Queues body (*taken*) with status; a static 500 if it cannot be built. */
enum MHD_Result http_send_json(struct http_server *s, struct MHD_Connection *connection,
                               unsigned status, struct buf *body, const struct reply *reply);

/* Queues {"error": code, "detail": detail}. */
enum MHD_Result http_send_error(struct http_server *s, struct MHD_Connection *connection,
                                unsigned status, const char *code, const char *detail,
                                const struct reply *reply);

/* Queues a fixed 500 answer that needs no allocation. */
enum MHD_Result http_send_static_error(struct MHD_Connection *connection);

/* http_answers.c: a products or product request, after the key and the
 * query were checked; may park it (setting *con_cls). */
enum MHD_Result http_answer_products(struct http_server *s, struct MHD_Connection *connection,
                                     enum route route, const struct products_query *query,
                                     const char *id, void **con_cls);

/* http_answers.c: a parked request, run again after being resumed. */
enum MHD_Result http_answer_resumed(struct http_server *s, struct MHD_Connection *connection,
                                    struct request *req);

/* http_answers.c: GET /health. */
enum MHD_Result http_answer_health(struct http_server *s, struct MHD_Connection *connection);

#endif
