/* SPDX-License-Identifier: MIT */
/* The two network boundaries the refresher talks through, as small
 * interfaces: a catalog source (Shopify) and a catalog store (Redis). The
 * real implementations are in shopify.c and store.c; unit tests use fakes.
 * Both are called only from the refresher thread, except cancel. */
#ifndef RETAIL_UPSTREAM_H
#define RETAIL_UPSTREAM_H

#include "retail/catalog.h"

#include <stddef.h>
#include <stdint.h>

#define UPSTREAM_ERROR_MAX 256

/* What one fetch did, for the log and /health. */
struct fetch_report {
    int http_status;                /* last HTTP status seen, 0 if none */
    unsigned requests;              /* HTTP requests made */
    size_t skipped;                 /* products left out as unusable */
    char error[UPSTREAM_ERROR_MAX]; /* why it failed; never holds a secret */
};

struct catalog_source {
    void *ctx;
    /* Adds the whole catalog to builder. RETAIL_OK, or a failure with
     * report->error filled (RETAIL_ERR_TIMEOUT for timeouts). */
    int (*fetch)(void *ctx, struct catalog_builder *builder, struct fetch_report *report);
    /* Makes a fetch in progress, and every later one, fail soon with
     * RETAIL_ERR_CANCELLED. Any thread. */
    void (*cancel)(void *ctx);
};

struct catalog_store {
    void *ctx;
    /* *out receives a *new* catalog. RETAIL_ERR_NOT_FOUND when nothing is
     * stored; RETAIL_ERR_UNAVAILABLE when the store cannot be reached. */
    int (*load)(void *ctx, size_t max_bytes, struct catalog **out, char *err, size_t errlen);
    /* Stores catalog (*borrowed*) for ttl_s seconds. */
    int (*save)(void *ctx, const struct catalog *catalog, int64_t ttl_s, char *err, size_t errlen);
    /* Checks the connection, reconnecting if it was lost. */
    int (*ping)(void *ctx, char *err, size_t errlen);
};

#endif
