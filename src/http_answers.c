/* SPDX-License-Identifier: MIT */
/* The answers: products pages and single products by tier, parked cold
 * requests, and /health; finished answers are kept per thread and reused. */
#include "http_internal.h"

#include "retail/answer_cache.h"
#include "retail/clock.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define FALLBACK_LOG_INTERVAL_MS 10000
#define MISS_LOG_INTERVAL_MS 1000

/* Which answer a request gets, naming its source and X-Cache. */
enum answer_kind {
    ANSWER_HIT = 0,
    ANSWER_STALE,
    ANSWER_WAITED_SHOPIFY,
    ANSWER_WAITED_STORE,
    ANSWER_WAITED_STALE,
    ANSWER_FALLBACK,
};

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

static enum health_tier
tier_now(struct http_server *s, const struct catalog *c)
{
    return health_tier_of(c, atomic_load_explicit(&s->ttl_ms, memory_order_relaxed),
                          atomic_load_explicit(&s->stale_ms, memory_order_relaxed),
                          clock_wall_ms());
}

/* Sends body as a 200 and, when reuse, keeps the answer for the next
 * request on this thread with the same key. */
static enum MHD_Result
send_and_keep(struct http_server *s, struct MHD_Connection *connection, struct buf *body,
              const struct reply *reply, bool reuse, const struct answer_key *key)
{
    struct MHD_Response *response;
    enum MHD_Result ret;
    size_t size;

    response = http_make_response(s, connection, body, reply, &size);
    if (response == NULL) {
        return http_send_static_error(connection);
    }
    ret = http_queue(connection, MHD_HTTP_OK, response);
    if (reuse) {
        answer_cache_put(key, response, size); /* takes our reference */
    } else {
        MHD_destroy_response(response); /* the connection keeps its own until sent */
    }
    return ret;
}

/* Answers from catalog c (of the given cache generation; 0 for the
 * fallback), reusing this thread's finished answer when nothing changed. */
static enum MHD_Result
answer_from(struct http_server *s, struct MHD_Connection *connection, const struct catalog *c,
            uint64_t generation, enum answer_kind kind, enum route route,
            const struct products_query *query, const char *id)
{
    int64_t age_ms = clock_wall_ms() - catalog_fetched_at_ms(c);
    struct reply reply = {.x_cache = kinds[kind].x_cache, .age_s = age_ms > 0 ? age_ms / 1000 : 0};
    const char *text = route == ROUTE_PRODUCT ? id : query->category;
    bool reuse = http_may_reuse(s, connection);
    struct MHD_Response *response;
    struct answer_key key;
    struct buf body;

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
    response = reuse ? answer_cache_get(&key) : NULL;
    if (response != NULL) {
        return http_queue(connection, MHD_HTTP_OK, response);
    }
    buf_init(&body, HTTP_RESPONSE_MAX);
    if (route == ROUTE_PRODUCT) {
        if (id[0] == '\0' || catalog_render_product(c, id, &body) == RETAIL_ERR_NOT_FOUND) {
            buf_deinit(&body);
            return http_send_error(s, connection, MHD_HTTP_NOT_FOUND, "not_found",
                                   "no product has this id; list products at /v1/products", &reply);
        }
    } else {
        struct catalog_page page = {query->offset, query->limit, query->page, query->category,
                                    query->category_len};

        if (catalog_render_page(c, &page, kinds[kind].source, &body) != RETAIL_OK) {
            log_error("http", "could not render a page: %s", retail_status_str(buf_status(&body)));
        }
    }
    return send_and_keep(s, connection, &body, &reply, reuse, &key);
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
    return answer_from(s, connection, s->deps.fallback, 0, ANSWER_FALLBACK, route, query, id);
}

/* Answers from the best data there is: a fresh catalog, a stale one, or
 * the fallback. waited says the request was parked for a catalog. */
static enum MHD_Result
answer_products(struct http_server *s, struct MHD_Connection *connection, enum route route,
                const struct products_query *query, const char *id, bool waited, int64_t started_ms)
{
    uint64_t generation = 0;
    const struct catalog *c = cache_peek(s->deps.cache, &generation);
    enum health_tier tier = tier_now(s, c);
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
    return answer_from(s, connection, c, generation, kind, route, query, id);
}

