/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_lease: the lease flow shared by both sockets: match, ask a site to hold,
 * fall back to the next site, account for allocations, answer the clients
 * waiting for a decision.
 *
 * Leases read from the store are protobuf-c unpacked messages; a changed
 * lease is always a shallow copy whose new strings are borrowed for the call,
 * never written into the unpacked message (its free would free them).
 */
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The engine's view of a protobuf workload; buffers go into m. */
static int convert_workload(struct server *srv, const Aifed__Workload *w,
                            struct rpc_matching *m)
{
    struct match_workload *mw = &m->w;

    m->countries = calloc(w->n_countries ? w->n_countries : 1, sizeof(*m->countries));
    m->data = calloc(w->n_data ? w->n_data : 1, sizeof(*m->data));
    if (!m->countries || !m->data)
        return -1;
    for (size_t i = 0; i < w->n_countries; i++)
        m->countries[i] = match_country(w->countries[i]);
    for (size_t i = 0; i < w->n_data; i++)
        m->data[i] = (struct match_data){w->data[i]->kind, w->data[i]->name,
                                         w->data[i]->size_bytes};
    *mw = (struct match_workload){
        .accel_id = sites_accel_id(srv->sites, w->accelerator),
        .accelerator = w->accelerator,
        .gpus = w->gpus,
        .nodes = w->nodes,
        .gpu_memory_gb = w->gpu_memory_gb,
        .cpus_per_node = w->cpus_per_node,
        .memory_per_node_gb = w->memory_per_node_gb,
        .walltime_s = w->walltime_s,
        .now_ms = af_now_ms(),
        .not_before_ms = w->not_before_ms,
        .start_by_ms = w->start_by_ms,
        .countries = m->countries,
        .n_countries = w->n_countries,
        .certifications = w->certifications,
        .n_certifications = w->n_certifications,
        .data = m->data,
        .n_data = w->n_data,
        .require_allocation = srv->conf->require_allocation,
        .fair_share_floor = (double)srv->conf->fair_share_floor / 100.0,
        .weights = match_weights_for(w->prefer),
    };
    if (w->weights)
        mw->weights =
            (struct match_weights){w->weights->time, w->weights->cost, w->weights->carbon,
                                   w->weights->data, w->weights->fit};
    return 0;
}

/* The project's allocation and fair share at each site, for this request. */
static int fill_allocations(struct server *srv, const char *project,
                            struct rpc_matching *m)
{
    m->allocs = calloc(m->n ? m->n : 1, sizeof(*m->allocs));
    if (!m->allocs)
        return -1;
    for (size_t i = 0; i < m->n; i++) {
        struct match_site *v = &m->views[i];
        const struct alloc_entry *e = alloc_find(srv->allocs, project, v->id);

        if (e) {
            m->allocs[i] = (struct match_alloc){alloc_remaining(e), e->end_ms};
            v->alloc = &m->allocs[i];
        }
        v->project_share = alloc_share(srv->allocs, project, v->id, &v->shared);
    }
    return 0;
}

int rpc_match(struct server *srv, const Aifed__Workload *w, const Aifed__Lease *lease,
              struct rpc_matching *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (convert_workload(srv, w, ret) < 0 ||
        sites_views(srv->sites, w->project, &ret->views, &ret->n) < 0 ||
        fill_allocations(srv, w->project, ret) < 0)
        goto fail;
    if (lease) {
        ret->w.exclude = (const char *const *)lease->tried_sites;
        ret->w.n_exclude = lease->n_tried_sites;
    }
    if (match_run(&ret->w, ret->views, ret->n, &ret->r) < 0)
        goto fail;
    return 0;
fail:
    rpc_matching_free(ret);
    errno = ENOMEM;
    return -1;
}

void rpc_matching_free(struct rpc_matching *m)
{
    match_result_free(&m->r);
    free(m->countries);
    free(m->data);
    free(m->allocs);
    memset(m, 0, sizeof(*m));
}

