/* SPDX-License-Identifier: Apache-2.0 */
/*
 * executor: how a site runs jobs, behind one interface the loop knows, as
 * flux-core's job-exec keeps its implementations (init, start, kill, ...).
 * One is chosen at start from the backend and the config:
 *   slurm  (agent/slurm/sjobs.c): sbatch as the job's user, in its lease's
 *          reservation; Slurm is the state;
 *   local  (agent/local/ljobs.c): the demo executor, a static site running
 *          jobs itself as one separate account, only with demo_jobs = yes;
 *   none:  no executor: a StartJob is answered "runs no jobs".
 * Both act as the job's account only through the job helper (exec/runas.h)
 * and never open a file in a job's directory themselves; neither blocks
 * the loop (exec/aproc.h, exec/follow.h).
 */
#ifndef EXECUTOR_H
#define EXECUTOR_H

#include "af_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct executor;
struct aconf;
struct backend;
struct backend_ops;
struct runas;
struct aproc_pool;
struct follow_pool;
struct follow_piece;
struct Aifed__Job;

/* A job's state changed (or is said again): state (Aifed__JobState), exit
 * code, why in words, the site's id for it and the account it runs as. */
typedef void (*executor_report_fn)(const char *job_id, int state, int exit_code,
                                   const char *reason, const char *site_job_id,
                                   const char *account, void *arg);
/* A piece of output asked for with read_log (struct follow_piece). */
typedef void (*executor_log_fn)(const struct follow_piece *p, void *arg);

/* What an executor is given; all borrowed, and outlive it. */
struct executor_env {
    uv_loop_t *loop;
    const struct aconf *conf;
    const struct backend_ops *bops;
    struct backend *b; /* replaced through set_backend */
    const struct runas *runas;
    struct aproc_pool *procs;
    struct follow_pool *follow;
    executor_report_fn report;
    void *arg;
};

struct executor_ops {
    const char *name;
    /* NULL with err set. */
    struct executor *(*create)(const struct executor_env *env, struct af_error *err);
    /* Jobs keep running (a Slurm job) or are stopped (the demo executor's:
     * they never outlive their agent). */
    void (*destroy)(struct executor *x);
    /* Start job; one known here (the broker asks again after a reconnect)
     * is reported as it is instead. 0: taken (its state is reported as it
     * changes); -1 with why: refused. */
    int (*start)(struct executor *x, const struct Aifed__Job *job, struct af_error *why);
    /* The local account job would run as: 0, or -1 with why. Optional: a
     * site that checks users' signatures (usersig.h) needs it. */
    int (*account)(struct executor *x, const struct Aifed__Job *job, char *buf,
                   size_t size, struct af_error *why);
    /* The host job_id runs on, as the site says ("" or NULL when it does
     * not know): where a replica's port is reached (replicas.h). */
    const char *(*node)(struct executor *x, const char *job_id);
    /* Stop one job, or every job of a lease; each reports CANCELLED. */
    void (*cancel)(struct executor *x, const char *job_id, const char *reason);
    void (*cancel_lease)(struct executor *x, const char *lease_id, const char *reason);
    /* Up to max bytes of job_id's output from offset: reply is called once,
     * now or later; -1/ENOENT (and no reply) when the job is not known. */
    int (*read_log)(struct executor *x, const char *job_id, uint64_t offset, uint32_t max,
                    executor_log_fn reply, void *arg);
    /* After each advertisement: what the site says of the jobs; ended
     * records leave memory. */
    void (*poll)(struct executor *x);
    /* Whether a job just submitted is still queued (the loop then reads the
     * site between advertisements). Optional. */
    bool (*starting)(const struct executor *x);
    /* The agent read its site again (SIGHUP): the backend env.b named is
     * gone, this is the new one. Required of an executor that keeps env.b. */
    void (*set_backend)(struct executor *x, struct backend *b);
    /* Job records in memory. */
    size_t (*count)(const struct executor *x);
};

extern const struct executor_ops executor_slurm_ops;
extern const struct executor_ops executor_local_ops;

/* The executor for this config and backend, or NULL: none (a static site
 * without demo_jobs). */
const struct executor_ops *executor_find(const struct aconf *conf,
                                         const struct backend_ops *bops);

#endif
