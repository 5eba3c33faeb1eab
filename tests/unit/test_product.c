/* SPDX-License-Identifier: MIT */
/* Unit tests: Shopify-to-product mapping on real Shopify payloads, and the
 * answer-shape validation used for the fallback file. */
#include "helpers.h"

#include "retail/product.h"

/* Maps src and returns the parsed answer (*new*); key receives the index. */
static json_t *
map_shopify(const json_t *src, const char *currency, struct product_key *key)
{
    struct buf out;
    json_t *parsed;

    buf_init(&out, 1 << 20);
    assert_int_equal(product_from_shopify(src, currency, &out, key), RETAIL_OK);
    parsed = parse_json(out.data, out.len);
    buf_deinit(&out);
    return parsed;
}

/* The raw text of the mapped product, for checks on exact number text. */
static char *
map_shopify_text(const json_t *src)
{
    struct buf out;
    struct product_key key;

    buf_init(&out, 1 << 20);
    assert_int_equal(product_from_shopify(src, NULL, &out, &key), RETAIL_OK);
    return buf_steal(&out, NULL);
}

static void
maps_the_2026_07_products_list(void **state)
{
    json_t *root = load_fixture("shopify/rest/products_list_2026-07.json");
    const json_t *products = json_object_get(root, "products");
    struct product_key key;
    json_t *nano, *touch, *variants;
    char *text;

    (void)state;
    nano = map_shopify(json_array_get(products, 0), NULL, &key);
    assert_string_equal(key.id, "632910392");
    assert_string_equal(key.category, "Cult Products");
    assert_string_equal(json_string_value(json_object_get(nano, "id")), "632910392");
    assert_string_equal(json_string_value(json_object_get(nano, "title")), "IPod Nano - 8GB");
    assert_string_equal(json_string_value(json_object_get(nano, "handle")), "ipod-nano");
    assert_string_equal(json_string_value(json_object_get(nano, "vendor")), "Apple");
    assert_string_equal(json_string_value(json_object_get(nano, "category")), "Cult Products");
    assert_string_equal(json_string_value(json_object_get(nano, "status")), "active");
    assert_true(strncmp(json_string_value(json_object_get(nano, "description")),
                        "<p>It's the small iPod", 22) == 0);
    assert_int_equal(json_array_size(json_object_get(nano, "tags")), 4);
    assert_string_equal(json_string_value(json_array_get(json_object_get(nano, "tags"), 1)),
                        "Flash Memory");
    assert_string_equal(json_string_value(json_object_get(nano, "currency")), "USD");
    assert_string_equal(
        json_string_value(json_object_get(nano, "image_url")),
        "https://cdn.shopify.com/s/files/1/0005/4838/0009/products/ipod-nano.png?v=1735835399");
    assert_true(json_is_true(json_object_get(nano, "in_stock")));
    assert_int_equal(json_integer_value(json_object_get(nano, "inventory_quantity")), 100);
    assert_true(json_is_null(json_object_get(nano, "compare_at_price")));
    variants = json_object_get(nano, "variants");
    assert_int_equal(json_array_size(variants), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(variants, 0), "id")),
                        "808950810");
    assert_string_equal(json_string_value(json_object_get(json_array_get(variants, 3), "sku")),
                        "IPOD2008BLACK");
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(variants, 2), "inventory_quantity")), 30);
    /* Prices keep Shopify's decimal text exactly. */
    text = map_shopify_text(json_array_get(products, 0));
    assert_non_null(strstr(text, "\"price\":199.00,\"compare_at_price\":null"));
    free(text);

    touch = map_shopify(json_array_get(products, 1), NULL, &key);
    assert_string_equal(key.id, "921728736");
    assert_true(json_is_null(json_object_get(touch, "image_url")));
    assert_int_equal(json_array_size(json_object_get(touch, "variants")), 1);
    json_decref(nano);
    json_decref(touch);
    json_decref(root);
}

