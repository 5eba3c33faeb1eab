/* SPDX-License-Identifier: MIT */
/* Circuit breaker with exponential back-off and equal jitter. */
#include "retail/breaker.h"

#include "retail/random.h"

#include <pthread.h>
#include <stdlib.h>

struct breaker {
    pthread_mutex_t lock; /* guards everything below */
    int64_t base_ms;
    int64_t max_ms;
    enum breaker_state state;
    enum breaker_state before_attempt;
    bool in_flight;
    unsigned failures;
    int64_t next_attempt_ms;
    int64_t pause_ms;
};

struct breaker *
breaker_create(int64_t base_ms, int64_t max_ms)
{
    struct breaker *b = calloc(1, sizeof(*b));

    if (b == NULL) {
        return NULL;
    }
    pthread_mutex_init(&b->lock, NULL);
    b->base_ms = base_ms;
    b->max_ms = max_ms < base_ms ? base_ms : max_ms;
    return b;
}

void
breaker_destroy(struct breaker *b)
{
    if (b == NULL) {
        return;
    }
    pthread_mutex_destroy(&b->lock);
    free(b);
}

int64_t
breaker_pause_ms(int64_t base_ms, int64_t max_ms, unsigned failures, bool needs_person)
{
    int64_t pause = base_ms;

    if (needs_person) {
        return max_ms;
    }
    for (unsigned i = 1; i < failures && pause < max_ms; i++) {
        pause *= 2;
    }
    return pause < max_ms ? pause : max_ms;
}

void
breaker_set_max(struct breaker *b, int64_t max_ms)
{
    pthread_mutex_lock(&b->lock);
    b->max_ms = max_ms < b->base_ms ? b->base_ms : max_ms;
    pthread_mutex_unlock(&b->lock);
}

bool
breaker_allows(struct breaker *b, int64_t now_ms)
{
    bool allowed;

    pthread_mutex_lock(&b->lock);
    allowed = b->state != BREAKER_OPEN || now_ms >= b->next_attempt_ms;
    pthread_mutex_unlock(&b->lock);
    return allowed;
}

void
breaker_begin(struct breaker *b)
{
    pthread_mutex_lock(&b->lock);
    b->before_attempt = b->state;
    if (b->state == BREAKER_OPEN) {
        b->state = BREAKER_HALF_OPEN;
    }
    b->in_flight = true;
    pthread_mutex_unlock(&b->lock);
}

void
breaker_succeeded(struct breaker *b)
{
    pthread_mutex_lock(&b->lock);
    b->state = BREAKER_CLOSED;
    b->in_flight = false;
    b->failures = 0;
    b->pause_ms = 0;
    pthread_mutex_unlock(&b->lock);
}

int64_t
breaker_failed(struct breaker *b, int64_t now_ms, bool needs_person)
{
    int64_t pause;

    pthread_mutex_lock(&b->lock);
    b->failures++;
    pause = breaker_pause_ms(b->base_ms, b->max_ms, b->failures, needs_person);
    /* Equal jitter: half the pause, plus up to the other half at random,
     * so a fleet that failed together does not retry together. */
    pause = pause / 2 + random_between(0, pause - pause / 2);
    b->state = BREAKER_OPEN;
    b->in_flight = false;
    b->pause_ms = pause;
    b->next_attempt_ms = now_ms + pause;
    pthread_mutex_unlock(&b->lock);
    return pause;
}

void
breaker_abandon(struct breaker *b)
{
    pthread_mutex_lock(&b->lock);
    if (b->in_flight) {
        b->state = b->before_attempt;
        b->in_flight = false;
    }
    pthread_mutex_unlock(&b->lock);
}

void
breaker_hold(struct breaker *b, int64_t now_ms, int64_t until_ms)
{
    pthread_mutex_lock(&b->lock);
    b->state = BREAKER_OPEN;
    b->in_flight = false;
    b->next_attempt_ms = until_ms;
    b->pause_ms = until_ms > now_ms ? until_ms - now_ms : 0;
    pthread_mutex_unlock(&b->lock);
}

bool
breaker_should_wait(struct breaker *b)
{
    bool wait;

    pthread_mutex_lock(&b->lock);
    wait = b->state == BREAKER_CLOSED && b->in_flight;
    pthread_mutex_unlock(&b->lock);
    return wait;
}

struct breaker_view
breaker_view(struct breaker *b)
{
    struct breaker_view view;

    pthread_mutex_lock(&b->lock);
    view.state = b->state;
    view.in_flight = b->in_flight;
    view.failures = b->failures;
    view.next_attempt_ms = b->next_attempt_ms;
    view.opened_for_ms = b->pause_ms;
    pthread_mutex_unlock(&b->lock);
    return view;
}

const char *
breaker_state_name(enum breaker_state state)
{
    switch (state) {
    case BREAKER_CLOSED:
        return "closed";
    case BREAKER_OPEN:
        return "open";
    case BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "?";
}
