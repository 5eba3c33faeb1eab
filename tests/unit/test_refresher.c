/* SPDX-License-Identifier: MIT */
/* Unit tests: the refresher's turns against a fake source and a fake store
 * (Redis and Shopify themselves are covered by the integration tests). */
#include "helpers.h"

#include "retail/clock.h"
#include "retail/log.h"
#include "retail/refresher.h"

struct fake_source {
    int rc;          /* what fetch returns */
    bool refuse;     /* report a 401 */
    size_t products; /* how many it adds on success */
    unsigned calls;
    bool cancelled;
};

static int
fake_fetch(void *ctx, struct catalog_builder *b, int64_t deadline_ms, struct fetch_report *report)
{
    struct fake_source *s = ctx;

    (void)deadline_ms;
    s->calls++;
    if (s->rc != RETAIL_OK) {
        report->failure = s->rc == RETAIL_ERR_CANCELLED ? FETCH_CANCELLED
                          : s->refuse                   ? FETCH_REFUSED
                                                        : FETCH_TIMEOUT;
        report->needs_person = s->refuse;
        snprintf(report->error, sizeof(report->error), "fake failure %d", s->rc);
        return s->rc;
    }
    for (size_t i = 0; i < s->products; i++) {
        char id[24];
        json_t *p;
        int rc;

        snprintf(id, sizeof(id), "%zu", i + 1);
        p = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "id", id, "title", "p", "variants", "id", id,
                      "price", "1.50");
        rc = catalog_builder_add_shopify(b, p, NULL);
        json_decref(p);
        if (rc != RETAIL_OK) {
            return rc;
        }
    }
    report->requests = 1;
    return RETAIL_OK;
}

static void
fake_cancel(void *ctx)
{
    ((struct fake_source *)ctx)->cancelled = true;
}

/* An in-memory Redis: one catalog with its version, a lock, a pause. */
struct fake_store {
    bool up;
    struct buf saved;
    int64_t version;
    char lock_owner[64];
    int64_t pause_ms;
    unsigned saves, loads, locks_taken;
};

static int
down(struct fake_store *s, char *err, size_t errlen)
{
    (void)s;
    snprintf(err, errlen, "connection refused");
    return RETAIL_ERR_UNAVAILABLE;
}

static int
fake_load(void *ctx, size_t max, struct catalog **out, char *err, size_t errlen)
{
    struct fake_store *s = ctx;

    s->loads++;
    if (!s->up) {
        return down(s, err, errlen);
    }
    if (s->saved.len == 0) {
        return RETAIL_ERR_NOT_FOUND;
    }
    *out = catalog_deserialize(s->saved.data, s->saved.len, max, err, errlen);
    return *out != NULL ? RETAIL_OK : RETAIL_ERR_PARSE;
}

static int
fake_save(void *ctx, const struct catalog *c, int64_t ttl_s, char *err, size_t errlen)
{
    struct fake_store *s = ctx;

    (void)ttl_s;
    if (!s->up) {
        return down(s, err, errlen);
    }
    s->saves++;
    buf_reset(&s->saved);
    s->version = catalog_fetched_at_ms(c);
    return catalog_serialize(c, &s->saved);
}

static int
fake_version(void *ctx, int64_t *v, char *err, size_t errlen)
{
    struct fake_store *s = ctx;

    if (!s->up) {
        return down(s, err, errlen);
    }
    *v = s->version;
    return s->saved.len > 0 ? RETAIL_OK : RETAIL_ERR_NOT_FOUND;
}

static int
fake_lock(void *ctx, const char *owner, int64_t ttl_ms, bool *taken, char *err, size_t errlen)
{
    struct fake_store *s = ctx;

    (void)ttl_ms;
    if (!s->up) {
        return down(s, err, errlen);
    }
    *taken = s->lock_owner[0] == '\0';
    if (*taken) {
        snprintf(s->lock_owner, sizeof(s->lock_owner), "%s", owner);
        s->locks_taken++;
    }
    return RETAIL_OK;
}

static int
fake_unlock(void *ctx, const char *owner, char *err, size_t errlen)
{
    struct fake_store *s = ctx;

    if (!s->up) {
        return down(s, err, errlen);
    }
    if (strcmp(s->lock_owner, owner) == 0) {
        s->lock_owner[0] = '\0';
    }
    return RETAIL_OK;
}

static int
fake_pause_get(void *ctx, int64_t *remaining, char *err, size_t errlen)
{
    struct fake_store *s = ctx;

    if (!s->up) {
        return down(s, err, errlen);
    }
    *remaining = s->pause_ms;
    return RETAIL_OK;
}

