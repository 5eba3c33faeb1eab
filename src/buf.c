/* SPDX-License-Identifier: MIT */
/* Growable capped buffer and JSON string escaping. */
#include "retail/buf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->status = RETAIL_OK;
}

void
buf_deinit(struct buf *b)
{
    free(b->data);
    buf_init(b, b->max);
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
    b->status = RETAIL_OK;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

static int
buf_fail(struct buf *b, int status)
{
    if (b->status == RETAIL_OK) {
        b->status = status;
    }
    return b->status;
}

int
buf_reserve(struct buf *b, size_t extra)
{
    size_t need, cap;
    char *grown;

    if (b->status != RETAIL_OK) {
        return b->status;
    }
    if (extra > b->max || b->len > b->max - extra) {
        return buf_fail(b, RETAIL_ERR_LIMIT);
    }
    need = b->len + extra + 1; /* room for the terminator */
    if (need <= b->cap) {
        return RETAIL_OK;
    }
    cap = b->cap < 256 ? 256 : b->cap;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    if (cap > b->max + 1) {
        cap = b->max + 1;
    }
    grown = realloc(b->data, cap);
    if (grown == NULL) {
        return buf_fail(b, RETAIL_ERR_NOMEM);
    }
    b->data = grown;
    b->cap = cap;
    return RETAIL_OK;
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
    int rc = buf_reserve(b, len);

    if (rc != RETAIL_OK) {
        return rc;
    }
    if (len > 0) {
        memcpy(b->data + b->len, data, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
    return RETAIL_OK;
}

int
buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int
buf_appendf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    int rc;

    if (b->status != RETAIL_OK) {
        return b->status;
    }
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return buf_fail(b, RETAIL_ERR_INVALID);
    }
    rc = buf_reserve(b, (size_t)n);
    if (rc != RETAIL_OK) {
        return rc;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return RETAIL_OK;
}

int
buf_append_uint(struct buf *b, uint64_t value)
{
    char digits[24];
    size_t n = sizeof(digits);

    do {
        digits[--n] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    return buf_append(b, digits + n, sizeof(digits) - n);
}

int
buf_append_int(struct buf *b, int64_t value)
{
    if (value < 0) {
        buf_append(b, "-", 1);
        return buf_append_uint(b, (uint64_t)0 - (uint64_t)value);
    }
    return buf_append_uint(b, (uint64_t)value);
}

/* Length of the valid UTF-8 sequence at s (at most avail bytes), or 0. */
static size_t
utf8_sequence(const unsigned char *s, size_t avail)
{
    uint32_t cp;
    size_t n, i;

    if (s[0] < 0x80) {
        return 1;
    } else if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2;
        cp = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        cp = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (avail < n) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return n;
}

bool
utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t n = utf8_sequence(p + i, len - i);

        if (n == 0) {
            return false;
        }
        i += n;
    }
    return true;
}

int
buf_append_json_string(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;

    /* Worst case is six bytes per input byte; reserving it up front keeps
     * the loop free of checks, and the cap still bounds it. */
    if (buf_reserve(b, len + 2) != RETAIL_OK) {
        return b->status;
    }
    buf_append(b, "\"", 1);
    while (i < len) {
        unsigned char c = p[i];
        size_t n;

        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            run++;
            continue;
        }
        buf_append(b, p + i - run, run);
        run = 0;
        if (c >= 0x80) {
            n = utf8_sequence(p + i, len - i);
            if (n == 0) {
                buf_append(b, "\xEF\xBF\xBD", 3); /* U+FFFD */
                i++;
            } else {
                buf_append(b, p + i, n);
                i += n;
            }
            continue;
        }
        switch (c) {
        case '"':
            buf_append(b, "\\\"", 2);
            break;
        case '\\':
            buf_append(b, "\\\\", 2);
            break;
        case '\n':
            buf_append(b, "\\n", 2);
            break;
        case '\r':
            buf_append(b, "\\r", 2);
            break;
        case '\t':
            buf_append(b, "\\t", 2);
            break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};

            buf_append(b, esc, sizeof(esc));
            break;
        }
        }
        i++;
    }
    buf_append(b, p + i - run, run);
    return buf_append(b, "\"", 1);
}

char *
buf_steal(struct buf *b, size_t *len)
{
    char *data;

    if (b->status != RETAIL_OK) {
        return NULL;
    }
    if (b->data == NULL && buf_reserve(b, 0) != RETAIL_OK) {
        return NULL;
    }
    b->data[b->len] = '\0';
    data = b->data;
    if (len != NULL) {
        *len = b->len;
    }
    buf_init(b, b->max);
    return data;
}
