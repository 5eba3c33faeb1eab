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

#define LOG_LINE_MAX 2048 /* a text line, newline included */
/* A JSON line is built from pieces with budgets small enough that the
 * object always closes: time and level, event, message, request id, and
 * LOG_FIELDS_MAX fields of a name and a value. */
#define JSON_EVENT_MAX 64
#define JSON_MESSAGE_MAX 1536
#define JSON_ID_MAX 400
#define JSON_NAME_MAX 64
#define JSON_VALUE_MAX 256
#define JSON_LINE_MAX                                                                              \
    (128 + JSON_EVENT_MAX + JSON_MESSAGE_MAX + JSON_ID_MAX +                                       \
     LOG_FIELDS_MAX * (JSON_NAME_MAX + JSON_VALUE_MAX + 8))

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

/* A line being built; appends stop quietly at the end of the buffer (the
 * line is cut, keeping room for what closes it). */
struct line {
    char text[JSON_LINE_MAX];
    size_t len;
    size_t limit; /* appends stop here */
};

static void __attribute__((format(printf, 2, 3))) line_printf(struct line *l, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (l->len >= l->limit) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(l->text + l->len, l->limit - l->len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        l->len += (size_t)n < l->limit - l->len ? (size_t)n : l->limit - l->len - 1;
    }
}

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0 if it is not one. */
static size_t
utf8_sequence(const unsigned char *p)
{
    size_t need;
    unsigned min;
    unsigned cp;

    if (p[0] < 0x80) {
        return 1;
    }
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        need = 2, min = 0x80, cp = p[0] & 0x1Fu;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        need = 3, min = 0x800, cp = p[0] & 0x0Fu;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        need = 4, min = 0x10000, cp = p[0] & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return 0; /* also stops at the terminating NUL */
        }
        cp = cp << 6 | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return need;
}

/* Appends text as the inside of a JSON string, in at most budget bytes:
 * quotes, backslashes and control characters escaped, bytes that are not
 * UTF-8 replaced by U+FFFD, so that every line parses whatever upstream
 * sent. */
static void
line_json_text(struct line *l, const char *text, size_t budget)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)text;
    size_t end = l->len + budget < l->limit ? l->len + budget : l->limit;

    while (*p != '\0' && l->len + 6 <= end) {
        size_t n = utf8_sequence(p);

        if (n == 0) {
            memcpy(l->text + l->len, "\\ufffd", 6);
            l->len += 6;
            p++;
        } else if (n > 1) {
            if (l->len + n > end) {
                break;
            }
            memcpy(l->text + l->len, p, n);
            l->len += n;
            p += n;
        } else if (*p == '"' || *p == '\\') {
            l->text[l->len++] = '\\';
            l->text[l->len++] = (char)*p++;
        } else if (*p < 0x20 || *p == 0x7F) {
            memcpy(l->text + l->len, "\\u00", 4);
            l->text[l->len + 4] = hex[*p >> 4];
            l->text[l->len + 5] = hex[*p & 0xF];
            l->len += 6;
            p++;
        } else {
            l->text[l->len++] = (char)*p++;
        }
    }
}

static void
line_json(struct line *l, const char *when, enum log_level level, const char *event,
          const char *message, const char *id, const struct log_field *fields, size_t count)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};

    line_printf(l, "{\"time\":\"%s\",\"level\":\"%s\",\"event\":\"", when, names[level]);
    line_json_text(l, event, JSON_EVENT_MAX);
    line_printf(l, "\",\"msg\":\"");
    line_json_text(l, message, JSON_MESSAGE_MAX);
    line_printf(l, "\"");
    if (id[0] != '\0') {
        line_printf(l, ",\"request_id\":\"");
        line_json_text(l, id, JSON_ID_MAX);
        line_printf(l, "\"");
    }
    if (count > LOG_FIELDS_MAX) {
        count = LOG_FIELDS_MAX;
    }
    if (count > 0) {
        line_printf(l, ",\"fields\":{");
        for (size_t i = 0; i < count; i++) {
            line_printf(l, "%s\"", i > 0 ? "," : "");
            line_json_text(l, fields[i].name, JSON_NAME_MAX);
            if (fields[i].text != NULL) {
                line_printf(l, "\":\"");
                line_json_text(l, fields[i].text, JSON_VALUE_MAX);
                line_printf(l, "\"");
            } else {
                line_printf(l, "\":%" PRId64, fields[i].number);
            }
        }
        line_printf(l, "}");
    }
    line_printf(l, "}");
}

static void
line_plain(struct line *l, const char *when, enum log_level level, const char *event,
           const char *message, const char *id, const struct log_field *fields, size_t count)
{
    line_printf(l, "%s %-5s %s: %s", when, log_level_name(level), event, message);
    for (size_t i = 0; i < count && i < LOG_FIELDS_MAX; i++) {
        if (fields[i].text != NULL) {
            line_printf(l, " %s=%s", fields[i].name, fields[i].text);
        } else {
            line_printf(l, " %s=%" PRId64, fields[i].name, fields[i].number);
        }
    }
    if (id[0] != '\0') {
        line_printf(l, " [%s]", id);
    }
    /* One event, one line: text from upstream (error messages, headers)
     * cannot break a line or smuggle terminal escapes into it. */
    for (size_t i = 0; i < l->len; i++) {
        if ((unsigned char)l->text[i] < 0x20 || l->text[i] == 0x7F) {
            l->text[i] = ' ';
        }
    }
}

static void __attribute__((format(printf, 5, 0)))
emit(enum log_level level, const char *event, const struct log_field *fields, size_t count,
     const char *fmt, va_list ap)
{
    struct line l;
    char message[LOG_LINE_MAX];
    char when[CLOCK_ISO_MAX];
    char id[80];
    bool json = atomic_load_explicit(&log_json, memory_order_relaxed);

    clock_format_iso(clock_wall_ms(), 1, when, sizeof(when));
    if (vsnprintf(message, sizeof(message), fmt, ap) < 0) {
        message[0] = '\0';
    }
    request_id(id, sizeof(id));
    l.len = 0;
    /* Room kept for the newline; a JSON line's pieces have budgets that
     * fit, so it is never cut in the middle. */
    l.limit = (json ? sizeof(l.text) : LOG_LINE_MAX) - 1;
    if (json) {
        line_json(&l, when, level, event, message, id, fields, count);
    } else {
        line_plain(&l, when, level, event, message, id, fields, count);
    }
    l.text[l.len++] = '\n';
    /* One write so that concurrent lines do not interleave; a failed write
     * to stderr has nowhere better to be reported. */
    if (write(STDERR_FILENO, l.text, l.len) < 0) {
        return;
    }
}

void
log_emit(enum log_level level, const char *event, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emit(level, event, NULL, 0, fmt, ap);
    va_end(ap);
}

void
log_emit_fields(enum log_level level, const char *event, const struct log_field *fields,
                size_t count, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emit(level, event, fields, count, fmt, ap);
    va_end(ap);
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
