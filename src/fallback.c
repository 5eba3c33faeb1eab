/* SPDX-License-Identifier: MIT */
/* Loading and validation of the static fallback catalog. */
#include "retail/fallback.h"

#include "retail/clock.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct catalog *
fallback_load(const char *path, char *err, size_t errlen)
{
    struct catalog_builder *builder = NULL;
    struct catalog *catalog = NULL;
    json_error_t error;
    json_t *root = NULL;
    const json_t *list, *product;
    char why[256];
    size_t i, duplicates = 0;
    struct stat st;
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        snprintf(err, errlen, "fallback file %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > FALLBACK_FILE_MAX) {
        snprintf(err, errlen, "fallback file %s: not a regular file of at most %u bytes", path,
                 FALLBACK_FILE_MAX);
        fclose(f);
        return NULL;
    }
    root = json_loadf(f, JSON_REJECT_DUPLICATES, &error);
    fclose(f);
    if (root == NULL) {
        snprintf(err, errlen, "fallback file %s: invalid JSON at line %d column %d: %s", path,
                 error.line, error.column, error.text);
        goto out;
    }
    list = json_is_array(root) ? root : json_object_get(root, "products");
    if (!json_is_array(list) || json_array_size(list) == 0) {
        snprintf(err, errlen,
                 "fallback file %s: expected a non-empty array of products (or {\"products\": "
                 "[...]})",
                 path);
        goto out;
    }
    builder = catalog_builder_create(FALLBACK_FILE_MAX * 2);
    if (builder == NULL) {
        snprintf(err, errlen, "fallback file %s: out of memory", path);
        goto out;
    }
    json_array_foreach(list, i, product)
    {
        int rc = catalog_builder_add_answer(builder, product, why, sizeof(why));

        if (rc != RETAIL_OK) {
            snprintf(err, errlen, "fallback file %s: product #%zu: %s", path, i + 1,
                     rc == RETAIL_ERR_INVALID ? why : retail_status_str(rc));
            goto out;
        }
    }
    catalog =
        catalog_builder_finish(builder, CATALOG_ORIGIN_FALLBACK, clock_wall_ms(), &duplicates);
    builder = NULL;
    if (catalog == NULL) {
        snprintf(err, errlen, "fallback file %s: out of memory", path);
    } else if (duplicates > 0) {
        snprintf(err, errlen, "fallback file %s: %zu products repeat an id that is already used",
                 path, duplicates);
        catalog_unref(catalog);
        catalog = NULL;
    }
out:
    catalog_builder_destroy(builder);
    json_decref(root);
    return catalog;
}
