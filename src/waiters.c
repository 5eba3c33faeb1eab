/* SPDX-License-Identifier: MIT */
/* Parked requests: resumed on publication or at their deadline. */
#include "retail/waiters.h"

#include "retail/clock.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>

struct waiters {
    pthread_mutex_t lock;   /* guards everything below */
    pthread_cond_t changed; /* on CLOCK_MONOTONIC */
    struct waiter head;     /* sentinel of a circular list */
    unsigned parked;
    uint64_t generation; /* moved on by every wake-up */
    bool closed;         /* shutdown began: do not park */
    bool stop;
    pthread_t timer;
    bool timer_started;
};

static void
list_remove(struct waiter *w)
{
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->parked = false;
}

/* Resumes a detached chain. Each node's next is read before its
 * connection is resumed, since the request (and the node in it) may be
 * freed as soon as the handler has run again. */
static void
resume_chain(struct waiter *first)
{
    while (first != NULL) {
        struct waiter *next = first->next;
        struct MHD_Connection *connection = first->connection;

        first->next = NULL;
        MHD_resume_connection(connection);
        first = next;
    }
}

/* Unlinks the parked waiters for which take() holds; returns them as a
 * NULL-terminated chain. Called with the lock held. */
static struct waiter *
detach(struct waiters *ws, int64_t now, bool all)
{
    struct waiter *chain = NULL, *w = ws->head.next;

    while (w != &ws->head) {
        struct waiter *next = w->next;

        if (all || w->deadline_ms <= now) {
            list_remove(w);
            ws->parked--;
            w->next = chain;
            chain = w;
        }
        w = next;
    }
    return chain;
}

static void *
timer_main(void *arg)
{
    struct waiters *ws = arg;

    pthread_mutex_lock(&ws->lock);
    while (!ws->stop) {
        int64_t now = clock_mono_ms();
        int64_t earliest = INT64_MAX;
        struct waiter *expired = detach(ws, now, false);

        if (expired != NULL) {
            pthread_mutex_unlock(&ws->lock);
            resume_chain(expired);
            pthread_mutex_lock(&ws->lock);
            continue;
        }
        for (struct waiter *w = ws->head.next; w != &ws->head; w = w->next) {
            if (w->deadline_ms < earliest) {
                earliest = w->deadline_ms;
            }
        }
        if (earliest == INT64_MAX) {
            pthread_cond_wait(&ws->changed, &ws->lock);
        } else {
            struct timespec ts;

            clock_mono_timespec(earliest, &ts);
            pthread_cond_timedwait(&ws->changed, &ws->lock, &ts);
        }
    }
    pthread_mutex_unlock(&ws->lock);
    return NULL;
}

struct waiters *
waiters_create(void)
{
    struct waiters *ws = calloc(1, sizeof(*ws));
    pthread_condattr_t attr;

    if (ws == NULL) {
        return NULL;
    }
    pthread_mutex_init(&ws->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&ws->changed, &attr);
    pthread_condattr_destroy(&attr);
    ws->head.next = ws->head.prev = &ws->head;
    if (pthread_create(&ws->timer, NULL, timer_main, ws) != 0) {
        waiters_destroy(ws);
        return NULL;
    }
    ws->timer_started = true;
    return ws;
}

void
waiters_destroy(struct waiters *ws)
{
    if (ws == NULL) {
        return;
    }
    waiters_close(ws);
    pthread_mutex_lock(&ws->lock);
    ws->stop = true;
    pthread_cond_signal(&ws->changed);
    pthread_mutex_unlock(&ws->lock);
    if (ws->timer_started) {
        pthread_join(ws->timer, NULL);
    }
    pthread_cond_destroy(&ws->changed);
    pthread_mutex_destroy(&ws->lock);
    free(ws);
}

uint64_t
waiters_generation(struct waiters *ws)
{
    uint64_t generation;

    pthread_mutex_lock(&ws->lock);
    generation = ws->generation;
    pthread_mutex_unlock(&ws->lock);
    return generation;
}

void
waiters_park(struct waiters *ws, struct waiter *w, struct MHD_Connection *connection,
             int64_t deadline_ms, uint64_t generation)
{
    pthread_mutex_lock(&ws->lock);
    w->connection = connection;
    w->deadline_ms = deadline_ms;
    if (ws->closed || ws->generation != generation) {
        pthread_mutex_unlock(&ws->lock);
        MHD_resume_connection(connection);
        return;
    }
    w->next = &ws->head;
    w->prev = ws->head.prev;
    ws->head.prev->next = w;
    ws->head.prev = w;
    w->parked = true;
    ws->parked++;
    pthread_cond_signal(&ws->changed);
    pthread_mutex_unlock(&ws->lock);
}

static void
wake(struct waiters *ws, bool close)
{
    struct waiter *chain;

    pthread_mutex_lock(&ws->lock);
    ws->generation++;
    if (close) {
        ws->closed = true;
    }
    chain = detach(ws, 0, true);
    pthread_mutex_unlock(&ws->lock);
    resume_chain(chain);
}

void
waiters_wake_all(struct waiters *ws)
{
    wake(ws, false);
}

void
waiters_close(struct waiters *ws)
{
    wake(ws, true);
}

unsigned
waiters_parked(struct waiters *ws)
{
    unsigned n;

    pthread_mutex_lock(&ws->lock);
    n = ws->parked;
    pthread_mutex_unlock(&ws->lock);
    return n;
}
