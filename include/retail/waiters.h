/* SPDX-License-Identifier: MIT */
/* Requests parked until the first catalog arrives or their deadline passes.
 *
 * A products request that finds no catalog must not block its HTTP thread
 * (other connections share it), so the access handler suspends its
 * connection (MHD_suspend_connection) and parks it here. It is resumed
 * when a catalog is published (waiters_wake_all, called by the publisher)
 * or when its deadline passes (a timer thread owned by this module), and
 * the handler runs again to answer. Nothing polls.
 *
 *   handler: suspend -> waiters_park ----> resumed by publish | deadline
 *                                                    |
 *   handler runs again: answer from catalog or fallback
 *
 * Threads: waiters_park from the HTTP threads; waiters_wake_all from the
 * publisher and from main at shutdown. One mutex guards the list. */
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

/* Parks w for connection, which the caller has just suspended. When a
 * catalog was already published (or shutdown began) it is resumed at once. */
void waiters_park(struct waiters *ws, struct waiter *w, struct MHD_Connection *connection,
                  int64_t deadline_ms);

/* Resumes every parked connection and lets later parks through at once:
 * call after a catalog is published, and at shutdown. */
void waiters_wake_all(struct waiters *ws);

/* Connections parked now. */
unsigned waiters_parked(struct waiters *ws);

#endif
