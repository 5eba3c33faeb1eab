/* SPDX-License-Identifier: MIT */
/* The catalog in service, published by swapping one pointer. */
#include "retail/cache.h"

#include "retail/published.h"

#include <stdlib.h>

struct cache {
    struct published current; /* of struct catalog */
    cache_publish_fn listener;
    void *listener_arg;
};

static void *
catalog_ref_any(void *value)
{
    return catalog_ref(value);
}

static void
catalog_unref_any(void *value)
{
    catalog_unref(value);
}

struct cache *
cache_create(void)
{
    struct cache *cache = calloc(1, sizeof(*cache));

    if (cache == NULL) {
        return NULL;
    }
    published_init(&cache->current, catalog_ref_any, catalog_unref_any);
    return cache;
}

void
cache_destroy(struct cache *cache)
{
    if (cache == NULL) {
        return;
    }
    published_deinit(&cache->current);
    free(cache);
}

void
cache_set_listener(struct cache *cache, cache_publish_fn fn, void *arg)
{
    cache->listener = fn;
    cache->listener_arg = arg;
}

struct catalog *
cache_acquire(struct cache *cache)
{
    return published_acquire(&cache->current);
}

void
cache_publish(struct cache *cache, struct catalog *catalog)
{
    published_set(&cache->current, catalog);
    if (cache->listener != NULL) {
        cache->listener(cache->listener_arg);
    }
}

const struct catalog *
cache_peek(struct cache *cache, uint64_t *generation)
{
    return published_peek(&cache->current, generation);
}
