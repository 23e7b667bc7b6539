/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_records: what the broker keeps per request, and the bounds on it.
 * Two kinds, both keyed principal "\n" request id: idem entries (the lease a
 * changing call acted on, so that a retry is not acted on twice) and request
 * records (what a submit was answered, and why).
 *
 * Any principal can make the broker keep these (a refused submit costs it
 * nothing), so each is indexed by age in record_age (be64 ms, kind, key),
 * and store_records_prune() deletes those past the retention period, oldest
 * first. Request records are also indexed per principal in request_owner
 * (sorted duplicates be64 ms || request id, counted in O(1) by LMDB), and
 * a principal's oldest are deleted past its bound as it makes new ones.
 */
#include "af_ids.h"
#include "store_records.h"
#include "store_base.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum { KIND_IDEM = 'i', KIND_REQUEST = 'r' };

/* principal "\n" request id, both ids */
#define KEY_MAX (2 * AF_ID_MAX + 2)
#define AGE_MAX (8 + 1 + KEY_MAX)

static int record_key(char buf[KEY_MAX], const char *principal, const char *request_id,
                      MDB_val *ret)
{
    int n = snprintf(buf, KEY_MAX, "%s\n%s", principal, request_id);

    if (n < 0 || n >= KEY_MAX || strlen(request_id) > AF_ID_MAX) {
        errno = EINVAL;
        return -1;
    }
    *ret = (MDB_val){.mv_size = (size_t)n, .mv_data = buf};
    return 0;
}

static uint64_t ms_key(int64_t ms)
{
    return ms > 0 ? (uint64_t)ms : 0;
}

static MDB_val age_key(unsigned char buf[AGE_MAX], int64_t ms, char kind,
                       const MDB_val *key)
{
    store_be64(ms_key(ms), buf);
    buf[8] = (unsigned char)kind;
    memcpy(buf + 9, key->mv_data, key->mv_size);
    return (MDB_val){.mv_size = 9 + key->mv_size, .mv_data = buf};
}

/* request_owner's duplicate for a record: be64 ms || request id */
static MDB_val owner_val(unsigned char buf[8 + AF_ID_MAX], int64_t ms,
                         const char *request_id)
{
    size_t n = strlen(request_id);

    store_be64(ms_key(ms), buf);
    memcpy(buf + 8, request_id, n);
    return (MDB_val){.mv_size = 8 + n, .mv_data = buf};
}

static int age_put(struct store *st, MDB_txn *txn, int64_t ms, char kind,
                   const MDB_val *key)
{
    unsigned char buf[AGE_MAX];
    MDB_val k = age_key(buf, ms, kind, key), empty = {0, ""};

    return store_errno(mdb_put(txn, st->dbi[DB_RECORD_AGE], &k, &empty, 0));
}

static int del_missing_ok(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v)
{
    int rc = mdb_del(txn, dbi, k, v);

    return rc == MDB_NOTFOUND ? 0 : store_errno(rc);
}

/* Both index entries of a request record. */
static int request_index(struct store *st, MDB_txn *txn, const char *principal,
                         const char *request_id, int64_t created_ms, const MDB_val *key)
{
    unsigned char ob[8 + AF_ID_MAX];
    MDB_val owner = store_val(principal), ov = owner_val(ob, created_ms, request_id);
    int rc;

    if (age_put(st, txn, created_ms, KIND_REQUEST, key) < 0)
        return -1;
    rc = mdb_put(txn, st->dbi[DB_REQUEST_OWNER], &owner, &ov, MDB_NODUPDATA);
    return rc == MDB_KEYEXIST ? 0 : store_errno(rc);
}

