/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runas: who a job may run as, and how the agent acts as that account. An
 * account may run jobs when it exists, is not root, has a uid of at least
 * uid_min (login.defs' UID_MIN unless set: system accounts never) and at
 * most login.defs' UID_MAX (so not nobody), is not the agent's own account, and, when
 * job_users_group is set, is a member of that group. Checked when the user map is read
 * and again before each job, because accounts change under a running agent.
 *
 * Everything the agent does as an account goes through the job helper,
 * `sudo -n -u ACCOUNT -- JOB_HELPER VERB ...`, always: never directly, even
 * as root, and never as the agent itself.
 */
#ifndef RUNAS_H
#define RUNAS_H

#include "af_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct aconf;

struct runas {
    const char *sudo;   /* borrowed from the config */
    const char *helper; /* likewise */
    uid_t uid_min;
    uid_t uid_max; /* login.defs' UID_MAX: nobody and the like never run jobs */
    uid_t self;
    bool have_group;
    gid_t group;
    char group_name[64];
};

/* From conf; -1 with err when job_users_group names no group. */
int runas_init(struct runas *ra, const struct aconf *conf, struct af_error *err);

/* UID_MIN from /etc/login.defs, or 1000. */
uid_t runas_uid_min_default(void);

/* Whether account name may run jobs here; its uid and home when so. -1
 * with why in words a site admin acts on. */
int runas_check(const struct runas *ra, const char *name, uid_t *ret_uid, char *home,
                size_t home_size, struct af_error *why);

/* argv[0..] = sudo -n -u name -- helper verb; returns how many were set
 * (the caller adds its arguments and the NULL). argv borrows name, verb
 * and ra's strings; max must be at least 8. */
size_t runas_argv(const struct runas *ra, const char *name, const char *verb,
                  char **argv);

/* job_root with %u (the account) and %h (its home) filled in. -1 with why. */
int runas_job_root(const char *job_root, const char *user, const char *home, char *buf,
                   size_t size, struct af_error *why);

/* Whether job_root makes a directory per account (has %u or %h): a shared
 * one would let one local user prepare another's job directory. */
bool runas_job_root_ok(const char *job_root);

#endif
