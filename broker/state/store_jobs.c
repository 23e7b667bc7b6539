/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_jobs: jobs in LMDB. A job lives under its id in jobs, and its id
 * under its lease (jobs_by_lease) and its project (jobs_by_project), so that
 * either's jobs are one cursor range; while it is queued or running its id
 * is also under its site (jobs_open), which is what a site that connects
 * again is asked about. A change of state is an audit entry, in the same
 * transaction.
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

/* Put id under key in db (a set: there once). */
static int index_put(MDB_txn *txn, MDB_dbi db, const char *key, MDB_val *id)
{
    MDB_val k = store_val(key);
    int rc = mdb_put(txn, db, &k, id, MDB_NODUPDATA);

    return rc && rc != MDB_KEYEXIST ? store_errno(rc) : 0;
}

static int index_job(struct store *st, MDB_txn *txn, const Aifed__Job *j, MDB_val *id)
{
    MDB_val site = store_val(j->site);
    int rc;

    if (index_put(txn, st->dbi[DB_JOBS_BY_LEASE], j->lease_id, id) < 0 ||
        index_put(txn, st->dbi[DB_JOBS_BY_PROJECT], j->project, id) < 0)
        return -1;
    if (!job_ended(j->state))
        return index_put(txn, st->dbi[DB_JOBS_OPEN], j->site, id);
    rc = mdb_del(txn, st->dbi[DB_JOBS_OPEN], &site, id);
    return rc && rc != MDB_NOTFOUND ? store_errno(rc) : 0;
}

int store_job_put(struct store *st, const Aifed__Job *j)
{
    MDB_val k = store_val(j->id), v, old;
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
    if (index_job(st, st->batch, j, &k) < 0)
        return -1;
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

int store_job_list(struct store *st, enum store_jobs_by by, const char *key,
                   store_job_fn fn, void *arg)
{
    static const int dbs[] = {[STORE_JOBS_LEASE] = DB_JOBS_BY_LEASE,
                              [STORE_JOBS_PROJECT] = DB_JOBS_BY_PROJECT,
                              [STORE_JOBS_OPEN] = DB_JOBS_OPEN};
    MDB_val k = store_val(key), id, v;
    MDB_cursor *cur;
    MDB_txn *txn;
    bool own;
    int rc, r = 0;

    if (store_cursor(st, dbs[by], &txn, &own, &cur) < 0)
        return -1;
    for (rc = mdb_cursor_get(cur, &k, &id, MDB_SET); rc == 0 && r == 0;
         rc = mdb_cursor_get(cur, &k, &id, MDB_NEXT_DUP)) {
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

int store_jobs_upgrade(struct store *st, MDB_txn *txn)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if ((rc = mdb_cursor_open(txn, st->dbi[DB_JOBS], &cur)))
        return store_errno(rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Aifed__Job *j;
        int bad;

        if (job_decode(&v, &j) < 0) {
            rc = MDB_CORRUPTED;
            break;
        }
        bad = index_job(st, txn, j, &k);
        aifed__job__free_unpacked(j, NULL);
        if (bad) {
            mdb_cursor_close(cur);
            return -1;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : store_errno(rc);
}

int store_job_each(struct store *st, store_job_fn fn, void *arg)
{
    MDB_cursor *cur;
    MDB_txn *txn;
    MDB_val k, v;
    bool own;
    int rc, r = 0;

    if (store_cursor(st, DB_JOBS, &txn, &own, &cur) < 0)
        return -1;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0 && r == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        Aifed__Job *j;
        if (job_decode(&v, &j) < 0) {
            rc = MDB_CORRUPTED;
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