/* Delete a request record with both its index entries. */
static int request_delete(struct store *st, MDB_txn *txn, const char *principal,
                          size_t principal_len, const char *request_id,
                          int64_t created_ms)
{
    char kb[KEY_MAX], pb[AF_ID_MAX + 1];
    unsigned char ab[AGE_MAX], ob[8 + AF_ID_MAX];
    MDB_val key, age, owner, ov;

    if (principal_len > AF_ID_MAX) {
        errno = EINVAL;
        return -1;
    }
    memcpy(pb, principal, principal_len);
    pb[principal_len] = '\0';
    if (record_key(kb, pb, request_id, &key) < 0)
        return -1;
    age = age_key(ab, created_ms, KIND_REQUEST, &key);
    owner = store_val(pb);
    ov = owner_val(ob, created_ms, request_id);
    if (del_missing_ok(txn, st->dbi[DB_REQUESTS], &key, NULL) < 0 ||
        del_missing_ok(txn, st->dbi[DB_RECORD_AGE], &age, NULL) < 0)
        return -1;
    return del_missing_ok(txn, st->dbi[DB_REQUEST_OWNER], &owner, &ov);
}

/* When the stored record under key was made, or -1 (ENOENT: none). */
static int request_created(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, int64_t *ret)
{
    Aifed__RequestRecord *r;
    MDB_val v;
    int rc = mdb_get(txn, dbi, key, &v);

    if (rc)
        return store_errno(rc);
    if (!(r = aifed__request_record__unpack(NULL, v.mv_size, v.mv_data)))
        return store_errno(MDB_CORRUPTED);
    *ret = r->created_ms;
    aifed__request_record__free_unpacked(r, NULL);
    return 0;
}

