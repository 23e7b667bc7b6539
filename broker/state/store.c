/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store: LMDB behind a small interface. LMDB codes are turned into errno here
 * and nowhere else. The environment is opened with default durability (an
 * fsync per commit): a lease the broker acknowledged survives power loss.
 * Index keys are derived from the lease itself, so updating a lease removes
 * the old version's index entries and adds the new ones in the same batch.
 */
#include "store.h"
#include "store_audit.h"
#include "store_base.h"
#include "store_jobs.h"
#include "store_records.h"
#include "af_audit.h"
#include "af_ids.h"
#include "af_time.h"
#include "lease.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <unistd.h>
#include <sys/file.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct {
    const char *name;
    unsigned flags;
} db_spec[DB_N] = {
    [DB_LEASES] = {"leases", 0},
    [DB_BY_SITE] = {"by_site", MDB_DUPSORT},
    [DB_BY_PROJECT] = {"by_project", MDB_DUPSORT},
    [DB_BY_STATE] = {"by_state", MDB_DUPSORT},
    [DB_BY_EXPIRY] = {"by_expiry", 0},
    [DB_IDEM] = {"idem", 0},
    [DB_META] = {"meta", 0},
    [DB_REQUESTS] = {"requests", 0},
    [DB_ALLOCATIONS] = {"allocations", 0},
    [DB_PRINCIPALS] = {"principals", 0},
    [DB_AUDIT] = {"audit", 0},
    [DB_RECORD_AGE] = {"record_age", 0},
    [DB_REQUEST_OWNER] = {"request_owner", MDB_DUPSORT},
    [DB_JOBS] = {"jobs", 0},
    [DB_JOBS_BY_LEASE] = {"jobs_by_lease", MDB_DUPSORT},
    [DB_JOBS_BY_PROJECT] = {"jobs_by_project", MDB_DUPSORT},
    [DB_JOBS_OPEN] = {"jobs_open", MDB_DUPSORT},
    [DB_TEMPLATES] = {"templates", 0},
    [DB_JOBS_LEASE_OPEN] = {"jobs_lease_open", MDB_DUPSORT},
    [DB_JOBS_BY_PRINCIPAL] = {"jobs_by_principal", MDB_DUPSORT},
    [DB_JOBS_ENDED] = {"jobs_ended", 0},
    [DB_JOB_USAGE] = {"job_usage", 0},
    [DB_ENDPOINTS] = {"endpoints", 0},
    [DB_KEYS] = {"keys", 0},
};

/* A new store gets this schema; one of schema 1 (no record ages), 2 (jobs
 * by lease only) or 3 (no job bounds) is upgraded in the transaction that
 * opens it; any other is refused. */
static int schema_check(struct store *st, MDB_txn *txn, struct af_error *err)
{
    MDB_val k = store_val("schema"), v, want;
    char schema[16];
    int rc;

    snprintf(schema, sizeof(schema), "%d", STORE_SCHEMA);
    want = store_val(schema);
    rc = mdb_get(txn, st->dbi[DB_META], &k, &v);
    if (rc == 0 && v.mv_size == 1 && *(char *)v.mv_data >= '1' &&
        *(char *)v.mv_data <= '3') {
        char from = *(char *)v.mv_data;
        if ((from == '1' && store_records_upgrade(st, txn, af_now_ms()) < 0) ||
            store_jobs_upgrade(st, txn) < 0)
            return af_error_set(err, "upgrading schema %c: %s", from, strerror(errno));
        rc = MDB_NOTFOUND;
    } else if (rc == 0 &&
               (v.mv_size != want.mv_size || memcmp(v.mv_data, schema, v.mv_size))) {
        return af_error_set(err, "schema version %.*s is not %s (upgrade aifed?)",
                            (int)v.mv_size, (char *)v.mv_data, schema);
    }
    if (rc == MDB_NOTFOUND)
        rc = mdb_put(txn, st->dbi[DB_META], &k, &want, 0);
    return rc ? af_error_set(err, "meta: %s", mdb_strerror(rc)) : 0;
}

