/* SPDX-License-Identifier: MIT */
/* HTTP server on libmicrohttpd: connections, routing, keys and queries,
 * probes and metrics, drain. The answers themselves are in http_answers.c. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "http_internal.h"

#include "retail/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024
/* libmicrohttpd's per-connection pool holds the request's headers and the
 * answer's; it is zeroed for every request on a kept-alive connection, so
 * its size is paid per request. 16 KiB holds any sane request head. */
#define CONNECTION_MEMORY 16384
#define RESUME_WAIT_MS 2000

/* The routes, in one table: the OpenAPI test reads the paths from here. */
static const struct {
    const char *path;
    enum route route;
} routes[] = {
    {"/health", ROUTE_HEALTH},
    {"/live", ROUTE_LIVE},
    {"/ready", ROUTE_READY},
    {"/metrics", ROUTE_METRICS},
    {"/v1/products", ROUTE_PRODUCTS},
    {"/v1/products/", ROUTE_PRODUCTS},
    {"/v1/products/{id}", ROUTE_PRODUCT},
};

static const enum metrics_route metrics_routes[] = {
    [ROUTE_NONE] = METRICS_ROUTE_OTHER,      [ROUTE_HEALTH] = METRICS_ROUTE_HEALTH,
    [ROUTE_LIVE] = METRICS_ROUTE_LIVE,       [ROUTE_READY] = METRICS_ROUTE_READY,
    [ROUTE_METRICS] = METRICS_ROUTE_METRICS, [ROUTE_PRODUCTS] = METRICS_ROUTE_PRODUCTS,
    [ROUTE_PRODUCT] = METRICS_ROUTE_PRODUCT,
};

static const char internal_error_body[] =
    "{\"error\":\"internal_error\",\"detail\":\"the answer could not be built; try again\"}";

struct conn *
http_conn(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return info != NULL ? info->socket_context : NULL;
}

enum MHD_Result
http_queue(struct MHD_Connection *connection, unsigned status, struct MHD_Response *response)
{
    struct conn *conn = http_conn(connection);

    if (conn != NULL) {
        conn->status = status;
    }
    return MHD_queue_response(connection, status, response);
}

bool
http_may_reuse(struct http_server *s, struct MHD_Connection *connection)
{
    struct conn *conn = http_conn(connection);

    return !atomic_load_explicit(&s->draining, memory_order_relaxed) &&
           (conn == NULL || !conn->echo_id);
}

