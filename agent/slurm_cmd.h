/* SPDX-License-Identifier: Apache-2.0 */
/*
 * slurm_cmd: how the agent runs Slurm's commands: from bin_dir (or PATH),
 * with SLURM_CONF when the config names one, under command_timeout. Used
 * from the agent's loop (holds) and from the poller thread (reads); it keeps
 * no state of its own, so both may run commands at once.
 */
#ifndef SLURM_CMD_H
#define SLURM_CMD_H

#include "proc.h"

struct aconf;

struct slurm_cmd {
    const char *bin_dir; /* or NULL: PATH */
    char *env[2];        /* "SLURM_CONF=...", NULL */
    uint64_t timeout_ms;
};

int slurm_cmd_init(struct slurm_cmd *c, const struct aconf *conf, struct af_error *err);
void slurm_cmd_fini(struct slurm_cmd *c);

/* Run args[0] with args[1..] (NULL-terminated). 0 with out filled; -1 with
 * err set ("sinfo --json: <its stderr's first line>", or why it did not
 * run or was killed). out needs proc_out_free in every case. */
int slurm_cmd_run(const struct slurm_cmd *c, struct proc_out *out, struct af_error *err,
                  const char *const *args);

/* The same as the local account user (through sudo -n; NULL: as the
 * agent), with stdin from the file in (NULL: none). */
int slurm_cmd_run_as(const struct slurm_cmd *c, const char *user, const char *in,
                     struct proc_out *out, struct af_error *err, const char *const *args);

#define SLURM_RUN(c, o, err, ...)                                                        \
    slurm_cmd_run(c, o, err, (const char *const[]){__VA_ARGS__, NULL})

#endif
