/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_base: what the store's files sit on (store_priv.h before it): the
 * handle, the LMDB return codes as errno, the batch and reads beside it,
 * cursors and big-endian keys. It calls nothing above it.
 */
#include "store_base.h"

#include <errno.h>
#include <string.h>

/* Map an LMDB return code onto errno and -1 (0 passes through). */
int store_errno(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        errno = ENOENT;
        break;
    case MDB_MAP_FULL:
        /* Not ENOSPC: the disk may have room; the store has reached the
         * size the configuration gave it (map_size_mb), a quota. */
        errno = EDQUOT;
        break;
    case MDB_TXN_FULL:
        errno = ENOSPC;
        break;
    case MDB_INVALID:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_VERSION_MISMATCH:
        errno = EIO;
        break;
    default:
        errno = rc > 0 ? rc : EIO;
    }
    return -1;
}

MDB_val store_val(const char *s)
{
    return (MDB_val){.mv_size = strlen(s), .mv_data = (void *)s};
}

int store_batch(struct store *st)
{
    if (st->readonly || st->committed) {
        errno = EROFS;
        return -1;
    }
    if (st->batch)
        return 0;
    return store_errno(mdb_txn_begin(st->env, NULL, 0, &st->batch));
}

/* A read transaction, or the open batch so reads see its writes. */
int store_read_begin(struct store *st, MDB_txn **ret, bool *ret_own)
{
    if (st->batch && !st->committed) {
        *ret = st->batch;
        *ret_own = false;
        return 0;
    }
    *ret_own = true;
    return store_errno(mdb_txn_begin(st->env, NULL, MDB_RDONLY, ret));
}

void store_read_end(MDB_txn *txn, bool own)
{
    if (own)
        mdb_txn_abort(txn);
}

int store_cursor(struct store *st, int db, MDB_txn **txn, bool *own, MDB_cursor **cur)
{
    int rc;

    if (store_read_begin(st, txn, own) < 0)
        return -1;
    if ((rc = mdb_cursor_open(*txn, st->dbi[db], cur))) {
        store_read_end(*txn, *own);
        return store_errno(rc);
    }
    return 0;
}

void store_cursor_end(MDB_cursor *cur, MDB_txn *txn, bool own)
{
    mdb_cursor_close(cur);
    store_read_end(txn, own);
}

void store_be64(uint64_t v, unsigned char buf[8])
{
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(v >> (56 - 8 * i));
}

uint64_t store_be64_get(const unsigned char buf[8])
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | buf[i];
    return v;
}

/* Visit every message of a database in key order (from the first key at or
 * after *from, when given); fn's non-zero ends the walk (-1: as an error). */
int store_scan(struct store *st, int db, const ProtobufCMessageDescriptor *desc,
               MDB_val *from, store_scan_fn fn, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    bool own;
    int rc;

    if (store_read_begin(st, &txn, &own) < 0)
        return -1;
    if ((rc = mdb_cursor_open(txn, st->dbi[db], &cur))) {
        store_read_end(txn, own);
        return store_errno(rc);
    }
    if (from)
        k = *from;
    for (rc = mdb_cursor_get(cur, &k, &v, from ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, v.mv_size, v.mv_data);
        int r;

        if (!m) {
            rc = MDB_CORRUPTED;
            break;
        }
        r = fn(m, ctx);
        protobuf_c_message_free_unpacked(m, NULL);
        if (r != 0) {
            rc = r < 0 ? -1 : MDB_NOTFOUND;
            break;
        }
    }
    mdb_cursor_close(cur);
    store_read_end(txn, own);
    if (rc == -1)
        return -1;
    return rc == MDB_NOTFOUND ? 0 : store_errno(rc);
}
