/* SPDX-License-Identifier: MIT */
/* Unit tests: capped buffer and JSON string escaping. */
#include "helpers.h"

#include "retail/buf.h"

static void
appends_and_steals(void **state)
{
    struct buf b;
    size_t len = 0;
    char *data;

    (void)state;
    buf_init(&b, 1024);
    assert_int_equal(buf_append_str(&b, "abc"), RETAIL_OK);
    assert_int_equal(buf_appendf(&b, "-%d-", 42), RETAIL_OK);
    assert_int_equal(buf_append_int(&b, -7), RETAIL_OK);
    data = buf_steal(&b, &len);
    assert_string_equal(data, "abc-42--7");
    assert_int_equal(len, 9);
    assert_null(b.data);
    free(data);
    buf_deinit(&b);
}

static void
integers_are_written_in_decimal(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 1024);
    buf_append_int(&b, 0);
    buf_append_str(&b, " ");
    buf_append_int(&b, INT64_MIN);
    buf_append_str(&b, " ");
    buf_append_int(&b, INT64_MAX);
    buf_append_str(&b, " ");
    buf_append_uint(&b, UINT64_MAX);
    buf_append_str(&b, " ");
    buf_append_int(&b, -42);
    assert_string_equal(b.data, "0 -9223372036854775808 9223372036854775807 "
                                "18446744073709551615 -42");
    buf_deinit(&b);
}

static void
empty_buffer_steals_an_empty_string(void **state)
{
    struct buf b;
    size_t len = 99;
    char *data;

    (void)state;
    buf_init(&b, 16);
    data = buf_steal(&b, &len);
    assert_non_null(data);
    assert_string_equal(data, "");
    assert_int_equal(len, 0);
    free(data);
}

static void
cap_is_enforced_and_sticky(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 8);
    assert_int_equal(buf_append_str(&b, "12345678"), RETAIL_OK);
    assert_int_equal(buf_append_str(&b, "9"), RETAIL_ERR_LIMIT);
    /* Sticky: even a tiny later append fails, and steal refuses. */
    assert_int_equal(buf_append(&b, "", 0), RETAIL_ERR_LIMIT);
    assert_int_equal(buf_status(&b), RETAIL_ERR_LIMIT);
    assert_null(buf_steal(&b, NULL));
    buf_reset(&b);
    assert_int_equal(buf_status(&b), RETAIL_OK);
    assert_int_equal(buf_append_str(&b, "ok"), RETAIL_OK);
    buf_deinit(&b);
}

static void
appendf_respects_the_cap(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 10);
    assert_int_equal(buf_appendf(&b, "%s", "this is longer than ten"), RETAIL_ERR_LIMIT);
    assert_int_equal(b.len, 0);
    buf_deinit(&b);
}

static void
json_strings_are_escaped(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"plain", 5, "\"plain\""},
        {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
        {"line\nbreak\ttab\r", 15, "\"line\\nbreak\\ttab\\r\""},
        {"\x01\x1f", 2, "\"\\u0001\\u001f\""},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
         "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
        {"bad\xff", 4, "\"bad\xef\xbf\xbd\""},                           /* invalid byte */
        {"\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""},                 /* overlong '/' */
        {"\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* surrogate */
        {"cut\xe2\x82", 5, "\"cut\xef\xbf\xbd\xef\xbf\xbd\""},           /* truncated */
        {"nul\0x", 5, "\"nul\\u0000x\""},
        {"</script>", 9, "\"</script>\""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b;

        buf_init(&b, 256);
        assert_int_equal(buf_append_json_string(&b, cases[i].in, cases[i].len), RETAIL_OK);
        assert_string_equal(b.data, cases[i].out);
        /* Whatever the input, the output is valid JSON. */
        json_decref(parse_json(b.data, b.len));
        buf_deinit(&b);
    }
}

static void
json_string_respects_the_cap(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 6);
    assert_int_equal(buf_append_json_string(&b, "\x01\x01", 2), RETAIL_ERR_LIMIT);
    buf_deinit(&b);
}

static void
utf8_validation(void **state)
{
    (void)state;
    assert_true(utf8_valid("", 0));
    assert_true(utf8_valid("h\xc3\xa9llo", 6));
    assert_true(utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    assert_false(utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    assert_false(utf8_valid("\x80", 1));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_and_steals),
        cmocka_unit_test(integers_are_written_in_decimal),
        cmocka_unit_test(empty_buffer_steals_an_empty_string),
        cmocka_unit_test(cap_is_enforced_and_sticky),
        cmocka_unit_test(appendf_respects_the_cap),
        cmocka_unit_test(json_strings_are_escaped),
        cmocka_unit_test(json_string_respects_the_cap),
        cmocka_unit_test(utf8_validation),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
