/* SPDX-License-Identifier: Apache-2.0 */
/*
 * match: constraints, then score. The constraints run in the order users
 * think about them (is the site there, may my work go there, does it have my
 * GPU, is it big enough, long enough, free enough, soon enough). The pool
 * that passed the most constraints stands for a rejected site, so the reason
 * shown is the nearest miss, not the first pool's first failure.
 *
 * Scoring needs every feasible pool's raw figures before any can be scored
 * (each part is normalised by the range across them), so the engine makes
 * two passes: evaluate and collect, then score and rank.
 */
#include "match.h"
#include "af_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where one pool got to. */
struct eval {
    enum match_check failed;
    int64_t have, need;
    size_t detail;
    int passed;
    uint32_t nodes;
    int64_t start_ms;
};

/* A feasible pool and its raw score parts. */
struct feasible {
    size_t site, pool;
    uint32_t nodes;
    struct match_parts parts;
    double score;
};

struct match_weights match_weights_for(int prefer)
{
    /* balanced, time, cost, green, local: the preferred part counts four
     * times; fit only breaks near-ties. */
    static const struct match_weights w[] = {
        {1, 1, 1, 1, 0.1}, {4, 1, 1, 1, 0.1}, {1, 4, 1, 1, 0.1},
        {1, 1, 4, 1, 0.1}, {1, 1, 1, 4, 0.1},
    };
    return prefer >= 0 && prefer <= 4 ? w[prefer] : w[0];
}

static bool fail(struct eval *e, enum match_check c, int64_t have, int64_t need)
{
    e->failed = c;
    e->have = have;
    e->need = need;
    return false;
}

static bool has_string(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s))
            return true;
    return false;
}

static uint64_t gpu_seconds(const struct match_workload *w)
{
    return (uint64_t)w->gpus * w->walltime_s;
}

/* Fair share applies only on a contended site: see docs/architecture.md. */
static bool fair_share_ok(const struct match_workload *w, const struct match_site *s,
                          struct eval *e)
{
    int64_t total = 0, avail = 0, cap;

    if (!s->shared)
        return true;
    for (size_t i = 0; i < s->n_pools; i++) {
        total += s->pools[i].gpus_total;
        avail += s->pools[i].gpus_available;
    }
    if ((double)(avail - w->gpus) >= w->fair_share_floor * (double)total)
        return true;
    cap = (int64_t)(s->project_share * (double)total);
    if ((int64_t)s->project_gpus_open + w->gpus <= cap)
        return true;
    return fail(e, MATCH_FAIR_SHARE, s->project_gpus_open, cap);
}

static bool check_site(const struct match_workload *w, const struct match_site *s,
                       struct eval *e)
{
    if (!s->up)
        return fail(e, MATCH_DOWN, 0, 0);
    if (s->drained)
        return fail(e, MATCH_DRAINED, 0, 0);
    if (w->n_countries) {
        size_t i = 0;
        while (i < w->n_countries && w->countries[i] != s->country)
            i++;
        if (i == w->n_countries)
            return fail(e, MATCH_COUNTRY, s->country, w->countries[0]);
    }
    for (size_t i = 0; i < w->n_certifications; i++)
        if (!has_string(s->certifications, s->n_certifications, w->certifications[i])) {
            e->detail = i;
            return fail(e, MATCH_CERTIFICATION, 0, 0);
        }
    for (size_t i = 0; i < w->n_exclude; i++)
        if (!strcmp(w->exclude[i], s->id))
            return fail(e, MATCH_TRIED, 0, 0);
    if (s->n_pools == 0)
        return fail(e, MATCH_NO_POOLS, 0, 0);
    if (!s->alloc && w->require_allocation)
        return fail(e, MATCH_NO_ALLOCATION, 0, 0);
    if (s->alloc && s->alloc->remaining_gpu_s < gpu_seconds(w))
        return fail(e, MATCH_ALLOCATION_LOW, (int64_t)s->alloc->remaining_gpu_s,
                    (int64_t)gpu_seconds(w));
    return fair_share_ok(w, s, e);
}

