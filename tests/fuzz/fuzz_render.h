/* SPDX-License-Identifier: MIT */
/* What every fuzzed catalog must do: render its first page as JSON. */
#ifndef RETAIL_FUZZ_RENDER_H
#define RETAIL_FUZZ_RENDER_H

#include "retail/catalog.h"

#include <jansson.h>
#include <stdlib.h>

static inline void
fuzz_render_must_parse(const struct catalog *c)
{
    struct catalog_page page = {0, 250, 1, NULL, 0};
    struct buf out;

    buf_init(&out, 64u * 1024 * 1024);
    if (catalog_render_page(c, &page, "cache", &out) == RETAIL_OK) {
        json_t *parsed = json_loadb(out.data, out.len, 0, NULL);

        if (parsed == NULL) {
            abort(); /* every answer is JSON */
        }
        json_decref(parsed);
    }
    buf_deinit(&out);
}

#endif