static int open_dbs(struct store *st, struct af_error *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(st->env, NULL, st->readonly ? MDB_RDONLY : 0, &txn);

    if (rc)
        return af_error_set(err, "begin: %s", mdb_strerror(rc));
    for (int i = 0; i < DB_N; i++) {
        unsigned flags = db_spec[i].flags | (st->readonly ? 0 : MDB_CREATE);
        rc = mdb_dbi_open(txn, db_spec[i].name, flags, &st->dbi[i]);
        if (rc) {
            mdb_txn_abort(txn);
            if (rc == MDB_NOTFOUND) /* read-only, and never opened by a broker */
                return af_error_set(err,
                                    "database %s is missing (a store of an older "
                                    "schema: start aifed-broker once to upgrade it)",
                                    db_spec[i].name);
            return af_error_set(err, "database %s: %s", db_spec[i].name,
                                mdb_strerror(rc));
        }
    }
    if (!st->readonly && schema_check(st, txn, err) < 0) {
        mdb_txn_abort(txn);
        return -1;
    }
    rc = mdb_txn_commit(txn);
    return rc ? af_error_set(err, "commit: %s", mdb_strerror(rc)) : 0;
}

/*
 * One writer per store, whatever fencing did: a broker holds an exclusive
 * flock on DIR/broker.lock, with its pid, host and start in it, for as long
 * as the store is open; the kernel lets go when the process ends (kill -9
 * too), so a standby that takes over after a crash finds it free. LMDB's
 * own lock file serialises writers but would let two brokers both write.
 */
static int hold_dir(struct store *st, const char *dir, struct af_error *err)
{
    char path[4096], who[256] = "", host[128] = "?", when[32];
    ssize_t n;

    struct stat sb;

    snprintf(path, sizeof(path), "%s/broker.lock", dir);
    /* Never through a symlink someone left there, never a FIFO. */
    if ((st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
                            0600)) < 0)
        return af_error_set(err, "%s: %s", path,
                            errno == ELOOP ? "a symlink, refused" : strerror(errno));
    if (fstat(st->lock_fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_uid != geteuid())
        return af_error_set(err, "%s: not a regular file of the broker's account", path);
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;

        if (e != EWOULDBLOCK)
            return af_error_set(err, "%s: %s", path, strerror(e));
        if ((n = pread(st->lock_fd, who, sizeof(who) - 1, 0)) > 0)
            who[n] = '\0';
        who[strcspn(who, "\n")] = '\0';
        return af_error_set(err,
                            "%s is held by another aifed-broker (%s): two brokers must "
                            "never write one store; stop that one first (under "
                            "Pacemaker: fence the node it runs on)",
                            dir, *who ? who : "its pid unknown");
    }
    gethostname(host, sizeof(host) - 1);
    af_time_format(af_now_ms(), when, sizeof(when));
    n = snprintf(who, sizeof(who), "pid %ld on %s since %s\n", (long)getpid(), host,
                 when);
    if (ftruncate(st->lock_fd, 0) != 0 || pwrite(st->lock_fd, who, (size_t)n, 0) != n)
        return af_error_set(err, "%s: %s", path, strerror(errno));
    return 0;
}

/* The store (leases, the signing key beside it) is the broker's alone: its
 * directory belongs to the broker's account and no one else may write it.
 * A directory made earlier (by hand, a package) is checked, not trusted. */