static uint32_t wait_for(const struct match_pool *p, uint32_t gpus)
{
    for (size_t i = 0; i < p->n_starts; i++)
        if (p->starts[i].gpus >= gpus)
            return p->starts[i].wait_s;
    return p->queue_wait_s;
}

/* The pool's constraints; e->passed counts how far it got. */
static bool check_pool(const struct match_workload *w, const struct match_site *s,
                       const struct match_pool *p, struct eval *e)
{
    uint32_t per = p->gpus_per_node ? p->gpus_per_node : 1;
    int64_t end;

    e->nodes = w->nodes ? w->nodes : (w->gpus + per - 1) / per;
    if (w->accel_id && p->accel_id != w->accel_id)
        return fail(e, MATCH_ACCELERATOR, 0, 0);
    e->passed++;
    if (p->gpu_memory_gb < w->gpu_memory_gb)
        return fail(e, MATCH_GPU_MEMORY, p->gpu_memory_gb, w->gpu_memory_gb);
    e->passed++;
    if (p->cpus_per_node < w->cpus_per_node)
        return fail(e, MATCH_CPUS, p->cpus_per_node, w->cpus_per_node);
    e->passed++;
    if (p->memory_per_node_gb < w->memory_per_node_gb)
        return fail(e, MATCH_NODE_MEMORY, p->memory_per_node_gb, w->memory_per_node_gb);
    e->passed++;
    if (e->nodes > p->nodes_total)
        return fail(e, MATCH_NODES, p->nodes_total, e->nodes);
    e->passed++;
    if ((uint64_t)e->nodes * p->gpus_per_node < w->gpus)
        return fail(e, MATCH_SHAPE, (int64_t)e->nodes * p->gpus_per_node, w->gpus);
    e->passed++;
    if (p->max_walltime_s && w->walltime_s > p->max_walltime_s)
        return fail(e, MATCH_WALLTIME, p->max_walltime_s, w->walltime_s);
    e->passed++;
    if (p->gpus_available < w->gpus)
        return fail(e, MATCH_CAPACITY, p->gpus_available, w->gpus);
    e->passed++;
    e->start_ms = w->now_ms + (int64_t)wait_for(p, w->gpus) * 1000;
    if (e->start_ms < w->not_before_ms)
        e->start_ms = w->not_before_ms;
    if (w->start_by_ms && e->start_ms > w->start_by_ms)
        return fail(e, MATCH_DEADLINE, (e->start_ms - w->now_ms) / 1000,
                    (w->start_by_ms - w->now_ms) / 1000);
    e->passed++;
    end = e->start_ms + (int64_t)w->walltime_s * 1000;
    for (size_t i = 0; i < s->n_maintenance; i++)
        if (s->maintenance[i].start_ms < end && s->maintenance[i].end_ms > e->start_ms) {
            e->detail = i;
            return fail(e, MATCH_MAINTENANCE, 0, 0);
        }
    e->passed++;
    if (s->alloc && s->alloc->end_ms && end > s->alloc->end_ms)
        return fail(e, MATCH_ALLOCATION_ENDS, s->alloc->end_ms, end);
    return true;
}

/* The largest size any site gives for item i, for data a site lacks. */
static uint64_t known_size(const struct match_workload *w, const struct match_site *sites,
                           size_t n_sites, size_t i)
{
    uint64_t size = w->data[i].size_bytes;

    for (size_t s = 0; s < n_sites && !size; s++)
        for (size_t d = 0; d < sites[s].n_data; d++)
            if (sites[s].data[d].kind == w->data[i].kind &&
                !strcmp(sites[s].data[d].name, w->data[i].name) &&
                sites[s].data[d].size_bytes > size)
                size = sites[s].data[d].size_bytes;
    return size;
}

static uint64_t bytes_to_move(const struct match_workload *w, const struct match_site *s,
                              const uint64_t *sizes)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < w->n_data; i++) {
        bool here = false;
        for (size_t d = 0; d < s->n_data && !here; d++)
            here = s->data[d].kind == w->data[i].kind &&
                   !strcmp(s->data[d].name, w->data[i].name);
        if (!here)
            sum += sizes[i];
    }
    return sum;
}

