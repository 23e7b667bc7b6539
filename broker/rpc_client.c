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
#include "match.h"
#include "rpc.h"
#include "sites.h"
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool may_see(const struct rpc_msg *m, const Aifed__Lease *l)
{
    return auth_may_use_project(m->who, l->workload->project);
}

void rpc_reply_lease(struct server *srv, const struct rpc_msg *m, const Aifed__Lease *l)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__LeaseReply r = AIFED__LEASE_REPLY__INIT;

    r.lease = (Aifed__Lease *)l;
    env.body_case = AIFED__ENVELOPE__BODY_LEASE_REPLY;
    env.lease_reply = &r;
    rpc_reply(srv, m, &env);
}

/* Answer m when lease_id is decided. Past the limit, answer now (PENDING):
 * the client then polls, which costs it nothing it did not already pay. */
static bool add_waiter(struct server *srv, const struct rpc_msg *m, const char *lease_id)
{
    struct waiter *w;

    if (srv->n_waiters >= RPC_MAX_WAITERS)
        return false;
    if (!srv->waiters && !(srv->waiters = calloc(RPC_MAX_WAITERS, sizeof(*w))))
        return false;
    w = &srv->waiters[srv->n_waiters++];
    snprintf(w->lease_id, sizeof(w->lease_id), "%s", lease_id);
    w->principal = m->who->index;
    memcpy(w->rid, m->z->rid, m->z->rid_len);
    w->rid_len = m->z->rid_len;
    w->corr_id = m->env->corr_id;
    w->since_ms = af_now_ms();
    return true;
}

static void reply_or_wait(struct server *srv, const struct rpc_msg *m,
                          const Aifed__Lease *l)
{
    if (l->state != LEASE_PENDING || !add_waiter(srv, m, l->id))
        rpc_reply_lease(srv, m, l);
}

/* Submits of who still waiting for a site's answer. */
static size_t waiting(const struct server *srv, const struct auth_principal *who)
{
    size_t n = 0;

    for (size_t i = 0; i < srv->n_waiters; i++)
        n += srv->waiters[i].principal == who->index;
    return n;
}

/* A retried submit (same principal and request id) is the same lease. */
static bool submit_retry(struct server *srv, const struct rpc_msg *m,
                         const char *request_id)
{
    char id[AF_ID_MAX + 1];
    Aifed__Lease *l;

    if (store_idem_get(srv->store, m->who->id, request_id, id, sizeof(id)) < 0)
        return false;
    if (store_lease_get(srv->store, id, &l) < 0)
        return false;
    log_debug("submit %s retried: lease %s", request_id, id);
    reply_or_wait(srv, m, l);
    store_lease_free(srv->store, l);
    return true;
}

/*
 * A broker that has just started has heard from no site yet, and every site
 * it has not heard looks DOWN to the matcher. Until each has advertised, or
 * the time in which a live one surely would have has passed (down_after
 * intervals), a workload no heard site can take is not refused: the client
 * is told to ask again (aifedctl does, with the same request id).
 */
static bool starting(struct server *srv, char *buf, size_t size)
{
    int64_t up = af_now_ms() - srv->started_ms;
    char unheard[256];

    if (up >= (int64_t)(srv->conf->advertise_interval_ms * srv->conf->down_after) ||
        !sites_unheard(srv->sites, unheard, sizeof(unheard)))
        return false;
    snprintf(buf, size,
             "the broker started %lld ms ago and has not heard from %s yet; ask again "
             "in a moment",
             (long long)up, unheard);
    return true;
}

/* The refusal in one line: the site that got furthest speaks for all. A
 * pool-level miss (the site had the right kind of pool) beats a site-level. */
static void refusal(const struct rpc_matching *m, char *buf, size_t size)
{
    const struct match_candidate *best = NULL;
    char why[AF_WIRE_MAX_TEXT];

    for (size_t i = 0; i < m->r.n; i++) {
        const struct match_candidate *c = &m->r.candidates[i];
        if (!best || c->failed > best->failed)
            best = c;
    }
    if (!best) {
        snprintf(buf, size, "no sites are configured");
        return;
    }
    match_reason(&m->w, m->views, best, why, sizeof(why));
    snprintf(buf, size, "no site can take this workload now (nearest: %s, %.300s)",
             m->views[best->site].id, why);
}

