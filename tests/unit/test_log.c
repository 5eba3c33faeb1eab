/* SPDX-License-Identifier: MIT */
/* Unit tests: log lines, levels and rate limiting. */
#include "helpers.h"

#include "retail/log.h"

#include <jansson.h>
#include <unistd.h>

/* Runs fn with stderr sent to a temporary file; returns what was written. */
static char *
capture(void (*fn)(void))
{
    char path[] = "/tmp/retail-log-XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(STDERR_FILENO);
    char *text = calloc(1, 8192);
    ssize_t n;

    assert_true(fd >= 0 && saved >= 0 && text != NULL);
    dup2(fd, STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    n = read(fd, text, 8191);
    assert_true(n >= 0);
    close(fd);
    unlink(path);
    return text;
}

static void
write_some(void)
{
    log_set_level(LOG_INFO);
    log_debug("test", "hidden %d", 1);
    log_info("test", "shown %d", 2);
    log_warn("shopify", "header said \"%s\"", "evil\nINFO  forged: line\x1b[31m");
    log_set_level(LOG_ERROR);
    log_warn("test", "hidden too");
    log_error("test", "last");
}

static void
lines_have_time_level_event_and_one_line_each(void **state)
{
    char *text = capture(write_some);
    char *second;

    (void)state;
    assert_null(strstr(text, "hidden"));
    assert_non_null(strstr(text, " INFO  test: shown 2\n"));
    assert_non_null(strstr(text, " ERROR test: last\n"));
    /* Three lines: the newline and escape inside the message are blanked. */
    second = strchr(text, '\n') + 1;
    assert_non_null(
        strstr(second, " WARN  shopify: header said \"evil INFO  forged: line [31m\"\n"));
    assert_int_equal(text[4], '-');
    assert_int_equal(text[10], 'T');
    assert_int_equal(text[23], 'Z');
    {
        int lines = 0;

        for (char *p = text; *p != '\0'; p++) {
            lines += *p == '\n';
        }
        assert_int_equal(lines, 3);
    }
    free(text);
    log_set_level(LOG_INFO);
}

static void
write_long(void)
{
    char big[5000];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_info("test", "%s", big);
}

static void
long_lines_are_cut_but_end_with_a_newline(void **state)
{
    char *text = capture(write_long);
    size_t len = strlen(text);

    (void)state;
    assert_true(len <= 2048);
    assert_int_equal(text[len - 1], '\n');
    free(text);
}

static void
write_json(void)
{
    static const char bad_utf8[] = {'a', (char)0xC3, '(', (char)0xFF, (char)0xE2, (char)0x82, 0};
    char big[5000];
    struct log_field fields[] = {LOG_TEXT("path", "/v1/products?q=\"x\"\n"),
                                 LOG_NUMBER("status", 200), LOG_NUMBER("duration_us", -1)};

    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_set_json(true);
    log_set_level(LOG_INFO);
    log_info("test", "plain \"quoted\" \\ tab\t and \x01 control");
    log_info("test", "bytes %s end", bad_utf8);
    log_set_request("client-id-7", 1);
    log_info("test", "%s", big);
    log_set_request(NULL, 42);
    log_emit_fields(LOG_INFO, "access", fields, 3, "GET %s", "/v1/products");
    log_set_request(NULL, 0);
    log_set_json(false);
}

/* Every JSON line parses, whatever it carried, and has its fields. */
static void
json_lines_always_parse(void **state)
{
    char *text = capture(write_json);
    char *line = text;
    int count = 0;

    (void)state;
    while (*line != '\0') {
        char *end = strchr(line, '\n');
        json_error_t error;
        json_t *obj;
        const char *msg;

        assert_non_null(end);
        *end = '\0';
        obj = json_loads(line, 0, &error);
        if (obj == NULL) {
            fail_msg("line %d does not parse (%s): %s", count + 1, error.text, line);
        }
        assert_string_equal(json_string_value(json_object_get(obj, "level")), "info");
        assert_non_null(json_string_value(json_object_get(obj, "time")));
        msg = json_string_value(json_object_get(obj, "msg"));
        assert_non_null(msg);
        switch (count) {
        case 0:
            assert_string_equal(msg, "plain \"quoted\" \\ tab\t and \x01 control");
            assert_null(json_object_get(obj, "request_id"));
            break;
        case 1:
            assert_string_equal(msg,
                                "bytes a\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD end");
            break;
        case 2:
            assert_true(strlen(msg) > 1000 && strlen(msg) < 2048);
            assert_string_equal(json_string_value(json_object_get(obj, "request_id")),
                                "client-id-7");
            break;
        case 3: {
            json_t *f = json_object_get(obj, "fields");

            assert_string_equal(json_string_value(json_object_get(obj, "event")), "access");
            assert_non_null(strstr(json_string_value(json_object_get(obj, "request_id")), "-42"));
            assert_string_equal(json_string_value(json_object_get(f, "path")),
                                "/v1/products?q=\"x\"\n");
            assert_int_equal(json_integer_value(json_object_get(f, "status")), 200);
            assert_int_equal(json_integer_value(json_object_get(f, "duration_us")), -1);
            break;
        }
        default:
            fail_msg("one line too many: %s", line);
        }
        json_decref(obj);
        count++;
        line = end + 1;
    }
    assert_int_equal(count, 4);
    free(text);
}

static void
write_fields_text(void)
{
    struct log_field fields[] = {LOG_TEXT("route", "products"), LOG_NUMBER("status", 404)};

    log_set_request("abc", 1);
    log_emit_fields(LOG_INFO, "access", fields, 2, "GET %s", "/x\ny");
    log_set_request(NULL, 0);
}

static void
text_lines_show_fields_after_the_message(void **state)
{
    char *text = capture(write_fields_text);

    (void)state;
    assert_non_null(strstr(text, " INFO  access: GET /x y route=products status=404 [abc]\n"));
    free(text);
}

static void
levels_parse(void **state)
{
    enum log_level level;

    (void)state;
    assert_true(log_level_parse("debug", &level));
    assert_int_equal(level, LOG_DEBUG);
    assert_true(log_level_parse("error", &level));
    assert_int_equal(level, LOG_ERROR);
    assert_false(log_level_parse("DEBUG", &level));
    assert_false(log_level_parse("", &level));
    assert_string_equal(log_level_name(LOG_WARN), "WARN");
}

static void
the_rate_limit_lets_one_through_and_counts_the_rest(void **state)
{
    struct log_ratelimit limit = {0, 0};
    uint64_t suppressed = 99;

    (void)state;
    assert_true(log_ratelimit_allow(&limit, 60000, &suppressed));
    assert_int_equal(suppressed, 0);
    for (int i = 0; i < 5; i++) {
        assert_false(log_ratelimit_allow(&limit, 60000, &suppressed));
    }
    /* Pretend the interval has passed. */
    limit.next_ms = 0;
    assert_true(log_ratelimit_allow(&limit, 60000, &suppressed));
    assert_int_equal(suppressed, 5);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_have_time_level_event_and_one_line_each),
        cmocka_unit_test(long_lines_are_cut_but_end_with_a_newline),
        cmocka_unit_test(json_lines_always_parse),
        cmocka_unit_test(text_lines_show_fields_after_the_message),
        cmocka_unit_test(levels_parse),
        cmocka_unit_test(the_rate_limit_lets_one_through_and_counts_the_rest),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
