/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_agent: what sites say to the broker. ZAP admitted only site keys on
 * this socket, and a site speaks only for itself: the site a message is about
 * is always the sender's own (m->who->name), never taken from a field. A
 * message naming another site, or another site's lease, is refused.
 */
#include "af_log.h"
#include "af_time.h"
#include "af_wire.h"
#include "bconf.h"
#include "lease.h"
#include "rpc.h"
#include "sites.h"
#include "store.h"

#include <string.h>

static const char *site_of(const struct rpc_msg *m)
{
    return m->who->name;
}

static void on_hello(struct server *srv, const struct rpc_msg *m)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__Welcome w = AIFED__WELCOME__INIT;

    sites_route_set(srv->sites, site_of(m), m->z->rid, m->z->rid_len);
    log_info("site %s connected (agent %s)", site_of(m), m->env->hello->agent_version);
    w.advertise_interval_ms = (uint32_t)srv->conf->advertise_interval_ms;
    w.principal = (char *)m->who->id;
    env.body_case = AIFED__ENVELOPE__BODY_WELCOME;
    env.welcome = &w;
    rpc_reply(srv, m, &env);
}

/* A site back from silence lists the holds it has: drop those the broker
 * does not know as open at that site (released or moved while it was away). */
static void reconcile(struct server *srv, const char *site, char **held, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        Aifed__Lease *l;
        bool keep = false;

        if (store_lease_get(srv->store, held[i], &l) == 0) {
            keep = lease_is_open(l->state) && !strcmp(l->site, site);
            store_lease_free(srv->store, l);
        }
        if (!keep) {
            log_info("site %s holds lease %s, which is not open there: releasing it",
                     site, held[i]);
            rpc_release_at_site(srv, site, held[i]);
        }
    }
}

static void on_advertisement(struct server *srv, const struct rpc_msg *m)
{
    Aifed__Envelope *env = (Aifed__Envelope *)m->env;
    Aifed__Advertisement *adv = env->advertisement;
    const char *site = site_of(m);
    bool was_up;

    if (strcmp(adv->site->id, site)) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "you are site %s and cannot advertise for site %s", site,
                  adv->site->id);
        return;
    }
    was_up = sites_is_up(srv->sites, site);
    sites_route_set(srv->sites, site, m->z->rid, m->z->rid_len);
    if (!was_up)
        reconcile(srv, site, adv->held_lease_ids, adv->n_held_lease_ids);
    /* Take the advertisement out of the envelope: the registry keeps it. */
    env->advertisement = NULL;
    env->body_case = AIFED__ENVELOPE__BODY__NOT_SET;
    sites_advertise(srv->sites, site, &adv, af_now_ms());
    if (adv) /* not taken: cannot happen for a registered site */
        aifed__advertisement__free_unpacked(adv, NULL);
    if (!was_up)
        log_info("site %s is UP", site);
}

/* The lease m is about, if it belongs to the sending site. */
static Aifed__Lease *own_lease(struct server *srv, const struct rpc_msg *m,
                               const char *lease_id)
{
    Aifed__Lease *l;

    if (store_lease_get(srv->store, lease_id, &l) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no lease %s", lease_id);
        return NULL;
    }
    if (strcmp(l->site, site_of(m))) {
        /* A late answer from a site the lease has moved away from: tell it
         * to let go. Any other site has no business with this lease. */
        for (size_t i = 0; i < l->n_tried_sites; i++)
            if (!strcmp(l->tried_sites[i], site_of(m))) {
                rpc_release_at_site(srv, site_of(m), lease_id);
                store_lease_free(srv->store, l);
                return NULL;
            }
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "lease %s is not at your site", lease_id);
        store_lease_free(srv->store, l);
        return NULL;
    }
    return l;
}

static void on_lease_held(struct server *srv, const struct rpc_msg *m)
{
    Aifed__Lease *stored = own_lease(srv, m, m->env->lease_held->lease_id);
    Aifed__Lease l;

    if (!stored)
        return;
    l = *stored;
    if (stored->state == LEASE_PENDING) {
        int64_t now = af_now_ms();

        l.state = LEASE_ACTIVE;
        l.updated_ms = now;
        l.activated_ms = now;
        l.expires_ms = now + (int64_t)stored->workload->walltime_s * 1000;
        if (rpc_put(srv, &l, NULL) == 0) {
            sites_promise_confirm(srv->sites, l.site, l.id);
            log_info("lease %s ACTIVE at %s/%s (%u GPUs)", l.id, l.site, l.pool, l.gpus);
            rpc_wake_waiters(srv, &l);
        }
    } else if (stored->state != LEASE_ACTIVE) {
        /* Released, expired or failed before the site answered. */
        rpc_release_at_site(srv, l.site, l.id);
    }
    store_lease_free(srv->store, stored);
}

static void on_lease_refused(struct server *srv, const struct rpc_msg *m)
{
    const Aifed__LeaseRefused *r = m->env->lease_refused;
    Aifed__Lease *l = own_lease(srv, m, r->lease_id);
    char why[AF_WIRE_MAX_TEXT];

    if (!l)
        return;
    if (l->state == LEASE_PENDING) {
        snprintf(why, sizeof(why), "site %s refused the hold: %s", l->site,
                 *r->reason ? r->reason : "no reason given");
        log_info("lease %s: %s", l->id, why);
        rpc_hold_failed(srv, l, why);
    }
    store_lease_free(srv->store, l);
}

static void on_lease_ended(struct server *srv, const struct rpc_msg *m)
{
    const Aifed__LeaseEnded *e = m->env->lease_ended;
    Aifed__Lease *stored = own_lease(srv, m, e->lease_id);
    Aifed__Lease l;
    char reason[96];
    int next;

    if (!stored)
        return;
    next = lease_next(stored->state, LEASE_EV_ENDED);
    if (next > 0) {
        l = *stored;
        l.state = next;
        l.updated_ms = af_now_ms();
        /* The site's own figure, but never more than the lease allowed. */
        l.gpu_seconds_used = e->gpu_seconds_used;
        if (l.gpu_seconds_used > (uint64_t)l.gpus * l.workload->walltime_s)
            l.gpu_seconds_used = (uint64_t)l.gpus * l.workload->walltime_s;
        snprintf(reason, sizeof(reason), "ended at the site after %llu GPU-seconds",
                 (unsigned long long)l.gpu_seconds_used);
        l.reason = reason;
        if (rpc_put(srv, &l, NULL) == 0) {
            log_info("lease %s %s", l.id, reason);
            rpc_lease_closed(srv, &l);
        }
    }
    store_lease_free(srv->store, stored);
}

const struct rpc_spec rpc_agent_specs[] = {
    {AIFED__ENVELOPE__BODY_HELLO, on_hello},
    {AIFED__ENVELOPE__BODY_ADVERTISEMENT, on_advertisement},
    {AIFED__ENVELOPE__BODY_LEASE_HELD, on_lease_held},
    {AIFED__ENVELOPE__BODY_LEASE_REFUSED, on_lease_refused},
    {AIFED__ENVELOPE__BODY_LEASE_ENDED, on_lease_ended},
    {0, NULL},
};
