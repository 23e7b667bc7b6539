/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_client: what users and admins ask of the broker. ZAP admitted only user
 * and admin keys on this socket. A user acts for its own projects only and
 * sees only their leases; a lease of another project answers "not found",
 * so users cannot probe which lease ids exist.
 *
 * A submit is answered when its lease is decided (ACTIVE at a site, or
 * FAILED), not when it is matched: the client's "granted" means a site holds
 * the capacity and the broker has it on disk.
 */
#include "af_ids.h"
#include "af_log.h"
#include "af_time.h"
#include "af_wire.h"
#include "alloc.h"
#include "bconf.h"
#include "lease.h"
#include "leasesvc.h"
#include "ledger.h"
#include "match.h"
#include "placement.h"
#include "principals.h"
#include "rpc.h"
#include "sites.h"
#include "store.h"
#include "store_records.h"
#include "svc.h"
#include "waiters.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Answer m when l is decided. Past the bound, answer now (PENDING): the
 * client then polls, which costs it nothing it did not already pay. */
static void reply_or_wait(struct svc *s, const struct rpc_msg *m, const Aifed__Lease *l)
{
    if (l->state != LEASE_PENDING ||
        !waiters_add(s->waiters, l->id, m->who->index, &m->from, svc_mono_ms(s)))
        rpc_reply_lease(s, m, l);
}

/* A retried submit (same principal and request id) is the same lease. */
static bool submit_retry(struct svc *s, const struct rpc_msg *m, const char *request_id)
{
    char id[AF_ID_MAX + 1];
    Aifed__Lease *l;

    if (store_idem_get(s->store, m->who->id, request_id, id, sizeof(id)) < 0)
        return false;
    if (store_lease_get(s->store, id, &l) < 0)
        return false;
    log_debug("submit %s retried: lease %s", request_id, id);
    if (rpc_may_see(m, l))
        reply_or_wait(s, m, l);
    else /* the sender lost the lease's project since: it is not theirs now */
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "%s is no longer a member of project %s", m->who->id,
                  l->workload->project);
    store_lease_free(s->store, l);
    return true;
}

/*
 * A broker that has just started has heard from no site yet, and every site
 * it has not heard looks DOWN to the matcher. Until each has advertised, or
 * the time in which a live one surely would have has passed (down_after
 * intervals), a workload no heard site can take is not refused: the client
 * is told to ask again (aifedctl does, with the same request id).
 */
static bool starting(struct svc *s, char *buf, size_t size)
{
    int64_t up = svc_mono_ms(s) - s->started_ms;
    char unheard[256];

    if (up >= (int64_t)(s->conf->advertise_interval_ms * s->conf->down_after) ||
        !sites_unheard(s->sites, unheard, sizeof(unheard)))
        return false;
    snprintf(buf, size,
             "the broker started %lld ms ago and has not heard from %s yet; ask again "
             "in a moment",
             (long long)up, unheard);
    return true;
}

/* A record keeps the first few entries of each of the workload's lists
 * (the wire allows AF_WIRE_MAX_LIST each): what the matcher weighed is in
 * the candidates' reasons, and a granted lease keeps its whole workload.
 * With this, a record is at most about 15 KiB, and sites x 0.7 KiB more. */
#define RECORD_LIST_KEEP 8

static uint32_t record_trim(size_t *n)
{
    uint32_t cut = *n > RECORD_LIST_KEEP ? (uint32_t)(*n - RECORD_LIST_KEEP) : 0;

    *n -= cut;
    return cut;
}

/* Keep what was decided, and why, with the request (into the batch): at
 * most max_requests records per principal, the oldest deleted first. */
