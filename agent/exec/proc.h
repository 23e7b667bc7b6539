/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proc: run a scheduler command and collect what it prints, within a time
 * limit. A command that hangs (a slurmctld that does not answer) is killed
 * with its process group when the limit passes. It waits for the command
 * (poll, then waitpid): only the Slurm reader thread uses it; the agent's
 * loop runs its commands through aproc, which never waits.
 */
#ifndef PROC_H
#define PROC_H

#include "af_error.h"

#include <stddef.h>
#include <stdint.h>

struct proc_out {
    char *text; /* stdout, NUL-terminated; proc_out_free in every case */
    size_t len;
    char err[512]; /* the start of stderr, NUL-terminated */
};

/* Run argv[0] (looked up in PATH) with extra environment entries env
 * ("NAME=VALUE", NULL-terminated, may be NULL) added. Keeps at most max_out
 * bytes of stdout. Returns the exit status (0..255) and fills out, or -1 with
 * err set when it could not run, was killed, or took longer than timeout_ms. */
int proc_run(char *const argv[], char *const env[], uint64_t timeout_ms, size_t max_out,
             struct proc_out *out, struct af_error *err);

void proc_out_free(struct proc_out *out);

#endif
