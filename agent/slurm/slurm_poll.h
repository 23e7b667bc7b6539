/* SPDX-License-Identifier: Apache-2.0 */
/*
 * slurm_poll: reads Slurm in a thread of its own, so that a slow or hung
 * slurmctld never holds the agent's loop (its advertisements, holds, the
 * watchdog). The loop kicks it once per advertisement and takes the newest
 * snapshot when there is one; the thread only runs commands and parses, all
 * decisions stay on the loop's side.
 *
 * Start estimates (sbatch --test-only, one command per partition and size)
 * are slower and wanted less often: the thread runs them after a capacity
 * read, every estimate_interval, and publishes them separately.
 */
#ifndef SLURM_POLL_H
#define SLURM_POLL_H

#include "slurm_cmd.h"
#include "slurm_parse.h"

#include <stdbool.h>

struct aconf_slurm;

/* One read of the site. */
struct slurm_snap {
    int64_t started_ms; /* when the read began (monotonic: it orders events) */
    double seconds;     /* how long it took */
    char error[160];    /* why it failed, or "" */
    struct slurm_node *nodes;
    size_t n_nodes;
    struct slurm_part *parts;
    size_t n_parts;
    struct slurm_resv *resv;
    size_t n_resv;
    struct slurm_job *jobs; /* when asked for (holds exist) */
    size_t n_jobs;
    bool have_jobs;
    bool jobs_only; /* squeue alone (slurm_poll_kick_jobs): no capacity in it */
};

struct slurm_estimate {
    char partition[SLURM_NAME_MAX + 1];
    uint32_t gpus;
    uint32_t wait_s;
};

#define SLURM_MAX_ESTIMATES 256

struct slurm_poll;

/* Start the thread; it reads when kicked. cmd and conf must outlive it. */
struct slurm_poll *slurm_poll_start(const struct slurm_cmd *cmd,
                                    const struct aconf_slurm *conf, struct af_error *err);

/* Stop and join (waits for a command in flight, at most its timeout). */
void slurm_poll_stop(struct slurm_poll *p);

/* Ask for a read; with_jobs adds squeue (only while something is held). */
void slurm_poll_kick(struct slurm_poll *p, bool with_jobs);
/* Ask for squeue alone (a job just submitted is watched), unless a whole
 * read is already asked for. A jobs-only read published while a whole one
 * waits to be taken gives that one its newer jobs instead. */
void slurm_poll_kick_jobs(struct slurm_poll *p);

/* The newest snapshot not yet taken, waiting up to wait_ms for one; NULL if
 * none. The caller frees it with slurm_snap_free. */
struct slurm_snap *slurm_poll_take(struct slurm_poll *p, uint64_t wait_ms);

/* New estimates since the last call: how many were copied into out. */
size_t slurm_poll_estimates(struct slurm_poll *p, struct slurm_estimate *out, size_t max,
                            bool *fresh);

/* One read, as the thread does it (also for tests). */
struct slurm_snap *slurm_snap_read(const struct slurm_cmd *cmd, bool with_jobs);
void slurm_snap_free(struct slurm_snap *s);

#endif
