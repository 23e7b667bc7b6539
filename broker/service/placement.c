/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placement: the workload is converted into the engine's terms (countries as
 * codes, data as kind/name/size), the views come from sites, and each view
 * gets the project's allocation there. Everything the engine points into
 * lives in struct placement until placement_free().
 */
#include "placement.h"
#include "af_time.h"
#include "af_near.h"
#include "af_wire.h"
#include "alloc.h"
#include "bconf.h"
#include "sites.h"
#include "svc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The engine's view of a protobuf workload; buffers go into m. */
static int convert_workload(struct svc *s, const Aifed__Workload *w, bool moving,
                            struct placement *m)
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
        .accel_id = sites_accel_id(s->sites, w->accelerator),
        .accelerator = w->accelerator,
        .gpus = w->gpus,
        .nodes = w->nodes,
        .gpu_memory_gb = w->gpu_memory_gb,
        .cpus_per_node = w->cpus_per_node,
        .memory_per_node_gb = w->memory_per_node_gb,
        .walltime_s = w->walltime_s,
        .now_ms = svc_now_ms(s),
        .not_before_ms = w->not_before_ms,
        .start_by_ms = w->start_by_ms,
        .countries = m->countries,
        .n_countries = w->n_countries,
        .certifications = w->certifications,
        .n_certifications = w->n_certifications,
        .sites = (const char *const *)w->sites,
        .n_sites = w->n_sites,
        .data = m->data,
        .n_data = w->n_data,
        .require_allocation = s->conf->require_allocation,
        /* A new lease may wait in a queue when nothing is free; a lease
         * moved off a site that refused it must start now. */
        .may_queue = s->conf->queue_when_busy && !moving,
        .fair_share_floor = (double)s->conf->fair_share_floor / 100.0,
        .weights = match_weights_for(w->prefer),
    };
    if (w->weights)
        mw->weights =
            (struct match_weights){w->weights->time, w->weights->cost, w->weights->carbon,
                                   w->weights->data, w->weights->fit};
    return 0;
}

/* The project's allocation and fair share at each site, for this request. */
static int fill_allocations(struct svc *s, const char *project, struct placement *m)
{
    m->allocs = calloc(m->n ? m->n : 1, sizeof(*m->allocs));
    if (!m->allocs)
        return -1;
    for (size_t i = 0; i < m->n; i++) {
        struct match_site *v = &m->views[i];
        const struct alloc_entry *e = alloc_find(s->allocs, project, v->id);

        if (e) {
            m->allocs[i] = (struct match_alloc){alloc_remaining(e), e->end_ms};
            v->alloc = &m->allocs[i];
        }
        v->project_share = alloc_share(s->allocs, project, v->id, &v->shared);
    }
    return 0;
}

int placement_run(struct svc *s, const Aifed__Workload *w, const char *principal,
                  const Aifed__Lease *lease, struct placement *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (convert_workload(s, w, lease != NULL, ret) < 0 ||
        sites_views(s->sites, w->project, principal, &ret->views, &ret->n) < 0 ||
        fill_allocations(s, w->project, ret) < 0)
        goto fail;
    if (lease) {
        ret->w.exclude = (const char *const *)lease->tried_sites;
        ret->w.n_exclude = lease->n_tried_sites;
    }
    if (match_run(&ret->w, ret->views, ret->n, &ret->r) < 0)
        goto fail;
    return 0;
fail:
    placement_free(ret);
    errno = ENOMEM;
    return -1;
}

int64_t placement_queued(const struct placement *m)
{
    const struct match_candidate *c;

    if (m->r.chosen == MATCH_NONE)
        return 0;
    c = &m->r.candidates[m->r.chosen];
    if (m->views[c->site].pools[c->pool].gpus_available >= m->w.gpus)
        return 0;
    return (int64_t)c->parts.start_in_s * 1000;
}

void placement_free(struct placement *m)
{
    match_result_free(&m->r);
    free(m->countries);
    free(m->data);
    free(m->allocs);
    memset(m, 0, sizeof(*m));
}

/* One allocation: n pointers, n candidates, n parts, n reasons. */
int placement_candidates(const struct placement *m, Aifed__Candidate ***ret_ptrs)
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
        c[i].accelerator = x->pool == MATCH_NONE || x->verdict == MATCH_REJECTED
                               ? ""
                               : (char *)s->pools[x->pool].accelerator;
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