static void
maps_go_shopify_product_with_escapes_and_untracked_stock(void **state)
{
    json_t *root = load_fixture("shopify/rest/go_shopify_product.json");
    struct product_key key;
    json_t *p = map_shopify(json_object_get(root, "product"), "EUR", &key);
    const json_t *tags = json_object_get(p, "tags");
    char *text;

    (void)state;
    assert_string_equal(json_string_value(json_object_get(p, "description")),
                        "<strong>Good snowboard!</strong>");
    assert_int_equal(json_array_size(tags), 3);
    assert_string_equal(json_string_value(json_array_get(tags, 0)), "\"Big Air\"");
    assert_string_equal(json_string_value(json_array_get(tags, 1)), "Barnes & Noble");
    assert_string_equal(json_string_value(json_array_get(tags, 2)), "John's Fav");
    assert_true(json_is_null(json_object_get(p, "image_url")));
    /* inventory_management null means Shopify does not track stock. */
    assert_true(json_is_true(json_object_get(p, "in_stock")));
    assert_string_equal(json_string_value(json_object_get(p, "currency")), "EUR");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(p, "variants"), 0), "sku")),
                        "");
    text = map_shopify_text(json_object_get(root, "product"));
    assert_non_null(strstr(text, "\"price\":0.00,"));
    free(text);
    json_decref(p);
    json_decref(root);
}

static void
maps_2011_products_without_status(void **state)
{
    json_t *root = load_fixture("shopify/rest/python_api_products.json");
    size_t i;
    const json_t *src;

    (void)state;
    assert_true(json_is_array(root));
    json_array_foreach(root, i, src)
    {
        struct product_key key;
        json_t *p = map_shopify(src, NULL, &key);

        assert_string_equal(json_string_value(json_object_get(p, "status")), "active");
        assert_true(json_array_size(json_object_get(p, "variants")) > 0);
        json_decref(p);
    }
    json_decref(root);
}

static void
maps_degraded_collection_products(void **state)
{
    json_t *root = load_fixture("shopify/rest/gem_v9_collection_products.json");
    const json_t *products = json_object_get(root, "products");
    size_t i;
    const json_t *src;

    (void)state;
    json_array_foreach(products, i, src)
    {
        struct product_key key;
        json_t *p = map_shopify(src, NULL, &key);

        /* No variants: no price, no stock, but a valid product. */
        assert_true(json_is_null(json_object_get(p, "price")));
        assert_int_equal(json_integer_value(json_object_get(p, "inventory_quantity")), 0);
        assert_false(json_is_true(json_object_get(p, "in_stock")));
        assert_int_equal(json_array_size(json_object_get(p, "variants")), 0);
        assert_true(json_is_array(json_object_get(p, "tags")));
        json_decref(p);
    }
    json_decref(root);
}

static void
price_is_the_lowest_variant_price_written_exactly(void **state)
{
    json_t *src = json_pack(
        "{s:I, s:s, s:[{s:I, s:s, s:s, s:I}, {s:I, s:s, s:s, s:I}, {s:I, s:s, s:s, s:I}]}", "id",
        (json_int_t)9007199254740993LL, "title", "Exact", "variants", "id", (json_int_t)1, "price",
        "29.99", "compare_at_price", "39.99", "inventory_quantity", (json_int_t)2, "id",
        (json_int_t)2, "price", "19.90", "compare_at_price", "24.90", "inventory_quantity",
        (json_int_t)-1, "id", (json_int_t)3, "price", "100.00", "compare_at_price", "oops",
        "inventory_quantity", (json_int_t)0);
    char *text;

    (void)state;
    text = map_shopify_text(src);
    /* Ids past 2^53 survive as strings. */
    assert_non_null(strstr(text, "{\"id\":\"9007199254740993\""));
    assert_non_null(strstr(text, "\"price\":19.90,\"compare_at_price\":24.90,"));
    assert_non_null(strstr(text, "\"inventory_quantity\":1,\"variants\""));
    assert_non_null(strstr(text, "{\"id\":\"1\",\"title\":\"\",\"sku\":null,\"price\":29.99,"));
    json_decref(parse_json(text, strlen(text)));
    free(text);
    json_decref(src);
}

static void
prices_that_are_not_decimals_are_null(void **state)
{
    static const char *const bad[] = {"abc",
                                      "1e5",
                                      "01.5",
                                      "1.",
                                      ".5",
                                      "+1",
                                      " 1",
                                      "1,00",
                                      "NaN",
                                      "0x10",
                                      "12345678901234567890123456789012345678901",
                                      "1000000000000000",
                                      "-1000000000000000.5"};
    static const char *const good[] = {
        "0", "0.00", "19.99", "-1.5", "1000000", "999999999999999.99", "-999999999999999"};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (product_price_valid(bad[i])) {
            fail_msg("\"%s\" accepted as a price", bad[i]);
        }
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_true(product_price_valid(good[i]));
    }
}

