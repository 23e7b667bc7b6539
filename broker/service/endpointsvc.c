/* SPDX-License-Identifier: Apache-2.0 */
/*
 * endpointsvc: the reconciler works on a struct work, a shallow copy of the
 * stored endpoint whose replicas are copied into slots with buffers of
 * their own, so that replicas can be dropped, added and changed before the
 * endpoint is stored once (and only when something changed).
 */
#include "endpointsvc.h"
#include "af_ids.h"
#include "af_log.h"
#include "af_token.h"
#include "bconf.h"
#include "job.h"
#include "jobsvc.h"
#include "lease.h"
#include "leasesvc.h"
#include "placement.h"
#include "proxy.h"
#include "sites.h"
#include "store.h"
#include "store_endpoints.h"
#include "store_jobs.h"
#include "svc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXR AF_WIRE_MAX_REPLICAS

struct slot {
    Aifed__Replica r;
    char lease[AF_ID_MAX + 1], job[AF_ID_MAX + 1], site[AF_ID_MAX + 1];
    char node[AF_WIRE_MAX_TEXT + 1];
    bool retiring; /* its lease ends soon: its successor is placed first */
};

struct work {
    Aifed__Endpoint ep; /* the stored one's fields, its replicas below */
    struct slot s[MAXR];
    Aifed__Replica *rp[MAXR];
    size_t n;
    char reason[AF_WIRE_MAX_TEXT];
    bool changed;
};

const char *endpointsvc_replica_state_name(int state)
{
    switch (state) {
    case AIFED__REPLICA_STATE__REPLICA_QUEUED:
        return "QUEUED";
    case AIFED__REPLICA_STATE__REPLICA_STARTING:
        return "STARTING";
    case AIFED__REPLICA_STATE__REPLICA_LIVE:
        return "LIVE";
    case AIFED__REPLICA_STATE__REPLICA_OFFLINE:
        return "OFFLINE";
    default:
        return "UNKNOWN";
    }
}

static uint32_t wanted(const Aifed__Endpoint *ep)
{
    return ep->job && ep->job->service ? ep->job->service->replicas_min : 0;
}

const char *endpointsvc_state(const Aifed__Endpoint *ep)
{
    /* The best of the replicas' states: LIVE > STARTING > QUEUED > OFFLINE. */
    static const int order[] = {
        AIFED__REPLICA_STATE__REPLICA_LIVE, AIFED__REPLICA_STATE__REPLICA_STARTING,
        AIFED__REPLICA_STATE__REPLICA_QUEUED, AIFED__REPLICA_STATE__REPLICA_OFFLINE};

    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
        for (size_t i = 0; i < ep->n_replicas; i++)
            if ((int)ep->replicas[i]->state == order[k])
                return endpointsvc_replica_state_name(order[k]);
    if (ep->failures >= ENDPOINT_MAX_FAILURES)
        return "FAILED";
    return wanted(ep) ? "QUEUED" : "IDLE";
}

/* Slot i takes r's values with its own copies of the strings. */
static void slot_set(struct work *w, size_t i, const Aifed__Replica *r)
{
    struct slot *sl = &w->s[i];
    Aifed__Replica v = *r;

    snprintf(sl->lease, sizeof(sl->lease), "%s", v.lease_id);
    snprintf(sl->job, sizeof(sl->job), "%s", v.job_id);
    snprintf(sl->site, sizeof(sl->site), "%s", v.site);
    snprintf(sl->node, sizeof(sl->node), "%s", v.node);
    sl->r = v;
    sl->r.lease_id = sl->lease;
    sl->r.job_id = sl->job;
    sl->r.site = sl->site;
    sl->r.node = sl->node;
    w->rp[i] = &sl->r;
}

static void work_init(struct work *w, const Aifed__Endpoint *stored)
{
    memset(w, 0, sizeof(*w));
    w->ep = *stored;
    snprintf(w->reason, sizeof(w->reason), "%s", stored->reason);
    for (size_t i = 0; i < stored->n_replicas && i < MAXR; i++)
        slot_set(w, w->n++, stored->replicas[i]);
}

static void slot_drop(struct work *w, size_t i)
{
    for (size_t k = i; k + 1 < w->n; k++) {
        bool retiring = w->s[k + 1].retiring;
        slot_set(w, k, &w->s[k + 1].r);
        w->s[k].retiring = retiring;
    }
    w->n--;
    w->changed = true;
}