/* Delete principal's oldest records until it has at most keep. */
static int request_evict(struct store *st, const char *principal, size_t keep)
{
    MDB_val owner = store_val(principal), ov;
    char rid[AF_ID_MAX + 1];
    MDB_cursor *cur;
    size_t n = 0;
    int rc;

    if ((rc = mdb_cursor_open(st->batch, st->dbi[DB_REQUEST_OWNER], &cur)))
        return store_errno(rc);
    rc = mdb_cursor_get(cur, &owner, &ov, MDB_SET);
    if (rc == 0)
        rc = mdb_cursor_count(cur, &n);
    for (; rc == 0 && n > keep; n--) {
        int64_t ms;

        if ((rc = mdb_cursor_get(cur, &owner, &ov, MDB_FIRST_DUP)))
            break;
        if (ov.mv_size <= 8 || ov.mv_size > 8 + AF_ID_MAX) {
            rc = MDB_CORRUPTED;
            break;
        }
        ms = (int64_t)store_be64_get(ov.mv_data);
        memcpy(rid, (char *)ov.mv_data + 8, ov.mv_size - 8);
        rid[ov.mv_size - 8] = '\0';
        mdb_cursor_close(cur);
        if (request_delete(st, st->batch, principal, strlen(principal), rid, ms) < 0)
            return -1;
        if ((rc = mdb_cursor_open(st->batch, st->dbi[DB_REQUEST_OWNER], &cur)))
            return store_errno(rc);
        rc = mdb_cursor_get(cur, &owner, &ov, MDB_SET);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : store_errno(rc);
}

int store_request_put(struct store *st, const Aifed__RequestRecord *r, size_t keep)
{
    char kb[KEY_MAX];
    MDB_val k, v;
    int64_t old = 0;
    int rc;

    if (store_batch(st) < 0 || record_key(kb, r->principal, r->request_id, &k) < 0)
        return -1;
    /* A record made again (a refused submit retried) drops the old one's
     * index entries, so that its age is the new one's. */
    if (request_created(st->batch, st->dbi[DB_REQUESTS], &k, &old) == 0) {
        if (request_delete(st, st->batch, r->principal, strlen(r->principal),
                           r->request_id, old) < 0)
            return -1;
    } else if (errno != ENOENT) {
        return -1;
    }
    v.mv_size = protobuf_c_message_get_packed_size(&r->base);
    if ((rc = mdb_put(st->batch, st->dbi[DB_REQUESTS], &k, &v, MDB_RESERVE)))
        return store_errno(rc);
    protobuf_c_message_pack(&r->base, v.mv_data);
    if (request_index(st, st->batch, r->principal, r->request_id, r->created_ms, &k) < 0)
        return -1;
    return request_evict(st, r->principal, keep ? keep : 1);
}

int store_request_get(struct store *st, const char *principal, const char *request_id,
                      Aifed__RequestRecord **ret)
{
    char kb[KEY_MAX];
    MDB_txn *txn;
    MDB_val k, v;
    bool own;
    int rc;

    if (record_key(kb, principal, request_id, &k) < 0 ||
        store_read_begin(st, &txn, &own) < 0)
        return -1;
    rc = mdb_get(txn, st->dbi[DB_REQUESTS], &k, &v);
    if (rc == 0) {
        *ret = aifed__request_record__unpack(NULL, v.mv_size, v.mv_data);
        if (!*ret || !(*ret)->workload) {
            if (*ret)
                aifed__request_record__free_unpacked(*ret, NULL);
            rc = MDB_CORRUPTED;
        }
    }
    store_read_end(txn, own);
    return store_errno(rc);
}

void store_request_free(Aifed__RequestRecord *r)
{
    if (r)
        aifed__request_record__free_unpacked(r, NULL);
}

size_t store_request_count(struct store *st, const char *principal)
{
    MDB_val owner = store_val(principal), ov;
    size_t n = 0;
    MDB_cursor *cur;
    MDB_txn *txn;
    bool own;

    if (store_read_begin(st, &txn, &own) < 0)
        return 0;
    if (mdb_cursor_open(txn, st->dbi[DB_REQUEST_OWNER], &cur) == 0) {
        if (mdb_cursor_get(cur, &owner, &ov, MDB_SET) == 0 && mdb_cursor_count(cur, &n))
            n = 0;
        mdb_cursor_close(cur);
    }
    store_read_end(txn, own);
    return (size_t)n;
}

int store_idem_put(struct store *st, const char *principal, const char *request_id,
                   const char *lease_id, int64_t now_ms)
{
    char kb[KEY_MAX];
    MDB_val k, v = store_val(lease_id), old;
    int rc;

    if (store_batch(st) < 0 || record_key(kb, principal, request_id, &k) < 0)
        return -1;
    rc = mdb_get(st->batch, st->dbi[DB_IDEM], &k, &old);
    if (rc == 0 && old.mv_size == v.mv_size && !memcmp(old.mv_data, v.mv_data, v.mv_size))
        return 0; /* known, and aged from when it was first made */
    if (rc && rc != MDB_NOTFOUND)
        return store_errno(rc);
    if ((rc = mdb_put(st->batch, st->dbi[DB_IDEM], &k, &v, 0)))
        return store_errno(rc);
    return age_put(st, st->batch, now_ms, KIND_IDEM, &k);
}

int store_idem_get(struct store *st, const char *principal, const char *request_id,
                   char *buf, size_t size)
{
    char kb[KEY_MAX];
    MDB_txn *txn;
    bool own;
    MDB_val k, v;
    int rc;

    if (record_key(kb, principal, request_id, &k) < 0 ||
        store_read_begin(st, &txn, &own) < 0)
        return -1;
    rc = mdb_get(txn, st->dbi[DB_IDEM], &k, &v);
    if (rc == 0 && v.mv_size < size) {
        memcpy(buf, v.mv_data, v.mv_size);
        buf[v.mv_size] = '\0';
    } else if (rc == 0) {
        rc = MDB_CORRUPTED;
    }
    store_read_end(txn, own);
    return store_errno(rc);
}

/* Delete what one record_age entry names. A request record made again
 * since has a younger entry of its own, and is left. */
static int prune_one(struct store *st, const MDB_val *age)
{
    const char *key = (const char *)age->mv_data + 9, *nl;
    size_t klen = age->mv_size - 9;
    int64_t ms = (int64_t)store_be64_get(age->mv_data), made = 0;
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    char rid[AF_ID_MAX + 1];

    if (((const unsigned char *)age->mv_data)[8] == KIND_IDEM)
        return del_missing_ok(st->batch, st->dbi[DB_IDEM], &k, NULL);
    if (!(nl = memchr(key, '\n', klen)) || (size_t)(key + klen - nl - 1) > AF_ID_MAX)
        return 0; /* not a key this file wrote: only the entry goes */
    if (request_created(st->batch, st->dbi[DB_REQUESTS], &k, &made) < 0)
        return errno == ENOENT ? 0 : -1;
    if (made != ms)
        return 0;
    memcpy(rid, nl + 1, (size_t)(key + klen - nl - 1));
    rid[key + klen - nl - 1] = '\0';
    return request_delete(st, st->batch, key, (size_t)(nl - key), rid, ms);
}

/* Whether the oldest record was made before before_ms: a tick with nothing
 * to prune opens no batch. */
static bool prune_due(struct store *st, int64_t before_ms)
{
    MDB_cursor *cur;
    MDB_txn *txn;
    MDB_val k, v;
    bool own, due = false;

    if (store_read_begin(st, &txn, &own) < 0)
        return true; /* let the batch say what is wrong */
    if (mdb_cursor_open(txn, st->dbi[DB_RECORD_AGE], &cur) == 0) {
        due = mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 &&
              (k.mv_size < 8 || (int64_t)store_be64_get(k.mv_data) < before_ms);
        mdb_cursor_close(cur);
    }
    store_read_end(txn, own);
    return due;
}

int store_records_prune(struct store *st, int64_t before_ms, size_t max)
{
    unsigned char ab[AGE_MAX];
    MDB_cursor *cur;
    MDB_val k, v;
    int n = 0, rc = 0;

    if (!prune_due(st, before_ms))
        return 0;
    if (store_batch(st) < 0)
        return -1;
    while ((size_t)n < max) {
        if ((rc = mdb_cursor_open(st->batch, st->dbi[DB_RECORD_AGE], &cur)))
            return store_errno(rc);
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        mdb_cursor_close(cur);
        if (rc)
            break;
        if (k.mv_size < 9 || k.mv_size > AGE_MAX) {
            rc = MDB_CORRUPTED;
            break;
        }
        if ((int64_t)store_be64_get(k.mv_data) >= before_ms)
            break;
        /* Copy the key out: the deletes below may move the page under it. */
        memcpy(ab, k.mv_data, k.mv_size);
        k.mv_data = ab;
        /* A request record's delete takes its entry with it. */
        if (prune_one(st, &k) < 0 ||
            del_missing_ok(st->batch, st->dbi[DB_RECORD_AGE], &k, NULL) < 0)
            return -1;
        n++;
    }
    return rc && rc != MDB_NOTFOUND ? store_errno(rc) : n;
}

int store_records_upgrade(struct store *st, MDB_txn *txn, int64_t now_ms)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if ((rc = mdb_cursor_open(txn, st->dbi[DB_REQUESTS], &cur)))
        return store_errno(rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Aifed__RequestRecord *r =
            aifed__request_record__unpack(NULL, v.mv_size, v.mv_data);
        int bad =
            !r || strlen(r->principal) > AF_ID_MAX || strlen(r->request_id) > AF_ID_MAX ||
            request_index(st, txn, r->principal, r->request_id, r->created_ms, &k) < 0;

        if (r)
            aifed__request_record__free_unpacked(r, NULL);
        if (bad) {
            rc = MDB_CORRUPTED;
            break;
        }
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return store_errno(rc);
    if ((rc = mdb_cursor_open(txn, st->dbi[DB_IDEM], &cur)))
        return store_errno(rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (k.mv_size > KEY_MAX || age_put(st, txn, now_ms, KIND_IDEM, &k) < 0) {
            rc = MDB_CORRUPTED;
            break;
        }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : store_errno(rc);
}
