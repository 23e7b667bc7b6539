/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_base: what the store's own files sit on, and nothing outside them
 * includes: the named databases, the handle and the LMDB helpers. store.c
 * opens the store and holds leases, allocations, principals and templates;
 * store_audit.c the audit log; store_records.c the records kept per
 * request (idem, requests) and their bounds; store_jobs.c the jobs;
 * store_endpoints.c the inference endpoints. Each
 * has its own header; all of them sit on this one, which calls none.
 */
#ifndef STORE_BASE_H
#define STORE_BASE_H

#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>
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
    DB_RECORD_AGE,        /* be64 ms, kind, principal "\n" request id -> "" */
    DB_REQUEST_OWNER,     /* principal -> be64 ms || request id (sorted dups) */
    DB_JOBS,              /* job id -> Job */
    DB_JOBS_BY_LEASE,     /* lease id -> job ids (sorted dups) */
    DB_JOBS_BY_PROJECT,   /* project -> job ids (sorted dups) */
    DB_JOBS_OPEN,         /* site -> ids of its queued and running jobs */
    DB_TEMPLATES,         /* name -> Template: the federation's, added by admins */
    DB_JOBS_LEASE_OPEN,   /* lease id -> ids of its queued and running jobs */
    DB_JOBS_BY_PRINCIPAL, /* principal -> job ids (sorted dups: oldest first) */
    DB_JOBS_ENDED,        /* be64 ended ms || job id -> "": retention's order */
    DB_JOB_USAGE,         /* principal -> be64 jobs || be64 bytes stored */
    DB_ENDPOINTS,         /* name -> Endpoint: served models and their replicas */
    DB_KEYS,              /* key id -> EndpointKey: bearer keys' records, usage */
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

/* Visit every message (of type desc) of db in key order, from the first
 * key at or after *from when given; fn's non-zero ends the walk (-1: as an
 * error). The message is lent for the call. */
typedef int (*store_scan_fn)(const ProtobufCMessage *m, void *ctx);
int store_scan(struct store *st, int db, const ProtobufCMessageDescriptor *desc,
               MDB_val *from, store_scan_fn fn, void *ctx);

#endif
