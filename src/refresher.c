/* SPDX-License-Identifier: MIT */
/* Background refresh: warm-up, fleet lock, breaker, shrink guard, store. */
#include "retail/refresher.h"

#include "retail/clock.h"
#include "retail/log.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_RETRY_MS 1000
#define MIN_REFRESH_GAP_MS 1000
#define SHRINK_CONFIRM_MIN_MS 1000
#define SHRINK_CONFIRM_MAX_MS 30000

/* Reads one of the limits a reload may change (see refresher_set_limits). */
#define LIMIT(r, field) atomic_load_explicit(&(r)->limits.field, memory_order_relaxed)

struct refresher {
    struct refresher_settings settings;
    struct {
        _Atomic int64_t ttl_ms;
        _Atomic int64_t stale_ms;
        _Atomic int64_t refresh_deadline_ms;
        _Atomic int64_t shrink_guard_percent;
    } limits;
    struct metrics *metrics;
    char instance_id[64];
    struct cache *cache;
    struct health *health;
    struct breaker *breaker;
    struct waiters *waiters;
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
    bool store_up;
    bool store_known;
    int64_t next_poll_ms;
    bool fleet_waiting; /* another instance holds the lock; we wait for its catalog */
    int64_t fleet_wait_until_ms;
    int64_t next_lock_try_ms;
    bool fleet_pause_noted;
    bool suspect_pending; /* a shrunken catalog waits for confirmation */
    int64_t suspect_confirm_ms;
};

void
refresher_set_limits(struct refresher *r, const struct refresher_settings *settings)
{
    atomic_store(&r->limits.ttl_ms, settings->ttl_ms);
    atomic_store(&r->limits.stale_ms, settings->stale_ms);
    atomic_store(&r->limits.refresh_deadline_ms, settings->refresh_deadline_ms);
    atomic_store(&r->limits.shrink_guard_percent, (int64_t)settings->shrink_guard_percent);
}

void
refresher_set_metrics(struct refresher *r, struct metrics *metrics)
{
    r->metrics = metrics;
}