/* Suspends the connection until the attempt it waits on ends (a catalog
 * is published, or the refresh fails) or its deadline passes. */
static enum MHD_Result
park(struct http_server *s, struct MHD_Connection *connection, void **con_cls, enum route route,
     const struct products_query *query, const char *id, int64_t deadline_ms, uint64_t generation)
{
    struct request *req = calloc(1, sizeof(*req));
    int64_t started = clock_mono_ms();
    uint64_t suppressed = 0;

    if (req == NULL) {
        return http_send_static_error(connection);
    }
    req->route = route;
    req->started_ms = started;
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
                 (long long)deadline_ms, suppressed);
    }
    atomic_fetch_add(&s->suspended, 1);
    MHD_suspend_connection(connection);
    waiters_park(s->deps.waiters, &req->waiter, connection, started + deadline_ms, generation);
    return MHD_YES;
}

enum MHD_Result
http_answer_products(struct http_server *s, struct MHD_Connection *connection, enum route route,
                     const struct products_query *query, const char *id, void **con_cls)
{
    /* Read the generation first: a wake-up after this point resumes a park
     * that decided on older news. */
    uint64_t generation = waiters_generation(s->deps.waiters);
    const struct catalog *c = cache_peek(s->deps.cache, NULL);
    int64_t deadline = atomic_load_explicit(&s->products_deadline_ms, memory_order_relaxed);

    if (tier_now(s, c) != TIER_NONE || deadline <= 0 || !s->deps.catalog_expected ||
        atomic_load(&s->draining) || !breaker_should_wait(s->deps.breaker)) {
        return answer_products(s, connection, route, query, id, false, clock_mono_ms());
    }
    return park(s, connection, con_cls, route, query, id, deadline, generation);
}

enum MHD_Result
http_answer_resumed(struct http_server *s, struct MHD_Connection *connection, struct request *req)
{
    atomic_fetch_sub(&s->suspended, 1);
    return answer_products(s, connection, req->route, &req->query, req->id, true, req->started_ms);
}

/* /health, reusing this thread's last document while nothing in it can
 * differ: the same second, catalog generation and health version, and a
 * breaker that is not counting down to its next attempt. */
enum MHD_Result
http_answer_health(struct http_server *s, struct MHD_Connection *connection)
{
    uint64_t generation = 0;
    struct health_inputs in = {cache_peek(s->deps.cache, &generation), s->deps.fallback,
                               s->deps.breaker,
                               atomic_load_explicit(&s->ttl_ms, memory_order_relaxed),
                               atomic_load_explicit(&s->stale_ms, memory_order_relaxed)};
    struct breaker_view view = {BREAKER_CLOSED, false, 0, 0, 0};
    bool reuse = http_may_reuse(s, connection);
    struct MHD_Response *response;
    struct answer_key key;
    struct buf body;

    if (s->deps.breaker != NULL) {
        view = breaker_view(s->deps.breaker);
    }
    reuse = reuse && view.state != BREAKER_OPEN;
    memset(&key, 0, sizeof(key));
    key.catalog = in.current;
    key.generation = generation;
    key.age_s = clock_wall_ms() / 1000;
    key.kind = 0xFFFF0000u | (uint32_t)view.state << 1 | (view.in_flight ? 1u : 0u);
    key.limit = (uint32_t)(in.ttl_ms / 1000);
    key.offset = health_version(s->deps.health);
    key.page = view.failures | (uint64_t)(in.stale_ms / 1000) << 32;
    response = reuse ? answer_cache_get(&key) : NULL;
    if (response != NULL) {
        return http_queue(connection, MHD_HTTP_OK, response);
    }
    buf_init(&body, 64 * 1024);
    if (health_render(s->deps.health, &in, &body) != RETAIL_OK) {
        log_error("http", "could not render /health");
    }
    return send_and_keep(s, connection, &body, NULL, reuse, &key);
}