enum MHD_Result
http_send_static_error(struct MHD_Connection *connection)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(
        sizeof(internal_error_body) - 1, (void *)(uintptr_t)internal_error_body,
        MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret;

    if (response == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json; charset=utf-8");
    ret = http_queue(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, response);
    MHD_destroy_response(response);
    return ret;
}

struct MHD_Response *
http_make_response(struct http_server *s, struct MHD_Connection *connection, struct buf *body,
                   const struct reply *reply, size_t *size)
{
    struct conn *conn = http_conn(connection);
    struct MHD_Response *response;
    size_t len;
    char *data = buf_steal(body, &len);

    if (data == NULL) {
        log_error("http", "could not build an answer: %s", retail_status_str(buf_status(body)));
        buf_deinit(body);
        return NULL;
    }
    response = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (response == NULL) {
        free(data);
        return NULL;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json; charset=utf-8");
    if (reply != NULL && reply->x_cache != NULL) {
        char age[24];

        snprintf(age, sizeof(age), "%" PRId64, reply->age_s > 0 ? reply->age_s : 0);
        MHD_add_response_header(response, "X-Cache", reply->x_cache);
        MHD_add_response_header(response, MHD_HTTP_HEADER_AGE, age);
    }
    if (reply != NULL && reply->allow != NULL) {
        MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, reply->allow);
    }
    if (reply != NULL && reply->www_authenticate) {
        MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "ApiKey");
    }
    if (conn != NULL && conn->echo_id) {
        MHD_add_response_header(response, "X-Request-Id", conn->client_id);
    }
    if (atomic_load_explicit(&s->draining, memory_order_relaxed) ||
        (reply != NULL && reply->close)) {
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    *size = len;
    return response;
}

enum MHD_Result
http_send_json(struct http_server *s, struct MHD_Connection *connection, unsigned status,
               struct buf *body, const struct reply *reply)
{
    size_t size;
    struct MHD_Response *response = http_make_response(s, connection, body, reply, &size);
    enum MHD_Result ret;

    if (response == NULL) {
        return http_send_static_error(connection);
    }
    ret = http_queue(connection, status, response);
    MHD_destroy_response(response); /* the connection keeps its own reference until sent */
    return ret;
}

enum MHD_Result
http_send_error(struct http_server *s, struct MHD_Connection *connection, unsigned status,
                const char *code, const char *detail, const struct reply *reply)
{
    struct buf body;

    buf_init(&body, 4096);
    buf_append_str(&body, "{\"error\":");
    buf_append_json_string(&body, code, strlen(code));
    buf_append_str(&body, ",\"detail\":");
    buf_append_json_string(&body, detail, strlen(detail));
    buf_append_str(&body, "}");
    return http_send_json(s, connection, status, &body, reply);
}

/* 400 for a bad query parameter: {"error", "parameter", "detail"}. */
static enum MHD_Result
send_param_error(struct http_server *s, struct MHD_Connection *connection,
                 const struct query_error *error)
{
    struct buf body;

    buf_init(&body, 4096);
    buf_appendf(&body,
                "{\"error\":\"invalid_parameter\",\"parameter\":\"%s\",\"detail\":", error->param);
    buf_append_json_string(&body, error->detail, strlen(error->detail));
    buf_append_str(&body, "}");
    return http_send_json(s, connection, MHD_HTTP_BAD_REQUEST, &body, NULL);
}

/* Maps the path to a route; for /v1/products/{id} copies a valid id
 * (digits only) into id, leaving it empty when the id cannot exist. */
static enum route
route_of(const char *url, char id[PRODUCT_ID_MAX])
{
    static const char prefix[] = "/v1/products/";
    size_t n = sizeof(prefix) - 1;
    const char *rest;
    size_t len;

    id[0] = '\0';
    /* The absolute form (RFC 9112, 3.2.2: a server must accept it): the
     * path is what follows the authority. */
    if (url[0] != '/' && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)) {
        url = strchr(strstr(url, "//") + 2, '/');
        if (url == NULL) {
            url = "/";
        }
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (routes[i].route != ROUTE_PRODUCT && strcmp(url, routes[i].path) == 0) {
            return routes[i].route;
        }
    }
    if (strncmp(url, prefix, n) != 0 || strchr(url + n, '/') != NULL) {
        return ROUTE_NONE;
    }
    rest = url + n;
    len = strlen(rest);
    if (len > 0 && len < PRODUCT_ID_MAX && strspn(rest, "0123456789") == len && rest[0] != '0') {
        memcpy(id, rest, len + 1);
    }
    return ROUTE_PRODUCT;
}

struct query_walk {
    struct products_query *query;
    struct query_error error;
    int rc;
};

static enum MHD_Result
on_query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct query_walk *walk = cls;

    (void)kind;
    walk->rc = query_products_add(walk->query, key, value, value != NULL ? strlen(value) : 0,
                                  &walk->error);
    return walk->rc == RETAIL_OK ? MHD_YES : MHD_NO;
}

static enum MHD_Result
answer_text(struct http_server *s, struct MHD_Connection *connection, unsigned status,
            const char *json)
{
    struct buf body;

    buf_init(&body, 256);
    buf_append_str(&body, json);
    return http_send_json(s, connection, status, &body, NULL);
}

