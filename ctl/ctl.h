/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl: what aifedctl's command files share. Commands are a table (name,
 * handler, usage, help), as bgpctl's are, and a command with verbs ("lease
 * show", "admin principal add") looks its verb up in a nested table of its
 * own. Each parses its options with getopt_long. Exit status: 0 done, 1 the
 * broker refused or failed, 2 bad usage, 3 the broker could not be reached.
 */
#ifndef CTL_H
#define CTL_H

#include "af_time.h"

#include <stdbool.h>
#include <stdint.h>

#define CTL_EXIT_USAGE 2

struct ctl_config;

/* The global options. */
struct ctl {
    const char *db; /* --db STATE_DIR: read LMDB directly */
    const char *broker;
    const char *broker_key;
    const char *key;
    uint64_t timeout_ms;
    bool timeout_set;
    bool json;
    const struct ctl_config *config; /* where the above came from */
};

struct ctl_command {
    const char *name;
    int (*run)(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);
    const char *usage;
    const char *help;
};

/* A verb of a command, and how many words follow it (-1: its own verbs);
 * run gets them after the verb (argv[0] is the verb), and the command for
 * its usage errors. */
struct ctl_verb {
    const char *name;
    int (*run)(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);
    int words;
};

/* The row of table (ended by a { NULL } row) for word, or NULL. */
const struct ctl_verb *ctl_verb_find(const struct ctl_verb *table, const char *word);

/* Print "aifedctl CMD: " fmt (with arg) and the command's usage; returns
 * CTL_EXIT_USAGE. fmt NULL prints only the usage. */
int ctl_usage_error(const struct ctl_command *cmd, const char *fmt, const char *arg);
/* The command's usage and help, on stdout. */
void ctl_command_help(const struct ctl_command *cmd);

/* For commands whose only options are --json and --help: -1 to go on, or
 * the exit status. */
int ctl_parse_json_only(const struct ctl_command *cmd, struct ctl *ctl, int argc,
                        char **argv);

/* A decimal count that fits 32 bits; -1 otherwise. */
int ctl_parse_u32(const char *s, uint32_t *ret);

/* A duration a user typed for a job or a lease: a bare number is minutes,
 * as sbatch --time reads it (af_duration_parse_bare). -1 otherwise. */
int ctl_parse_duration(const char *s, uint64_t *ret_ms);
/* A time a user typed (af_time_parse_user), or a duration from now (ago:
 * before now), into epoch ms. -1 otherwise. */
int ctl_parse_when(const char *s, bool ago, int64_t *ret_ms);
/* What ctl_parse_duration and ctl_parse_when take, for their messages. */
#define CTL_DURATION_HELP                                                                \
    AF_DURATION_FORMS "; a bare number is minutes, as in sbatch --time"
#define CTL_WHEN_HELP AF_TIME_FORMS ", or a duration like 2h"

/* The command files' commands. */
int ctl_cmd_submit(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);
int ctl_cmd_task(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);
int ctl_cmd_run(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);
int ctl_cmd_jobs(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);
int ctl_cmd_job(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);
int ctl_cmd_logs(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);
int ctl_cmd_explain(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                    char **argv);
int ctl_cmd_leases(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);
int ctl_cmd_lease(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);
int ctl_cmd_request(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                    char **argv);
int ctl_cmd_verify_token(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                         char **argv);
int ctl_cmd_admin(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);
int ctl_cmd_complete(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                     char **argv);

#endif
