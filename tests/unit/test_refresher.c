/* SPDX-License-Identifier: MIT */
/* Unit tests: the refresher's steps against a fake source and a fake store. */
#include "helpers.h"

#include "retail/clock.h"
#include "retail/log.h"
#include "retail/refresher.h"

struct fake_source {
    int rc;          /* what fetch returns */
    size_t products; /* how many it adds on success */
    unsigned calls;
    bool cancelled;
};

static int
fake_fetch(void *ctx, struct catalog_builder *b, struct fetch_report *report)
{
    struct fake_source *s = ctx;

    s->calls++;
    if (s->rc != RETAIL_OK) {
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

struct fake_store {
    bool up;
    struct buf saved; /* what save stored, serialised */
    unsigned saves, loads, pings;
};

static int
fake_load(void *ctx, size_t max, struct catalog **out, char *err, size_t errlen)
{
    struct fake_store *s = ctx;

    s->loads++;
    if (!s->up) {
        snprintf(err, errlen, "connection refused");
        return RETAIL_ERR_UNAVAILABLE;
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
        snprintf(err, errlen, "connection refused");
        return RETAIL_ERR_UNAVAILABLE;
    }
    s->saves++;
    buf_reset(&s->saved);
    return catalog_serialize(c, &s->saved);
}

static int
fake_ping(void *ctx, char *err, size_t errlen)
{
    struct fake_store *s = ctx;

    s->pings++;
    if (!s->up) {
        snprintf(err, errlen, "connection refused");
        return RETAIL_ERR_UNAVAILABLE;
    }
    return RETAIL_OK;
}

struct rig {
    struct fake_source source;
    struct fake_store store;
    struct cache *cache;
    struct health *health;
    struct refresher *refresher;
};

static int
setup(void **state)
{
    struct rig *rig = calloc(1, sizeof(*rig));
    struct refresher_settings settings = {300000, 400, 1 << 24, 5000};
    struct catalog_source source = {&rig->source, fake_fetch, fake_cancel};
    struct catalog_store store = {&rig->store, fake_load, fake_save, fake_ping};

    log_set_level(LOG_ERROR);
    rig->source.products = 3;
    rig->store.up = true;
    buf_init(&rig->store.saved, 1 << 24);
    rig->cache = cache_create();
    rig->health = health_create(true, HEALTH_REDIS_UNKNOWN);
    rig->refresher = refresher_create(&settings, rig->cache, rig->health, &source, &store);
    *state = rig;
    return 0;
}

static int
teardown(void **state)
{
    struct rig *rig = *state;

    refresher_destroy(rig->refresher);
    health_destroy(rig->health);
    cache_destroy(rig->cache);
    buf_deinit(&rig->store.saved);
    free(rig);
    return 0;
}

static size_t
served_count(struct rig *rig)
{
    struct catalog *c = cache_acquire(rig->cache);
    size_t n = c != NULL ? catalog_count(c) : 0;

    catalog_unref(c);
    return n;
}

static void
a_refresh_publishes_and_stores(void **state)
{
    struct rig *rig = *state;

    assert_int_equal(refresher_refresh_once(rig->refresher), RETAIL_OK);
    assert_int_equal(served_count(rig), 3);
    assert_int_equal(rig->store.saves, 1);
    assert_non_null(strstr(rig->store.saved.data, "RETAIL-CATALOG 1"));
    assert_int_equal(health_redis_get(rig->health), HEALTH_REDIS_UP);
}

static void
a_failed_refresh_keeps_the_last_good_catalog(void **state)
{
    struct rig *rig = *state;
    struct catalog *before, *after;

    assert_int_equal(refresher_refresh_once(rig->refresher), RETAIL_OK);
    before = cache_acquire(rig->cache);
    rig->source.rc = RETAIL_ERR_TIMEOUT;
    rig->source.products = 50;
    assert_int_equal(refresher_refresh_once(rig->refresher), RETAIL_ERR_TIMEOUT);
    after = cache_acquire(rig->cache);
    assert_ptr_equal(before, after);
    assert_int_equal(catalog_count(after), 3);
    assert_int_equal(rig->store.saves, 1);
    catalog_unref(before);
    catalog_unref(after);
}

static void
a_failed_first_refresh_publishes_nothing(void **state)
{
    struct rig *rig = *state;

    rig->source.rc = RETAIL_ERR_UPSTREAM;
    assert_int_equal(refresher_refresh_once(rig->refresher), RETAIL_ERR_UPSTREAM);
    assert_null(cache_acquire(rig->cache));
    assert_int_equal(rig->store.saves, 0);
}

static void
warm_up_loads_what_another_instance_stored(void **state)
{
    struct rig *rig = *state;
    struct cache *other = cache_create();

    assert_int_equal(refresher_refresh_once(rig->refresher), RETAIL_OK);
    /* A second refresher on the same store, as after a restart. */
    {
        struct refresher_settings settings = {300000, 400, 1 << 24, 5000};
        struct catalog_store store = {&rig->store, fake_load, fake_save, fake_ping};
        struct refresher *second = refresher_create(&settings, other, rig->health, NULL, &store);
        struct catalog *c;

        assert_int_equal(refresher_warm_up(second), RETAIL_OK);
        c = cache_acquire(other);
        assert_non_null(c);
        assert_int_equal(catalog_count(c), 3);
        assert_int_equal(catalog_origin(c), CATALOG_ORIGIN_STORE);
        catalog_unref(c);
        refresher_destroy(second);
    }
    cache_destroy(other);
}

static void
warm_up_with_redis_down_reports_it(void **state)
{
    struct rig *rig = *state;

    rig->store.up = false;
    assert_int_equal(refresher_warm_up(rig->refresher), RETAIL_ERR_UNAVAILABLE);
    assert_null(cache_acquire(rig->cache));
    assert_int_equal(health_redis_get(rig->health), HEALTH_REDIS_DOWN);
    rig->store.up = true;
    assert_int_equal(refresher_warm_up(rig->refresher), RETAIL_ERR_NOT_FOUND);
}

static void
a_refresh_while_redis_is_down_still_publishes(void **state)
{
    struct rig *rig = *state;

    rig->store.up = false;
    assert_int_equal(refresher_refresh_once(rig->refresher), RETAIL_OK);
    assert_int_equal(served_count(rig), 3);
    assert_int_equal(rig->store.saves, 0);
    assert_int_equal(health_redis_get(rig->health), HEALTH_REDIS_DOWN);
}

static void
backoff_doubles_up_to_a_cap(void **state)
{
    (void)state;
    assert_int_equal(refresher_backoff_ms(300000, 1), 1000);
    assert_int_equal(refresher_backoff_ms(300000, 2), 2000);
    assert_int_equal(refresher_backoff_ms(300000, 3), 4000);
    assert_int_equal(refresher_backoff_ms(300000, 7), 60000);
    assert_int_equal(refresher_backoff_ms(300000, 1000), 60000);
    assert_int_equal(refresher_backoff_ms(2000, 5), 2000); /* never longer than the TTL */
    assert_int_equal(refresher_backoff_ms(500, 1), 1000);
}

static void
the_thread_refreshes_then_stops_and_cancels(void **state)
{
    struct rig *rig = *state;
    int64_t deadline = clock_mono_ms() + 5000;

    assert_int_equal(refresher_start(rig->refresher), RETAIL_OK);
    while (served_count(rig) == 0 && clock_mono_ms() < deadline) {
        struct timespec pause = {0, 1000000};

        nanosleep(&pause, NULL);
    }
    assert_int_equal(served_count(rig), 3);
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
        cmocka_unit_test_setup_teardown(a_refresh_publishes_and_stores, setup, teardown),
        cmocka_unit_test_setup_teardown(a_failed_refresh_keeps_the_last_good_catalog, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_failed_first_refresh_publishes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(warm_up_loads_what_another_instance_stored, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(warm_up_with_redis_down_reports_it, setup, teardown),
        cmocka_unit_test_setup_teardown(a_refresh_while_redis_is_down_still_publishes, setup,
                                        teardown),
        cmocka_unit_test(backoff_doubles_up_to_a_cap),
        cmocka_unit_test_setup_teardown(the_thread_refreshes_then_stops_and_cancels, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("refresher", tests, NULL, NULL);
}
