/* SPDX-License-Identifier: MIT */
/* Query parameters of GET /v1/products: parsing and validation.
 *
 * limit: 1..250 (default 10); page: 1..QUERY_PAGE_MAX (default 1);
 * offset: 0..QUERY_OFFSET_MAX, overrides page; category: up to
 * QUERY_CATEGORY_MAX bytes, empty means every category. Numbers are plain
 * decimal digits: no sign, no spaces, no fraction, no exponent. A known
 * parameter given twice is an error; unknown parameters are ignored.
 * Pure functions; any thread. */
#ifndef RETAIL_QUERY_H
#define RETAIL_QUERY_H

#include "retail/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUERY_LIMIT_DEFAULT 10
#define QUERY_LIMIT_MAX 250
#define QUERY_PAGE_MAX 1000000000ULL
#define QUERY_OFFSET_MAX 1000000000000ULL
#define QUERY_CATEGORY_MAX 256

struct products_query {
    uint32_t limit;
    uint64_t page;   /* 1-based; derived from offset when offset is given */
    uint64_t offset; /* products to skip */
    bool has_offset;
    const char *category; /* *borrowed* from the value passed in; NULL if absent */
    size_t category_len;
    unsigned seen; /* bit per known parameter, to catch repeats */
};

/* Why a query was refused: the parameter's name and what to do. Both
 * point to static strings. */
struct query_error {
    const char *param;
    const char *detail;
};

/* Sets the defaults. */
void query_products_init(struct products_query *q);

/* Takes one parameter (value NULL when it had no '='). Returns RETAIL_OK,
 * or RETAIL_ERR_INVALID with err filled. */
int query_products_add(struct products_query *q, const char *key, const char *value, size_t len,
                       struct query_error *err) RETAIL_WUR;

/* Derives offset from page, or page from offset. */
void query_products_finish(struct products_query *q);

#endif
