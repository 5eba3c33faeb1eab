/* SPDX-License-Identifier: MIT */
/* Unit tests: catalog building, indexes, pages, lookup, serialisation. */
#include "helpers.h"

#include "retail/catalog.h"

/* A catalog of n answer-shaped products, ids 1000+i, categories rotating
 * through Boards/boots/BOARDS (one category in three spellings) and Hats. */
static struct catalog *
make_catalog(size_t n, size_t *duplicates)
{
    static const char *const categories[] = {"Boards", "boots", "BOARDS", "Hats"};
    struct catalog_builder *b = catalog_builder_create(1 << 24);
    char err[256];

    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        char id[32];
        json_t *p;

        snprintf(id, sizeof(id), "%zu", 1000 + i);
        p = json_pack("{s:s, s:s, s:s, s:f}", "id", id, "title", "product", "category",
                      categories[i % 4], "price", 9.5);
        assert_int_equal(catalog_builder_add_answer(b, p, err, sizeof(err)), RETAIL_OK);
        json_decref(p);
    }
    return catalog_builder_finish(b, CATALOG_ORIGIN_SHOPIFY, 1700000000000LL, duplicates);
}

static json_t *
render(const struct catalog *c, uint64_t offset, uint32_t limit, const char *category)
{
    struct catalog_page page = {offset, limit, offset / limit + 1, category,
                                category != NULL ? strlen(category) : 0};
    struct buf out;
    json_t *parsed;

    buf_init(&out, 1 << 24);
    assert_int_equal(catalog_render_page(c, &page, "cache", &out), RETAIL_OK);
    parsed = parse_json(out.data, out.len);
    buf_deinit(&out);
    return parsed;
}

static const char *
id_at(const json_t *answer, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(answer, "products"), i), "id"));
}

static void
pages_cover_every_product_once(void **state)
{
    struct catalog *c = make_catalog(1003, NULL);
    char seen[1003] = {0};

    (void)state;
    assert_int_equal(catalog_count(c), 1003);
    for (uint64_t offset = 0;; offset += 100) {
        json_t *page = render(c, offset, 100, NULL);
        const json_t *products = json_object_get(page, "products");
        bool has_next = json_is_true(json_object_get(page, "has_next"));

        assert_int_equal(json_integer_value(json_object_get(page, "total")), 1003);
        assert_int_equal(json_integer_value(json_object_get(page, "limit")), 100);
        assert_int_equal(json_integer_value(json_object_get(page, "page")), offset / 100 + 1);
        assert_string_equal(json_string_value(json_object_get(page, "source")), "cache");
        for (size_t i = 0; i < json_array_size(products); i++) {
            long id = strtol(id_at(page, i), NULL, 10) - 1000;

            assert_true(id >= 0 && id < 1003);
            assert_int_equal(seen[id], 0);
            seen[id] = 1;
        }
        json_decref(page);
        if (!has_next) {
            break;
        }
    }
    for (size_t i = 0; i < 1003; i++) {
        assert_int_equal(seen[i], 1);
    }
    catalog_unref(c);
}

static void
pages_past_the_end_are_empty(void **state)
{
    struct catalog *c = make_catalog(5, NULL);
    json_t *page = render(c, 5, 10, NULL);

    (void)state;
    assert_int_equal(json_array_size(json_object_get(page, "products")), 0);
    assert_false(json_is_true(json_object_get(page, "has_next")));
    assert_int_equal(json_integer_value(json_object_get(page, "total")), 5);
    json_decref(page);
    page = render(c, 1000000000000ULL, 250, NULL);
    assert_int_equal(json_array_size(json_object_get(page, "products")), 0);
    json_decref(page);
    page = render(c, 3, 2, NULL);
    assert_int_equal(json_array_size(json_object_get(page, "products")), 2);
    assert_false(json_is_true(json_object_get(page, "has_next")));
    assert_string_equal(id_at(page, 0), "1003");
    json_decref(page);
    catalog_unref(c);
}

