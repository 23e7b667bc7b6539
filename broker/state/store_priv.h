/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_priv: what the store's own files share, and nothing outside them
 * includes: the named databases, the handle and the LMDB helpers. store.c
 * holds leases, allocations, principals, the audit log and opening;
 * store_records.c holds the records kept per request (idem, requests) and
 * their bounds.
 */
#ifndef STORE_PRIV_H
#define STORE_PRIV_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

enum {
    DB_LEASES,
    DB_BY_SITE,
    DB_BY_PROJECT,
    DB_BY_STATE,
    DB_BY_EXPIRY,
    DB_IDEM,
    DB_META,
    DB_REQUESTS,
    DB_ALLOCATIONS,
    DB_PRINCIPALS,
    DB_AUDIT,
    DB_RECORD_AGE,      /* be64 ms, kind, principal "\n" request id -> "" */
    DB_REQUEST_OWNER,   /* principal -> be64 ms || request id (sorted dups) */
    DB_JOBS,            /* job id -> Job */
    DB_JOBS_BY_LEASE,   /* lease id -> job ids (sorted dups) */
    DB_JOBS_BY_PROJECT, /* project -> job ids (sorted dups) */
    DB_JOBS_OPEN,       /* site -> ids of its queued and running jobs */
    DB_TEMPLATES,       /* name -> Template: the federation's, added by admins */
    DB_N
};

struct store {
    MDB_env *env;
    MDB_dbi dbi[DB_N];
    MDB_txn *batch; /* open write transaction, or NULL */
    bool readonly;
    bool committed; /* reads see the last commit, not the batch */
    int lock_fd;    /* the held broker.lock (flock), or -1 */
};

/* An LMDB return code as errno and -1 (0 passes through). */
int store_errno(int rc);
MDB_val store_val(const char *s);
/* Join the open batch, or open one. */
int store_batch(struct store *st);
/* A read transaction, or the open batch so reads see its writes. */
int store_read_begin(struct store *st, MDB_txn **ret, bool *ret_own);
void store_read_end(MDB_txn *txn, bool own);
/* A read (as store_read_begin) and a cursor on db in it; -1 with errno. */
int store_cursor(struct store *st, int db, MDB_txn **txn, bool *own, MDB_cursor **cur);
void store_cursor_end(MDB_cursor *cur, MDB_txn *txn, bool own);
/* Big-endian, so that LMDB's byte order is time order. */
void store_be64(uint64_t v, unsigned char buf[8]);
uint64_t store_be64_get(const unsigned char buf[8]);

/* Index every request record and idem entry of a schema 1 store by age
 * (idem entries as of now_ms: schema 1 kept no time for them). In txn. */
int store_records_upgrade(struct store *st, MDB_txn *txn, int64_t now_ms);
/* Schema 2 to 3: index the jobs by project and the open ones by site. */
int store_jobs_upgrade(struct store *st, MDB_txn *txn);

#endif
