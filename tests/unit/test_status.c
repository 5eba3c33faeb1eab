/* SPDX-License-Identifier: MIT */
/* Unit tests: status messages. */
#include "helpers.h"

#include "retail/status.h"

static void
every_status_has_a_distinct_message(void **state)
{
    const char *seen[16];
    int n = 0;

    (void)state;
    for (int s = RETAIL_OK; s >= RETAIL_ERR_CANCELLED; s--) {
        const char *msg = retail_status_str(s);

        assert_non_null(msg);
        assert_true(strlen(msg) > 0);
        assert_string_not_equal(msg, "unknown status");
        for (int i = 0; i < n; i++) {
            assert_string_not_equal(seen[i], msg);
        }
        seen[n++] = msg;
    }
}

static void
unknown_status_says_so(void **state)
{
    (void)state;
    assert_string_equal(retail_status_str(-999), "unknown status");
    assert_string_equal(retail_status_str(7), "unknown status");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_status_has_a_distinct_message),
        cmocka_unit_test(unknown_status_says_so),
    };
    return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
