/* SPDX-License-Identifier: MIT */
/* Constant-time API key comparison over fixed-size padded slots. */
#include "retail/auth.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_WORDS (AUTH_KEY_SLOT / sizeof(uint64_t))

struct auth {
    _Atomic unsigned refs;
    size_t count;
    struct {
        uint64_t len;
        uint64_t words[AUTH_WORDS]; /* the key, zero-padded */
    } keys[];
};

struct auth *
auth_create(char *const *keys, size_t count)
{
    struct auth *auth = calloc(1, sizeof(*auth) + count * sizeof(auth->keys[0]));

    if (auth == NULL) {
        return NULL;
    }
    atomic_init(&auth->refs, 1);
    auth->count = count;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(keys[i]);

        if (len == 0 || len > AUTH_KEY_SLOT) {
            auth_unref(auth);
            return NULL;
        }
        auth->keys[i].len = len;
        memcpy(auth->keys[i].words, keys[i], len);
    }
    return auth;
}

struct auth *
auth_ref(struct auth *auth)
{
    atomic_fetch_add_explicit(&auth->refs, 1, memory_order_relaxed);
    return auth;
}

void
auth_unref(struct auth *auth)
{
    if (auth == NULL || atomic_fetch_sub_explicit(&auth->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    explicit_bzero(auth->keys, auth->count * sizeof(auth->keys[0])); /* secrets */
    free(auth);
}

size_t
auth_count(const struct auth *auth)
{
    return auth->count;
}

enum auth_result
auth_check(const struct auth *auth, const char *presented, size_t len)
{
    uint64_t padded[AUTH_WORDS];
    unsigned matched = 0;

    if (presented == NULL || len == 0) {
        return AUTH_MISSING;
    }
    /* Longer than any key can be: no comparison could match. Its length
     * is the caller's own, so refusing it early leaks nothing. */
    if (len > AUTH_KEY_SLOT) {
        return AUTH_INVALID;
    }
    memset(padded, 0, sizeof(padded));
    memcpy(padded, presented, len);
    for (size_t k = 0; k < auth->count; k++) {
        /* Whole slots, a word at a time, no early exit: volatile keeps the
         * compiler from adding one. */
        volatile uint64_t diff = auth->keys[k].len ^ (uint64_t)len;

        for (size_t i = 0; i < AUTH_WORDS; i++) {
            diff |= auth->keys[k].words[i] ^ padded[i];
        }
        matched |= (unsigned)(diff == 0);
    }
    explicit_bzero(padded, sizeof(padded));
    return matched ? AUTH_OK : AUTH_INVALID;
}
