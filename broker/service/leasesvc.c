/* SPDX-License-Identifier: Apache-2.0 */
/*
 * leasesvc: each service writes the lease into the batch first and changes
 * memory (promises, allocations, waiters) in the same call; a failed commit
 * rebuilds what memory holds from the store (leasesvc_reload), so memory
 * never stays ahead of disk. What a site is told leaves only after the
 * commit, except a hold, which promises nothing to anyone (the outbox).
 */
#include "leasesvc.h"
#include "af_log.h"
#include "af_time.h"
#include "af_wire.h"
#include "alloc.h"
#include "bconf.h"
#include "bmetrics.h"
#include "jobsvc.h"
#include "ledger.h"
#include "outbox.h"
#include "placement.h"
#include "sites.h"
#include "store.h"
#include "svc.h"
#include "tosite.h"
#include "waiters.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int leasesvc_sign(struct svc *s, Aifed__Lease *l, char *buf, size_t size)
{
    struct af_token_claims c = {
        .gpus = l->gpus,
        .nodes = l->nodes,
        .not_before_ms = lease_start_ms(l->workload->not_before_ms, l->created_ms),
        .not_after_ms = l->expires_ms,
    };

    snprintf(c.id, sizeof(c.id), "%s", l->id);
    snprintf(c.site, sizeof(c.site), "%s", l->site);
    snprintf(c.pool, sizeof(c.pool), "%s", l->pool);
    snprintf(c.project, sizeof(c.project), "%s", l->workload->project);
    snprintf(c.principal, sizeof(c.principal), "%s", l->principal);
    /* The model held: the workload's may be any (empty). */
    snprintf(c.accelerator, sizeof(c.accelerator), "%s",
             l->accelerator && *l->accelerator ? l->accelerator
                                               : l->workload->accelerator);
    if (af_token_make(&c, &s->signer, buf, size) < 0) {
        log_err("signing lease %s", l->id);
        return -1;
    }
    l->token = buf;
    l->site_signature = l->site_signing_key = "";
    return 0;
}

int leasesvc_put(struct svc *s, const Aifed__Lease *l, const char *idem_principal)
{
    if (store_lease_put(s->store, l, idem_principal) < 0) {
        outbox_store_failed(s->outbox, "storing lease %s", l->id);
        return -1;
    }
    return 0;
}

void leasesvc_hold_again(struct svc *s, const Aifed__Lease *l)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__LeaseHold hold = AIFED__LEASE_HOLD__INIT;

    hold.lease = (Aifed__Lease *)l;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_LEASE_HOLD, &hold);
    tosite_send(s, l->site, &env);
}

void leasesvc_release_at_site(struct svc *s, const char *site, const char *lease_id)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__LeaseRelease rel = AIFED__LEASE_RELEASE__INIT;

    rel.lease_id = (char *)lease_id;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_LEASE_RELEASE, &rel);
    tosite_send(s, site, &env);
}

/* Count gpus of pool at site against lease_id, asked now (monotonic). */
static int promise(struct svc *s, const char *site, const char *pool, const char *id,
                   const char *project, uint32_t gpus)
{
    return sites_promise(s->sites, site, pool, id, project, gpus, svc_mono_ms(s));
}

/* Promise the capacity at l's site and ask the site to hold it. */
static int ask_hold(struct svc *s, const Aifed__Lease *l)
{
    if (promise(s, l->site, l->pool, l->id, l->workload->project, l->gpus) < 0)
        return -1;
    leasesvc_hold_again(s, l);
    return 0;
}

static uint64_t held_gpu_s(const Aifed__Lease *l)
{
    return (uint64_t)l->gpus * l->workload->walltime_s;
}

/* A change to l the store refused: whoever waits for l is answered all
 * the same, through the outbox, which turns every answer of the failed
 * batch into "nothing was changed"; left waiting, they would hear nothing
 * until their own timeout. -1. */
static int unstored(struct svc *s, const Aifed__Lease *l)
{
    int why = errno; /* the store's: callers tell it from EINVAL */

    waiters_wake(s->waiters, s->outbox, l);
    errno = why;
    return -1;
}