static int
fake_pause_set(void *ctx, int64_t pause, char *err, size_t errlen)
{
    struct fake_store *s = ctx;

    if (!s->up) {
        return down(s, err, errlen);
    }
    s->pause_ms = pause;
    return RETAIL_OK;
}

struct rig {
    struct fake_source source;
    struct fake_store store;
    struct cache *cache;
    struct health *health;
    struct breaker *breaker;
    struct refresher *refresher;
};

static struct refresher *
make_refresher(struct rig *rig, struct cache *cache, const char *id, bool with_source)
{
    struct refresher_settings settings = {
        .ttl_ms = 300000,
        .stale_ms = 3600000,
        .refresh_deadline_ms = 60000,
        .max_catalog_bytes = 1 << 24,
        .store_poll_ms = 500,
        .shrink_guard_percent = 50,
        .instance_id = id,
    };
    struct catalog_source source = {&rig->source, fake_fetch, fake_cancel};
    struct catalog_store store = {&rig->store, fake_load,   fake_save,      fake_version,
                                  fake_lock,   fake_unlock, fake_pause_get, fake_pause_set};

    return refresher_create(&settings, cache, rig->health, rig->breaker, NULL,
                            with_source ? &source : NULL, &store);
}

static int
setup(void **state)
{
    struct rig *rig = calloc(1, sizeof(*rig));

    log_set_level(getenv("TEST_LOG") ? LOG_DEBUG : LOG_ERROR);
    rig->source.products = 10;
    rig->store.up = true;
    buf_init(&rig->store.saved, 1 << 24);
    rig->cache = cache_create();
    rig->health = health_create(true, HEALTH_REDIS_UNKNOWN);
    rig->breaker = breaker_create(1000, 60000);
    rig->refresher = make_refresher(rig, rig->cache, "me", true);
    *state = rig;
    return 0;
}

static int
teardown(void **state)
{
    struct rig *rig = *state;

    refresher_destroy(rig->refresher);
    breaker_destroy(rig->breaker);
    health_destroy(rig->health);
    cache_destroy(rig->cache);
    buf_deinit(&rig->store.saved);
    free(rig);
    return 0;
}

static size_t
served_count(struct cache *cache)
{
    struct catalog *c = cache_acquire(cache);
    size_t n = c != NULL ? catalog_count(c) : 0;

    catalog_unref(c);
    return n;
}

static void
a_read_publishes_stores_and_releases_the_lock(void **state)
{
    struct rig *rig = *state;
    int64_t next;

    next = refresher_step(rig->refresher, clock_mono_ms());
    assert_int_equal(served_count(rig->cache), 10);
    assert_int_equal(rig->source.calls, 1);
    assert_int_equal(rig->store.saves, 1);
    assert_int_equal(rig->store.locks_taken, 1);
    assert_string_equal(rig->store.lock_owner, "");
    assert_int_equal(health_redis_get(rig->health), HEALTH_REDIS_UP);
    assert_int_equal(breaker_view(rig->breaker).state, BREAKER_CLOSED);
    /* Fresh: the next turn is a store poll, not a read. */
    assert_true(next <= clock_mono_ms() + 500);
    refresher_step(rig->refresher, next);
    assert_int_equal(rig->source.calls, 1);
}

/* Publishes a catalog of n products read age_ms ago. */
static void
publish_aged(struct cache *cache, size_t n, int64_t age_ms)
{
    struct fake_source source = {RETAIL_OK, false, n, 0, false};
    struct catalog_builder *b = catalog_builder_create(1 << 20);
    struct fetch_report report;

    memset(&report, 0, sizeof(report));
    assert_int_equal(fake_fetch(&source, b, 0, &report), RETAIL_OK);
    cache_publish(
        cache, catalog_builder_finish(b, CATALOG_ORIGIN_SHOPIFY, clock_wall_ms() - age_ms, NULL));
}

static void
a_failed_read_keeps_the_last_good_catalog(void **state)
{
    struct rig *rig = *state;
    struct catalog *before, *after;

    publish_aged(rig->cache, 7, 290000); /* past 80 % of the 300 s TTL: due */
    before = cache_acquire(rig->cache);
    rig->source.rc = RETAIL_ERR_TIMEOUT;
    refresher_step(rig->refresher, clock_mono_ms());
    assert_int_equal(rig->source.calls, 1);
    after = cache_acquire(rig->cache);
    assert_ptr_equal(before, after);
    assert_int_equal(catalog_count(after), 7);
    assert_int_equal(breaker_view(rig->breaker).state, BREAKER_OPEN);
    catalog_unref(before);
    catalog_unref(after);
}

