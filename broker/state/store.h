/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store: the broker's durable state in one LMDB environment (state_dir).
 * Named databases: leases (id -> Lease, protobuf), by_site, by_project and
 * by_state (key -> lease ids, sorted duplicates), by_expiry (be64 expiry ms ||
 * id, for the sweep), idem (principal "\n" request id -> lease id) and meta
 * (schema version), requests (principal "\n" request id -> RequestRecord: the
 * explanation kept with every submit), record_age and request_owner (their
 * bounds: store_records.c) and allocations (project "\n" site ->
 * Allocation), principals (id -> Principal: keys, projects, revoked) and
 * audit (big-endian seq -> AuditEntry, a hash chain: af_audit.h). A lease,
 * its index entries and its audit entry change in one transaction.
 *
 * Writes are batched: store_lease_put() joins the open write transaction (or
 * opens one), and nothing is durable until store_commit() returns 0. Reads
 * made while a batch is open see the batch, so two submits with the same
 * request id in one batch still find each other. This is how the broker does
 * group commit: many requests, one fsync, then all the replies.
 *
 * Ownership: a struct Aifed__Lease returned here is the caller's and is freed
 * with store_lease_free().
 */
#ifndef STORE_H
#define STORE_H

#include "af_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct Aifed__Lease;
struct Aifed__RequestRecord;
struct Aifed__Allocation;
struct Aifed__Principal;
struct Aifed__AuditEntry;

#define STORE_SCHEMA 3

/* Open (creating if needed unless readonly) the environment in dir.
 * map_mb bounds the database size. NULL with err set on failure. */
struct store *store_open(const char *dir, size_t map_mb, bool readonly,
                         struct af_error *err);
void store_close(struct store *st);

/* Write lease (and its indexes, replacing those of the stored version) into
 * the open batch. idem_principal, if not NULL, records the lease's request id
 * for that principal. -1 with errno (ENOMEM, ENOSPC, EIO; EDQUOT when the
 * store has reached map_mb) on failure; the batch is then unusable and must
 * be aborted. Every write here fails the same ways. */
int store_lease_put(struct store *st, const struct Aifed__Lease *lease,
                    const char *idem_principal);

/* Make the batch durable. -1 with errno on failure: the whole batch is lost. */
int store_commit(struct store *st);
void store_abort(struct store *st);
bool store_in_batch(const struct store *st);
/* While committed is true, reads see the last commit rather than the open
 * batch (a read-only transaction beside it: the environment is MDB_NOTLS),
 * so that what they return does not hang on the batch's fate. Writes are
 * refused meanwhile (EROFS): a handler that only reads must not write. */
void store_reads_committed(struct store *st, bool committed);

/* Look a lease up by id. -1 with errno ENOENT when there is none. */
int store_lease_get(struct store *st, const char *id, struct Aifed__Lease **ret);

/* The lease id a principal's request id made, into buf (AF_ID_MAX + 1).
 * -1/ENOENT when that request id is new. */
int store_idem_get(struct store *st, const char *principal, const char *request_id,
                   char *buf, size_t size);

/* Record that a principal's request id acted on lease_id (into the batch):
 * a retry of a change finds it, and is answered without acting again, until
 * store_records_prune() deletes it. now_ms is when (the lease clock). */
int store_idem_put(struct store *st, const char *principal, const char *request_id,
                   const char *lease_id, int64_t now_ms);

void store_lease_free(struct store *st, struct Aifed__Lease *lease);

/* Which leases store_lease_list visits. Empty strings and state 0 match all. */
struct store_filter {
    const char *site;
    const char *project;
    int state;
};

/* Called per lease in id order. Return 0 to go on, 1 to stop, -1 to fail.
 * lease is borrowed for the call. */
typedef int (*store_lease_fn)(const struct Aifed__Lease *lease, void *arg);

/* Visit, in id order, the leases whose ids begin with prefix, at most max
 * of them; fn's 1 stops, -1 fails. The number visited, or -1 with errno. */
int store_lease_prefix(struct store *st, const char *prefix, size_t max,
                       store_lease_fn fn, void *arg);

/* Visit leases matching f with id > after (NULL: from the start), using the
 * most selective index. -1 with errno on failure or when fn fails. */
int store_lease_list(struct store *st, const struct store_filter *f, const char *after,
                     store_lease_fn fn, void *arg);

/* Visit open leases due at or before now_ms, oldest first: past their
 * expiry, or SCHEDULED ones past their start. Opens the batch (fn may
 * write); the caller commits. */
