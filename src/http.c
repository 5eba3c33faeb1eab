/* SPDX-License-Identifier: MIT */
/* HTTP server on libmicrohttpd: routing, products, health, errors. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "retail/http.h"

#include "retail/answer_cache.h"
#include "retail/buf.h"
#include "retail/clock.h"
#include "retail/log.h"
#include "retail/product.h"
#include "retail/query.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdatomic.h>
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
#define IDLE_TIMEOUT_S 30
#define FALLBACK_LOG_INTERVAL_MS 10000
#define MISS_LOG_INTERVAL_MS 1000
#define DRAIN_WAIT_MS 2000

enum route {
    ROUTE_NONE = 0,
    ROUTE_HEALTH,
    ROUTE_PRODUCTS,
    ROUTE_PRODUCT,
};

struct http_server {
    struct http_deps deps;
    struct MHD_Daemon *daemon;
    int listen_fd;
    atomic_uint suspended; /* connections suspended and not yet run again */
    struct log_ratelimit fallback_log;
    struct log_ratelimit wait_log;
    struct log_ratelimit miss_log;
};

/* State kept only by requests that wait for the first catalog; a request
 * answered on its first call allocates nothing. */
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

static const char internal_error_body[] =
    "{\"error\":\"internal_error\",\"detail\":\"the answer could not be built; try again\"}";

static enum MHD_Result
send_static_error(struct MHD_Connection *connection)
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
    ret = MHD_queue_response(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, response);
    MHD_destroy_response(response);
    return ret;
}

/* A response for body (its contents are *taken*) with reply's headers:
 * *new*, one reference (MHD_destroy_response); NULL on failure. */
static struct MHD_Response *
make_response(struct buf *body, const struct reply *reply, size_t *size)
{
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
    *size = len;
    return response;
}

/* Queues body (its contents are *taken*) with the given status. */
static enum MHD_Result
send_json(struct MHD_Connection *connection, unsigned status, struct buf *body,
          const struct reply *reply)
{
    size_t size;
    struct MHD_Response *response = make_response(body, reply, &size);
    enum MHD_Result ret;

    if (response == NULL) {
        return send_static_error(connection);
    }
    ret = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response); /* the connection keeps its own reference until sent */
    return ret;
}

static enum MHD_Result
send_error(struct MHD_Connection *connection, unsigned status, const char *code, const char *detail,
           const struct reply *reply)
{
    struct buf body;

    buf_init(&body, 4096);
    buf_append_str(&body, "{\"error\":");
    buf_append_json_string(&body, code, strlen(code));
    buf_append_str(&body, ",\"detail\":");
    buf_append_json_string(&body, detail, strlen(detail));
    buf_append_str(&body, "}");
    return send_json(connection, status, &body, reply);
}

