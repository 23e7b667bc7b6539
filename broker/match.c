/* SPDX-License-Identifier: Apache-2.0 */
/*
 * match: constraints, then score. Each constraint is a function that either
 * passes or writes why not; they run in the order users think about them
 * (is the site there, may my data go there, does it have my GPU, is it big
 * enough, long enough, free enough). The pool that passed the most
 * constraints stands for a rejected site, so the reason shown is the nearest
 * miss, not the first pool's first failure.
 */
#include "match.h"
#include "af_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct pool_eval {
    int passed;     /* constraints passed */
    uint32_t nodes; /* nodes the workload takes */
    char reason[MATCH_REASON_MAX];
};

typedef bool (*pool_check_fn)(const struct match_workload *, const struct match_pool *,
                              struct pool_eval *);

static bool need_nodes(const struct match_workload *w, const struct match_pool *p,
                       struct pool_eval *e)
{
    uint32_t per = p->gpus_per_node ? p->gpus_per_node : 1;

    e->nodes = w->nodes ? w->nodes : (w->gpus + per - 1) / per;
    return true;
}

static bool check_accelerator(const struct match_workload *w, const struct match_pool *p,
                              struct pool_eval *e)
{
    if (!w->accelerator || !*w->accelerator ||
        !strcasecmp(w->accelerator, p->accelerator))
        return true;
    snprintf(e->reason, sizeof(e->reason), "pool %s has %s, needs %s", p->name,
             p->accelerator, w->accelerator);
    return false;
}

static bool check_memory(const struct match_workload *w, const struct match_pool *p,
                         struct pool_eval *e)
{
    if (p->gpu_memory_gb >= w->gpu_memory_gb)
        return true;
    snprintf(e->reason, sizeof(e->reason), "pool %s has %u GB per GPU, needs %u GB",
             p->name, p->gpu_memory_gb, w->gpu_memory_gb);
    return false;
}

static bool check_shape(const struct match_workload *w, const struct match_pool *p,
                        struct pool_eval *e)
{
    if (e->nodes > p->nodes_total) {
        snprintf(e->reason, sizeof(e->reason), "needs %u nodes, pool %s has %u", e->nodes,
                 p->name, p->nodes_total);
        return false;
    }
    if ((uint64_t)e->nodes * p->gpus_per_node < w->gpus) {
        snprintf(e->reason, sizeof(e->reason),
                 "%u GPUs do not fit on %u nodes of %u GPUs in pool %s", w->gpus,
                 e->nodes, p->gpus_per_node, p->name);
        return false;
    }
    return true;
}

static bool check_walltime(const struct match_workload *w, const struct match_pool *p,
                           struct pool_eval *e)
{
    if (!p->max_walltime_s || w->walltime_s <= p->max_walltime_s)
        return true;
    char want[24], limit[24];

    af_duration_format((uint64_t)w->walltime_s * 1000, want, sizeof(want));
    af_duration_format((uint64_t)p->max_walltime_s * 1000, limit, sizeof(limit));
    snprintf(e->reason, sizeof(e->reason), "walltime %s exceeds pool %s limit of %s",
             want, p->name, limit);
    return false;
}

static bool check_capacity(const struct match_workload *w, const struct match_pool *p,
                           struct pool_eval *e)
{
    if (p->gpus_available >= w->gpus)
        return true;
    snprintf(e->reason, sizeof(e->reason), "needs %u x %s, pool %s has %u available",
             w->gpus, p->accelerator, p->name, p->gpus_available);
    return false;
}

static const pool_check_fn pool_checks[] = {
    need_nodes,  check_accelerator, check_memory,
    check_shape, check_walltime,    check_capacity,
};
#define N_POOL_CHECKS (sizeof(pool_checks) / sizeof(pool_checks[0]))

static bool site_excluded(const struct match_workload *w, const char *id)
{
    for (size_t i = 0; i < w->n_exclude; i++)
        if (!strcmp(w->exclude[i], id))
            return true;
    return false;
}

static bool country_allowed(const struct match_workload *w, const char *country)
{
    if (w->n_countries == 0)
        return true;
    for (size_t i = 0; i < w->n_countries; i++)
        if (country && !strcasecmp(w->countries[i], country))
            return true;
    return false;
}