static enum MHD_Result
answer_metrics(struct http_server *s, struct MHD_Connection *connection)
{
    struct metrics_inputs in = {
        .health = s->deps.health,
        .breaker = s->deps.breaker,
        .current = cache_peek(s->deps.cache, NULL),
        .fallback = s->deps.fallback,
        .draining = atomic_load(&s->draining),
        .in_flight = atomic_load(&s->in_flight),
        .connections = atomic_load(&s->connections),
        .connections_timed_out = atomic_load(&s->timed_out),
    };
    struct MHD_Response *response;
    enum MHD_Result ret;
    struct buf body;
    size_t size;

    buf_init(&body, 1024 * 1024);
    if (metrics_render(s->deps.metrics, &in, &body) != RETAIL_OK) {
        log_error("http", "could not render /metrics");
    }
    response = http_make_response(s, connection, &body, NULL, &size);
    if (response == NULL) {
        return http_send_static_error(connection);
    }
    /* Prometheus's text exposition format, version 0.0.4. */
    MHD_del_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json; charset=utf-8");
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    ret = http_queue(connection, MHD_HTTP_OK, response);
    MHD_destroy_response(response);
    return ret;
}

static bool
has_body(struct MHD_Connection *connection)
{
    const char *length =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

    return MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL ||
           (length != NULL && strspn(length, "0") != strlen(length));
}

static enum MHD_Result
dispatch(struct http_server *s, struct MHD_Connection *connection, enum route route, const char *id,
         const char *method, void **con_cls)
{
    struct reply allow = {.allow = "GET, HEAD"};
    struct reply challenge = {.www_authenticate = true};
    struct products_query query;
    const struct auth *keys;
    const char *key;

    if (route == ROUTE_NONE) {
        return http_send_error(s, connection, MHD_HTTP_NOT_FOUND, "not_found",
                               "unknown path; the API serves /health and /v1/products", NULL);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        return http_send_error(s, connection, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                               "this path answers GET and HEAD only", &allow);
    }
    switch (route) {
    case ROUTE_HEALTH:
        return http_answer_health(s, connection);
    case ROUTE_LIVE:
        return answer_text(s, connection, MHD_HTTP_OK, "{\"status\":\"alive\"}");
    case ROUTE_READY:
        return atomic_load(&s->draining)
                   ? answer_text(s, connection, MHD_HTTP_SERVICE_UNAVAILABLE,
                                 "{\"status\":\"draining\"}")
                   : answer_text(s, connection, MHD_HTTP_OK, "{\"status\":\"ready\"}");
    case ROUTE_METRICS:
        return answer_metrics(s, connection);
    default:
        break;
    }
    key = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "X-API-Key");
    keys = published_peek(s->deps.auth, NULL);
    switch (keys != NULL ? auth_check(keys, key, key != NULL ? strlen(key) : 0) : AUTH_INVALID) {
    case AUTH_OK:
        break;
    case AUTH_MISSING:
        return http_send_error(s, connection, MHD_HTTP_UNAUTHORIZED, "missing_api_key",
                               "send your API key in the X-API-Key header", &challenge);
    case AUTH_INVALID:
        return http_send_error(s, connection, MHD_HTTP_UNAUTHORIZED, "invalid_api_key",
                               "the X-API-Key header does not hold a valid key", &challenge);
    }
    query_products_init(&query);
    if (route == ROUTE_PRODUCTS) {
        struct query_walk walk = {&query, {NULL, NULL}, RETAIL_OK};

        MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, on_query_arg, &walk);
        if (walk.rc != RETAIL_OK) {
            return send_param_error(s, connection, &walk.error);
        }
        query_products_finish(&query);
    }
    return http_answer_products(s, connection, route, &query, id, con_cls);
}

