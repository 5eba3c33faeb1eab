/* SPDX-License-Identifier: MIT */
/* The Shopify REST Admin API client: reads the whole product catalog.
 *
 * One client has one libcurl easy handle and is used by one thread (the
 * refresher), except shopify_cancel, which any thread may call. Every HTTP
 * request is bounded by the connect timeout (DNS included: libcurl's
 * threaded resolver honours it) and the total timeout; responses are capped
 * in size. The access token is sent only as X-Shopify-Access-Token and is
 * never logged or copied into an error message. */
#ifndef RETAIL_SHOPIFY_H
#define RETAIL_SHOPIFY_H

#include "retail/upstream.h"

#include <stddef.h>

#define SHOPIFY_PAGE_LIMIT 250

struct shopify_settings {
    const char *base_url;    /* "https://mystore.myshopify.com" (no trailing '/') */
    const char *token;       /* secret */
    const char *api_version; /* "2026-10" */
    long connect_timeout_ms;
    long timeout_ms;
    size_t max_body_bytes; /* per response, after decompression */
    unsigned max_pages;    /* a catalog with more pages fails the refresh */
};

struct shopify_client;

/* New client (settings are copied); NULL on failure. Call curl_global_init
 * once before the first client is created. */
struct shopify_client *shopify_create(const struct shopify_settings *settings);

/* Frees the client, wiping the token from memory; accepts NULL. */
void shopify_destroy(struct shopify_client *client);

/* Reads every page of products.json into builder (see upstream.h). */
int shopify_fetch_catalog(struct shopify_client *client, struct catalog_builder *builder,
                          struct fetch_report *report) RETAIL_WUR;

/* Aborts a transfer in progress and fails later ones. Any thread. */
void shopify_cancel(struct shopify_client *client);

/* The client as a catalog_source for the refresher. */
struct catalog_source shopify_source(struct shopify_client *client);

#endif