static void
ids_are_checked(void **state)
{
    static const struct {
        const char *json;
        const char *want; /* NULL: refused */
    } cases[] = {
        {"632910392", "632910392"},
        {"\"632910392\"", "632910392"},
        {"\"gid://shopify/Product/632910392\"", "632910392"},
        {"9223372036854775807", "9223372036854775807"},
        {"0", NULL},
        {"-5", NULL},
        {"1.5", NULL},
        {"\"\"", NULL},
        {"\"12a\"", NULL},
        {"\"007\"", NULL},
        {"null", NULL},
        {"[1]", NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *id = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
        char out[PRODUCT_ID_MAX];
        bool ok;

        assert_non_null(id);
        ok = product_id_text(id, out);
        if (cases[i].want == NULL) {
            assert_false(ok);
        } else {
            assert_true(ok);
            assert_string_equal(out, cases[i].want);
        }
        json_decref(id);
    }
}

static void
products_without_a_usable_id_are_refused(void **state)
{
    static const char *const cases[] = {"{\"title\":\"no id\"}", "{\"id\":null}", "[]", "\"x\"",
                                        "{\"id\":-1}"};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *src = json_loads(cases[i], JSON_DECODE_ANY, NULL);
        struct buf out;
        struct product_key key;

        buf_init(&out, 4096);
        assert_int_equal(product_from_shopify(src, NULL, &out, &key), RETAIL_ERR_INVALID);
        assert_int_equal(out.len, 0);
        buf_deinit(&out);
        json_decref(src);
    }
}

/* Negative prices, even "-0", and numbers JSON cannot hold are null. */
static void
hostile_prices_are_null(void **state)
{
    static const char *const prices[] = {"\"-0\"", "\"-0.00\"", "\"-5.00\"", "\"1e309\"", "-3",
                                         "-0.0", "\"Infinity\"", "\"\"", "{}", "[1]", "true",
                                         /* 10^15 and up: not read back exactly */
                                         "1000000000000000", "\"1000000000000000.00\"",
                                         "8888888888888888888888888888880.99", "1e300"};

    (void)state;
    for (size_t i = 0; i < sizeof(prices) / sizeof(prices[0]); i++) {
        char text[256];
        json_t *src, *mapped;

        snprintf(text, sizeof(text), "{\"id\":7,\"variants\":[{\"id\":1,\"price\":%s}]}",
                 prices[i]);
        src = json_loads(text, 0, NULL);
        assert_non_null(src);
        mapped = map_shopify(src, NULL, &(struct product_key){0});
        if (!json_is_null(json_object_get(mapped, "price"))) {
            fail_msg("price %s was kept", prices[i]);
        }
        json_decref(mapped);
        json_decref(src);
    }
}