static int dir_private(const char *dir, struct af_error *err)
{
    struct stat sb;

    if (lstat(dir, &sb) < 0)
        return af_error_set(err, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return af_error_set(err, "%s: not a directory (a symlink is not taken)", dir);
    if (sb.st_uid != geteuid())
        return af_error_set(err,
                            "%s belongs to uid %u, not to the broker's account (uid %u): "
                            "chown it",
                            dir, (unsigned)sb.st_uid, (unsigned)geteuid());
    if (sb.st_mode & (S_IWGRP | S_IWOTH))
        return af_error_set(err,
                            "%s is mode %o: others could replace the store; chmod 700 it",
                            dir, (unsigned)(sb.st_mode & 07777));
    return 0;
}

struct store *store_open(const char *dir, size_t map_mb, bool readonly,
                         struct af_error *err)
{
    struct store *st = calloc(1, sizeof(*st));
    int rc;

    if (!st) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    st->readonly = readonly;
    st->lock_fd = -1;
    if (!readonly && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        af_error_set(err, "%s: %s", dir, strerror(errno));
        goto fail;
    }
    if (!readonly && dir_private(dir, err) < 0)
        goto fail;
    if (!readonly && hold_dir(st, dir, err) < 0)
        goto fail;
    if ((rc = mdb_env_create(&st->env)) || (rc = mdb_env_set_maxdbs(st->env, DB_N)) ||
        (rc = mdb_env_set_mapsize(st->env, map_mb * 1024 * 1024)) ||
        (rc =
             mdb_env_open(st->env, dir, (readonly ? MDB_RDONLY : 0) | MDB_NOTLS, 0600))) {
        af_error_set(err, "%s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    if (open_dbs(st, err) < 0)
        goto fail;
    return st;
fail:
    if (st->env)
        mdb_env_close(st->env);
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    free(st);
    return NULL;
}

void store_close(struct store *st)
{
    int saved = errno;

    if (!st)
        return;
    store_abort(st);
    mdb_env_close(st->env);
    if (st->lock_fd >= 0)
        close(st->lock_fd); /* the next broker may have it */
    free(st);
    errno = saved;
}

void store_reads_committed(struct store *st, bool committed)
{
    st->committed = committed;
}

bool store_in_batch(const struct store *st)
{
    return st->batch != NULL;
}

int store_commit(struct store *st)
{
    int rc;

    if (!st->batch)
        return 0;
    rc = mdb_txn_commit(st->batch);
    st->batch = NULL;
    return store_errno(rc);
}

void store_abort(struct store *st)
{
    if (st->batch) {
        mdb_txn_abort(st->batch);
        st->batch = NULL;
    }
}

static void state_key(int state, char buf[4])
{
    snprintf(buf, 4, "%d", state);
}

/* When an open lease next changes by itself: a SCHEDULED one starts at
 * activated_ms (its booked start), the others expire. */
static int64_t due_ms(const Aifed__Lease *l)
{
    return l->state == AIFED__LEASE_STATE__LEASE_SCHEDULED ? l->activated_ms
                                                           : l->expires_ms;
}

/* Expiry index key: big-endian ms so LMDB's byte order is time order. */
static size_t expiry_key(const Aifed__Lease *l, unsigned char *buf)
{
    uint64_t t = (uint64_t)due_ms(l);
    size_t n = strlen(l->id);

    store_be64(t, buf);
    memcpy(buf + 8, l->id, n);
    return 8 + n;
}

static bool indexed_for_expiry(const Aifed__Lease *l)
{
    return due_ms(l) > 0 && lease_is_open((int)l->state);
}

/* Add (add = true) or delete the index entries lease l implies. */
static int index_update(struct store *st, const Aifed__Lease *l, bool add)
{
    MDB_val id = store_val(l->id), k, empty = {0, ""};
    char sk[4];
    unsigned char ek[8 + AF_ID_MAX];
    int rc = 0;
    struct {
        int db;
        MDB_val key;
        MDB_val *val;
    } rows[4];
    int n = 0;

    state_key(l->state, sk);
    if (l->site && *l->site)
        rows[n++] = (typeof(rows[0])){DB_BY_SITE, store_val(l->site), &id};
    rows[n++] = (typeof(rows[0])){DB_BY_PROJECT, store_val(l->workload->project), &id};
    rows[n++] = (typeof(rows[0])){DB_BY_STATE, store_val(sk), &id};
    if (indexed_for_expiry(l)) {
        k.mv_data = ek;
        k.mv_size = expiry_key(l, ek);
        rows[n++] = (typeof(rows[0])){DB_BY_EXPIRY, k, &empty};
    }
    for (int i = 0; i < n && rc == 0; i++) {
        if (add)
            rc = mdb_put(st->batch, st->dbi[rows[i].db], &rows[i].key, rows[i].val, 0);
        else {
            rc = mdb_del(st->batch, st->dbi[rows[i].db], &rows[i].key,
                         rows[i].db == DB_BY_EXPIRY ? NULL : rows[i].val);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
    }
    return store_errno(rc);
}

static int lease_decode(const MDB_val *v, Aifed__Lease **ret)
{
    Aifed__Lease *l = aifed__lease__unpack(NULL, v->mv_size, v->mv_data);

    if (!l || !l->workload || !l->id) {
        if (l)
            aifed__lease__free_unpacked(l, NULL);
        errno = EIO; /* a record we wrote no longer decodes: corruption */
        return -1;
    }
    *ret = l;
    return 0;
}

/* A lease not stored before is NEW in the audit log. */
static const char *state_name(int s)
{
    return s == 0 ? "NEW" : lease_state_name(s);
}

/* A lease's change, into the audit log: new state, a move, a renewal. */
static int audit_lease(struct store *st, const Aifed__Lease *prev, const Aifed__Lease *l)
{
    char change[96];
    int from = prev ? prev->state : 0;

    if (prev && prev->state == l->state && !strcmp(prev->site, l->site) &&
        prev->expires_ms == l->expires_ms)
        return 0; /* the same lease, restated (a signature stored) */
    if (prev && from == (int)l->state && strcmp(prev->site, l->site))
        snprintf(change, sizeof(change), "%s moved", state_name(from));
    else if (prev && from == (int)l->state) {
        char by[32]; /* the audit says by how much, as renew --by took it */
        af_duration_format((uint64_t)(l->expires_ms > prev->expires_ms
                                          ? l->expires_ms - prev->expires_ms
                                          : 0),
                           by, sizeof(by));
        snprintf(change, sizeof(change), "%s renewed by %s", state_name(from), by);
    } else
        snprintf(change, sizeof(change), "%s->%s", state_name(from),
                 state_name(l->state));
    return store_audit_append(st, l->id, l->principal, change, l->reason);
}

int store_lease_put(struct store *st, const Aifed__Lease *lease,
                    const char *idem_principal)
{
    MDB_val k = store_val(lease->id), v, old;
    size_t len = aifed__lease__get_packed_size(lease);
    int rc;

    if (store_batch(st) < 0)
        return -1;
    rc = mdb_get(st->batch, st->dbi[DB_LEASES], &k, &old);
    if (rc == 0) {
        Aifed__Lease *prev;
        if (lease_decode(&old, &prev) < 0)
            return -1;
        rc = index_update(st, prev, false);
        if (rc == 0)
            rc = audit_lease(st, prev, lease);
        aifed__lease__free_unpacked(prev, NULL);
        if (rc < 0)
            return -1;
    } else if (rc != MDB_NOTFOUND) {
        return store_errno(rc);
    } else if (audit_lease(st, NULL, lease) < 0) {
        return -1;
    }
    /* MDB_RESERVE: encode straight into the page, no extra copy. */
    v.mv_size = len;
    rc = mdb_put(st->batch, st->dbi[DB_LEASES], &k, &v, MDB_RESERVE);
    if (rc)
        return store_errno(rc);
    aifed__lease__pack(lease, v.mv_data);
    if (index_update(st, lease, true) < 0)
        return -1;
    if (idem_principal && lease->request_id && *lease->request_id)
        return store_idem_put(st, idem_principal, lease->request_id, lease->id,
                              lease->updated_ms);
    return 0;
}

int store_lease_get(struct store *st, const char *id, Aifed__Lease **ret)
{
    MDB_txn *txn;
    bool own;
    MDB_val k = store_val(id), v;
    int rc;

    if (store_read_begin(st, &txn, &own) < 0)
        return -1;
    rc = mdb_get(txn, st->dbi[DB_LEASES], &k, &v);
    if (rc == 0)
        rc = lease_decode(&v, ret);
    else
        rc = store_errno(rc);
    store_read_end(txn, own);
    return rc;
}

int store_lease_prefix(struct store *st, const char *prefix, size_t max,
                       store_lease_fn fn, void *arg)
{
    size_t len = strlen(prefix), n = 0;
    MDB_val k = store_val(prefix), v;
    MDB_cursor *cur;
    MDB_txn *txn;
    bool own;
    int rc, stop = 0;

    if (store_read_begin(st, &txn, &own) < 0)
        return -1;
    if ((rc = mdb_cursor_open(txn, st->dbi[DB_LEASES], &cur))) {
        store_read_end(txn, own);
        return store_errno(rc);
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && n < max && !stop;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Aifed__Lease *l;
        if (k.mv_size < len || memcmp(k.mv_data, prefix, len))
            break;
        if (lease_decode(&v, &l) < 0) {
            stop = -1;
            break;
        }
        n++;
        stop = fn(l, arg);
        aifed__lease__free_unpacked(l, NULL);
    }
    mdb_cursor_close(cur);
    store_read_end(txn, own);
    if (stop < 0 || (rc != 0 && rc != MDB_NOTFOUND))
        return stop < 0 ? -1 : store_errno(rc);
    return (int)n;
}

void store_lease_free(struct store *st, Aifed__Lease *lease)
{
    (void)st;
    if (lease)
        aifed__lease__free_unpacked(lease, NULL);
}

static bool filter_match(const struct store_filter *f, const Aifed__Lease *l)
{
    if (f->site && *f->site && strcmp(f->site, l->site ? l->site : ""))
        return false;
    if (f->project && *f->project && strcmp(f->project, l->workload->project))
        return false;
    return !f->state || f->state == (int)l->state;
}

/* Visit one lease by id; fn's return value, or -1. */
static int visit_id(MDB_txn *txn, struct store *st, const MDB_val *id,
                    const struct store_filter *f, store_lease_fn fn, void *arg)
{
    MDB_val v;
    Aifed__Lease *l;
    int rc = mdb_get(txn, st->dbi[DB_LEASES], (MDB_val *)id, &v);

    if (rc == MDB_NOTFOUND)
        return 0; /* index ahead of a lease cannot happen in one txn; skip */
    if (rc)
        return store_errno(rc);
    if (lease_decode(&v, &l) < 0)
        return -1;
    rc = filter_match(f, l) ? fn(l, arg) : 0;
    aifed__lease__free_unpacked(l, NULL);
    return rc;
}

/* Walk an index's duplicates for key (or the leases table when db is
 * DB_LEASES), starting after id `after`. */
static int walk(MDB_txn *txn, struct store *st, int db, const char *key,
                const char *after, const struct store_filter *f, store_lease_fn fn,
                void *arg)
{
    MDB_cursor *cur;
    MDB_val k, v;
    MDB_cursor_op op;
    int rc;

    if ((rc = mdb_cursor_open(txn, st->dbi[db], &cur)))
        return store_errno(rc);
    if (db == DB_LEASES) {
        k = store_val(after ? after : "");
        op = after ? MDB_SET_RANGE : MDB_FIRST;
        rc = mdb_cursor_get(cur, &k, &v, op);
        if (rc == 0 && after && k.mv_size == strlen(after) &&
            !memcmp(k.mv_data, after, k.mv_size))
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    } else {
        k = store_val(key);
        v = store_val(after ? after : "");
        rc = mdb_cursor_get(cur, &k, &v, after ? MDB_GET_BOTH_RANGE : MDB_SET_KEY);
        if (rc == 0 && !after)
            rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST_DUP);
        if (rc == 0 && after && v.mv_size == strlen(after) &&
            !memcmp(v.mv_data, after, v.mv_size))
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
    }
    while (rc == 0) {
        int r = visit_id(txn, st, db == DB_LEASES ? &k : &v, f, fn, arg);
        if (r != 0) {
            mdb_cursor_close(cur);
            return r < 0 ? -1 : 0;
        }
        rc = mdb_cursor_get(cur, &k, &v, db == DB_LEASES ? MDB_NEXT : MDB_NEXT_DUP);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : store_errno(rc);
}

int store_lease_list(struct store *st, const struct store_filter *f, const char *after,
                     store_lease_fn fn, void *arg)
{
    MDB_txn *txn;
    bool own;
    char sk[4];
    int rc;

    if (store_read_begin(st, &txn, &own) < 0)
        return -1;
    if (f->site && *f->site)
        rc = walk(txn, st, DB_BY_SITE, f->site, after, f, fn, arg);
    else if (f->project && *f->project)
        rc = walk(txn, st, DB_BY_PROJECT, f->project, after, f, fn, arg);
    else if (f->state) {
        state_key(f->state, sk);
        rc = walk(txn, st, DB_BY_STATE, sk, after, f, fn, arg);
    } else
        rc = walk(txn, st, DB_LEASES, NULL, after, f, fn, arg);
    store_read_end(txn, own);
    return rc;
}

int store_lease_expired(struct store *st, int64_t now_ms, store_lease_fn fn, void *arg)
{
    static const struct store_filter all = {0};
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    bool own;
    int rc;

    /* The caller writes what it finds: read through the batch, so that the
     * thread holds one transaction and sees its own writes. */
    if (store_batch(st) < 0 || store_read_begin(st, &txn, &own) < 0)
        return -1;
    if ((rc = mdb_cursor_open(txn, st->dbi[DB_BY_EXPIRY], &cur))) {
        store_read_end(txn, own);
        return store_errno(rc);
    }
    /* Collect first: fn may write to the same index through the batch. */
    char(*ids)[AF_ID_MAX + 1] = NULL;
    size_t n = 0, cap = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= 8 || k.mv_size > 8 + AF_ID_MAX)
            continue;
        if ((int64_t)store_be64_get(k.mv_data) > now_ms)
            break;
        if (n == cap) {
            void *grown = realloc(ids, (cap = cap ? cap * 2 : 64) * sizeof(*ids));
            if (!grown) {
                rc = ENOMEM;
                break;
            }
            ids = grown;
        }
        memcpy(ids[n], (const char *)k.mv_data + 8, k.mv_size - 8);
        ids[n++][k.mv_size - 8] = '\0';
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        store_read_end(txn, own);
        free(ids);
        return rc == ENOMEM ? (errno = ENOMEM, -1) : store_errno(rc);
    }
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        MDB_val id = store_val(ids[i]);
        rc = visit_id(txn, st, &id, &all, fn, arg);
    }
    store_read_end(txn, own);
    free(ids);
    return rc < 0 ? -1 : 0;
}

size_t store_lease_count(struct store *st)
{
    MDB_txn *txn;
    MDB_stat s;
    bool own;
    size_t n = 0;

    if (store_read_begin(st, &txn, &own) < 0)
        return 0;
    if (mdb_stat(txn, st->dbi[DB_LEASES], &s) == 0)
        n = s.ms_entries;
    store_read_end(txn, own);
    return n;
}

size_t store_lease_count_state(struct store *st, int state)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    size_t n = 0;
    char sk[4];
    bool own;

    if (store_read_begin(st, &txn, &own) < 0)
        return 0;
    state_key(state, sk);
    k = store_val(sk);
    if (mdb_cursor_open(txn, st->dbi[DB_BY_STATE], &cur) == 0) {
        if (mdb_cursor_get(cur, &k, &v, MDB_SET_KEY) == 0)
            mdb_cursor_count(cur, &n);
        mdb_cursor_close(cur);
    }
    store_read_end(txn, own);
    return (size_t)n;
}