void placement_refusal(const struct placement *m, char *buf, size_t size)
{
    const struct match_candidate *best = NULL;
    char why[AF_WIRE_MAX_TEXT];

    /* The furthest a site got through the checks; a site the workload did
     * not name got nowhere, whatever its number. */
    for (size_t i = 0; i < m->r.n; i++) {
        const struct match_candidate *c = &m->r.candidates[i];
        if (!best || (best->failed == MATCH_SITE && c->failed != MATCH_SITE) ||
            (c->failed != MATCH_SITE && c->failed > best->failed))
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

/* ---- names no site offers ---- */

/* The kinds of name a workload gives: accelerators, countries,
 * certifications, then data sets, models and images (NAME_DATA + DataKind). */
enum { NAME_ACCEL, NAME_COUNTRY, NAME_CERT, NAME_DATA };

/* Each name of kind an advertisement offers, to fn (non-zero stops). */
static int each_name(const Aifed__Advertisement *adv, int kind,
                     int (*fn)(const char *name, void *arg), void *arg)
{
    const Aifed__Site *site = adv->site;
    int r = 0;

    for (size_t i = 0; kind == NAME_ACCEL && !r && i < adv->n_pools; i++)
        r = fn(adv->pools[i]->accelerator, arg);
    if (kind == NAME_COUNTRY)
        r = fn(site->country, arg);
    for (size_t i = 0; kind == NAME_CERT && !r && i < site->n_certifications; i++)
        r = fn(site->certifications[i], arg);
    for (size_t i = 0; kind >= NAME_DATA && !r && i < site->n_data; i++)
        if ((int)site->data[i]->kind == kind - NAME_DATA)
            r = fn(site->data[i]->name, arg);
    return r;
}

/* One name looked for across the sites (a submit's hot path: a scan that
 * stops at the first site offering it, nothing kept), or, when none does,
 * the distinct names they offer instead, for the message. */
#define KNOWN_MAX 1024

struct lookup {
    int kind;
    const char *name; /* looked for; NULL: collecting */
    bool found;
    const char *known[KNOWN_MAX];
    size_t n;
};

static int match_name(const char *name, void *arg)
{
    struct lookup *l = arg;

    if (l->name)
        return l->found = !strcasecmp(name, l->name);
    for (size_t i = 0; i < l->n; i++)
        if (!strcasecmp(l->known[i], name))
            return 0;
    if (l->n < KNOWN_MAX && *name)
        l->known[l->n++] = name;
    return 0;
}

static int lookup_site(const char *id, const Aifed__Advertisement *adv, bool up,
                       void *arg)
{
    struct lookup *l = arg;

    (void)id;
    (void)up;
    return each_name(adv, l->kind, match_name, l);
}

static bool offered(struct svc *s, int kind, const char *name)
{
    struct lookup l = {.kind = kind, .name = name};

    sites_each(s->sites, lookup_site, &l);
    return l.found;
}

/* why: no site offers name, and the nearest the sites do. -1. */
static int unknown(struct svc *s, int kind, const char *what, const char *name, char *why,
                   size_t size)
{
    struct lookup *l = calloc(1, sizeof(*l));

    if (!l)
        return 0; /* no memory to tell: matching says what it finds */
    l->kind = kind;
    sites_each(s->sites, lookup_site, l);
    af_near_unknown(what, name, l->known, l->n, why, size);
    free(l);
    return -1;
}

int placement_names_known(struct svc *s, const Aifed__Workload *w, char *why, size_t size)
{
    static const char *const data_words[] = {"data set", "model", "image"};
    bool any_country = w->n_countries == 0;
    int rc = 0;

    /* A site not heard from since the broker started may offer the name:
     * until every site is heard, matching says what it finds ("not heard
     * from yet": ask again). */
    if (sites_unheard(s->sites, NULL, 0) > 0)
        return 0;
    if (*w->accelerator && !offered(s, NAME_ACCEL, w->accelerator))
        rc = unknown(s, NAME_ACCEL, "accelerator", w->accelerator, why, size);
    for (size_t i = 0; rc == 0 && !any_country && i < w->n_countries; i++)
        any_country = offered(s, NAME_COUNTRY, w->countries[i]);
    if (rc == 0 && !any_country) {
        char list[64];
        snprintf(list, sizeof(list), "%s%s", w->countries[0],
                 w->n_countries > 1 ? "..." : "");
        rc = unknown(s, NAME_COUNTRY, "a site in", list, why, size);
    }
    for (size_t i = 0; rc == 0 && i < w->n_certifications; i++)
        if (!offered(s, NAME_CERT, w->certifications[i]))
            rc = unknown(s, NAME_CERT, "certification", w->certifications[i], why, size);
    for (size_t i = 0; rc == 0 && i < w->n_data; i++) {
        const Aifed__DataItem *d = w->data[i];
        if (d->kind <= AIFED__DATA_KIND__DATA_IMAGE &&
            !offered(s, NAME_DATA + (int)d->kind, d->name))
            rc = unknown(s, NAME_DATA + (int)d->kind, data_words[d->kind], d->name, why,
                         size);
    }
    return rc;
}
