/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jobs: the demo executor. For a static site (the demo federation, tests)
 * the agent runs a job itself, as a local process in its own directory
 * under jobs_dir, with its time limit enforced, and says so at the top of
 * the job's output. A Slurm site does not use this (its jobs go to sbatch).
 *
 * Each job runs `sh job.sh` in a session of its own, so that stopping it
 * (its user's cancel, its lease's end, its time limit) reaches every
 * process it started. What it writes goes to output.log there.
 */
#ifndef JOBS_H
#define JOBS_H

#include "af_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct jobs;
struct Aifed__Job;

/* A job's state changed: state (Aifed__JobState), exit code, why in words,
 * the site's id for it (pid-N) and the account it runs as. */
typedef void (*jobs_report_fn)(const char *job_id, int state, int exit_code,
                               const char *reason, const char *site_job_id,
                               const char *account, void *arg);

struct jobs *jobs_create(uv_loop_t *loop, const char *dir, jobs_report_fn report,
                         void *arg);
/* Stop every job (SIGTERM to its session) and close the handles; run the
 * loop once more before closing it. */
void jobs_destroy(struct jobs *j);

/* Whether job was started here before (the broker asks again when the
 * agent connects); if so, how it is now is reported again. */
bool jobs_again(struct jobs *j, const struct Aifed__Job *job);
/* Start job (reported RUNNING once it is). 0 also when it was started
 * before (jobs_again); -1 with why. */
int jobs_start(struct jobs *j, const struct Aifed__Job *job, struct af_error *why);
/* Stop a job, or every job of a lease; each reports CANCELLED with reason
 * when it has exited. */
void jobs_stop(struct jobs *j, const char *job_id, const char *reason);
void jobs_stop_lease(struct jobs *j, const char *lease_id, const char *reason);
/* Up to max bytes (at most AF_WIRE_MAX_LOG_CHUNK) of a job's output from
 * offset, into buf and out (which borrows job_id and buf). -1/ENOENT when
 * this site has no output for it. */
struct Aifed__JobLog;
int jobs_read_log(struct jobs *j, const char *job_id, uint64_t offset, uint32_t max,
                  uint8_t *buf, struct Aifed__JobLog *out);
/* Up to max bytes of the file at path from offset into buf (got), and its
 * size; -1/ENOENT when it cannot be opened. For both executors. */
int jobs_read_file(const char *path, uint64_t offset, uint32_t max, uint8_t *buf,
                   size_t *got, uint64_t *size);
/* out as the piece of job_id's output in buf; at its end when the job has
 * ended and the piece reaches size. */
void jobs_log_piece(struct Aifed__JobLog *out, const char *job_id, uint64_t offset,
                    uint8_t *buf, size_t got, uint64_t size, bool ended);
/* Jobs running now. */
size_t jobs_running(const struct jobs *j);

#endif
