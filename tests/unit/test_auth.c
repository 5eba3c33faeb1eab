/* SPDX-License-Identifier: MIT */
/* Unit tests: API key checks. */
#include "helpers.h"

#include "retail/auth.h"

static void
checks_keys(void **state)
{
    char k1[] = "first-key-0123456789abcdef", k2[] = "second-key-XYZ", k3[] = "k";
    char *keys[] = {k1, k2, k3};
    struct auth *auth = auth_create(keys, 3);
    char longest[AUTH_KEY_SLOT + 1];
    static const struct {
        const char *presented;
        enum auth_result want;
    } cases[] = {
        {"first-key-0123456789abcdef", AUTH_OK},
        {"second-key-XYZ", AUTH_OK},
        {"k", AUTH_OK},
        {"first-key-0123456789abcdeF", AUTH_INVALID},  /* differs only at the end */
        {"first-key-0123456789abcde", AUTH_INVALID},   /* a prefix */
        {"first-key-0123456789abcdefX", AUTH_INVALID}, /* one byte longer */
        {"second-key-XYZsecond-key-XYZ", AUTH_INVALID},
        {"Second-key-XYZ", AUTH_INVALID},
        {"kk", AUTH_INVALID},
        {" k", AUTH_INVALID},
        {"", AUTH_MISSING},
    };

    (void)state;
    assert_non_null(auth);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum auth_result got = auth_check(auth, cases[i].presented, strlen(cases[i].presented));

        if (got != cases[i].want) {
            fail_msg("\"%s\": got %d, want %d", cases[i].presented, got, cases[i].want);
        }
    }
    assert_int_equal(auth_check(auth, NULL, 0), AUTH_MISSING);
    /* A key with an embedded NUL is not the key it starts with. */
    assert_int_equal(auth_check(auth, "k\0", 2), AUTH_INVALID);
    memset(longest, 'k', sizeof(longest));
    assert_int_equal(auth_check(auth, longest, sizeof(longest)), AUTH_INVALID);
    auth_unref(auth);
}

static void
keys_of_the_largest_size_work(void **state)
{
    char key[AUTH_KEY_SLOT + 1];
    char *keys[] = {key};
    struct auth *auth;

    (void)state;
    memset(key, 'Z', AUTH_KEY_SLOT);
    key[AUTH_KEY_SLOT] = '\0';
    auth = auth_create(keys, 1);
    assert_non_null(auth);
    assert_int_equal(auth_check(auth, key, AUTH_KEY_SLOT), AUTH_OK);
    key[AUTH_KEY_SLOT - 1] = 'Y';
    assert_int_equal(auth_check(auth, key, AUTH_KEY_SLOT), AUTH_INVALID);
    auth_unref(auth);
}

static void
refuses_keys_it_cannot_hold(void **state)
{
    char key[AUTH_KEY_SLOT + 2];
    char *too_long[] = {key};
    char nothing[] = "";
    char *empty[] = {nothing};

    (void)state;
    memset(key, 'a', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    assert_null(auth_create(too_long, 1));
    assert_null(auth_create(empty, 1));
    auth_unref(NULL);
}

static void
an_empty_key_set_accepts_nothing(void **state)
{
    struct auth *auth = auth_create(NULL, 0);

    (void)state;
    assert_non_null(auth);
    assert_int_equal(auth_check(auth, "anything", 8), AUTH_INVALID);
    auth_unref(auth);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checks_keys),
        cmocka_unit_test(keys_of_the_largest_size_work),
        cmocka_unit_test(refuses_keys_it_cannot_hold),
        cmocka_unit_test(an_empty_key_set_accepts_nothing),
    };
    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
