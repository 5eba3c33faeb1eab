/* SPDX-License-Identifier: MIT */
/* Health state, counters and the /health JSON document. */
#include "retail/health.h"

#include "retail/clock.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define HEALTH_TEXT_MAX 256
#define HEALTH_SHARDS 16

/* One thread's counters on a cache line of their own: counting a request
 * touches no line another thread writes. Each thread takes the next shard
 * on first use; with more threads than shards, some share (still correct:
 * the adds are atomic). */
struct counter_shard {
    _Atomic uint64_t value[HEALTH_COUNTERS];
} __attribute__((aligned(64)));

static _Atomic unsigned next_shard;
static _Thread_local int my_shard = -1;

struct health {
    bool shopify_configured;
    int64_t started_mono_ms;
    struct counter_shard shards[HEALTH_SHARDS];
    _Atomic uint64_t reports; /* moved on by every report */
    _Atomic int redis;
    pthread_mutex_t lock; /* guards the fields below */
    int64_t success_ms;   /* wall; 0 = never */
    int64_t success_duration_ms;
    size_t success_products;
    bool success_here;
    int64_t error_ms; /* wall; 0 = never */
    char error[HEALTH_TEXT_MAX];
    char error_class[32];
    int error_status;
    bool needs_person;
    unsigned failures; /* in a row */
    char redis_error[HEALTH_TEXT_MAX];
    size_t suspect;
    size_t suspect_in_service;
};

enum health_tier
health_tier_of(const struct catalog *c, int64_t ttl_ms, int64_t stale_ms, int64_t now_ms)
{
    int64_t age;

    if (c == NULL) {
        return TIER_NONE;
    }
    age = now_ms - catalog_fetched_at_ms(c);
    return age < ttl_ms ? TIER_FRESH : age < stale_ms ? TIER_STALE : TIER_NONE;
}

struct health *
health_create(bool shopify_configured, enum health_redis redis)
{
    struct health *h = aligned_alloc(64, (sizeof(*h) + 63) / 64 * 64);

    if (h == NULL) {
        return NULL;
    }
    memset(h, 0, sizeof(*h));
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
    if (my_shard < 0) {
        my_shard = (int)(atomic_fetch_add(&next_shard, 1) % HEALTH_SHARDS);
    }
    atomic_fetch_add_explicit(&h->shards[my_shard].value[counter], 1, memory_order_relaxed);
}

uint64_t
health_version(const struct health *h)
{
    uint64_t version = atomic_load_explicit(&h->reports, memory_order_acquire);

    for (size_t i = 0; i < HEALTH_SHARDS; i++) {
        for (size_t c = 0; c < HEALTH_COUNTERS; c++) {
            version += atomic_load_explicit(&h->shards[i].value[c], memory_order_relaxed);
        }
    }
    return version;
}

uint64_t
health_counter_value(const struct health *h, enum health_counter counter)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < HEALTH_SHARDS; i++) {
        sum += atomic_load_explicit(&h->shards[i].value[counter], memory_order_relaxed);
    }
    return sum;
}

static void
copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void
health_shopify_success(struct health *h, int64_t wall_ms, int64_t duration_ms, size_t products,
                       bool by_this_instance)
{
    pthread_mutex_lock(&h->lock);
    h->success_ms = wall_ms;
    h->success_duration_ms = duration_ms;
    h->success_products = products;
    h->success_here = by_this_instance;
    h->failures = 0;
    h->needs_person = false;
    atomic_fetch_add_explicit(&h->reports, 1, memory_order_release);
    pthread_mutex_unlock(&h->lock);
}

void
health_shopify_failure(struct health *h, int64_t wall_ms, const char *error,
                       const char *failure_class, int http_status, bool needs_person)
{
    pthread_mutex_lock(&h->lock);
    h->error_ms = wall_ms;
    copy_text(h->error, sizeof(h->error), error);
    copy_text(h->error_class, sizeof(h->error_class), failure_class);
    h->error_status = http_status;
    h->needs_person = needs_person;
    h->failures++;
    atomic_fetch_add_explicit(&h->reports, 1, memory_order_release);
    pthread_mutex_unlock(&h->lock);
}

