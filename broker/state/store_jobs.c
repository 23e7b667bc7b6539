/* SPDX-License-Identifier: Apache-2.0 */
#include "store_jobs.h"
#include "af_ids.h"
#include "job.h"
#include "store_audit.h"
#include "store_base.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The most of a principal's jobs store_jobs_evict() looks at in one call:
 * its open ones come first when they are its oldest. */
#define EVICT_LOOK 4096

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

/* Take id from under key in db, if it is there. */
static int index_del(MDB_txn *txn, MDB_dbi db, const char *key, MDB_val *id)
{
    MDB_val k = store_val(key);
    int rc = mdb_del(txn, db, &k, id);

    return rc && rc != MDB_NOTFOUND ? store_errno(rc) : 0;
}

/* jobs_ended's key for j: its end, then its id. */
static MDB_val ended_key(unsigned char buf[8 + AF_ID_MAX], const Aifed__Job *j)
{
    size_t n = strnlen(j->id, AF_ID_MAX);

    store_be64((uint64_t)(j->ended_ms > 0 ? j->ended_ms : 0), buf);
    memcpy(buf + 8, j->id, n);
    return (MDB_val){.mv_size = 8 + n, .mv_data = buf};
}

static int ended_put(MDB_txn *txn, MDB_dbi db, const Aifed__Job *j, bool add)
{
    unsigned char buf[8 + AF_ID_MAX];
    MDB_val k = ended_key(buf, j), none = {0, ""};
    int rc = add ? mdb_put(txn, db, &k, &none, 0) : mdb_del(txn, db, &k, NULL);

    return rc && rc != MDB_NOTFOUND ? store_errno(rc) : 0;
}

/* Index j (id) as it is now, in txn: always by lease, project and owner;
 * while open, by site and lease; once ended, by its end. */
static int index_job(struct store *st, MDB_txn *txn, const Aifed__Job *j, MDB_val *id)
{
    if (index_put(txn, st->dbi[DB_JOBS_BY_LEASE], j->lease_id, id) < 0 ||
        index_put(txn, st->dbi[DB_JOBS_BY_PROJECT], j->project, id) < 0 ||
        index_put(txn, st->dbi[DB_JOBS_BY_PRINCIPAL], j->principal, id) < 0)
        return -1;
    if (!job_ended(j->state))
        return index_put(txn, st->dbi[DB_JOBS_OPEN], j->site, id) < 0 ||
                       index_put(txn, st->dbi[DB_JOBS_LEASE_OPEN], j->lease_id, id) < 0
                   ? -1
                   : 0;
    if (index_del(txn, st->dbi[DB_JOBS_OPEN], j->site, id) < 0 ||
        index_del(txn, st->dbi[DB_JOBS_LEASE_OPEN], j->lease_id, id) < 0)
        return -1;
    return ended_put(txn, st->dbi[DB_JOBS_ENDED], j, true);
}

/* Every index entry of j, taken. */
static int unindex_job(struct store *st, MDB_txn *txn, const Aifed__Job *j, MDB_val *id)
{
    if (index_del(txn, st->dbi[DB_JOBS_BY_LEASE], j->lease_id, id) < 0 ||
        index_del(txn, st->dbi[DB_JOBS_BY_PROJECT], j->project, id) < 0 ||
        index_del(txn, st->dbi[DB_JOBS_BY_PRINCIPAL], j->principal, id) < 0 ||
        index_del(txn, st->dbi[DB_JOBS_OPEN], j->site, id) < 0 ||
        index_del(txn, st->dbi[DB_JOBS_LEASE_OPEN], j->lease_id, id) < 0)
        return -1;
    return job_ended(j->state) ? ended_put(txn, st->dbi[DB_JOBS_ENDED], j, false) : 0;
}

/* principal's usage, read from txn: jobs and bytes (0 and 0 for none). */
static int usage_get(struct store *st, MDB_txn *txn, const char *principal, uint64_t u[2])
{
    MDB_val k = store_val(principal), v;
    int rc = mdb_get(txn, st->dbi[DB_JOB_USAGE], &k, &v);

    u[0] = u[1] = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return store_errno(rc);
    if (v.mv_size != 16)
        return store_errno(MDB_CORRUPTED);
    u[0] = store_be64_get(v.mv_data);
    u[1] = store_be64_get((const unsigned char *)v.mv_data + 8);
    return 0;
}

/* principal's usage moved by jobs and bytes (either may be negative); a
 * principal with nothing stored has no entry. */
