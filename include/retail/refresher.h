/* SPDX-License-Identifier: MIT */
/* The refresher: the one thread that talks to Shopify and Redis.
 *
 * It keeps the catalog in service fresh: when the catalog reaches 80 % of
 * its TTL (counted from when it was read) it reads a new one from the
 * source, publishes it into the cache and writes it to the store. Around
 * that:
 *
 * - Breaker (breaker.h): a failed read opens the breaker for an
 *   exponential, jittered pause; then one probe runs (half-open).
 * - Fleet: with a store, instances that share it take turns. Before a read
 *   an instance takes the store's lock (it expires, so a crashed holder
 *   cannot block the rest) and honours the fleet's shared pause, which a
 *   failed instance sets to its own pause. An instance that finds the lock
 *   taken waits for the holder's catalog, which it picks up by polling the
 *   store's version key every store_poll_ms.
 * - Shrink guard: a new catalog that has lost more than shrink_guard_percent
 *   of the products in service is held back until a second read, a few
 *   seconds later, confirms it.
 * - Store: warm-up at start; a catalog that could not be written (Redis
 *   down or restarted empty) is written when Redis answers again.
 *
 *   start -> warm-up -> [wait until due] -> pause? lock? -> read -> publish
 *                             ^                                 | fail: open
 *                             +---------------------------------+
 *
 * Threads: create/start/stop/destroy from main. refresher_step and
 * refresher_warm_up are the thread's own steps, exposed so unit tests can
 * drive them without the thread. */
#ifndef RETAIL_REFRESHER_H
#define RETAIL_REFRESHER_H

#include "retail/breaker.h"
#include "retail/cache.h"
#include "retail/health.h"
#include "retail/metrics.h"
#include "retail/upstream.h"
#include "retail/waiters.h"

#include <stddef.h>
#include <stdint.h>

#define REFRESHER_LOCK_MARGIN_MS 5000

struct refresher_settings {
    int64_t ttl_ms;              /* a catalog is fresh this long */
    int64_t stale_ms;            /* and servable this long; also the store's expiry */
    int64_t refresh_deadline_ms; /* one whole read, retries and pauses included */
    size_t max_catalog_bytes;    /* cap on one catalog's serialised products */
    int64_t store_poll_ms;       /* how often the store's version is read */
    unsigned shrink_guard_percent;
    const char *instance_id; /* names this instance in the lock; copied */
};

struct refresher;

/* New refresher. source and store may be NULL (not configured); they are
 * copied, and what their ctx points to is *borrowed*, as are cache, health,
 * breaker and waiters (waiters may be NULL). */
struct refresher *refresher_create(const struct refresher_settings *settings, struct cache *cache,
                                   struct health *health, struct breaker *breaker,
                                   struct waiters *waiters, const struct catalog_source *source,
                                   const struct catalog_store *store);

/* Applies new ttl_ms, stale_ms, refresh_deadline_ms and shrink_guard_percent
 * (the other fields are ignored): a reload. Any thread. */
void refresher_set_limits(struct refresher *r, const struct refresher_settings *settings);

/* Counts refresh outcomes in metrics (*borrowed*; call before starting). */
void refresher_set_metrics(struct refresher *r, struct metrics *metrics);

/* Starts the thread. */
int refresher_start(struct refresher *r) RETAIL_WUR;

/* Stops the thread, abandoning a read in progress at once (nothing of it
 * reaches the cache or the store); safe to call twice. */
void refresher_stop(struct refresher *r);

/* Stops if needed and frees; accepts NULL. */
void refresher_destroy(struct refresher *r);

/* Loads the stored catalog into the cache if it is younger than stale_ms.
 * RETAIL_OK when one was published, else why not. */
int refresher_warm_up(struct refresher *r) RETAIL_WUR;

/* One turn of the loop at monotonic time now_ms: polls the store if due,
 * reads from the source if due and allowed. Returns when the next turn is
 * due (monotonic ms). */
int64_t refresher_step(struct refresher *r, int64_t now_ms);

#endif
