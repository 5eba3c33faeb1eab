/* SPDX-License-Identifier: MIT */
/* Levelled logging to stderr, one write(2) per line. */
#include "retail/log.h"

#include "retail/clock.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static _Atomic int log_min_level = LOG_INFO;

void
log_set_level(enum log_level level)
{
    atomic_store_explicit(&log_min_level, (int)level, memory_order_relaxed);
}

bool
log_enabled(enum log_level level)
{
    return (int)level >= atomic_load_explicit(&log_min_level, memory_order_relaxed);
}

bool
log_level_parse(const char *text, enum log_level *level)
{
    static const struct {
        const char *name;
        enum log_level level;
    } names[] = {
        {"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN}, {"error", LOG_ERROR}};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(text, names[i].name) == 0) {
            *level = names[i].level;
            return true;
        }
    }
    return false;
}

const char *
log_level_name(enum log_level level)
{
    switch (level) {
    case LOG_DEBUG:
        return "DEBUG";
    case LOG_INFO:
        return "INFO";
    case LOG_WARN:
        return "WARN";
    case LOG_ERROR:
        return "ERROR";
    }
    return "?";
}

void
log_emit(enum log_level level, const char *event, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    char when[CLOCK_ISO_MAX];
    va_list ap;
    int head, body;
    size_t len;

    clock_format_iso(clock_wall_ms(), 1, when, sizeof(when));
    head = snprintf(line, sizeof(line), "%s %-5s %s: ", when, log_level_name(level), event);
    if (head < 0) {
        return;
    }
    va_start(ap, fmt);
    body = vsnprintf(line + head, sizeof(line) - (size_t)head, fmt, ap);
    va_end(ap);
    if (body < 0) {
        body = 0;
    }
    len = (size_t)head + (size_t)body;
    if (len > sizeof(line) - 2) {
        len = sizeof(line) - 2; /* cut, keeping room for the newline */
    }
    /* One event, one line: text from upstream (error messages, headers)
     * cannot break a line or smuggle terminal escapes into it. */
    for (size_t i = (size_t)head; i < len; i++) {
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7F) {
            line[i] = ' ';
        }
    }
    line[len++] = '\n';
    /* One write so that concurrent lines do not interleave; a failed write
     * to stderr has nowhere better to be reported. */
    if (write(STDERR_FILENO, line, len) < 0) {
        return;
    }
}

bool
log_ratelimit_allow(struct log_ratelimit *limit, int64_t interval_ms, uint64_t *suppressed)
{
    int64_t now = clock_mono_ms();
    int64_t next = atomic_load_explicit(&limit->next_ms, memory_order_relaxed);

    if (now < next || !atomic_compare_exchange_strong(&limit->next_ms, &next, now + interval_ms)) {
        atomic_fetch_add_explicit(&limit->suppressed, 1, memory_order_relaxed);
        return false;
    }
    *suppressed = atomic_exchange_explicit(&limit->suppressed, 0, memory_order_relaxed);
    return true;
}
