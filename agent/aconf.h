/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aconf: agent.conf, the [agent] section of an INI file: which site this
 * agent speaks for, how to reach the broker, its keys and its backend.
 */
#ifndef ACONF_H
#define ACONF_H

#include "af_conf.h"
#include "af_ids.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* [slurm]: how the Slurm backend reaches the scheduler. */
struct aconf_slurm {
    char *conf;                /* SLURM_CONF for the commands, or NULL: Slurm's default */
    char *bin_dir;             /* where sinfo & co. are, or NULL: PATH */
    struct af_strv partitions; /* advertised; none: every partition with GPUs */
    char *user_map;            /* file: broker users/projects -> local accounts */
    uint64_t command_timeout_ms;
    uint64_t estimate_interval_ms;
    uint32_t estimate_sizes[8]; /* GPUs; none: 1 and a full node */
    size_t n_estimate_sizes;
};

struct aconf {
    char *path;
    char site[AF_ID_MAX + 1];
    char *broker;            /* endpoint */
    char *broker_public_key; /* file, as written */
    char *secret_key;        /* file, as written */
    char *backend;           /* "static" or "slurm" */
    char *site_file;         /* file, as written: the site (static), or what the
                                scheduler does not know (slurm) */
    char *signing_key;       /* Ed25519 file, or NULL: a new key at every start */
    char *metrics_listen;    /* Prometheus endpoint HOST:PORT, or "off" */
    char *jobs_dir;          /* the demo executor's jobs (static backend); the
                                Slurm jobs' records (slurm backend) */
    uint64_t advertise_interval_ms;
    uint64_t max_message;
    /* Who jobs run as and how (exec/runas.h). */
    char *lab;             /* why this agent may run as root, or NULL: it may not */
    char *job_root;        /* jobs' directories: %u the local user, %h its home */
    char *job_helper;      /* the helper run as a job's account */
    char *sudo;            /* how the agent becomes that account */
    char *job_users_group; /* accounts that may run jobs, or NULL: any with a uid */
    uint32_t uid_min;      /* at least this (login.defs' UID_MIN unless set) */
    bool uid_min_set;
    bool demo_jobs;             /* a static site runs jobs itself (local executor) */
    char *demo_jobs_account;    /* ... as this account */
    uint32_t max_jobs_per_user; /* records a site keeps per account at once */
    /* Jobs their users signed (usersig.h). */
    char *user_ca_keys;               /* sshd's TrustedUserCAKeys, or NULL: no checks */
    char *authorized_principals_file; /* %u: the account; NULL: principal = account */
    char *authorized_principals_command; /* ... or a command that prints them (%u) */
    char *ssh_domain;                    /* the domain grant required, or NULL */
    bool require_user_signature;
    struct aconf_slurm slurm;
};

struct aconf *aconf_load(const char *path, struct af_error *err);
void aconf_destroy(struct aconf *c);

/* A path from the file, resolved against its directory; the caller frees. */
char *aconf_path(const struct aconf *c, const char *path);

/* The normalized configuration, for `aifed-agent -n -v`. */
void aconf_print(const struct aconf *c, FILE *out);

#endif
