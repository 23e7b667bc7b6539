/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_opts: every option table of aifedctl in one place, as bgpctl keeps its
 * token tables in parser.c: each table's short options beside its long ones,
 * so that the two cannot drift apart, and the options all commands share
 * (--json, --help) handled once.
 */
#ifndef CTL_OPTS_H
#define CTL_OPTS_H

#include "ctl.h"

#include <getopt.h>

struct ctl_opts {
    const char *shortopts;
    const struct option *longopts;
};

/* The global options (before the command), and each command's. */
extern const struct ctl_opts ctl_opts_global;
extern const struct ctl_opts ctl_opts_json; /* --json and --help only */
extern const struct ctl_opts ctl_opts_keygen;
extern const struct ctl_opts ctl_opts_sites;
extern const struct ctl_opts ctl_opts_catalog;
extern const struct ctl_opts ctl_opts_gpus;
extern const struct ctl_opts ctl_opts_workload; /* submit, explain */
extern const struct ctl_opts ctl_opts_leases;
extern const struct ctl_opts ctl_opts_lease;
extern const struct ctl_opts ctl_opts_verify_token;
extern const struct ctl_opts ctl_opts_whoami;
extern const struct ctl_opts ctl_opts_login;
extern const struct ctl_opts ctl_opts_admin;

/* getopt_long over o: the next option, or -1 when there are no more. */
int ctl_getopt(int argc, char **argv, const struct ctl_opts *o);

/* An option the command's own switch did not take: --json sets ctl->json
 * (-1: go on), --help prints the command's help (0: exit 0), anything else
 * is bad usage (CTL_EXIT_USAGE, the usage printed). */
int ctl_opt_common(const struct ctl_command *cmd, struct ctl *ctl, int opt);

#endif
