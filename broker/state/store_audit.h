/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_audit: the broker's audit log, a hash chain (af_audit.h) that
 * `aifedctl audit --verify` checks. store_lease_put() and store_job_put()
 * append their own changes; others (the principal registry, allocations,
 * templates) call store_audit_append().
 */
#ifndef STORE_AUDIT_H
#define STORE_AUDIT_H

#include <stdint.h>

struct store;
struct Aifed__AuditEntry;

/* Append to the audit log (into the batch), chained to the last entry. */
int store_audit_append(struct store *st, const char *subject, const char *principal,
                       const char *change, const char *text);
/* Visit entries after after_seq in order; fn's 1 stops, -1 fails. */
typedef int (*store_audit_fn)(const struct Aifed__AuditEntry *e, void *arg);
int store_audit_list(struct store *st, uint64_t after_seq, store_audit_fn fn, void *arg);

#endif