int leasesvc_grant(struct svc *s, Aifed__Lease *l, const char *idem_principal,
                   char token[AF_TOKEN_MAX])
{
    if (leasesvc_sign(s, l, token, AF_TOKEN_MAX) < 0)
        return -1;
    ledger_reserve(s, l, held_gpu_s(l));
    if (leasesvc_put(s, l, idem_principal) < 0 || ask_hold(s, l) < 0)
        return -1;
    log_info("lease %s for %s (%s): %u GPUs asked of %s/%s", l->id, l->principal,
             l->workload->project, l->gpus, l->site, l->pool);
    return 0;
}

int leasesvc_activate(struct svc *s, const Aifed__Lease *stored, const char *signature,
                      const char *site_key, const Aifed__SiteAccess *access)
{
    Aifed__Lease l = *stored;
    int64_t now = svc_now_ms(s);
    /* A hold that starts later is booked: SCHEDULED, its usage (and so the
     * allocation's charge) from its start; the tick starts it then. */
    bool later = stored->workload->not_before_ms > now;
    int next = lease_next(stored->state, later ? LEASE_EV_BOOKED : LEASE_EV_HELD);

    if (next < 0)
        return -1;
    l.state = next;
    l.updated_ms = now;
    l.activated_ms = later ? stored->workload->not_before_ms : now;
    l.site_signature = (char *)signature;
    l.site_signing_key = (char *)site_key;
    l.access = (Aifed__SiteAccess *)access;
    if (leasesvc_put(s, &l, NULL) < 0)
        return unstored(s, &l);
    sites_promise_confirm(s->sites, l.site, l.id);
    bmetrics_grant(s->metrics, (double)(now - l.created_ms) / 1000.0);
    log_info("lease %s %s at %s/%s (%u GPUs)", l.id, lease_state_name(l.state), l.site,
             l.pool, l.gpus);
    waiters_wake(s->waiters, s->outbox, &l);
    return 0;
}

/* A SCHEDULED lease's time came: ACTIVE, and the jobs queued in it go to
 * its site (after the commit, as every StartJob does). */
static int start_booked(struct svc *s, const Aifed__Lease *stored)
{
    Aifed__Lease l = *stored;

    if ((l.state = lease_next(stored->state, LEASE_EV_START)) < 0)
        return -1;
    l.updated_ms = svc_now_ms(s);
    if (leasesvc_put(s, &l, NULL) < 0)
        return -1;
    log_info("lease %s ACTIVE at %s/%s: its booked hold began", l.id, l.site, l.pool);
    jobsvc_lease_started(s, &l);
    return 0;
}

/* The pool's maximum walltime refuses a renewal. Worded so that the answer
 * can be typed back: --by takes "69h". */
static void walltime_refusal(const Aifed__Lease *l, uint32_t max, char *buf, size_t size)
{
    char most[32], has[32], room[32];

    af_duration_format((uint64_t)max * 1000, most, sizeof(most));
    af_duration_format((uint64_t)l->workload->walltime_s * 1000, has, sizeof(has));
    if (max <= l->workload->walltime_s) {
        snprintf(buf, size, "%s/%s allows at most %s of walltime; the lease has it all",
                 l->site, l->pool, most);
        return;
    }
    af_duration_format((uint64_t)(max - l->workload->walltime_s) * 1000, room,
                       sizeof(room));
    snprintf(buf, size,
             "%s/%s allows at most %s of walltime; the lease has %s, so it can grow by "
             "at most %s",
             l->site, l->pool, most, has, room);
}

/* The allocation ends before the renewed lease would. */
static void ends_refusal(const Aifed__Lease *l, int64_t end_ms, char *buf, size_t size)
{
    char when[32], room[32];

    af_time_format(end_ms, when, sizeof(when));
    if (end_ms <= l->expires_ms) {
        snprintf(buf, size, "the allocation of %s at %s ends %s, with the lease",
                 l->workload->project, l->site, when);
        return;
    }
    af_duration_format((uint64_t)(end_ms - l->expires_ms), room, sizeof(room));
    snprintf(buf, size,
             "the allocation of %s at %s ends %s, so the lease can grow by at most %s",
             l->workload->project, l->site, when, room);
}

