/* SPDX-License-Identifier: MIT */
/* Metrics in the Prometheus text format, for GET /metrics.
 *
 * HTTP answers are counted by route and status, with a latency histogram
 * by route; Shopify requests by outcome, with a duration histogram. The
 * rest (cache answers by tier, the breaker, the catalog, Redis, build info)
 * is read from the other modules when /metrics is rendered. No label ever
 * holds a key, a token or anything a client sent.
 *
 * Threads: HTTP threads record answers on per-thread shards (no shared
 * cache line is written); the refresher records Shopify requests; any
 * thread may render. */
#ifndef RETAIL_METRICS_H
#define RETAIL_METRICS_H

#include "retail/breaker.h"
#include "retail/buf.h"
#include "retail/catalog.h"
#include "retail/health.h"
#include "retail/status.h"
#include "retail/upstream.h"

#include <stdint.h>

enum metrics_route {
    METRICS_ROUTE_PRODUCTS = 0,
    METRICS_ROUTE_PRODUCT,
    METRICS_ROUTE_HEALTH,
    METRICS_ROUTE_LIVE,
    METRICS_ROUTE_READY,
    METRICS_ROUTE_METRICS,
    METRICS_ROUTE_OTHER, /* unknown paths */
    METRICS_ROUTES,
};

struct metrics;

/* The route's name in labels and logs ("products"). */
const char *metrics_route_name(enum metrics_route route);

/* New metrics; NULL on allocation failure. */
struct metrics *metrics_create(void);

/* Frees them; accepts NULL. */
void metrics_destroy(struct metrics *m);

/* One HTTP answer: its route, status and latency in microseconds. */
void metrics_http(struct metrics *m, enum metrics_route route, unsigned status, int64_t latency_us);

/* One request to Shopify: its outcome and duration in milliseconds. */
void metrics_shopify(struct metrics *m, enum fetch_failure outcome, int64_t duration_ms);

/* One finished refresh attempt and its outcome. */
void metrics_refresh(struct metrics *m, enum fetch_failure outcome);

/* What the rendering reads from the other modules; pointers *borrowed*. */
struct metrics_inputs {
    struct health *health;
    struct breaker *breaker; /* NULL without Shopify */
    const struct catalog *current;
    const struct catalog *fallback;
    bool draining;
    unsigned in_flight;             /* requests begun and not yet answered, this one included */
    unsigned connections;           /* client connections open */
    uint64_t connections_timed_out; /* closed for missing a header or idle deadline */
};

/* Appends the whole exposition. */
int metrics_render(struct metrics *m, const struct metrics_inputs *in, struct buf *out) RETAIL_WUR;

#endif