/* A client's X-Request-Id, kept when it is 1 to 64 safe characters. */
static void
take_request_id(struct MHD_Connection *connection, struct conn *conn)
{
    const char *id = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "X-Request-Id");
    size_t len = id != NULL ? strlen(id) : 0;

    conn->echo_id =
        len > 0 && len <= HTTP_REQUEST_ID_MAX &&
        strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/-") == len;
    if (conn->echo_id) {
        memcpy(conn->client_id, id, len + 1);
    }
}

/* The number of this thread's next request, for the ids the log makes up:
 * a thread index in the top bits, a count below. */
static uint64_t
next_request_number(void)
{
    static atomic_uint threads;
    static _Thread_local uint64_t base, count;

    if (base == 0) {
        base = (uint64_t)(atomic_fetch_add(&threads, 1) + 1) << 40;
    }
    return base | ++count;
}

/* Answers a request refused before routing (see enum reject), closing the
 * connection after the answer. */
static enum MHD_Result
refuse(struct http_server *s, struct MHD_Connection *connection, const struct conn *conn)
{
    static const struct {
        unsigned status;
        const char *code;
        const char *detail;
    } answers[] = {
        [REJECT_NONE] = {MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large",
                         "the request has more than 64 header fields"},
        [REJECT_URI_TOO_LONG] = {MHD_HTTP_URI_TOO_LONG, "uri_too_long",
                                 "the URI is longer than 8192 bytes"},
        [REJECT_TOO_MANY_ARGS] = {MHD_HTTP_URI_TOO_LONG, "too_many_parameters",
                                  "the query has more than 64 parameters"},
        [REJECT_TOO_MANY_HEADERS] = {MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large",
                                     "the request has more than 64 header fields"},
        [REJECT_NUL] = {MHD_HTTP_BAD_REQUEST, "invalid_request",
                        "the URL holds a percent-encoded NUL (%00)"},
    };
    struct reply close = {.close = true};
    uint64_t suppressed = 0;

    if (log_ratelimit_allow(&s->reject_log, 1000, &suppressed)) {
        log_info("http", "refused a request: %s (%llu more refused since the last line)",
                 answers[conn->reject].detail, (unsigned long long)suppressed);
    }
    return http_send_error(s, connection, answers[conn->reject].status, answers[conn->reject].code,
                           answers[conn->reject].detail, &close);
}

/* The state of a request between handler calls: NULL before the first
 * call, &headers_seen after it, a struct request once parked. */
static char headers_seen;

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct http_server *s = cls;
    struct conn *conn = http_conn(connection);
    enum MHD_Result ret;

    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) {
        http_conns_request_began(conn);
        conn->active = true;
        conn->started_us = clock_mono_us();
        conn->status = 0;
        conn->route = ROUTE_NONE;
        conn->number = next_request_number();
        take_request_id(connection, conn);
        conn->access_log = log_enabled(LOG_DEBUG);
        if (conn->access_log) {
            snprintf(conn->method, sizeof(conn->method), "%s", method);
            snprintf(conn->path, sizeof(conn->path), "%s", url);
        }
        atomic_fetch_add(&s->in_flight, 1);
        log_set_request(conn->echo_id ? conn->client_id : NULL, conn->number);
        /* Headers only. An answer queued now would make MHD close the
         * connection (the body might still come), so refuse bodies here
         * and answer the rest on the next call, keeping keep-alive. */
        if (conn->reject != REJECT_NONE ||
            MHD_get_connection_values(connection, MHD_HEADER_KIND, NULL, NULL) > HTTP_HEADERS_MAX) {
            ret = refuse(s, connection, conn);
        } else if (has_body(connection)) {
            ret = http_send_error(s, connection, MHD_HTTP_BAD_REQUEST, "unexpected_body",
                                  "GET and HEAD requests take no body", NULL);
        } else {
            *con_cls = &headers_seen;
            ret = MHD_YES;
        }
        log_set_request(NULL, 0);
        return ret;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* a body without a length header: ignored */
        return MHD_YES;
    }
    log_set_request(conn->echo_id ? conn->client_id : NULL, conn->number);
    if (*con_cls == &headers_seen) {
        char id[PRODUCT_ID_MAX];

        conn->route = route_of(url, id);
        ret = dispatch(s, connection, conn->route, id, method, con_cls);
    } else {
        ret = http_answer_resumed(s, connection, *con_cls); /* run again after being resumed */
    }
    log_set_request(NULL, 0);
    return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
             enum MHD_RequestTerminationCode code)
{
    struct http_server *s = cls;
    struct conn *conn = http_conn(connection);