static void record_request(struct svc *s, const struct rpc_msg *m,
                           const struct placement *mt, const char *lease_id,
                           const char *refused)
{
    const Aifed__Submit *sub = m->env->submit;
    Aifed__RequestRecord r = AIFED__REQUEST_RECORD__INIT;
    Aifed__Workload w = *sub->workload; /* shallow: only the counts change */
    Aifed__Candidate **c = NULL;

    if (placement_candidates(mt, &c) < 0) {
        log_err("explaining request %s", sub->request_id);
        return; /* the lease stands; only its explanation is missing */
    }
    r.request_id = sub->request_id;
    r.principal = (char *)m->who->id;
    r.omitted = record_trim(&w.n_countries) + record_trim(&w.n_certifications) +
                record_trim(&w.n_data);
    r.workload = &w;
    r.created_ms = svc_now_ms(s);
    r.lease_id = (char *)(lease_id ? lease_id : "");
    r.refusal = (char *)(refused ? refused : "");
    r.candidates = c;
    r.n_candidates = mt->r.n;
    if (store_request_put(s->store, &r, s->conf->max_requests) < 0)
        outbox_store_failed(s->outbox, "storing request %s", sub->request_id);
    free(c);
}

/* Why a submit cannot be matched now, before matching: its sender may not
 * use the project, the broker hears no site, or the sender already has
 * max_waiting submits waiting. true with the error sent. */
static bool submit_refused(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__Submit *sub = m->env->submit;

    if (!auth_may_use_project(m->who, sub->workload->project)) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "%s is not a member of project %s", m->who->id, sub->workload->project);
        return true;
    }
    if (submit_retry(s, m, sub->request_id))
        return true;
    if (sites_isolated(s->sites)) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NO_CAPACITY,
                  "the broker hears no site at the moment (all went silent at once); "
                  "nothing is granted until they are heard again");
        return true;
    }
    if (waiters_count(s->waiters, m->who->index) >= s->conf->max_waiting) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_LIMITED,
                  "you have %llu submits waiting for a site; wait for them first",
                  (unsigned long long)s->conf->max_waiting);
        return true;
    }
    return false;
}

/* No site was chosen: a starting broker asks the client to ask again; any
 * other refusal is recorded with its explanation. */
static void refuse_submit(struct svc *s, const struct rpc_msg *m,
                          const struct placement *mt)
{
    const char *request_id = m->env->submit->request_id;
    char why[AF_WIRE_MAX_TEXT];

    if (starting(s, why, sizeof(why))) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_STARTING, "%s", why);
        return;
    }
    placement_refusal(mt, why, sizeof(why));
    record_request(s, m, mt, NULL, why);
    /* It points at the record: it leaves once the record is stored. */
    rpc_error_stored(s, m, AIFED__ERROR_CODE__ERROR_NO_CAPACITY,
                     "%s; `aifedctl request show %s` explains every site", why,
                     request_id);
}

static void on_submit(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__Submit *sub = m->env->submit;
    const Aifed__Workload *workload = sub->workload;
    Aifed__Workload booked;
    Aifed__Lease l = AIFED__LEASE__INIT;
    struct placement mt;
    const struct match_candidate *c;
    int64_t queued;
    char id[AF_ID_MAX + 1], token[AF_TOKEN_MAX], why[AF_WIRE_MAX_TEXT];

    if (submit_refused(s, m))
        return;
    if (placement_names_known(s, sub->workload, why, sizeof(why)) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_BAD_REQUEST, "%s", why);
        return;
    }
    if (placement_run(s, sub->workload, m->who->id, NULL, &mt) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    if (mt.r.chosen == MATCH_NONE) {
        refuse_submit(s, m, &mt);
        goto out;
    }
    c = &mt.r.candidates[mt.r.chosen];
    if ((queued = placement_queued(&mt)) > 0) {
        /* No site can start it now: booked where its queue starts it
         * first (queue_when_busy), a SCHEDULED lease from then. */
        booked = *sub->workload;
        if (booked.not_before_ms < mt.w.now_ms + queued)
            booked.not_before_ms = mt.w.now_ms + queued;
        workload = &booked;
    }
    af_id_new("lease", id, sizeof(id));
    l.id = id;
    l.request_id = sub->request_id;
    l.principal = (char *)m->who->id;
    l.workload = (Aifed__Workload *)workload;
    l.state = LEASE_PENDING;
    l.site = (char *)mt.views[c->site].id;
    l.pool = (char *)mt.views[c->site].pools[c->pool].name;
    l.accelerator = (char *)mt.views[c->site].pools[c->pool].accelerator;
    l.gpus = sub->workload->gpus;
    l.nodes = c->nodes;
    l.created_ms = l.updated_ms = mt.w.now_ms;
    /* The walltime runs from the grant, or from a later not_before; the
     * token says until when. */
    l.expires_ms = lease_start_ms(workload->not_before_ms, l.created_ms) +
                   (int64_t)workload->walltime_s * 1000;
    record_request(s, m, &mt, l.id, NULL);
    if (leasesvc_grant(s, &l, m->who->id, token) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "could not record the lease");
        goto out;
    }
    reply_or_wait(s, m, &l);
