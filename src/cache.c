/* SPDX-License-Identifier: MIT */
/* The catalog in service, published by swapping one pointer. */
#include "retail/cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct cache {
    pthread_mutex_t lock; /* guards current and taking a reference to it */
    struct catalog *current;
    _Atomic uint64_t generation; /* moved on after current changes */
    uint64_t id;                 /* tells caches apart, even at a reused address */
    cache_publish_fn listener;
    void *listener_arg;
};

/* What one thread holds for cache_peek. */
struct peek_slot {
    uint64_t owner; /* the id of the cache it holds from */
    uint64_t generation;
    struct catalog *held;
};

static _Atomic uint64_t cache_ids;
static pthread_key_t peek_key;
static pthread_once_t peek_once = PTHREAD_ONCE_INIT;
static _Thread_local struct peek_slot *peek_slot;

static void
peek_slot_free(void *arg)
{
    struct peek_slot *slot = arg;

    catalog_unref(slot->held);
    free(slot);
}

static void
peek_key_create(void)
{
    pthread_key_create(&peek_key, peek_slot_free);
}

struct cache *
cache_create(void)
{
    struct cache *cache = calloc(1, sizeof(*cache));

    if (cache == NULL) {
        return NULL;
    }
    pthread_mutex_init(&cache->lock, NULL);
    cache->id = atomic_fetch_add(&cache_ids, 1) + 1;
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
    atomic_fetch_add_explicit(&cache->generation, 1, memory_order_release);
    pthread_mutex_unlock(&cache->lock);
    catalog_unref(old); /* freed here unless a reader still holds it */
    if (cache->listener != NULL) {
        cache->listener(cache->listener_arg);
    }
}

const struct catalog *
cache_peek(struct cache *cache, uint64_t *generation)
{
    uint64_t now = atomic_load_explicit(&cache->generation, memory_order_acquire);
    struct peek_slot *slot = peek_slot;

    if (slot == NULL) {
        pthread_once(&peek_once, peek_key_create);
        slot = calloc(1, sizeof(*slot));
        if (slot == NULL) {
            return NULL;
        }
        pthread_setspecific(peek_key, slot); /* frees it when the thread exits */
        peek_slot = slot;
    }
    if (slot->owner != cache->id || slot->generation != now || slot->held == NULL) {
        struct catalog *old = slot->held;

        pthread_mutex_lock(&cache->lock);
        slot->held = cache->current != NULL ? catalog_ref(cache->current) : NULL;
        slot->generation = atomic_load_explicit(&cache->generation, memory_order_relaxed);
        pthread_mutex_unlock(&cache->lock);
        slot->owner = cache->id;
        catalog_unref(old);
    }
    if (generation != NULL) {
        *generation = slot->generation;
    }
    return slot->held;
}