    if (conn != NULL && conn->active) {
        int64_t now_us = clock_mono_us();
        int64_t took_us = now_us - conn->started_us;
        /* No answer queued: the client left first (499, as nginx says), or
         * the server failed to build one. */
        unsigned status = conn->status != 0                           ? conn->status
                          : code == MHD_REQUEST_TERMINATED_WITH_ERROR ? 500
                                                                      : 499;

        conn->active = false;
        conn->reject = REJECT_NONE;
        http_conns_request_ended(s, conn, now_us / 1000);
        metrics_http(s->deps.metrics, metrics_routes[conn->route], status, took_us);
        atomic_fetch_sub(&s->in_flight, 1);
        if (conn->access_log && log_enabled(LOG_DEBUG)) {
            struct log_field fields[] = {
                LOG_TEXT("method", conn->method), LOG_TEXT("path", conn->path),
                LOG_TEXT("route", metrics_route_name(metrics_routes[conn->route])),
                LOG_NUMBER("status", status), LOG_NUMBER("duration_us", took_us)};

            log_set_request(conn->echo_id ? conn->client_id : NULL, conn->number);
            log_emit_fields(LOG_DEBUG, "access", fields, sizeof(fields) / sizeof(fields[0]),
                            "answered");
            log_set_request(NULL, 0);
        }
    }
    if (*con_cls != NULL && *con_cls != &headers_seen) {
        free(*con_cls);
    }
    *con_cls = NULL;
}

static void
on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
              enum MHD_ConnectionNotificationCode code)
{
    struct http_server *s = cls;
    struct conn *conn;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn = calloc(1, sizeof(*conn));
        if (conn != NULL) {
            http_conns_opened(s, connection, conn);
        }
        *socket_context = conn;
    } else if (*socket_context != NULL) {
        http_conns_closed(s, *socket_context);
        free(*socket_context);
        *socket_context = NULL;
    }
}

/* Sees each request's URI before MHD parses its query into the
 * connection's 16 KiB pool: too long, or too many arguments (MHD runs out
 * of pool memory past a few hundred and then cannot even answer), marks
 * the request for a JSON refusal, and a short timeout frees the
 * connection if MHD stalls first. Returns the initial con_cls (NULL). */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
    const char *query = strchr(uri, '?');
    struct conn *conn = http_conn(connection);
    size_t args = 0;

    (void)cls;
    if (conn == NULL) {
        return NULL;
    }
    if (query != NULL) {
        args = 1;
        for (const char *p = strchr(query, '&'); p != NULL; p = strchr(p + 1, '&')) {
            args++;
        }
    }
    if (strlen(uri) > HTTP_URI_MAX) {
        conn->reject = REJECT_URI_TOO_LONG;
    } else if (args > HTTP_ARGS_MAX) {
        conn->reject = REJECT_TOO_MANY_ARGS;
    }
    if (conn->reject != REJECT_NONE) {
        MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT, 1u);
    }
    return NULL;
}

/* Percent-decoding as MHD's own, but a decoded NUL (which would cut the
 * path or a parameter short for every C string API) marks the request
 * for a 400. */
static size_t
on_unescape(void *cls, struct MHD_Connection *connection, char *text)
{
    size_t len = MHD_http_unescape(text);

    (void)cls;
    if (memchr(text, '\0', len) != NULL) {
        struct conn *conn = http_conn(connection);

        if (conn != NULL && conn->reject == REJECT_NONE) {
            conn->reject = REJECT_NUL;
        }
    }
    return len;
}