/* One allocation: n pointers, n candidates, n parts, n reasons. */
int rpc_candidates(const struct rpc_matching *m, Aifed__Candidate ***ret_ptrs)
{
    size_t n = m->r.n;
    size_t size = n * (sizeof(Aifed__Candidate *) + sizeof(Aifed__Candidate) +
                       sizeof(Aifed__ScoreParts) + AF_WIRE_MAX_TEXT);
    char *block = calloc(1, size ? size : 1);
    Aifed__Candidate **ptrs = (Aifed__Candidate **)block;
    Aifed__Candidate *c = (Aifed__Candidate *)(ptrs + n);
    Aifed__ScoreParts *parts = (Aifed__ScoreParts *)(c + n);
    char *text = (char *)(parts + n);

    if (!block)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const struct match_candidate *x = &m->r.candidates[i];
        const struct match_site *s = &m->views[x->site];

        aifed__candidate__init(&c[i]);
        c[i].site = (char *)s->id;
        c[i].pool = x->pool == MATCH_NONE ? "" : (char *)s->pools[x->pool].name;
        c[i].verdict = (Aifed__Verdict)x->verdict;
        c[i].rank = x->rank;
        c[i].score = x->score;
        c[i].reason = text + i * AF_WIRE_MAX_TEXT;
        match_reason(&m->w, m->views, x, c[i].reason, AF_WIRE_MAX_TEXT);
        if (x->verdict != MATCH_REJECTED) {
            aifed__score_parts__init(&parts[i]);
            parts[i].start_in_s = x->parts.start_in_s;
            parts[i].cost_eur = x->parts.cost_eur;
            parts[i].carbon_kg = x->parts.carbon_kg;
            parts[i].bytes_to_move = x->parts.bytes_to_move;
            parts[i].stranded = x->parts.stranded;
            c[i].parts = &parts[i];
        }
        ptrs[i] = &c[i];
    }
    *ret_ptrs = ptrs;
    return 0;
}

void rpc_alloc_save(struct server *srv, const struct alloc_entry *e)
{
    Aifed__Allocation a = AIFED__ALLOCATION__INIT;

    a.project = (char *)e->project;
    a.site = (char *)e->site;
    a.granted_gpu_s = e->granted_gpu_s;
    a.used_gpu_s = e->used_gpu_s;
    a.reserved_gpu_s = e->reserved_gpu_s;
    a.end_ms = e->end_ms;
    if (store_alloc_put(srv->store, &a) < 0) {
        rpc_store_failed(srv, "storing the allocation of %s at %s", e->project, e->site);
    }
}

void rpc_alloc_reserve(struct server *srv, const Aifed__Lease *l)
{
    struct alloc_entry *e = alloc_find(srv->allocs, l->workload->project, l->site);

    if (!e)
        return;
    e->reserved_gpu_s += (uint64_t)l->gpus * l->workload->walltime_s;
    rpc_alloc_save(srv, e);
}

void rpc_alloc_settle(struct server *srv, const Aifed__Lease *l, uint64_t used_gpu_s)
{
    struct alloc_entry *e = alloc_find(srv->allocs, l->workload->project, l->site);
    uint64_t held = (uint64_t)l->gpus * l->workload->walltime_s;

    if (!e)
        return;
    e->reserved_gpu_s = e->reserved_gpu_s > held ? e->reserved_gpu_s - held : 0;
    e->used_gpu_s += used_gpu_s;
    rpc_alloc_save(srv, e);
}

void rpc_alloc_adjust(struct server *srv, const Aifed__Lease *l, uint64_t was_gpu_s,
                      uint64_t now_gpu_s)
{
    struct alloc_entry *e = alloc_find(srv->allocs, l->workload->project, l->site);

    if (!e)
        return;
    e->used_gpu_s = e->used_gpu_s > was_gpu_s ? e->used_gpu_s - was_gpu_s : 0;
    e->used_gpu_s += now_gpu_s;
    rpc_alloc_save(srv, e);
}

void rpc_lease_closed(struct server *srv, const Aifed__Lease *l)
{
    sites_unpromise(srv->sites, l->site, l->id);
    rpc_alloc_settle(srv, l, l->gpu_seconds_used);
    rpc_release_at_site(srv, l->site, l->id);
    rpc_wake_waiters(srv, l);
}