/* Keep what was decided, and why, with the request (into the batch). */
static void record_request(struct server *srv, const struct rpc_msg *m,
                           const struct rpc_matching *mt, const char *lease_id,
                           const char *refused)
{
    const Aifed__Submit *s = m->env->submit;
    Aifed__RequestRecord r = AIFED__REQUEST_RECORD__INIT;
    Aifed__Candidate **c = NULL;

    if (rpc_candidates(mt, &c) < 0) {
        log_err("explaining request %s", s->request_id);
        return; /* the lease stands; only its explanation is missing */
    }
    r.request_id = s->request_id;
    r.principal = (char *)m->who->id;
    r.workload = s->workload;
    r.created_ms = af_now_ms();
    r.lease_id = (char *)(lease_id ? lease_id : "");
    r.refusal = (char *)(refused ? refused : "");
    r.candidates = c;
    r.n_candidates = mt->r.n;
    if (store_request_put(srv->store, &r) < 0) {
        rpc_store_failed(srv, "storing request %s", s->request_id);
    }
    free(c);
}

static void on_submit(struct server *srv, const struct rpc_msg *m)
{
    const Aifed__Submit *s = m->env->submit;
    Aifed__Lease l = AIFED__LEASE__INIT;
    struct rpc_matching mt;
    const struct match_candidate *c;
    char id[AF_ID_MAX + 1], why[AF_WIRE_MAX_TEXT], token[AF_TOKEN_MAX];

    if (!auth_may_use_project(m->who, s->workload->project)) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "%s is not a member of project %s", m->who->id, s->workload->project);
        return;
    }
    if (submit_retry(srv, m, s->request_id))
        return;
    if (srv->isolated) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NO_CAPACITY,
                  "the broker hears no site at the moment (all went silent at once); "
                  "nothing is granted until they are heard again");
        return;
    }
    if (waiting(srv, m->who) >= srv->conf->max_waiting) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_LIMITED,
                  "you have %llu submits waiting for a site; wait for them first",
                  (unsigned long long)srv->conf->max_waiting);
        return;
    }
    if (rpc_match(srv, s->workload, NULL, &mt) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    if (mt.r.chosen == MATCH_NONE && starting(srv, why, sizeof(why))) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_STARTING, "%s", why);
        goto out;
    }
    if (mt.r.chosen == MATCH_NONE) {
        refusal(&mt, why, sizeof(why));
        record_request(srv, m, &mt, NULL, why);
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NO_CAPACITY,
                  "%s; `aifedctl request show %s` explains every site", why,
                  s->request_id);
        goto out;
    }
    c = &mt.r.candidates[mt.r.chosen];
    af_id_new("lease", id, sizeof(id));
    l.id = id;
    l.request_id = s->request_id;
    l.principal = (char *)m->who->id;
    l.workload = s->workload;
    l.state = LEASE_PENDING;
    l.site = (char *)mt.views[c->site].id;
    l.pool = (char *)mt.views[c->site].pools[c->pool].name;
    l.gpus = s->workload->gpus;
    l.nodes = c->nodes;
    l.created_ms = l.updated_ms = mt.w.now_ms;
    /* The walltime runs from the grant; the token says until when. */
    l.expires_ms = l.created_ms + (int64_t)s->workload->walltime_s * 1000;
    rpc_alloc_reserve(srv, &l);
    record_request(srv, m, &mt, l.id, NULL);
    if (rpc_sign(srv, &l, token, sizeof(token)) < 0 || rpc_put(srv, &l, m->who->id) < 0 ||
        rpc_ask_hold(srv, &l) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL,
                  "could not record the lease");
        goto out;
    }
    log_info("lease %s for %s (%s): %u GPUs asked of %s/%s", l.id, m->who->id,
             s->workload->project, l.gpus, l.site, l.pool);
    reply_or_wait(srv, m, &l);
out:
    rpc_matching_free(&mt);
}

static void on_explain(struct server *srv, const struct rpc_msg *m)
{
    const Aifed__Workload *w = m->env->explain->workload;
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__ExplainReply er = AIFED__EXPLAIN_REPLY__INIT;
    struct rpc_matching mt;
    Aifed__Candidate **c = NULL;

    if (!auth_may_use_project(m->who, w->project)) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "%s is not a member of project %s", m->who->id, w->project);
        return;
    }
    if (rpc_match(srv, w, NULL, &mt) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    if (rpc_candidates(&mt, &c) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
    } else {
        er.candidates = c;
        er.n_candidates = mt.r.n;
        env.body_case = AIFED__ENVELOPE__BODY_EXPLAIN_REPLY;
        env.explain_reply = &er;
        rpc_reply(srv, m, &env);
    }
    free(c);
    rpc_matching_free(&mt);
}