/* Oversized fields make the product unusable instead of the answers huge. */
static void
oversized_fields_are_refused(void **state)
{
    static const struct {
        const char *field;
        size_t len;
        bool fits;
    } cases[] = {
        {"title", PRODUCT_TEXT_MAX, true},
        {"title", PRODUCT_TEXT_MAX + 1, false},
        {"vendor", 100000, false},
        {"body_html", PRODUCT_DESCRIPTION_MAX, true},
        {"body_html", PRODUCT_DESCRIPTION_MAX + 1, false},
        {"tags", 20 * 1024 * 1024, false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *big = malloc(cases[i].len + 1);
        json_t *src = json_pack("{s:i}", "id", 9);
        struct product_key key;
        struct buf out;

        memset(big, 'x', cases[i].len);
        big[cases[i].len] = '\0';
        json_object_set_new(src, cases[i].field, json_string(big));
        buf_init(&out, 64 * 1024 * 1024);
        assert_int_equal(product_from_shopify(src, NULL, &out, &key),
                         cases[i].fits ? RETAIL_OK : RETAIL_ERR_INVALID);
        buf_deinit(&out);
        json_decref(src);
        free(big);
    }
    {
        /* 251 tags: one too many. */
        struct buf tags;
        json_t *src;
        struct product_key key;
        struct buf out;

        buf_init(&tags, 1 << 20);
        for (int t = 0; t < 251; t++) {
            assert_int_equal(buf_appendf(&tags, "%st%d", t > 0 ? "," : "", t), RETAIL_OK);
        }
        assert_int_equal(buf_append(&tags, "", 1), RETAIL_OK);
        src = json_pack("{s:i, s:s}", "id", 9, "tags", tags.data);
        buf_init(&out, 1 << 20);
        assert_int_equal(product_from_shopify(src, NULL, &out, &key), RETAIL_ERR_INVALID);
        buf_deinit(&out);
        buf_deinit(&tags);
        json_decref(src);
    }
}

static void
wrong_types_from_shopify_do_not_crash(void **state)
{
    json_t *src = json_loads("{\"id\":5,\"title\":7,\"tags\":[\"a\"],\"variants\":{\"x\":1},"
                             "\"image\":\"str\",\"images\":[null],\"product_type\":false,"
                             "\"body_html\":null}",
                             0, NULL);
    struct product_key key;
    json_t *p;

    (void)state;
    assert_non_null(src);
    p = map_shopify(src, NULL, &key);
    assert_string_equal(json_string_value(json_object_get(p, "title")), "");
    assert_int_equal(json_array_size(json_object_get(p, "tags")), 0);
    assert_true(json_is_null(json_object_get(p, "image_url")));
    assert_null(key.category);
    json_decref(p);
    json_decref(src);
}

static void
answer_shape_round_trips_byte_for_byte(void **state)
{
    json_t *root = load_fixture("shopify/rest/products_list_2026-07.json");
    struct product_key key;
    struct buf first, second;
    json_t *mapped;
    char err[256];

    (void)state;
    buf_init(&first, 1 << 20);
    buf_init(&second, 1 << 20);
    assert_int_equal(product_from_shopify(json_array_get(json_object_get(root, "products"), 0),
                                          NULL, &first, &key),
                     RETAIL_OK);
    mapped = parse_json(first.data, first.len);
    /* Reading an answer back gives the same bytes, but for the decimal
     * text of prices, which a JSON parser cannot keep: 199.00 -> 199. */
    assert_int_equal(product_from_answer(mapped, &second, &key, err, sizeof(err)), RETAIL_OK);
    assert_non_null(strstr(second.data, "\"price\":199,"));
    json_decref(mapped);
    json_decref(root);
    buf_deinit(&first);
    buf_deinit(&second);
}

/* json_equal, except that 30.0 and 30 are the same number. */
static bool
same_values(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        return json_number_value(a) == json_number_value(b);
    }
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b)) {
            return false;
        }
        for (size_t i = 0; i < json_array_size(a); i++) {
            if (!same_values(json_array_get(a, i), json_array_get(b, i))) {
                return false;
            }
        }
        return true;
    }
    if (json_is_object(a) && json_is_object(b)) {
        const char *key;
        const json_t *value;

        if (json_object_size(a) != json_object_size(b)) {
            return false;
        }
        json_object_foreach((json_t *)(uintptr_t)a, key, value)
        {
            if (!same_values(value, json_object_get(b, key))) {
                return false;
            }
        }
        return true;
    }
    return json_equal(a, b);
}

static void
the_shipped_fallback_file_is_valid(void **state)
{
    json_error_t error;
    json_t *root = json_load_file(SOURCE_DIR "/config/fallback_products.json", 0, &error);
    size_t i;
    const json_t *src;

    (void)state;
    assert_non_null(root);
    assert_true(json_array_size(root) >= 90);
    json_array_foreach(root, i, src)
    {
        struct buf out;
        struct product_key key;
        char err[256] = "";
        json_t *again;

        buf_init(&out, 1 << 20);
        if (product_from_answer(src, &out, &key, err, sizeof(err)) != RETAIL_OK) {
            fail_msg("fallback product %zu: %s", i, err);
        }
        /* Canonical form: all fields present, same values. */
        again = parse_json(out.data, out.len);
        assert_true(json_equal(json_object_get(again, "id"), json_object_get(src, "id")));
        assert_true(json_equal(json_object_get(again, "tags"), json_object_get(src, "tags")));
        assert_true(
            same_values(json_object_get(again, "variants"), json_object_get(src, "variants")));
        assert_true(same_values(json_object_get(again, "price"), json_object_get(src, "price")));
        json_decref(again);
        buf_deinit(&out);
    }
    json_decref(root);
}

