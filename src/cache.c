/* SPDX-License-Identifier: MIT */
/* The catalog in service, published by swapping one pointer. */
#include "retail/cache.h"

#include <pthread.h>
#include <stdlib.h>

struct cache {
    pthread_mutex_t lock; /* guards current and taking a reference to it */
    struct catalog *current;
    cache_publish_fn listener;
    void *listener_arg;
};

struct cache *
cache_create(void)
{
    struct cache *cache = calloc(1, sizeof(*cache));

    if (cache == NULL) {
        return NULL;
    }
    pthread_mutex_init(&cache->lock, NULL);
    return cache;
}

void
cache_destroy(struct cache *cache)
{
    if (cache == NULL) {
        return;
    }
    catalog_unref(cache->current);
    pthread_mutex_destroy(&cache->lock);
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
    struct catalog *c;

    pthread_mutex_lock(&cache->lock);
    c = cache->current != NULL ? catalog_ref(cache->current) : NULL;
    pthread_mutex_unlock(&cache->lock);
    return c;
}

void
cache_publish(struct cache *cache, struct catalog *catalog)
{
    struct catalog *old;

    pthread_mutex_lock(&cache->lock);
    old = cache->current;
    cache->current = catalog;
    pthread_mutex_unlock(&cache->lock);
    catalog_unref(old); /* freed here unless a reader still holds it */
    if (cache->listener != NULL) {
        cache->listener(cache->listener_arg);
    }
}
