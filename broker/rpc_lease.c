/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_lease: the lease flow shared by both sockets: match, ask a site to hold,
 * fall back to the next site, answer the clients waiting for a decision.
 *
 * Leases read from the store are protobuf-c unpacked messages; a changed
 * lease is always a shallow copy whose new strings are borrowed for the call,
 * never written into the unpacked message (its free would free them).
 */
#include "af_log.h"
#include "af_time.h"
#include "af_wire.h"
#include "bconf.h"
#include "lease.h"
#include "match.h"
#include "rpc.h"
#include "sites.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rpc_match(struct server *srv, const Aifed__Workload *w, const Aifed__Lease *lease,
              struct match_result *ret, const struct match_site **ret_views)
{
    const struct match_site *views;
    size_t n;
    struct match_workload mw = {
        .accelerator = w->accelerator,
        .gpus = w->gpus,
        .nodes = w->nodes,
        .gpu_memory_gb = w->gpu_memory_gb,
        .walltime_s = w->walltime_s,
        .countries = (const char *const *)w->countries,
        .n_countries = w->n_countries,
    };

    if (lease) {
        mw.exclude = (const char *const *)lease->tried_sites;
        mw.n_exclude = lease->n_tried_sites;
    }
    if (sites_views(srv->sites, &views, &n) < 0 || match_run(&mw, views, n, ret) < 0)
        return -1;
    *ret_views = views;
    return 0;
}

int rpc_ask_hold(struct server *srv, const Aifed__Lease *lease)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__LeaseHold hold = AIFED__LEASE_HOLD__INIT;

    if (sites_promise(srv->sites, lease->site, lease->pool, lease->id, lease->gpus,
                      af_now_ms()) < 0)
        return -1;
    hold.lease = (Aifed__Lease *)lease;
    env.body_case = AIFED__ENVELOPE__BODY_LEASE_HOLD;
    env.lease_hold = &hold;
    rpc_to_site(srv, lease->site, &env);
    return 0;
}

void rpc_release_at_site(struct server *srv, const char *site, const char *lease_id)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__LeaseRelease rel = AIFED__LEASE_RELEASE__INIT;

    rel.lease_id = (char *)lease_id;
    env.body_case = AIFED__ENVELOPE__BODY_LEASE_RELEASE;
    env.lease_release = &rel;
    rpc_to_site(srv, site, &env);
}

void rpc_wake_waiters(struct server *srv, const Aifed__Lease *lease)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__LeaseReply r = AIFED__LEASE_REPLY__INIT;
    size_t keep = 0;

    r.lease = (Aifed__Lease *)lease;
    env.body_case = AIFED__ENVELOPE__BODY_LEASE_REPLY;
    env.lease_reply = &r;
    for (size_t i = 0; i < srv->n_waiters; i++) {
        struct waiter *w = &srv->waiters[i];
        struct af_zmsg z = {.rid_len = w->rid_len};
        struct rpc_msg m = {.z = &z};
        Aifed__Envelope req = AIFED__ENVELOPE__INIT;

        if (strcmp(w->lease_id, lease->id)) {
            srv->waiters[keep++] = *w;
            continue;
        }
        memcpy(z.rid, w->rid, w->rid_len);
        req.corr_id = w->corr_id;
        m.env = &req;
        rpc_reply(srv, &m, &env);
    }
    srv->n_waiters = keep;
}

/* The lease, moved to the chosen candidate, asked to hold there. */
static int move_lease(struct server *srv, Aifed__Lease *l, const struct match_site *views,
                      const struct match_candidate *c, const char *why)
{
    char reason[AF_WIRE_MAX_TEXT];

    snprintf(reason, sizeof(reason), "moved from %s: %s", l->site, why);
    l->site = (char *)views[c->site].id;
    l->pool = (char *)views[c->site].pools[c->pool].name;
    l->nodes = c->nodes;
    l->updated_ms = af_now_ms();
    l->reason = reason;
    if (rpc_put(srv, l, NULL) < 0 || rpc_ask_hold(srv, l) < 0)
        return -1;
    log_info("lease %s: %s; asking %s/%s instead", l->id, why, l->site, l->pool);
    return 0;
}

void rpc_hold_failed(struct server *srv, const Aifed__Lease *lease, const char *why)
{
    Aifed__Lease l = *lease;
    char **tried = malloc((lease->n_tried_sites + 1) * sizeof(*tried));
    char reason[AF_WIRE_MAX_TEXT];
    struct match_result r = {0};
    const struct match_site *views;

    if (!tried) {
        log_err("lease %s", lease->id);
        return; /* the promise stays overdue; the next tick tries again */
    }
    if (lease->n_tried_sites) /* NULL when empty */
        memcpy(tried, lease->tried_sites, lease->n_tried_sites * sizeof(*tried));
    tried[lease->n_tried_sites] = lease->site;
    l.tried_sites = tried;
    l.n_tried_sites = lease->n_tried_sites + 1;
    sites_unpromise(srv->sites, lease->site, lease->id);
    if (l.n_tried_sites < srv->conf->hold_attempts &&
        rpc_match(srv, l.workload, &l, &r, &views) == 0 && r.chosen != MATCH_NONE) {
        if (move_lease(srv, &l, views, &r.candidates[r.chosen], why) == 0)
            goto out;
    }
    l.state = lease_next(lease->state, LEASE_EV_FAIL);
    l.updated_ms = af_now_ms();
    snprintf(reason, sizeof(reason), "%s; %s", why,
             l.n_tried_sites < srv->conf->hold_attempts ? "no other site can take it"
                                                        : "no more sites tried");
    l.reason = reason;
    if (rpc_put(srv, &l, NULL) == 0) {
        log_info("lease %s FAILED: %s", l.id, reason);
        rpc_wake_waiters(srv, &l);
    }
out:
    match_result_free(&r);
    free(tried);
}
