/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_audit: the audit log, a hash chain (af_audit.h) under big-endian
 * sequence numbers, appended to in the batch of the change it records.
 */
#include "store_audit.h"
#include "af_audit.h"
#include "af_time.h"
#include "store_base.h"

#include "aifed.pb-c.h"

#include <stdio.h>

/* The last entry's seq and hash (0 and "" for an empty log), from txn. */
static int audit_last(MDB_txn *txn, MDB_dbi dbi, uint64_t *seq,
                      char hash[AF_AUDIT_HASH_HEX])
{
    MDB_cursor *cur;
    MDB_val k, v;
    Aifed__AuditEntry *e;
    int rc;

    *seq = 0;
    hash[0] = '\0';
    if ((rc = mdb_cursor_open(txn, dbi, &cur)))
        return store_errno(rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return store_errno(rc);
    if (!(e = aifed__audit_entry__unpack(NULL, v.mv_size, v.mv_data)))
        return store_errno(MDB_CORRUPTED);
    *seq = e->seq;
    snprintf(hash, AF_AUDIT_HASH_HEX, "%s", e->hash);
    aifed__audit_entry__free_unpacked(e, NULL);
    return 0;
}

int store_audit_append(struct store *st, const char *subject, const char *principal,
                       const char *change, const char *text)
{
    Aifed__AuditEntry e = AIFED__AUDIT_ENTRY__INIT;
    char prev[AF_AUDIT_HASH_HEX], hash[AF_AUDIT_HASH_HEX];
    unsigned char key[8];
    MDB_val k = {sizeof(key), key}, v;
    int rc;

    if (store_batch(st) < 0 || audit_last(st->batch, st->dbi[DB_AUDIT], &e.seq, prev) < 0)
        return -1;
    e.seq++;
    e.time_ms = af_now_ms();
    e.subject = (char *)subject;
    e.principal = (char *)principal;
    e.change = (char *)change;
    e.text = (char *)(text ? text : "");
    e.prev_hash = prev;
    af_audit_hash(&e, hash);
    e.hash = hash;
    store_be64(e.seq, key);
    v.mv_size = aifed__audit_entry__get_packed_size(&e);
    if ((rc = mdb_put(st->batch, st->dbi[DB_AUDIT], &k, &v, MDB_RESERVE | MDB_APPEND)))
        return store_errno(rc);
    aifed__audit_entry__pack(&e, v.mv_data);
    return 0;
}

struct audit_visit {
    store_audit_fn fn;
    void *arg;
};

static int audit_visit(const ProtobufCMessage *m, void *ctx)
{
    const struct audit_visit *v = ctx;

    return v->fn((const Aifed__AuditEntry *)m, v->arg);
}

int store_audit_list(struct store *st, uint64_t after_seq, store_audit_fn fn, void *arg)
{
    struct audit_visit v = {fn, arg};
    unsigned char key[8];
    MDB_val from = {sizeof(key), key};

    store_be64(after_seq + 1, key);
    return store_scan(st, DB_AUDIT, &aifed__audit_entry__descriptor, &from, audit_visit,
                      &v);
}
