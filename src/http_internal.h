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
#include <pthread.h>
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
    struct log_ratelimit mhd_log;
    struct log_ratelimit reject_log;
    /* Open connections, for the header and idle deadlines (http_conns.c). */
    pthread_mutex_t conns_lock;
    struct conn *conns; /* a list, under conns_lock */
    atomic_uint connections;
    _Atomic uint64_t timed_out; /* connections closed for missing a deadline */
    pthread_t sweeper;
    pthread_cond_t sweeper_wake;
    bool sweeper_running;
    bool sweeper_stop; /* under conns_lock */
    struct log_ratelimit timeout_log;
};

/* Why a request is refused before it is routed (set while MHD parses it). */
enum reject {
    REJECT_NONE = 0,
    REJECT_URI_TOO_LONG,     /* 414 */
    REJECT_TOO_MANY_ARGS,    /* 414 */
    REJECT_TOO_MANY_HEADERS, /* 431 */
    REJECT_NUL,              /* 400: a percent-encoded NUL in the path or query */
};

/* One connection's state (MHD's socket context), reused by each request
 * it carries; owned by MHD's connection notifications in http.c. */
struct conn {
    struct conn *prev, *next; /* in the server's list, under conns_lock */
    int fd;
    /* Monotonic ms by which the next request's headers must be in; 0 while
     * a request runs. Written by the connection's thread, read by the
     * sweeper. */
    _Atomic int64_t deadline_ms;
    enum reject reject;
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
    bool close; /* Connection: close */
};

/* The connection's state (never NULL while MHD serves it). */
struct conn *http_conn(struct MHD_Connection *connection);

/* http_conns.c: the deadlines of client connections. A new connection
 * must deliver its first request's headers within the header timeout, a
 * kept-alive one its next within the idle timeout of the last answer; a
 * thread closes (shutdown(2)) those that miss, however slowly they send.
 * MHD's own timeout only sees inactivity, which one byte a second defeats. */
int http_conns_start(struct http_server *s) RETAIL_WUR;
void http_conns_stop(struct http_server *s);
void http_conns_opened(struct http_server *s, struct MHD_Connection *connection, struct conn *conn);
void http_conns_closed(struct http_server *s, struct conn *conn);
/* A request's headers are in / its answer was sent (now_ms: monotonic). */
void http_conns_request_began(struct conn *conn);
void http_conns_request_ended(struct http_server *s, struct conn *conn, int64_t now_ms);

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
