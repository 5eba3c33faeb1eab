/* SPDX-License-Identifier: MIT */
/* API key checking in constant time.
 *
 * Every configured key sits zero-padded in a slot of AUTH_KEY_SLOT bytes;
 * a presented key is padded the same way and compared with every slot,
 * byte by byte, without stopping early, so the time taken depends neither
 * on where a key differs nor on which key matched nor on key lengths.
 * A set is immutable after creation and reference-counted, so a reload can
 * swap in a new set (see published.h) while requests still check the old
 * one. Any thread may check keys. */
#ifndef RETAIL_AUTH_H
#define RETAIL_AUTH_H

#include <stddef.h>

#define AUTH_KEY_SLOT 256

enum auth_result {
    AUTH_OK = 0,
    AUTH_MISSING, /* no key presented */
    AUTH_INVALID, /* a key that matches none */
};

struct auth;

/* New key set from count keys of at most AUTH_KEY_SLOT bytes each (copied).
 * NULL on allocation failure or an overlong or empty key. */
struct auth *auth_create(char *const *keys, size_t count);

/* Takes another reference; returns auth. */
struct auth *auth_ref(struct auth *auth);

/* Drops a reference; the last one wipes and frees the set. Accepts NULL. */
void auth_unref(struct auth *auth);

/* The number of keys in the set. */
size_t auth_count(const struct auth *auth);

/* Checks a presented key (NULL when the header is absent). */
enum auth_result auth_check(const struct auth *auth, const char *presented, size_t len);

#endif
