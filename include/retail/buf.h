/* SPDX-License-Identifier: MIT */
/* A growable byte buffer with a hard cap, and JSON text helpers on it.
 *
 * Errors are sticky: once an append fails (allocation failure, or the cap
 * would be passed) every later append is refused and buf_status() reports
 * the first failure, so a writer may chain appends and check once.
 * The struct is owned by the caller (buf_init / buf_deinit); a buffer is
 * used by one thread at a time. */
#ifndef RETAIL_BUF_H
#define RETAIL_BUF_H

#include "retail/status.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    char *data; /* NUL-terminated when len > 0; NULL before the first append */
    size_t len; /* bytes written, not counting the terminator */
    size_t cap; /* bytes allocated */
    size_t max; /* the most len may reach */
    int status; /* RETAIL_OK, or the first failure */
};

/* Starts an empty buffer that may hold up to max bytes. */
void buf_init(struct buf *b, size_t max);

/* Frees the contents; the buffer may be initialised again. */
void buf_deinit(struct buf *b);

/* Empties the buffer and clears a sticky error, keeping the allocation. */
void buf_reset(struct buf *b);

/* RETAIL_OK or the first failure since init or reset. */
static inline int
buf_status(const struct buf *b)
{
    return b->status;
}

/* Makes room for extra more bytes. */
int buf_reserve(struct buf *b, size_t extra) RETAIL_WUR;

/* Appends bytes, a NUL-terminated string, or a printf-style text.
 * Each returns RETAIL_OK, RETAIL_ERR_NOMEM or RETAIL_ERR_LIMIT (sticky). */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s (len bytes) as a quoted JSON string. Control characters,
 * quotes and backslashes are escaped; bytes that are not valid UTF-8 are
 * replaced by U+FFFD, so the output is always valid JSON. */
int buf_append_json_string(struct buf *b, const char *s, size_t len);

/* Appends a signed or unsigned integer in decimal. */
int buf_append_int(struct buf *b, int64_t value);
int buf_append_uint(struct buf *b, uint64_t value);

/* Hands the contents to the caller: *new*, free with free(). Returns NULL
 * (and leaves the buffer as it was) if the buffer holds an error; an empty
 * buffer yields an empty, allocated string. The buffer is empty afterwards. */
char *buf_steal(struct buf *b, size_t *len);

/* True if s (len bytes) is valid UTF-8 without overlong forms or surrogates. */
bool utf8_valid(const char *s, size_t len);

#endif
