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

/* How a bare number of a duration reads: seconds (the daemons' settings,
 * --timeout), or minutes (what a user asks of a job, as sbatch --time). */
enum af_bare { AF_BARE_SECONDS, AF_BARE_MINUTES };

/* Parse a duration into milliseconds: "N[d|h|m|s|ms]" and compounds of them
 * in that order ("1h30m", "2d4h"), Slurm's MM:SS, HH:MM:SS, D-HH, D-HH:MM
 * and D-HH:MM:SS, or a bare number (bare says of what). Returns 0, or -1
 * with errno EINVAL (syntax) or ERANGE (overflow). */
int af_duration_parse_bare(const char *s, enum af_bare bare, uint64_t *ret_ms);
/* The same with bare seconds. */
int af_duration_parse(const char *s, uint64_t *ret_ms);
/* The forms, for a message that says what to type. */
#define AF_DURATION_FORMS "like 90m, 1h30m, 2d4h, HH:MM:SS or D-HH:MM:SS"

/* A time as a user types it, into epoch ms: now, now+DURATION or
 * now-DURATION (bare seconds, as sbatch --begin), HH:MM[:SS] today, today
 * or tomorrow HH:MM[:SS], YYYY-MM-DD (midnight), or YYYY-MM-DD[T ]HH:MM[:SS]
 * followed by Z, an offset (+02:00, -0500) or nothing (local time). now_ms
 * is now. -1/EINVAL otherwise. */
int af_time_parse_user(const char *s, int64_t now_ms, int64_t *ret_ms);
#define AF_TIME_FORMS                                                                    \
    "like 2026-12-02T06:00 (local), 2026-12-02T06:00Z, 2026-12-02T06:00+02:00, "         \
    "tomorrow 06:00, 18:30, or now+2h"

/* How far ms is from now_ms, in at most two units: "in 1h58m", "3m ago",
 * "now" (within a second). */
void af_time_relative(int64_t ms, int64_t now_ms, char *buf, size_t size);
/* ms in the local time zone, with how far it is: "2026-12-02 19:04 CET (in
 * 1h58m)"; 0 gives "-". For people at a terminal; scripts get
 * af_time_format's UTC. */
void af_time_format_local(int64_t ms, int64_t now_ms, char *buf, size_t size);

/* Format ms as the shortest exact form ("90s" -> "90s", "2h", "1500ms"). */
void af_duration_format(uint64_t ms, char *buf, size_t size);

/* Parse a UTC time "2026-12-01T06:00:00Z", "2026-12-01T06:00Z" or
 * "2026-12-01" into epoch ms. -1/EINVAL otherwise. */
int af_time_parse(const char *s, int64_t *ret_ms);

/* Format epoch ms as "2026-11-24T13:05:00Z"; 0 gives "-". */
void af_time_format(int64_t ms, char *buf, size_t size);

#endif
