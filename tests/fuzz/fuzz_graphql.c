/* SPDX-License-Identifier: MIT */
/* Fuzzes the GraphQL mapping: the first byte chooses between a products
 * page answer and a bulk operation's JSONL result (fed in chunks of a size
 * the second byte chooses, so lines split anywhere); the rest is the
 * answer. A refusal must be a parse error or a limit, and say why; what is
 * built must render as JSON. */
#include "../../src/shopify_internal.h"

#include "fuzz_render.h"
#include "retail/catalog.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BYTES (16u * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(struct catalog_builder *b)
{
    struct catalog *c = catalog_builder_finish(b, CATALOG_ORIGIN_SHOPIFY, 1000, NULL);

    if (c != NULL) {
        fuzz_render_must_parse(c);
        catalog_unref(c);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct catalog_builder *b;
    struct fetch_report report;
    int rc;

    if (size < 2) {
        return 0;
    }
    b = catalog_builder_create(MAX_BYTES);
    if (b == NULL) {
        abort();
    }
    memset(&report, 0, sizeof(report));
    if (data[0] & 1) {
        rc = shopify_graphql_map_bulk(b, (const char *)data + 2, size - 2, (size_t)data[1] + 1,
                                      &report);
    } else {
        rc = shopify_graphql_map_page(b, (const char *)data + 2, size - 2, &report);
    }
    if (rc != RETAIL_OK && rc != RETAIL_ERR_PARSE && rc != RETAIL_ERR_LIMIT &&
        rc != RETAIL_ERR_NOMEM) {
        abort(); /* a refusal is a parse error or a limit, nothing else */
    }
    if (rc != RETAIL_OK && report.error[0] == '\0' && report.failure == FETCH_OK) {
        abort(); /* and it says why */
    }
    if (rc == RETAIL_OK) {
        check(b);
    } else {
        catalog_builder_destroy(b);
    }
    return 0;
}