/* Put a packed protobuf message under "a\nb" in db, into the batch. */
static int put_pair(struct store *st, int db, const char *a, const char *b,
                    const ProtobufCMessage *msg)
{
    char key[AF_ID_MAX * 3];
    MDB_val k, v;
    int rc;

    if (store_batch(st) < 0)
        return -1;
    snprintf(key, sizeof(key), "%s\n%s", a, b);
    k = store_val(key);
    v.mv_size = protobuf_c_message_get_packed_size(msg);
    if ((rc = mdb_put(st->batch, st->dbi[db], &k, &v, MDB_RESERVE)))
        return store_errno(rc);
    protobuf_c_message_pack(msg, v.mv_data);
    return 0;
}

int store_alloc_put(struct store *st, const Aifed__Allocation *a)
{
    return put_pair(st, DB_ALLOCATIONS, a->project, a->site, &a->base);
}

struct alloc_visit {
    store_alloc_fn fn;
    void *arg;
};

static int alloc_visit(const ProtobufCMessage *m, void *ctx)
{
    const struct alloc_visit *v = ctx;

    return v->fn((const Aifed__Allocation *)m, v->arg);
}

int store_alloc_list(struct store *st, store_alloc_fn fn, void *arg)
{
    struct alloc_visit v = {fn, arg};

    return store_scan(st, DB_ALLOCATIONS, &aifed__allocation__descriptor, NULL,
                      alloc_visit, &v);
}