static void parts_of(const struct match_workload *w, const struct match_site *s,
                     const struct match_pool *p, const struct eval *e, uint64_t moved,
                     struct match_parts *ret)
{
    double hours = (double)w->walltime_s / 3600.0;

    ret->start_in_s = (uint32_t)((e->start_ms - w->now_ms) / 1000);
    ret->cost_eur = s->price_per_gpu_hour * w->gpus * hours;
    ret->carbon_kg = s->carbon_g_per_kwh * w->gpus * MATCH_GPU_KW * hours / 1000.0;
    ret->bytes_to_move = moved;
    ret->stranded = (double)(p->gpus_available - w->gpus) / (double)p->gpus_available;
}

/* (x - lo) / (hi - lo), or 0 when every candidate has the same x. */
static double norm(double x, double lo, double hi)
{
    return hi > lo ? (x - lo) / (hi - lo) : 0.0;
}

static void score_all(const struct match_workload *w, struct feasible *f, size_t n)
{
    struct match_parts lo, hi;

    if (n == 0)
        return;
    lo = hi = f[0].parts;
    for (size_t i = 1; i < n; i++) {
        const struct match_parts *p = &f[i].parts;
#define RANGE(field)                                                                     \
    do {                                                                                 \
        if (p->field < lo.field)                                                         \
            lo.field = p->field;                                                         \
        if (p->field > hi.field)                                                         \
            hi.field = p->field;                                                         \
    } while (0)
        RANGE(start_in_s);
        RANGE(cost_eur);
        RANGE(carbon_kg);
        RANGE(bytes_to_move);
        RANGE(stranded);
#undef RANGE
    }
    for (size_t i = 0; i < n; i++) {
        const struct match_parts *p = &f[i].parts;
        f[i].score =
            w->weights.time * norm(p->start_in_s, lo.start_in_s, hi.start_in_s) +
            w->weights.cost * norm(p->cost_eur, lo.cost_eur, hi.cost_eur) +
            w->weights.carbon * norm(p->carbon_kg, lo.carbon_kg, hi.carbon_kg) +
            w->weights.data * norm((double)p->bytes_to_move, (double)lo.bytes_to_move,
                                   (double)hi.bytes_to_move) +
            w->weights.fit * norm(p->stranded, lo.stranded, hi.stranded);
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

/* First pass for one site: reject it, or add its feasible pools to f. */
static void eval_site(const struct match_workload *w, const struct match_site *sites,
                      size_t i, const uint64_t *sizes, struct match_candidate *c,
                      struct feasible *f, size_t *n_f)
{
    const struct match_site *s = &sites[i];
    struct eval e = {0};
    int best = -1;
    bool any = false;
    uint64_t moved = 0;

    c->site = i;
    c->pool = MATCH_NONE;
    c->verdict = MATCH_REJECTED;
    if (!check_site(w, s, &e)) {
        c->failed = e.failed;
        c->have = e.have;
        c->need = e.need;
        c->detail = e.detail;
        return;
    }
    for (size_t j = 0; j < s->n_pools; j++) {
        struct eval pe = {0};

        if (check_pool(w, s, &s->pools[j], &pe)) {
            if (!any && w->n_data)
                moved = bytes_to_move(w, s, sizes);
            any = true;
            f[*n_f] = (struct feasible){.site = i, .pool = j, .nodes = pe.nodes};
            parts_of(w, s, &s->pools[j], &pe, moved, &f[*n_f].parts);
            (*n_f)++;
        } else if (!any && pe.passed > best) {
            best = pe.passed;
            c->pool = j;
            c->nodes = pe.nodes;
            c->failed = pe.failed;
            c->have = pe.have;
            c->need = pe.need;
            c->detail = pe.detail;
        }
    }
    if (any)
        c->failed = MATCH_OK;
}

int match_run(const struct match_workload *w, const struct match_site *sites,
              size_t n_sites, struct match_result *ret)
{
    struct match_candidate *c = NULL;
    struct feasible *f = NULL;
    struct ranked *order = NULL;
    uint64_t *sizes = NULL;
    size_t total_pools = 0, n_f = 0, n_ranked = 0;

    for (size_t i = 0; i < n_sites; i++)
        total_pools += sites[i].n_pools;
    c = calloc(n_sites ? n_sites : 1, sizeof(*c));
    f = malloc((total_pools ? total_pools : 1) * sizeof(*f));
    order = malloc((n_sites ? n_sites : 1) * sizeof(*order));
    sizes = calloc(w->n_data ? w->n_data : 1, sizeof(*sizes));
    if (!c || !f || !order || !sizes)
        goto nomem;
    for (size_t i = 0; i < w->n_data; i++)
        sizes[i] = known_size(w, sites, n_sites, i);
    for (size_t i = 0; i < n_sites; i++)
        eval_site(w, sites, i, sizes, &c[i], f, &n_f);
    score_all(w, f, n_f);
    /* Each site's best pool stands for it; f is in site order. */
    for (size_t k = 0; k < n_f; k++) {
        struct match_candidate *x = &c[f[k].site];
        if (x->verdict == MATCH_REJECTED || f[k].score < x->score) {
            x->verdict = MATCH_RANKED;
            x->pool = f[k].pool;
            x->score = f[k].score;
            x->nodes = f[k].nodes;
            x->parts = f[k].parts;
        }
    }
    for (size_t i = 0; i < n_sites; i++)
        if (c[i].verdict == MATCH_RANKED)
            order[n_ranked++] = (struct ranked){c[i].score, i};
    qsort(order, n_ranked, sizeof(*order), ranked_cmp);
    for (size_t r = 0; r < n_ranked; r++)
        c[order[r].site].rank = (unsigned)r + 1;
    ret->chosen = n_ranked ? order[0].site : MATCH_NONE;
    if (n_ranked)
        c[order[0].site].verdict = MATCH_CHOSEN;
    ret->candidates = c;
    ret->n = n_sites;
    free(f);
    free(order);
    free(sizes);
    return 0;
nomem:
    free(c);
    free(f);
    free(order);
    free(sizes);
    errno = ENOMEM;
    return -1;
}

void match_result_free(struct match_result *r)
{
    if (!r)
        return;
    free(r->candidates);
    r->candidates = NULL;
    r->n = 0;
}

static void dur(int64_t s, char *buf, size_t size)
{
    if (s <= 0)
        snprintf(buf, size, "now");
    else
        af_duration_format((uint64_t)s * 1000, buf, size);
}

static void bytes(uint64_t b, char *buf, size_t size)
{
    if (b == 0)
        snprintf(buf, size, "nothing");
    else if (b >= 1000000000ULL)
        snprintf(buf, size, "%.1f GB", (double)b / 1e9);
    else
        snprintf(buf, size, "%.1f MB", (double)b / 1e6);
}

static void ranked_reason(const struct match_workload *w, const struct match_site *s,
                          const struct match_candidate *c, char *buf, size_t size)
{
    const struct match_pool *p = &s->pools[c->pool];
    char start[24], moved[24];

    (void)w;
    dur(c->parts.start_in_s, start, sizeof(start));
    bytes(c->parts.bytes_to_move, moved, sizeof(moved));
    snprintf(buf, size,
             "pool %s: starts %s%s; %u of %u %s available; EUR %.0f; %.0f kg CO2; %s to "
             "move",
             p->name, c->parts.start_in_s ? "in " : "", start, p->gpus_available,
             p->gpus_total, p->accelerator, c->parts.cost_eur, c->parts.carbon_kg, moved);
}

void match_reason(const struct match_workload *w, const struct match_site *sites,
                  const struct match_candidate *c, char *buf, size_t size)
{
    const struct match_site *s = &sites[c->site];
    const struct match_pool *p = c->pool == MATCH_NONE ? NULL : &s->pools[c->pool];
    const char *pn = p ? p->name : "";
    char a[32], b[32];

    if (c->verdict != MATCH_REJECTED) {
        ranked_reason(w, s, c, buf, size);
        return;
    }
    switch (c->failed) {
    case MATCH_OK:
        snprintf(buf, size, "feasible");
        break;
    case MATCH_DOWN:
        snprintf(buf, size, "site is DOWN (no recent advertisement)");
        break;
    case MATCH_DRAINED:
        snprintf(buf, size, "site is drained: it takes no new work");
        break;
    case MATCH_COUNTRY:
        snprintf(buf, size, "site is in %c%c, workload allows only %c%c%s",
                 (int)(c->have >> 8), (int)(c->have & 0xff), (int)(c->need >> 8),
                 (int)(c->need & 0xff), w->n_countries > 1 ? " and others" : "");
        break;
    case MATCH_CERTIFICATION:
        snprintf(buf, size, "site lacks the %s certification",
                 w->certifications[c->detail]);
        break;
    case MATCH_TRIED:
        snprintf(buf, size, "site already refused this lease");
        break;
    case MATCH_NO_POOLS:
        snprintf(buf, size, "site advertises no pools");
        break;
    case MATCH_NO_ALLOCATION:
        snprintf(buf, size, "project has no allocation at this site");
        break;
    case MATCH_ALLOCATION_LOW:
        snprintf(buf, size, "needs %.1f GPU-hours, the project has %.1f left here",
                 (double)c->need / 3600.0, (double)c->have / 3600.0);
        break;
    case MATCH_FAIR_SHARE:
        snprintf(buf, size,
                 "site is contended and the project holds %lld GPUs here; its fair share "
                 "is %lld",
                 (long long)c->have, (long long)c->need);
        break;
    case MATCH_ACCELERATOR:
        snprintf(buf, size, "pool %s has %s, needs %s", pn, p->accelerator,
                 w->accelerator ? w->accelerator : "?");
        break;
    case MATCH_GPU_MEMORY:
        snprintf(buf, size, "pool %s has %lld GB per GPU, needs %lld GB", pn,
                 (long long)c->have, (long long)c->need);
        break;
    case MATCH_CPUS:
        snprintf(buf, size, "pool %s has %lld CPUs per node, needs %lld", pn,
                 (long long)c->have, (long long)c->need);
        break;
    case MATCH_NODE_MEMORY:
        snprintf(buf, size, "pool %s has %lld GB per node, needs %lld GB", pn,
                 (long long)c->have, (long long)c->need);
        break;
    case MATCH_NODES:
        snprintf(buf, size, "needs %lld nodes, pool %s has %lld", (long long)c->need, pn,
                 (long long)c->have);
        break;
    case MATCH_SHAPE:
        snprintf(buf, size, "%lld GPUs do not fit on %u nodes of pool %s (%lld GPUs)",
                 (long long)c->need, c->nodes, pn, (long long)c->have);
        break;
    case MATCH_WALLTIME:
        dur(c->need, a, sizeof(a));
        dur(c->have, b, sizeof(b));
        snprintf(buf, size, "walltime %s exceeds pool %s limit of %s", a, pn, b);
        break;
    case MATCH_CAPACITY:
        snprintf(buf, size, "needs %lld x %s, pool %s has %lld available",
                 (long long)c->need, p->accelerator, pn, (long long)c->have);
        break;
    case MATCH_DEADLINE:
        dur(c->have, a, sizeof(a));
        dur(c->need, b, sizeof(b));
        snprintf(buf, size, "pool %s starts in %s, the workload must start within %s", pn,
                 a, b);
        break;
    case MATCH_MAINTENANCE:
        af_time_format(s->maintenance[c->detail].start_ms, a, sizeof(a));
        af_time_format(s->maintenance[c->detail].end_ms, b, sizeof(b));
        snprintf(buf, size, "maintenance from %s to %s overlaps the run", a, b);
        break;
    case MATCH_ALLOCATION_ENDS:
        af_time_format(c->have, a, sizeof(a));
        snprintf(buf, size, "the project's allocation here ends %s, before the run would",
                 a);
        break;
    }
}
