/* SPDX-License-Identifier: MIT */
/* Time helpers: a monotonic clock for deadlines, wall time for display. */
#ifndef RETAIL_CLOCK_H
#define RETAIL_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC; use for every deadline and duration. */
int64_t clock_mono_ms(void);

/* Microseconds on CLOCK_MONOTONIC, for request latencies. */
int64_t clock_mono_us(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME); use for ages and display. */
int64_t clock_wall_ms(void);

/* Fills ts with the absolute CLOCK_MONOTONIC time deadline_ms, for
 * pthread_cond_timedwait on a condition variable set to that clock. */
void clock_mono_timespec(int64_t deadline_ms, struct timespec *ts);

/* Writes wall_ms as ISO 8601 UTC ("2026-12-04T21:00:00Z", or with ".123"
 * when with_millis) into out, which holds at least CLOCK_ISO_MAX bytes. */
#define CLOCK_ISO_MAX 32
void clock_format_iso(int64_t wall_ms, int with_millis, char *out, size_t cap);

#endif
