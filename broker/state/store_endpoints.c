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

int store_endpoint_get(struct store *st, const char *name, Aifed__Endpoint **ret)
{
    MDB_val k = store_val(name), v;
    MDB_txn *txn;
    bool own;
    int rc;

    *ret = NULL;
    if (store_read_begin(st, &txn, &own) < 0)
        return -1;
    rc = mdb_get(txn, st->dbi[DB_ENDPOINTS], &k, &v);
    if (rc == 0 && !(*ret = aifed__endpoint__unpack(NULL, v.mv_size, v.mv_data))) {
        store_read_end(txn, own);
        errno = EBADMSG;
        return -1;
    }
    store_read_end(txn, own);
    return rc ? store_errno(rc) : 0;
}

void store_endpoint_free(Aifed__Endpoint *ep)
{
    if (ep)
        aifed__endpoint__free_unpacked(ep, NULL);
}

struct endpoint_visit {
    store_endpoint_fn fn;
    void *arg;
};

static int endpoint_visit(const ProtobufCMessage *m, void *ctx)
{
    const struct endpoint_visit *v = ctx;

    return v->fn((const Aifed__Endpoint *)m, v->arg);
}

int store_endpoint_each(struct store *st, store_endpoint_fn fn, void *arg)
{
    struct endpoint_visit v = {fn, arg};

    return store_scan(st, DB_ENDPOINTS, &aifed__endpoint__descriptor, NULL,
                      endpoint_visit, &v);
}
