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
 * Jobs are in store_jobs.h, the records kept per request in store_records.h,
 * the audit log in store_audit.h.
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
struct Aifed__Allocation;
struct Aifed__Principal;

#define STORE_SCHEMA 4

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

/* The federation's templates, by name: stored (replacing one of the name),
 * removed (-1/ENOENT when there is none), visited in name order (the
 * message lent for the call; fn's non-zero stops, -1 as an error). */
struct Aifed__Template;
int store_template_put(struct store *st, const struct Aifed__Template *t);
int store_template_del(struct store *st, const char *name);
typedef int (*store_template_fn)(const struct Aifed__Template *t, void *arg);
int store_template_list(struct store *st, store_template_fn fn, void *arg);

#endif
