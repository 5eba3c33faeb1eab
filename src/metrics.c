/* SPDX-License-Identifier: MIT */
/* Counters and histograms, rendered in the Prometheus text format. */
#include "retail/metrics.h"

#include "retail/clock.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_SHARDS 16

static const unsigned statuses[] = {200, 400, 401, 404, 405, 413, 414, 431, 499, 500, 503, 0};
#define STATUSES (sizeof(statuses) / sizeof(statuses[0])) /* the last is "other" */

/* Upper bounds of the latency buckets, in microseconds. */
static const int64_t http_bounds_us[] = {100,   250,   500,    1000,   2500,   5000,    10000,
                                         25000, 50000, 100000, 250000, 500000, 1000000, 2500000};
#define HTTP_BUCKETS (sizeof(http_bounds_us) / sizeof(http_bounds_us[0]))

/* Upper bounds of the Shopify duration buckets, in milliseconds. */
static const int64_t shopify_bounds_ms[] = {50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};
#define SHOPIFY_BUCKETS (sizeof(shopify_bounds_ms) / sizeof(shopify_bounds_ms[0]))
#define OUTCOMES (FETCH_CANCELLED + 1)

static const char *const route_names[METRICS_ROUTES] = {"products", "product", "health", "live",
                                                        "ready",    "metrics", "other"};

const char *
metrics_route_name(enum metrics_route route)
{
    return route < METRICS_ROUTES ? route_names[route] : "other";
}

/* One thread's HTTP counters, on cache lines of their own. */
struct http_shard {
    _Atomic uint64_t answers[METRICS_ROUTES][STATUSES];
    _Atomic uint64_t buckets[METRICS_ROUTES][HTTP_BUCKETS + 1]; /* the last is +Inf */
    _Atomic uint64_t sum_us[METRICS_ROUTES];
} __attribute__((aligned(64)));

struct metrics {
    struct http_shard shards[METRICS_SHARDS];
    /* Written by the refresher thread only. */
    _Atomic uint64_t shopify[OUTCOMES];
    _Atomic uint64_t shopify_buckets[SHOPIFY_BUCKETS + 1];
    _Atomic uint64_t shopify_sum_ms;
    _Atomic uint64_t refreshes[OUTCOMES];
    int64_t started_wall_ms;
};

static _Atomic unsigned next_shard;
static _Thread_local int my_shard = -1;

struct metrics *
metrics_create(void)
{
    struct metrics *m = aligned_alloc(64, (sizeof(*m) + 63) / 64 * 64);

    if (m == NULL) {
        return NULL;
    }
    memset(m, 0, sizeof(*m));
    m->started_wall_ms = clock_wall_ms();
    return m;
}

void
metrics_destroy(struct metrics *m)
{
    free(m);
}

static size_t
status_index(unsigned status)
{
    for (size_t i = 0; i + 1 < STATUSES; i++) {
        if (statuses[i] == status) {
            return i;
        }
    }
    return STATUSES - 1;
}

