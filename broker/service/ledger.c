/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger: every change goes through one entry lookup and one store write, so
 * the table in memory and the batch on its way to disk change together; a
 * failed commit rebuilds the table from the store (leasesvc_reload).
 */
#include "ledger.h"
#include "alloc.h"
#include "outbox.h"
#include "store.h"
#include "svc.h"

#include <errno.h>

static struct alloc_entry *entry_of(struct svc *s, const Aifed__Lease *l)
{
    return alloc_find(s->allocs, l->workload->project, l->site);
}

void ledger_to_msg(const struct alloc_entry *e, Aifed__Allocation *out)
{
    aifed__allocation__init(out);
    out->project = (char *)e->project;
    out->site = (char *)e->site;
    out->granted_gpu_s = e->granted_gpu_s;
    out->used_gpu_s = e->used_gpu_s;
    out->reserved_gpu_s = e->reserved_gpu_s;
    out->end_ms = e->end_ms;
}

int ledger_save(struct svc *s, const struct alloc_entry *e)
{
    Aifed__Allocation a;

    ledger_to_msg(e, &a);
    if (store_alloc_put(s->store, &a) < 0) {
        outbox_store_failed(s->outbox, "storing the allocation of %s at %s", e->project,
                            e->site);
        return -1;
    }
    return 0;
}

void ledger_reserve(struct svc *s, const Aifed__Lease *l, uint64_t gpu_s)
{
    struct alloc_entry *e = entry_of(s, l);

    if (!e)
        return;
    e->reserved_gpu_s += gpu_s;
    ledger_save(s, e);
}

void ledger_settle(struct svc *s, const Aifed__Lease *l, uint64_t used_gpu_s)
{
    struct alloc_entry *e = entry_of(s, l);
    uint64_t held = (uint64_t)l->gpus * l->workload->walltime_s;

    if (!e)
        return;
    e->reserved_gpu_s = e->reserved_gpu_s > held ? e->reserved_gpu_s - held : 0;
    e->used_gpu_s += used_gpu_s;
    ledger_save(s, e);
}

void ledger_adjust(struct svc *s, const Aifed__Lease *l, uint64_t was_gpu_s,
                   uint64_t now_gpu_s)
{
    struct alloc_entry *e = entry_of(s, l);

    if (!e)
        return;
    e->used_gpu_s = e->used_gpu_s > was_gpu_s ? e->used_gpu_s - was_gpu_s : 0;
    e->used_gpu_s += now_gpu_s;
    ledger_save(s, e);
}

static int load_one(const Aifed__Allocation *a, void *arg)
{
    struct alloc_entry *e = alloc_get(arg, a->project, a->site);

    if (!e)
        return -1;
    e->granted_gpu_s = a->granted_gpu_s;
    e->used_gpu_s = a->used_gpu_s;
    e->reserved_gpu_s = a->reserved_gpu_s;
    e->end_ms = a->end_ms;
    return 0;
}

struct allocs *ledger_load(struct store *st)
{
    struct allocs *a = alloc_create();

    if (!a) {
        errno = ENOMEM;
        return NULL;
    }
    if (store_alloc_list(st, load_one, a) < 0) {
        alloc_destroy(a);
        return NULL;
    }
    return a;
}