static int usage_add(struct store *st, MDB_txn *txn, const char *principal, int64_t jobs,
                     int64_t bytes)
{
    unsigned char buf[16];
    MDB_val k = store_val(principal), v = {sizeof(buf), buf};
    uint64_t u[2];
    int rc;

    if (usage_get(st, txn, principal, u) < 0)
        return -1;
    /* Never below zero: a store upgraded from a schema without counts. */
    u[0] = jobs < 0 && (uint64_t)-jobs > u[0] ? 0 : u[0] + (uint64_t)jobs;
    u[1] = bytes < 0 && (uint64_t)-bytes > u[1] ? 0 : u[1] + (uint64_t)bytes;
    if (!u[0]) {
        rc = mdb_del(txn, st->dbi[DB_JOB_USAGE], &k, NULL);
        return rc && rc != MDB_NOTFOUND ? store_errno(rc) : 0;
    }
    store_be64(u[0], buf);
    store_be64(u[1], buf + 8);
    return store_errno(mdb_put(txn, st->dbi[DB_JOB_USAGE], &k, &v, 0));
}

/* The stored version of id, into *old (NULL when new): the state and size
 * it had, and its owner when it moved (never: a job keeps its owner). */
static int previous(struct store *st, MDB_val *k, Aifed__Job **old, size_t *size)
{
    MDB_val v;
    int rc = mdb_get(st->batch, st->dbi[DB_JOBS], k, &v);

    *old = NULL;
    *size = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return store_errno(rc);
    *size = v.mv_size;
    return job_decode(&v, old);
}

int store_job_put(struct store *st, const Aifed__Job *j)
{
    MDB_val k = store_val(j->id), v;
    Aifed__Job *old;
    size_t old_size;
    int prev, rc;
    char change[64];

    if (store_batch(st) < 0 || previous(st, &k, &old, &old_size) < 0)
        return -1;
    prev = old ? (int)old->state : 0;
    /* An ended job was under its end: it moves if the end does. */
    rc = old && job_ended(old->state)
             ? ended_put(st->batch, st->dbi[DB_JOBS_ENDED], old, false)
             : 0;
    aifed__job__free_unpacked(old, NULL);
    if (rc < 0)
        return -1;
    v.mv_size = aifed__job__get_packed_size(j);
    if ((rc = mdb_put(st->batch, st->dbi[DB_JOBS], &k, &v, MDB_RESERVE)))
        return store_errno(rc);
    aifed__job__pack(j, v.mv_data);
    if (index_job(st, st->batch, j, &k) < 0 ||
        usage_add(st, st->batch, j->principal, prev ? 0 : 1,
                  (int64_t)v.mv_size - (int64_t)old_size) < 0)
        return -1;
    if (prev == (int)j->state)
        return 0;
    snprintf(change, sizeof(change), "job %s -> %s", job_state_name(prev),
             job_state_name(j->state));
    return store_audit_append(st, j->id, j->principal, change, j->reason);
}