const char *leasesvc_renew_refusal(struct svc *s, const Aifed__Lease *l,
                                   uint32_t extend_s, char *buf, size_t size)
{
    uint32_t max = sites_pool_max_walltime(s->sites, l->site, l->pool);
    uint64_t total = (uint64_t)l->workload->walltime_s + extend_s;
    const struct alloc_entry *e = alloc_find(s->allocs, l->workload->project, l->site);
    uint64_t need = (uint64_t)l->gpus * extend_s;

    if (max && total > max) {
        walltime_refusal(l, max, buf, size);
        return buf;
    }
    if (total > UINT32_MAX / 2) {
        snprintf(buf, size, "that walltime is too long");
        return buf;
    }
    if (e && alloc_remaining(e) < need) {
        snprintf(buf, size, "project %s has %.1f GPU-hours left at %s; %.1f are needed",
                 l->workload->project, alloc_remaining(e) / 3600.0, l->site,
                 need / 3600.0);
        return buf;
    }
    if (e && e->end_ms && l->expires_ms + (int64_t)extend_s * 1000 > e->end_ms) {
        ends_refusal(l, e->end_ms, buf, size);
        return buf;
    }
    return NULL;
}

int leasesvc_renew(struct svc *s, const Aifed__Lease *stored, uint32_t extend_s,
                   struct leasesvc_lease *ret)
{
    Aifed__Lease *l = &ret->lease;

    if (lease_next(stored->state, LEASE_EV_RENEW) < 0)
        return -1;
    *l = *stored;
    ret->workload = *stored->workload; /* the stored message stays as read */
    l->workload = &ret->workload;
    ledger_reserve(s, stored, (uint64_t)stored->gpus * extend_s);
    l->workload->walltime_s += extend_s; /* settled against at the end */
    l->expires_ms += (int64_t)extend_s * 1000;
    l->updated_ms = svc_now_ms(s);
    /* The site learns the new end from a fresh hold with the new token. */
    if (leasesvc_sign(s, l, ret->token, sizeof(ret->token)) < 0 ||
        leasesvc_put(s, l, NULL) < 0)
        return -1;
    leasesvc_hold_again(s, l);
    log_info("lease %s renewed: %us more, until %lld", l->id, extend_s,
             (long long)l->expires_ms);
    return 0;
}

int leasesvc_end(struct svc *s, const Aifed__Lease *from, enum lease_event ev,
                 const char *reason, uint64_t site_used_gpu_s, struct leasesvc_lease *ret)
{
    struct leasesvc_lease own;
    struct leasesvc_lease *out = ret ? ret : &own;
    Aifed__Lease *l = &out->lease;
    struct lease_facts f = {from->state, from->gpus, from->workload->walltime_s,
                            from->activated_ms};
    struct lease_ending e;
    int64_t now = svc_now_ms(s);

    if (lease_end(&f, ev, now, site_used_gpu_s, &e) < 0)
        return -1;
    *l = *from;
    snprintf(out->reason, sizeof(out->reason), "%s", reason);
    out->jobs_ended = 0;
    l->state = e.state;
    l->updated_ms = now;
    l->reason = out->reason;
    l->gpu_seconds_used = e.used_gpu_s;
    if (ev == LEASE_EV_ENDED)
        l->usage_from_site = true;
    if (leasesvc_put(s, l, NULL) < 0)
        return unstored(s, l);
    if (jobsvc_lease_ended(s, l, &out->jobs_ended) < 0) {
        outbox_store_failed(s->outbox, "ending the jobs of lease %s", l->id);
        return unstored(s, l);
    }
    if (e.state == LEASE_LOST || e.state == LEASE_REVOKED)
        log_warnx("lease %s %s at %s: %s", l->id, lease_state_name(e.state), l->site,
                  l->reason);
    else
        log_info("lease %s %s at %s: %s", l->id, lease_state_name(e.state), l->site,
                 l->reason);
    sites_unpromise(s->sites, l->site, l->id);
    ledger_settle(s, l, l->gpu_seconds_used);
    leasesvc_release_at_site(s, l->site, l->id);
    waiters_wake(s->waiters, s->outbox, l);
    return 0;
}

/* from, moved to the chosen candidate of p and asked to hold there, into
 * ret. The old site's reservation is settled (nothing used) and the new
 * one's made. */