/* Site-level constraints; false with c->reason written when one fails. */
static bool check_site(const struct match_workload *w, const struct match_site *s,
                       struct match_candidate *c)
{
    if (!s->up) {
        snprintf(c->reason, sizeof(c->reason), "site is DOWN (no recent advertisement)");
        return false;
    }
    if (!country_allowed(w, s->country)) {
        snprintf(c->reason, sizeof(c->reason), "site is in %s, workload allows only %s%s",
                 s->country ? s->country : "?", w->countries[0],
                 w->n_countries > 1 ? " and others" : "");
        return false;
    }
    if (site_excluded(w, s->id)) {
        snprintf(c->reason, sizeof(c->reason), "site already refused this lease");
        return false;
    }
    if (s->n_pools == 0) {
        snprintf(c->reason, sizeof(c->reason), "site advertises no pools");
        return false;
    }
    return true;
}

static double pool_score(const struct match_workload *w, const struct match_pool *p)
{
    double stranded = p->gpus_available ? (double)(p->gpus_available - w->gpus) /
                                              (double)p->gpus_available
                                        : 0.0;
    /* stranded is in [0, 1): it only orders pools whose waits are equal. */
    return (double)p->queue_wait_s + stranded;
}

static void eval_site(const struct match_workload *w, const struct match_site *s,
                      struct match_candidate *c)
{
    int best_passed = -1;

    c->pool = MATCH_NONE;
    c->verdict = MATCH_REJECTED;
    if (!check_site(w, s, c))
        return;
    for (size_t i = 0; i < s->n_pools; i++) {
        const struct match_pool *p = &s->pools[i];
        struct pool_eval e = {0};
        size_t k = 0;

        while (k < N_POOL_CHECKS && pool_checks[k](w, p, &e)) {
            k++;
            e.passed++;
        }
        if (k == N_POOL_CHECKS) {
            double score = pool_score(w, p);
            if (c->verdict == MATCH_REJECTED || score < c->score) {
                c->verdict = MATCH_RANKED;
                c->pool = i;
                c->score = score;
                c->nodes = e.nodes;
            }
        } else if (c->verdict == MATCH_REJECTED && e.passed > best_passed) {
            best_passed = e.passed;
            c->pool = i;
            memcpy(c->reason, e.reason, sizeof(c->reason));
        }
    }
    if (c->verdict == MATCH_RANKED) {
        const struct match_pool *p = &s->pools[c->pool];
        char wait[24];

        af_duration_format((uint64_t)p->queue_wait_s * 1000, wait, sizeof(wait));
        snprintf(c->reason, sizeof(c->reason),
                 "expected wait %s; %u of %u %s available in pool %s",
                 p->queue_wait_s ? wait : "none", p->gpus_available, p->gpus_total,
                 p->accelerator, p->name);
    }
}

struct ranked {
    double score;
    size_t site;
};

/* Score, then input order: a total order, so qsort's instability is moot. */
static int ranked_cmp(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;

    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return x->site < y->site ? -1 : x->site > y->site;
}

int match_run(const struct match_workload *w, const struct match_site *sites,
              size_t n_sites, struct match_result *ret)
{
    struct match_candidate *c = calloc(n_sites ? n_sites : 1, sizeof(*c));
    struct ranked *order;
    size_t n_ranked = 0;

    if (!c)
        return -1;
    order = malloc((n_sites ? n_sites : 1) * sizeof(*order));
    if (!order) {
        free(c);
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < n_sites; i++) {
        c[i].site = i;
        eval_site(w, &sites[i], &c[i]);
        if (c[i].verdict == MATCH_RANKED)
            order[n_ranked++] = (struct ranked){c[i].score, i};
    }
    qsort(order, n_ranked, sizeof(*order), ranked_cmp);
    for (size_t r = 0; r < n_ranked; r++)
        c[order[r].site].rank = (unsigned)r + 1;
    ret->chosen = n_ranked ? order[0].site : MATCH_NONE;
    if (n_ranked)
        c[order[0].site].verdict = MATCH_CHOSEN;
    free(order);
    ret->candidates = c;
    ret->n = n_sites;
    return 0;
}

void match_result_free(struct match_result *r)
{
    if (!r)
        return;
    free(r->candidates);
    r->candidates = NULL;
    r->n = 0;
}
