/* SPDX-License-Identifier: MIT */
/* Per-thread cache of finished MHD responses for products answers. */
#include "retail/answer_cache.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct answer_slot {
    struct answer_key key;
    struct MHD_Response *response;
};

struct answer_table {
    struct answer_slot slots[ANSWER_CACHE_SLOTS];
};

static pthread_key_t table_key;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static _Thread_local struct answer_table *table;

static void
table_free(void *arg)
{
    struct answer_table *t = arg;

    for (size_t i = 0; i < ANSWER_CACHE_SLOTS; i++) {
        if (t->slots[i].response != NULL) {
            MHD_destroy_response(t->slots[i].response);
        }
    }
    free(t);
}

static void
table_key_create(void)
{
    pthread_key_create(&table_key, table_free);
}

static size_t
slot_of(const struct answer_key *k)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a over the varying fields */
    const uint64_t words[] = {(uint64_t)(uintptr_t)k->catalog,
                              k->generation,
                              (uint64_t)k->age_s,
                              k->kind,
                              k->limit,
                              k->offset,
                              k->page};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        h = (h ^ words[i]) * 1099511628211ULL;
    }
    for (uint32_t i = 0; i < k->text_len; i++) {
        h = (h ^ (unsigned char)k->text[i]) * 1099511628211ULL;
    }
    return (size_t)(h ^ (h >> 32)) % ANSWER_CACHE_SLOTS;
}

static bool
same_key(const struct answer_key *a, const struct answer_key *b)
{
    return a->catalog == b->catalog && a->generation == b->generation && a->age_s == b->age_s &&
           a->kind == b->kind && a->limit == b->limit && a->offset == b->offset &&
           a->page == b->page && a->text_len == b->text_len &&
           memcmp(a->text, b->text, a->text_len) == 0;
}

struct MHD_Response *
answer_cache_get(const struct answer_key *key)
{
    struct answer_slot *slot;

    if (table == NULL) {
        return NULL;
    }
    slot = &table->slots[slot_of(key)];
    return slot->response != NULL && same_key(&slot->key, key) ? slot->response : NULL;
}

void
answer_cache_put(const struct answer_key *key, struct MHD_Response *response, size_t size)
{
    struct answer_slot *slot;

    if (size > ANSWER_CACHE_MAX_BYTES) {
        MHD_destroy_response(response);
        return;
    }
    if (table == NULL) {
        pthread_once(&table_once, table_key_create);
        table = calloc(1, sizeof(*table));
        if (table == NULL) {
            MHD_destroy_response(response);
            return;
        }
        pthread_setspecific(table_key, table); /* freed when the thread exits */
    }
    slot = &table->slots[slot_of(key)];
    if (slot->response != NULL) {
        MHD_destroy_response(slot->response); /* connections still sending it keep theirs */
    }
    slot->key = *key;
    slot->response = response;
}
