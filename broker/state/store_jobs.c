/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_jobs: jobs in LMDB. A job lives under its id in jobs, and its id
 * under its lease in jobs_by_lease, so that a lease's jobs are one cursor
 * range. A change of state is an audit entry, in the same transaction.
 */
#include "af_ids.h"
#include "job.h"
#include "store.h"
#include "store_priv.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int job_decode(const MDB_val *v, Aifed__Job **ret)
{
    *ret = aifed__job__unpack(NULL, v->mv_size, v->mv_data);
    return *ret ? 0 : store_errno(MDB_CORRUPTED);
}

int store_job_put(struct store *st, const Aifed__Job *j)
{
    MDB_val k = store_val(j->id), v, lease = store_val(j->lease_id), old;
    int prev = 0, rc;
    char change[64];

    if (store_batch(st) < 0)
        return -1;
    rc = mdb_get(st->batch, st->dbi[DB_JOBS], &k, &old);
    if (rc == 0) {
        Aifed__Job *o;
        if (job_decode(&old, &o) < 0)
            return -1;
        prev = o->state;
        aifed__job__free_unpacked(o, NULL);
    } else if (rc != MDB_NOTFOUND) {
        return store_errno(rc);
    }
    v.mv_size = aifed__job__get_packed_size(j);
    if ((rc = mdb_put(st->batch, st->dbi[DB_JOBS], &k, &v, MDB_RESERVE)))
        return store_errno(rc);
    aifed__job__pack(j, v.mv_data);
    rc = mdb_put(st->batch, st->dbi[DB_JOBS_BY_LEASE], &lease, &k, MDB_NODUPDATA);
    if (rc && rc != MDB_KEYEXIST)
        return store_errno(rc);
    if (prev == (int)j->state)
        return 0;
    snprintf(change, sizeof(change), "job %s -> %s", job_state_name(prev),
             job_state_name(j->state));
    return store_audit_append(st, j->id, j->principal, change, j->reason);
}

int store_job_get(struct store *st, const char *id, Aifed__Job **ret)
{
    MDB_val k = store_val(id), v;
    MDB_txn *txn;
    bool own;
    int rc;

    if (store_read_begin(st, &txn, &own) < 0)
        return -1;
    rc = mdb_get(txn, st->dbi[DB_JOBS], &k, &v);
    rc = rc == 0 ? job_decode(&v, ret) : store_errno(rc);
    store_read_end(txn, own);
    return rc;
}

void store_job_free(Aifed__Job *j)
{
    if (j)
        aifed__job__free_unpacked(j, NULL);
}

int store_job_list(struct store *st, const char *lease_id, store_job_fn fn, void *arg)
{
    MDB_val lease = store_val(lease_id), id, v;
    MDB_cursor *cur;
    MDB_txn *txn;
    bool own;
    int rc, r = 0;

    if (store_cursor(st, DB_JOBS_BY_LEASE, &txn, &own, &cur) < 0)
        return -1;
    for (rc = mdb_cursor_get(cur, &lease, &id, MDB_SET); rc == 0 && r == 0;
         rc = mdb_cursor_get(cur, &lease, &id, MDB_NEXT_DUP)) {
        Aifed__Job *j;
        if ((rc = mdb_get(txn, st->dbi[DB_JOBS], &id, &v)) || job_decode(&v, &j) < 0) {
            rc = rc ? rc : MDB_CORRUPTED;
            break;
        }
        r = fn(j, arg);
        aifed__job__free_unpacked(j, NULL);
    }
    store_cursor_end(cur, txn, own);
    if (r < 0)
        return -1;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_errno(rc);
}
