/* SPDX-License-Identifier: MIT */
/* Unit tests: the /health document. */
#include "helpers.h"

#include "retail/clock.h"
#include "retail/health.h"

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
render(struct health *h, const struct catalog *current, const struct catalog *fallback)
{
    struct buf out;
    json_t *doc;

    buf_init(&out, 1 << 16);
    assert_int_equal(health_render(h, current, fallback, 300000, &out), RETAIL_OK);
    doc = parse_json(out.data, out.len);
    buf_deinit(&out);
    return doc;
}

static const json_t *
component(const json_t *doc, const char *name)
{
    return json_object_get(json_object_get(doc, "components"), name);
}

static void
fresh_catalog_is_healthy(void **state)
{
    struct health *h = health_create(true, HEALTH_REDIS_UNKNOWN);
    struct catalog *current = catalog_aged(10000, 7);
    struct catalog *fallback = catalog_aged(0, 3);
    json_t *doc;

    (void)state;
    health_redis_state(h, HEALTH_REDIS_UP, NULL);
    health_shopify_success(h, clock_wall_ms() - 10000, 120, 7);
    for (int i = 0; i < 3; i++) {
        health_count(h, HEALTH_HITS);
    }
    health_count(h, HEALTH_MISSES);
    doc = render(h, current, fallback);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "healthy");
    assert_null(json_object_get(doc, "reason"));
    assert_string_equal(json_string_value(json_object_get(doc, "version")), RETAIL_VERSION);
    assert_true(json_is_integer(json_object_get(doc, "uptime_seconds")));
    assert_int_equal(strlen(json_string_value(json_object_get(doc, "timestamp"))), 20);
    assert_string_equal(json_string_value(json_object_get(component(doc, "redis"), "status")),
                        "up");
    assert_string_equal(json_string_value(json_object_get(component(doc, "shopify"), "status")),
                        "ok");
    assert_int_equal(json_integer_value(json_object_get(component(doc, "cache"), "products")), 7);
    assert_int_equal(json_integer_value(json_object_get(component(doc, "cache"), "age_seconds")),
                     10);
    assert_int_equal(json_integer_value(json_object_get(component(doc, "cache"), "hits")), 3);
    assert_int_equal(json_integer_value(json_object_get(component(doc, "cache"), "misses")), 1);
    assert_true(json_real_value(json_object_get(component(doc, "cache"), "hit_ratio")) == 0.75);
    assert_int_equal(json_integer_value(json_object_get(component(doc, "fallback"), "products")),
                     3);
    assert_string_equal(json_string_value(json_object_get(component(doc, "fallback"), "status")),
                        "standby");
    json_decref(doc);
    catalog_unref(current);
    catalog_unref(fallback);
    health_destroy(h);
}

static void
no_catalog_is_degraded_with_a_reason(void **state)
{
    struct health *h = health_create(true, HEALTH_REDIS_UNKNOWN);
    struct catalog *fallback = catalog_aged(0, 3);
    json_t *doc;

    (void)state;
    health_redis_state(h, HEALTH_REDIS_DOWN, "connect to 127.0.0.1:1: Connection refused");
    health_shopify_failure(h, clock_wall_ms(), "timeout after 5000 ms on products.json page 1");
    health_count(h, HEALTH_MISSES);
    health_count(h, HEALTH_FALLBACK);
    doc = render(h, NULL, fallback);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "degraded");
    assert_non_null(strstr(json_string_value(json_object_get(doc, "reason")), "fallback"));
    assert_string_equal(json_string_value(json_object_get(component(doc, "redis"), "status")),
                        "down");
    assert_non_null(
        strstr(json_string_value(json_object_get(component(doc, "redis"), "last_error")),
               "Connection refused"));
    assert_string_equal(json_string_value(json_object_get(component(doc, "shopify"), "status")),
                        "failing");
    assert_non_null(strstr(
        json_string_value(json_object_get(component(doc, "shopify"), "last_error")), "timeout"));
    assert_true(json_is_string(json_object_get(component(doc, "shopify"), "last_error_at")));
    assert_true(json_is_null(json_object_get(component(doc, "shopify"), "last_success")));
    assert_string_equal(json_string_value(json_object_get(component(doc, "cache"), "status")),
                        "empty");
    assert_true(json_is_null(json_object_get(component(doc, "cache"), "age_seconds")));
    assert_string_equal(json_string_value(json_object_get(component(doc, "fallback"), "status")),
                        "active");
    assert_int_equal(json_integer_value(json_object_get(component(doc, "fallback"), "served")), 1);
    json_decref(doc);
    catalog_unref(fallback);
    health_destroy(h);
}

static void
an_expired_catalog_is_degraded(void **state)
{
    struct health *h = health_create(true, HEALTH_REDIS_DISABLED);
    struct catalog *current = catalog_aged(301000, 2);
    json_t *doc;

    (void)state;
    doc = render(h, current, NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "degraded");
    assert_string_equal(json_string_value(json_object_get(component(doc, "cache"), "status")),
                        "expired");
    assert_string_equal(json_string_value(json_object_get(component(doc, "redis"), "status")),
                        "disabled");
    assert_false(health_is_fresh(current, 300000, clock_wall_ms()));
    assert_true(health_is_fresh(current, 400000, clock_wall_ms()));
    json_decref(doc);
    catalog_unref(current);
    health_destroy(h);
}

static void
without_shopify_it_says_so(void **state)
{
    struct health *h = health_create(false, HEALTH_REDIS_DISABLED);
    json_t *doc;

    (void)state;
    doc = render(h, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(component(doc, "shopify"), "status")),
                        "not_configured");
    assert_false(json_is_true(json_object_get(component(doc, "shopify"), "configured")));
    assert_non_null(strstr(json_string_value(json_object_get(doc, "reason")), "not configured"));
    json_decref(doc);
    health_destroy(h);
}

static void
error_text_is_escaped(void **state)
{
    struct health *h = health_create(true, HEALTH_REDIS_UNKNOWN);
    json_t *doc;

    (void)state;
    health_shopify_failure(h, clock_wall_ms(), "quote \" backslash \\ newline \n \x01 bad \xff");
    doc = render(h, NULL, NULL);
    assert_non_null(json_object_get(component(doc, "shopify"), "last_error"));
    json_decref(doc);
    health_destroy(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fresh_catalog_is_healthy),
        cmocka_unit_test(no_catalog_is_degraded_with_a_reason),
        cmocka_unit_test(an_expired_catalog_is_degraded),
        cmocka_unit_test(without_shopify_it_says_so),
        cmocka_unit_test(error_text_is_escaped),
    };
    return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}