int store_lease_expired(struct store *st, int64_t now_ms, store_lease_fn fn, void *arg);

/* Number of leases stored. */
size_t store_lease_count(struct store *st);
/* How many leases are in state (from the by_state index; no walk). */
size_t store_lease_count_state(struct store *st, int state);

/* What the broker decided for a request, by (principal, request id); a
 * later put for the same request replaces it. The principal keeps at most
 * keep records (at least 1): its oldest beyond that are deleted in the same
 * batch. Into the batch. */
int store_request_put(struct store *st, const struct Aifed__RequestRecord *r,
                      size_t keep);
/* -1/ENOENT when there is none. Free with store_request_free(). */
int store_request_get(struct store *st, const char *principal, const char *request_id,
                      struct Aifed__RequestRecord **ret);
void store_request_free(struct Aifed__RequestRecord *r);
/* How many request records a principal has. */
size_t store_request_count(struct store *st, const char *principal);

/* Delete up to max idem entries and request records made before before_ms,
 * oldest first (into the batch): the retention period ends there. The
 * number deleted, or -1 with errno. */
int store_records_prune(struct store *st, int64_t before_ms, size_t max);

/* Allocations, by (project, site). Into the batch. */
int store_alloc_put(struct store *st, const struct Aifed__Allocation *a);
/* Visit every allocation; a is borrowed for the call. */
typedef int (*store_alloc_fn)(const struct Aifed__Allocation *a, void *arg);
int store_alloc_list(struct store *st, store_alloc_fn fn, void *arg);

/* Principals registered at run time (aifedctl admin principal), by id.
 * Into the batch; the list visits each, borrowed for the call. */
int store_principal_put(struct store *st, const struct Aifed__Principal *p);
typedef int (*store_principal_fn)(const struct Aifed__Principal *p, void *arg);
int store_principal_list(struct store *st, store_principal_fn fn, void *arg);

/* Sites an admin drained: kept in the meta database (key "drained\n" +
 * site), so that a drain outlives a restart. Into the batch. */
int store_drained_put(struct store *st, const char *site, bool drained);
/* A write that changes nothing else, for a health check: the batch that
 * answers it proves the store takes writes. */
int store_health_put(struct store *st, int64_t now_ms);
/* Visit each drained site; fn's 1 stops, -1 fails. */
typedef int (*store_site_fn)(const char *site, void *arg);
int store_drained_list(struct store *st, store_site_fn fn, void *arg);

/* Jobs (store_jobs.c), by id, lease and project, and the open ones by
 * site. A put replaces the stored version, indexes it, and audits a change
 * of state. Into the batch. */
struct Aifed__Job;
int store_job_put(struct store *st, const struct Aifed__Job *j);
/* -1/ENOENT when there is none. Free with store_job_free(). */
int store_job_get(struct store *st, const char *id, struct Aifed__Job **ret);
void store_job_free(struct Aifed__Job *j);
/* Visit in id order (oldest first) the jobs of a lease, of a project, or
 * open (queued or running) at a site; j is borrowed for the call; fn's 1
 * stops, -1 fails. */
enum store_jobs_by { STORE_JOBS_LEASE, STORE_JOBS_PROJECT, STORE_JOBS_OPEN };
typedef int (*store_job_fn)(const struct Aifed__Job *j, void *arg);
int store_job_list(struct store *st, enum store_jobs_by by, const char *key,
                   store_job_fn fn, void *arg);
/* Visit every job, newest first. */
int store_job_each(struct store *st, store_job_fn fn, void *arg);

/* Append to the audit log (into the batch), chained to the last entry.
 * store_lease_put() does this itself for every change of state, site or
 * expiry; others (the principal registry, allocations) call it. */
/* The federation's templates, by name: stored (replacing one of the name),
 * removed (-1/ENOENT when there is none), visited in name order (the
 * message lent for the call; fn's non-zero stops, -1 as an error). */
struct Aifed__Template;
int store_template_put(struct store *st, const struct Aifed__Template *t);
int store_template_del(struct store *st, const char *name);
typedef int (*store_template_fn)(const struct Aifed__Template *t, void *arg);
int store_template_list(struct store *st, store_template_fn fn, void *arg);

int store_audit_append(struct store *st, const char *subject, const char *principal,
                       const char *change, const char *text);
/* Visit entries after after_seq in order; fn's 1 stops, -1 fails. */
typedef int (*store_audit_fn)(const struct Aifed__AuditEntry *e, void *arg);
int store_audit_list(struct store *st, uint64_t after_seq, store_audit_fn fn, void *arg);

#endif
