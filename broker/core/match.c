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
    int64_t start_s; /* from now */
};

/* What depends on the workload alone, worked out once per match: its times
 * in seconds from now, and the factors that turn a site's price and carbon
 * intensity into its cost and carbon (divisions, kept out of the site loop). */
struct when {
    int64_t not_before_s;
    int64_t start_by_s; /* INT64_MAX: no deadline */
    double gpu_hours;   /* EUR per EUR/GPU-h */
    double kg_per_g;    /* kg CO2 per gCO2/kWh */
};

static struct when when_of(const struct match_workload *w)
{
    struct when t = {0, INT64_MAX, 0, 0};

    if (w->not_before_ms > w->now_ms)
        t.not_before_s = (w->not_before_ms - w->now_ms + 999) / 1000;
    if (w->start_by_ms)
        t.start_by_s = (w->start_by_ms - w->now_ms) / 1000;
    t.gpu_hours = (double)w->gpus * w->walltime_s / 3600.0;
    t.kg_per_g = t.gpu_hours * MATCH_GPU_KW / 1000.0;
    return t;
}

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
    if (w->n_sites && !has_string((char *const *)w->sites, w->n_sites, s->id))
        return fail(e, MATCH_SITE, 0, 0);
    if (!s->up)
        return fail(e, MATCH_DOWN, 0, 0);
    if (s->drained)
        return fail(e, MATCH_DRAINED, 0, 0);
    if (s->degraded && *s->degraded)
        return fail(e, MATCH_DEGRADED, 0, 0);
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
    if (s->no_account)
        return fail(e, MATCH_NO_ACCOUNT, 0, 0);
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

static bool accel_in(const struct match_workload *w, uint32_t id)
{
    for (size_t i = 0; i < w->n_accel_ids; i++)
        if (w->accel_ids[i] == id)
            return true;
    return false;
}

/* Nodes the workload takes in p: as asked, or the fewest that hold it. */
static uint32_t nodes_in(const struct match_workload *w, const struct match_pool *p)
{
    uint32_t per = p->gpus_per_node ? p->gpus_per_node : 1;

    return w->nodes ? w->nodes : (w->gpus + per - 1) / per;
}

/* The pool's constraints; e->passed counts how far it got. Division-free on
 * the way through (a thousand-site match runs this eight thousand times). */
static bool check_pool(const struct match_workload *w, const struct when *t,
                       const struct match_site *s, const struct match_pool *p,
                       struct eval *e)
{
    int64_t end_s;

    if (w->n_accel_ids ? !accel_in(w, p->accel_id)
                       : w->accel_id && p->accel_id != w->accel_id)
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
    /* With nodes left to us the fewest nodes hold it by construction, and
     * they exist exactly when the pool's nodes hold that many GPUs. */
    if (w->nodes ? w->nodes > p->nodes_total
                 : (uint64_t)p->nodes_total * p->gpus_per_node < w->gpus)
        return fail(e, MATCH_NODES, p->nodes_total, nodes_in(w, p));
    e->passed++;
    if (w->nodes && (uint64_t)w->nodes * p->gpus_per_node < w->gpus)
        return fail(e, MATCH_SHAPE, (int64_t)w->nodes * p->gpus_per_node, w->gpus);
    e->passed++;
    if (p->max_walltime_s && w->walltime_s > p->max_walltime_s)
        return fail(e, MATCH_WALLTIME, p->max_walltime_s, w->walltime_s);
    e->passed++;
    if (p->gpus_available < w->gpus && !(w->may_queue && p->n_starts))
        return fail(e, MATCH_CAPACITY, p->gpus_available, w->gpus);
    e->passed++;
    /* Times in seconds from now (see struct when): no 64-bit ms per pool. */
    e->start_s = wait_for(p, w->gpus);
    if (e->start_s < t->not_before_s)
        e->start_s = t->not_before_s;
    if (e->start_s > t->start_by_s)
        return fail(e, MATCH_DEADLINE, e->start_s, t->start_by_s);
    e->passed++;
    end_s = e->start_s + (int64_t)w->walltime_s;
    for (size_t i = 0; i < s->n_maintenance; i++)
        if (s->maintenance[i].start_ms < w->now_ms + end_s * 1000 &&
            s->maintenance[i].end_ms > w->now_ms + e->start_s * 1000) {
            e->detail = i;
            return fail(e, MATCH_MAINTENANCE, 0, 0);
        }
    e->passed++;
    if (s->alloc && s->alloc->end_ms && w->now_ms + end_s * 1000 > s->alloc->end_ms)
        return fail(e, MATCH_ALLOCATION_ENDS, s->alloc->end_ms, w->now_ms + end_s * 1000);
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
        /* Saturating: the wire bounds each size, and a sum that wrapped
         * would say a site holding nothing moves nothing. */
        if (!here)
            sum = sizes[i] > UINT64_MAX - sum ? UINT64_MAX : sum + sizes[i];
    }
    return sum;
}

