/* SPDX-License-Identifier: MIT */
/* The catalog in service: one pointer, swapped on publication.
 *
 * The publisher (the refresher) swaps in a finished catalog and moves a
 * generation number on; the previous catalog is freed when its last holder
 * lets go. Listeners run after each publication, in the publisher's thread.
 *
 * Readers have two ways in:
 * - cache_acquire: a reference of their own (catalog_unref when done),
 *   taken under a mutex that only guards the pointer. Any thread.
 * - cache_peek: the hot path of the HTTP threads. Each thread keeps one
 *   reference of its own and swaps it only when the generation moved, so a
 *   request reads one shared word and takes no lock. The reference is
 *   dropped when the thread exits; until then an idle thread may keep a
 *   replaced catalog alive. */
#ifndef RETAIL_CACHE_H
#define RETAIL_CACHE_H

#include "retail/catalog.h"

#include <stdbool.h>
#include <stdint.h>

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

/* The catalog in service as this thread last saw it, refreshed when the
 * generation moved: *borrowed*, valid until this thread calls cache_peek
 * again (or exits). NULL before the first publication. *generation (may be
 * NULL) receives the generation it belongs to. Use from a few long-lived
 * threads: each keeps a reference until it exits. */
const struct catalog *cache_peek(struct cache *cache, uint64_t *generation);

#endif
