/* SPDX-License-Identifier: MIT */
/* The Shopify REST Admin API client: reads the whole product catalog,
 * following Shopify's rules.
 *
 * - Every request is bounded by the connect timeout (DNS included: the
 *   threaded resolver honours it), the request timeout, what is left of the
 *   refresh's deadline, and a cap on the body size.
 * - Requests are paced by X-Shopify-Shop-Api-Call-Limit ("used/size"; the
 *   size is read, not assumed): while more than half the bucket is in use,
 *   the next request waits for it to drain at calls_per_second.
 * - 429 waits Retry-After (seconds, fractional allowed; capped at 30 s, with
 *   jitter); 429, 5xx and network errors (timeouts included) are retried up
 *   to max_retries times with jittered pauses, inside the deadline. 401, 402,
 *   403, 404 and 423 are never retried: they need a person.
 * - The status is checked before the body is parsed; invalid or truncated
 *   JSON, a Link back to a page already read, and more than max_pages pages
 *   fail the fetch.
 * - An answering API version other than the one asked for, and Shopify's
 *   deprecation header, are logged once per refresh.
 *
 * One client has one libcurl multi handle with one easy handle and is used
 * by one thread (the refresher), except shopify_cancel, which any thread
 * may call: it wakes the transfer or pause in progress at once. The access
 * token is sent only as X-Shopify-Access-Token and is never logged. */
#ifndef RETAIL_SHOPIFY_H
#define RETAIL_SHOPIFY_H

#include "retail/upstream.h"

#include <stddef.h>

#define SHOPIFY_PAGE_LIMIT 250
#define SHOPIFY_RETRY_AFTER_MAX_MS 30000

/* How the catalog is read: the GraphQL Admin API (products connection,
 * bulk operations for large stores) or the legacy REST Admin API. */
enum shopify_api {
    SHOPIFY_API_REST = 0,
    SHOPIFY_API_GRAPHQL,
};

struct shopify_settings {
    enum shopify_api api;
    const char *base_url; /* "https://mystore.myshopify.com" (no trailing '/') */
    const char *token;    /* secret; NULL with client credentials */
    /* The client-credentials grant instead of a fixed token: both or none. */
    const char *client_id;
    const char *client_secret; /* secret */
    /* GraphQL: a store with more products than this is read with a bulk
     * operation instead of paging; 0: never. */
    unsigned long bulk_threshold;
    const char *api_version; /* "2026-10" */
    long connect_timeout_ms;
    long timeout_ms;
    size_t max_body_bytes; /* per response, after decompression */
    unsigned max_pages;    /* a catalog with more pages fails the fetch */
    unsigned max_retries;  /* per request */
    unsigned calls_per_second;
    /* Told about every HTTP request made (may be NULL): its outcome and
     * duration. Called from the fetching thread. */
    void (*observe)(void *arg, enum fetch_failure outcome, int64_t duration_ms);
    void *observe_arg;
};

struct shopify_client;

/* New client (settings are copied); NULL on failure. Call curl_global_init
 * once before the first client is created. */
struct shopify_client *shopify_create(const struct shopify_settings *settings);

/* Frees the client, wiping the token from memory; accepts NULL. */
void shopify_destroy(struct shopify_client *client);

/* Reads every page of products.json into builder before deadline_ms
 * (monotonic). See upstream.h for the report. */
int shopify_fetch_catalog(struct shopify_client *client, struct catalog_builder *builder,
                          int64_t deadline_ms, struct fetch_report *report) RETAIL_WUR;

/* Applies new connect_timeout_ms, timeout_ms, max_retries and
 * calls_per_second from settings (the rest is ignored), from the next
 * request on: a reload. Any thread. */
void shopify_set_limits(struct shopify_client *client, const struct shopify_settings *settings);

/* Aborts a transfer or pause in progress and fails later ones. Any thread. */
void shopify_cancel(struct shopify_client *client);

/* The client as a catalog_source for the refresher. */
struct catalog_source shopify_source(struct shopify_client *client);

/* Parses Retry-After as seconds ("2", "2.0", "0.5"); -1 when absent or not
 * a number. Exposed for tests. */
int64_t shopify_retry_after_ms(const char *value, size_t len);

/* Parses X-Shopify-Shop-Api-Call-Limit ("32/40"). Exposed for tests. */
bool shopify_call_limit(const char *value, size_t len, int *used, int *size);

#endif