static void __attribute__((format(printf, 2, 0))) on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http_server *s = cls;
    uint64_t suppressed = 0;
    char line[512];
    size_t len;

    /* Hostile clients make MHD complain per connection: one line a second. */
    if (!log_ratelimit_allow(&s->mhd_log, 1000, &suppressed)) {
        return;
    }
    vsnprintf(line, sizeof(line), fmt, ap);
    len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        line[--len] = '\0';
    }
    log_warn("http", "libmicrohttpd: %s (%llu more such lines since the last)", line,
             (unsigned long long)suppressed);
}

/* Opens the listening socket ourselves, so that a taken port or a bad
 * address gives a clear error instead of a bare failure from MHD. */
static int
open_listener(const char *host, unsigned port, bool *ipv6, char *err, size_t errlen)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int fd, one = 1;

    memset(&addr, 0, sizeof(addr));
    *ipv6 = strchr(host, ':') != NULL;
    if (*ipv6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;

        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, host, &a6->sin6_addr);
        addr_len = sizeof(*a6);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;

        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, host, &a4->sin_addr);
        addr_len = sizeof(*a4);
    }
    fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&addr, addr_len) != 0) {
        snprintf(err, errlen, "bind %s%s%s:%u: %s%s", *ipv6 ? "[" : "", host, *ipv6 ? "]" : "",
                 port, strerror(errno),
                 errno == EADDRINUSE ? " (is another server on this port? set PORT or --port)"
                                     : "");
        close(fd);
        return -1;
    }
    if (listen(fd, LISTEN_BACKLOG) != 0) {
        snprintf(err, errlen, "listen on port %u: %s", port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

unsigned
http_usable_cores(void)
{
    cpu_set_t set;
    long online = sysconf(_SC_NPROCESSORS_ONLN);

    /* The cores this process may run on (taskset, cpusets), not the ones
     * the machine has: a thread per core it cannot use only time-slices. */
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) {
        return (unsigned)CPU_COUNT(&set);
    }
    return online > 0 ? (unsigned)online : 1;
}

struct http_server *
http_create(const struct http_deps *deps, const struct http_limits *limits, char *err,
            size_t errlen)
{
    struct http_server *s = calloc(1, sizeof(*s));
    unsigned threads = deps->threads;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    bool ipv6 = false;
    unsigned idle_s;

    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->deps = *deps;
    http_set_limits(s, limits);
    s->listen_fd = open_listener(deps->host, deps->port, &ipv6, err, errlen);
    if (s->listen_fd < 0) {
        free(s);
        return NULL;
    }
    if (threads == 0) {
        threads = http_usable_cores();
    }
    if (ipv6) {
        flags |= MHD_USE_IPv6;
    }
    if (http_conns_start(s) != RETAIL_OK) {
        snprintf(err, errlen, "could not start the connection deadline thread");
        close(s->listen_fd);
        free(s);
        return NULL;
    }
    /* MHD's own timeout, for inactivity (a client that stops reading an
     * answer, say); the deadlines in http_conns.c catch slow senders. */
    idle_s = (unsigned)((deps->idle_timeout_ms + 999) / 1000);
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_LISTEN_SOCKET, s->listen_fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_TIMEOUT, idle_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY, MHD_OPTION_CONNECTION_LIMIT, deps->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, deps->max_connections_per_client,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        s, MHD_OPTION_END);
    if (s->daemon == NULL) {
        snprintf(err, errlen, "libmicrohttpd could not start on port %u", deps->port);
        http_conns_stop(s);
        close(s->listen_fd);
        free(s);
        return NULL;
    }
    log_info("http", "listening on %s%s%s:%u with %u threads (epoll)", ipv6 ? "[" : "", deps->host,
             ipv6 ? "]" : "", deps->port, threads);
    return s;
}

