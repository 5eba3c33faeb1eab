/* SPDX-License-Identifier: MIT */
/* Strict parsing of the products query parameters. */
#include "retail/query.h"

#include <string.h>

enum {
    SEEN_LIMIT = 1u << 0,
    SEEN_PAGE = 1u << 1,
    SEEN_OFFSET = 1u << 2,
    SEEN_CATEGORY = 1u << 3,
};

void
query_products_init(struct products_query *q)
{
    memset(q, 0, sizeof(*q));
    q->limit = QUERY_LIMIT_DEFAULT;
    q->page = 1;
}

/* Plain decimal digits in [min, max]; at most 20 digits are read, so a
 * longer number is refused before it can overflow. */
static bool
parse_uint(const char *value, size_t len, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (value == NULL || len == 0 || len > 19) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (value[i] < '0' || value[i] > '9') {
            return false;
        }
        v = v * 10 + (uint64_t)(value[i] - '0');
    }
    if (v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static int
refuse(struct query_error *err, const char *param, const char *detail)
{
    err->param = param;
    err->detail = detail;
    return RETAIL_ERR_INVALID;
}

int
query_products_add(struct products_query *q, const char *key, const char *value, size_t len,
                   struct query_error *err)
{
    static const struct {
        const char *name;
        unsigned bit;
        const char *repeated;
    } known[] = {{"limit", SEEN_LIMIT, "limit may be given only once"},
                 {"page", SEEN_PAGE, "page may be given only once"},
                 {"offset", SEEN_OFFSET, "offset may be given only once"},
                 {"category", SEEN_CATEGORY, "category may be given only once"}};
    unsigned bit = 0;
    uint64_t number;
    const char *name = NULL, *repeated = NULL;

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(key, known[i].name) == 0) {
            bit = known[i].bit;
            name = known[i].name;
            repeated = known[i].repeated;
        }
    }
    if (bit == 0) {
        return RETAIL_OK; /* unknown parameters are ignored */
    }
    if (q->seen & bit) {
        return refuse(err, name, repeated);
    }
    q->seen |= bit;
    switch (bit) {
    case SEEN_LIMIT:
        if (!parse_uint(value, len, 1, QUERY_LIMIT_MAX, &number)) {
            return refuse(err, name, "limit must be a whole number from 1 to 250");
        }
        q->limit = (uint32_t)number;
        break;
    case SEEN_PAGE:
        if (!parse_uint(value, len, 1, QUERY_PAGE_MAX, &number)) {
            return refuse(err, name, "page must be a whole number from 1 to 1000000000");
        }
        q->page = number;
        break;
    case SEEN_OFFSET:
        if (!parse_uint(value, len, 0, QUERY_OFFSET_MAX, &number)) {
            return refuse(err, name, "offset must be a whole number from 0 to 1000000000000");
        }
        q->offset = number;
        q->has_offset = true;
        break;
    default:
        if (len > QUERY_CATEGORY_MAX) {
            return refuse(err, name, "category must be at most 256 bytes");
        }
        q->category = value;
        q->category_len = value != NULL ? len : 0;
        break;
    }
    return RETAIL_OK;
}

void
query_products_finish(struct products_query *q)
{
    if (q->has_offset) {
        q->page = q->offset / q->limit + 1;
    } else {
        q->offset = (q->page - 1) * q->limit;
    }
}
