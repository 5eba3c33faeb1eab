/* SPDX-License-Identifier: MIT */
/* Health state, counters and the /health JSON document. */
#include "retail/health.h"

#include "retail/clock.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define HEALTH_ERROR_MAX 256

struct health {
    bool shopify_configured;
    int64_t started_mono_ms;
    _Atomic uint64_t counters[HEALTH_COUNTERS];
    _Atomic int redis;
    pthread_mutex_t lock;       /* guards the fields below */
    int64_t shopify_success_ms; /* wall; 0 = never */
    int64_t shopify_duration_ms;
    size_t shopify_products;
    int64_t shopify_error_ms; /* wall; 0 = never */
    char shopify_error[HEALTH_ERROR_MAX];
    unsigned shopify_failures; /* in a row */
    char redis_error[HEALTH_ERROR_MAX];
};

struct health *
health_create(bool shopify_configured, enum health_redis redis)
{
    struct health *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        return NULL;
    }
    h->shopify_configured = shopify_configured;
    h->started_mono_ms = clock_mono_ms();
    atomic_init(&h->redis, (int)redis);
    pthread_mutex_init(&h->lock, NULL);
    return h;
}

void
health_destroy(struct health *h)
{
    if (h == NULL) {
        return;
    }
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void
health_count(struct health *h, enum health_counter counter)
{
    atomic_fetch_add_explicit(&h->counters[counter], 1, memory_order_relaxed);
}

uint64_t
health_counter_value(const struct health *h, enum health_counter counter)
{
    return atomic_load_explicit(&h->counters[counter], memory_order_relaxed);
}

static void
copy_text(char *dst, const char *src)
{
    size_t n = strlen(src);

    if (n >= HEALTH_ERROR_MAX) {
        n = HEALTH_ERROR_MAX - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void
health_shopify_success(struct health *h, int64_t wall_ms, int64_t duration_ms, size_t products)
{
    pthread_mutex_lock(&h->lock);
    h->shopify_success_ms = wall_ms;
    h->shopify_duration_ms = duration_ms;
    h->shopify_products = products;
    h->shopify_failures = 0;
    pthread_mutex_unlock(&h->lock);
}

void
health_shopify_failure(struct health *h, int64_t wall_ms, const char *error)
{
    pthread_mutex_lock(&h->lock);
    h->shopify_error_ms = wall_ms;
    copy_text(h->shopify_error, error);
    h->shopify_failures++;
    pthread_mutex_unlock(&h->lock);
}

void
health_redis_state(struct health *h, enum health_redis state, const char *error)
{
    pthread_mutex_lock(&h->lock);
    copy_text(h->redis_error, error != NULL ? error : "");
    atomic_store(&h->redis, (int)state);
    pthread_mutex_unlock(&h->lock);
}

enum health_redis
health_redis_get(const struct health *h)
{
    return (enum health_redis)atomic_load(&h->redis);
}

bool
health_is_fresh(const struct catalog *current, int64_t ttl_ms, int64_t now_wall_ms)
{
    return current != NULL && now_wall_ms - catalog_fetched_at_ms(current) < ttl_ms;
}

static void
append_time_or_null(struct buf *out, int64_t wall_ms)
{
    char when[CLOCK_ISO_MAX];

    if (wall_ms == 0) {
        buf_append_str(out, "null");
        return;
    }
    clock_format_iso(wall_ms, 0, when, sizeof(when));
    buf_appendf(out, "\"%s\"", when);
}

static const char *
redis_word(enum health_redis state)
{
    switch (state) {
    case HEALTH_REDIS_DISABLED:
        return "disabled";
    case HEALTH_REDIS_UP:
        return "up";
    case HEALTH_REDIS_DOWN:
        return "down";
    case HEALTH_REDIS_UNKNOWN:
        break;
    }
    return "connecting";
}

/* Why the answer is not "healthy", or NULL when it is. */
static const char *
degraded_reason(const struct health *h, const struct catalog *current, bool fresh)
{
    if (fresh) {
        return NULL;
    }
    if (!h->shopify_configured) {
        return "Shopify is not configured: serving the static fallback catalog";
    }
    if (current == NULL) {
        return "no catalog yet: products are answered from the static fallback";
    }
    return "the catalog is older than CACHE_TTL_SECONDS: Shopify refreshes are failing";
}

static void
render_shopify(struct health *h, int64_t now, struct buf *out)
{
    const char *status;

    if (!h->shopify_configured) {
        buf_append_str(out, "\"shopify\":{\"status\":\"not_configured\",\"configured\":false}");
        return;
    }
    status = h->shopify_failures > 0 ? "failing" : h->shopify_success_ms != 0 ? "ok" : "pending";
    buf_appendf(out,
                "\"shopify\":{\"status\":\"%s\",\"configured\":true,\"last_success\":", status);
    append_time_or_null(out, h->shopify_success_ms);
    buf_append_str(out, ",\"last_success_age_seconds\":");
    if (h->shopify_success_ms != 0) {
        buf_append_int(out, (now - h->shopify_success_ms) / 1000);
    } else {
        buf_append_str(out, "null");
    }
    buf_appendf(out, ",\"last_refresh_ms\":%" PRId64 ",\"last_products\":%zu,\"last_error\":",
                h->shopify_duration_ms, h->shopify_products);
    if (h->shopify_error_ms != 0) {
        buf_append_json_string(out, h->shopify_error, strlen(h->shopify_error));
    } else {
        buf_append_str(out, "null");
    }
    buf_append_str(out, ",\"last_error_at\":");
    append_time_or_null(out, h->shopify_error_ms);
    buf_appendf(out, ",\"consecutive_failures\":%u}", h->shopify_failures);
}

int
health_render(struct health *h, const struct catalog *current, const struct catalog *fallback,
              int64_t ttl_ms, struct buf *out)
{
    int64_t now = clock_wall_ms();
    bool fresh = health_is_fresh(current, ttl_ms, now);
    const char *reason = degraded_reason(h, current, fresh);
    uint64_t hits = health_counter_value(h, HEALTH_HITS);
    uint64_t misses = health_counter_value(h, HEALTH_MISSES);
    enum health_redis redis = health_redis_get(h);
    char when[CLOCK_ISO_MAX];

    clock_format_iso(now, 0, when, sizeof(when));
    buf_appendf(out,
                "{\"status\":\"%s\",\"version\":\"%s\",\"uptime_seconds\":%" PRId64
                ",\"timestamp\":\"%s\",",
                fresh ? "healthy" : "degraded", RETAIL_VERSION,
                (clock_mono_ms() - h->started_mono_ms) / 1000, when);
    if (reason != NULL) {
        buf_appendf(out, "\"reason\":\"%s\",", reason);
    }
    buf_append_str(out, "\"components\":{");

    pthread_mutex_lock(&h->lock);
    buf_appendf(out, "\"redis\":{\"status\":\"%s\",\"last_error\":", redis_word(redis));
    if (redis == HEALTH_REDIS_DOWN && h->redis_error[0] != '\0') {
        buf_append_json_string(out, h->redis_error, strlen(h->redis_error));
    } else {
        buf_append_str(out, "null");
    }
    buf_append_str(out, "},");
    render_shopify(h, now, out);
    pthread_mutex_unlock(&h->lock);

    buf_appendf(out, ",\"cache\":{\"status\":\"%s\",\"products\":%zu,\"age_seconds\":",
                current == NULL ? "empty"
                : fresh         ? "fresh"
                                : "expired",
                current != NULL ? catalog_count(current) : 0);
    if (current != NULL) {
        buf_append_int(out, (now - catalog_fetched_at_ms(current)) / 1000);
    } else {
        buf_append_str(out, "null");
    }
    buf_appendf(out,
                ",\"ttl_seconds\":%" PRId64 ",\"hits\":%" PRIu64 ",\"misses\":%" PRIu64
                ",\"hit_ratio\":%.4f}",
                ttl_ms / 1000, hits, misses,
                hits + misses > 0 ? (double)hits / (double)(hits + misses) : 0.0);
    buf_appendf(out, ",\"fallback\":{\"status\":\"%s\",\"products\":%zu,\"served\":%" PRIu64 "}}}",
                current == NULL ? "active" : "standby",
                fallback != NULL ? catalog_count(fallback) : 0,
                health_counter_value(h, HEALTH_FALLBACK));
    return buf_status(out);
}
