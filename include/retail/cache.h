/* SPDX-License-Identifier: MIT */
/* The catalog in service: one pointer, swapped atomically on publication.
 *
 * Readers (the HTTP threads) take a reference with cache_acquire and drop
 * it with catalog_unref when their answer is built; they never wait for the
 * publisher beyond a few instructions under a mutex that only guards the
 * pointer and its reference count. The publisher (the refresher) swaps in
 * a finished catalog; the previous one is freed when its last reader lets
 * go. Listeners run after each publication, in the publisher's thread. */
#ifndef RETAIL_CACHE_H
#define RETAIL_CACHE_H

#include "retail/catalog.h"

#include <stdbool.h>

struct cache;

/* Called after each publication, in the publishing thread. */
typedef void (*cache_publish_fn)(void *arg);

/* New, empty cache; NULL on allocation failure. */
struct cache *cache_create(void);

/* Drops the catalog in service and frees the cache; accepts NULL. */
void cache_destroy(struct cache *cache);

/* Sets the one listener (before any thread publishes). */
void cache_set_listener(struct cache *cache, cache_publish_fn fn, void *arg);

/* A *new* reference to the catalog in service (release it with
 * catalog_unref), or NULL before the first publication. Any thread. */
struct catalog *cache_acquire(struct cache *cache);

/* Puts catalog (*taken*) in service and tells the listener. Any thread. */
void cache_publish(struct cache *cache, struct catalog *catalog);

#endif
