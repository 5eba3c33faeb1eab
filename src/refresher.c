/* SPDX-License-Identifier: MIT */
/* Background refresh: warm-up from Redis, Shopify reads, publication. */
#include "retail/refresher.h"

#include "retail/clock.h"
#include "retail/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_RETRY_MS 1000
#define MIN_REFRESH_GAP_MS 1000

struct refresher {
    struct refresher_settings settings;
    struct cache *cache;
    struct health *health;
    struct catalog_source source;
    struct catalog_store store;
    bool has_source;
    bool has_store;
    pthread_mutex_t lock; /* guards stop */
    pthread_cond_t wake;  /* on CLOCK_MONOTONIC */
    bool stop;
    bool started;
    pthread_t thread;
    /* Owned by the refresher thread: */
    unsigned failures;
    bool store_up;
    struct catalog *unsaved; /* published but not yet stored */
};

int64_t
refresher_backoff_ms(int64_t ttl_ms, unsigned failures)
{
    int64_t cap = ttl_ms < 1000 ? 1000 : ttl_ms > 60000 ? 60000 : ttl_ms;
    int64_t delay = 1000;

    for (unsigned i = 1; i < failures && delay < cap; i++) {
        delay *= 2;
    }
    return delay < cap ? delay : cap;
}

struct refresher *
refresher_create(const struct refresher_settings *settings, struct cache *cache,
                 struct health *health, const struct catalog_source *source,
                 const struct catalog_store *store)
{
    struct refresher *r = calloc(1, sizeof(*r));
    pthread_condattr_t attr;

    if (r == NULL) {
        return NULL;
    }
    r->settings = *settings;
    r->cache = cache;
    r->health = health;
    if (source != NULL) {
        r->source = *source;
        r->has_source = true;
    }
    if (store != NULL) {
        r->store = *store;
        r->has_store = true;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->wake, &attr);
    pthread_condattr_destroy(&attr);
    return r;
}

static void
set_store_state(struct refresher *r, bool up, const char *error)
{
    if (up != r->store_up || health_redis_get(r->health) == HEALTH_REDIS_UNKNOWN) {
        if (up) {
            log_info("redis", "Redis is up");
        } else {
            log_warn("redis",
                     "Redis is down: %s; serving from memory, reconnecting in the "
                     "background",
                     error);
        }
    }
    r->store_up = up;
    health_redis_state(r->health, up ? HEALTH_REDIS_UP : HEALTH_REDIS_DOWN, error);
}

/* Writes catalog to the store, or keeps it to write when Redis is back. */
static void
save_catalog(struct refresher *r, struct catalog *catalog)
{
    char err[UPSTREAM_ERROR_MAX];
    int64_t started = clock_mono_ms();
    int rc = r->store.save(r->store.ctx, catalog, r->settings.store_ttl_s, err, sizeof(err));

    if (rc == RETAIL_OK) {
        log_info("redis", "stored %zu products in Redis in %lld ms (expires in %lld s)",
                 catalog_count(catalog), (long long)(clock_mono_ms() - started),
                 (long long)r->settings.store_ttl_s);
        set_store_state(r, true, NULL);
        if (r->unsaved == catalog) {
            r->unsaved = NULL;
            catalog_unref(catalog);
        }
        return;
    }
    set_store_state(r, false, err);
    if (r->unsaved != catalog) {
        catalog_unref(r->unsaved);
        r->unsaved = catalog_ref(catalog);
    }
}

int
refresher_warm_up(struct refresher *r)
{
    char err[UPSTREAM_ERROR_MAX];
    struct catalog *catalog = NULL;
    int rc;

    if (!r->has_store) {
        return RETAIL_ERR_UNAVAILABLE;
    }
    log_info("cache", "Cache warm-up: starting, reading the last catalog from Redis");
    rc = r->store.load(r->store.ctx, r->settings.max_catalog_bytes, &catalog, err, sizeof(err));
    if (rc == RETAIL_OK) {
        int64_t age_s = (clock_wall_ms() - catalog_fetched_at_ms(catalog)) / 1000;

        set_store_state(r, true, NULL);
        log_info("cache", "Cache warm-up: loaded %zu products from Redis, %lld s old",
                 catalog_count(catalog), (long long)age_s);
        cache_publish(r->cache, catalog);
        return RETAIL_OK;
    }
    if (rc == RETAIL_ERR_NOT_FOUND) {
        set_store_state(r, true, NULL);
        log_info("cache", "Cache warm-up: Redis holds no catalog yet; asking Shopify");
    } else if (rc == RETAIL_ERR_UNAVAILABLE || rc == RETAIL_ERR_NOMEM) {
        set_store_state(r, false, err);
        log_warn("cache", "Cache warm-up: skipped, Redis unavailable: %s", err);
    } else {
        set_store_state(r, true, NULL);
        log_warn("cache", "Cache warm-up: ignoring the stored catalog: %s", err);
    }
    return rc;
}

