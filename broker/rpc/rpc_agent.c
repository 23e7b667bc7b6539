/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_agent: what sites say to the broker. ZAP admitted only site keys on
 * this socket, and a site speaks only for itself: the site a message is about
 * is always the sender's own (m->who->name), never taken from a field. A
 * message naming another site, or another site's lease, is refused.
 */
#include "af_log.h"
#include "af_token.h"
#include "af_time.h"
#include "af_wire.h"
#include "bconf.h"
#include "lease.h"
#include "jobsvc.h"
#include "leasesvc.h"
#include "ledger.h"
#include "rpc.h"
#include "sites.h"
#include "store.h"
#include "svc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *site_of(const struct rpc_msg *m)
{
    return m->who->name;
}

static void on_hello(struct svc *s, const struct rpc_msg *m)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__Welcome w = AIFED__WELCOME__INIT;

    sites_route_set(s->sites, site_of(m), m->from.rid, m->from.rid_len);
    sites_set_signing_key(s->sites, site_of(m), m->env->hello->signing_key);
    log_info("site %s connected (agent %s)", site_of(m), m->env->hello->agent_version);
    w.advertise_interval_ms = (uint32_t)s->conf->advertise_interval_ms;
    w.principal = (char *)m->who->id;
    w.signing_key = s->signing_pub;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_WELCOME, &w);
    rpc_reply(s, m, &env);
    jobsvc_site_heard(s, site_of(m));
}

/* The site no longer holds a lease it had confirmed (its agent restarted,
 * or the hold was dropped at the site): the lease is LOST, and its user
 * sees why. Used capacity is settled up to now. */
static void on_lost(const char *site, const char *lease_id, void *arg)
{
    struct svc *s = arg;
    Aifed__Lease *stored;
    char reason[AF_WIRE_MAX_TEXT];

    if (store_lease_get(s->store, lease_id, &stored) < 0) {
        sites_unpromise(s->sites, site, lease_id);
        return;
    }
    snprintf(reason, sizeof(reason),
             "site %s no longer holds it (its agent restarted or dropped the hold)",
             site);
    if (leasesvc_end(s, stored, LEASE_EV_LOST, reason, 0, NULL) < 0 && errno == EINVAL)
        sites_unpromise(s->sites, site, lease_id);
    store_lease_free(s->store, stored);
}

/* The site holds a lease the broker has no open lease for there (released,
 * expired or moved while the site was away): it must let go. */
static void on_unknown_hold(const char *site, const char *lease_id, void *arg)
{
    log_info("site %s holds lease %s, which is not open there: releasing it", site,
             lease_id);
    leasesvc_release_at_site(arg, site, lease_id);
}

/* The site holds a PENDING lease it never confirmed to this broker (the
 * LeaseHeld went to a broker that then stopped): send the hold again; the
 * agent answers LeaseHeld for a hold it has. */
static void on_unconfirmed(const char *site, const char *lease_id, void *arg)
{
    struct svc *s = arg;
    Aifed__Lease *l;

    if (store_lease_get(s->store, lease_id, &l) < 0)
        return;
    if (l->state == LEASE_PENDING && !strcmp(l->site, site)) {
        log_info("site %s holds PENDING lease %s without having said so: asking again",
                 site, lease_id);
        leasesvc_hold_again(s, l);
    }
    store_lease_free(s->store, l);
}

static void on_advertisement(struct svc *s, const struct rpc_msg *m)
{
    Aifed__Envelope *env = (Aifed__Envelope *)m->env;
    Aifed__Advertisement *adv = env->advertisement;
    const char *site = site_of(m);
    bool was_up;

    if (strcmp(adv->site->id, site)) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "you are site %s and cannot advertise for site %s", site,
                  adv->site->id);
        return;
    }
    was_up = sites_is_up(s->sites, site);
    sites_route_set(s->sites, site, m->from.rid, m->from.rid_len);
    if (*adv->signing_key)
        sites_set_signing_key(s->sites, site, adv->signing_key);
    /* Take the advertisement out of the envelope: the registry keeps it. */
    env->advertisement = NULL;
    env->body_case = AIFED__ENVELOPE__BODY__NOT_SET;
    sites_advertise(s->sites, site, &adv, svc_mono_ms(s), svc_now_ms(s));
    if (adv) /* not taken: cannot happen for a registered site */
        aifed__advertisement__free_unpacked(adv, NULL);
    sites_reconcile(s->sites, site, on_lost, on_unknown_hold, on_unconfirmed, s);
    if (!was_up && sites_is_up(s->sites, site))
        log_info("site %s is UP", site);
    /* Back after a silence, on a new connection, or heard first by a
     * restarted broker: its open jobs once more. */
    jobsvc_site_heard(s, site);
}

/* The lease m is about, if it belongs to the sending site. */
static Aifed__Lease *own_lease(struct svc *s, const struct rpc_msg *m,
                               const char *lease_id)
{
    Aifed__Lease *l;

    if (store_lease_get(s->store, lease_id, &l) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no lease %s", lease_id);
        return NULL;
    }
    if (strcmp(l->site, site_of(m))) {
        /* A late answer from a site the lease has moved away from: tell it
         * to let go. Any other site has no business with this lease. */
        for (size_t i = 0; i < l->n_tried_sites; i++)
            if (!strcmp(l->tried_sites[i], site_of(m))) {
                leasesvc_release_at_site(s, site_of(m), lease_id);
                store_lease_free(s->store, l);
                return NULL;
            }
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "lease %s is not at your site", lease_id);
        store_lease_free(s->store, l);
        return NULL;
    }
    return l;
}

