/* SPDX-License-Identifier: MIT */
/* Product mapping: Shopify's REST product objects, and products already in
 * the answer shape (the fallback file), into one canonical JSON object.
 *
 * The answer shape, written compactly and in this key order:
 *   id (string), title, handle, description, vendor, category, tags (array),
 *   status, price, compare_at_price (numbers written exactly as the decimal
 *   text Shopify sent, or null), currency (or null), image_url (or null),
 *   in_stock, inventory_quantity, variants [{id, title, sku, price,
 *   inventory_quantity}].
 *
 * Threads: pure functions; any thread. */
#ifndef RETAIL_PRODUCT_H
#define RETAIL_PRODUCT_H

#include "retail/buf.h"
#include "retail/status.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRODUCT_ID_MAX 64    /* an id, NUL included */
#define PRODUCT_PRICE_MAX 40 /* a decimal price, NUL included */
/* Digits before a price's decimal point: past 2^53 a JSON number is not read
 * back exactly by every client (RFC 8259, section 6), and jansson refuses an
 * integer past 2^63, so a larger price is written as null. */
#define PRODUCT_PRICE_DIGITS 15
#define PRODUCT_VARIANTS_MAX 2048
/* Text fields longer than these make a product unusable (it is skipped and
 * counted): bounded answers whatever upstream sends. */
#define PRODUCT_TEXT_MAX 4096                /* title, handle, vendor, ... */
#define PRODUCT_DESCRIPTION_MAX (256 * 1024) /* body_html */
#define PRODUCT_TAGS_MAX 250                 /* Shopify's own limit per product */

/* What the catalog indexes a product by. category is *borrowed* from the
 * source JSON (valid while it lives), NULL when the product has none. */
struct product_key {
    char id[PRODUCT_ID_MAX];
    const char *category;
};

/* Maps one element of Shopify's products.json "products" array and appends
 * it to out. shop_currency (may be NULL) is the store's currency, used when
 * variants carry none. Returns RETAIL_OK; RETAIL_ERR_INVALID when the
 * product has no usable id or is not an object (skip it: the caller logs);
 * or out's sticky error. On failure out may hold a partial object: the
 * caller truncates back to its length before the call. */
int product_from_shopify(const json_t *src, const char *shop_currency, struct buf *out,
                         struct product_key *key) RETAIL_WUR;

/* Checks one product in the answer shape (from the fallback file or an
 * operator) and appends its canonical form to out. On RETAIL_ERR_INVALID,
 * err names the field and the reason. */
int product_from_answer(const json_t *src, struct buf *out, struct product_key *key, char *err,
                        size_t errlen) RETAIL_WUR;

/* True if text is a JSON number of the form -?(0|[1-9][0-9]*)(.[0-9]+)?,
 * at most PRODUCT_PRICE_MAX - 1 bytes with at most PRODUCT_PRICE_DIGITS
 * digits before the point: a price we can write as it came. */
bool product_price_valid(const char *text);

/* Writes a Shopify id (a positive JSON integer, a decimal string, or a
 * "gid://shopify/<Type>/<n>" string) as decimal text into out. Returns false
 * for anything else. */
bool product_id_text(const json_t *id, char out[PRODUCT_ID_MAX]);

#endif