out:
    placement_free(&mt);
}

static void on_explain(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__Workload *w = m->env->explain->workload;
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__ExplainReply er = AIFED__EXPLAIN_REPLY__INIT;
    struct placement mt;
    Aifed__Candidate **c = NULL;
    char why[AF_WIRE_MAX_TEXT];

    if (!auth_may_use_project(m->who, w->project)) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "%s is not a member of project %s", m->who->id, w->project);
        return;
    }
    if (placement_names_known(s, w, why, sizeof(why)) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_BAD_REQUEST, "%s", why);
        return;
    }
    if (placement_run(s, w, m->who->id, NULL, &mt) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    if (placement_candidates(&mt, &c) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
    } else {
        er.candidates = c;
        er.n_candidates = mt.r.n;
        af_wire_set_body(&env, AIFED__ENVELOPE__BODY_EXPLAIN_REPLY, &er);
        rpc_reply(s, m, &env);
    }
    free(c);
    placement_free(&mt);
}

static void on_get_lease(struct svc *s, const struct rpc_msg *m)
{
    Aifed__Lease *l = rpc_lease_get(s, m, m->env->get_lease->lease_id);

    if (l) {
        rpc_reply_lease(s, m, l);
        store_lease_free(s->store, l);
    }
}

/* The leases of a ListLeases page: those its sender may see. */
struct lease_page {
    const struct rpc_msg *m;
    struct rpc_page page;
};

static int page_add(const Aifed__Lease *l, void *arg)
{
    struct lease_page *p = arg;

    /* The store lends l for this call only: the page keeps a copy. */
    return rpc_may_see(p->m, l) ? rpc_page_add(&p->page, l) : 0;
}

static void on_list_leases(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__ListLeases *q = m->env->list_leases;
    struct store_filter f = {.site = q->site, .project = q->project, .state = q->state};
    struct lease_page p = {.m = m};
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__LeaseList list = AIFED__LEASE_LIST__INIT;

    if (*q->project && !auth_may_use_project(m->who, q->project)) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "%s is not a member of project %s", m->who->id, q->project);
        return;
    }
    if (rpc_page_init(&p.page, q->limit) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    if (store_lease_list(s->store, &f, *q->after ? q->after : NULL, page_add, &p) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "listing leases failed");
    } else {
        list.leases = (Aifed__Lease **)p.page.v;
        list.n_leases = p.page.n;
        list.next = p.page.more && p.page.n ? list.leases[p.page.n - 1]->id : "";
        af_wire_set_body(&env, AIFED__ENVELOPE__BODY_LEASE_LIST, &list);
        rpc_reply(s, m, &env);
    }
    rpc_page_free(&p.page);
}

static void on_release(struct svc *s, const struct rpc_msg *m)
{
    const char *id = m->env->release->lease_id, *rid = m->env->release->request_id;
    struct leasesvc_lease ended;
    Aifed__Lease *stored;

    if (rpc_retried(s, m, rid) || !(stored = rpc_lease_get(s, m, id)))
        return;
    if (leasesvc_end(s, stored, LEASE_EV_RELEASE, "released by the user", 0, &ended) ==
        0) {
        rpc_remember(s, m, rid, id);
        rpc_reply_ended(s, m, &ended.lease, ended.jobs_ended);
    } else if (errno == EINVAL)
        rpc_error_stored(s, m, AIFED__ERROR_CODE__ERROR_CONFLICT,
                         "lease %s is already %s", id, lease_state_name(stored->state));
    else
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL,
                  "could not record the release");
    store_lease_free(s->store, stored);
}