int rpc_sign(struct server *srv, Aifed__Lease *l, char *buf, size_t size)
{
    struct af_token_claims c = {
        .gpus = l->gpus,
        .nodes = l->nodes,
        .not_before_ms = l->created_ms,
        .not_after_ms = l->expires_ms,
    };

    snprintf(c.id, sizeof(c.id), "%s", l->id);
    snprintf(c.site, sizeof(c.site), "%s", l->site);
    snprintf(c.pool, sizeof(c.pool), "%s", l->pool);
    snprintf(c.project, sizeof(c.project), "%s", l->workload->project);
    snprintf(c.principal, sizeof(c.principal), "%s", l->principal);
    snprintf(c.accelerator, sizeof(c.accelerator), "%s", l->workload->accelerator);
    if (af_token_make(&c, &srv->signer, buf, size) < 0) {
        log_err("signing lease %s", l->id);
        return -1;
    }
    l->token = buf;
    l->site_signature = l->site_signing_key = "";
    return 0;
}

void rpc_to_site_hold(struct server *srv, const Aifed__Lease *lease)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__LeaseHold hold = AIFED__LEASE_HOLD__INIT;

    hold.lease = (Aifed__Lease *)lease;
    env.body_case = AIFED__ENVELOPE__BODY_LEASE_HOLD;
    env.lease_hold = &hold;
    rpc_to_site(srv, lease->site, &env);
}

int rpc_ask_hold(struct server *srv, const Aifed__Lease *lease)
{
    if (sites_promise(srv->sites, lease->site, lease->pool, lease->id,
                      lease->workload->project, lease->gpus, af_now_ms()) < 0)
        return -1;
    rpc_to_site_hold(srv, lease);
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

/* The lease, moved to the chosen candidate, asked to hold there. The old
 * site's reservation is released (nothing used) and the new one's made. */
static int move_lease(struct server *srv, Aifed__Lease *l, const struct rpc_matching *m,
                      const char *why, char token[AF_TOKEN_MAX])
{
    const struct match_candidate *c = &m->r.candidates[m->r.chosen];
    char reason[AF_WIRE_MAX_TEXT];

    rpc_alloc_settle(srv, l, 0);
    snprintf(reason, sizeof(reason), "moved from %s: %s", l->site, why);
    l->site = (char *)m->views[c->site].id;
    l->pool = (char *)m->views[c->site].pools[c->pool].name;
    l->nodes = c->nodes;
    l->updated_ms = af_now_ms();
    l->expires_ms = l->updated_ms + (int64_t)l->workload->walltime_s * 1000;
    l->reason = reason;
    rpc_alloc_reserve(srv, l);
    if (rpc_sign(srv, l, token, AF_TOKEN_MAX) < 0 || rpc_put(srv, l, NULL) < 0 ||
        rpc_ask_hold(srv, l) < 0)
        return -1;
    log_info("lease %s: %s; asking %s/%s instead", l->id, why, l->site, l->pool);
    return 0;
}

void rpc_hold_failed(struct server *srv, const Aifed__Lease *lease, const char *why)
{
    Aifed__Lease l = *lease;
    char **tried = malloc((lease->n_tried_sites + 1) * sizeof(*tried));
    char reason[AF_WIRE_MAX_TEXT], token[AF_TOKEN_MAX];
    struct rpc_matching m = {0};

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
        rpc_match(srv, l.workload, &l, &m) == 0) {
        if (m.r.chosen != MATCH_NONE && move_lease(srv, &l, &m, why, token) == 0)
            goto out;
        l.site = lease->site; /* move_lease may have failed half-way */
        l.pool = lease->pool;
    }
    l.state = lease_next(lease->state, LEASE_EV_FAIL);
    l.updated_ms = af_now_ms();
    snprintf(reason, sizeof(reason), "%s; %s", why,
             l.n_tried_sites < srv->conf->hold_attempts ? "no other site can take it"
                                                        : "no more sites tried");
    l.reason = reason;
    l.gpu_seconds_used = 0;
    if (rpc_put(srv, &l, NULL) == 0) {
        log_info("lease %s FAILED: %s", l.id, reason);
        rpc_lease_closed(srv, &l);
    }
out:
    rpc_matching_free(&m);
    free(tried);
}