static void on_get_lease(struct server *srv, const struct rpc_msg *m)
{
    const char *id = m->env->get_lease->lease_id;
    Aifed__Lease *l;

    if (store_lease_get(srv->store, id, &l) < 0) {
        if (errno == ENOENT)
            rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no lease %s", id);
        else
            rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "reading lease %s", id);
        return;
    }
    if (may_see(m, l))
        rpc_reply_lease(srv, m, l);
    else
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no lease %s", id);
    store_lease_free(srv->store, l);
}

struct page {
    const struct rpc_msg *m;
    Aifed__Lease **v;
    size_t n, limit;
    bool more;
};

static int page_add(const Aifed__Lease *l, void *arg)
{
    struct page *p = arg;
    size_t len;
    uint8_t *buf;

    if (!may_see(p->m, l))
        return 0;
    if (p->n == p->limit) {
        p->more = true;
        return 1;
    }
    /* The store lends l for this call only: keep a copy for the reply. */
    len = aifed__lease__get_packed_size(l);
    if (!(buf = malloc(len ? len : 1)))
        return -1;
    aifed__lease__pack(l, buf);
    p->v[p->n] = aifed__lease__unpack(NULL, len, buf);
    free(buf);
    if (!p->v[p->n])
        return -1;
    p->n++;
    return 0;
}

static void on_list_leases(struct server *srv, const struct rpc_msg *m)
{
    const Aifed__ListLeases *q = m->env->list_leases;
    struct store_filter f = {.site = q->site, .project = q->project, .state = q->state};
    struct page p = {.m = m, .limit = q->limit ? q->limit : RPC_DEFAULT_PAGE};
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__LeaseList list = AIFED__LEASE_LIST__INIT;

    if (*q->project && !auth_may_use_project(m->who, q->project)) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "%s is not a member of project %s", m->who->id, q->project);
        return;
    }
    if (!(p.v = calloc(p.limit, sizeof(*p.v)))) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    if (store_lease_list(srv->store, &f, *q->after ? q->after : NULL, page_add, &p) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "listing leases failed");
    } else {
        list.leases = p.v;
        list.n_leases = p.n;
        list.next = p.more && p.n ? p.v[p.n - 1]->id : "";
        env.body_case = AIFED__ENVELOPE__BODY_LEASE_LIST;
        env.lease_list = &list;
        rpc_reply(srv, m, &env);
    }
    for (size_t i = 0; i < p.n; i++)
        aifed__lease__free_unpacked(p.v[i], NULL);
    free(p.v);
}

static void on_release(struct server *srv, const struct rpc_msg *m)
{
    const char *id = m->env->release->lease_id;
    Aifed__Lease *stored;
    Aifed__Lease l;
    int next;

    if (store_lease_get(srv->store, id, &stored) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no lease %s", id);
        return;
    }
    if (!may_see(m, stored)) {
        store_lease_free(srv->store, stored);
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no lease %s", id);
        return;
    }
    next = lease_next(stored->state, LEASE_EV_RELEASE);
    if (next < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_CONFLICT, "lease %s is already %s", id,
                  lease_state_name(stored->state));
        store_lease_free(srv->store, stored);
        return;
    }
    l = *stored;
    l.state = next;
    l.updated_ms = af_now_ms();
    l.reason = "released by the user";
    l.gpu_seconds_used =
        lease_usage(l.gpus, l.workload->walltime_s, l.activated_ms, l.updated_ms);
    if (rpc_put(srv, &l, NULL) == 0) {
        log_info("lease %s released by %s", l.id, m->who->id);
        rpc_lease_closed(srv, &l);
        rpc_reply_lease(srv, m, &l);
    } else {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL,
                  "could not record the release");
    }
    store_lease_free(srv->store, stored);
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

/* Why lease l cannot grow by extend_s, or NULL: the pool's maximum
 * walltime and the project's allocation there bound it. */
static const char *renew_refusal(struct server *srv, const Aifed__Lease *l,
                                 uint32_t extend_s, char *buf, size_t size)
{
    uint32_t max = sites_pool_max_walltime(srv->sites, l->site, l->pool);
    uint64_t total = (uint64_t)l->workload->walltime_s + extend_s;
    const struct alloc_entry *e = alloc_find(srv->allocs, l->workload->project, l->site);
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
    return NULL;
}