static void on_renew(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__Renew *r = m->env->renew;
    struct leasesvc_lease renewed;
    char why[AF_WIRE_MAX_TEXT];
    Aifed__Lease *stored;

    /* A retry of a renewal that took effect answers; it does not extend twice. */
    if (rpc_retried(s, m, r->request_id) || !(stored = rpc_lease_get(s, m, r->lease_id)))
        return;
    if (lease_next(stored->state, LEASE_EV_RENEW) < 0)
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_CONFLICT,
                  "lease %s is %s: only an ACTIVE or SCHEDULED lease can be renewed",
                  r->lease_id, lease_state_name(stored->state));
    else if (leasesvc_renew_refusal(s, stored, r->extend_s, why, sizeof(why)))
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NO_CAPACITY, "%s", why);
    else if (leasesvc_renew(s, stored, r->extend_s, &renewed) == 0) {
        rpc_remember(s, m, r->request_id, r->lease_id);
        rpc_reply_lease(s, m, &renewed.lease);
    } else
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "could not renew");
    store_lease_free(s->store, stored);
}

/* A request's record, by request id (the caller's own) or by lease id (any
 * lease the caller may see). */
static void on_get_request(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__GetRequest *g = m->env->get_request;
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__RequestReply rr = AIFED__REQUEST_REPLY__INIT;
    Aifed__RequestRecord *r = NULL;
    Aifed__Lease *l = NULL;
    int rc;

    if (*g->lease_id) {
        if (!(l = rpc_lease_get(s, m, g->lease_id)))
            goto out;
        rc = store_request_get(s->store, l->principal, l->request_id, &r);
    } else {
        rc = store_request_get(s->store, m->who->id, g->request_id, &r);
    }
    if (rc < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no request %s",
                  l ? l->request_id : g->request_id);
        goto out;
    }
    rr.request = r;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_REQUEST_REPLY, &rr);
    rpc_reply(s, m, &env);
out:
    store_request_free(r);
    store_lease_free(s->store, l);
}

/* Whether a lease token still holds: its signature (this broker's key),
 * and its lease as the store has it now, which offline verification cannot
 * see. Anyone who holds the token may ask: it names the lease already. */
static void on_check_token(struct svc *s, const struct rpc_msg *m)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__TokenStatus ts = AIFED__TOKEN_STATUS__INIT;
    struct af_token_claims c;
    struct af_error err;
    Aifed__Lease *l = NULL;
    char reason[AF_WIRE_MAX_TEXT];

    if (af_token_verify(m->env->check_token->token, s->signer.pk, &c, &err) < 0) {
        snprintf(reason, sizeof(reason), "not a token of this broker's: %s", err.text);
    } else {
        ts.signature_valid = true;
        ts.lease_id = c.id;
        if (store_lease_get(s->store, c.id, &l) < 0) {
            snprintf(reason, sizeof(reason), "lease %s is not known here", c.id);
        } else {
            ts.state = l->state;
            ts.expires_ms = l->expires_ms;
            ts.valid = (l->state == LEASE_ACTIVE || l->state == LEASE_SCHEDULED) &&
                       svc_now_ms(s) < l->expires_ms;
            snprintf(reason, sizeof(reason), "lease %s is %s%s%s", l->id,
                     lease_state_name(l->state), *l->reason ? ": " : "", l->reason);
        }
    }
    ts.reason = reason;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_TOKEN_STATUS, &ts);
    rpc_reply(s, m, &env);
    store_lease_free(s->store, l);
}

/* The allocations an AllocationList page shows: those its sender may see
 * (a full page shows the first ones). */
struct alloc_page {
    const struct rpc_msg *m;
    struct rpc_page page;
};

static void alloc_add(const struct alloc_entry *e, void *arg)
{
    struct alloc_page *p = arg;
    Aifed__Allocation a;

    if (!auth_may_use_project(p->m->who, e->project))
        return;
    ledger_to_msg(e, &a);
    rpc_page_add(&p->page, &a);
}