static int move_lease(struct svc *s, const Aifed__Lease *from, const struct placement *p,
                      const char *why, struct leasesvc_lease *ret)
{
    const struct match_candidate *c = &p->r.candidates[p->r.chosen];
    Aifed__Lease *l = &ret->lease;

    *l = *from;
    l->site = (char *)p->views[c->site].id;
    l->pool = (char *)p->views[c->site].pools[c->pool].name;
    l->accelerator = (char *)p->views[c->site].pools[c->pool].accelerator;
    l->nodes = c->nodes;
    l->updated_ms = svc_now_ms(s);
    l->expires_ms = lease_start_ms(l->workload->not_before_ms, l->updated_ms) +
                    (int64_t)l->workload->walltime_s * 1000;
    snprintf(ret->reason, sizeof(ret->reason), "moved from %s: %s", from->site, why);
    l->reason = ret->reason;
    if (leasesvc_sign(s, l, ret->token, sizeof(ret->token)) < 0)
        return -1;
    ledger_settle(s, from, 0);
    ledger_reserve(s, l, held_gpu_s(l));
    if (leasesvc_put(s, l, NULL) < 0 || ask_hold(s, l) < 0)
        return -1;
    log_info("lease %s: %s; asking %s/%s instead", l->id, why, l->site, l->pool);
    return 0;
}

void leasesvc_hold_failed(struct svc *s, const Aifed__Lease *lease, const char *why)
{
    Aifed__Lease l = *lease;
    char **tried = malloc((lease->n_tried_sites + 1) * sizeof(*tried));
    char reason[AF_WIRE_MAX_TEXT];
    struct leasesvc_lease moved;
    struct placement p = {0};
    bool more;

    if (!tried) {
        log_err("lease %s", lease->id);
        return; /* the promise stays overdue; the next tick tries again */
    }
    if (lease->n_tried_sites) /* NULL when empty */
        memcpy(tried, lease->tried_sites, lease->n_tried_sites * sizeof(*tried));
    tried[lease->n_tried_sites] = lease->site;
    l.tried_sites = tried;
    l.n_tried_sites = lease->n_tried_sites + 1;
    sites_unpromise(s->sites, lease->site, lease->id);
    more = l.n_tried_sites < s->conf->hold_attempts;
    if (more && placement_run(s, l.workload, l.principal, &l, &p) == 0 &&
        p.r.chosen != MATCH_NONE && move_lease(s, &l, &p, why, &moved) == 0)
        goto out;
    snprintf(reason, sizeof(reason), "%s; %s", why,
             more ? "no other site can take it" : "no more sites tried");
    leasesvc_end(s, &l, LEASE_EV_FAIL, reason, 0, NULL);
out:
    placement_free(&p);
    free(tried);
}

static void on_overdue(const char *site, const char *lease_id, void *arg)
{
    struct svc *s = arg;
    Aifed__Lease *l;
    char why[128];

    if (store_lease_get(s->store, lease_id, &l) < 0) {
        sites_unpromise(s->sites, site, lease_id);
        return;
    }
    if (l->state == LEASE_PENDING && !strcmp(l->site, site)) {
        snprintf(why, sizeof(why), "site %s did not answer the hold in time", site);
        log_warnx("lease %s: %s", l->id, why);
        leasesvc_hold_failed(s, l, why);
    } else {
        sites_unpromise(s->sites, site, lease_id);
    }
    store_lease_free(s->store, l);
}

/* Due by the lease clock: a booked hold starts, anything else expires. */
static int on_due(const Aifed__Lease *stored, void *arg)
{
    if (stored->state == LEASE_SCHEDULED)
        return start_booked(arg, stored) < 0 && errno != EINVAL ? -1 : 0;
    if (leasesvc_end(arg, stored, LEASE_EV_EXPIRE, "walltime passed", 0, NULL) < 0 &&
        errno != EINVAL)
        return -1;
    return 0;
}

void leasesvc_tick(struct svc *s, bool judge_timeouts)
{
    const struct bconf *c = s->conf;
    int64_t mono = svc_mono_ms(s);

    /* Cut off, a silent hold says nothing about the site: keep waiting. */
    if (judge_timeouts && !sites_isolated(s->sites))
        sites_overdue(s->sites, mono - (int64_t)c->hold_timeout_ms, on_overdue, s);
    if (store_lease_expired(s->store, svc_now_ms(s), on_due, s) < 0)
        log_err("expiry sweep");
    /* By then the client has surely given up: every hold attempt timed out. */
    if (judge_timeouts)
        waiters_expire(s->waiters, mono,
                       (int64_t)(c->hold_timeout_ms * (c->hold_attempts + 1)));
}

/* Of an open lease, what its promise needs: a copy of the whole lease (its
 * workload, token, explanation) would cost ten times the memory at start. */