static void
answer_shape_errors_name_the_field(void **state)
{
    static const struct {
        const char *json;
        const char *expect;
    } cases[] = {
        {"{\"title\":\"x\"}", "numeric \"id\""},
        {"{\"id\":\"1\"}", "\"title\" is required"},
        {"{\"id\":\"1\",\"title\":5}", "\"title\" must be a string"},
        {"{\"id\":\"1\",\"title\":\"t\",\"tags\":\"a,b\"}", "\"tags\" must be an array"},
        {"{\"id\":\"1\",\"title\":\"t\",\"tags\":[1]}", "\"tags\" must be an array"},
        {"{\"id\":\"1\",\"title\":\"t\",\"price\":\"abc\"}", "\"price\" must be"},
        {"{\"id\":\"1\",\"title\":\"t\",\"price\":-3}", "\"price\" must be"},
        {"{\"id\":\"1\",\"title\":\"t\",\"price\":1e15}", "\"price\" must be"},
        {"{\"id\":\"1\",\"title\":\"t\",\"in_stock\":\"yes\"}", "\"in_stock\""},
        {"{\"id\":\"1\",\"title\":\"t\",\"inventory_quantity\":1.5}", "\"inventory_quantity\""},
        {"{\"id\":\"1\",\"title\":\"t\",\"variants\":{}}", "\"variants\" must be an array"},
        {"{\"id\":\"1\",\"title\":\"t\",\"variants\":[{\"title\":\"v\"}]}", "variant 1"},
        {"{\"id\":\"1\",\"title\":\"t\",\"variants\":[{\"id\":\"2\",\"price\":{}}]}",
         "variant 1: \"price\""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *src = json_loads(cases[i].json, 0, NULL);
        struct buf out;
        struct product_key key;
        char err[256] = "";

        assert_non_null(src);
        buf_init(&out, 4096);
        assert_int_equal(product_from_answer(src, &out, &key, err, sizeof(err)),
                         RETAIL_ERR_INVALID);
        if (strstr(err, cases[i].expect) == NULL) {
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].expect);
        }
        buf_deinit(&out);
        json_decref(src);
    }
}

static void
answer_prices_use_the_shortest_text(void **state)
{
    static const struct {
        const char *json;
        const char *want;
    } cases[] = {
        {"29.99", "\"price\":29.99,"},     {"30.0", "\"price\":30,"},
        {"30", "\"price\":30,"},           {"0.1", "\"price\":0.1,"},
        {"\"19.90\"", "\"price\":19.90,"}, {"999999999999999.9", "\"price\":999999999999999.9,"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[128];
        json_t *src;
        struct buf out;
        struct product_key key;
        char err[256];

        snprintf(text, sizeof(text), "{\"id\":\"1\",\"title\":\"t\",\"price\":%s}", cases[i].json);
        src = json_loads(text, 0, NULL);
        buf_init(&out, 4096);
        assert_int_equal(product_from_answer(src, &out, &key, err, sizeof(err)), RETAIL_OK);
        if (strstr(out.data, cases[i].want) == NULL) {
            fail_msg("%s gave %s", cases[i].json, out.data);
        }
        buf_deinit(&out);
        json_decref(src);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(maps_the_2026_07_products_list),
        cmocka_unit_test(maps_go_shopify_product_with_escapes_and_untracked_stock),
        cmocka_unit_test(maps_2011_products_without_status),
        cmocka_unit_test(maps_degraded_collection_products),
        cmocka_unit_test(price_is_the_lowest_variant_price_written_exactly),
        cmocka_unit_test(prices_that_are_not_decimals_are_null),
        cmocka_unit_test(ids_are_checked),
        cmocka_unit_test(products_without_a_usable_id_are_refused),
        cmocka_unit_test(wrong_types_from_shopify_do_not_crash),
        cmocka_unit_test(hostile_prices_are_null),
        cmocka_unit_test(oversized_fields_are_refused),
        cmocka_unit_test(answer_shape_round_trips_byte_for_byte),
        cmocka_unit_test(the_shipped_fallback_file_is_valid),
        cmocka_unit_test(answer_shape_errors_name_the_field),
        cmocka_unit_test(answer_prices_use_the_shortest_text),
    };
    return cmocka_run_group_tests_name("product", tests, NULL, NULL);
}