void
health_redis_state(struct health *h, enum health_redis state, const char *error)
{
    pthread_mutex_lock(&h->lock);
    copy_text(h->redis_error, sizeof(h->redis_error), error != NULL ? error : "");
    atomic_store(&h->redis, (int)state);
    atomic_fetch_add_explicit(&h->reports, 1, memory_order_release);
    pthread_mutex_unlock(&h->lock);
}

enum health_redis
health_redis_get(const struct health *h)
{
    return (enum health_redis)atomic_load(&h->redis);
}

void
health_suspect(struct health *h, size_t suspect, size_t in_service)
{
    pthread_mutex_lock(&h->lock);
    h->suspect = suspect;
    h->suspect_in_service = in_service;
    atomic_fetch_add_explicit(&h->reports, 1, memory_order_release);
    pthread_mutex_unlock(&h->lock);
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

static void
append_text_or_null(struct buf *out, const char *text, bool present)
{
    if (present) {
        buf_append_json_string(out, text, strlen(text));
    } else {
        buf_append_str(out, "null");
    }
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
degraded_reason(const struct health *h, const struct catalog *current, enum health_tier tier)
{
    switch (tier) {
    case TIER_FRESH:
        return NULL;
    case TIER_STALE:
        return "serving a stale catalog (older than CACHE_TTL_SECONDS): Shopify refreshes are "
               "failing or late";
    case TIER_NONE:
        break;
    }
    if (!h->shopify_configured) {
        return "Shopify is not configured: serving the static fallback catalog";
    }
    if (current != NULL) {
        return "the catalog is older than CACHE_STALE_SECONDS: serving the static fallback";
    }
    return "no catalog yet: serving the static fallback";
}

static void
render_breaker(struct breaker *breaker, int64_t now_wall, struct buf *out)
{
    struct breaker_view view = breaker_view(breaker);
    int64_t in_ms = view.next_attempt_ms - clock_mono_ms();
    bool open = view.state == BREAKER_OPEN;

    buf_appendf(out, ",\"breaker\":{\"state\":\"%s\",\"in_flight\":%s,\"next_attempt\":",
                breaker_state_name(view.state), view.in_flight ? "true" : "false");
    append_time_or_null(out, open ? now_wall + (in_ms > 0 ? in_ms : 0) : 0);
    buf_append_str(out, ",\"next_attempt_in_ms\":");
    if (open) {
        buf_append_int(out, in_ms > 0 ? in_ms : 0);
    } else {
        buf_append_str(out, "null");
    }
    buf_appendf(out, ",\"pause_ms\":%" PRId64 "}", open ? view.opened_for_ms : 0);
}

/* Called with h->lock held. */
static void
render_shopify(struct health *h, struct breaker *breaker, int64_t now, struct buf *out)
{
    struct breaker_view view;
    const char *status;

    if (!h->shopify_configured || breaker == NULL) {
        buf_append_str(out, "\"shopify\":{\"status\":\"not_configured\",\"configured\":false}");
        return;
    }
    view = breaker_view(breaker);
    status = (view.state != BREAKER_CLOSED || h->failures > 0) ? "failing"
             : h->success_ms != 0                              ? "ok"
                                                               : "pending";
    buf_appendf(out,
                "\"shopify\":{\"status\":\"%s\",\"configured\":true,\"last_success\":", status);
    append_time_or_null(out, h->success_ms);
    buf_append_str(out, ",\"last_success_age_seconds\":");
    if (h->success_ms != 0) {
        buf_append_int(out, (now - h->success_ms) / 1000);
    } else {
        buf_append_str(out, "null");
    }
    buf_appendf(out,
                ",\"last_read_by\":%s,\"last_refresh_ms\":%" PRId64
                ",\"last_products\":%zu,\"last_error\":",
                h->success_ms == 0 ? "null"
                : h->success_here  ? "\"this_instance\""
                                   : "\"another_instance\"",
                h->success_duration_ms, h->success_products);
    append_text_or_null(out, h->error, h->error_ms != 0);
    buf_append_str(out, ",\"last_error_at\":");
    append_time_or_null(out, h->error_ms);
    buf_append_str(out, ",\"last_error_class\":");
    append_text_or_null(out, h->error_class, h->error_ms != 0);
    buf_append_str(out, ",\"last_error_status\":");
    if (h->error_ms != 0 && h->error_status != 0) {
        buf_append_int(out, h->error_status);
    } else {
        buf_append_str(out, "null");
    }
    buf_appendf(out, ",\"needs_person\":%s,\"consecutive_failures\":%u",
                h->needs_person ? "true" : "false", h->failures);
    render_breaker(breaker, now, out);
    buf_append_str(out, ",\"suspect_catalog\":");
    if (h->suspect_in_service > 0) {
        buf_appendf(out, "{\"products\":%zu,\"in_service\":%zu}", h->suspect,
                    h->suspect_in_service);
    } else {
        buf_append_str(out, "null");
    }
    buf_append_str(out, "}");
}

static const char *
cache_word(const struct catalog *current, enum health_tier tier)
{
    if (current == NULL) {
        return "empty";
    }
    return tier == TIER_FRESH ? "fresh" : tier == TIER_STALE ? "stale" : "expired";
}

int
health_render(struct health *h, const struct health_inputs *in, struct buf *out)
{
    int64_t now = clock_wall_ms();
    enum health_tier tier = health_tier_of(in->current, in->ttl_ms, in->stale_ms, now);
    const char *reason = degraded_reason(h, in->current, tier);
    uint64_t hits = health_counter_value(h, HEALTH_HITS);
    uint64_t stale = health_counter_value(h, HEALTH_STALE);
    uint64_t misses = health_counter_value(h, HEALTH_MISSES);
    uint64_t answers = hits + stale + misses;
    enum health_redis redis = health_redis_get(h);
    const struct catalog *served = tier == TIER_NONE ? in->fallback : in->current;
    char when[CLOCK_ISO_MAX];

    clock_format_iso(now, 0, when, sizeof(when));
    buf_appendf(out,
                "{\"status\":\"%s\",\"version\":\"%s\",\"uptime_seconds\":%" PRId64
                ",\"timestamp\":\"%s\",",
                tier == TIER_FRESH ? "healthy" : "degraded", RETAIL_VERSION,
                (clock_mono_ms() - h->started_mono_ms) / 1000, when);
    if (reason != NULL) {
        buf_appendf(out, "\"reason\":\"%s\",", reason);
    }
    buf_appendf(out, "\"serving\":{\"tier\":\"%s\",\"age_seconds\":",
                tier == TIER_FRESH   ? "fresh"
                : tier == TIER_STALE ? "stale"
                                     : "fallback");
    if (served != NULL) {
        buf_append_int(out, (now - catalog_fetched_at_ms(served)) / 1000);
    } else {
        buf_append_str(out, "null");
    }
    buf_append_str(out, "},\"components\":{");

    pthread_mutex_lock(&h->lock);
    buf_appendf(out, "\"redis\":{\"status\":\"%s\",\"last_error\":", redis_word(redis));
    append_text_or_null(out, h->redis_error, redis == HEALTH_REDIS_DOWN && h->redis_error[0]);
    buf_append_str(out, "},");
    render_shopify(h, in->breaker, now, out);
    pthread_mutex_unlock(&h->lock);

    buf_appendf(out,
                ",\"cache\":{\"status\":\"%s\",\"products\":%zu,\"bytes\":%zu,\"age_seconds\":",
                cache_word(in->current, tier), in->current != NULL ? catalog_count(in->current) : 0,
                in->current != NULL ? catalog_bytes(in->current) : 0);
    if (in->current != NULL) {
        buf_append_int(out, (now - catalog_fetched_at_ms(in->current)) / 1000);
    } else {
        buf_append_str(out, "null");
    }
    buf_appendf(out,
                ",\"ttl_seconds\":%" PRId64 ",\"stale_seconds\":%" PRId64 ",\"hits\":%" PRIu64
                ",\"stale_hits\":%" PRIu64 ",\"misses\":%" PRIu64 ",\"hit_ratio\":%.4f}",
                in->ttl_ms / 1000, in->stale_ms / 1000, hits, stale, misses,
                answers > 0 ? (double)(hits + stale) / (double)answers : 0.0);
    buf_appendf(out, ",\"fallback\":{\"status\":\"%s\",\"products\":%zu,\"served\":%" PRIu64 "}}}",
                tier == TIER_NONE ? "active" : "standby",
                in->fallback != NULL ? catalog_count(in->fallback) : 0,
                health_counter_value(h, HEALTH_FALLBACK));
    return buf_status(out);
}