int store_principal_put(struct store *st, const Aifed__Principal *p)
{
    MDB_val k = store_val(p->id), v;
    int rc;

    if (store_batch(st) < 0)
        return -1;
    v.mv_size = aifed__principal__get_packed_size(p);
    if ((rc = mdb_put(st->batch, st->dbi[DB_PRINCIPALS], &k, &v, MDB_RESERVE)))
        return store_errno(rc);
    aifed__principal__pack(p, v.mv_data);
    return 0;
}

#define DRAINED_KEY "drained\n"

int store_drained_put(struct store *st, const char *site, bool drained)
{
    char key[AF_ID_MAX + sizeof(DRAINED_KEY)];
    MDB_val k, v = store_val("1");
    int rc;

    if (strlen(site) > AF_ID_MAX) {
        errno = EINVAL;
        return -1;
    }
    snprintf(key, sizeof(key), DRAINED_KEY "%s", site);
    k = store_val(key);
    if (store_batch(st) < 0)
        return -1;
    rc = drained ? mdb_put(st->batch, st->dbi[DB_META], &k, &v, 0)
                 : mdb_del(st->batch, st->dbi[DB_META], &k, NULL);
    return rc && rc != MDB_NOTFOUND ? store_errno(rc) : 0;
}

int store_health_put(struct store *st, int64_t now_ms)
{
    char text[32];
    MDB_val k = store_val("health"), v;
    int rc;

    snprintf(text, sizeof(text), "%lld", (long long)now_ms);
    v = store_val(text);
    if (store_batch(st) < 0)
        return -1;
    rc = mdb_put(st->batch, st->dbi[DB_META], &k, &v, 0);
    return rc ? store_errno(rc) : 0;
}

