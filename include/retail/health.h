/* SPDX-License-Identifier: MIT */
/* Health state and the /health document, built only from memory.
 *
 * The refresher reports Shopify and Redis outcomes; the HTTP threads count
 * answers by tier. Counters are atomics; the few strings (last errors) sit
 * under a mutex held only to copy them, so rendering never waits on the
 * network. Any thread may call anything. */
#ifndef RETAIL_HEALTH_H
#define RETAIL_HEALTH_H

#include "retail/breaker.h"
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
    HEALTH_HITS = 0, /* answered from a fresh catalog in memory */
    HEALTH_STALE,    /* answered from a stale catalog in memory */
    HEALTH_MISSES,   /* no servable catalog when asked: waited or fell back */
    HEALTH_FALLBACK, /* answered from the fallback catalog */
    HEALTH_COUNTERS,
};

/* Which data a catalog of a given age is: the three tiers. */
enum health_tier {
    TIER_FRESH = 0, /* younger than CACHE_TTL_SECONDS */
    TIER_STALE,     /* younger than CACHE_STALE_SECONDS */
    TIER_NONE,      /* no catalog, or too old to serve: the fallback answers */
};

/* The tier of catalog c (may be NULL) at wall time now_ms. */
enum health_tier health_tier_of(const struct catalog *c, int64_t ttl_ms, int64_t stale_ms,
                                int64_t now_ms);

struct health;

/* New health state; shopify_configured says whether a refresher reads
 * Shopify. NULL on allocation failure. */
struct health *health_create(bool shopify_configured, enum health_redis redis);

/* Frees it; accepts NULL. */
void health_destroy(struct health *h);

void health_count(struct health *h, enum health_counter counter);
uint64_t health_counter_value(const struct health *h, enum health_counter counter);

/* A number that changes whenever anything the document shows changes,
 * time and the catalog aside: every report below and every counted answer
 * moves it. Lets a renderer reuse its last document while it holds. */
uint64_t health_version(const struct health *h);

/* The refresher's reports. Texts are copied and must not hold a secret.
 * by_this_instance is false for a catalog another instance read. */
void health_shopify_success(struct health *h, int64_t wall_ms, int64_t duration_ms, size_t products,
                            bool by_this_instance);
void health_shopify_failure(struct health *h, int64_t wall_ms, const char *error,
                            const char *failure_class, int http_status, bool needs_person);
void health_redis_state(struct health *h, enum health_redis state, const char *error);
enum health_redis health_redis_get(const struct health *h);

/* A read returned suspect products where in_service are served (0, 0 clears). */
void health_suspect(struct health *h, size_t suspect, size_t in_service);

/* What the document is built from; every pointer is *borrowed*. */
struct health_inputs {
    const struct catalog *current; /* the catalog in service, or NULL */
    const struct catalog *fallback;
    struct breaker *breaker; /* NULL when Shopify is not configured */
    int64_t ttl_ms;
    int64_t stale_ms;
};

/* Appends the /health document. */
int health_render(struct health *h, const struct health_inputs *in, struct buf *out) RETAIL_WUR;

#endif
