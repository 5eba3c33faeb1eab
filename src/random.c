/* SPDX-License-Identifier: MIT */
/* Per-thread xorshift64* seeded from the kernel, for jitter. */
#include "retail/random.h"

#include "retail/clock.h"

#include <string.h>
#include <sys/random.h>

static _Thread_local uint64_t state;

void
random_bytes(void *out, size_t len)
{
    unsigned char *p = out;
    size_t done = 0;

    while (done < len) {
        ssize_t n = getrandom(p + done, len - done, 0);

        if (n <= 0) {
            break;
        }
        done += (size_t)n;
    }
    while (done < len) {
        uint64_t v = random_u64();
        size_t n = len - done < sizeof(v) ? len - done : sizeof(v);

        memcpy(p + done, &v, n);
        done += n;
    }
}

uint64_t
random_u64(void)
{
    if (state == 0) {
        if (getrandom(&state, sizeof(state), 0) != (ssize_t)sizeof(state) || state == 0) {
            state = (uint64_t)clock_mono_ms() * 0x9E3779B97F4A7C15ULL | 1;
        }
    }
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1DULL;
}

int64_t
random_between(int64_t low, int64_t high)
{
    uint64_t span = (uint64_t)(high - low) + 1;

    return span == 0 ? (int64_t)random_u64() : low + (int64_t)(random_u64() % span);
}