static void set_reason(struct work *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_reason(struct work *w, const char *fmt, ...)
{
    char buf[AF_WIRE_MAX_TEXT];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (strcmp(buf, w->reason)) {
        snprintf(w->reason, sizeof(w->reason), "%s", buf);
        w->changed = true;
    }
}

/* Replica i ended by itself (its lease or job): dropped, and counted as a
 * failure when it never served. */
static void replica_gone(struct work *w, size_t i, const char *why)
{
    const Aifed__Replica *r = &w->s[i].r;

    if (!r->was_live)
        w->ep.failures++;
    else
        w->ep.failures = 0;
    set_reason(w, "the replica at %s ended: %s", r->site, why);
    log_info("endpoint %s: replica %s at %s ended: %s", w->ep.name, r->lease_id, r->site,
             why);
    slot_drop(w, i);
}

/* End lease l (still open) of the endpoint's, by the endpoint service. */
static int end_lease(struct svc *s, const Aifed__Lease *l, const char *why)
{
    if (!lease_is_open(l->state))
        return 0;
    if (leasesvc_end(s, l, LEASE_EV_RELEASE, why, 0, NULL) < 0 && errno != EINVAL)
        return -1;
    return 0;
}

/* The replica's job, into its held lease l. 0 (also when refused: the
 * replica is then ended), -1 when the store failed. */
static int submit_job(struct svc *s, struct work *w, size_t i, const Aifed__Lease *l)
{
    Aifed__SubmitJob sj = AIFED__SUBMIT_JOB__INIT;
    struct jobsvc_refusal why;
    struct jobsvc_job made;
    char rid[AF_ID_MAX + 1];
    int rc;

    af_id_new("req", rid, sizeof(rid));
    sj.request_id = rid;
    sj.lease_id = l->id;
    sj.spec = w->ep.job;
    if ((rc = jobsvc_submit(s, l, w->ep.principal, &sj, &made, &why)) < 0)
        return -1;
    if (rc > 0) {
        if (end_lease(s, l, why.text) < 0)
            return -1;
        replica_gone(w, i, why.text);
        return 1;
    }
    snprintf(w->s[i].job, sizeof(w->s[i].job), "%s", made.id);
    w->changed = true;
    return 0;
}

/* How long before its lease ends a replica's successor is placed: a
 * quarter of the walltime, at most 30 minutes. */
static int64_t retire_ms(const Aifed__Endpoint *ep)
{
    int64_t q = (int64_t)ep->workload->walltime_s * 1000 / 4;

    return q < 30 * 60 * 1000 ? q : 30 * 60 * 1000;
}

static int replica_state(const struct svc *s, const Aifed__Replica *r,
                         const Aifed__Lease *l, const Aifed__Job *j)
{
    if (!sites_is_up(s->sites, r->site))
        return AIFED__REPLICA_STATE__REPLICA_OFFLINE;
    if (l->state != LEASE_ACTIVE || !j || j->state == AIFED__JOB_STATE__JOB_QUEUED)
        return AIFED__REPLICA_STATE__REPLICA_QUEUED;
    if (j->ready)
        return AIFED__REPLICA_STATE__REPLICA_LIVE;
    /* Running, not answering: not yet, or no longer. */
    return r->was_live ? AIFED__REPLICA_STATE__REPLICA_OFFLINE
                       : AIFED__REPLICA_STATE__REPLICA_STARTING;
}

/* Look at replica i: 1 when it was dropped, 0 when kept, -1 when the
 * store failed. */
static int replica_check(struct svc *s, struct work *w, size_t i, int64_t now)
{
    Aifed__Replica *r = &w->s[i].r;
    Aifed__Lease *l = NULL;
    Aifed__Job *j = NULL;
    char why[AF_WIRE_MAX_TEXT];
    int st, rc = 0;

    if (store_lease_get(s->store, r->lease_id, &l) < 0 || !lease_is_open(l->state)) {
        snprintf(why, sizeof(why), "its lease %s%s%s",
                 l ? lease_state_name(l->state) : "is gone", l && *l->reason ? ": " : "",
                 l ? l->reason : "");
        replica_gone(w, i, why);
        store_lease_free(s->store, l);
        return 1;
    }
    if (l->state == LEASE_ACTIVE && !*r->job_id && (rc = submit_job(s, w, i, l)) != 0)
        goto out;
    if (*r->job_id && store_job_get(s->store, r->job_id, &j) == 0 &&
        job_ended(j->state)) {
        snprintf(why, sizeof(why), "its job %s%s%s", job_state_name(j->state),
                 *j->reason ? ": " : "", j->reason);
        rc = end_lease(s, l, why) < 0 ? -1 : 1;
        if (rc > 0)
            replica_gone(w, i, why);
        goto out;
    }
    st = replica_state(s, r, l, j);
    if ((int)r->state != st) {
        log_info("endpoint %s: replica %s at %s %s", w->ep.name, r->lease_id, r->site,
                 endpointsvc_replica_state_name(st));
        r->state = st;
        r->since_ms = now;
        r->was_live |= st == AIFED__REPLICA_STATE__REPLICA_LIVE;
        if (st == AIFED__REPLICA_STATE__REPLICA_LIVE)
            w->ep.failures = 0;
        w->changed = true;
    }
    if (j && (strcmp(j->node, r->node) || j->port != r->port)) {
        snprintf(w->s[i].node, sizeof(w->s[i].node), "%s", j->node);
        r->port = j->port;
        w->changed = true;
    }
    w->s[i].retiring = l->expires_ms - now < retire_ms(&w->ep);
out:
    store_job_free(j);
    store_lease_free(s->store, l);
    return rc;
}

/* End replica i (the surplus, or one replaced). */
static int replica_end(struct svc *s, struct work *w, size_t i, const char *why)
{
    Aifed__Lease *l = NULL;

    if (store_lease_get(s->store, w->s[i].r.lease_id, &l) == 0 &&
        end_lease(s, l, why) < 0) {
        store_lease_free(s->store, l);
        return -1;
    }
    store_lease_free(s->store, l);
    log_info("endpoint %s: replica %s at %s ended: %s", w->ep.name, w->s[i].r.lease_id,
             w->s[i].r.site, why);
    slot_drop(w, i);
    return 0;
}

/* A new replica's lease, at the best site that has none of the
 * endpoint's serving replicas, else at the best site. 0 (placed or not:
 * the reason says), -1 when the store failed. */
static int place_one(struct svc *s, struct work *w, int64_t now)
{
    Aifed__Lease probe = AIFED__LEASE__INIT, l = AIFED__LEASE__INIT;
    Aifed__Replica r = AIFED__REPLICA__INIT;
    char *taken[MAXR], id[AF_ID_MAX + 1], rid[AF_ID_MAX + 1], token[AF_TOKEN_MAX];
    char why[AF_WIRE_MAX_TEXT];
    const struct match_candidate *c;
    struct placement mt;
    size_t k = 0;

    for (size_t i = 0; i < w->n; i++)
        if (w->s[i].r.state != AIFED__REPLICA_STATE__REPLICA_OFFLINE)
            taken[k++] = w->s[i].site;
    probe.tried_sites = taken;
    probe.n_tried_sites = k;
    if (placement_run(s, w->ep.workload, w->ep.principal, &probe, &mt) < 0)
        return 0; /* out of memory: the next tick tries again */
    if (mt.r.chosen == MATCH_NONE && k) {
        placement_free(&mt);
        probe.n_tried_sites = 0; /* two at one site rather than one short */
        if (placement_run(s, w->ep.workload, w->ep.principal, &probe, &mt) < 0)
            return 0;
    }
    if (mt.r.chosen == MATCH_NONE) {
        placement_refusal(&mt, why, sizeof(why));
        set_reason(w, "no site can take a replica now: %s", why);
        placement_free(&mt);
        return 0;
    }
    c = &mt.r.candidates[mt.r.chosen];
    af_id_new("lease", id, sizeof(id));
    af_id_new("req", rid, sizeof(rid));
    l.id = id;
    l.request_id = rid;
    l.principal = w->ep.principal;
    l.workload = w->ep.workload;
    l.state = LEASE_PENDING;
    l.site = (char *)mt.views[c->site].id;
    l.pool = (char *)mt.views[c->site].pools[c->pool].name;
    l.accelerator = (char *)mt.views[c->site].pools[c->pool].accelerator;
    l.gpus = w->ep.workload->gpus;
    l.nodes = c->nodes;
    l.created_ms = l.updated_ms = mt.w.now_ms;
    l.expires_ms = l.created_ms + (int64_t)w->ep.workload->walltime_s * 1000;
    if (leasesvc_grant(s, &l, NULL, token) < 0) {
        placement_free(&mt);
        return -1;
    }
    r.lease_id = id;
    r.site = l.site;
    r.state = AIFED__REPLICA_STATE__REPLICA_QUEUED;
    r.since_ms = r.created_ms = now;
    slot_set(w, w->n++, &r);
    w->changed = true;
    log_info("endpoint %s: replica %s placed at %s", w->ep.name, id, l.site);
    placement_free(&mt);
    return 0;
}

/* Which replica goes first when there are too many: an OFFLINE one, then a
 * QUEUED one, then STARTING, then LIVE; the newest of its kind. Only
 * among those retire says (-1: none). */
static int worst(const struct work *w, bool retiring_or_offline)
{
    static const int rank[] = {
        [AIFED__REPLICA_STATE__REPLICA_OFFLINE] = 0,
        [AIFED__REPLICA_STATE__REPLICA_QUEUED] = 1,
        [AIFED__REPLICA_STATE__REPLICA_STARTING] = 2,
        [AIFED__REPLICA_STATE__REPLICA_LIVE] = 3,
    };
    int best = -1;

    for (size_t i = 0; i < w->n; i++) {
        const struct slot *sl = &w->s[i];
        bool out = sl->retiring || sl->r.state == AIFED__REPLICA_STATE__REPLICA_OFFLINE;
        if (out != retiring_or_offline ||
            sl->r.state > AIFED__REPLICA_STATE__REPLICA_OFFLINE)
            continue;
        if (best < 0 || rank[sl->r.state] < rank[w->s[best].r.state] ||
            (rank[sl->r.state] == rank[w->s[best].r.state] &&
             sl->r.created_ms >= w->s[best].r.created_ms))
            best = (int)i;
    }
    return best;
}

/* Whether no replica can be placed now (requests are then refused at
 * once, not held): stored when it changes. */
static void stuck(struct work *w, bool now)
{
    if ((bool)w->ep.stuck != now) {
        w->ep.stuck = now;
        w->changed = true;
    }
}

/* How many replicas should serve now: the service's MIN; more when its
 * load asks (requests in flight or a second, over the target per replica);
 * one at least while a request waits for one (scaled to zero); at most
 * MAX. An endpoint that scales on load (or from zero) keeps what serves
 * until it had no request for its scale-down delay (5 minutes unless
 * given). */
static uint32_t target(struct svc *s, const struct work *w, uint32_t serving)
{
    const Aifed__Service *sv = w->ep.job->service;
    uint32_t want = sv->replicas_min, max = sv->replicas_max, by_load = 0;
    int64_t delay =
        (int64_t)(sv->scale_down_delay_s ? sv->scale_down_delay_s : 300) * 1000;
    struct proxy_load ld;
    bool idle;

    proxy_load(s->proxy, w->ep.name, &ld);
    if (sv->metric == AIFED__SCALE_METRIC__SCALE_INFLIGHT && sv->target > 0)
        by_load = (uint32_t)ceil((ld.inflight + ld.waiting) / sv->target);
    else if (sv->metric == AIFED__SCALE_METRIC__SCALE_RPS && sv->target > 0)
        by_load = (uint32_t)ceil(ld.rps / sv->target);
    if (ld.waiting && !by_load)
        by_load = 1;
    want = by_load > want ? by_load : want;
    want = want < max ? want : max;
    idle = !ld.last_ms || svc_mono_ms(s) - ld.last_ms >= delay;
    if (want < serving && (sv->metric || !sv->replicas_min) && !idle)
        want = serving < max ? serving : max;
    return want;
}

/* As many replicas serving as wanted: one placed, or one ended. */
static int scale(struct svc *s, struct work *w, bool may_place, int64_t now)
{
    uint32_t want, serving = 0, live = 0;
    int i;

    for (size_t k = 0; k < w->n; k++) {
        bool out =
            w->s[k].retiring || w->s[k].r.state == AIFED__REPLICA_STATE__REPLICA_OFFLINE;
        serving += !out;
        live += !out && w->s[k].r.state == AIFED__REPLICA_STATE__REPLICA_LIVE;
    }
    want = target(s, w, serving);
    stuck(w, serving < want && (w->ep.failures >= ENDPOINT_MAX_FAILURES ||
                                !strncmp(w->reason, "no site", 7)));
    if (serving < want) {
        if (w->ep.failures >= ENDPOINT_MAX_FAILURES) {
            set_reason(w,
                       "%u replicas in a row ended before they answered their probe; "
                       "scale it to try again",
                       w->ep.failures);
            return 0;
        }
        return may_place && w->n < MAXR ? place_one(s, w, now) : 0;
    }
    if (serving > want && (i = worst(w, false)) >= 0)
        return replica_end(s, w, (size_t)i,
                           "the endpoint has more replicas than it wants");
    /* Those replaced go once enough of the others are LIVE. */
    if (live >= want && (i = worst(w, true)) >= 0)
        return replica_end(s, w, (size_t)i, "replaced by a replica that is LIVE");
    if (serving == want && *w->reason && !strncmp(w->reason, "no site", 7))
        set_reason(w, "%s", "");
    return 0;
}

static int store_work(struct svc *s, struct work *w, int64_t now, const char *change)
{
    w->ep.replicas = w->rp;
    w->ep.n_replicas = w->n;
    w->ep.reason = w->reason;
    w->ep.updated_ms = now;
    return store_endpoint_put(s->store, &w->ep, change);
}

/* The broker has just started and not heard every site yet: a replica
 * whose site is silent may be fine, so nothing is placed for it. */
static bool starting(const struct svc *s)
{
    char unheard[8];

    return svc_mono_ms(s) - s->started_ms <
               (int64_t)(s->conf->advertise_interval_ms * s->conf->down_after) &&
           sites_unheard(s->sites, unheard, sizeof(unheard));
}

static int reconcile(struct svc *s, const Aifed__Endpoint *stored)
{
    struct work w;
    int64_t now = svc_now_ms(s);
    int rc;

    work_init(&w, stored);
    for (size_t i = 0; i < w.n;)
        if ((rc = replica_check(s, &w, i, now)) < 0)
            return -1;
        else if (rc == 0)
            i++;
    if (scale(s, &w, !starting(s), now) < 0)
        return -1;
    return w.changed ? store_work(s, &w, now, NULL) : 0;
}

static int reconcile_name(struct svc *s, const char *name)
{
    Aifed__Endpoint *ep;
    int rc;

    if (store_endpoint_get(s->store, name, &ep) < 0)
        return errno == ENOENT ? 0 : -1;
    rc = reconcile(s, ep);
    store_endpoint_free(ep);
    return rc;
}

struct census {
    const char *principal;
    size_t all, mine;
    char names[ENDPOINTS_MAX][AF_WIRE_MAX_ENDPOINT_NAME + 1];
};

static int count_one(const Aifed__Endpoint *ep, void *arg)
{
    struct census *c = arg;

    if (c->all < ENDPOINTS_MAX)
        snprintf(c->names[c->all], sizeof(c->names[0]), "%s", ep->name);
    c->all++;
    c->mine += c->principal && !strcmp(ep->principal, c->principal);
    return 0;
}

static void refuse(struct endpointsvc_refusal *why, Aifed__ErrorCode code,
                   const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void refuse(struct endpointsvc_refusal *why, Aifed__ErrorCode code,
                   const char *fmt, ...)
{
    va_list ap;

    why->code = code;
    va_start(ap, fmt);
    vsnprintf(why->text, sizeof(why->text), fmt, ap);
    va_end(ap);
}

static int created(struct svc *s, const char *name, Aifed__Endpoint **ret)
{
    if (reconcile_name(s, name) < 0)
        return -1;
    return store_endpoint_get(s->store, name, ret);
}

int endpointsvc_create(struct svc *s, const char *principal,
                       const Aifed__CreateEndpoint *c, Aifed__Endpoint **ret,
                       struct endpointsvc_refusal *why)
{
    Aifed__Endpoint ep = AIFED__ENDPOINT__INIT, *old;
    Aifed__Workload wl = *c->workload;
    Aifed__JobSpec js = *c->job;
    struct census *n;
    int64_t now = svc_now_ms(s);
    int rc;

    *ret = NULL;
    if (store_endpoint_get(s->store, c->name, &old) == 0) {
        /* A retry of the same request is answered as the first was. */
        bool same =
            !strcmp(old->principal, principal) && !strcmp(old->request_id, c->request_id);
        if (same)
            *ret = old;
        else
            store_endpoint_free(old);
        if (same)
            return 0;
        refuse(why, AIFED__ERROR_CODE__ERROR_CONFLICT, "endpoint %s exists", c->name);
        return 1;
    }
    if (!c->job->service->replicas_max) {
        refuse(why, AIFED__ERROR_CODE__ERROR_BAD_REQUEST,
               "an endpoint needs at most 1 replica or more (replicas: MIN..MAX)");
        return 1;
    }
    if (!(n = calloc(1, sizeof(*n))))
        return -1;
    n->principal = principal;
    if (store_endpoint_each(s->store, count_one, n) < 0) {
        free(n);
        return -1;
    }
    rc = n->all >= ENDPOINTS_MAX || n->mine >= ENDPOINTS_PER_PRINCIPAL;
    if (rc)
        refuse(why, AIFED__ERROR_CODE__ERROR_LIMITED,
               n->mine >= ENDPOINTS_PER_PRINCIPAL ? "you have %d endpoints already"
                                                  : "the broker has %d endpoints already",
               n->mine >= ENDPOINTS_PER_PRINCIPAL ? ENDPOINTS_PER_PRINCIPAL
                                                  : ENDPOINTS_MAX);
    free(n);
    if (rc)
        return 1;
    /* A replica starts when it is placed, and runs for all of its lease. */
    wl.not_before_ms = wl.start_by_ms = 0;
    js.time_limit_s = 0;
    ep.name = c->name;
    ep.principal = (char *)principal;
    ep.project = c->workload->project;
    ep.workload = &wl;
    ep.job = &js;
    ep.created_ms = ep.updated_ms = now;
    ep.request_id = c->request_id;
    if (store_endpoint_put(s->store, &ep, "endpoint created") < 0)
        return -1;
    return created(s, c->name, ret);
}

int endpointsvc_scale(struct svc *s, const Aifed__Endpoint *stored, uint32_t min,
                      uint32_t max, Aifed__Endpoint **ret)
{
    Aifed__Endpoint ep = *stored;
    Aifed__JobSpec js = *stored->job;
    Aifed__Service sv = *stored->job->service;
    char change[64];

    *ret = NULL;
    sv.replicas_min = min;
    sv.replicas_max = max;
    js.service = &sv;
    ep.job = &js;
    ep.failures = 0;
    ep.reason = "";
    ep.updated_ms = svc_now_ms(s);
    snprintf(change, sizeof(change), "endpoint scaled to %u..%u", min, max);
    if (store_endpoint_put(s->store, &ep, change) < 0)
        return -1;
    return created(s, stored->name, ret);
}

int endpointsvc_delete(struct svc *s, const Aifed__Endpoint *ep, const char *by)
{
    char why[AF_WIRE_MAX_TEXT];

    snprintf(why, sizeof(why), "endpoint %s deleted by %s", ep->name, by);
    for (size_t i = 0; i < ep->n_replicas; i++) {
        Aifed__Lease *l = NULL;
        int rc = 0;
        if (store_lease_get(s->store, ep->replicas[i]->lease_id, &l) == 0)
            rc = end_lease(s, l, why);
        store_lease_free(s->store, l);
        if (rc < 0)
            return -1;
    }
    return store_endpoint_delete(s->store, ep->name, ep->principal, why);
}

void endpointsvc_tick(struct svc *s)
{
    struct census *n = calloc(1, sizeof(*n));

    if (!n)
        return;
    /* The names first: the reconciler writes the table it would walk. */
    if (store_endpoint_each(s->store, count_one, n) < 0)
        log_err("reading the endpoints: %s", strerror(errno));
    for (size_t i = 0; i < n->all && i < ENDPOINTS_MAX; i++)
        if (reconcile_name(s, n->names[i]) < 0) {
            log_err("endpoint %s: the store failed", n->names[i]);
            break;
        }
    free(n);
}