static void
a_failure_opens_the_breaker_and_sets_the_shared_pause(void **state)
{
    struct rig *rig = *state;
    struct breaker_view view;

    rig->source.rc = RETAIL_ERR_UPSTREAM;
    refresher_step(rig->refresher, clock_mono_ms());
    assert_null(cache_acquire(rig->cache));
    assert_int_equal(rig->store.saves, 0);
    view = breaker_view(rig->breaker);
    assert_int_equal(view.state, BREAKER_OPEN);
    assert_true(rig->store.pause_ms >= 500 && rig->store.pause_ms <= 1000);
    assert_string_equal(rig->store.lock_owner, "");
    /* While open, a turn reads nothing. */
    refresher_step(rig->refresher, clock_mono_ms());
    assert_int_equal(rig->source.calls, 1);
}

static void
a_refused_token_waits_the_longest(void **state)
{
    struct rig *rig = *state;

    rig->source.rc = RETAIL_ERR_UPSTREAM;
    rig->source.refuse = true;
    refresher_step(rig->refresher, clock_mono_ms());
    assert_true(breaker_view(rig->breaker).opened_for_ms >= 30000);
}

static void
warm_up_loads_what_another_instance_stored(void **state)
{
    struct rig *rig = *state;
    struct cache *other = cache_create();
    struct refresher *second;
    struct catalog *c;

    refresher_step(rig->refresher, clock_mono_ms());
    second = make_refresher(rig, other, "second", true);
    assert_int_equal(refresher_warm_up(second), RETAIL_OK);
    c = cache_acquire(other);
    assert_non_null(c);
    assert_int_equal(catalog_count(c), 10);
    assert_int_equal(catalog_origin(c), CATALOG_ORIGIN_STORE);
    catalog_unref(c);
    refresher_destroy(second);
    cache_destroy(other);
}

static void
the_fleet_reads_once_and_the_others_pick_it_up(void **state)
{
    struct rig *rig = *state;
    struct cache *other = cache_create();
    struct refresher *second = make_refresher(rig, other, "second", true);

    /* Another instance holds the lock: we wait, and requests may wait too. */
    snprintf(rig->store.lock_owner, sizeof(rig->store.lock_owner), "holder");
    refresher_step(second, clock_mono_ms());
    assert_int_equal(rig->source.calls, 0);
    assert_true(breaker_should_wait(rig->breaker));
    /* The holder publishes; our next poll picks its catalog up. */
    rig->store.lock_owner[0] = '\0';
    refresher_step(rig->refresher, clock_mono_ms());
    assert_int_equal(rig->source.calls, 1);
    refresher_step(second, clock_mono_ms() + 1000);
    assert_int_equal(served_count(other), 10);
    assert_int_equal(rig->source.calls, 1); /* one read for two instances */
    assert_false(breaker_should_wait(rig->breaker));
    assert_int_equal(breaker_view(rig->breaker).state, BREAKER_CLOSED);
    refresher_destroy(second);
    cache_destroy(other);
}

static void
a_fleet_pause_holds_every_instance(void **state)
{
    struct rig *rig = *state;

    rig->store.pause_ms = 4000;
    refresher_step(rig->refresher, clock_mono_ms());
    assert_int_equal(rig->source.calls, 0);
    assert_int_equal(breaker_view(rig->breaker).state, BREAKER_OPEN);
    assert_int_equal(breaker_view(rig->breaker).failures, 0);
}

static void
without_redis_each_instance_reads_alone(void **state)
{
    struct rig *rig = *state;

    rig->store.up = false;
    refresher_step(rig->refresher, clock_mono_ms());
    assert_int_equal(served_count(rig->cache), 10);
    assert_int_equal(rig->store.saves, 0);
    assert_int_equal(health_redis_get(rig->health), HEALTH_REDIS_DOWN);
    /* Redis comes back empty: the next poll writes the catalog in service. */
    rig->store.up = true;
    refresher_step(rig->refresher, clock_mono_ms() + 2000);
    assert_int_equal(rig->store.saves, 1);
    assert_int_equal(health_redis_get(rig->health), HEALTH_REDIS_UP);
}

/* Products in the fake store's catalog, 0 when none. */
static size_t
stored_count(struct rig *rig)
{
    char err[128];
    struct catalog *c;
    size_t n;

    if (rig->store.saved.len == 0) {
        return 0;
    }
    c = catalog_deserialize(rig->store.saved.data, rig->store.saved.len, 1 << 24, err, sizeof(err));
    assert_non_null(c);
    n = catalog_count(c);
    catalog_unref(c);
    return n;
}