void
metrics_http(struct metrics *m, enum metrics_route route, unsigned status, int64_t latency_us)
{
    struct http_shard *shard;
    size_t bucket = 0;

    if (my_shard < 0) {
        my_shard = (int)(atomic_fetch_add(&next_shard, 1) % METRICS_SHARDS);
    }
    shard = &m->shards[my_shard];
    while (bucket < HTTP_BUCKETS && latency_us > http_bounds_us[bucket]) {
        bucket++;
    }
    atomic_fetch_add_explicit(&shard->answers[route][status_index(status)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&shard->buckets[route][bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&shard->sum_us[route], (uint64_t)(latency_us > 0 ? latency_us : 0),
                              memory_order_relaxed);
}

void
metrics_shopify(struct metrics *m, enum fetch_failure outcome, int64_t duration_ms)
{
    size_t bucket = 0;

    while (bucket < SHOPIFY_BUCKETS && duration_ms > shopify_bounds_ms[bucket]) {
        bucket++;
    }
    atomic_fetch_add_explicit(&m->shopify[outcome], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->shopify_buckets[bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->shopify_sum_ms, (uint64_t)(duration_ms > 0 ? duration_ms : 0),
                              memory_order_relaxed);
}

void
metrics_refresh(struct metrics *m, enum fetch_failure outcome)
{
    atomic_fetch_add_explicit(&m->refreshes[outcome], 1, memory_order_relaxed);
}

static uint64_t
load(const _Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static void
family(struct buf *out, const char *name, const char *type, const char *help)
{
    buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
render_http(struct metrics *m, struct buf *out)
{
    uint64_t answers[METRICS_ROUTES][STATUSES] = {{0}};
    uint64_t buckets[METRICS_ROUTES][HTTP_BUCKETS + 1] = {{0}};
    uint64_t sum_us[METRICS_ROUTES] = {0};

    for (size_t s = 0; s < METRICS_SHARDS; s++) {
        for (size_t r = 0; r < METRICS_ROUTES; r++) {
            for (size_t i = 0; i < STATUSES; i++) {
                answers[r][i] += load(&m->shards[s].answers[r][i]);
            }
            for (size_t b = 0; b <= HTTP_BUCKETS; b++) {
                buckets[r][b] += load(&m->shards[s].buckets[r][b]);
            }
            sum_us[r] += load(&m->shards[s].sum_us[r]);
        }
    }
    family(out, "retail_http_requests_total", "counter", "HTTP answers by route and status.");
    for (size_t r = 0; r < METRICS_ROUTES; r++) {
        for (size_t i = 0; i < STATUSES; i++) {
            if (answers[r][i] == 0) {
                continue;
            }
            if (statuses[i] != 0) {
                buf_appendf(out,
                            "retail_http_requests_total{route=\"%s\",status=\"%u\"} %" PRIu64 "\n",
                            route_names[r], statuses[i], answers[r][i]);
            } else {
                buf_appendf(
                    out, "retail_http_requests_total{route=\"%s\",status=\"other\"} %" PRIu64 "\n",
                    route_names[r], answers[r][i]);
            }
        }
    }
    family(out, "retail_http_request_duration_seconds", "histogram",
           "Time from a request's headers to its answer being sent, by route.");
    for (size_t r = 0; r < METRICS_ROUTES; r++) {
        uint64_t cumulative = 0;

        for (size_t b = 0; b <= HTTP_BUCKETS; b++) {
            cumulative += buckets[r][b];
        }
        if (cumulative == 0) {
            continue;
        }
        cumulative = 0;
        for (size_t b = 0; b < HTTP_BUCKETS; b++) {
            cumulative += buckets[r][b];
            buf_appendf(
                out,
                "retail_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %" PRIu64 "\n",
                route_names[r], (double)http_bounds_us[b] / 1e6, cumulative);
        }
        cumulative += buckets[r][HTTP_BUCKETS];
        buf_appendf(out,
                    "retail_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %" PRIu64
                    "\nretail_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                    "retail_http_request_duration_seconds_count{route=\"%s\"} %" PRIu64 "\n",
                    route_names[r], cumulative, route_names[r], (double)sum_us[r] / 1e6,
                    route_names[r], cumulative);
    }
}

static void
render_shopify(struct metrics *m, struct buf *out)
{
    uint64_t cumulative = 0;

    family(out, "retail_shopify_requests_total", "counter",
           "HTTP requests to Shopify by outcome (retries included).");
    for (int o = 0; o < OUTCOMES; o++) {
        buf_appendf(out, "retail_shopify_requests_total{outcome=\"%s\"} %" PRIu64 "\n",
                    fetch_failure_name((enum fetch_failure)o), load(&m->shopify[o]));
    }
    family(out, "retail_shopify_request_duration_seconds", "histogram",
           "Duration of HTTP requests to Shopify.");
    for (size_t b = 0; b < SHOPIFY_BUCKETS; b++) {
        cumulative += load(&m->shopify_buckets[b]);
        buf_appendf(out, "retail_shopify_request_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                    (double)shopify_bounds_ms[b] / 1e3, cumulative);
    }
    cumulative += load(&m->shopify_buckets[SHOPIFY_BUCKETS]);
    buf_appendf(out,
                "retail_shopify_request_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64
                "\nretail_shopify_request_duration_seconds_sum %.3f\n"
                "retail_shopify_request_duration_seconds_count %" PRIu64 "\n",
                cumulative, (double)load(&m->shopify_sum_ms) / 1e3, cumulative);
    family(out, "retail_refreshes_total", "counter", "Catalog refresh attempts by outcome.");
    for (int o = 0; o < OUTCOMES; o++) {
        buf_appendf(out, "retail_refreshes_total{outcome=\"%s\"} %" PRIu64 "\n",
                    fetch_failure_name((enum fetch_failure)o), load(&m->refreshes[o]));
    }
}

static void
render_state(struct metrics *m, const struct metrics_inputs *in, struct buf *out)
{
    static const char *const tiers[] = {"hit", "stale", "miss", "fallback"};
    static const enum health_counter counters[] = {HEALTH_HITS, HEALTH_STALE, HEALTH_MISSES,
                                                   HEALTH_FALLBACK};
    int64_t now = clock_wall_ms();

    family(out, "retail_cache_answers_total", "counter",
           "Products answers by where they came from (miss: no servable catalog when asked).");
    for (size_t i = 0; i < 4; i++) {
        buf_appendf(out, "retail_cache_answers_total{tier=\"%s\"} %" PRIu64 "\n", tiers[i],
                    health_counter_value(in->health, counters[i]));
    }
    if (in->breaker != NULL) {
        struct breaker_view view = breaker_view(in->breaker);

        family(out, "retail_breaker_state", "gauge", "The Shopify breaker's state (1: current).");
        for (int st = BREAKER_CLOSED; st <= BREAKER_HALF_OPEN; st++) {
            buf_appendf(out, "retail_breaker_state{state=\"%s\"} %d\n",
                        breaker_state_name((enum breaker_state)st), (int)view.state == st ? 1 : 0);
        }
        family(out, "retail_breaker_consecutive_failures", "gauge",
               "Failed refresh attempts in a row.");
        buf_appendf(out, "retail_breaker_consecutive_failures %u\n", view.failures);
    }
    family(out, "retail_catalog_products", "gauge", "Products in the catalog in service.");
    buf_appendf(out, "retail_catalog_products %zu\n",
                in->current != NULL ? catalog_count(in->current) : 0);
    family(out, "retail_catalog_bytes", "gauge", "Serialised size of the catalog in service.");
    buf_appendf(out, "retail_catalog_bytes %zu\n",
                in->current != NULL ? catalog_bytes(in->current) : 0);
    if (in->current != NULL) {
        family(out, "retail_catalog_age_seconds", "gauge", "Age of the catalog in service.");
        buf_appendf(out, "retail_catalog_age_seconds %.3f\n",
                    (double)(now - catalog_fetched_at_ms(in->current)) / 1e3);
    }
    family(out, "retail_fallback_products", "gauge", "Products in the static fallback catalog.");
    buf_appendf(out, "retail_fallback_products %zu\n",
                in->fallback != NULL ? catalog_count(in->fallback) : 0);
    family(out, "retail_redis_up", "gauge", "1 when Redis answers (0 when down or disabled).");
    buf_appendf(out, "retail_redis_up %d\n",
                health_redis_get(in->health) == HEALTH_REDIS_UP ? 1 : 0);
    family(out, "retail_draining", "gauge", "1 while the server drains before it stops.");
    buf_appendf(out, "retail_draining %d\n", in->draining ? 1 : 0);
    family(out, "retail_http_requests_in_flight", "gauge",
           "Requests begun and not yet answered (waiting ones included).");
    buf_appendf(out, "retail_http_requests_in_flight %u\n", in->in_flight);
    family(out, "retail_http_connections", "gauge", "Client connections open.");
    buf_appendf(out, "retail_http_connections %u\n", in->connections);
    family(out, "retail_http_connections_timed_out_total", "counter",
           "Client connections closed for not sending a request's headers in time.");
    buf_appendf(out, "retail_http_connections_timed_out_total %" PRIu64 "\n",
                in->connections_timed_out);
    family(out, "retail_build_info", "gauge", "Build information.");
    buf_appendf(out, "retail_build_info{version=\"%s\"} 1\n", RETAIL_VERSION);
    family(out, "process_start_time_seconds", "gauge", "Start time of the process, Unix time.");
    buf_appendf(out, "process_start_time_seconds %.3f\n", (double)m->started_wall_ms / 1e3);
}

int
metrics_render(struct metrics *m, const struct metrics_inputs *in, struct buf *out)
{
    render_http(m, out);
    render_shopify(m, out);
    render_state(m, in, out);
    return buf_status(out);
}
