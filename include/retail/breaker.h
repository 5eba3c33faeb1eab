/* SPDX-License-Identifier: MIT */
/* The circuit breaker in front of Shopify.
 *
 *            attempt fails                  next attempt is due
 *   CLOSED -----------------> OPEN ------------------------------> HALF_OPEN
 *     ^                        ^                                      |
 *     |                        +------------- probe fails ------------+
 *     +------------------------------ probe succeeds -----------------+
 *
 * CLOSED: refreshes run when due; a request that finds no catalog may wait
 * (up to PRODUCTS_DEADLINE_MS) while an attempt is in flight, since its
 * result is expected soon. OPEN: after a failure, nothing is tried until
 * the back-off ends (exponential, with jitter, capped); requests never wait
 * and are answered at once from stale or fallback data. HALF_OPEN: one
 * probe runs; requests still do not wait for it.
 *
 * A failure that needs a person (Shopify refusing the token or the shop:
 * 401, 402, 403, 404, 423) backs off for the longest pause at once.
 * "An attempt" is a refresh by this instance, or waiting for the one
 * another instance of the fleet runs (see refresher.h).
 *
 * Threads: the refresher changes the state; HTTP threads and /health read
 * it. A mutex guards the fields; no call blocks on anything else. */
#ifndef RETAIL_BREAKER_H
#define RETAIL_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

enum breaker_state {
    BREAKER_CLOSED = 0,
    BREAKER_OPEN,
    BREAKER_HALF_OPEN,
};

struct breaker_view {
    enum breaker_state state;
    bool in_flight;          /* an attempt is running */
    unsigned failures;       /* in a row */
    int64_t next_attempt_ms; /* monotonic; meaningful while OPEN */
    int64_t opened_for_ms;   /* the current pause, while OPEN */
};

struct breaker;

/* New breaker, CLOSED, pausing base_ms after the first failure, doubling up
 * to max_ms. NULL on allocation failure. */
struct breaker *breaker_create(int64_t base_ms, int64_t max_ms);

/* Frees it; accepts NULL. */
void breaker_destroy(struct breaker *b);

/* Changes the longest pause, from the next failure on (a reload). */
void breaker_set_max(struct breaker *b, int64_t max_ms);

/* True when an attempt may start at now_ms (CLOSED, or OPEN and due). */
bool breaker_allows(struct breaker *b, int64_t now_ms);

/* An attempt starts: OPEN becomes HALF_OPEN. */
void breaker_begin(struct breaker *b);

/* The attempt succeeded: CLOSED, no failures. */
void breaker_succeeded(struct breaker *b);

/* The attempt failed at now_ms: OPEN for the returned pause (ms). */
int64_t breaker_failed(struct breaker *b, int64_t now_ms, bool needs_person);

/* The attempt ended without a verdict (cancelled, or another instance's
 * attempt that we stopped waiting for): back to the state before it. */
void breaker_abandon(struct breaker *b);

/* Another instance failed and asks the fleet to pause until until_ms:
 * OPEN until then, without counting a failure here. */
void breaker_hold(struct breaker *b, int64_t now_ms, int64_t until_ms);

/* True when a request without a catalog should wait for the attempt in
 * flight: CLOSED and an attempt is running. */
bool breaker_should_wait(struct breaker *b);

/* A consistent copy of the state. */
struct breaker_view breaker_view(struct breaker *b);

/* The pause after failures failures in a row, before jitter: base doubled
 * each time, at most max. needs_person gives max. */
int64_t breaker_pause_ms(int64_t base_ms, int64_t max_ms, unsigned failures, bool needs_person);

/* Name of a state for /health: "closed", "open", "half_open". */
const char *breaker_state_name(enum breaker_state state);

#endif