int store_drained_list(struct store *st, store_site_fn fn, void *arg)
{
    MDB_val k = store_val(DRAINED_KEY), v;
    size_t plen = strlen(DRAINED_KEY);
    char site[AF_ID_MAX + 1];
    MDB_cursor *cur;
    MDB_txn *txn;
    bool own;
    int rc, r = 0;

    if (store_cursor(st, DB_META, &txn, &own, &cur) < 0)
        return -1;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && r == 0 && k.mv_size > plen && k.mv_size - plen <= AF_ID_MAX &&
         !memcmp(k.mv_data, DRAINED_KEY, plen);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        memcpy(site, (char *)k.mv_data + plen, k.mv_size - plen);
        site[k.mv_size - plen] = '\0';
        r = fn(site, arg);
    }
    store_cursor_end(cur, txn, own);
    if (r < 0)
        return -1;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_errno(rc);
}

struct principal_visit {
    store_principal_fn fn;
    void *arg;
};

static int principal_visit(const ProtobufCMessage *m, void *ctx)
{
    const struct principal_visit *v = ctx;

    return v->fn((const Aifed__Principal *)m, v->arg);
}

int store_principal_list(struct store *st, store_principal_fn fn, void *arg)
{
    struct principal_visit v = {fn, arg};

    return store_scan(st, DB_PRINCIPALS, &aifed__principal__descriptor, NULL,
                      principal_visit, &v);
}

int store_template_put(struct store *st, const Aifed__Template *t)
{
    MDB_val k = store_val(t->name), v;
    int rc;

    if (store_batch(st) < 0)
        return -1;
    v.mv_size = aifed__template__get_packed_size(t);
    if ((rc = mdb_put(st->batch, st->dbi[DB_TEMPLATES], &k, &v, MDB_RESERVE)))
        return store_errno(rc);
    aifed__template__pack(t, v.mv_data);
    return 0;
}

int store_template_del(struct store *st, const char *name)
{
    MDB_val k = store_val(name);
    int rc;

    if (store_batch(st) < 0)
        return -1;
    rc = mdb_del(st->batch, st->dbi[DB_TEMPLATES], &k, NULL);
    return rc ? store_errno(rc) : 0;
}

struct template_visit {
    store_template_fn fn;
    void *arg;
};

static int template_visit(const ProtobufCMessage *m, void *ctx)
{
    const struct template_visit *v = ctx;

    return v->fn((const Aifed__Template *)m, v->arg);
}

int store_template_list(struct store *st, store_template_fn fn, void *arg)
{
    struct template_visit v = {fn, arg};

    return store_scan(st, DB_TEMPLATES, &aifed__template__descriptor, NULL,
                      template_visit, &v);
}
