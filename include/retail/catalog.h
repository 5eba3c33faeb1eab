/* SPDX-License-Identifier: MIT */
/* The catalog: an immutable, indexed list of products in the answer shape.
 *
 * A builder collects products (each serialised once, at build time) and
 * finish() turns it into a catalog that is never modified again: readers on
 * any thread may use it without locks for as long as they hold a reference.
 * References are counted atomically (catalog_ref / catalog_unref).
 *
 *   builder_create -> add_* ... -> finish -> catalog (refs = 1)
 *                                               |  ref/unref on any thread
 *                                               v  freed at refs = 0
 *
 * Products keep the order they were added in; a product whose id was
 * already added is dropped (the first one wins), so walking pages visits
 * each product exactly once. Category matching is exact and ASCII
 * case-insensitive. */
#ifndef RETAIL_CATALOG_H
#define RETAIL_CATALOG_H

#include "retail/buf.h"
#include "retail/status.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CATALOG_PRODUCTS_MAX 1000000

enum catalog_origin {
    CATALOG_ORIGIN_SHOPIFY,  /* read from Shopify by this process */
    CATALOG_ORIGIN_STORE,    /* loaded from Redis (written by this or another instance) */
    CATALOG_ORIGIN_FALLBACK, /* the static fallback file */
};

struct catalog;
struct catalog_builder;

/* A page request, already validated (see query.h). */
struct catalog_page {
    uint64_t offset;
    uint32_t limit;
    uint64_t page;        /* echoed in the answer */
    const char *category; /* NULL or "" for every product */
    size_t category_len;
};

/* New builder whose serialised products may take up to max_bytes; NULL on
 * allocation failure. */
struct catalog_builder *catalog_builder_create(size_t max_bytes);

/* Frees a builder that was not finished; accepts NULL. */
void catalog_builder_destroy(struct catalog_builder *b);

/* Adds one Shopify REST product. RETAIL_ERR_INVALID means the product was
 * unusable and skipped (the builder is unchanged); RETAIL_ERR_LIMIT and
 * RETAIL_ERR_NOMEM are fatal for this build. */
int catalog_builder_add_shopify(struct catalog_builder *b, const json_t *product,
                                const char *shop_currency) RETAIL_WUR;

/* Adds one product in the answer shape; on RETAIL_ERR_INVALID err says why. */
int catalog_builder_add_answer(struct catalog_builder *b, const json_t *product, char *err,
                               size_t errlen) RETAIL_WUR;

/* Products added so far (duplicates included). */
size_t catalog_builder_count(const struct catalog_builder *b);

/* Turns the builder into a catalog: the builder is *taken* (freed here,
 * whatever happens). Returns a *new* catalog with one reference, or NULL on
 * allocation failure. *duplicates (may be NULL) receives how many products
 * were dropped for repeating an id. */
struct catalog *catalog_builder_finish(struct catalog_builder *b, enum catalog_origin origin,
                                       int64_t fetched_at_ms, size_t *duplicates);

/* Takes another reference; returns c. */
struct catalog *catalog_ref(struct catalog *c);

/* Drops a reference, freeing the catalog at zero; accepts NULL. */
void catalog_unref(struct catalog *c);

size_t catalog_count(const struct catalog *c);
int64_t catalog_fetched_at_ms(const struct catalog *c);
enum catalog_origin catalog_origin(const struct catalog *c);
/* Bytes of serialised products. */
size_t catalog_bytes(const struct catalog *c);

/* Appends {"products":[...],"total":..,"page":..,"limit":..,"has_next":..,
 * "source":"<source>"} for the page. total counts every product that
 * matches the category. */
int catalog_render_page(const struct catalog *c, const struct catalog_page *page,
                        const char *source, struct buf *out) RETAIL_WUR;

/* Appends {"product":{...}} for id, or returns RETAIL_ERR_NOT_FOUND. */
int catalog_render_product(const struct catalog *c, const char *id, struct buf *out) RETAIL_WUR;

/* Serialises the catalog for the Redis store: a short text header, then
 * each product's bytes exactly as served, so a reload serves the same bytes. */
int catalog_serialize(const struct catalog *c, struct buf *out) RETAIL_WUR;

/* Reads what catalog_serialize wrote. Each product is checked to be a JSON
 * object whose id matches its index entry. Returns a *new* catalog with
 * origin CATALOG_ORIGIN_STORE, or NULL with err filled. */
struct catalog *catalog_deserialize(const char *data, size_t len, size_t max_bytes, char *err,
                                    size_t errlen);

#endif