/* The score's parts normalised by their range across the feasible pools:
 * part(x) = (x - lo) * scale, scale = weight / (hi - lo), or 0 when every
 * candidate has the same x. */
struct ranges {
    double lo[5], hi[5], scale[5];
    /* Pass one keeps start and fit as integers (no conversion or division
     * per pool): fit is monotonic in a pool's available GPUs. */
    uint32_t start_lo, start_hi, avail_lo, avail_hi;
};

enum { P_START, P_COST, P_CARBON, P_DATA, P_FIT };

static void range_add(struct ranges *r, int k, double x)
{
    if (x < r->lo[k])
        r->lo[k] = x;
    if (x > r->hi[k])
        r->hi[k] = x;
}

static void range_scale(const struct match_workload *w, struct ranges *r)
{
    const double weight[5] = {w->weights.time, w->weights.cost, w->weights.carbon,
                              w->weights.data, w->weights.fit};

    for (int k = 0; k < 5; k++)
        r->scale[k] = r->hi[k] > r->lo[k] ? weight[k] / (r->hi[k] - r->lo[k]) : 0.0;
}

static double part(const struct ranges *r, int k, double x)
{
    return (x - r->lo[k]) * r->scale[k];
}

/* A feasible pool: the per-pool parts; the per-site ones are in the site's
 * candidate. Kept small: a thousand-site match makes thousands. */
struct feasible {
    uint32_t pool;
    uint32_t start_in_s;
    uint32_t available; /* the pool's available GPUs, for its stranded part */
};

/* The fraction of the pool's available GPUs the workload leaves over: a
 * division, so worked out in the second pass only. */
static float stranded(const struct match_workload *w, uint32_t available)
{
    return (float)(available - w->gpus) / (float)available;
}

/* First pass for one site: reject it (c says why), or append its feasible
 * pools to f and put its per-site parts in c. */
static void eval_site(const struct match_workload *w, const struct when *t,
                      const struct match_site *sites, size_t i, const uint64_t *sizes,
                      struct match_candidate *c, struct feasible *f, size_t *n_f,
                      struct ranges *r)
{
    const struct match_site *s = &sites[i];
    struct eval e = {0};
    int best = -1;
    bool any = false;
    uint32_t start_lo = UINT32_MAX, start_hi = 0, avail_lo = UINT32_MAX, avail_hi = 0;

    /* Field by field: a compound literal zeroes all 136 bytes with a slow
     * string store, once per site per match. parts are set when ranked. */
    c->site = i;
    c->pool = MATCH_NONE;
    c->verdict = MATCH_REJECTED;
    c->rank = 0;
    c->score = 0;
    c->nodes = 0;
    c->failed = MATCH_OK;
    c->have = c->need = 0;
    c->detail = 0;
    if (!check_site(w, s, &e)) {
        c->failed = e.failed;
        c->have = e.have;
        c->need = e.need;
        c->detail = e.detail;
        return;
    }
    for (size_t j = 0; j < s->n_pools; j++) {
        const struct match_pool *p = &s->pools[j];
        struct eval pe = {0};

        if (check_pool(w, t, s, p, &pe)) {
            /* A pool the workload queues in (may_queue) strands nothing. */
            uint32_t start = (uint32_t)pe.start_s,
                     avail = p->gpus_available < w->gpus ? w->gpus : p->gpus_available;

            f[(*n_f)++] = (struct feasible){(uint32_t)j, start, avail};
            /* In locals: a store through f could alias r's fields, which
             * would make every update a load and a store. */
            start_lo = start < start_lo ? start : start_lo;
            start_hi = start > start_hi ? start : start_hi;
            avail_lo = avail < avail_lo ? avail : avail_lo;
            avail_hi = avail > avail_hi ? avail : avail_hi;
            any = true;
        } else if (!any && pe.passed > best) {
            best = pe.passed;
            c->pool = j;
            c->failed = pe.failed;
            c->have = pe.have;
            c->need = pe.need;
            c->detail = pe.detail;
        }
    }
    if (!any)
        return;
    r->start_lo = start_lo < r->start_lo ? start_lo : r->start_lo;
    r->start_hi = start_hi > r->start_hi ? start_hi : r->start_hi;
    r->avail_lo = avail_lo < r->avail_lo ? avail_lo : r->avail_lo;
    r->avail_hi = avail_hi > r->avail_hi ? avail_hi : r->avail_hi;
    /* Cost, carbon and data depend on the site, not the pool. */
    c->failed = MATCH_OK;
    c->verdict = MATCH_RANKED;
    c->parts.start_in_s = 0;
    c->parts.stranded = 0;
    c->parts.cost_eur = s->price_per_gpu_hour * t->gpu_hours;
    c->parts.carbon_kg = s->carbon_g_per_kwh * t->kg_per_g;
    c->parts.bytes_to_move = w->n_data ? bytes_to_move(w, s, sizes) : 0;
    range_add(r, P_COST, c->parts.cost_eur);
    range_add(r, P_CARBON, c->parts.carbon_kg);
    range_add(r, P_DATA, (double)c->parts.bytes_to_move);
}

