/* SPDX-License-Identifier: MIT */
/* Health state and the /health document, built only from memory.
 *
 * The refresher reports Shopify and Redis outcomes; the HTTP threads count
 * cache hits, misses and fallback answers. Counters are atomics; the few
 * strings (last errors) sit under a mutex held only to copy them, so
 * rendering never waits on the network. Any thread may call anything. */
#ifndef RETAIL_HEALTH_H
#define RETAIL_HEALTH_H

#include "retail/buf.h"
#include "retail/catalog.h"
#include "retail/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum health_redis {
    HEALTH_REDIS_DISABLED = 0,
    HEALTH_REDIS_UNKNOWN, /* not tried yet */
    HEALTH_REDIS_UP,
    HEALTH_REDIS_DOWN,
};

enum health_counter {
    HEALTH_HITS = 0, /* answered from the catalog in memory */
    HEALTH_MISSES,   /* no catalog when asked: waited or fell back */
    HEALTH_FALLBACK, /* answered from the fallback catalog */
    HEALTH_COUNTERS,
};

struct health;

/* New health state; shopify_configured says whether a refresher runs.
 * NULL on allocation failure. */
struct health *health_create(bool shopify_configured, enum health_redis redis);

/* Frees it; accepts NULL. */
void health_destroy(struct health *h);

void health_count(struct health *h, enum health_counter counter);
uint64_t health_counter_value(const struct health *h, enum health_counter counter);

/* The refresher's reports. error is copied and must not hold a secret. */
void health_shopify_success(struct health *h, int64_t wall_ms, int64_t duration_ms,
                            size_t products);
void health_shopify_failure(struct health *h, int64_t wall_ms, const char *error);
void health_redis_state(struct health *h, enum health_redis state, const char *error);
enum health_redis health_redis_get(const struct health *h);

/* Appends the /health document. current (the catalog in service, or NULL)
 * and fallback are *borrowed*; ttl_ms is how long a catalog is fresh. */
int health_render(struct health *h, const struct catalog *current, const struct catalog *fallback,
                  int64_t ttl_ms, struct buf *out) RETAIL_WUR;

/* True when current is fresh, i.e. /health says "healthy". */
bool health_is_fresh(const struct catalog *current, int64_t ttl_ms, int64_t now_wall_ms);

#endif