struct open_lease {
    char id[AF_ID_MAX + 1], site[AF_ID_MAX + 1], pool[AF_ID_MAX + 1];
    char project[AF_ID_MAX + 1];
    uint32_t gpus;
    bool active;
};

/* What the store says memory should hold, read whole before anything in
 * memory changes: a store that cannot be read leaves the view as it was. */
struct reload {
    struct open_lease *open; /* what promises need of each PENDING, ACTIVE lease */
    size_t n_open, cap_open;
    char (*drained)[AF_ID_MAX + 1];
    size_t n_drained, cap_drained;
    struct allocs *allocs;
};

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    void *grown;

    if (n < *cap)
        return 0;
    if (!(grown = realloc(*v, (*cap ? *cap * 2 : 64) * size)))
        return -1;
    *v = grown;
    *cap = *cap ? *cap * 2 : 64;
    return 0;
}

static int read_open(const Aifed__Lease *l, void *arg)
{
    struct reload *r = arg;

    struct open_lease *o;

    if (grow((void **)&r->open, &r->cap_open, r->n_open, sizeof(*r->open)) < 0)
        return -1;
    o = &r->open[r->n_open++];
    snprintf(o->id, sizeof(o->id), "%s", l->id);
    snprintf(o->site, sizeof(o->site), "%s", l->site);
    snprintf(o->pool, sizeof(o->pool), "%s", l->pool);
    snprintf(o->project, sizeof(o->project), "%s", l->workload->project);
    o->gpus = l->gpus;
    o->active = l->state != LEASE_PENDING; /* confirmed by the site */
    return 0;
}

static int read_drained(const char *site, void *arg)
{
    struct reload *r = arg;

    if (grow((void **)&r->drained, &r->cap_drained, r->n_drained, sizeof(*r->drained)) <
        0)
        return -1;
    snprintf(r->drained[r->n_drained++], sizeof(r->drained[0]), "%s", site);
    return 0;
}

static void reload_free(struct reload *r)
{
    free(r->open);
    free(r->drained);
    alloc_destroy(r->allocs);
}

static void apply_promise(struct svc *s, const struct open_lease *o)
{
    if (promise(s, o->site, o->pool, o->id, o->project, o->gpus) < 0) {
        /* A site no longer in the configuration: its leases stay stored. */
        log_warnx("lease %s is at site %s, which is not configured", o->id, o->site);
        return;
    }
    if (o->active)
        sites_promise_confirm(s->sites, o->site, o->id);
}

int leasesvc_reload(struct svc *s)
{
    struct store_filter pending = {.state = LEASE_PENDING},
                        active = {.state = LEASE_ACTIVE},
                        booked = {.state = LEASE_SCHEDULED};
    struct reload r = {0};

    if (store_lease_list(s->store, &pending, NULL, read_open, &r) < 0 ||
        store_lease_list(s->store, &active, NULL, read_open, &r) < 0 ||
        store_lease_list(s->store, &booked, NULL, read_open, &r) < 0 ||
        store_drained_list(s->store, read_drained, &r) < 0 ||
        !(r.allocs = ledger_load(s->store))) {
        reload_free(&r);
        return -1;
    }
    sites_unpromise_all(s->sites);
    for (size_t i = 0; i < r.n_open; i++)
        apply_promise(s, &r.open[i]);
    alloc_destroy(s->allocs);
    s->allocs = r.allocs;
    r.allocs = NULL;
    sites_undrain_all(s->sites);
    for (size_t i = 0; i < r.n_drained; i++)
        if (sites_drain(s->sites, r.drained[i], true) < 0) /* no longer configured */
            log_warnx("site %s is drained in the store but not configured", r.drained[i]);
    reload_free(&r);
    return 0;
}

void leasesvc_answer_waiters(struct svc *s)
{
    const char *first;

    while ((first = waiters_first(s->waiters))) {
        char id[AF_ID_MAX + 1]; /* first points into the list it changes */
        Aifed__Lease *l;

        snprintf(id, sizeof(id), "%s", first);
        if (store_lease_get(s->store, id, &l) < 0) {
            waiters_forget(s->waiters, id);
            continue;
        }
        waiters_wake(s->waiters, s->outbox, l); /* answers all who wait for l */
        store_lease_free(s->store, l);
    }
}
