/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_time: wall clock for what is stored and shown (Unix epoch milliseconds),
 * and durations in the form admins write them ("500ms", "30s", "5m", "48h").
 */
#ifndef AF_TIME_H
#define AF_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t af_now_ms(void);

/* Milliseconds on CLOCK_MONOTONIC: for durations, which a step of the wall
 * clock must not stretch or cut. */
int64_t af_mono_ms(void);

/* Parse "N[ms|s|m|h|d]" (bare N = seconds) into milliseconds.
 * Returns 0, or -1 with errno EINVAL (syntax) or ERANGE (overflow). */
int af_duration_parse(const char *s, uint64_t *ret_ms);

/* Format ms as the shortest exact form ("90s" -> "90s", "2h", "1500ms"). */
void af_duration_format(uint64_t ms, char *buf, size_t size);

/* Parse a UTC time "2026-12-01T06:00:00Z", "2026-12-01T06:00Z" or
 * "2026-12-01" into epoch ms. -1/EINVAL otherwise. */
int af_time_parse(const char *s, int64_t *ret_ms);

/* Format epoch ms as "2026-11-24T13:05:00Z"; 0 gives "-". */
void af_time_format(int64_t ms, char *buf, size_t size);

#endif
