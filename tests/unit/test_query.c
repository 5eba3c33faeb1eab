/* SPDX-License-Identifier: MIT */
/* Unit tests: parsing of the /v1/products query parameters. */
#include "helpers.h"

#include "retail/query.h"

/* Feeds "a=1&b=2" to the parser the way the HTTP layer does (already
 * split; a parameter without '=' has a NULL value). */
static int
parse(const char *text, struct products_query *q, char *storage, struct query_error *err)
{
    char *save = NULL;
    char *part;

    query_products_init(q);
    snprintf(storage, 256, "%s", text);
    for (part = strtok_r(storage, "&", &save); part != NULL; part = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(part, '=');
        const char *value = NULL;
        int rc;

        if (eq != NULL) {
            *eq = '\0';
            value = eq + 1;
        }
        rc = query_products_add(q, part, value, value != NULL ? strlen(value) : 0, err);
        if (rc != RETAIL_OK) {
            return rc;
        }
    }
    query_products_finish(q);
    return RETAIL_OK;
}

static void
valid_queries(void **state)
{
    static const struct {
        const char *query;
        uint32_t limit;
        uint64_t page, offset;
        const char *category;
    } cases[] = {
        {"", 10, 1, 0, NULL},
        {"limit=5", 5, 1, 0, NULL},
        {"limit=1", 1, 1, 0, NULL},
        {"limit=250", 250, 1, 0, NULL},
        {"limit=005", 5, 1, 0, NULL},
        {"page=3&limit=20", 20, 3, 40, NULL},
        {"offset=45&limit=10", 10, 5, 45, NULL},
        {"offset=0", 10, 1, 0, NULL},
        {"page=9&offset=3&limit=2", 2, 2, 3, NULL}, /* offset overrides page */
        {"page=1000000000&limit=250", 250, 1000000000, 249999999750ULL, NULL},
        {"category=Snowboard", 10, 1, 0, "Snowboard"},
        {"category=", 10, 1, 0, ""},
        {"unknown=1&sort=price&limit=7", 7, 1, 0, NULL},
        {"unknown=1&unknown=2", 10, 1, 0, NULL}, /* unknown repeats are ignored too */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct products_query q;
        struct query_error err = {NULL, NULL};
        char storage[256];

        if (parse(cases[i].query, &q, storage, &err) != RETAIL_OK) {
            fail_msg("case \"%s\" refused: %s", cases[i].query, err.detail);
        }
        assert_int_equal(q.limit, cases[i].limit);
        assert_int_equal(q.page, cases[i].page);
        assert_int_equal(q.offset, cases[i].offset);
        if (cases[i].category == NULL) {
            assert_null(q.category);
        } else {
            assert_int_equal(q.category_len, strlen(cases[i].category));
            assert_memory_equal(q.category, cases[i].category, q.category_len);
        }
    }
}

static void
invalid_queries_name_the_parameter(void **state)
{
    static const struct {
        const char *query;
        const char *param;
    } cases[] = {
        {"limit=0", "limit"},
        {"limit=251", "limit"},
        {"limit=-1", "limit"},
        {"limit=+5", "limit"},
        {"limit=5.0", "limit"},
        {"limit=1e2", "limit"},
        {"limit=abc", "limit"},
        {"limit=", "limit"},
        {"limit", "limit"},
        {"limit= 5", "limit"},
        {"limit=5 ", "limit"},
        {"limit=0x10", "limit"},
        {"limit=99999999999999999999", "limit"},
        {"limit=5&limit=6", "limit"},
        {"limit=5&limit=5", "limit"},
        {"page=0", "page"},
        {"page=-3", "page"},
        {"page=1.5", "page"},
        {"page=1000000001", "page"},
        {"page=18446744073709551617", "page"},
        {"page=1&page=2", "page"},
        {"offset=-1", "offset"},
        {"offset=1000000000001", "offset"},
        {"offset=abc", "offset"},
        {"offset=1&offset=1", "offset"},
        {"category=a&category=b", "category"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct products_query q;
        struct query_error err = {NULL, NULL};
        char storage[256];

        if (parse(cases[i].query, &q, storage, &err) != RETAIL_ERR_INVALID) {
            fail_msg("case \"%s\" accepted", cases[i].query);
        }
        assert_string_equal(err.param, cases[i].param);
        assert_non_null(err.detail);
        /* The detail names the parameter too, for people reading it alone. */
        assert_non_null(strstr(err.detail, cases[i].param));
    }
}

static void
overlong_category_is_refused(void **state)
{
    struct products_query q;
    struct query_error err;
    char category[QUERY_CATEGORY_MAX + 2];

    (void)state;
    memset(category, 'a', sizeof(category) - 1);
    category[sizeof(category) - 1] = '\0';
    query_products_init(&q);
    assert_int_equal(query_products_add(&q, "category", category, strlen(category), &err),
                     RETAIL_ERR_INVALID);
    assert_string_equal(err.param, "category");
    query_products_init(&q);
    assert_int_equal(query_products_add(&q, "category", category, QUERY_CATEGORY_MAX, &err),
                     RETAIL_OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_queries),
        cmocka_unit_test(invalid_queries_name_the_parameter),
        cmocka_unit_test(overlong_category_is_refused),
    };
    return cmocka_run_group_tests_name("query", tests, NULL, NULL);
}
