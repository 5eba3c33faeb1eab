/* SPDX-License-Identifier: MIT */
/* The refresher: the one thread that talks to Shopify and Redis.
 *
 * On start it loads the last catalog from the store (warm-up), then reads
 * the catalog from the source whenever the one in service reaches 80 % of
 * its TTL, publishes it into the cache and writes it to the store. A
 * failed read keeps the catalog in service and is retried after a pause
 * that doubles from 1 s up to min(TTL, 60 s). It pings the store every few
 * seconds, reconnecting when Redis comes back, and writes a catalog that
 * could not be stored while Redis was away.
 *
 *   start -> warm-up (store) -> [wait until due] -> refresh (source)
 *                                   ^                 | ok: publish, save
 *                                   +-----------------+ fail: back off
 *
 * Threads: create/start/stop/destroy from main; refresher_warm_up and
 * refresher_refresh_once are the thread's steps, exposed so unit tests can
 * drive them without the thread. */
#ifndef RETAIL_REFRESHER_H
#define RETAIL_REFRESHER_H

#include "retail/cache.h"
#include "retail/health.h"
#include "retail/upstream.h"

#include <stddef.h>
#include <stdint.h>

struct refresher_settings {
    int64_t ttl_ms;           /* a catalog is fresh this long */
    int64_t store_ttl_s;      /* expiry of the copy in the store */
    size_t max_catalog_bytes; /* cap on one catalog's serialised products */
    int64_t store_check_ms;   /* ping interval while the store is up */
};

struct refresher;

/* New refresher; source and store may be NULL (not configured). Both are
 * copied; what their ctx points to is *borrowed* and must outlive it. */
struct refresher *refresher_create(const struct refresher_settings *settings, struct cache *cache,
                                   struct health *health, const struct catalog_source *source,
                                   const struct catalog_store *store);

/* Starts the thread. */
int refresher_start(struct refresher *r) RETAIL_WUR;

/* Stops the thread, cancelling a fetch in progress; safe to call twice. */
void refresher_stop(struct refresher *r);

/* Stops if needed and frees; accepts NULL. */
void refresher_destroy(struct refresher *r);

/* Loads the stored catalog into the cache. RETAIL_OK when one was
 * published, else the store's status. */
int refresher_warm_up(struct refresher *r) RETAIL_WUR;

/* Reads the catalog from the source once and publishes it. */
int refresher_refresh_once(struct refresher *r) RETAIL_WUR;

/* Delay before the next attempt after failures failed refreshes in a row. */
int64_t refresher_backoff_ms(int64_t ttl_ms, unsigned failures);

#endif
