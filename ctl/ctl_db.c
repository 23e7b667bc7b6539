/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_db: see ctl_db.h. */
#include "ctl_db.h"
#include "af_wire.h"
#include "ctl_show.h"
#include "store.h"
#include "store_audit.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_MAP_MB 4096 /* the broker's default; a read-only map may be larger */

static struct store *open_ro(const char *dir)
{
    struct af_error err;
    struct store *st = store_open(dir, DB_MAP_MB, true, &err);

    if (!st)
        fprintf(stderr, "aifedctl: --db %s: %s\n", dir, err.text);
    return st;
}

struct collect {
    Aifed__Lease **v;
    size_t n, cap, limit;
};

static int collect(const Aifed__Lease *l, void *arg)
{
    struct collect *c = arg;

    if (c->limit && c->n == c->limit)
        return 1;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        Aifed__Lease **grown = realloc(c->v, cap * sizeof(*grown));
        if (!grown)
            return -1;
        c->v = grown;
        c->cap = cap;
    }
    /* The store lends l for this call only. */
    if (!(c->v[c->n] = af_wire_copy(l)))
        return -1;
    c->n++;
    return 0;
}

int ctl_db_leases(const char *dir, const char *site, const char *project, int state,
                  uint32_t limit, bool json)
{
    struct store *st = open_ro(dir);
    struct store_filter f = {.site = site, .project = project, .state = state};
    struct collect c = {.limit = limit};
    int rc = 1;

    if (!st)
        return 1;
    if (store_lease_list(st, &f, NULL, collect, &c) < 0) {
        fprintf(stderr, "aifedctl: --db %s: reading leases: %s\n", dir, strerror(errno));
    } else {
        if (json || c.n)
            ctl_show_leases(c.v, c.n, json);
        else
            printf("no leases\n");
        rc = 0;
    }
    for (size_t i = 0; i < c.n; i++)
        aifed__lease__free_unpacked(c.v[i], NULL);
    free(c.v);
    store_close(st);
    return rc;
}

int ctl_db_lease_show(const char *dir, const char *id, bool json)
{
    struct store *st = open_ro(dir);
    Aifed__Lease *l;
    int rc = 1;

    if (!st)
        return 1;
    if (store_lease_get(st, id, &l) < 0) {
        fprintf(stderr, "aifedctl: no lease %s in %s\n", id, dir);
    } else {
        ctl_show_lease(l, json);
        store_lease_free(st, l);
        rc = 0;
    }
    store_close(st);
    return rc;
}

int ctl_db_audit(const char *dir, ctl_audit_fn fn, void *arg)
{
    struct store *st = open_ro(dir);
    int rc;

    if (!st)
        return -1;
    rc = store_audit_list(st, 0, fn, arg);
    if (rc < 0)
        fprintf(stderr, "aifedctl: --db %s: reading the audit log: %s\n", dir,
                strerror(errno));
    store_close(st);
    return rc;
}