static void on_lease_held(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__LeaseHeld *h = m->env->lease_held;
    Aifed__Lease *stored = own_lease(s, m, h->lease_id);
    const char *site_key;
    Aifed__Lease l;

    if (!stored)
        return;
    l = *stored;
    site_key = sites_signing_key(s->sites, site_of(m));
    if (stored->state == LEASE_PENDING && !*site_key) {
        /* A restarted broker has not heard the site's key yet (its next
         * advertisement brings it, and the hold is asked for again then). */
        log_info("lease %s: held at %s, whose key is not known yet: asking again later",
                 l.id, site_of(m));
    } else if (lease_is_open(stored->state) &&
               af_token_check_countersign(stored->token, h->signature, site_key) < 0) {
        /* The site's word on the hold is its signature over the token: an
         * answer without a valid one does not make the lease ACTIVE. */
        log_warnx("lease %s: site %s answered without a valid signature over the token",
                  l.id, site_of(m));
        if (stored->state == LEASE_PENDING)
            leasesvc_hold_failed(s, stored,
                                 "the site's signature over the token did not verify");
    } else if (stored->state == LEASE_PENDING) {
        leasesvc_activate(s, stored, h->signature, site_key, h->access);
    } else if (stored->state == LEASE_ACTIVE || stored->state == LEASE_SCHEDULED) {
        /* A renewal's hold: keep the site's signature over the new token. */
        if (strcmp(stored->site_signature, h->signature)) {
            l.site_signature = h->signature;
            l.site_signing_key = (char *)site_key;
            leasesvc_put(s, &l, NULL);
        }
    } else {
        /* Released, expired or failed before the site answered. */
        leasesvc_release_at_site(s, l.site, l.id);
    }
    store_lease_free(s->store, stored);
}

static void on_lease_refused(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__LeaseRefused *r = m->env->lease_refused;
    Aifed__Lease *l = own_lease(s, m, r->lease_id);
    char why[AF_WIRE_MAX_TEXT];

    if (!l)
        return;
    if (l->state == LEASE_PENDING) {
        snprintf(why, sizeof(why), "site %s refused the hold: %s", l->site,
                 *r->reason ? r->reason : "no reason given");
        log_info("lease %s: %s", l->id, why);
        leasesvc_hold_failed(s, l, why);
    }
    store_lease_free(s->store, l);
}

/* A lease the broker closed (release, expiry, revoke) before the site
 * measured it: the site's figure (at most what the lease allowed) replaces
 * the broker's estimate of held time, once. */
static void correct_usage(struct svc *s, const Aifed__Lease *stored, uint64_t site_gpu_s)
{
    Aifed__Lease l = *stored;
    uint64_t cap = (uint64_t)l.gpus * l.workload->walltime_s;

    l.gpu_seconds_used = site_gpu_s < cap ? site_gpu_s : cap;
    l.usage_from_site = true;
    l.updated_ms = svc_now_ms(s);
    if (leasesvc_put(s, &l, NULL) < 0)
        return;
    log_info("lease %s: the site measured %llu GPU-seconds (the broker had %llu)", l.id,
             (unsigned long long)l.gpu_seconds_used,
             (unsigned long long)stored->gpu_seconds_used);
    ledger_adjust(s, &l, stored->gpu_seconds_used, l.gpu_seconds_used);
}

/* The site's scheduler measured what the lease's jobs used. While the lease
 * is ACTIVE this ends it; after the broker closed it (release, expiry,
 * revoke) the figure replaces the broker's estimate of held time, once. */
static void on_lease_ended(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__LeaseEnded *e = m->env->lease_ended;
    Aifed__Lease *stored = own_lease(s, m, e->lease_id);
    char reason[96];

    if (!stored)
        return;
    if (lease_next(stored->state, LEASE_EV_ENDED) > 0) {
        snprintf(reason, sizeof(reason), "ended at the site after %llu GPU-seconds",
                 (unsigned long long)e->gpu_seconds_used);
        leasesvc_end(s, stored, LEASE_EV_ENDED, reason, e->gpu_seconds_used, NULL);
    } else if (!lease_is_open(stored->state) && stored->activated_ms &&
               !stored->usage_from_site) {
        correct_usage(s, stored, e->gpu_seconds_used);
    }
    store_lease_free(s->store, stored);
}

const struct rpc_spec rpc_agent_specs[] = {
    {AIFED__ENVELOPE__BODY_HELLO, RPC_SITE, on_hello, NULL, 0},
    {AIFED__ENVELOPE__BODY_ADVERTISEMENT, RPC_SITE, on_advertisement, NULL, 0},
    {AIFED__ENVELOPE__BODY_LEASE_HELD, RPC_SITE, on_lease_held, NULL, 0},
    {AIFED__ENVELOPE__BODY_LEASE_REFUSED, RPC_SITE, on_lease_refused, NULL, 0},
    {AIFED__ENVELOPE__BODY_LEASE_ENDED, RPC_SITE, on_lease_ended, NULL, 0},
    {0, 0, NULL, NULL, 0},
};