static void on_renew(struct server *srv, const struct rpc_msg *m)
{
    const Aifed__Renew *r = m->env->renew;
    Aifed__Lease *stored, l;
    struct alloc_entry *e;
    char why[AF_WIRE_MAX_TEXT], token[AF_TOKEN_MAX];

    if (store_lease_get(srv->store, r->lease_id, &stored) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no lease %s", r->lease_id);
        return;
    }
    if (!may_see(m, stored)) {
        store_lease_free(srv->store, stored);
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no lease %s", r->lease_id);
        return;
    }
    if (lease_next(stored->state, LEASE_EV_RENEW) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_CONFLICT,
                  "lease %s is %s: only an ACTIVE lease can be renewed", r->lease_id,
                  lease_state_name(stored->state));
    } else if (renew_refusal(srv, stored, r->extend_s, why, sizeof(why))) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NO_CAPACITY, "%s", why);
    } else {
        l = *stored;
        if ((e = alloc_find(srv->allocs, l.workload->project, l.site))) {
            e->reserved_gpu_s += (uint64_t)l.gpus * r->extend_s;
            rpc_alloc_save(srv, e);
        }
        l.workload->walltime_s += r->extend_s; /* settled against at the end */
        l.expires_ms += (int64_t)r->extend_s * 1000;
        l.updated_ms = af_now_ms();
        /* The site learns the new end from a fresh hold with the new token. */
        if (rpc_sign(srv, &l, token, sizeof(token)) == 0 && rpc_put(srv, &l, NULL) == 0) {
            rpc_to_site_hold(srv, &l);
            log_info("lease %s renewed by %s: %us more, until %lld", l.id, m->who->id,
                     r->extend_s, (long long)l.expires_ms);
            rpc_reply_lease(srv, m, &l);
        } else {
            rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "could not renew");
        }
    }
    store_lease_free(srv->store, stored);
}

void rpc_reply_sites(struct server *srv, const struct rpc_msg *m)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__SiteList *list;

    if (sites_list(srv->sites, &list) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    list->isolated = srv->isolated;
    env.body_case = AIFED__ENVELOPE__BODY_SITE_LIST;
    env.site_list = list;
    rpc_reply(srv, m, &env);
    sites_list_free(list);
}

/* A request's record, by request id (the caller's own) or by lease id (any
 * lease the caller may see). */
static void on_get_request(struct server *srv, const struct rpc_msg *m)
{
    const Aifed__GetRequest *g = m->env->get_request;
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__RequestReply rr = AIFED__REQUEST_REPLY__INIT;
    Aifed__RequestRecord *r = NULL;
    Aifed__Lease *l = NULL;
    int rc;

    if (*g->lease_id) {
        if (store_lease_get(srv->store, g->lease_id, &l) < 0 || !may_see(m, l)) {
            rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no lease %s",
                      g->lease_id);
            goto out;
        }
        rc = store_request_get(srv->store, l->principal, l->request_id, &r);
    } else {
        rc = store_request_get(srv->store, m->who->id, g->request_id, &r);
    }
    if (rc < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no request %s",
                  *g->request_id ? g->request_id : l->request_id);
        goto out;
    }
    rr.request = r;
    env.body_case = AIFED__ENVELOPE__BODY_REQUEST_REPLY;
    env.request_reply = &rr;
    rpc_reply(srv, m, &env);
out:
    store_request_free(r);
    store_lease_free(srv->store, l);
}

struct alloc_page {
    Aifed__Allocation *v;
    Aifed__Allocation **ptrs;
    size_t n, cap;
    const struct rpc_msg *m;
};

static void alloc_add(const struct alloc_entry *e, void *arg)
{
    struct alloc_page *p = arg;
    Aifed__Allocation *a;

    if (p->n == p->cap || !auth_may_use_project(p->m->who, e->project))
        return;
    a = &p->v[p->n];
    aifed__allocation__init(a);
    a->project = (char *)e->project;
    a->site = (char *)e->site;
    a->granted_gpu_s = e->granted_gpu_s;
    a->used_gpu_s = e->used_gpu_s;
    a->reserved_gpu_s = e->reserved_gpu_s;
    a->end_ms = e->end_ms;
    p->ptrs[p->n++] = a;
}

