/* SPDX-License-Identifier: MIT */
/* What the Shopify transports share: the client, and its requests with
 * pacing, retries and cancellation (shopify.c). Not a public interface. */
#ifndef RETAIL_SHOPIFY_INTERNAL_H
#define RETAIL_SHOPIFY_INTERNAL_H

#include "retail/buf.h"
#include "retail/shopify.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define LINK_HEADER_MAX 8192
#define URL_MAX 2048
#define CURRENCY_MAX 8
#define NOTE_MAX 256

struct shopify_client {
    char *base_url;
    char *api_version;
    enum shopify_api api;
    /* What a reload may change, read by the fetching thread: */
    _Atomic long connect_timeout_ms;
    _Atomic long timeout_ms;
    _Atomic long max_retries;
    _Atomic double drain_per_ms;
    unsigned max_pages;
    unsigned long bulk_threshold;
    void (*observe)(void *arg, enum fetch_failure outcome, int64_t duration_ms);
    void *observe_arg;
    CURLM *multi;
    CURL *easy;
    struct curl_slist *headers; /* holds the token: wiped before it is freed */
    /* The client-credentials grant (both NULL with a fixed token): */
    char *client_id;
    char *client_secret;              /* wiped before it is freed */
    struct curl_slist *plain_headers; /* the same headers without a token */
    bool use_plain;                   /* the request being made is for a token */
    int64_t token_renew_at_ms;        /* monotonic; 0: no token yet */
    atomic_bool cancelled;
    char curl_error[CURL_ERROR_SIZE];
    /* The request being made: a POST of post_len bytes when post is set. */
    const char *post;
    size_t post_len;
    /* When set, the response body goes here, as it arrives, instead of
     * into body; false stops the transfer. */
    bool (*sink)(void *arg, const char *data, size_t len);
    void *sink_arg;
    size_t max_body_bytes;
    /* The last response: */
    struct buf body;
    char link[LINK_HEADER_MAX];
    size_t link_len;
    bool link_overflow;
    char version_seen[32];
    char deprecated[NOTE_MAX];
    int64_t retry_after_ms;
    /* REST: Shopify's call bucket, as last reported: */
    int bucket_used;
    int bucket_size; /* 0 until a response says */
    int64_t bucket_seen_ms;
    /* GraphQL: the cost bucket, as last reported (see shopify_graphql.c). */
    double cost_max;
    double cost_available;
    double cost_restore; /* points a second */
    int64_t cost_seen_ms;
    bool cost_known;
    bool cost_exceeded; /* the last query was refused as too expensive */
    /* Once-per-refresh notes: */
    bool version_noted;
    bool deprecation_noted;
};

/* Fills report (failure class and a message) and returns rc. */
int shopify_fail(struct fetch_report *report, enum fetch_failure failure, int rc, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

/* Waits ms, or less if cancelled. RETAIL_OK, or when cancelled
 * RETAIL_ERR_CANCELLED with report filled in. */
int shopify_pause(struct shopify_client *c, int64_t ms, struct fetch_report *report) RETAIL_WUR;

/* One request (a GET, or a POST of post_len bytes of JSON when post is
 * set) with REST pacing and bounded retries, inside deadline_ms.
 * RETAIL_OK only for a 200, whose body is in c->body. */
int shopify_call(struct shopify_client *c, const char *url, const char *post, size_t post_len,
                 const char *what, int64_t deadline_ms, struct fetch_report *report) RETAIL_WUR;

/* Notes cursor (which page `page` led to; seen has max_pages entries) and
 * fails the fetch when an earlier page led there too (via names what
 * gave it) or when it would be a page past max_pages. */
int shopify_next_cursor(const struct shopify_client *c, uint64_t *seen, unsigned page,
                        const char *cursor, const char *via,
                        struct fetch_report *report) RETAIL_WUR;

/* GETs url without the access token (a bulk operation's result lives
 * elsewhere, behind a signed URL), handing the body to sink as it arrives,
 * up to max_bytes. */
int shopify_download(struct shopify_client *c, const char *url,
                     bool (*sink)(void *arg, const char *data, size_t len), void *arg,
                     size_t max_bytes, const char *what, int64_t deadline_ms,
                     struct fetch_report *report) RETAIL_WUR;

/* The GraphQL transport: the whole catalog into builder (shopify_graphql.c). */
int shopify_graphql_fetch(struct shopify_client *c, struct catalog_builder *builder,
                          int64_t deadline_ms, struct fetch_report *report) RETAIL_WUR;

/* The GraphQL mapping alone, without a client, for tests and fuzzing: a
 * products page answer (its products.nodes; no further variants are
 * fetched), and a bulk operation's JSONL result fed in chunks of chunk
 * bytes. Both add to builder what they can and return like a fetch. */
int shopify_graphql_map_page(struct catalog_builder *builder, const char *data, size_t len,
                             struct fetch_report *report) RETAIL_WUR;
int shopify_graphql_map_bulk(struct catalog_builder *builder, const char *data, size_t len,
                             size_t chunk, struct fetch_report *report) RETAIL_WUR;

#endif