static void
a_shrunken_catalog_waits_for_a_second_read(void **state)
{
    struct rig *rig = *state;
    int64_t now = clock_mono_ms();

    publish_aged(rig->cache, 10, 290000);
    rig->source.products = 4; /* 60 % gone: more than the guard's 50 % */
    refresher_step(rig->refresher, now);
    assert_int_equal(rig->source.calls, 1);
    assert_int_equal(served_count(rig->cache), 10); /* held back */
    assert_int_equal(stored_count(rig), 10);        /* and not stored */
    refresher_step(rig->refresher, now + 500);      /* the confirmation is not due yet */
    assert_int_equal(rig->source.calls, 1);
    refresher_step(rig->refresher, now + 60000);
    assert_int_equal(rig->source.calls, 2);
    assert_int_equal(served_count(rig->cache), 4); /* confirmed: published */
    assert_int_equal(stored_count(rig), 4);
}

static void
a_shrink_that_is_not_confirmed_is_dropped(void **state)
{
    struct rig *rig = *state;
    int64_t now = clock_mono_ms();

    publish_aged(rig->cache, 10, 290000);
    rig->source.products = 3;
    refresher_step(rig->refresher, now);
    assert_int_equal(served_count(rig->cache), 10);
    rig->source.products = 10; /* the glitch is gone */
    refresher_step(rig->refresher, now + 60000);
    assert_int_equal(rig->source.calls, 2);
    assert_int_equal(served_count(rig->cache), 10);
    /* A later shrink is suspect afresh, not taken as the confirmation. */
    rig->source.products = 3;
    publish_aged(rig->cache, 10, 290000);
    refresher_step(rig->refresher, now + 120000);
    assert_int_equal(served_count(rig->cache), 10);
}

static void
a_small_shrink_is_published_at_once(void **state)
{
    struct rig *rig = *state;

    publish_aged(rig->cache, 10, 290000);
    rig->source.products = 6; /* 40 % gone */
    refresher_step(rig->refresher, clock_mono_ms());
    assert_int_equal(served_count(rig->cache), 6);
}

static void
a_stored_catalog_older_than_the_stale_limit_is_ignored(void **state)
{
    struct rig *rig = *state;
    struct cache *old = cache_create();
    struct refresher *r;

    publish_aged(old, 3, 2 * 3600000); /* two hours; stale limit is one */
    {
        struct catalog *c = cache_acquire(old);

        assert_int_equal(fake_save(&rig->store, c, 60, NULL, 0), RETAIL_OK);
        catalog_unref(c);
    }
    r = make_refresher(rig, rig->cache, "late", true);
    assert_int_equal(refresher_warm_up(r), RETAIL_ERR_NOT_FOUND);
    assert_null(cache_acquire(rig->cache));
    refresher_destroy(r);
    cache_destroy(old);
}

static void
a_cancelled_read_leaves_no_trace(void **state)
{
    struct rig *rig = *state;

    rig->source.rc = RETAIL_ERR_CANCELLED;
    refresher_step(rig->refresher, clock_mono_ms());
    assert_null(cache_acquire(rig->cache));
    assert_int_equal(rig->store.saves, 0);
    assert_int_equal(breaker_view(rig->breaker).state, BREAKER_CLOSED);
    assert_int_equal(breaker_view(rig->breaker).failures, 0);
}

static void
the_thread_reads_then_stops_and_cancels(void **state)
{
    struct rig *rig = *state;
    int64_t deadline = clock_mono_ms() + 5000;

    assert_int_equal(refresher_start(rig->refresher), RETAIL_OK);
    while (served_count(rig->cache) == 0 && clock_mono_ms() < deadline) {
        struct timespec pause = {0, 1000000};

        nanosleep(&pause, NULL);
    }
    assert_int_equal(served_count(rig->cache), 10);
    refresher_stop(rig->refresher);
    assert_true(rig->source.cancelled);
    assert_int_equal(rig->source.calls, 1); /* fresh for 80 % of the TTL: no second read */
    assert_true(rig->store.loads >= 1);
    refresher_stop(rig->refresher); /* twice is fine */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_read_publishes_stores_and_releases_the_lock, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_failed_read_keeps_the_last_good_catalog, setup, teardown),
        cmocka_unit_test_setup_teardown(a_failure_opens_the_breaker_and_sets_the_shared_pause,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_refused_token_waits_the_longest, setup, teardown),
        cmocka_unit_test_setup_teardown(warm_up_loads_what_another_instance_stored, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_fleet_reads_once_and_the_others_pick_it_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_fleet_pause_holds_every_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(without_redis_each_instance_reads_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(a_shrunken_catalog_waits_for_a_second_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_shrink_that_is_not_confirmed_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(a_small_shrink_is_published_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(a_stored_catalog_older_than_the_stale_limit_is_ignored,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_cancelled_read_leaves_no_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(the_thread_reads_then_stops_and_cancels, setup, teardown),
    };
    return cmocka_run_group_tests_name("refresher", tests, NULL, NULL);
}
