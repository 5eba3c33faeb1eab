/* SPDX-License-Identifier: MIT */
/* Fuzzes the mapping of Shopify's JSON into products, and the catalog
 * built from them: parse (as the refresher does), map every product, build
 * the catalog, render a page and every product, serialise it (as for
 * Redis) and read it back, which must give the same catalog. */
#include "fuzz_render.h"
#include "retail/catalog.h"
#include "retail/product.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BYTES (16u * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_round_trip(const struct catalog *c)
{
    struct buf first, second;
    struct catalog *back;
    char err[256];

    buf_init(&first, MAX_BYTES * 2);
    buf_init(&second, MAX_BYTES * 2);
    if (catalog_serialize(c, &first) == RETAIL_OK) {
        back = catalog_deserialize(first.data, first.len, MAX_BYTES, err, sizeof(err));
        if (back == NULL || catalog_count(back) != catalog_count(c) ||
            catalog_serialize(back, &second) != RETAIL_OK || second.len != first.len ||
            memcmp(first.data, second.data, first.len) != 0) {
            abort();
        }
        catalog_unref(back);
    }
    buf_deinit(&first);
    buf_deinit(&second);
}

/* Adds item to both builders unless an earlier add was fatal for it; a
 * refused answer-shaped product always says why. */
static void
add(struct catalog_builder *shopify, struct catalog_builder *answers, const json_t *item,
    const char *currency, bool broken[2])
{
    char err[256];
    int rc;

    if (!broken[0]) {
        rc = catalog_builder_add_shopify(shopify, item, currency);
        broken[0] = rc != RETAIL_OK && rc != RETAIL_ERR_INVALID;
    }
    if (!broken[1]) {
        err[0] = '\0';
        rc = catalog_builder_add_answer(answers, item, err, sizeof(err));
        if (rc == RETAIL_ERR_INVALID && err[0] == '\0') {
            abort();
        }
        broken[1] = rc != RETAIL_OK && rc != RETAIL_ERR_INVALID;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    const json_t *list = json_is_array(root) ? root : json_object_get(root, "products");
    struct catalog_builder *shopify = catalog_builder_create(MAX_BYTES);
    struct catalog_builder *answers = catalog_builder_create(MAX_BYTES);
    const json_t *item;
    bool broken[2] = {false, false};
    size_t i;

    if (shopify == NULL || answers == NULL) {
        abort();
    }
    json_array_foreach(list, i, item)
    {
        add(shopify, answers, item, "USD", broken);
    }
    if (json_is_object(root) && list == NULL) {
        add(shopify, answers, root, NULL, broken);
    }
    for (int which = 0; which < 2; which++) {
        struct catalog_builder *b = which == 0 ? shopify : answers;
        struct catalog *c;

        if (broken[which]) {
            catalog_builder_destroy(b); /* a fatal error ends the build */
            continue;
        }
        c = catalog_builder_finish(b, CATALOG_ORIGIN_SHOPIFY, 1000, NULL);
        if (c == NULL) {
            continue;
        }
        fuzz_render_must_parse(c);
        check_round_trip(c);
        catalog_unref(c);
    }
    json_decref(root);
    return 0;
}
