/* SPDX-License-Identifier: Apache-2.0 */
/*
 * slurm_cmd: how the agent runs Slurm's commands: from bin_dir (or PATH),
 * with SLURM_CONF when the config names one, under command_timeout. Used
 * from the poller thread (reads) and the hold worker; it keeps no state of
 * its own, so both may run commands at once.
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

/* The absolute path of Slurm's command name (bin_dir's, else the first in
 * PATH), for the job helper, which runs it as a job's account. */
int slurm_cmd_path(const struct slurm_cmd *c, const char *name, char *buf, size_t size);
/* The slurm.conf the commands use, or "-" for Slurm's default. */
const char *slurm_cmd_conf(const struct slurm_cmd *c);

#define SLURM_RUN(c, o, err, ...)                                                        \
    slurm_cmd_run(c, o, err, (const char *const[]){__VA_ARGS__, NULL})

#endif
