/* SPDX-License-Identifier: MIT */
/* Unit tests: log lines, levels and rate limiting. */
#include "helpers.h"

#include "retail/log.h"

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
        cmocka_unit_test(levels_parse),
        cmocka_unit_test(the_rate_limit_lets_one_through_and_counts_the_rest),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
