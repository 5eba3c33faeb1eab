/* SPDX-License-Identifier: MIT */
/* The two network boundaries the refresher talks through, as small
 * interfaces: a catalog source (Shopify) and a catalog store (Redis). The
 * real implementations are in shopify.c and store.c; unit tests use fakes.
 * Both are called only from the refresher thread, except cancel. */
#ifndef RETAIL_UPSTREAM_H
#define RETAIL_UPSTREAM_H

#include "retail/catalog.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UPSTREAM_ERROR_MAX 256

/* Why a fetch failed, in classes that decide what happens next. */
enum fetch_failure {
    FETCH_OK = 0,
    FETCH_TIMEOUT,      /* a request or the whole refresh ran out of time */
    FETCH_NETWORK,      /* connect failed, reset, or the body was cut */
    FETCH_SERVER_ERROR, /* 5xx after the retries */
    FETCH_RATE_LIMITED, /* 429 after the retries */
    FETCH_REFUSED,      /* 401, 402, 403, 404, 423: needs a person */
    FETCH_HTTP_ERROR,   /* another unexpected status */
    FETCH_BAD_DATA,     /* invalid or truncated JSON, a Link loop, too many pages */
    FETCH_CANCELLED,    /* shutdown */
};

/* What one fetch did, for the log and /health. */
struct fetch_report {
    enum fetch_failure failure;
    int http_status;   /* last HTTP status seen, 0 if none */
    bool needs_person; /* the failure will not heal by retrying */
    unsigned requests; /* HTTP requests made, retries included */
    unsigned retries;
    int64_t paced_ms;               /* time spent waiting for Shopify's bucket */
    size_t skipped;                 /* products left out as unusable */
    char error[UPSTREAM_ERROR_MAX]; /* why it failed; never holds a secret */
};

/* "timeout", "network", ...: the class's name for logs and /health. */
const char *fetch_failure_name(enum fetch_failure failure);

struct catalog_source {
    void *ctx;
    /* Adds the whole catalog to builder before deadline_ms (monotonic).
     * RETAIL_OK, or a failure with report filled. */
    int (*fetch)(void *ctx, struct catalog_builder *builder, int64_t deadline_ms,
                 struct fetch_report *report);
    /* Makes a fetch in progress, and every later one, fail at once with
     * RETAIL_ERR_CANCELLED. Any thread. */
    void (*cancel)(void *ctx);
};

/* Every call returns RETAIL_OK, RETAIL_ERR_UNAVAILABLE when the store
 * cannot be reached (err says why), or what is noted. */
struct catalog_store {
    void *ctx;
    /* *out receives a *new* catalog; RETAIL_ERR_NOT_FOUND when none. */
    int (*load)(void *ctx, size_t max_bytes, struct catalog **out, char *err, size_t errlen);
    /* Stores catalog (*borrowed*) and its version for ttl_s seconds, both at
     * once, so readers see the old pair or the new one. */
    int (*save)(void *ctx, const struct catalog *catalog, int64_t ttl_s, char *err, size_t errlen);
    /* The stored catalog's fetched_at_ms, cheaply; RETAIL_ERR_NOT_FOUND
     * when none. Also serves as the health check. */
    int (*version)(void *ctx, int64_t *fetched_at_ms, char *err, size_t errlen);
    /* Takes the fleet's refresh lock for ttl_ms if it is free; *taken says. */
    int (*lock)(void *ctx, const char *owner, int64_t ttl_ms, bool *taken, char *err,
                size_t errlen);
    /* Releases the lock if owner still holds it. */
    int (*unlock)(void *ctx, const char *owner, char *err, size_t errlen);
    /* The fleet's shared pause after a failure: *remaining_ms (0: none). */
    int (*pause_get)(void *ctx, int64_t *remaining_ms, char *err, size_t errlen);
    int (*pause_set)(void *ctx, int64_t pause_ms, char *err, size_t errlen);
};

#endif
