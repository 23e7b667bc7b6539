/* SPDX-License-Identifier: Apache-2.0 */
#include "store_endpoints.h"
#include "store_audit.h"
#include "store_base.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <stdlib.h>

int store_endpoint_put(struct store *st, const Aifed__Endpoint *ep, const char *change)
{
    MDB_val k = store_val(ep->name), v;
    int rc;

    if (store_batch(st) < 0)
        return -1;
    v.mv_size = aifed__endpoint__get_packed_size(ep);
    if ((rc = mdb_put(st->batch, st->dbi[DB_ENDPOINTS], &k, &v, MDB_RESERVE)))
        return store_errno(rc);
    aifed__endpoint__pack(ep, v.mv_data);
    return change ? store_audit_append(st, ep->name, ep->principal, change, ep->reason)
                  : 0;
}

int store_endpoint_delete(struct store *st, const char *name, const char *principal,
                          const char *by)
{
    MDB_val k = store_val(name);
    int rc;

    if (store_batch(st) < 0)
        return -1;
    if ((rc = mdb_del(st->batch, st->dbi[DB_ENDPOINTS], &k, NULL)))
        return store_errno(rc);
    return store_audit_append(st, name, principal, "endpoint deleted", by);
}

/* The message of desc under id in db, unpacked into *ret; -1/ENOENT. */
static int get_msg(struct store *st, int db, const ProtobufCMessageDescriptor *desc,
                   const char *id, void **ret)
{
    MDB_val k = store_val(id), v;
    MDB_txn *txn;
    bool own;
    int rc;

    *ret = NULL;
    if (store_read_begin(st, &txn, &own) < 0)
        return -1;
    rc = mdb_get(txn, st->dbi[db], &k, &v);
    if (rc == 0 &&
        !(*ret = protobuf_c_message_unpack(desc, NULL, v.mv_size, v.mv_data))) {
        store_read_end(txn, own);
        errno = EBADMSG;
        return -1;
    }
    store_read_end(txn, own);
    return rc ? store_errno(rc) : 0;
}

int store_endpoint_get(struct store *st, const char *name, Aifed__Endpoint **ret)
{
    return get_msg(st, DB_ENDPOINTS, &aifed__endpoint__descriptor, name, (void **)ret);
}

void store_endpoint_free(Aifed__Endpoint *ep)
{
    if (ep)
        aifed__endpoint__free_unpacked(ep, NULL);
}

/* A walk's callback, of one of the two kinds. */
struct visit {
    store_endpoint_fn ep;
    store_key_fn key;
    void *arg;
};

static int visit(const ProtobufCMessage *m, void *ctx)
{
    const struct visit *v = ctx;

    return v->ep ? v->ep((const Aifed__Endpoint *)m, v->arg)
                 : v->key((const Aifed__EndpointKey *)m, v->arg);
}

int store_endpoint_each(struct store *st, store_endpoint_fn fn, void *arg)
{
    struct visit v = {.ep = fn, .arg = arg};

    return store_scan(st, DB_ENDPOINTS, &aifed__endpoint__descriptor, NULL, visit, &v);
}

int store_key_put(struct store *st, const Aifed__EndpointKey *k, const char *change)
{
    MDB_val key = store_val(k->id), v;
    int rc;

    if (store_batch(st) < 0)
        return -1;
    v.mv_size = aifed__endpoint_key__get_packed_size(k);
    if ((rc = mdb_put(st->batch, st->dbi[DB_KEYS], &key, &v, MDB_RESERVE)))
        return store_errno(rc);
    aifed__endpoint_key__pack(k, v.mv_data);
    return change ? store_audit_append(st, k->id, k->principal, change, k->name) : 0;
}

int store_key_get(struct store *st, const char *id, Aifed__EndpointKey **ret)
{
    return get_msg(st, DB_KEYS, &aifed__endpoint_key__descriptor, id, (void **)ret);
}

void store_key_free(Aifed__EndpointKey *k)
{
    if (k)
        aifed__endpoint_key__free_unpacked(k, NULL);
}

int store_key_each(struct store *st, store_key_fn fn, void *arg)
{
    struct visit v = {.key = fn, .arg = arg};

    return store_scan(st, DB_KEYS, &aifed__endpoint_key__descriptor, NULL, visit, &v);
}