void
http_set_limits(struct http_server *s, const struct http_limits *limits)
{
    atomic_store(&s->ttl_ms, limits->ttl_ms);
    atomic_store(&s->stale_ms, limits->stale_ms);
    atomic_store(&s->products_deadline_ms, limits->products_deadline_ms);
}

/* Waits (in short naps, with a deadline) until *count reaches zero. */
static unsigned
wait_for_zero(atomic_uint *count, int64_t timeout_ms)
{
    int64_t give_up = clock_mono_ms() + timeout_ms;

    while (atomic_load(count) > 0 && clock_mono_ms() < give_up) {
        struct timespec nap = {0, 5 * 1000 * 1000};

        nanosleep(&nap, NULL);
    }
    return atomic_load(count);
}

unsigned
http_drain(struct http_server *s, int64_t timeout_ms)
{
    unsigned left;

    if (s == NULL) {
        return 0;
    }
    atomic_store(&s->draining, true);
    /* No new connections (closed, a connect is refused at once rather than
     * left in the backlog); kept-alive ones still speak. */
    if (MHD_quiesce_daemon(s->daemon) >= 0 && s->listen_fd >= 0) {
        close(s->listen_fd);
        s->listen_fd = -1;
    }
    left = wait_for_zero(&s->in_flight, timeout_ms);
    if (left > 0) {
        log_warn("shutdown", "%u requests still in flight after %lld ms: closing them", left,
                 (long long)timeout_ms);
    }
    return left;
}

void
http_destroy(struct http_server *s)
{
    if (s == NULL) {
        return;
    }
    atomic_store(&s->draining, true);
    /* MHD must not be stopped with suspended connections: resume them
     * (they are answered from a catalog or the fallback) and give the pool
     * threads a moment to run them. */
    waiters_close(s->deps.waiters);
    (void)wait_for_zero(&s->suspended, RESUME_WAIT_MS);
    MHD_stop_daemon(s->daemon);
    http_conns_stop(s);
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
    }
    free(s);
}

bool
http_probe_live(const char *host, unsigned port, int64_t timeout_ms)
{
    static const char request[] = "GET /live HTTP/1.1\r\nHost: localhost\r\n"
                                  "Connection: close\r\n\r\n";
    bool ipv6 = strchr(host, ':') != NULL;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char answer[64];
    int64_t give_up = clock_mono_ms() + timeout_ms;
    size_t got = 0;
    bool ok = false;
    int fd;

    memset(&addr, 0, sizeof(addr));
    if (ipv6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;

        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        /* The address listened on, or loopback when that is all of them. */
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1 ||
            IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr)) {
            a6->sin6_addr = in6addr_loopback;
        }
        addr_len = sizeof(*a6);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;

        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1 || a4->sin_addr.s_addr == INADDR_ANY) {
            a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* also "localhost" */
        }
        addr_len = sizeof(*a4);
    }
    fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return false;
    }
    if (connect(fd, (struct sockaddr *)&addr, addr_len) != 0 && errno != EINPROGRESS) {
        close(fd);
        return false;
    }
    for (bool sent = false; clock_mono_ms() < give_up && got < sizeof(answer) - 1;) {
        struct pollfd pfd = {fd, sent ? POLLIN : POLLOUT, 0};
        ssize_t n;

        if (poll(&pfd, 1, (int)(give_up - clock_mono_ms())) <= 0) {
            break;
        }
        if (!sent) {
            sent = send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL) ==
                   (ssize_t)(sizeof(request) - 1);
            if (!sent) {
                break;
            }
            continue;
        }
        n = recv(fd, answer + got, sizeof(answer) - 1 - got, 0);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
        answer[got] = '\0';
        if (strstr(answer, "\r\n") != NULL) {
            ok = strncmp(answer, "HTTP/1.1 200", 12) == 0;
            break;
        }
    }
    close(fd);
    return ok;
}
