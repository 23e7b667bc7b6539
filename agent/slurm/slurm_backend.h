/* SPDX-License-Identifier: Apache-2.0 */
/*
 * slurm_backend: what the Slurm executor (sjobs.c) asks of the Slurm
 * backend, and nothing else does: where and as whom a job runs, how Slurm's
 * commands run, and aifed's jobs as the last read of Slurm saw them.
 */
#ifndef SLURM_BACKEND_H
#define SLURM_BACKEND_H

#include "af_error.h"
#include "af_ids.h"

#include <stddef.h>
#include <stdint.h>

struct backend;
struct slurm_cmd;
struct slurm_job;
struct Aifed__Job;

/* The lease's reservation and partition, the local user the user map gives
 * for the job's user, and the Slurm account for its project ("" when none
 * is mapped). -1 with why when it cannot run there. */
struct backend_target {
    char reservation[AF_ID_MAX + 16];
    char partition[AF_ID_MAX + 1];
    char user[AF_ID_MAX + 1];
    char account[AF_ID_MAX + 1];
};
int backend_slurm_target(struct backend *b, const struct Aifed__Job *j,
                         struct backend_target *t, struct af_error *why);
/* How the backend runs Slurm's commands. */
const struct slurm_cmd *backend_slurm_cmd(const struct backend *b);
/* aifed's jobs as the last read of Slurm saw them (borrowed until the next
 * advertisement), and the number of that read (it grows with each). */
uint64_t backend_slurm_jobs(const struct backend *b, const struct slurm_job **jobs,
                            size_t *n);
/* Whether a whole read of Slurm (holds included) has been applied. */
int backend_slurm_read_once(const struct backend *b);
/* The address of node name (its NodeAddr), or name when not known. */
const char *backend_slurm_node_addr(const struct backend *b, const char *name);

#endif
