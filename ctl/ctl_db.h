/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_db: aifedctl --db STATE_DIR. The broker's LMDB opened read-only, for
 * admins on the broker host: it works while the broker runs (LMDB readers
 * never block the writer) and while it is down. Whoever can read the state
 * directory sees everything; the broker's per-principal rules do not apply.
 */
#ifndef CTL_DB_H
#define CTL_DB_H

#include <stdbool.h>
#include <stdint.h>

struct Aifed__AuditEntry;

/* Each prints as the broker's answer would and returns aifedctl's exit
 * status (1 when the store cannot be read, saying why). */
int ctl_db_leases(const char *dir, const char *site, const char *project, int state,
                  uint32_t limit, bool json);
int ctl_db_lease_show(const char *dir, const char *id, bool json);

/* Visit the audit log in order; fn's non-zero stops. */
typedef int (*ctl_audit_fn)(const struct Aifed__AuditEntry *e, void *arg);
int ctl_db_audit(const char *dir, ctl_audit_fn fn, void *arg);

#endif
