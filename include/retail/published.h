/* SPDX-License-Identifier: MIT */
/* A value published by swapping one pointer, and read without locks.
 *
 * The value is reference-counted by its own type (ref and unref given at
 * init). A writer publishes a new value, taking the caller's reference; the
 * previous value is released when its last holder lets go. Readers have two
 * ways in:
 * - published_acquire: a reference of their own (release it with the
 *   type's unref), taken under a mutex that only guards the pointer.
 * - published_peek: the hot path of long-lived threads. Each thread keeps
 *   one reference per published value and swaps it only when a generation
 *   number moved, so a read costs one load of a shared word, no lock and no
 *   write. The references are released when the thread exits; until then an
 *   idle thread may keep a replaced value alive.
 *
 * Threads: any thread may call anything; a thread may peek up to
 * PUBLISHED_PEEK_SLOTS values at once. */
#ifndef RETAIL_PUBLISHED_H
#define RETAIL_PUBLISHED_H

#include <pthread.h>
#include <stdint.h>

#define PUBLISHED_PEEK_SLOTS 8

typedef void *(*published_ref_fn)(void *value);
typedef void (*published_unref_fn)(void *value);

/* Owned by the caller (init/deinit); never copied once in use. */
struct published {
    pthread_mutex_t lock; /* guards current and taking a reference to it */
    void *current;
    _Atomic uint64_t generation; /* moved on after current changes */
    uint64_t id;                 /* tells values apart, even at a reused address */
    published_ref_fn ref;
    published_unref_fn unref;
};

/* Starts empty (NULL) with the value type's reference functions. */
void published_init(struct published *p, published_ref_fn ref, published_unref_fn unref);

/* Releases the value in place. Threads that peeked keep theirs until
 * they exit: stop them first. */
void published_deinit(struct published *p);

/* Puts value (*taken*, may be NULL) in place; returns the new generation. */
uint64_t published_set(struct published *p, void *value);

/* A *new* reference to the value in place, or NULL. */
void *published_acquire(struct published *p);

/* The value as this thread last saw it, refreshed when the generation
 * moved: *borrowed*, valid until this thread peeks at p again or exits.
 * *generation (may be NULL) receives the generation it belongs to.
 * Returns NULL if nothing is published (or this thread has no slot left). */
const void *published_peek(struct published *p, uint64_t *generation);

#endif
