/* SPDX-License-Identifier: MIT */
/* The static fallback catalog: loaded and validated once at start-up. */
#ifndef RETAIL_FALLBACK_H
#define RETAIL_FALLBACK_H

#include "retail/catalog.h"

#include <stddef.h>

#define FALLBACK_FILE_MAX (64u * 1024 * 1024)

/* Reads a JSON file holding an array of products in the answer shape (or
 * an object {"products": [...]}) and returns a *new* catalog with origin
 * CATALOG_ORIGIN_FALLBACK. Every product is checked; an unreadable file,
 * invalid JSON, a bad product, a repeated id or an empty list returns NULL
 * with err naming the file, the product and the reason. */
struct catalog *fallback_load(const char *path, char *err, size_t errlen);

#endif