void rpc_reply_allocations(struct svc *s, const struct rpc_msg *m, const char *project,
                           const char *site)
{
    Aifed__AllocationList list = AIFED__ALLOCATION_LIST__INIT;
    struct alloc_page p = {.m = m};

    if (rpc_page_init(&p.page, AF_WIRE_MAX_PAGE) == 0)
        alloc_each(s->allocs, project, site, alloc_add, &p);
    list.allocations = (Aifed__Allocation **)p.page.v;
    list.n_allocations = p.page.n;
    rpc_reply_page(s, m, AIFED__ENVELOPE__BODY_ALLOCATION_LIST, &list, &p.page);
}

static void on_list_allocations(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__ListAllocations *q = m->env->list_allocations;

    rpc_reply_allocations(s, m, q->project, q->site);
}

/* Who the broker takes the sender for, and its token signing key: a user
 * checks tokens with it (verify-token) without the broker's files. */
/* Who the sender is, with every key in force and who added it when, and
 * its notice; ack says it read the notice, which then goes (stored). */
static void on_who_am_i(struct svc *s, const struct rpc_msg *m)
{
    char notice[AUTH_NOTICE_MAX];

    snprintf(notice, sizeof(notice), "%s", m->who->notice);
    if (m->env->who_am_i->ack && *notice) {
        auth_set_notice(s->auth, m->who->id, "");
        if (principals_save(s, m->who->id, m->who, "notice read") < 0) {
            rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL,
                      "the broker could not store this change; nothing was changed");
            return;
        }
    }
    rpc_reply_identity(s, m, m->who, notice);
}

/* An agent given the clients' endpoint: its key is admitted here (a site
 * may read its own view), but it is told where agents connect. */
static void on_misdirected_hello(struct svc *s, const struct rpc_msg *m)
{
    rpc_error(
        s, m, AIFED__ERROR_CODE__ERROR_UNSUPPORTED,
        "this is the broker's endpoint for clients (aifedctl); an agent connects to "
        "its agent endpoint (the broker's agent_listen)");
}

#define ANYONE (RPC_USER | RPC_ADMIN)

const struct rpc_spec rpc_client_specs[] = {
    {AIFED__ENVELOPE__BODY_SUBMIT, ANYONE, on_submit, NULL, 0},
    {AIFED__ENVELOPE__BODY_EXPLAIN, ANYONE, on_explain, NULL, RPC_READS},
    {AIFED__ENVELOPE__BODY_GET_LEASE, ANYONE, on_get_lease, NULL, RPC_READS},
    {AIFED__ENVELOPE__BODY_LIST_LEASES, ANYONE, on_list_leases, NULL, RPC_READS},
    {AIFED__ENVELOPE__BODY_RELEASE, ANYONE, on_release, NULL, 0},
    {AIFED__ENVELOPE__BODY_RENEW, ANYONE, on_renew, NULL, 0},
    {AIFED__ENVELOPE__BODY_GET_REQUEST, ANYONE, on_get_request, NULL, RPC_READS},
    {AIFED__ENVELOPE__BODY_CHECK_TOKEN, ANYONE, on_check_token, NULL, RPC_READS},
    {AIFED__ENVELOPE__BODY_LIST_ALLOCATIONS, ANYONE, on_list_allocations, NULL,
     RPC_READS},
    /* A site's own key may read its own site's view and who it is. */
    {AIFED__ENVELOPE__BODY_LIST_SITES, ANYONE | RPC_SITE, rpc_reply_sites, NULL,
     RPC_READS},
    /* Not RPC_READS: --ack stores that the notice was read. */
    {AIFED__ENVELOPE__BODY_WHO_AM_I, ANYONE | RPC_SITE, on_who_am_i, NULL, 0},
    {AIFED__ENVELOPE__BODY_HELLO, RPC_SITE, on_misdirected_hello, NULL, 0},
    {0, 0, NULL, NULL, 0},
};