static void reply_allocations(struct server *srv, const struct rpc_msg *m,
                              const char *project, const char *site)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__AllocationList list = AIFED__ALLOCATION_LIST__INIT;
    struct alloc_page p = {.cap = AF_WIRE_MAX_PAGE, .m = m};

    p.v = calloc(p.cap, sizeof(*p.v));
    p.ptrs = calloc(p.cap, sizeof(*p.ptrs));
    if (!p.v || !p.ptrs) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
    } else {
        alloc_each(srv->allocs, project, site, alloc_add, &p);
        list.allocations = p.ptrs;
        list.n_allocations = p.n;
        env.body_case = AIFED__ENVELOPE__BODY_ALLOCATION_LIST;
        env.allocation_list = &list;
        rpc_reply(srv, m, &env);
    }
    free(p.v);
    free(p.ptrs);
}

static void on_allocation_set(struct server *srv, const struct rpc_msg *m)
{
    const Aifed__Allocation *a = m->env->allocation_set->allocation;
    struct alloc_entry *e;
    Aifed__Allocation out = AIFED__ALLOCATION__INIT;
    char subject[2 * AF_ID_MAX + 2], text[128];

    if (m->who->kind != AUTH_ADMIN) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "only admins set allocations");
        return;
    }
    if (!sites_known(srv->sites, a->site)) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no site %s", a->site);
        return;
    }
    if (!(e = alloc_get(srv->allocs, a->project, a->site))) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    e->granted_gpu_s = a->granted_gpu_s;
    e->end_ms = a->end_ms;
    out.project = e->project;
    out.site = e->site;
    out.granted_gpu_s = e->granted_gpu_s;
    out.used_gpu_s = e->used_gpu_s;
    out.reserved_gpu_s = e->reserved_gpu_s;
    out.end_ms = e->end_ms;
    snprintf(subject, sizeof(subject), "%s@%s", e->project, e->site);
    snprintf(text, sizeof(text), "by %s: %.1f GPU-hours", m->who->id,
             (double)e->granted_gpu_s / 3600.0);
    if (store_alloc_put(srv->store, &out) < 0 ||
        store_audit_append(srv->store, subject, "", "allocation set", text) < 0) {
        rpc_store_failed(srv, "storing the allocation of %s", subject);
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "could not store it");
        return;
    }
    log_info("%s set the allocation of %s at %s to %.1f GPU-hours", m->who->id,
             e->project, e->site, (double)e->granted_gpu_s / 3600.0);
    reply_allocations(srv, m, e->project, e->site);
}

static void on_list_allocations(struct server *srv, const struct rpc_msg *m)
{
    const Aifed__ListAllocations *q = m->env->list_allocations;

    reply_allocations(srv, m, q->project, q->site);
}

const struct rpc_spec rpc_client_specs[] = {
    {AIFED__ENVELOPE__BODY_PRINCIPAL_ADD, rpc_principal_add},
    {AIFED__ENVELOPE__BODY_PRINCIPAL_REMOVE_KEY, rpc_principal_remove_key},
    {AIFED__ENVELOPE__BODY_PRINCIPAL_REVOKE, rpc_principal_revoke},
    {AIFED__ENVELOPE__BODY_LIST_PRINCIPALS, rpc_list_principals},
    {AIFED__ENVELOPE__BODY_GET_REQUEST, on_get_request},
    {AIFED__ENVELOPE__BODY_RENEW, on_renew},
    {AIFED__ENVELOPE__BODY_REVOKE, rpc_revoke},
    {AIFED__ENVELOPE__BODY_SITE_ADMIN, rpc_site_admin},
    {AIFED__ENVELOPE__BODY_LIST_AUDIT, rpc_list_audit},
    {AIFED__ENVELOPE__BODY_ALLOCATION_SET, on_allocation_set},
    {AIFED__ENVELOPE__BODY_LIST_ALLOCATIONS, on_list_allocations},
    {AIFED__ENVELOPE__BODY_SUBMIT, on_submit},
    {AIFED__ENVELOPE__BODY_EXPLAIN, on_explain},
    {AIFED__ENVELOPE__BODY_GET_LEASE, on_get_lease},
    {AIFED__ENVELOPE__BODY_LIST_LEASES, on_list_leases},
    {AIFED__ENVELOPE__BODY_RELEASE, on_release},
    {AIFED__ENVELOPE__BODY_LIST_SITES, rpc_reply_sites},
    {0, NULL},
};