/*
 * Rank by score, ties in input order. A stable LSD radix sort on the top 32
 * bits of the score (scores are >= 0, and non-negative doubles order as their
 * bit patterns do), then the rare runs that share those bits are put in exact
 * order by their full bits. Linear in the number of ranked sites, where a
 * comparison sort through a function pointer cost more than the match, and
 * half the passes of a sort on all 64 bits.
 */
struct ranked {
    uint32_t key; /* the score's top 32 bits */
    uint32_t site;
};

static uint64_t score_bits(double score)
{
    uint64_t bits;

    if (!(score > 0)) /* 0, -0 and (never expected) NaN sort first */
        return 0;
    memcpy(&bits, &score, sizeof(bits));
    return bits;
}

/* Second pass: score every feasible pool, each ranked site keeps its best;
 * the ranked sites go into order for the sort. Returns how many. */
static size_t score(const struct match_workload *w, const struct feasible *f,
                    const uint32_t *from, const struct ranges *r,
                    struct match_candidate *c, size_t n_sites, struct ranked *order)
{
    size_t n = 0;

    for (size_t i = 0; i < n_sites; i++) {
        struct match_candidate *x = &c[i];
        double site_part, best = __builtin_inf();
        uint32_t top = from[i];

        if (from[i] == from[i + 1])
            continue;
        site_part = part(r, P_COST, x->parts.cost_eur) +
                    part(r, P_CARBON, x->parts.carbon_kg) +
                    part(r, P_DATA, (double)x->parts.bytes_to_move);
        /* The site's best pool by selects, not a branch: which of a site's
         * pools scores best is a coin toss, and the mispredictions cost more
         * than the scoring (measured: a quarter of an any-GPU match). */
        for (uint32_t k = from[i]; k < from[i + 1]; k++) {
            double sc = part(r, P_START, f[k].start_in_s) +
                        part(r, P_FIT, stranded(w, f[k].available));
            bool better = sc < best; /* the first of equal scores stays */

            best = better ? sc : best;
            top = better ? k : top;
        }
        x->pool = f[top].pool;
        x->parts.start_in_s = f[top].start_in_s;
        x->parts.stranded = stranded(w, f[top].available);
        x->score = site_part + best;
        order[n++] = (struct ranked){(uint32_t)(score_bits(x->score) >> 32), (uint32_t)i};
    }
    return n;
}

/* v[k] goes before v[k - 1]: same top bits, lower full bits. */
static bool ranked_before(const struct match_candidate *c, struct ranked a,
                          struct ranked b)
{
    uint64_t x = score_bits(c[a.site].score), y = score_bits(c[b.site].score);

    return x < y || (x == y && a.site < b.site);
}

/* Returns the buffer (v or tmp) that holds the sorted order. */
static struct ranked *rank_sort(const struct match_candidate *c, struct ranked *v,
                                struct ranked *tmp, size_t n)
{
    uint32_t count[4][256] = {{0}};

