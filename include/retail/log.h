/* SPDX-License-Identifier: MIT */
/* Levelled, line-oriented logging to stderr.
 *
 * Threads: every function may be called from any thread. Each line is
 * written with one write(2), so lines from different threads never
 * interleave. The level is checked before any formatting happens.
 * Never pass a secret (API key, token, password) to these functions. */
#ifndef RETAIL_LOG_H
#define RETAIL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO = 1,
    LOG_WARN = 2,
    LOG_ERROR = 3,
};

/* Sets the lowest level that is written (default LOG_INFO). */
void log_set_level(enum log_level level);

/* Writes lines as JSON objects instead of text: {"time", "level",
 * "event", "msg", "request_id" (when serving a request), "fields" (when
 * given)}. Every line is valid JSON in UTF-8 whatever the message holds:
 * long pieces are cut, bytes that are not UTF-8 become U+FFFD. */
void log_set_json(bool json);

/* The request this thread is serving, for the lines it logs: an id given
 * by the client (NUL-terminated, *borrowed* until the next call), or NULL
 * with a number the log turns into an id ("r<process>-<number>") only if
 * a line is written. log_set_request(NULL, 0) ends it. */
void log_set_request(const char *client_id, uint64_t number);

/* True if a line at level would be written. */
bool log_enabled(enum log_level level);

/* Parses "debug", "info", "warn" or "error"; returns false for anything else. */
bool log_level_parse(const char *text, enum log_level *level);

/* Name of a level, upper case ("INFO"). */
const char *log_level_name(enum log_level level);

/* Writes one line: time, level, event (a short tag such as "startup"), the
 * formatted message, and the id of the request being served, if any.
 * Text lines longer than 2 KiB are cut. Prefer the macros, which skip
 * formatting when the level is off. */
void log_emit(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A named value on a line, for machines: text, or a number when text is
 * NULL. Text lines show them as " name=value" after the message; JSON
 * lines as the object "fields". At most LOG_FIELDS_MAX per line. */
struct log_field {
    const char *name;
    const char *text;
    int64_t number;
};
#define LOG_FIELDS_MAX 8
#define LOG_TEXT(n, t) ((struct log_field){(n), (t), 0})
#define LOG_NUMBER(n, v) ((struct log_field){(n), NULL, (int64_t)(v)})

/* log_emit with fields (the caller checks log_enabled first). */
void log_emit_fields(enum log_level level, const char *event, const struct log_field *fields,
                     size_t count, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define log_at(level, ...)                                                                         \
    do {                                                                                           \
        if (log_enabled(level)) {                                                                  \
            log_emit(level, __VA_ARGS__);                                                          \
        }                                                                                          \
    } while (0)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)

/* Lets one line through per interval, so that a flood of the same event
 * (the fallback served under load, say) does not flood the log. Zero it
 * before use; it needs no destruction. */
struct log_ratelimit {
    _Atomic int64_t next_ms;
    _Atomic uint64_t suppressed;
};

/* True when the caller may log now; *suppressed then receives how many
 * events were refused since the last one let through. */
bool log_ratelimit_allow(struct log_ratelimit *limit, int64_t interval_ms, uint64_t *suppressed);

#endif