/* 400 for a bad query parameter: {"error", "parameter", "detail"}. */
static enum MHD_Result
send_param_error(struct MHD_Connection *connection, const struct query_error *error)
{
    struct buf body;

    buf_init(&body, 4096);
    buf_appendf(&body,
                "{\"error\":\"invalid_parameter\",\"parameter\":\"%s\",\"detail\":", error->param);
    buf_append_json_string(&body, error->detail, strlen(error->detail));
    buf_append_str(&body, "}");
    return send_json(connection, MHD_HTTP_BAD_REQUEST, &body, NULL);
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
    if (strcmp(url, "/health") == 0) {
        return ROUTE_HEALTH;
    }
    if (strcmp(url, "/v1/products") == 0 || strcmp(url, prefix) == 0) {
        return ROUTE_PRODUCTS;
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

/* /health, reusing this thread's last document while nothing in it can
 * differ: the same second, catalog generation and health version, and a
 * breaker that is not counting down to its next attempt. */
static enum MHD_Result
answer_health(struct http_server *s, struct MHD_Connection *connection)
{
    uint64_t generation = 0;
    struct health_inputs in = {cache_peek(s->deps.cache, &generation), s->deps.fallback,
                               s->deps.breaker, s->deps.ttl_ms, s->deps.stale_ms};
    struct breaker_view view = {BREAKER_CLOSED, false, 0, 0, 0};
    struct MHD_Response *response;
    struct answer_key key;
    enum MHD_Result ret;
    struct buf body;
    size_t size;

    if (s->deps.breaker != NULL) {
        view = breaker_view(s->deps.breaker);
    }
    memset(&key, 0, sizeof(key));
    key.catalog = in.current;
    key.generation = generation;
    key.age_s = clock_wall_ms() / 1000;
    key.kind = 0xFFFF0000u | (uint32_t)view.state << 1 | (view.in_flight ? 1u : 0u);
    key.offset = health_version(s->deps.health);
    key.page = view.failures;
    response = view.state != BREAKER_OPEN ? answer_cache_get(&key) : NULL;
    if (response != NULL) {
        return MHD_queue_response(connection, MHD_HTTP_OK, response);
    }
    buf_init(&body, 64 * 1024);
    if (health_render(s->deps.health, &in, &body) != RETAIL_OK) {
        log_error("http", "could not render /health");
    }
    response = make_response(&body, NULL, &size);
    if (response == NULL) {
        return send_static_error(connection);
    }
    ret = MHD_queue_response(connection, MHD_HTTP_OK, response);
    if (view.state != BREAKER_OPEN) {
        answer_cache_put(&key, response, size); /* takes our reference */
    } else {
        MHD_destroy_response(response);
    }
    return ret;
}

/* Answers a products or product request from catalog. */
/* Which answer a request gets, naming its source and X-Cache. */
enum answer_kind {
    ANSWER_HIT = 0,
    ANSWER_STALE,
    ANSWER_WAITED_SHOPIFY,
    ANSWER_WAITED_STORE,
    ANSWER_WAITED_STALE,
    ANSWER_FALLBACK,
};

/* Answers from catalog c (of the given cache generation; 0 for the
 * fallback), reusing this thread's finished answer when nothing changed. */
static enum MHD_Result
answer_from(struct MHD_Connection *connection, const struct catalog *c, uint64_t generation,
            enum answer_kind kind, enum route route, const struct products_query *query,
            const char *id)
{
    static const struct {
        const char *source, *x_cache;
    } kinds[] = {
        [ANSWER_HIT] = {"cache", "HIT"},
        [ANSWER_STALE] = {"stale", "STALE"},
        [ANSWER_WAITED_SHOPIFY] = {"shopify", "MISS"},
        [ANSWER_WAITED_STORE] = {"cache", "MISS"},
        [ANSWER_WAITED_STALE] = {"stale", "STALE"},
        [ANSWER_FALLBACK] = {"fallback", "FALLBACK"},
    };
    int64_t age_ms = clock_wall_ms() - catalog_fetched_at_ms(c);
    struct reply reply = {kinds[kind].x_cache, age_ms > 0 ? age_ms / 1000 : 0, NULL, false};
    const char *text = route == ROUTE_PRODUCT ? id : query->category;
    struct MHD_Response *response;
    struct answer_key key;
    enum MHD_Result ret;
    struct buf body;
    size_t size;

    key.catalog = c;
    key.generation = generation;
    key.age_s = reply.age_s;
    key.kind = (uint32_t)route * 16 + (uint32_t)kind;
    key.limit = query->limit;
    key.offset = query->offset;
    key.page = query->page;
    key.text_len =
        text != NULL ? (uint32_t)(route == ROUTE_PRODUCT ? strlen(id) : query->category_len) : 0;
    memcpy(key.text, text != NULL ? text : "", key.text_len);
    response = answer_cache_get(&key);
    if (response != NULL) {
        return MHD_queue_response(connection, MHD_HTTP_OK, response);
    }
    buf_init(&body, HTTP_RESPONSE_MAX);
    if (route == ROUTE_PRODUCT) {
        if (id[0] == '\0' || catalog_render_product(c, id, &body) == RETAIL_ERR_NOT_FOUND) {
            buf_deinit(&body);
            return send_error(connection, MHD_HTTP_NOT_FOUND, "not_found",
                              "no product has this id; list products at /v1/products", &reply);
        }
    } else {
        struct catalog_page page = {query->offset, query->limit, query->page, query->category,
                                    query->category_len};

        if (catalog_render_page(c, &page, kinds[kind].source, &body) != RETAIL_OK) {
            log_error("http", "could not render a page: %s", retail_status_str(buf_status(&body)));
        }
    }
    response = make_response(&body, &reply, &size);
    if (response == NULL) {
        return send_static_error(connection);
    }
    ret = MHD_queue_response(connection, MHD_HTTP_OK, response);
    answer_cache_put(&key, response, size); /* takes our reference */
    return ret;
}

static enum MHD_Result
answer_fallback(struct http_server *s, struct MHD_Connection *connection, enum route route,
                const struct products_query *query, const char *id, const char *why)
{
    uint64_t suppressed = 0;

    health_count(s->deps.health, HEALTH_FALLBACK);
    if (log_ratelimit_allow(&s->fallback_log, FALLBACK_LOG_INTERVAL_MS, &suppressed)) {
        log_warn("fallback",
                 "Using fallback products: %s (%" PRIu64
                 " more fallback answers since the last line)",
                 why, suppressed);
    }
    return answer_from(connection, s->deps.fallback, 0, ANSWER_FALLBACK, route, query, id);
}

/* Answers from the best data there is: a fresh catalog, a stale one, or
 * the fallback. waited says the request was parked for a catalog. */
static enum MHD_Result
answer_products(struct http_server *s, struct MHD_Connection *connection, enum route route,
                const struct products_query *query, const char *id, bool waited, int64_t started_ms)
{
    uint64_t generation = 0;
    const struct catalog *c = cache_peek(s->deps.cache, &generation);
    enum health_tier tier = health_tier_of(c, s->deps.ttl_ms, s->deps.stale_ms, clock_wall_ms());
    enum answer_kind kind;
    uint64_t suppressed = 0;

    if (tier == TIER_NONE) {
        health_count(s->deps.health, HEALTH_MISSES);
        return answer_fallback(s, connection, route, query, id,
                               !s->deps.catalog_expected ? "Shopify is not configured"
                               : waited    ? "no catalog arrived within PRODUCTS_DEADLINE_MS"
                               : c != NULL ? "the catalog is older than CACHE_STALE_SECONDS"
                                           : "no catalog from Shopify yet, none on its way");
    }
    if (waited) {
        health_count(s->deps.health, HEALTH_MISSES);
        if (log_ratelimit_allow(&s->miss_log, MISS_LOG_INTERVAL_MS, &suppressed)) {
            log_info("cache",
                     "Cache MISS: answered after waiting %lld ms for a catalog (%" PRIu64
                     " more misses since the last line)",
                     (long long)(clock_mono_ms() - started_ms), suppressed);
        }
        kind = tier == TIER_STALE                            ? ANSWER_WAITED_STALE
               : catalog_origin(c) == CATALOG_ORIGIN_SHOPIFY ? ANSWER_WAITED_SHOPIFY
                                                             : ANSWER_WAITED_STORE;
    } else if (tier == TIER_STALE) {
        health_count(s->deps.health, HEALTH_STALE);
        kind = ANSWER_STALE;
    } else {
        health_count(s->deps.health, HEALTH_HITS);
        kind = ANSWER_HIT;
    }
    log_debug("cache", "Cache %s: products from a catalog of %zu, %lld ms old",
              kind == ANSWER_HIT     ? "HIT"
              : kind == ANSWER_STALE ? "STALE"
                                     : "MISS",
              catalog_count(c), (long long)(clock_wall_ms() - catalog_fetched_at_ms(c)));
    return answer_from(connection, c, generation, kind, route, query, id);
}

/* Suspends the connection until the attempt it waits on ends (a catalog
 * is published, or the refresh fails) or its deadline passes. */
static enum MHD_Result
park(struct http_server *s, struct MHD_Connection *connection, void **con_cls, enum route route,
     const struct products_query *query, const char *id, int64_t started_ms, uint64_t generation)
{
    struct request *req = calloc(1, sizeof(*req));
    uint64_t suppressed = 0;

    if (req == NULL) {
        return send_static_error(connection);
    }
    req->route = route;
    req->started_ms = started_ms;
    req->query = *query;
    if (query->category != NULL) {
        memcpy(req->category, query->category, query->category_len);
        req->category[query->category_len] = '\0';
        req->query.category = req->category;
    }
    memcpy(req->id, id, sizeof(req->id));
    *con_cls = req;
    if (log_ratelimit_allow(&s->wait_log, MISS_LOG_INTERVAL_MS, &suppressed)) {
        log_info("cache",
                 "Cache MISS: no catalog yet, waiting up to %lld ms for Shopify (%" PRIu64
                 " more requests waited since the last line)",
                 (long long)s->deps.products_deadline_ms, suppressed);
    }
    atomic_fetch_add(&s->suspended, 1);
    MHD_suspend_connection(connection);
    waiters_park(s->deps.waiters, &req->waiter, connection,
                 started_ms + s->deps.products_deadline_ms, generation);
    return MHD_YES;
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
dispatch(struct http_server *s, struct MHD_Connection *connection, const char *url,
         const char *method, void **con_cls)
{
    int64_t started = clock_mono_ms();
    struct reply allow = {NULL, 0, "GET, HEAD", false};
    struct reply challenge = {NULL, 0, NULL, true};
    char id[PRODUCT_ID_MAX];
    enum route route = route_of(url, id);
    struct products_query query;
    const char *key;

    if (route == ROUTE_NONE) {
        return send_error(connection, MHD_HTTP_NOT_FOUND, "not_found",
                          "unknown path; the API serves /health and /v1/products", NULL);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        return send_error(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                          "this path answers GET and HEAD only", &allow);
    }
    if (route == ROUTE_HEALTH) {
        return answer_health(s, connection);
    }
    key = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "X-API-Key");
    switch (auth_check(s->deps.auth, key, key != NULL ? strlen(key) : 0)) {
    case AUTH_OK:
        break;
    case AUTH_MISSING:
        return send_error(connection, MHD_HTTP_UNAUTHORIZED, "missing_api_key",
                          "send your API key in the X-API-Key header", &challenge);
    case AUTH_INVALID:
        return send_error(connection, MHD_HTTP_UNAUTHORIZED, "invalid_api_key",
                          "the X-API-Key header does not hold a valid key", &challenge);
    }
    query_products_init(&query);
    if (route == ROUTE_PRODUCTS) {
        struct query_walk walk = {&query, {NULL, NULL}, RETAIL_OK};

        MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, on_query_arg, &walk);
        if (walk.rc != RETAIL_OK) {
            return send_param_error(connection, &walk.error);
        }
        query_products_finish(&query);
    }
    {
        /* Read the generation first: a wake-up after this point resumes
         * a park that decided on older news. */
        uint64_t generation = waiters_generation(s->deps.waiters);
        const struct catalog *c = cache_peek(s->deps.cache, NULL);
        bool servable =
            health_tier_of(c, s->deps.ttl_ms, s->deps.stale_ms, clock_wall_ms()) != TIER_NONE;

        if (servable || s->deps.products_deadline_ms <= 0 || !s->deps.catalog_expected ||
            !breaker_should_wait(s->deps.breaker)) {
            return answer_products(s, connection, route, &query, id, false, started);
        }
        return park(s, connection, con_cls, route, &query, id, started, generation);
    }
}

/* The state of a request between handler calls: NULL before the first
 * call, &headers_seen after it, a struct request once parked. */
static char headers_seen;

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct http_server *s = cls;

    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) {
        /* Headers only. An answer queued now would make MHD close the
         * connection (the body might still come), so refuse bodies here
         * and answer the rest on the next call, keeping keep-alive. */
        if (has_body(connection)) {
            return send_error(connection, MHD_HTTP_BAD_REQUEST, "unexpected_body",
                              "GET and HEAD requests take no body", NULL);
        }
        *con_cls = &headers_seen;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* a body without a length header: ignored */
        return MHD_YES;
    }
    if (*con_cls == &headers_seen) {
        return dispatch(s, connection, url, method, con_cls);
    }
    /* Run again after being resumed. */
    struct request *req = *con_cls;

    atomic_fetch_sub(&s->suspended, 1);
    return answer_products(s, connection, req->route, &req->query, req->id, true, req->started_ms);
}