struct refresher *
refresher_create(const struct refresher_settings *settings, struct cache *cache,
                 struct health *health, struct breaker *breaker, struct waiters *waiters,
                 const struct catalog_source *source, const struct catalog_store *store)
{
    struct refresher *r = calloc(1, sizeof(*r));
    pthread_condattr_t attr;

    if (r == NULL) {
        return NULL;
    }
    r->settings = *settings;
    refresher_set_limits(r, settings);
    snprintf(r->instance_id, sizeof(r->instance_id), "%s",
             settings->instance_id != NULL ? settings->instance_id : "retail-api");
    r->settings.instance_id = r->instance_id;
    r->cache = cache;
    r->health = health;
    r->breaker = breaker;
    r->waiters = waiters;
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

/* Requests parked for a catalog re-decide: the attempt they waited on ended. */
static void
wake_waiters(struct refresher *r)
{
    if (r->waiters != NULL) {
        waiters_wake_all(r->waiters);
    }
}

static void
set_store_state(struct refresher *r, bool up, const char *error)
{
    if (!r->store_known || up != r->store_up) {
        if (up) {
            log_info("redis", "Redis is up");
        } else {
            log_warn("redis",
                     "Redis is down: %s; serving from memory, reconnecting in the background",
                     error);
        }
    }
    r->store_known = true;
    r->store_up = up;
    health_redis_state(r->health, up ? HEALTH_REDIS_UP : HEALTH_REDIS_DOWN, error);
}

static bool
servable(const struct refresher *r, const struct catalog *c)
{
    return c != NULL && clock_wall_ms() - catalog_fetched_at_ms(c) < LIMIT(r, stale_ms);
}

static void
save_catalog(struct refresher *r, const struct catalog *catalog)
{
    char err[UPSTREAM_ERROR_MAX];
    int64_t started = clock_mono_ms();
    int rc = r->store.save(r->store.ctx, catalog, LIMIT(r, stale_ms) / 1000, err, sizeof(err));

    if (rc != RETAIL_OK) {
        set_store_state(r, false, err);
        return;
    }
    log_info("redis", "stored %zu products in Redis in %lld ms (expires in %lld s)",
             catalog_count(catalog), (long long)(clock_mono_ms() - started),
             (long long)(LIMIT(r, stale_ms) / 1000));
    set_store_state(r, true, NULL);
}

/* Loads the stored catalog; *out is *new* or NULL. */
static int
load_stored(struct refresher *r, struct catalog **out, char *err, size_t errlen)
{
    int rc = r->store.load(r->store.ctx, r->settings.max_catalog_bytes, out, err, errlen);

    if (rc == RETAIL_OK && !servable(r, *out)) {
        snprintf(err, errlen, "the stored catalog is older than CACHE_STALE_SECONDS");
        catalog_unref(*out);
        *out = NULL;
        rc = RETAIL_ERR_NOT_FOUND;
    }
    return rc;
}

int
refresher_warm_up(struct refresher *r)
{
    char err[UPSTREAM_ERROR_MAX] = "";
    struct catalog *catalog = NULL;
    int rc;

    if (!r->has_store) {
        return RETAIL_ERR_UNAVAILABLE;
    }
    log_info("cache", "Cache warm-up: starting, reading the last catalog from Redis");
    rc = load_stored(r, &catalog, err, sizeof(err));
    if (rc == RETAIL_OK) {
        set_store_state(r, true, NULL);
        log_info("cache", "Cache warm-up: loaded %zu products from Redis, %lld s old",
                 catalog_count(catalog),
                 (long long)((clock_wall_ms() - catalog_fetched_at_ms(catalog)) / 1000));
        cache_publish(r->cache, catalog);
        return RETAIL_OK;
    }
    if (rc == RETAIL_ERR_NOT_FOUND) {
        set_store_state(r, true, NULL);
        log_info("cache", "Cache warm-up: nothing usable in Redis (%s); asking Shopify",
                 err[0] != '\0' ? err : "no catalog yet");
    } else if (rc == RETAIL_ERR_UNAVAILABLE || rc == RETAIL_ERR_NOMEM) {
        set_store_state(r, false, err);
        log_warn("cache", "Cache warm-up: skipped, Redis unavailable: %s", err);
    } else {
        set_store_state(r, true, NULL);
        log_warn("cache", "Cache warm-up: ignoring the stored catalog: %s", err);
    }
    return rc;
}

/* Reads the store's version: picks up a newer catalog (another instance's),
 * or writes ours where the store lacks it (Redis restarted, or was down
 * when we published). */
static void
poll_store(struct refresher *r)
{
    char err[UPSTREAM_ERROR_MAX] = "";
    struct catalog *current = cache_acquire(r->cache);
    int64_t ours = current != NULL ? catalog_fetched_at_ms(current) : 0;
    int64_t stored = 0;
    int rc = r->store.version(r->store.ctx, &stored, err, sizeof(err));

    if (rc != RETAIL_OK && rc != RETAIL_ERR_NOT_FOUND) {
        set_store_state(r, false, err);
        goto out;
    }
    set_store_state(r, true, NULL);
    if (rc == RETAIL_OK && stored > ours && r->has_source) {
        struct catalog *newer = NULL;

        if (load_stored(r, &newer, err, sizeof(err)) == RETAIL_OK) {
            log_info("cache",
                     "picked up a catalog of %zu products from Redis (read by another "
                     "instance %lld ms ago)",
                     catalog_count(newer),
                     (long long)(clock_wall_ms() - catalog_fetched_at_ms(newer)));
            health_shopify_success(r->health, catalog_fetched_at_ms(newer), 0, catalog_count(newer),
                                   false);
            cache_publish(r->cache, newer);
            if (r->fleet_waiting) {
                r->fleet_waiting = false;
                breaker_succeeded(r->breaker);
            }
        }
    } else if ((rc == RETAIL_ERR_NOT_FOUND || stored < ours) && current != NULL &&
               catalog_origin(current) != CATALOG_ORIGIN_FALLBACK && servable(r, current)) {
        log_info("redis", "Redis lacks the catalog in service: writing it");
        save_catalog(r, current);
    }
out:
    catalog_unref(current);
}

/* Holds back a catalog that lost too much of the one in service until a
 * second read confirms it. True when catalog may be published. */
static bool
shrink_guard_passes(struct refresher *r, const struct catalog *catalog, int64_t now)
{
    struct catalog *current = cache_acquire(r->cache);
    size_t before = current != NULL ? catalog_count(current) : 0;
    size_t after = catalog_count(catalog);
    unsigned guard = (unsigned)LIMIT(r, shrink_guard_percent);
    bool shrunk = guard > 0 && servable(r, current) && before > 0 &&
                  (double)after < (double)before * (100 - guard) / 100.0;
    int64_t confirm;

    catalog_unref(current);
    if (!shrunk) {
        if (r->suspect_pending) {
            log_info("refresh", "the smaller catalog was not confirmed: %zu products now", after);
        }
        r->suspect_pending = false;
        health_suspect(r->health, 0, 0);
        return true;
    }
    if (r->suspect_pending) {
        log_warn("refresh",
                 "a second read confirms the smaller catalog: %zu products (was %zu); "
                 "publishing it",
                 after, before);
        r->suspect_pending = false;
        health_suspect(r->health, 0, 0);
        return true;
    }
    confirm = LIMIT(r, ttl_ms) / 5;
    confirm = confirm < SHRINK_CONFIRM_MIN_MS   ? SHRINK_CONFIRM_MIN_MS
              : confirm > SHRINK_CONFIRM_MAX_MS ? SHRINK_CONFIRM_MAX_MS
                                                : confirm;
    r->suspect_pending = true;
    r->suspect_confirm_ms = now + confirm;
    health_suspect(r->health, after, before);
    log_warn("refresh",
             "suspect catalog: Shopify listed %zu products, %zu are in service (more than %u%% "
             "gone); not published until a second read in %lld ms confirms it",
             after, before, guard, (long long)confirm);
    return false;
}

/* One read from the source, published if it passes the guard. */
static int
read_from_shopify(struct refresher *r)
{
    struct fetch_report report;
    struct catalog_builder *builder;
    struct catalog *catalog;
    int64_t started_wall = clock_wall_ms();
    int64_t started = clock_mono_ms();
    size_t duplicates = 0;
    int rc;

    builder = catalog_builder_create(r->settings.max_catalog_bytes);
    if (builder == NULL) {
        return RETAIL_ERR_NOMEM;
    }
    r->fleet_waiting = false;
    breaker_begin(r->breaker);
    memset(&report, 0, sizeof(report));
    rc = r->source.fetch(r->source.ctx, builder, started + LIMIT(r, refresh_deadline_ms), &report);
    if (rc == RETAIL_OK) {
        catalog =
            catalog_builder_finish(builder, CATALOG_ORIGIN_SHOPIFY, started_wall, &duplicates);
        if (catalog == NULL) {
            rc = RETAIL_ERR_NOMEM;
            report.failure = FETCH_BAD_DATA;
            snprintf(report.error, sizeof(report.error), "out of memory building the catalog");
        }
    } else {
        catalog_builder_destroy(builder);
        catalog = NULL;
    }
    if (r->metrics != NULL) {
        metrics_refresh(r->metrics, rc == RETAIL_OK ? FETCH_OK : report.failure);
    }
    if (rc == RETAIL_ERR_CANCELLED || report.failure == FETCH_CANCELLED) {
        breaker_abandon(r->breaker);
        return RETAIL_ERR_CANCELLED; /* nothing of it is published or stored */
    }
    if (rc != RETAIL_OK) {
        int64_t pause = breaker_failed(r->breaker, clock_mono_ms(), report.needs_person);
        char err[UPSTREAM_ERROR_MAX];

        health_shopify_failure(r->health, clock_wall_ms(),
                               report.error[0] != '\0' ? report.error : retail_status_str(rc),
                               fetch_failure_name(report.failure), report.http_status,
                               report.needs_person);
        log_warn("refresh",
                 "refresh from Shopify failed after %lld ms (%s, %u requests, %u retries): %s; "
                 "the breaker opens for %lld ms%s",
                 (long long)(clock_mono_ms() - started), fetch_failure_name(report.failure),
                 report.requests, report.retries, report.error, (long long)pause,
                 report.needs_person ? "; this needs a person (check the token and the shop)" : "");
        if (r->has_store && r->store_up &&
            r->store.pause_set(r->store.ctx, pause, err, sizeof(err)) != RETAIL_OK) {
            set_store_state(r, false, err);
        }
        wake_waiters(r);
        return rc;
    }
    breaker_succeeded(r->breaker);
    log_info("refresh",
             "read %zu products from Shopify in %lld ms (%u requests, %u retries, %lld ms paced, "
             "%zu unusable products skipped, %zu repeated ids dropped)",
             catalog_count(catalog), (long long)(clock_mono_ms() - started), report.requests,
             report.retries, (long long)report.paced_ms, report.skipped, duplicates);
    health_shopify_success(r->health, clock_wall_ms(), clock_mono_ms() - started,
                           catalog_count(catalog), true);
    if (!shrink_guard_passes(r, catalog, clock_mono_ms())) {
        catalog_unref(catalog);
        wake_waiters(r);
        return RETAIL_OK;
    }
    cache_publish(r->cache, catalog_ref(catalog));
    log_info("refresh", "published %zu products", catalog_count(catalog));
    if (r->has_store) {
        save_catalog(r, catalog);
    }
    catalog_unref(catalog);
    return RETAIL_OK;
}

/* Reads the catalog, then hands back to the system the memory the read
 * freed: its pages, the builder and the catalog it replaced (megabytes for
 * a large store) would otherwise stay resident until reused, and the
 * process's RSS would follow the largest refresh it ever did rather than
 * what it holds. It costs a walk of the free lists, once a refresh. */
static int
read_catalog(struct refresher *r)
{
    int rc = read_from_shopify(r);

#ifdef __GLIBC__
    (void)malloc_trim(0);
#endif
    return rc;
}

/* Takes the fleet's turn or waits for it, then reads. */
static void
attempt(struct refresher *r, int64_t now)
{
    char err[UPSTREAM_ERROR_MAX];
    int64_t paused = 0;
    bool taken = false;

    if (!r->has_store || !r->store_up) {
        (void)read_catalog(r); /* no Redis: every instance reads on its own */
        return;
    }
    if (r->store.pause_get(r->store.ctx, &paused, err, sizeof(err)) != RETAIL_OK) {
        set_store_state(r, false, err);
        (void)read_catalog(r);
        return;
    }
    if (paused > 0) {
        /* Another instance failed: the whole fleet pauses with it. */
        if (!r->fleet_pause_noted) {
            log_info("refresh",
                     "another instance failed to read Shopify: pausing with the fleet for %lld ms",
                     (long long)paused);
            r->fleet_pause_noted = true;
        }
        r->fleet_waiting = false;
        breaker_hold(r->breaker, now, now + paused);
        wake_waiters(r);
        return;
    }
    if (r->store.lock(r->store.ctx, r->instance_id,
                      LIMIT(r, refresh_deadline_ms) + REFRESHER_LOCK_MARGIN_MS, &taken, err,
                      sizeof(err)) != RETAIL_OK) {
        set_store_state(r, false, err);
        (void)read_catalog(r);
        return;
    }
    r->fleet_pause_noted = false;
    if (!taken) {
        if (!r->fleet_waiting) {
            log_info("refresh", "another instance is reading Shopify; waiting for its catalog");
            r->fleet_waiting = true;
            r->fleet_wait_until_ms = now + LIMIT(r, refresh_deadline_ms) + REFRESHER_LOCK_MARGIN_MS;
            breaker_begin(r->breaker);
        } else if (now > r->fleet_wait_until_ms) {
            r->fleet_waiting = false;
            breaker_abandon(r->breaker);
            wake_waiters(r);
        }
        r->next_lock_try_ms = now + r->settings.store_poll_ms;
        return;
    }
    /* A catalog may have landed while we took the lock: read only if still due. */
    poll_store(r);
    {
        struct catalog *current = cache_acquire(r->cache);
        int64_t age = current != NULL ? clock_wall_ms() - catalog_fetched_at_ms(current) : 0;
        bool due = current == NULL || age >= LIMIT(r, ttl_ms) * 4 / 5 || r->suspect_pending;

        catalog_unref(current);
        if (due) {
            (void)read_catalog(r);
        }
    }
    if (r->store.unlock(r->store.ctx, r->instance_id, err, sizeof(err)) != RETAIL_OK) {
        set_store_state(r, false, err);
    }
}

/* When a read is due (monotonic ms), INT64_MAX when never. */
static int64_t
read_due(struct refresher *r, int64_t now)
{
    struct catalog *current;
    struct breaker_view view;
    int64_t due = now;

    if (!r->has_source) {
        return INT64_MAX;
    }
    current = cache_acquire(r->cache);
    if (current != NULL) {
        int64_t age = clock_wall_ms() - catalog_fetched_at_ms(current);
        int64_t lead = LIMIT(r, ttl_ms) * 4 / 5;

        due = now + (age < lead ? lead - age : 0);
        catalog_unref(current);
    }
    if (r->suspect_pending) {
        due = r->suspect_confirm_ms; /* a confirmation, not sooner: a glitch may last */
    }
    view = breaker_view(r->breaker);
    if (view.state == BREAKER_OPEN && view.next_attempt_ms > due) {
        due = view.next_attempt_ms;
    }
    if (r->fleet_waiting && r->next_lock_try_ms > due) {
        due = r->next_lock_try_ms;
    }
    return due;
}

int64_t
refresher_step(struct refresher *r, int64_t now)
{
    int64_t due;

    if (r->has_store && now >= r->next_poll_ms) {
        int64_t started = clock_mono_ms();

        poll_store(r);
        now += clock_mono_ms() - started; /* time spent on Redis */
        r->next_poll_ms = now + (r->store_up ? r->settings.store_poll_ms : STORE_RETRY_MS);
    }
    due = read_due(r, now);
    if (now >= due && breaker_allows(r->breaker, now)) {
        int64_t before = now;
        int64_t started = clock_mono_ms();

        attempt(r, now);
        now += clock_mono_ms() - started;
        due = read_due(r, now);
        if (due < before + MIN_REFRESH_GAP_MS && !r->fleet_waiting) {
            due = before + MIN_REFRESH_GAP_MS; /* never a tight loop */
        }
    }
    if (r->has_store && r->next_poll_ms < due) {
        due = r->next_poll_ms;
    }
    return due;
}

static void *
refresher_main(void *arg)
{
    struct refresher *r = arg;

    if (r->has_store && r->has_source) {
        if (refresher_warm_up(r) == RETAIL_OK) {
            /* Served warm: the start-up attempt is over unless a read is due. */
            if (read_due(r, clock_mono_ms()) > clock_mono_ms()) {
                breaker_abandon(r->breaker);
            }
        }
    }
    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        int64_t next;

        pthread_mutex_unlock(&r->lock);
        next = refresher_step(r, clock_mono_ms());
        pthread_mutex_lock(&r->lock);
        if (r->stop) {
            break;
        }
        if (next == INT64_MAX) {
            pthread_cond_wait(&r->wake, &r->lock);
        } else if (next > clock_mono_ms()) {
            struct timespec ts;

            clock_mono_timespec(next, &ts);
            pthread_cond_timedwait(&r->wake, &r->lock, &ts);
        }
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int
refresher_start(struct refresher *r)
{
    if (r->has_source) {
        /* The first catalog is on its way: early requests may wait for it. */
        breaker_begin(r->breaker);
    }
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
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
