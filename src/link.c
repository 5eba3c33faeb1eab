/* SPDX-License-Identifier: MIT */
/* RFC 8288 Link header parsing, as much as Shopify's pagination needs. */
#include "retail/link.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool
page_info_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '~' || c == '%' || c == '-';
}

/* True if a rel value (quoted or not, possibly several space-separated
 * relation types) includes "next". */
static bool
rel_has_next(const char *value, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t start;

        while (i < len && (is_blank(value[i]) || value[i] == '"')) {
            i++;
        }
        start = i;
        while (i < len && !is_blank(value[i]) && value[i] != '"') {
            i++;
        }
        if (i - start == 4 && strncasecmp(value + start, "next", 4) == 0) {
            return true;
        }
    }
    return false;
}

/* Copies page_info from the query of uri (len bytes). */
static int
extract_page_info(const char *uri, size_t len, char *out, size_t cap)
{
    const char *query = memchr(uri, '?', len);
    const char *end = uri + len;
    const char *p;

    if (query == NULL) {
        return RETAIL_ERR_PARSE;
    }
    p = query + 1;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp != NULL ? amp : end;

        if ((size_t)(stop - p) > 10 && memcmp(p, "page_info=", 10) == 0) {
            size_t n = (size_t)(stop - p) - 10;

            if (n == 0 || n >= cap) {
                return RETAIL_ERR_PARSE;
            }
            for (size_t i = 0; i < n; i++) {
                if (!page_info_char(p[10 + i])) {
                    return RETAIL_ERR_PARSE;
                }
            }
            memcpy(out, p + 10, n);
            out[n] = '\0';
            return RETAIL_OK;
        }
        p = stop + 1;
    }
    return RETAIL_ERR_PARSE;
}

int
link_next_page_info(const char *header, size_t len, char *out, size_t cap)
{
    size_t i = 0;

    while (i < len) {
        size_t uri_start, uri_end;
        bool next = false;

        while (i < len && (is_blank(header[i]) || header[i] == ',')) {
            i++;
        }
        if (i == len) {
            break;
        }
        if (header[i] != '<') {
            return RETAIL_ERR_PARSE;
        }
        uri_start = ++i;
        while (i < len && header[i] != '>') {
            i++;
        }
        if (i == len) {
            return RETAIL_ERR_PARSE;
        }
        uri_end = i++;
        /* Parameters: ; name=value or ; name="value", up to the next link. */
        while (i < len && header[i] != ',') {
            size_t name, name_end, value, value_end;

            while (i < len && is_blank(header[i])) {
                i++;
            }
            if (i == len || header[i] == ',') {
                break;
            }
            if (header[i] != ';') {
                return RETAIL_ERR_PARSE;
            }
            i++;
            while (i < len && is_blank(header[i])) {
                i++;
            }
            name = i;
            while (i < len && header[i] != '=' && header[i] != ';' && header[i] != ',' &&
                   !is_blank(header[i])) {
                i++;
            }
            name_end = i;
            while (i < len && is_blank(header[i])) {
                i++;
            }
            value = value_end = i;
            if (i < len && header[i] == '=') {
                i++;
                while (i < len && is_blank(header[i])) {
                    i++;
                }
                value = i;
                if (i < len && header[i] == '"') {
                    const char *close = memchr(header + i + 1, '"', len - i - 1);

                    if (close == NULL) {
                        return RETAIL_ERR_PARSE;
                    }
                    i = (size_t)(close - header) + 1;
                } else {
                    while (i < len && header[i] != ';' && header[i] != ',' &&
                           !is_blank(header[i])) {
                        i++;
                    }
                }
                value_end = i;
            }
            if (name_end - name == 3 && strncasecmp(header + name, "rel", 3) == 0 &&
                rel_has_next(header + value, value_end - value)) {
                next = true;
            }
        }
        if (next) {
            return extract_page_info(header + uri_start, uri_end - uri_start, out, cap);
        }
    }
    return RETAIL_ERR_NOT_FOUND;
}