static void
categories_match_ignoring_case_in_catalog_order(void **state)
{
    struct catalog *c = make_catalog(40, NULL);
    json_t *page;

    (void)state;
    page = render(c, 0, 250, "boards");
    /* Boards and BOARDS are one category: 20 products, in catalog order. */
    assert_int_equal(json_integer_value(json_object_get(page, "total")), 20);
    assert_string_equal(id_at(page, 0), "1000");
    assert_string_equal(id_at(page, 1), "1002");
    assert_string_equal(id_at(page, 2), "1004");
    json_decref(page);
    page = render(c, 2, 3, "BoOtS");
    assert_int_equal(json_integer_value(json_object_get(page, "total")), 10);
    assert_string_equal(id_at(page, 0), "1009");
    assert_true(json_is_true(json_object_get(page, "has_next")));
    json_decref(page);
    page = render(c, 0, 10, "Board");
    assert_int_equal(json_integer_value(json_object_get(page, "total")), 0);
    json_decref(page);
    page = render(c, 0, 10, "");
    assert_int_equal(json_integer_value(json_object_get(page, "total")), 40);
    json_decref(page);
    catalog_unref(c);
}

static void
finds_products_by_id(void **state)
{
    struct catalog *c = make_catalog(300, NULL);
    struct buf out;

    (void)state;
    buf_init(&out, 1 << 20);
    for (size_t i = 0; i < 300; i += 37) {
        char id[32];
        json_t *answer;

        snprintf(id, sizeof(id), "%zu", 1000 + i);
        buf_reset(&out);
        assert_int_equal(catalog_render_product(c, id, &out), RETAIL_OK);
        answer = parse_json(out.data, out.len);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(answer, "product"), "id")), id);
        json_decref(answer);
    }
    buf_reset(&out);
    assert_int_equal(catalog_render_product(c, "999", &out), RETAIL_ERR_NOT_FOUND);
    assert_int_equal(catalog_render_product(c, "10001", &out), RETAIL_ERR_NOT_FOUND);
    assert_int_equal(catalog_render_product(c, "", &out), RETAIL_ERR_NOT_FOUND);
    buf_deinit(&out);
    catalog_unref(c);
}

static void
repeated_ids_keep_the_first(void **state)
{
    struct catalog_builder *b = catalog_builder_create(1 << 20);
    const char *titles[] = {"first", "second", "other", "third"};
    const char *ids[] = {"7", "7", "8", "7"};
    struct catalog *c;
    size_t duplicates = 0;
    json_t *page;
    char err[256];

    (void)state;
    for (int i = 0; i < 4; i++) {
        json_t *p = json_pack("{s:s, s:s}", "id", ids[i], "title", titles[i]);

        assert_int_equal(catalog_builder_add_answer(b, p, err, sizeof(err)), RETAIL_OK);
        json_decref(p);
    }
    assert_int_equal(catalog_builder_count(b), 4);
    c = catalog_builder_finish(b, CATALOG_ORIGIN_SHOPIFY, 0, &duplicates);
    assert_int_equal(duplicates, 2);
    assert_int_equal(catalog_count(c), 2);
    page = render(c, 0, 10, NULL);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(page, "products"), 0), "title")),
                        "first");
    assert_string_equal(id_at(page, 1), "8");
    json_decref(page);
    catalog_unref(c);
}

static void
an_invalid_product_leaves_the_builder_unchanged(void **state)
{
    struct catalog_builder *b = catalog_builder_create(1 << 20);
    json_t *bad = json_pack("{s:s}", "title", "no id");
    struct catalog *c;

    (void)state;
    assert_int_equal(catalog_builder_add_shopify(b, bad, NULL), RETAIL_ERR_INVALID);
    assert_int_equal(catalog_builder_count(b), 0);
    c = catalog_builder_finish(b, CATALOG_ORIGIN_SHOPIFY, 0, NULL);
    assert_non_null(c);
    assert_int_equal(catalog_count(c), 0);
    assert_int_equal(catalog_bytes(c), 0);
    json_decref(bad);
    catalog_unref(c);
}

static void
the_size_cap_fails_the_build(void **state)
{
    struct catalog_builder *b = catalog_builder_create(64);
    json_t *p = json_pack("{s:s, s:s}", "id", "1", "title", "a title that will not fit in 64");
    char err[256];

    (void)state;
    assert_int_equal(catalog_builder_add_answer(b, p, err, sizeof(err)), RETAIL_ERR_LIMIT);
    assert_null(catalog_builder_finish(b, CATALOG_ORIGIN_SHOPIFY, 0, NULL));
    json_decref(p);
}