int
refresher_refresh_once(struct refresher *r)
{
    struct fetch_report report;
    struct catalog_builder *builder;
    struct catalog *catalog, *previous;
    int64_t started_wall = clock_wall_ms();
    int64_t started = clock_mono_ms();
    size_t duplicates = 0;
    int rc;

    if (!r->has_source) {
        return RETAIL_ERR_UNAVAILABLE;
    }
    builder = catalog_builder_create(r->settings.max_catalog_bytes);
    if (builder == NULL) {
        return RETAIL_ERR_NOMEM;
    }
    memset(&report, 0, sizeof(report));
    rc = r->source.fetch(r->source.ctx, builder, &report);
    if (rc != RETAIL_OK) {
        catalog_builder_destroy(builder);
        if (rc == RETAIL_ERR_CANCELLED) {
            return rc;
        }
        r->failures++;
        health_shopify_failure(r->health, clock_wall_ms(),
                               report.error[0] != '\0' ? report.error : retail_status_str(rc));
        previous = cache_acquire(r->cache);
        log_warn("refresh",
                 "refresh from Shopify failed after %lld ms (%s): %s; %s; retrying in "
                 "%lld ms",
                 (long long)(clock_mono_ms() - started), retail_status_str(rc), report.error,
                 previous != NULL ? "keeping the last good catalog in service"
                                  : "no catalog yet, the fallback answers",
                 (long long)refresher_backoff_ms(r->settings.ttl_ms, r->failures));
        catalog_unref(previous);
        return rc;
    }
    catalog = catalog_builder_finish(builder, CATALOG_ORIGIN_SHOPIFY, started_wall, &duplicates);
    if (catalog == NULL) {
        r->failures++;
        health_shopify_failure(r->health, clock_wall_ms(), "out of memory building the catalog");
        return RETAIL_ERR_NOMEM;
    }
    r->failures = 0;
    log_info("refresh",
             "published %zu products from Shopify in %lld ms (%u requests, %zu "
             "unusable products skipped, %zu repeated ids dropped)",
             catalog_count(catalog), (long long)(clock_mono_ms() - started), report.requests,
             report.skipped, duplicates);
    health_shopify_success(r->health, clock_wall_ms(), clock_mono_ms() - started,
                           catalog_count(catalog));
    cache_publish(r->cache, catalog_ref(catalog));
    if (r->has_store) {
        save_catalog(r, catalog);
    }
    catalog_unref(catalog);
    return RETAIL_OK;
}

static void
check_store(struct refresher *r)
{
    char err[UPSTREAM_ERROR_MAX];

    if (r->store.ping(r->store.ctx, err, sizeof(err)) != RETAIL_OK) {
        set_store_state(r, false, err);
        return;
    }
    set_store_state(r, true, NULL);
    if (r->unsaved != NULL) {
        save_catalog(r, r->unsaved);
    } else {
        struct catalog *current = cache_acquire(r->cache);

        /* Redis was away at start-up: warm up now if nothing is served yet. */
        if (current == NULL && r->has_source && refresher_warm_up(r) != RETAIL_OK) {
            log_debug("cache", "Redis still holds no usable catalog");
        }
        catalog_unref(current);
    }
}

/* When the catalog in service is due for a refresh (monotonic ms): at 80 %
 * of its TTL, counted from when it was read, so that a slow refresh does not
 * push the next one past the TTL; but never sooner than min_gap_ms. */
static int64_t
refresh_due(struct refresher *r, int64_t now, int64_t min_gap_ms)
{
    struct catalog *current = cache_acquire(r->cache);
    int64_t lead = r->settings.ttl_ms * 4 / 5;
    int64_t wait = 0;

    if (current != NULL) {
        int64_t age = clock_wall_ms() - catalog_fetched_at_ms(current);

        wait = age < lead ? lead - age : 0;
        catalog_unref(current);
    }
    return now + (wait > min_gap_ms ? wait : min_gap_ms);
}

static void *
refresher_main(void *arg)
{
    struct refresher *r = arg;
    int64_t now = clock_mono_ms();
    int64_t next_refresh, next_store = INT64_MAX;

    if (r->has_store && !r->has_source) {
        check_store(r); /* only for /health: nothing to warm up without a shop */
        now = clock_mono_ms();
        next_store = now + (r->store_up ? r->settings.store_check_ms : STORE_RETRY_MS);
    } else if (r->has_store) {
        if (refresher_warm_up(r) != RETAIL_OK) {
            log_debug("cache", "warm-up found nothing to serve");
        }
        now = clock_mono_ms();
        next_store = now + (r->store_up ? r->settings.store_check_ms : STORE_RETRY_MS);
    }
    next_refresh = r->has_source ? refresh_due(r, now, 0) : INT64_MAX;
    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        now = clock_mono_ms();
        if (now >= next_refresh) {
            pthread_mutex_unlock(&r->lock);
            int rc = refresher_refresh_once(r);
            now = clock_mono_ms();
            next_refresh = rc == RETAIL_OK
                               ? refresh_due(r, now, MIN_REFRESH_GAP_MS)
                               : now + refresher_backoff_ms(r->settings.ttl_ms, r->failures);
            pthread_mutex_lock(&r->lock);
            continue;
        }
        if (now >= next_store) {
            pthread_mutex_unlock(&r->lock);
            check_store(r);
            next_store =
                clock_mono_ms() + (r->store_up ? r->settings.store_check_ms : STORE_RETRY_MS);
            pthread_mutex_lock(&r->lock);
            continue;
        }
        {
            int64_t until = next_refresh < next_store ? next_refresh : next_store;

            if (until == INT64_MAX) {
                pthread_cond_wait(&r->wake, &r->lock);
            } else {
                struct timespec ts;

                clock_mono_timespec(until, &ts);
                pthread_cond_timedwait(&r->wake, &r->lock, &ts);
            }
        }
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int
refresher_start(struct refresher *r)
{
    if (pthread_create(&r->thread, NULL, refresher_main, r) != 0) {
        return RETAIL_ERR_NOMEM;
    }
    r->started = true;
    return RETAIL_OK;
}

void
refresher_stop(struct refresher *r)
{
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    if (r->has_source && r->source.cancel != NULL) {
        r->source.cancel(r->source.ctx);
    }
    if (r->started) {
        pthread_join(r->thread, NULL);
        r->started = false;
    }
}

void
refresher_destroy(struct refresher *r)
{
    if (r == NULL) {
        return;
    }
    refresher_stop(r);
    catalog_unref(r->unsaved);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