int store_job_delete(struct store *st, const char *id)
{
    MDB_val k = store_val(id);
    Aifed__Job *j;
    size_t size;
    int rc;

    if (store_batch(st) < 0 || previous(st, &k, &j, &size) < 0)
        return -1;
    if (!j) {
        errno = ENOENT;
        return -1;
    }
    rc = unindex_job(st, st->batch, j, &k) < 0 ||
                 usage_add(st, st->batch, j->principal, -1, -(int64_t)size) < 0
             ? -1
             : store_errno(mdb_del(st->batch, st->dbi[DB_JOBS], &k, NULL));
    aifed__job__free_unpacked(j, NULL);
    return rc;
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

static const int list_dbs[] = {
    [STORE_JOBS_LEASE] = DB_JOBS_BY_LEASE,
    [STORE_JOBS_PROJECT] = DB_JOBS_BY_PROJECT,
    [STORE_JOBS_OPEN] = DB_JOBS_OPEN,
    [STORE_JOBS_LEASE_OPEN] = DB_JOBS_LEASE_OPEN,
    [STORE_JOBS_PRINCIPAL] = DB_JOBS_BY_PRINCIPAL,
};

/* Visit the ids under key in by's index, oldest first or newest first. */
static int list_in(struct store *st, enum store_jobs_by by, const char *key, bool newest,
                   store_job_fn fn, void *arg)
{
    MDB_cursor_op first = newest ? MDB_LAST_DUP : MDB_FIRST_DUP;
    MDB_cursor_op next = newest ? MDB_PREV_DUP : MDB_NEXT_DUP;
    MDB_val k = store_val(key), id, v;
    MDB_cursor *cur;
    MDB_txn *txn;
    bool own;
    int rc, r = 0;

    if (store_cursor(st, list_dbs[by], &txn, &own, &cur) < 0)
        return -1;
    rc = mdb_cursor_get(cur, &k, &id, MDB_SET);
    if (rc == 0)
        rc = mdb_cursor_get(cur, &k, &id, first);
    for (; rc == 0 && r == 0; rc = mdb_cursor_get(cur, &k, &id, next)) {
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

int store_job_list(struct store *st, enum store_jobs_by by, const char *key,
                   store_job_fn fn, void *arg)
{
    return list_in(st, by, key, false, fn, arg);
}

int store_job_list_newest(struct store *st, enum store_jobs_by by, const char *key,
                          store_job_fn fn, void *arg)
{
    return list_in(st, by, key, true, fn, arg);
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

size_t store_job_count_open(struct store *st, const char *lease_id)
{
    MDB_val k = store_val(lease_id), id;
    MDB_cursor *cur;
    MDB_txn *txn;
    size_t n = 0;
    bool own;

    if (store_cursor(st, DB_JOBS_LEASE_OPEN, &txn, &own, &cur) < 0)
        return 0;
    if (mdb_cursor_get(cur, &k, &id, MDB_SET) == 0)
        mdb_cursor_count(cur, &n);
    store_cursor_end(cur, txn, own);
    return (size_t)n;
}

void store_job_usage(struct store *st, const char *principal, uint64_t *jobs,
                     uint64_t *bytes)
{
    uint64_t u[2] = {0, 0};
    MDB_txn *txn;
    bool own;

    if (store_read_begin(st, &txn, &own) == 0) {
        if (usage_get(st, txn, principal, u) < 0)
            u[0] = u[1] = 0;
        store_read_end(txn, own);
    }
    *jobs = u[0];
    *bytes = u[1];
}

/* The next id store_jobs_prune deletes, into id: the first ended before
 * before_ms; false when none is. */
static int prune_next(struct store *st, int64_t before_ms, char id[AF_ID_MAX + 1])
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if ((rc = mdb_cursor_open(st->batch, st->dbi[DB_JOBS_ENDED], &cur)))
        return store_errno(rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return store_errno(rc);
    if (k.mv_size <= 8 || k.mv_size > 8 + AF_ID_MAX)
        return store_errno(MDB_CORRUPTED);
    if ((int64_t)store_be64_get(k.mv_data) >= before_ms)
        return 0;
    memcpy(id, (char *)k.mv_data + 8, k.mv_size - 8);
    id[k.mv_size - 8] = '\0';
    return 1;
}

int store_jobs_prune(struct store *st, int64_t before_ms, size_t max)
{
    char id[AF_ID_MAX + 1];
    size_t n = 0;
    int rc = 0;

    if (store_batch(st) < 0)
        return -1;
    while (n < max && (rc = prune_next(st, before_ms, id)) > 0) {
        if (store_job_delete(st, id) < 0) {
            MDB_cursor *cur;
            /* An end with no job (never written so): its entry goes alone,
             * or it would be found first at every tick. */
            if (errno != ENOENT ||
                mdb_cursor_open(st->batch, st->dbi[DB_JOBS_ENDED], &cur))
                return -1;
            rc = mdb_cursor_get(cur, &(MDB_val){0}, &(MDB_val){0}, MDB_FIRST);
            rc = rc ? rc : mdb_cursor_del(cur, 0);
            mdb_cursor_close(cur);
            if (rc)
                return store_errno(rc);
        }
        n++;
    }
    return n < max && rc < 0 ? -1 : (int)n;
}

/* principal's oldest ended jobs, up to max of them, into ids. */
struct evict {
    char (*ids)[AF_ID_MAX + 1];
    size_t n, max, looked;
};

static int evict_pick(const Aifed__Job *j, void *arg)
{
    struct evict *e = arg;

    if (job_ended(j->state))
        snprintf(e->ids[e->n++], sizeof(e->ids[0]), "%s", j->id);
    return e->n >= e->max || ++e->looked >= EVICT_LOOK;
}

int store_jobs_evict(struct store *st, const char *principal, size_t max)
{
    char ids[16][AF_ID_MAX + 1];
    struct evict e = {ids, 0, max < 16 ? max : 16, 0};

    if (!e.max)
        return 0;
    if (store_batch(st) < 0 ||
        store_job_list(st, STORE_JOBS_PRINCIPAL, principal, evict_pick, &e) < 0)
        return -1;
    for (size_t i = 0; i < e.n; i++)
        if (store_job_delete(st, ids[i]) < 0)
            return -1;
    return (int)e.n;
}

int store_jobs_upgrade(struct store *st, MDB_txn *txn)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if ((rc = mdb_drop(txn, st->dbi[DB_JOB_USAGE], 0)) ||
        (rc = mdb_cursor_open(txn, st->dbi[DB_JOBS], &cur)))
        return store_errno(rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Aifed__Job *j;
        int bad;

        if (job_decode(&v, &j) < 0) {
            rc = MDB_CORRUPTED;
            break;
        }
        bad = index_job(st, txn, j, &k) < 0 ||
              usage_add(st, txn, j->principal, 1, (int64_t)v.mv_size) < 0;
        aifed__job__free_unpacked(j, NULL);
        if (bad) {
            mdb_cursor_close(cur);
            return -1;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : store_errno(rc);
}