static void
serialisation_round_trips_the_same_bytes(void **state)
{
    json_t *root = load_fixture("shopify/rest/products_list_2026-07.json");
    struct catalog_builder *b = catalog_builder_create(1 << 20);
    struct catalog *c, *back;
    struct buf stored, before, after;
    struct catalog_page page = {0, 250, 1, NULL, 0};
    char err[256];

    (void)state;
    assert_int_equal(
        catalog_builder_add_shopify(b, json_array_get(json_object_get(root, "products"), 0), "USD"),
        RETAIL_OK);
    assert_int_equal(
        catalog_builder_add_shopify(b, json_array_get(json_object_get(root, "products"), 1), "USD"),
        RETAIL_OK);
    c = catalog_builder_finish(b, CATALOG_ORIGIN_SHOPIFY, 1733000000123LL, NULL);
    buf_init(&stored, 1 << 20);
    buf_init(&before, 1 << 20);
    buf_init(&after, 1 << 20);
    assert_int_equal(catalog_serialize(c, &stored), RETAIL_OK);
    back = catalog_deserialize(stored.data, stored.len, 1 << 20, err, sizeof(err));
    assert_non_null(back);
    assert_int_equal(catalog_origin(back), CATALOG_ORIGIN_STORE);
    assert_int_equal(catalog_fetched_at_ms(back), 1733000000123LL);
    assert_int_equal(catalog_count(back), 2);
    assert_int_equal(catalog_render_page(c, &page, "cache", &before), RETAIL_OK);
    assert_int_equal(catalog_render_page(back, &page, "cache", &after), RETAIL_OK);
    assert_int_equal(before.len, after.len);
    assert_memory_equal(before.data, after.data, before.len); /* 199.00 stays 199.00 */
    assert_non_null(strstr(after.data, "\"price\":199.00"));
    catalog_unref(c);
    catalog_unref(back);
    buf_deinit(&stored);
    buf_deinit(&before);
    buf_deinit(&after);
    json_decref(root);
}

static void
corrupt_stored_catalogs_are_refused(void **state)
{
    static const struct {
        const char *data;
        const char *expect;
    } cases[] = {
        {"", "not a catalog"},
        {"RETAIL-CATALOG 2\n", "not a catalog"},
        {"RETAIL-CATALOG 1\nfetched_at_ms x\n", "bad header"},
        {"RETAIL-CATALOG 1\nfetched_at_ms 1\nproducts 2\n4\n{\"a\"}\n", "product 1"},
        {"RETAIL-CATALOG 1\nfetched_at_ms 1\nproducts 1\n99\n{}\n", "truncated"},
        {"RETAIL-CATALOG 1\nfetched_at_ms 1\nproducts 1\n11\n{\"id\":\"12\"}\n", NULL},
        {"RETAIL-CATALOG 1\nfetched_at_ms 1\nproducts 1\n11\n{\"id\":\"13\"}X", "truncated"},
        {"RETAIL-CATALOG 1\nfetched_at_ms 1\nproducts 1\n11\n{\"id\":\"12\"}\nextra", "trailing"},
        /* The id inside must be the one the bytes start with. */
        {"RETAIL-CATALOG 1\nfetched_at_ms 1\nproducts 1\n21\n{\"x\":1,\"id\":\"12345\"}\n",
         "product 1"},
        {"RETAIL-CATALOG 1\nfetched_at_ms 1\nproducts 999999\n", "truncated"},
        {"RETAIL-CATALOG 1\nfetched_at_ms 1\nproducts 99999999999\n", "bad header"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        struct catalog *c =
            catalog_deserialize(cases[i].data, strlen(cases[i].data), 1 << 20, err, sizeof(err));

        if (cases[i].expect == NULL) {
            assert_non_null(c);
            catalog_unref(c);
            continue;
        }
        if (c != NULL) {
            fail_msg("case %zu accepted", i);
        }
        if (strstr(err, cases[i].expect) == NULL) {
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].expect);
        }
    }
}

static void
references_keep_a_catalog_alive(void **state)
{
    struct catalog *c = make_catalog(3, NULL);
    struct catalog *again = catalog_ref(c);

    (void)state;
    assert_ptr_equal(again, c);
    catalog_unref(c);
    assert_int_equal(catalog_count(again), 3); /* still valid: one reference left */
    catalog_unref(again);
    catalog_unref(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pages_cover_every_product_once),
        cmocka_unit_test(pages_past_the_end_are_empty),
        cmocka_unit_test(categories_match_ignoring_case_in_catalog_order),
        cmocka_unit_test(finds_products_by_id),
        cmocka_unit_test(repeated_ids_keep_the_first),
        cmocka_unit_test(an_invalid_product_leaves_the_builder_unchanged),
        cmocka_unit_test(the_size_cap_fails_the_build),
        cmocka_unit_test(serialisation_round_trips_the_same_bytes),
        cmocka_unit_test(corrupt_stored_catalogs_are_refused),
        cmocka_unit_test(references_keep_a_catalog_alive),
    };
    return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
