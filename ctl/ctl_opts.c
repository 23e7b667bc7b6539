/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_opts: the tables, and the helpers every command's parsing shares.
 * Every command's table ends with --help, and all but keygen's with --json
 * before it. */
#include "ctl_opts.h"
#include "ctl.h"
#include "af_time.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct option global[] = {
    {"broker", required_argument, NULL, 'b'},
    {"broker-key", required_argument, NULL, 'B'},
    {"db", required_argument, NULL, 'D'},
    {"key", required_argument, NULL, 'k'},
    {"timeout", required_argument, NULL, 't'},
    {"version", no_argument, NULL, 'V'},
    {"output", required_argument, NULL, 'o'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
/* "+": stop at the command; its options are its own. */
const struct ctl_opts ctl_opts_global = {"+b:B:D:k:t:o:jhV", global};

static const struct option json[] = {
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
const struct ctl_opts ctl_opts_json = {"jh", json};

static const struct option keygen[] = {
    {"dir", required_argument, NULL, 'd'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
const struct ctl_opts ctl_opts_keygen = {"d:h", keygen};

static const struct option sites[] = {
    {"site", required_argument, NULL, 's'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
const struct ctl_opts ctl_opts_sites = {"s:jh", sites};

static const struct option catalog[] = {
    {"site", required_argument, NULL, 's'},
    {"search", required_argument, NULL, 'w'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
const struct ctl_opts ctl_opts_catalog = {"s:w:jh", catalog};

static const struct option gpus[] = {
    {"accelerator", required_argument, NULL, 'a'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
const struct ctl_opts ctl_opts_gpus = {"a:jh", gpus};

static const struct option workload[] = {
    {"project", required_argument, NULL, 'p'},
    {"gpus", required_argument, NULL, 'g'},
    {"accelerator", required_argument, NULL, 'a'},
    {"gpu-memory", required_argument, NULL, 'm'},
    {"nodes", required_argument, NULL, 'n'},
    {"cpus-per-node", required_argument, NULL, 'C'},
    {"memory-per-node", required_argument, NULL, 'M'},
    {"walltime", required_argument, NULL, 'w'},
    {"not-before", required_argument, NULL, 'B'},
    {"start-by", required_argument, NULL, 'D'},
    {"site", required_argument, NULL, 'S'},
    {"country", required_argument, NULL, 'c'},
    {"eu", no_argument, NULL, 'e'},
    {"cert", required_argument, NULL, 'T'},
    {"dataset", required_argument, NULL, '1'},
    {"model", required_argument, NULL, '2'},
    {"image", required_argument, NULL, '3'},
    {"prefer", required_argument, NULL, 'P'},
    {"weights", required_argument, NULL, 'W'},
    {"request-id", required_argument, NULL, 'r'},
    {"task", required_argument, NULL, 'f'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
const struct ctl_opts ctl_opts_workload = {"p:g:a:m:n:C:M:w:B:D:S:c:eT:1:2:3:P:W:r:f:jh",
                                           workload};

static const struct option leases[] = {
    {"site", required_argument, NULL, 's'},
    {"project", required_argument, NULL, 'p'},
    {"state", required_argument, NULL, 't'},
    {"limit", required_argument, NULL, 'l'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
const struct ctl_opts ctl_opts_leases = {"s:p:t:l:jh", leases};

static const struct option lease[] = {
    {"by", required_argument, NULL, 'b'},
    {"reason", required_argument, NULL, 'r'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
const struct ctl_opts ctl_opts_lease = {"b:r:jh", lease};

static const struct option login[] = {
    {"ssh-cert", required_argument, NULL, 'c'},
    {"ssh-key", required_argument, NULL, 'k'},
    {"issuer", required_argument, NULL, 'i'},
    {"client-id", required_argument, NULL, 'C'},
    {"id-token", required_argument, NULL, 't'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
const struct ctl_opts ctl_opts_login = {"c:k:i:C:t:jh", login};

static const struct option whoami[] = {
    {"ack", no_argument, NULL, 'a'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
const struct ctl_opts ctl_opts_whoami = {"ajh", whoami};

static const struct option verify_token[] = {
    {"broker-pub", required_argument, NULL, 'p'},
    {"online", no_argument, NULL, 'o'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
const struct ctl_opts ctl_opts_verify_token = {"p:ojh", verify_token};

static const struct option admin[] = {
    {"project", required_argument, NULL, 'p'},
    {"site", required_argument, NULL, 's'},
    {"gpu-hours", required_argument, NULL, 'g'},
    {"until", required_argument, NULL, 'u'},
    {"pub", required_argument, NULL, 'k'},
    {"projects", required_argument, NULL, 'P'},
    {"since", required_argument, NULL, 'S'},
    {"verify", no_argument, NULL, 'v'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
const struct ctl_opts ctl_opts_admin = {"p:s:g:u:k:P:S:vjh", admin};

int ctl_getopt(int argc, char **argv, const struct ctl_opts *o)
{
    return getopt_long(argc, argv, o->shortopts, o->longopts, NULL);
}

int ctl_opt_common(const struct ctl_command *cmd, struct ctl *ctl, int opt)
{
    if (opt == 'j') {
        ctl->json = true;
        return -1;
    }
    if (opt == 'h') {
        ctl_command_help(cmd);
        return 0;
    }
    return ctl_usage_error(cmd, NULL, NULL);
}

int ctl_usage_error(const struct ctl_command *cmd, const char *fmt, const char *arg)
{
    /* The reason in one line, and where the rest is: not the whole usage. */
    if (fmt) {
        fprintf(stderr, "aifedctl %s: ", cmd->name);
        fprintf(stderr, fmt, arg);
        fputc('\n', stderr);
    } else {
        fprintf(stderr, "usage: aifedctl %s\n", cmd->usage);
    }
    fprintf(stderr, "See 'aifedctl %s --help'.\n", cmd->name);
    return CTL_EXIT_USAGE;
}

void ctl_command_help(const struct ctl_command *cmd)
{
    printf("usage: aifedctl %s\n\n%s", cmd->usage, cmd->help);
}

const struct ctl_verb *ctl_verb_find(const struct ctl_verb *table, const char *word)
{
    for (; table->name; table++)
        if (!strcmp(table->name, word))
            return table;
    return NULL;
}

int ctl_parse_duration(const char *s, uint64_t *ret_ms)
{
    return af_duration_parse_bare(s, AF_BARE_MINUTES, ret_ms);
}

int ctl_parse_when(const char *s, bool ago, int64_t *ret_ms)
{
    int64_t now = af_now_ms();
    uint64_t ms;

    if (af_time_parse_user(s, now, ret_ms) == 0)
        return 0;
    if (ctl_parse_duration(s, &ms) < 0 || ms > (uint64_t)INT64_MAX / 4)
        return -1;
    *ret_ms = ago ? now - (int64_t)ms : now + (int64_t)ms;
    return 0;
}

int ctl_parse_u32(const char *s, uint32_t *ret)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (*s < '0' || *s > '9' || *end || errno || v > UINT32_MAX)
        return -1;
    *ret = (uint32_t)v;
    return 0;
}
