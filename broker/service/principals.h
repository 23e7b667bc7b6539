/* SPDX-License-Identifier: Apache-2.0 */
/*
 * principals: the principal registry's life beyond memory. broker.conf's
 * principals are the bootstrap set; what admins change at run time is
 * stored in LMDB (with an audit entry) and applied over the file at every
 * start; a SIGHUP applies the file again to the principals it still
 * governs. Registering a site principal registers the site.
 */
#ifndef PRINCIPALS_H
#define PRINCIPALS_H

#include "af_error.h"
#include <stdbool.h>
#include "auth.h"

#include "aifed.pb-c.h"

struct svc;
struct bconf;

/* At start: broker.conf's principals, then the stored registry over them.
 * -1 with err set. */
int principals_bootstrap(struct svc *s, struct af_error *err);

/* After a failed commit: the registry as broker.conf and the store say,
 * so that a change the store refused is not in force either. A principal
 * added by the lost batch stays, revoked. -1 when the store cannot be read. */
int principals_restore(struct svc *s);

/* SIGHUP: apply broker.conf's principals again (from old to c): new ones
 * added, changed keys or projects taken, removed ones revoked; those an
 * admin changed at run time follow the registry instead. */
void principals_reload(struct svc *s, const struct bconf *old, const struct bconf *c);

/* p was changed by an admin (by, a principal id): mark it as the
 * registry's, store it and append change to the audit log, into the batch.
 * -1 when the store refused (the batch is failed). */
int principals_save(struct svc *s, const char *by, const struct auth_principal *p,
                    const char *change);

/* The registry entry p as stored and listed, with where each key came
 * from and its notice: msg and the arrays it points into. */
struct principals_msg {
    Aifed__Principal msg;
    char *keys[AUTH_MAX_KEYS];
    Aifed__KeyRecord recs[AUTH_MAX_KEYS];
    Aifed__KeyRecord *rec_ptrs[AUTH_MAX_KEYS];
    Aifed__Enrolment enrols[AUTH_MAX_ENROLLED];
    Aifed__Enrolment *enrol_ptrs[AUTH_MAX_ENROLLED];
};
/* Strings borrowed from p. */
void principals_to_msg(const struct auth_principal *p, struct principals_msg *out);

/* by added key to id (now, by the lease clock): where it came from, and,
 * when tell and by is not id itself, a notice id is told at its next calls
 * until it reads it. Memory only: principals_save() stores it. */
void principals_key_added(struct svc *s, const char *by, const char *id, const char *key,
                          bool tell);

/* A site principal ("site:ID") has its site registered; others, nothing.
 * -1 with errno (ENOMEM). */
int principals_site(struct svc *s, const char *id);

#endif