static void
on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
             enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)connection;
    (void)code;
    if (*con_cls != &headers_seen) {
        free(*con_cls);
    }
    *con_cls = NULL;
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t len;

    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        line[--len] = '\0';
    }
    log_warn("http", "libmicrohttpd: %s", line);
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
http_create(const struct http_deps *deps, char *err, size_t errlen)
{
    struct http_server *s = calloc(1, sizeof(*s));
    unsigned threads = deps->threads;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    bool ipv6 = false;

    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->deps = *deps;
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
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_LISTEN_SOCKET, s->listen_fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (s->daemon == NULL) {
        snprintf(err, errlen, "libmicrohttpd could not start on port %u", deps->port);
        close(s->listen_fd);
        free(s);
        return NULL;
    }
    log_info("http", "listening on %s%s%s:%u with %u threads (epoll)", ipv6 ? "[" : "", deps->host,
             ipv6 ? "]" : "", deps->port, threads);
    return s;
}

void
http_quiesce(struct http_server *s)
{
    if (s != NULL && s->daemon != NULL) {
        MHD_quiesce_daemon(s->daemon);
    }
}

void
http_destroy(struct http_server *s)
{
    int64_t give_up;

    if (s == NULL) {
        return;
    }
    /* MHD must not be stopped with suspended connections: resume them
     * (they are answered from a catalog or the fallback) and give the
     * pool threads a moment to run them. */
    waiters_close(s->deps.waiters);
    give_up = clock_mono_ms() + DRAIN_WAIT_MS;
    while (atomic_load(&s->suspended) > 0 && clock_mono_ms() < give_up) {
        struct timespec pause = {0, 5 * 1000 * 1000};

        nanosleep(&pause, NULL);
    }
    MHD_stop_daemon(s->daemon);
    close(s->listen_fd);
    free(s);
}
