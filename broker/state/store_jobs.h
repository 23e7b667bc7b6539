/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_jobs: jobs in LMDB. A job lives under its id in jobs, and its id
 * under its lease (jobs_by_lease), its project (jobs_by_project) and its
 * owner (jobs_by_principal), so that each one's jobs are one cursor range
 * in age order (ids sort by time). While it is queued or running its id is
 * also under its site (jobs_open: what a site that connects again is asked
 * about) and its lease (jobs_lease_open: counted, never decoded, to bound a
 * lease's open jobs); once it ended, under its end time (jobs_ended: the
 * retention's order). job_usage counts each owner's stored jobs and bytes,
 * kept by every put and delete, so that the bound per principal is a read.
 * A change of state is an audit entry, in the same transaction.
 */
#ifndef STORE_JOBS_H
#define STORE_JOBS_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct MDB_txn;
struct Aifed__Job;

/* Store j, replacing the stored version: its indexes, its owner's usage
 * and, when its state changed, an audit entry. Into the batch. */
int store_job_put(struct store *st, const struct Aifed__Job *j);
/* Delete job id, its index entries and its part of its owner's usage.
 * Into the batch; -1/ENOENT when there is none. */
int store_job_delete(struct store *st, const char *id);
/* -1/ENOENT when there is none. Free with store_job_free(). */
int store_job_get(struct store *st, const char *id, struct Aifed__Job **ret);
void store_job_free(struct Aifed__Job *j);

/* Visit the jobs of a lease, of a project or of a principal, those open
 * (queued or running) at a site or in a lease; j is borrowed for the call;
 * fn's 1 stops, -1 fails. store_job_list goes oldest first,
 * store_job_list_newest newest first (a page of the latest stops early). */
enum store_jobs_by {
    STORE_JOBS_LEASE,
    STORE_JOBS_PROJECT,
    STORE_JOBS_OPEN,
    STORE_JOBS_LEASE_OPEN,
    STORE_JOBS_PRINCIPAL,
};
typedef int (*store_job_fn)(const struct Aifed__Job *j, void *arg);
int store_job_list(struct store *st, enum store_jobs_by by, const char *key,
                   store_job_fn fn, void *arg);
int store_job_list_newest(struct store *st, enum store_jobs_by by, const char *key,
                          store_job_fn fn, void *arg);
/* Visit every job, newest first. */
int store_job_each(struct store *st, store_job_fn fn, void *arg);

/* How many jobs of lease_id are queued or running (a count, no decode). */
size_t store_job_count_open(struct store *st, const char *lease_id);
/* How many jobs principal has stored, and their bytes (0 for none). */
void store_job_usage(struct store *st, const char *principal, uint64_t *jobs,
                     uint64_t *bytes);

/* Delete up to max of the jobs that ended before before_ms, oldest end
 * first (into the batch): the retention period ends there. The number
 * deleted, or -1 with errno. */
int store_jobs_prune(struct store *st, int64_t before_ms, size_t max);
/* Delete up to max of principal's oldest ended jobs, looking at no more
 * than a bounded number of its jobs (into the batch). The number deleted,
 * or -1 with errno. */
int store_jobs_evict(struct store *st, const char *principal, size_t max);

/* Schema 2 or 3 to 4: index every job by owner, the open ones by lease,
 * the ended ones by end, and count each owner's usage. In txn. */
int store_jobs_upgrade(struct store *st, struct MDB_txn *txn);

#endif