    for (size_t i = 0; i < n; i++) {
        uint32_t k = v[i].key;
        count[0][k & 0xff]++;
        count[1][(k >> 8) & 0xff]++;
        count[2][(k >> 16) & 0xff]++;
        count[3][k >> 24]++;
    }
    for (int d = 0; d < 4; d++) {
        uint32_t sum = 0;
        struct ranked *swap;

        if (count[d][(v[0].key >> (8 * d)) & 0xff] == n)
            continue; /* every key has the same byte here */
        for (int b = 0; b < 256; b++) {
            uint32_t k = count[d][b];
            count[d][b] = sum;
            sum += k;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[d][(v[i].key >> (8 * d)) & 0xff]++] = v[i];
        swap = v;
        v = tmp;
        tmp = swap;
    }
    /* Insertion on what the top bits left equal: runs are short and rare. */
    for (size_t k = 1; k < n; k++)
        for (size_t j = k;
             j > 0 && v[j].key == v[j - 1].key && ranked_before(c, v[j], v[j - 1]); j--) {
            struct ranked x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
    return v;
}

static int run(const struct match_workload *w, const struct match_site *sites,
               size_t n_sites, struct match_result *ret);

/* With may_queue, a workload starts now where it can: the queues are asked
 * only when no pool has the GPUs free. Asked at once, a queue at a cheap or
 * green site outscored a start now elsewhere for any wait, since each part
 * is scaled by its range across the candidates (the placement benchmark:
 * 20 times the mean wait of every task staying home). */
int match_run(const struct match_workload *w, const struct match_site *sites,
              size_t n_sites, struct match_result *ret)
{
    struct match_workload now;

    if (!w->may_queue)
        return run(w, sites, n_sites, ret);
    now = *w;
    now.may_queue = false;
    if (run(&now, sites, n_sites, ret) < 0)
        return -1;
    if (ret->chosen != MATCH_NONE)
        return 0;
    match_result_free(ret);
    return run(w, sites, n_sites, ret);
}

static int run(const struct match_workload *w, const struct match_site *sites,
               size_t n_sites, struct match_result *ret)
{
    struct match_candidate *c = NULL;
    struct feasible *f = NULL;
    struct ranked *order = NULL, *tmp = NULL, *sorted;
    uint32_t *from = NULL; /* site i's feasible pools: f[from[i]] to f[from[i + 1]] */
    uint64_t *sizes = NULL;
    struct ranges r;
    struct when t;
    size_t total_pools = 0, n_f = 0, n_ranked = 0;

    for (int k = 0; k < 5; k++) {
        r.lo[k] = __builtin_inf();
        r.hi[k] = -__builtin_inf();
    }
    r.start_lo = r.avail_lo = UINT32_MAX;
    r.start_hi = r.avail_hi = 0;
    for (size_t i = 0; i < n_sites; i++)
        total_pools += sites[i].n_pools;
    c = malloc((n_sites ? n_sites : 1) * sizeof(*c));
    f = malloc((total_pools ? total_pools : 1) * sizeof(*f));
    order = malloc((n_sites ? n_sites : 1) * sizeof(*order));
    tmp = malloc((n_sites ? n_sites : 1) * sizeof(*tmp));
    from = malloc((n_sites + 1) * sizeof(*from));
    sizes = calloc(w->n_data ? w->n_data : 1, sizeof(*sizes));
    if (!c || !f || !order || !tmp || !from || !sizes)
        goto nomem;
    for (size_t i = 0; i < w->n_data; i++)
        sizes[i] = known_size(w, sites, n_sites, i);
    t = when_of(w);
    for (size_t i = 0; i < n_sites; i++) {
        from[i] = (uint32_t)n_f;
        eval_site(w, &t, sites, i, sizes, &c[i], f, &n_f, &r);
    }
    from[n_sites] = (uint32_t)n_f;
    if (n_f) {
        range_add(&r, P_START, r.start_lo);
        range_add(&r, P_START, r.start_hi);
        range_add(&r, P_FIT, stranded(w, r.avail_lo));
        range_add(&r, P_FIT, stranded(w, r.avail_hi));
    }
    range_scale(w, &r);
    n_ranked = score(w, f, from, &r, c, n_sites, order);
    sorted = n_ranked ? rank_sort(c, order, tmp, n_ranked) : order;
    for (size_t k = 0; k < n_ranked; k++)
        c[sorted[k].site].rank = (unsigned)k + 1;
    ret->chosen = n_ranked ? sorted[0].site : MATCH_NONE;
    if (n_ranked) {
        struct match_candidate *x = &c[sorted[0].site];
        x->verdict = MATCH_CHOSEN;
        /* A division: worked out for the one that is used. */
        x->nodes = nodes_in(w, &sites[x->site].pools[x->pool]);
    }
    ret->candidates = c;
    ret->n = n_sites;
    free(f);
    free(order);
    free(tmp);
    free(from);
    free(sizes);
    return 0;
nomem:
    free(c);
    free(f);
    free(order);
    free(tmp);
    free(from);
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
    else if (b >= 1000000000000ULL)
        snprintf(buf, size, "%.1f TB", (double)b / 1e12);
    else if (b >= 1000000000ULL)
        snprintf(buf, size, "%.1f GB", (double)b / 1e9);
    else if (b >= 1000000ULL)
        snprintf(buf, size, "%.1f MB", (double)b / 1e6);
    else
        snprintf(buf, size, "%llu B", (unsigned long long)b);
}

/* What the site holds of the data the workload names: "holds llama-3-8b
 * (16.0 GB) and pytorch-24.05; moves nothing". */
static void locality(const struct match_workload *w, const struct match_site *s,
                     uint64_t to_move, char *buf, size_t size)
{
    size_t at = 0, held = 0;
    char moved[24], sz[24];

    for (size_t i = 0; i < w->n_data && at < size; i++)
        for (size_t d = 0; d < s->n_data; d++) {
            if (s->data[d].kind != w->data[i].kind ||
                strcmp(s->data[d].name, w->data[i].name))
                continue;
            bytes(s->data[d].size_bytes, sz, sizeof(sz));
            at += (size_t)snprintf(
                buf + at, size - at, "%s%s%s%s%s", held ? ", " : "holds ",
                s->data[d].name, s->data[d].size_bytes ? " (" : "",
                s->data[d].size_bytes ? sz : "", s->data[d].size_bytes ? ")" : "");
            held++;
            break;
        }
    bytes(to_move, moved, sizeof(moved));
    if (at < size)
        snprintf(buf + at, size - at, "%smoves %s", held ? "; " : "holds none of it; ",
                 moved);
}

static void ranked_reason(const struct match_workload *w, const struct match_site *s,
                          const struct match_pool *p, const struct match_candidate *c,
                          char *buf, size_t size)
{
    char start[24], moved[160];

    dur(c->parts.start_in_s, start, sizeof(start));
    if (w->n_data) {
        locality(w, s, c->parts.bytes_to_move, moved, sizeof(moved));
    } else {
        bytes(c->parts.bytes_to_move, moved, sizeof(moved));
        strncat(moved, " to move", sizeof(moved) - strlen(moved) - 1);
    }
    snprintf(buf, size,
             "pool %s: starts %s%s; %u of %u %s available; EUR %.0f; %.0f kg CO2; %s",
             p->name, c->parts.start_in_s ? "in " : "", start, p->gpus_available,
             p->gpus_total, p->accelerator, c->parts.cost_eur, c->parts.carbon_kg, moved);
}

void match_reason(const struct match_workload *w, const struct match_site *sites,
                  const struct match_candidate *c, char *buf, size_t size)
{
    const struct match_site *s = &sites[c->site];
    const struct match_pool *p = c->pool == MATCH_NONE ? NULL : &s->pools[c->pool];
    const char *pn = p ? p->name : "";
    const char *pa = p ? p->accelerator : "?";
    char a[32], b[32];

    if (c->verdict != MATCH_REJECTED && p) { /* a ranked site has its pool */
        ranked_reason(w, s, p, c, buf, size);
        return;
    }
    switch (c->failed) {
    case MATCH_OK:
        snprintf(buf, size, "feasible");
        break;
    case MATCH_DOWN:
        snprintf(buf, size, "%s",
                 s->unheard ? "site not heard from yet since the broker started"
                            : "site is DOWN (no recent advertisement)");
        break;
    case MATCH_DRAINED:
        snprintf(buf, size, "site is drained: it takes no new work");
        break;
    case MATCH_DEGRADED:
        snprintf(buf, size, "site is degraded: %s", s->degraded);
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
    case MATCH_SITE:
        snprintf(buf, size, "not one of the sites asked for (%s%s)", w->sites[0],
                 w->n_sites > 1 ? " and others" : "");
        break;
    case MATCH_NO_POOLS:
        snprintf(buf, size, "site advertises no pools");
        break;
    case MATCH_NO_ACCOUNT:
        snprintf(buf, size,
                 "no account here for you or the project (the site's user map has "
                 "neither: its admins add one)");
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
        snprintf(buf, size, "pool %s has %s, needs %s", pn, pa,
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
                 (long long)c->need, w->nodes, pn, (long long)c->have);
        break;
    case MATCH_WALLTIME:
        dur(c->need, a, sizeof(a));
        dur(c->have, b, sizeof(b));
        snprintf(buf, size, "walltime %s exceeds pool %s limit of %s", a, pn, b);
        break;
    case MATCH_CAPACITY:
        snprintf(buf, size, "needs %lld x %s, pool %s has %lld available",
                 (long long)c->need, pa, pn, (long long)c->have);
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
