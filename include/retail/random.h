/* SPDX-License-Identifier: MIT */
/* Random numbers for jitter and instance ids: not for secrets.
 *
 * Each thread has its own xorshift state, seeded from getrandom(2) on
 * first use, so any thread may call these without locks. */
#ifndef RETAIL_RANDOM_H
#define RETAIL_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* A uniformly distributed 64-bit value. */
uint64_t random_u64(void);

/* A value in [low, high] (high >= low). */
int64_t random_between(int64_t low, int64_t high);

/* Fills out with len random bytes from the kernel (getrandom), falling back
 * to random_u64 if the kernel refuses. */
void random_bytes(void *out, size_t len);

#endif
