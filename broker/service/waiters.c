/* SPDX-License-Identifier: Apache-2.0 */
/*
 * waiters: one array, allocated at the bound on first use, scanned by lease
 * id. The bound keeps a scan cheap next to the commit it precedes.
 */
#include "waiters.h"
#include "af_ids.h"
#include "af_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct waiter {
    char lease_id[AF_ID_MAX + 1];
    size_t principal;
    struct outbox_peer peer;
    int64_t since_ms;
};

struct waiters {
    struct waiter *v;
    size_t n, max;
};

struct waiters *waiters_create(size_t max)
{
    struct waiters *w = calloc(1, sizeof(*w));

    if (w)
        w->max = max;
    return w;
}

void waiters_destroy(struct waiters *w)
{
    if (w)
        free(w->v);
    free(w);
}

bool waiters_add(struct waiters *w, const char *lease_id, size_t principal,
                 const struct outbox_peer *peer, int64_t now_ms)
{
    struct waiter *x;

    if (w->n >= w->max)
        return false;
    if (!w->v && !(w->v = calloc(w->max, sizeof(*w->v))))
        return false;
    x = &w->v[w->n++];
    snprintf(x->lease_id, sizeof(x->lease_id), "%s", lease_id);
    x->principal = principal;
    x->peer = *peer;
    x->since_ms = now_ms;
    return true;
}

size_t waiters_count(const struct waiters *w, size_t principal)
{
    size_t n = 0;

    for (size_t i = 0; i < w->n; i++)
        n += w->v[i].principal == principal;
    return n;
}

size_t waiters_total(const struct waiters *w)
{
    return w->n;
}

void waiters_wake(struct waiters *w, struct outbox *ob, const Aifed__Lease *lease)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__LeaseReply r = AIFED__LEASE_REPLY__INIT;
    size_t keep = 0;

    r.lease = (Aifed__Lease *)lease;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_LEASE_REPLY, &r);
    for (size_t i = 0; i < w->n; i++) {
        struct waiter *x = &w->v[i];

        if (strcmp(x->lease_id, lease->id)) {
            w->v[keep++] = *x;
            continue;
        }
        env.corr_id = x->peer.corr_id;
        outbox_push(ob, &x->peer, &env, true);
    }
    w->n = keep;
}

void waiters_expire(struct waiters *w, int64_t now_ms, int64_t ttl_ms)
{
    size_t keep = 0;

    for (size_t i = 0; i < w->n; i++)
        if (now_ms - w->v[i].since_ms < ttl_ms)
            w->v[keep++] = w->v[i];
    w->n = keep;
}

const char *waiters_first(const struct waiters *w)
{
    return w->n ? w->v[0].lease_id : NULL;
}

void waiters_forget(struct waiters *w, const char *lease_id)
{
    size_t keep = 0;

    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->v[i].lease_id, lease_id))
            w->v[keep++] = w->v[i];
    w->n = keep;
}
