/* SPDX-License-Identifier: MIT */
/* Pointer publication with per-thread references swapped by generation. */
#include "retail/published.h"

#include <stdatomic.h>
#include <stdlib.h>

/* What one thread holds for one published value. */
struct peek_slot {
    uint64_t owner; /* the id of the published value; 0 = free */
    uint64_t generation;
    void *held;
    published_unref_fn unref;
};

struct peek_slots {
    struct peek_slot slot[PUBLISHED_PEEK_SLOTS];
};

static _Atomic uint64_t published_ids;
static pthread_key_t slots_key;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;
static _Thread_local struct peek_slots *thread_slots;

static void
slots_free(void *arg)
{
    struct peek_slots *slots = arg;

    for (size_t i = 0; i < PUBLISHED_PEEK_SLOTS; i++) {
        if (slots->slot[i].held != NULL) {
            slots->slot[i].unref(slots->slot[i].held);
        }
    }
    free(slots);
}

static void
slots_key_create(void)
{
    pthread_key_create(&slots_key, slots_free);
}

void
published_init(struct published *p, published_ref_fn ref, published_unref_fn unref)
{
    pthread_mutex_init(&p->lock, NULL);
    p->current = NULL;
    atomic_init(&p->generation, 0);
    p->id = atomic_fetch_add(&published_ids, 1) + 1;
    p->ref = ref;
    p->unref = unref;
}

void
published_deinit(struct published *p)
{
    if (p->current != NULL) {
        p->unref(p->current);
        p->current = NULL;
    }
    pthread_mutex_destroy(&p->lock);
}

uint64_t
published_set(struct published *p, void *value)
{
    void *old;
    uint64_t generation;

    pthread_mutex_lock(&p->lock);
    old = p->current;
    p->current = value;
    generation = atomic_fetch_add_explicit(&p->generation, 1, memory_order_release) + 1;
    pthread_mutex_unlock(&p->lock);
    if (old != NULL) {
        p->unref(old); /* freed here unless a reader still holds it */
    }
    return generation;
}

void *
published_acquire(struct published *p)
{
    void *value;

    pthread_mutex_lock(&p->lock);
    value = p->current != NULL ? p->ref(p->current) : NULL;
    pthread_mutex_unlock(&p->lock);
    return value;
}

/* This thread's slot for p, claimed on first use. */
static struct peek_slot *
slot_for(struct published *p)
{
    struct peek_slot *free_slot = NULL;

    if (thread_slots == NULL) {
        pthread_once(&slots_once, slots_key_create);
        thread_slots = calloc(1, sizeof(*thread_slots));
        if (thread_slots == NULL) {
            return NULL;
        }
        pthread_setspecific(slots_key, thread_slots); /* released when the thread exits */
    }
    for (size_t i = 0; i < PUBLISHED_PEEK_SLOTS; i++) {
        struct peek_slot *slot = &thread_slots->slot[i];

        if (slot->owner == p->id) {
            return slot;
        }
        if (free_slot == NULL && slot->owner == 0) {
            free_slot = slot;
        }
    }
    if (free_slot != NULL) {
        free_slot->owner = p->id;
        free_slot->unref = p->unref;
        free_slot->generation = UINT64_MAX; /* stale: filled on first peek */
    }
    return free_slot;
}

const void *
published_peek(struct published *p, uint64_t *generation)
{
    uint64_t now = atomic_load_explicit(&p->generation, memory_order_acquire);
    struct peek_slot *slot = slot_for(p);

    if (slot == NULL) {
        return NULL;
    }
    if (slot->generation != now) {
        void *old = slot->held;

        pthread_mutex_lock(&p->lock);
        slot->held = p->current != NULL ? p->ref(p->current) : NULL;
        slot->generation = atomic_load_explicit(&p->generation, memory_order_relaxed);
        pthread_mutex_unlock(&p->lock);
        if (old != NULL) {
            p->unref(old);
        }
    }
    if (generation != NULL) {
        *generation = slot->generation;
    }
    return slot->held;
}
