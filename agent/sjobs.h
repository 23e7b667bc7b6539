/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sjobs: jobs at a Slurm site. A job is a batch script given to sbatch, as
 * the job's user's own local account (sudo -n -u ACCOUNT, never root or the
 * agent's account), into its lease's reservation and partition, with its
 * time limit. The script makes the job's directory under job_root, owned by
 * that account, puts the task's files there, and writes output.log.
 *
 * Slurm is the state: each read of the site (squeue, by the backend's
 * reader thread) says how aifed's jobs are doing, and a change reaches the
 * broker as a JobStatus. A small record per job in jobs_dir (the agent's
 * own) says which Slurm job it is, so that after an agent restart a job is
 * found again, and a StartJob sent again is answered, never submitted twice.
 */
#ifndef SJOBS_H
#define SJOBS_H

#include "af_error.h"
#include "jobs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sjobs;
struct aconf;
struct backend;
struct Aifed__Job;
struct Aifed__JobLog;

/* The records in conf's jobs_dir are read again; NULL with err set. */
struct sjobs *sjobs_create(const struct aconf *conf, struct backend *b,
                           jobs_report_fn report, void *arg, struct af_error *err);
void sjobs_destroy(struct sjobs *sj);
/* The agent read its site again (SIGHUP): the new backend. */
void sjobs_set_backend(struct sjobs *sj, struct backend *b);

/* As in jobs.h: whether job is known here (its state then reported again);
 * start one; stop one or a lease's; a piece of its output. */
bool sjobs_again(struct sjobs *sj, const struct Aifed__Job *job);
int sjobs_start(struct sjobs *sj, const struct Aifed__Job *job, struct af_error *why);
void sjobs_stop(struct sjobs *sj, const char *job_id, const char *reason);
void sjobs_stop_lease(struct sjobs *sj, const char *lease_id, const char *reason);
int sjobs_read_log(struct sjobs *sj, const char *job_id, uint64_t offset, uint32_t max,
                   uint8_t *buf, struct Aifed__JobLog *out);

/* After each advertisement: what the newest read of Slurm says of the jobs. */
void sjobs_sync(struct sjobs *sj);
/* Whether a job given to sbatch in the last 30 s is still queued: while one
 * is, the agent reads Slurm back to back, so that its start reaches the
 * broker within a read (~0.1 s), not an advertisement interval. */
bool sjobs_starting(const struct sjobs *sj);

#endif
