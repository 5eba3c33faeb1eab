/* SPDX-License-Identifier: MIT */
/* Unit tests: tiers and the /health document. */
#include "helpers.h"

#include "retail/clock.h"
#include "retail/health.h"

#define TTL 300000
#define STALE 3600000

static struct catalog *
catalog_aged(int64_t age_ms, size_t n)
{
    struct catalog_builder *b = catalog_builder_create(1 << 16);
    char err[128];

    for (size_t i = 0; i < n; i++) {
        char id[24];
        json_t *p;

        snprintf(id, sizeof(id), "%zu", i + 1);
        p = json_pack("{s:s, s:s}", "id", id, "title", "t");
        assert_int_equal(catalog_builder_add_answer(b, p, err, sizeof(err)), RETAIL_OK);
        json_decref(p);
    }
    return catalog_builder_finish(b, CATALOG_ORIGIN_SHOPIFY, clock_wall_ms() - age_ms, NULL);
}

static json_t *
render(struct health *h, const struct catalog *current, const struct catalog *fallback,
       struct breaker *breaker)
{
    struct health_inputs in = {current, fallback, breaker, TTL, STALE};
    struct buf out;
    json_t *doc;

    buf_init(&out, 1 << 16);
    assert_int_equal(health_render(h, &in, &out), RETAIL_OK);
    doc = parse_json(out.data, out.len);
    buf_deinit(&out);
    return doc;
}

static const json_t *
component(const json_t *doc, const char *name)
{
    return json_object_get(json_object_get(doc, "components"), name);
}

static const char *
text(const json_t *object, const char *key)
{
    return json_string_value(json_object_get(object, key));
}

static void
tiers_follow_age(void **state)
{
    struct catalog *fresh = catalog_aged(1000, 1);
    struct catalog *stale = catalog_aged(TTL + 1000, 1);
    struct catalog *old = catalog_aged(STALE + 1000, 1);
    int64_t now = clock_wall_ms();

    (void)state;
    assert_int_equal(health_tier_of(fresh, TTL, STALE, now), TIER_FRESH);
    assert_int_equal(health_tier_of(stale, TTL, STALE, now), TIER_STALE);
    assert_int_equal(health_tier_of(old, TTL, STALE, now), TIER_NONE);
    assert_int_equal(health_tier_of(NULL, TTL, STALE, now), TIER_NONE);
    catalog_unref(fresh);
    catalog_unref(stale);
    catalog_unref(old);
}

static void
fresh_catalog_is_healthy(void **state)
{
    struct health *h = health_create(true, HEALTH_REDIS_UNKNOWN);
    struct breaker *breaker = breaker_create(1000, 60000);
    struct catalog *current = catalog_aged(10000, 7);
    struct catalog *fallback = catalog_aged(0, 3);
    const json_t *cache, *shopify;
    json_t *doc;

    (void)state;
    health_redis_state(h, HEALTH_REDIS_UP, NULL);
    health_shopify_success(h, clock_wall_ms() - 10000, 120, 7, true);
    for (int i = 0; i < 2; i++) {
        health_count(h, HEALTH_HITS);
    }
    health_count(h, HEALTH_STALE);
    health_count(h, HEALTH_MISSES);
    doc = render(h, current, fallback, breaker);
    assert_string_equal(text(doc, "status"), "healthy");
    assert_null(json_object_get(doc, "reason"));
    assert_string_equal(text(doc, "version"), RETAIL_VERSION);
    assert_true(json_is_integer(json_object_get(doc, "uptime_seconds")));
    assert_int_equal(strlen(text(doc, "timestamp")), 20);
    assert_string_equal(text(json_object_get(doc, "serving"), "tier"), "fresh");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(doc, "serving"), "age_seconds")), 10);
    assert_string_equal(text(component(doc, "redis"), "status"), "up");
    shopify = component(doc, "shopify");
    assert_string_equal(text(shopify, "status"), "ok");
    assert_string_equal(text(shopify, "last_read_by"), "this_instance");
    assert_string_equal(text(json_object_get(shopify, "breaker"), "state"), "closed");
    assert_true(json_is_null(json_object_get(json_object_get(shopify, "breaker"), "next_attempt")));
    assert_true(json_is_null(json_object_get(shopify, "suspect_catalog")));
    cache = component(doc, "cache");
    assert_string_equal(text(cache, "status"), "fresh");
    assert_int_equal(json_integer_value(json_object_get(cache, "products")), 7);
    assert_int_equal(json_integer_value(json_object_get(cache, "age_seconds")), 10);
    assert_int_equal(json_integer_value(json_object_get(cache, "hits")), 2);
    assert_int_equal(json_integer_value(json_object_get(cache, "stale_hits")), 1);
    assert_int_equal(json_integer_value(json_object_get(cache, "misses")), 1);
    assert_true(json_real_value(json_object_get(cache, "hit_ratio")) == 0.75);
    assert_int_equal(json_integer_value(json_object_get(component(doc, "fallback"), "products")),
                     3);
    assert_string_equal(text(component(doc, "fallback"), "status"), "standby");
    json_decref(doc);
    catalog_unref(current);
    catalog_unref(fallback);
    breaker_destroy(breaker);
    health_destroy(h);
}

