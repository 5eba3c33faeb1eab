/* SPDX-License-Identifier: MIT */
/* Requests parked until the first catalog arrives or their deadline passes.
 *
 * A products request that finds no catalog must not block its HTTP thread
 * (other connections share it), so the access handler suspends its
 * connection (MHD_suspend_connection) and parks it here. It is resumed
 * when something changes that it waits on (a catalog is published, or the
 * refresh it waits for fails: waiters_wake_all) or when its deadline
 * passes (a timer thread owned by this module), and the handler runs again
 * to answer. Nothing polls.
 *
 * A generation counter closes the race between deciding to wait and
 * parking: the handler reads waiters_generation() before it looks at the
 * catalog and the breaker, and waiters_park resumes it at once if a wake-up
 * happened in between.
 *
 *   handler: suspend -> waiters_park ----> resumed by publish | deadline
 *                                                    |
 *   handler runs again: answer from catalog or fallback
 *
 * Threads: waiters_park from the HTTP threads; waiters_wake_all from the
 * refresher; waiters_close from main at shutdown. One mutex guards the
 * list. */
#ifndef RETAIL_WAITERS_H
#define RETAIL_WAITERS_H

#include <stdbool.h>
#include <stdint.h>

struct MHD_Connection;
struct waiters;

/* A parked request: embedded in the request's own state, which must stay
 * valid until the connection is resumed. Zero it before the first park. */
struct waiter {
    struct waiter *prev, *next;
    struct MHD_Connection *connection;
    int64_t deadline_ms; /* monotonic */
    bool parked;
};

/* New waiter list with its timer thread; NULL on failure. */
struct waiters *waiters_create(void);

/* Resumes every parked connection, stops the timer thread and frees the
 * list; accepts NULL. Call waiters_wake_all and stop the HTTP daemon first. */
void waiters_destroy(struct waiters *ws);

/* The current generation: read it before deciding to wait. */
uint64_t waiters_generation(struct waiters *ws);

/* Parks w for connection, which the caller has just suspended, until
 * deadline_ms (monotonic). If the generation moved since the caller read
 * it, or the list is closed, the connection is resumed at once. */
void waiters_park(struct waiters *ws, struct waiter *w, struct MHD_Connection *connection,
                  int64_t deadline_ms, uint64_t generation);

/* Resumes every parked connection and moves the generation on. */
void waiters_wake_all(struct waiters *ws);

/* Resumes everything and makes every later park resume at once: shutdown. */
void waiters_close(struct waiters *ws);

/* Connections parked now. */
unsigned waiters_parked(struct waiters *ws);

#endif
