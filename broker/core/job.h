/* SPDX-License-Identifier: Apache-2.0 */
/*
 * job: what the states of a job (Aifed__JobState) mean, in one place for
 * the broker, its store and aifedctl. A job ends once; an ended job stays
 * as it ended.
 */
#ifndef JOB_H
#define JOB_H

#include <stdbool.h>

/* COMPLETED, FAILED, CANCELLED or TIMEOUT. */
bool job_ended(int state);

/* "QUEUED", "RUNNING", ...; "NEW" for 0 (not stored yet), "?" for others. */
const char *job_state_name(int state);

#endif
