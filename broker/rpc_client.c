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

static void reply_lease(struct server *srv, const struct rpc_msg *m,
                        const Aifed__Lease *l)
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
        reply_lease(srv, m, l);
}

/* The best reason any site gave, for a refusal that names one. */
static const char *nearest_miss(const struct match_result *r)
{
    return r->n ? r->candidates[0].reason : "no sites are configured";
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

static void on_submit(struct server *srv, const struct rpc_msg *m)
{
    const Aifed__Submit *s = m->env->submit;
    Aifed__Lease l = AIFED__LEASE__INIT;
    struct match_result r = {0};
    const struct match_site *views;
    const struct match_candidate *c;
    char id[AF_ID_MAX + 1];
    int64_t now = af_now_ms();

    if (!auth_may_use_project(m->who, s->workload->project)) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "%s is not a member of project %s", m->who->id, s->workload->project);
        return;
    }
    if (submit_retry(srv, m, s->request_id))
        return;
    if (rpc_match(srv, s->workload, NULL, &r, &views) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    if (r.chosen == MATCH_NONE) {
        /* Report the nearest miss: the first site is as good as any when all
         * are rejected, and `aifedctl explain` shows every one. */
        rpc_error(
            srv, m, AIFED__ERROR_CODE__ERROR_NO_CAPACITY,
            "no site can take this workload now (%s%s%s); run explain for every site",
            r.n ? views[0].id : "", r.n ? ": " : "", nearest_miss(&r));
        goto out;
    }
    c = &r.candidates[r.chosen];
    af_id_new("lease", id, sizeof(id));
    l.id = id;
    l.request_id = s->request_id;
    l.principal = (char *)m->who->id;
    l.workload = s->workload;
    l.state = LEASE_PENDING;
    l.site = (char *)views[c->site].id;
    l.pool = (char *)views[c->site].pools[c->pool].name;
    l.gpus = s->workload->gpus;
    l.nodes = c->nodes;
    l.created_ms = l.updated_ms = now;
    if (rpc_put(srv, &l, m->who->id) < 0 || rpc_ask_hold(srv, &l) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL,
                  "could not record the lease");
        goto out;
    }
    log_info("lease %s for %s (%s): %u GPUs asked of %s/%s", l.id, m->who->id,
             s->workload->project, l.gpus, l.site, l.pool);
    reply_or_wait(srv, m, &l);
out:
    match_result_free(&r);
}

static void on_explain(struct server *srv, const struct rpc_msg *m)
{
    const Aifed__Workload *w = m->env->explain->workload;
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__ExplainReply er = AIFED__EXPLAIN_REPLY__INIT;
    struct match_result r = {0};
    const struct match_site *views;
    Aifed__Candidate *cands = NULL;
    Aifed__Candidate **ptrs = NULL;

    if (!auth_may_use_project(m->who, w->project)) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "%s is not a member of project %s", m->who->id, w->project);
        return;
    }
    if (rpc_match(srv, w, NULL, &r, &views) < 0 ||
        !(cands = calloc(r.n ? r.n : 1, sizeof(*cands))) ||
        !(ptrs = calloc(r.n ? r.n : 1, sizeof(*ptrs)))) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < r.n; i++) {
        const struct match_candidate *c = &r.candidates[i];
        Aifed__Candidate *x = &cands[i];

        aifed__candidate__init(x);
        x->site = (char *)views[c->site].id;
        x->pool = c->pool == MATCH_NONE ? "" : (char *)views[c->site].pools[c->pool].name;
        x->verdict = (Aifed__Verdict)c->verdict;
        x->rank = c->rank;
        x->score = c->score;
        x->reason = (char *)c->reason;
        ptrs[i] = x;
    }
    er.candidates = ptrs;
    er.n_candidates = r.n;
    env.body_case = AIFED__ENVELOPE__BODY_EXPLAIN_REPLY;
    env.explain_reply = &er;
    rpc_reply(srv, m, &env);
out:
    free(cands);
    free(ptrs);
    match_result_free(&r);
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
        reply_lease(srv, m, l);
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
    if (rpc_put(srv, &l, NULL) == 0) {
        sites_unpromise(srv->sites, l.site, l.id);
        rpc_release_at_site(srv, l.site, l.id);
        log_info("lease %s released by %s", l.id, m->who->id);
        rpc_wake_waiters(srv, &l);
        reply_lease(srv, m, &l);
    } else {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL,
                  "could not record the release");
    }
    store_lease_free(srv->store, stored);
}

static void on_list_sites(struct server *srv, const struct rpc_msg *m)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__SiteList *list;

    if (sites_list(srv->sites, &list) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    env.body_case = AIFED__ENVELOPE__BODY_SITE_LIST;
    env.site_list = list;
    rpc_reply(srv, m, &env);
    sites_list_free(list);
}

const struct rpc_spec rpc_client_specs[] = {
    {AIFED__ENVELOPE__BODY_SUBMIT, on_submit},
    {AIFED__ENVELOPE__BODY_EXPLAIN, on_explain},
    {AIFED__ENVELOPE__BODY_GET_LEASE, on_get_lease},
    {AIFED__ENVELOPE__BODY_LIST_LEASES, on_list_leases},
    {AIFED__ENVELOPE__BODY_RELEASE, on_release},
    {AIFED__ENVELOPE__BODY_LIST_SITES, on_list_sites},
    {0, NULL},
};
