/* SPDX-License-Identifier: Apache-2.0 */
/*
 * job: what the states of a job (Aifed__JobState) mean, in one place for
 * the broker, its store and aifedctl. A job ends once; an ended job stays
 * as it ended.
 */
#ifndef JOB_H
#define JOB_H

#include <stdbool.h>
#include <stdint.h>

/* COMPLETED, FAILED, CANCELLED or TIMEOUT. */
bool job_ended(int state);

/* "QUEUED", "RUNNING", ...; "NEW" for 0 (not stored yet), "?" for others. */
const char *job_state_name(int state);

/* The state named name ("running", "RUNNING"), or 0 when none is. */
int job_state_parse(const char *name);

/* End j at now in state (an ended one) for reason (borrowed: j points at
 * it), with what it used: its lease's GPUs for as long as it ran, in whole
 * seconds rounded up; nothing if it never started. */
struct Aifed__Job;
struct Aifed__JobSpec;
void job_finish(struct Aifed__Job *j, int state, const char *reason, int64_t now_ms);

/* What a list shows of an unpacked spec: its name, image and time limit,
 * and the first line of run; the scripts, variables and files are freed. */
void job_strip(struct Aifed__JobSpec *spec);

/* Whether a site's report st (state, its job id and account there, and a
 * replica's node, port and readiness) changes j: an ended job stays as it
 * ended, a report of QUEUED never takes a job back, and one that says what
 * j says already changes nothing. */
struct Aifed__JobStatus;
bool job_report_changes(const struct Aifed__Job *j, const struct Aifed__JobStatus *st);

/* What the broker keeps of an ended job's spec: its variables' names and
 * its files' names and sizes; their values and bytes are freed, and
 * dropped_sha256 says what they were (aifed.proto). spec must be an
 * unpacked message (its strings its own); idempotent. */
void job_drop_contents(struct Aifed__JobSpec *spec);

#endif