static void
a_stale_catalog_is_degraded_and_shows_its_age(void **state)
{
    struct health *h = health_create(true, HEALTH_REDIS_DISABLED);
    struct breaker *breaker = breaker_create(1000, 60000);
    struct catalog *current = catalog_aged(TTL + 5000, 2);
    const json_t *breaker_doc;
    json_t *doc;

    (void)state;
    breaker_begin(breaker);
    breaker_failed(breaker, clock_mono_ms(), true);
    health_shopify_failure(h, clock_wall_ms(), "HTTP 401 on products.json page 1", "refused", 401,
                           true);
    doc = render(h, current, NULL, breaker);
    assert_string_equal(text(doc, "status"), "degraded");
    assert_non_null(strstr(text(doc, "reason"), "stale"));
    assert_string_equal(text(json_object_get(doc, "serving"), "tier"), "stale");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(doc, "serving"), "age_seconds")), 305);
    assert_string_equal(text(component(doc, "cache"), "status"), "stale");
    assert_string_equal(text(component(doc, "redis"), "status"), "disabled");
    assert_string_equal(text(component(doc, "shopify"), "status"), "failing");
    assert_string_equal(text(component(doc, "shopify"), "last_error_class"), "refused");
    assert_int_equal(
        json_integer_value(json_object_get(component(doc, "shopify"), "last_error_status")), 401);
    assert_true(json_is_true(json_object_get(component(doc, "shopify"), "needs_person")));
    breaker_doc = json_object_get(component(doc, "shopify"), "breaker");
    assert_string_equal(text(breaker_doc, "state"), "open");
    assert_true(json_is_string(json_object_get(breaker_doc, "next_attempt")));
    assert_true(json_integer_value(json_object_get(breaker_doc, "next_attempt_in_ms")) > 20000);
    json_decref(doc);
    catalog_unref(current);
    breaker_destroy(breaker);
    health_destroy(h);
}

static void
no_catalog_is_degraded_with_a_reason(void **state)
{
    struct health *h = health_create(true, HEALTH_REDIS_UNKNOWN);
    struct breaker *breaker = breaker_create(1000, 60000);
    struct catalog *fallback = catalog_aged(0, 3);
    json_t *doc;

    (void)state;
    health_redis_state(h, HEALTH_REDIS_DOWN, "connect to 127.0.0.1:1: Connection refused");
    health_count(h, HEALTH_MISSES);
    health_count(h, HEALTH_FALLBACK);
    health_suspect(h, 4, 10);
    doc = render(h, NULL, fallback, breaker);
    assert_string_equal(text(doc, "status"), "degraded");
    assert_non_null(strstr(text(doc, "reason"), "fallback"));
    assert_string_equal(text(json_object_get(doc, "serving"), "tier"), "fallback");
    assert_string_equal(text(component(doc, "redis"), "status"), "down");
    assert_non_null(strstr(text(component(doc, "redis"), "last_error"), "Connection refused"));
    assert_string_equal(text(component(doc, "shopify"), "status"), "pending");
    assert_string_equal(text(component(doc, "cache"), "status"), "empty");
    assert_true(json_is_null(json_object_get(component(doc, "cache"), "age_seconds")));
    assert_string_equal(text(component(doc, "fallback"), "status"), "active");
    assert_int_equal(json_integer_value(json_object_get(component(doc, "fallback"), "served")), 1);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(component(doc, "shopify"), "suspect_catalog"), "in_service")),
        10);
    json_decref(doc);
    catalog_unref(fallback);
    breaker_destroy(breaker);
    health_destroy(h);
}

static void
too_old_a_catalog_is_replaced_by_the_fallback(void **state)
{
    struct health *h = health_create(true, HEALTH_REDIS_DISABLED);
    struct breaker *breaker = breaker_create(1000, 60000);
    struct catalog *current = catalog_aged(STALE + 1000, 2);
    json_t *doc;

    (void)state;
    doc = render(h, current, NULL, breaker);
    assert_string_equal(text(component(doc, "cache"), "status"), "expired");
    assert_string_equal(text(json_object_get(doc, "serving"), "tier"), "fallback");
    assert_non_null(strstr(text(doc, "reason"), "CACHE_STALE_SECONDS"));
    json_decref(doc);
    catalog_unref(current);
    breaker_destroy(breaker);
    health_destroy(h);
}

static void
without_shopify_it_says_so(void **state)
{
    struct health *h = health_create(false, HEALTH_REDIS_DISABLED);
    json_t *doc;

    (void)state;
    doc = render(h, NULL, NULL, NULL);
    assert_string_equal(text(component(doc, "shopify"), "status"), "not_configured");
    assert_false(json_is_true(json_object_get(component(doc, "shopify"), "configured")));
    assert_non_null(strstr(text(doc, "reason"), "not configured"));
    json_decref(doc);
    health_destroy(h);
}

static void
error_text_is_escaped(void **state)
{
    struct health *h = health_create(true, HEALTH_REDIS_UNKNOWN);
    struct breaker *breaker = breaker_create(1000, 60000);
    json_t *doc;

    (void)state;
    health_shopify_failure(h, clock_wall_ms(), "quote \" backslash \\ newline \n \x01 bad \xff",
                           "network", 0, false);
    doc = render(h, NULL, NULL, breaker);
    assert_non_null(json_object_get(component(doc, "shopify"), "last_error"));
    assert_true(json_is_null(json_object_get(component(doc, "shopify"), "last_error_status")));
    json_decref(doc);
    breaker_destroy(breaker);
    health_destroy(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tiers_follow_age),
        cmocka_unit_test(fresh_catalog_is_healthy),
        cmocka_unit_test(a_stale_catalog_is_degraded_and_shows_its_age),
        cmocka_unit_test(no_catalog_is_degraded_with_a_reason),
        cmocka_unit_test(too_old_a_catalog_is_replaced_by_the_fallback),
        cmocka_unit_test(without_shopify_it_says_so),
        cmocka_unit_test(error_text_is_escaped),
    };
    return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}
