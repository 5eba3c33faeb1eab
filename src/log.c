/* SPDX-License-Identifier: MIT */
/* Levelled logging to stderr, one write(2) per line. */
#include "retail/log.h"

#include "retail/clock.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static _Atomic int log_min_level = LOG_INFO;
static atomic_bool log_json;

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

/* The request being served by this thread, for its log lines. */
static _Thread_local const char *request_client_id;
static _Thread_local uint64_t request_number;
static uint32_t process_tag; /* tells this process's generated ids apart */

void
log_set_request(const char *client_id, uint64_t number)
{
    request_client_id = client_id;
    request_number = number;
}

void
log_set_json(bool json)
{
    atomic_store_explicit(&log_json, json, memory_order_relaxed);
}

/* Writes the request's id into out ("" when none). */
static void
request_id(char *out, size_t cap)
{
    if (request_client_id != NULL) {
        snprintf(out, cap, "%s", request_client_id);
    } else if (request_number != 0) {
        if (process_tag == 0) {
            process_tag = (uint32_t)getpid() ^ (uint32_t)clock_wall_ms();
        }
        snprintf(out, cap, "r%08x-%" PRIu64, process_tag, request_number);
    } else {
        out[0] = '\0';
    }
}

/* Appends text to line as the inside of a JSON string. */
static size_t
json_text(char *line, size_t at, size_t cap, const char *text)
{
    static const char hex[] = "0123456789abcdef";

    for (const unsigned char *p = (const unsigned char *)text; *p != '\0' && at + 7 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            line[at++] = '\\';
            line[at++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7F) {
            line[at++] = '\\';
            line[at++] = 'u';
            line[at++] = '0';
            line[at++] = '0';
            line[at++] = hex[*p >> 4];
            line[at++] = hex[*p & 0xF];
        } else {
            line[at++] = (char)*p;
        }
    }
    return at;
}

void
log_emit(enum log_level level, const char *event, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    char message[LOG_LINE_MAX];
    char when[CLOCK_ISO_MAX];
    char id[80];
    va_list ap;
    size_t len;
    int n;

    clock_format_iso(clock_wall_ms(), 1, when, sizeof(when));
    va_start(ap, fmt);
    n = vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (n < 0) {
        message[0] = '\0';
    }
    request_id(id, sizeof(id));
    if (atomic_load_explicit(&log_json, memory_order_relaxed)) {
        static const char *const names[] = {"debug", "info", "warn", "error"};

        len = (size_t)snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\",\"event\":\"",
                               when, names[level]);
        len = json_text(line, len, sizeof(line) - 64, event);
        len += (size_t)snprintf(line + len, sizeof(line) - len, "\",\"msg\":\"");
        len = json_text(line, len, sizeof(line) - 64, message);
        if (id[0] != '\0') {
            len += (size_t)snprintf(line + len, sizeof(line) - len, "\",\"request_id\":\"");
            len = json_text(line, len, sizeof(line) - 8, id);
        }
        len += (size_t)snprintf(line + len, sizeof(line) - len, "\"}");
    } else {
        n = snprintf(line, sizeof(line), "%s %-5s %s: %s%s%s%s", when, log_level_name(level), event,
                     message, id[0] != '\0' ? " [" : "", id, id[0] != '\0' ? "]" : "");
        len = n < 0 ? 0 : (size_t)n;
        if (len > sizeof(line) - 2) {
            len = sizeof(line) - 2; /* cut, keeping room for the newline */
        }
        /* One event, one line: text from upstream (error messages, headers)
         * cannot break a line or smuggle terminal escapes into it. */
        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)line[i] < 0x20 || line[i] == 0x7F) {
                line[i] = ' ';
            }
        }
    }
    if (len > sizeof(line) - 1) {
        len = sizeof(line) - 1;
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
