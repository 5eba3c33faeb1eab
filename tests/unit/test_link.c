/* SPDX-License-Identifier: MIT */
/* Unit tests: Link header parsing for Shopify's cursor pagination. */
#include "helpers.h"

#include "retail/link.h"

#define BASE "https://s.myshopify.com/admin/api/2026-10/products.json?limit=250"

static void
finds_next_page_info(void **state)
{
    static const struct {
        const char *header;
        int rc;
        const char *page_info;
    } cases[] = {
        /* Shopify's own shapes: next only, and previous then next. */
        {"<" BASE "&page_info=eyJsYXN0X2lkIjo0fQ>; rel=\"next\"", RETAIL_OK, "eyJsYXN0X2lkIjo0fQ"},
        {"<" BASE "&page_info=prev1>; rel=\"previous\", <" BASE "&page_info=next2>; rel=\"next\"",
         RETAIL_OK, "next2"},
        {"<" BASE "&page_info=next2>; rel=\"next\", <" BASE "&page_info=prev1>; rel=\"previous\"",
         RETAIL_OK, "next2"},
        /* page_info first, unquoted rel, odd spacing, upper case. */
        {"<https://x/p.json?page_info=abc-_.~%3D&limit=250>;rel=next", RETAIL_OK, "abc-_.~%3D"},
        {"  <" BASE "&page_info=a1> ;  REL = \"NEXT\"  ", RETAIL_OK, "a1"},
        {"<" BASE "&page_info=z9>; rel=\"next last\"", RETAIL_OK, "z9"},
        {"<" BASE "&page_info=t>; title=\"a;b,c\"; rel=\"next\"", RETAIL_OK, "t"},
        /* The last page: no next link. */
        {"<" BASE "&page_info=prev1>; rel=\"previous\"", RETAIL_ERR_NOT_FOUND, NULL},
        {"", RETAIL_ERR_NOT_FOUND, NULL},
        {"<" BASE "&page_info=q>; rel=\"nextish\"", RETAIL_ERR_NOT_FOUND, NULL},
        /* Malformed or unsafe. */
        {"https://x/p.json?page_info=a; rel=\"next\"", RETAIL_ERR_PARSE, NULL},
        {"<https://x/p.json?page_info=a; rel=\"next\"", RETAIL_ERR_PARSE, NULL},
        {"<https://x/p.json?limit=250>; rel=\"next\"", RETAIL_ERR_PARSE, NULL},
        {"<https://x/p.json>; rel=\"next\"", RETAIL_ERR_PARSE, NULL},
        {"<https://x/p.json?page_info=>; rel=\"next\"", RETAIL_ERR_PARSE, NULL},
        {"<https://x/p.json?page_info=a b>; rel=\"next\"", RETAIL_ERR_PARSE, NULL},
        {"<https://x/p.json?page_info=a\"b>; rel=\"next\"", RETAIL_ERR_PARSE, NULL},
        {"<https://x/p.json?page_info=a/../b>; rel=\"next\"", RETAIL_ERR_PARSE, NULL},
        {"<https://x/p.json?page_info=a>; rel=\"next", RETAIL_ERR_PARSE, NULL},
        {"<https://x/p.json?page_info=a> garbage", RETAIL_ERR_PARSE, NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[LINK_PAGE_INFO_MAX] = "untouched";
        int rc = link_next_page_info(cases[i].header, strlen(cases[i].header), out, sizeof(out));

        if (rc != cases[i].rc) {
            fail_msg("case %zu (%s): rc %d, want %d", i, cases[i].header, rc, cases[i].rc);
        }
        if (cases[i].page_info != NULL) {
            assert_string_equal(out, cases[i].page_info);
        }
    }
}

static void
overlong_page_info_is_refused(void **state)
{
    char header[4096];
    char out[16];

    (void)state;
    snprintf(header, sizeof(header), "<https://x/p.json?page_info=%s>; rel=\"next\"",
             "0123456789abcdef0123");
    assert_int_equal(link_next_page_info(header, strlen(header), out, sizeof(out)),
                     RETAIL_ERR_PARSE);
}

static void
only_len_bytes_are_read(void **state)
{
    const char *header = "<https://x/p.json?page_info=abc>; rel=\"next\"TRAILING";
    char out[64];

    (void)state;
    assert_int_equal(link_next_page_info(header, strlen(header) - 8, out, sizeof(out)), RETAIL_OK);
    assert_string_equal(out, "abc");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_next_page_info),
        cmocka_unit_test(overlong_page_info_is_refused),
        cmocka_unit_test(only_len_bytes_are_read),
    };
    return cmocka_run_group_tests_name("link", tests, NULL, NULL);
}
