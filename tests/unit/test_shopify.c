/* SPDX-License-Identifier: MIT */
/* Unit tests: the Shopify client's header parsers. (The client itself runs
 * against the mock Shopify in the integration tests.) */
#include "helpers.h"

#include "retail/shopify.h"

static void
retry_after_is_read_as_seconds(void **state)
{
    static const struct {
        const char *value;
        int64_t ms;
    } cases[] = {
        {"2", 2000},
        {"2.0", 2000},
        {"0.5", 500},
        {"0", 0},
        {"10 ", 10000},
        {"1e1", 10000},
        {"", -1},
        {"soon", -1},
        {"-1", -1},
        {"2s", -1},
        {"Wed, 21 Oct 2015 07:28:00 GMT", -1},
        {"999999999", 86400000},
        {"nan", -1},
        {"inf", -1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t got = shopify_retry_after_ms(cases[i].value, strlen(cases[i].value));

        if (got != cases[i].ms) {
            fail_msg("\"%s\": %lld, want %lld", cases[i].value, (long long)got,
                     (long long)cases[i].ms);
        }
    }
}

static void
call_limit_reads_used_and_size(void **state)
{
    static const struct {
        const char *value;
        bool ok;
        int used, size;
    } cases[] = {
        {"1/40", true, 1, 40}, {"39/40", true, 39, 40}, {"400/400", true, 400, 400},
        {"0/10", true, 0, 10}, {"40", false, 0, 0},     {"a/40", false, 0, 0},
        {"1/0", false, 0, 0},  {"-1/40", false, 0, 0},  {"1/40x", false, 0, 0},
        {"", false, 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int used = -1, size = -1;
        bool ok = shopify_call_limit(cases[i].value, strlen(cases[i].value), &used, &size);

        if (ok != cases[i].ok) {
            fail_msg("\"%s\": %d", cases[i].value, ok);
        }
        if (ok) {
            assert_int_equal(used, cases[i].used);
            assert_int_equal(size, cases[i].size);
        }
    }
}

static void
failure_classes_have_names(void **state)
{
    (void)state;
    assert_string_equal(fetch_failure_name(FETCH_TIMEOUT), "timeout");
    assert_string_equal(fetch_failure_name(FETCH_REFUSED), "refused");
    assert_string_equal(fetch_failure_name(FETCH_BAD_DATA), "bad_data");
    assert_string_equal(fetch_failure_name((enum fetch_failure)99), "unknown");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retry_after_is_read_as_seconds),
        cmocka_unit_test(call_limit_reads_used_and_size),
        cmocka_unit_test(failure_classes_have_names),
    };
    return cmocka_run_group_tests_name("shopify", tests, NULL, NULL);
}
