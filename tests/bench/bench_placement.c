/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_placement: how much sooner jobs start because aifed places them,
 * on Alibaba's public GPU trace of 2023 (../shared/traces/alibaba-gpu-v2023,
 * read as it is). A discrete-event replay in simulated time of three
 * policies on the same arrivals:
 *
 *   home    every task waits at its home site, as without aifed;
 *   aifed   the broker's own matcher (core/match, default weights, the
 *           explanation kept) picks the site at arrival, from what each
 *           site advertises: its free GPUs per pool and when a task of this
 *           size would start there; the task then waits in that site's queue;
 *   pooled  all nodes one cluster: the bound no federation can beat.
 *
 * The rules (docs/placement.md says why):
 * - Sites: the seven demo sites, by GPU family: the G2 nodes dealt in turn
 *   to MeluXina, LUMI-AI, HammerHAI and BSC; T4 and A10 at IT4LIA; G3 and
 *   V100 32 GB at Pharos; P100 and V100 16 GB at MIMER. Nodes without GPUs
 *   and tasks without GPUs are left out.
 * - A task takes whole GPUs on one node (a share of a GPU, gpu_milli < 1000,
 *   takes one: Slurm's gres without sharding), of a model its gpu_spec
 *   accepts (any when empty). Its run time is deletion - scheduled (or -
 *   creation), known exactly to the schedulers.
 * - Home: among the sites that could ever run the task, the one its name's
 *   FNV-1a hash picks.
 * - Each site (and the pooled cluster) runs first-come-first-served with
 *   EASY backfill: the first waiting task that does not fit gets the
 *   earliest node it could start on reserved; later ones (at most 500
 *   looked at, Slurm's bf_max_job_test) start when they fit and do not
 *   delay it. Best fit: the node with the fewest free GPUs that holds it.
 * - A site's advertised start for a size: 0 when a node holds it now and no
 *   task waits there, else the later of the earliest node release that
 *   would hold it and the site's queued GPU-seconds over its GPUs.
 * - Arrivals: the trace is the pods a cluster held over some weeks; the
 *   first 1 % were made months before (services running when it begins)
 *   and arrive at its start, with the first of the rest.
 * - Load: arrival times scaled so that the tasks' GPU-seconds, each run
 *   counted at most for the arrival span's length, are the given share of
 *   the federation's GPU-seconds in that span.
 *
 *   bench_placement TRACE_DIR VARIANT LOAD%...   (VARIANT: default,
 *                                                  gpuspec33, multigpu50)
 *
 * Prints a table per load and a line a script can compare:
 *   placement VARIANT L%: aifed/home R aifed/pooled R p95/pooled R refused N
 * (mean waits' ratios; waits under 1 s count as 1 s in a ratio's
 * denominator). Figures only: it never fails on time.
 */
#include "match.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_SITES  7
#define N_MODELS 8 /* ids 1..7; 0: any */
#define MAX_GPUS 8 /* per node */
#define BF_MAX   500

/* The workloads' preference (the wire's: 0 balanced, the default; 1 time):
 * AIFED_BENCH_PREFER. */
static int prefer;
#define LINE_MAX_ 1024

static const char *const site_ids[N_SITES] = {"meluxina", "lumi-ai", "hammerhai", "bsc",
                                              "it4lia",   "pharos",  "mimer"};
static const char *const site_cc[N_SITES] = {"LU", "FI", "DE", "ES", "IT", "GR", "SE"};
/* EUR per GPU-hour and g CO2 per kWh, as the demo sites say (illustrative). */
static const double site_price[N_SITES] = {2.1, 1.8, 2.4, 2.0, 1.9, 2.2, 1.7};
static const uint32_t site_carbon[N_SITES] = {90, 30, 350, 180, 250, 320, 20};
static const char *const model_names[N_MODELS] = {"",   "G2",   "T4",      "A10",
                                                  "G3", "P100", "V100M16", "V100M32"};

struct node {
    uint8_t site, model, gpus, free;
    uint8_t n_run;
    int run[MAX_GPUS]; /* tasks running here */
    int pos;           /* in its cluster's bucket */
};

struct task {
    int64_t arrive, run, start;
    uint8_t gpus, mask; /* mask: bit m for model m; 0 any */
    int8_t home, site;  /* site: where it ran; -1 none */
    bool constrained;
    bool never; /* no node anywhere holds it */
    int node;
    uint32_t hash;
};

/* A cluster: a site, or all nodes pooled. Nodes by (model, free GPUs). */
struct cluster {
    int *bucket[N_MODELS][MAX_GPUS + 1];
    int bucket_n[N_MODELS][MAX_GPUS + 1], bucket_cap[N_MODELS][MAX_GPUS + 1];
    int *queue; /* waiting tasks, arrival order; -1: started */
    int q_n, q_cap;
    int64_t queued_work; /* GPU-seconds waiting */
    uint32_t gpus_total, gpus_free;
    uint32_t model_total[N_MODELS], model_free[N_MODELS], model_per_node[N_MODELS];
    uint32_t model_nodes[N_MODELS];
    bool dirty;
};

struct sim {
    struct node *nodes;
    int n_nodes;
    struct task *tasks;
    struct cluster *clusters;
    int n_clusters;
    bool pooled;
    /* completions: a min-heap of task ids by end time */
    int *heap;
    int heap_n;
    /* busy GPU-seconds inside the arrival window, for utilisation */
    double busy_gpu_s;
    int64_t last_t, window_end;
    uint32_t busy_now;
};

/* ---- the trace ---- */

static int model_id(const char *name, size_t len)
{
    for (int m = 1; m < N_MODELS; m++)
        if (strlen(model_names[m]) == len && !strncmp(model_names[m], name, len))
            return m;
    return -1;
}

/* Field i of a CSV line (no quoting in these files), into buf. */
static const char *field(const char *line, int i, char *buf, size_t size)
{
    const char *p = line;
    size_t n;

    for (; i > 0 && p; i--)
        p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
    if (!p)
        return buf[0] = '\0', buf;
    n = strcspn(p, ",\r\n");
    snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), p);
    return buf;
}

static FILE *open_in(const char *dir, const char *name)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!(f = fopen(path, "r"))) {
        perror(path);
        exit(1);
    }
    return f;
}

/* The site rule: by family, the G2 nodes dealt in turn to four sites. */
static int site_of(int model, int *g2_next)
{
    switch (model) {
    case 1:
        return (*g2_next)++ % 4;
    case 2:
    case 3:
        return 4;
    case 4:
    case 7:
        return 5;
    default:
        return 6;
    }
}

static int read_nodes(const char *dir, struct node **ret)
{
    FILE *f = open_in(dir, "openb_node_list_all_node.csv");
    char line[LINE_MAX_], b[64];
    struct node *v = NULL;
    int n = 0, cap = 0, g2 = 0;

    if (!fgets(line, sizeof(line), f)) /* the header */
        exit(1);
    while (fgets(line, sizeof(line), f)) {
        int gpus = atoi(field(line, 3, b, sizeof(b))), m;

        field(line, 4, b, sizeof(b));
        if (gpus <= 0 || (m = model_id(b, strlen(b))) < 0)
            continue;
        if (n == cap &&
            !(v = realloc(v, (size_t)(cap = cap ? cap * 2 : 1024) * sizeof(*v))))
            exit(1);
        v[n] = (struct node){.site = (uint8_t)site_of(m, &g2),
                             .model = (uint8_t)m,
                             .gpus = (uint8_t)(gpus > MAX_GPUS ? MAX_GPUS : gpus)};
        n++;
    }
    fclose(f);
    *ret = v;
    return n;
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static uint8_t mask_of(const char *spec)
{
    uint8_t mask = 0;

    while (*spec) {
        size_t len = strcspn(spec, "|");
        int m = model_id(spec, len);

        if (m > 0)
            mask |= (uint8_t)(1u << m);
        spec += len + (spec[len] == '|');
    }
    return mask;
}

/* The column called name in header, or -1. */
static int column(const char *header, const char *name)
{
    char b[64];

    for (int i = 0; i < 32; i++)
        if (!strcmp(field(header, i, b, sizeof(b)), name))
            return i;
    return -1;
}

/* Times of the default trace's tasks, by name, for a variant without them. */
struct times {
    char name[32];
    int64_t arrive, run;
};

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const struct times *)a)->name, ((const struct times *)b)->name);
}

static int read_tasks(const char *dir, const char *variant, struct task **ret,
                      struct times *times, int n_times)
{
    char name[128], line[LINE_MAX_], header[LINE_MAX_], b[64], id[64];
    FILE *f;
    struct task *v = NULL;
    int n = 0, cap = 0, c_gpu, c_spec, c_created, c_deleted, c_sched;

    snprintf(name, sizeof(name), "openb_pod_list_%s.csv", variant);
    f = open_in(dir, name);
    if (!fgets(header, sizeof(header), f))
        exit(1);
    c_gpu = column(header, "num_gpu");
    c_spec = column(header, "gpu_spec");
    c_created = column(header, "creation_time");
    c_deleted = column(header, "deletion_time");
    c_sched = column(header, "scheduled_time");
    while (fgets(line, sizeof(line), f)) {
        int gpus = atoi(field(line, c_gpu, b, sizeof(b)));
        int64_t arrive, run;

        if (gpus <= 0)
            continue;
        field(line, 0, id, sizeof(id));
        if (c_created >= 0) {
            int64_t created = atoll(field(line, c_created, b, sizeof(b)));
            int64_t deleted = atoll(field(line, c_deleted, b, sizeof(b)));
            int64_t sched = atoll(field(line, c_sched, b, sizeof(b)));
            int64_t from = *b ? sched : created;

            arrive = created;
            run = deleted > from ? deleted - from : 1;
        } else { /* multigpu50 has no times: the default trace's, by name */
            struct times key, *t;

            snprintf(key.name, sizeof(key.name), "%.31s", id);
            t = bsearch(&key, times, (size_t)n_times, sizeof(*times), cmp_name);
            if (!t) /* a task added to the sample: a default task's, by hash */
                t = &times[fnv1a(id) % (uint32_t)n_times];
            arrive = t->arrive;
            run = t->run;
        }
        if (n == cap &&
            !(v = realloc(v, (size_t)(cap = cap ? cap * 2 : 8192) * sizeof(*v))))
            exit(1);
        if (c_spec >= 0)
            field(line, c_spec, b, sizeof(b));
        else
            b[0] = '\0';
        v[n] = (struct task){.arrive = arrive,
                             .run = run,
                             .gpus = (uint8_t)(gpus > MAX_GPUS ? MAX_GPUS + 1 : gpus),
                             .mask = mask_of(b),
                             .constrained = *b != '\0',
                             .home = -1,
                             .site = -1,
                             .node = -1,
                             .hash = fnv1a(id)};
        n++;
    }
    fclose(f);
    *ret = v;
    return n;
}

/* Every task's times in the default trace, sorted by name. */
static int read_times(const char *dir, struct times **ret)
{
    FILE *f = open_in(dir, "openb_pod_list_default.csv");
    char line[LINE_MAX_], header[LINE_MAX_], b[64];
    struct times *v = NULL;
    int n = 0, cap = 0, c_created, c_deleted, c_sched;

    if (!fgets(header, sizeof(header), f))
        exit(1);
    c_created = column(header, "creation_time");
    c_deleted = column(header, "deletion_time");
    c_sched = column(header, "scheduled_time");
    while (fgets(line, sizeof(line), f)) {
        int64_t created = atoll(field(line, c_created, b, sizeof(b)));
        int64_t deleted = atoll(field(line, c_deleted, b, sizeof(b)));
        int64_t sched = atoll(field(line, c_sched, b, sizeof(b)));
        int64_t from = *b ? sched : created;

        if (n == cap &&
            !(v = realloc(v, (size_t)(cap = cap ? cap * 2 : 8192) * sizeof(*v))))
            exit(1);
        field(line, 0, v[n].name, sizeof(v[n].name));
        v[n].arrive = created;
        v[n].run = deleted > from ? deleted - from : 1;
        n++;
    }
    fclose(f);
    qsort(v, (size_t)n, sizeof(*v), cmp_name);
    *ret = v;
    return n;
}

static bool accepts(const struct task *t, int model)
{
    return !t->mask || (t->mask & (1u << model));
}

/* Which sites could ever run each task; its home among them. */
static void homes(struct task *t, int n, const struct node *nodes, int n_nodes)
{
    for (int i = 0; i < n; i++) {
        bool can[N_SITES] = {false};
        int k = 0, pick;

        for (int j = 0; j < n_nodes; j++)
            if (nodes[j].gpus >= t[i].gpus && accepts(&t[i], nodes[j].model))
                can[nodes[j].site] = true;
        for (int s = 0; s < N_SITES; s++)
            k += can[s];
        t[i].never = k == 0;
        if (!k)
            continue;
        pick = (int)(t[i].hash % (uint32_t)k);
        for (int s = 0; s < N_SITES; s++)
            if (can[s] && pick-- == 0)
                t[i].home = (int8_t)s;
    }
}

/* ---- a cluster's nodes, by free GPUs ---- */

static void bucket_add(struct cluster *c, struct node *nodes, int id)
{
    struct node *nd = &nodes[id];
    int m = nd->model, f = nd->free;

    if (c->bucket_n[m][f] == c->bucket_cap[m][f]) {
        c->bucket_cap[m][f] = c->bucket_cap[m][f] ? c->bucket_cap[m][f] * 2 : 16;
        if (!(c->bucket[m][f] =
                  realloc(c->bucket[m][f], (size_t)c->bucket_cap[m][f] * sizeof(int))))
            exit(1);
    }
    nd->pos = c->bucket_n[m][f];
    c->bucket[m][f][c->bucket_n[m][f]++] = id;
}

static void bucket_del(struct cluster *c, struct node *nodes, int id)
{
    struct node *nd = &nodes[id];
    int m = nd->model, f = nd->free, last = c->bucket[m][f][--c->bucket_n[m][f]];

    c->bucket[m][f][nd->pos] = last;
    nodes[last].pos = nd->pos;
}

static struct cluster *cluster_of(struct sim *s, int node)
{
    return &s->clusters[s->pooled ? 0 : s->nodes[node].site];
}

/* The node with the fewest free GPUs that holds t now, or -1. */
static int best_fit(const struct cluster *c, const struct task *t)
{
    if (c->gpus_free < t->gpus)
        return -1;
    for (int f = t->gpus; f <= MAX_GPUS; f++)
        for (int m = 1; m < N_MODELS; m++)
            if (c->bucket_n[m][f] && accepts(t, m))
                return c->bucket[m][f][0];
    return -1;
}

static void set_busy(struct sim *s, int64_t t)
{
    int64_t until = t < s->window_end ? t : s->window_end;

    if (until > s->last_t)
        s->busy_gpu_s += (double)s->busy_now * (double)(until - s->last_t);
    if (t > s->last_t)
        s->last_t = t;
}

static void heap_push(struct sim *s, int id)
{
    int i = s->heap_n++;
    int64_t end = s->tasks[id].start + s->tasks[id].run;

    while (i > 0) {
        int p = (i - 1) / 2;
        const struct task *pt = &s->tasks[s->heap[p]];

        if (pt->start + pt->run <= end)
            break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = id;
}

static int heap_pop(struct sim *s)
{
    int top = s->heap[0], last = s->heap[--s->heap_n], i = 0;
    int64_t end = s->tasks[last].start + s->tasks[last].run;

    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = l;

        if (l >= s->heap_n)
            break;
        if (r < s->heap_n && s->tasks[s->heap[r]].start + s->tasks[s->heap[r]].run <
                                 s->tasks[s->heap[l]].start + s->tasks[s->heap[l]].run)
            m = r;
        if (s->tasks[s->heap[m]].start + s->tasks[s->heap[m]].run >= end)
            break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (s->heap_n)
        s->heap[i] = last;
    return top;
}

static void start_task(struct sim *s, int id, int node, int64_t now)
{
    struct task *t = &s->tasks[id];
    struct node *nd = &s->nodes[node];
    struct cluster *c = cluster_of(s, node);

    bucket_del(c, s->nodes, node);
    nd->free -= t->gpus;
    nd->run[nd->n_run++] = id;
    bucket_add(c, s->nodes, node);
    c->gpus_free -= t->gpus;
    c->model_free[nd->model] -= t->gpus;
    c->queued_work -= (int64_t)t->gpus * t->run;
    t->start = now;
    t->node = node;
    t->site = (int8_t)nd->site;
    set_busy(s, now);
    s->busy_now += t->gpus;
    heap_push(s, id);
}

static void end_task(struct sim *s, int id, int64_t now)
{
    struct task *t = &s->tasks[id];
    struct node *nd = &s->nodes[t->node];
    struct cluster *c = cluster_of(s, t->node);

    for (int k = 0; k < nd->n_run; k++)
        if (nd->run[k] == id) {
            nd->run[k] = nd->run[--nd->n_run];
            break;
        }
    bucket_del(c, s->nodes, t->node);
    nd->free += t->gpus;
    bucket_add(c, s->nodes, t->node);
    c->gpus_free += t->gpus;
    c->model_free[nd->model] += t->gpus;
    set_busy(s, now);
    s->busy_now -= t->gpus;
    c->dirty = true;
}

/* When node nd would have need GPUs free, from its running tasks' ends. */
static int64_t node_ready(const struct sim *s, const struct node *nd, int need,
                          int64_t now)
{
    int64_t ends[MAX_GPUS];
    int gpus[MAX_GPUS], n = nd->n_run, free = nd->free;

    if (free >= need)
        return now;
    for (int k = 0; k < n; k++) {
        ends[k] = s->tasks[nd->run[k]].start + s->tasks[nd->run[k]].run;
        gpus[k] = s->tasks[nd->run[k]].gpus;
    }
    while (free < need && n > 0) {
        int e = 0;

        for (int k = 1; k < n; k++)
            e = ends[k] < ends[e] ? k : e;
        free += gpus[e];
        if (free >= need)
            return ends[e];
        ends[e] = ends[--n];
        gpus[e] = gpus[n];
    }
    return INT64_MAX;
}

/* The earliest node of c that holds t, and when (INT64_MAX: none). */
static int64_t earliest(const struct sim *s, const struct cluster *c,
                        const struct task *t, int64_t now, int *node)
{
    int64_t best = INT64_MAX;

    *node = -1;
    for (int m = 1; m < N_MODELS; m++) {
        if (!accepts(t, m) || c->model_per_node[m] < t->gpus)
            continue;
        for (int f = 0; f <= MAX_GPUS; f++)
            for (int k = 0; k < c->bucket_n[m][f]; k++) {
                int id = c->bucket[m][f][k];
                int64_t at = node_ready(s, &s->nodes[id], t->gpus, now);

                if (at < best || (at == best && id < *node)) {
                    best = at;
                    *node = id;
                }
            }
    }
    return best;
}

/* FCFS with EASY backfill. The first task that does not fit has the node
 * it could start on first reserved from then (its shadow time); a later
 * task may use that node only if it ends by then. */
static void schedule(struct sim *s, struct cluster *c, int64_t now)
{
    int64_t shadow = INT64_MAX;
    int reserved = -1, looked = 0, out = 0;

    for (int i = 0; i < c->q_n; i++) {
        int id = c->queue[i], node;
        struct task *t = &s->tasks[id];

        if (c->gpus_free == 0 || (reserved >= 0 && looked++ >= BF_MAX)) {
            c->queue[out++] = id;
            continue;
        }
        node = best_fit(c, t);
        if (node >= 0 && node == reserved && now + t->run > shadow)
            node = -1;
        if (node >= 0) {
            start_task(s, id, node, now);
            continue;
        }
        c->queue[out++] = id;
        if (reserved < 0)
            shadow = earliest(s, c, t, now, &reserved);
    }
    c->q_n = out;
    c->dirty = false;
}

static void enqueue(struct cluster *c, const struct task *tasks, int id)
{
    if (c->q_n == c->q_cap &&
        !(c->queue =
              realloc(c->queue,
                      (size_t)(c->q_cap = c->q_cap ? c->q_cap * 2 : 256) * sizeof(int))))
        exit(1);
    c->queue[c->q_n++] = id;
    c->queued_work += (int64_t)tasks[id].gpus * tasks[id].run;
    c->dirty = true;
}

/* ---- aifed: the matcher, from what the sites advertise ---- */

/* When a task of t's size would start at c, as the site says it. */
static uint32_t advertised_wait(const struct sim *s, const struct cluster *c,
                                const struct task *t, int64_t now)
{
    int node;
    int64_t at, fluid;

    if (c->q_n == 0 && best_fit(c, t) >= 0)
        return 0;
    at = earliest(s, c, t, now, &node);
    fluid = c->gpus_total ? c->queued_work / (int64_t)c->gpus_total : 0;
    if (at == INT64_MAX)
        return UINT32_MAX;
    at -= now;
    return (uint32_t)((at > fluid ? at : fluid) > UINT32_MAX - 1 ? UINT32_MAX - 1
                      : at > fluid                               ? at
                                                                 : fluid);
}

struct fed_view {
    struct match_site sites[N_SITES];
    struct match_pool pools[N_SITES][N_MODELS];
    struct match_start starts[N_SITES][N_MODELS];
};

/* Match t against what the sites say now: the chosen site, or -1. */
static int aifed_place(struct sim *s, struct fed_view *v, const struct task *t,
                       int64_t now, bool may_queue)
{
    uint32_t ids[N_MODELS];
    size_t n_ids = 0;
    struct match_workload w = {0};
    struct match_result r = {0};
    int chosen;

    for (int m = 1; m < N_MODELS; m++)
        if (t->mask & (1u << m))
            ids[n_ids++] = (uint32_t)m;
    for (int i = 0; i < N_SITES; i++) {
        struct cluster *c = &s->clusters[i];
        struct match_site *ms = &v->sites[i];
        size_t np = 0;
        uint32_t wait = 0;
        bool waited = false;

        for (int m = 1; m < N_MODELS; m++) {
            struct match_pool *p = &v->pools[i][np];

            if (!c->model_total[m])
                continue;
            if (!waited && accepts(t, m)) { /* one estimate per site, for this size */
                wait = advertised_wait(s, c, t, now);
                waited = true;
            }
            *p = (struct match_pool){.name = model_names[m],
                                     .accelerator = model_names[m],
                                     .accel_id = (uint32_t)m,
                                     .gpus_per_node = c->model_per_node[m],
                                     .nodes_total = c->model_nodes[m],
                                     .gpus_total = c->model_total[m],
                                     .gpus_available = c->q_n ? 0 : c->model_free[m],
                                     .cpus_per_node = 96,
                                     .memory_per_node_gb = 512,
                                     .queue_wait_s = wait};
            v->starts[i][np] = (struct match_start){t->gpus, wait};
            p->starts = wait == UINT32_MAX ? NULL : &v->starts[i][np];
            p->n_starts = wait == UINT32_MAX ? 0 : 1;
            np++;
        }
        *ms = (struct match_site){.id = site_ids[i],
                                  .country = match_country(site_cc[i]),
                                  .up = true,
                                  .price_per_gpu_hour = site_price[i],
                                  .carbon_g_per_kwh = site_carbon[i],
                                  .pools = v->pools[i],
                                  .n_pools = np};
    }
    w.accel_ids = ids;
    w.n_accel_ids = n_ids;
    w.gpus = t->gpus;
    w.nodes = 1; /* a pod runs on one node */
    w.walltime_s = t->run > UINT32_MAX ? UINT32_MAX : (uint32_t)t->run;
    w.now_ms = now * 1000;
    w.may_queue = may_queue;
    w.weights = match_weights_for(prefer);
    if (match_run(&w, v->sites, N_SITES, &r) < 0)
        return -1;
    chosen = r.chosen == MATCH_NONE ? -1 : (int)r.candidates[r.chosen].site;
    match_result_free(&r);
    return chosen;
}

/* ---- one replay ---- */

enum policy { HOME, AIFED, AIFED_NOW, POOLED, N_POLICIES };

static const char *const policy_names[N_POLICIES] = {"home", "aifed", "aifed-now",
                                                     "pooled"};

struct result {
    double mean, p95, p99, c_mean, c_p95, util, away;
    int refused, ran, refused_poolable;
    double seconds;
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static double pct(const int64_t *v, int n, double p)
{
    return n ? (double)v[(int)fmin((double)n - 1, floor(p * n))] : 0;
}

static void build_clusters(struct sim *s)
{
    s->n_clusters = s->pooled ? 1 : N_SITES;
    s->clusters = calloc((size_t)s->n_clusters, sizeof(*s->clusters));
    for (int i = 0; i < s->n_nodes; i++) {
        struct node *nd = &s->nodes[i];
        struct cluster *c = cluster_of(s, i);

        nd->free = nd->gpus;
        nd->n_run = 0;
        bucket_add(c, s->nodes, i);
        c->gpus_total += nd->gpus;
        c->gpus_free += nd->gpus;
        c->model_total[nd->model] += nd->gpus;
        c->model_free[nd->model] += nd->gpus;
        c->model_nodes[nd->model]++;
        if (nd->gpus > c->model_per_node[nd->model])
            c->model_per_node[nd->model] = nd->gpus;
    }
}

static void free_clusters(struct sim *s)
{
    for (int i = 0; i < s->n_clusters; i++) {
        for (int m = 0; m < N_MODELS; m++)
            for (int f = 0; f <= MAX_GPUS; f++)
                free(s->clusters[i].bucket[m][f]);
        free(s->clusters[i].queue);
    }
    free(s->clusters);
}

static struct result replay(struct node *nodes, int n_nodes, const struct task *in, int n,
                            const int *order, double scale, int64_t t0, enum policy pol)
{
    struct sim s = {.nodes = nodes, .n_nodes = n_nodes, .pooled = pol == POOLED};
    static struct fed_view view;
    struct result res = {0};
    int64_t *waits = malloc((size_t)n * sizeof(int64_t)),
            *cw = malloc((size_t)n * sizeof(int64_t));
    int next = 0, nw = 0, ncw = 0, away = 0;
    struct timespec a, b;
    double sum = 0, csum = 0;

    clock_gettime(CLOCK_MONOTONIC, &a);
    s.tasks = malloc((size_t)n * sizeof(*s.tasks));
    s.heap = malloc((size_t)n * sizeof(int));
    if (!waits || !cw || !s.tasks || !s.heap) {
        fprintf(stderr, "bench_placement: out of memory\n");
        exit(1);
    }
    memcpy(s.tasks, in, (size_t)n * sizeof(*s.tasks));
    for (int i = 0; i < n; i++)
        s.tasks[i].arrive = (int64_t)llround((double)(in[i].arrive - t0) * scale);
    s.window_end = s.tasks[order[n - 1]].arrive;
    build_clusters(&s);
    while (next < n || s.heap_n) {
        int64_t ta = next < n ? s.tasks[order[next]].arrive : INT64_MAX;
        int64_t te =
            s.heap_n ? s.tasks[s.heap[0]].start + s.tasks[s.heap[0]].run : INT64_MAX;
        int64_t now = ta < te ? ta : te;

        while (s.heap_n && s.tasks[s.heap[0]].start + s.tasks[s.heap[0]].run == now)
            end_task(&s, heap_pop(&s), now);
        for (; next < n && s.tasks[order[next]].arrive == now; next++) {
            int id = order[next], site;
            struct task *t = &s.tasks[id];

            if (t->never) {
                res.refused++;
                continue;
            }
            if (pol == POOLED)
                site = 0;
            else if (pol == HOME)
                site = t->home;
            else {
                /* Sites' queues first run what waits, so that what they
                 * advertise is their state now. */
                for (int c = 0; c < s.n_clusters; c++)
                    if (s.clusters[c].dirty)
                        schedule(&s, &s.clusters[c], now);
                site = aifed_place(&s, &view, t, now, pol == AIFED);
            }
            if (site < 0) { /* refused: no site has room now (aifed-now) */
                res.refused++;
                t->site = -2;
                continue;
            }
            enqueue(&s.clusters[site], s.tasks, id);
        }
        for (int c = 0; c < s.n_clusters; c++)
            if (s.clusters[c].dirty)
                schedule(&s, &s.clusters[c], now);
    }
    for (int i = 0; i < n; i++) {
        const struct task *t = &s.tasks[i];

        if (t->site < 0)
            continue;
        waits[nw++] = t->start - t->arrive;
        sum += (double)(t->start - t->arrive);
        away += pol != POOLED && t->site != t->home;
        if (t->constrained) {
            cw[ncw++] = t->start - t->arrive;
            csum += (double)(t->start - t->arrive);
        }
    }
    qsort(waits, (size_t)nw, sizeof(*waits), cmp_i64);
    qsort(cw, (size_t)ncw, sizeof(*cw), cmp_i64);
    res.ran = nw;
    res.mean = nw ? sum / nw : 0;
    res.p95 = pct(waits, nw, 0.95);
    res.p99 = pct(waits, nw, 0.99);
    res.c_mean = ncw ? csum / ncw : 0;
    res.c_p95 = pct(cw, ncw, 0.95);
    res.away = nw ? (double)away / nw : 0;
    for (int i = 0; i < n; i++)
        res.refused_poolable += s.tasks[i].site == -2;
    {
        uint32_t g = 0;
        for (int i = 0; i < n_nodes; i++)
            g += nodes[i].gpus;
        set_busy(&s, s.window_end);
        res.util =
            s.window_end > 0 ? s.busy_gpu_s / ((double)g * (double)s.window_end) : 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    res.seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    free_clusters(&s);
    free(s.heap);
    free(s.tasks);
    free(waits);
    free(cw);
    return res;
}

static const struct task *sort_tasks;

static int by_arrival(const void *a, const void *b)
{
    const struct task *x = &sort_tasks[*(const int *)a],
                      *y = &sort_tasks[*(const int *)b];

    return x->arrive != y->arrive ? (x->arrive > y->arrive) - (x->arrive < y->arrive)
                                  : (*(const int *)a > *(const int *)b) -
                                        (*(const int *)a < *(const int *)b);
}

/* The load arrivals scaled by f offer: the share of the federation's GPUs
 * the tasks would hold over the arrival span if each started on arrival,
 * each run counted at most for the span's length. The bound matters: the
 * trace's 38 month-long pods (53 GPUs) hold 84 % of its GPU-seconds, and
 * counted whole they would be most of any load while running, nearly all
 * of it, after the last arrival; bounded, they count as what they are
 * during the span, GPUs held throughout. */
static double offered(const struct task *t, int n, int64_t t0, int64_t t1, uint32_t gpus,
                      double f)
{
    double work = 0, span = (double)(t1 - t0) * f;

    for (int i = 0; i < n; i++)
        if (!t[i].never)
            work += t[i].gpus * fmin((double)t[i].run, span);
    return work / ((double)gpus * span);
}

/* The scale that offers load (the load falls as f grows); -1 when no
 * scale does (the tasks' GPUs, all at once, are less than it). */
static double scale_for(const struct task *t, int n, int64_t t0, int64_t t1,
                        uint32_t gpus, double load)
{
    double lo = 1e-9, hi = 1e3;

    if (offered(t, n, t0, t1, gpus, lo) < load)
        return -1;
    for (int i = 0; i < 200; i++) {
        double mid = sqrt(lo * hi);

        if (offered(t, n, t0, t1, gpus, mid) > load)
            lo = mid;
        else
            hi = mid;
    }
    return sqrt(lo * hi);
}

static double ratio(double x, double y)
{
    return (x < 1 ? 1 : x) / (y < 1 ? 1 : y);
}

static void say_duration(double s, char *buf, size_t size)
{
    if (s < 120)
        snprintf(buf, size, "%.0fs", s);
    else if (s < 7200)
        snprintf(buf, size, "%.1fm", s / 60);
    else
        snprintf(buf, size, "%.1fh", s / 3600);
}

int main(int argc, char **argv)
{
    struct node *nodes;
    struct task *tasks;
    struct times *times;
    int n_nodes, n, n_times, *order;
    int64_t t0, t1;
    uint32_t gpus = 0;

    if (argc < 4) {
        fprintf(stderr, "usage: bench_placement TRACE_DIR VARIANT LOAD%%...\n");
        return 2;
    }
    if (getenv("AIFED_BENCH_PREFER"))
        prefer = atoi(getenv("AIFED_BENCH_PREFER"));
    n_nodes = read_nodes(argv[1], &nodes);
    n_times = read_times(argv[1], &times);
    n = read_tasks(argv[1], argv[2], &tasks, times, n_times);
    free(times);
    if (n < 100 || n_nodes == 0) {
        fprintf(stderr, "bench_placement: %s: %d tasks and %d GPU nodes: not the trace\n",
                argv[1], n, n_nodes);
        return 1;
    }
    homes(tasks, n, nodes, n_nodes);
    order = malloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++)
        order[i] = i;
    sort_tasks = tasks;
    qsort(order, (size_t)n, sizeof(int), by_arrival);
    /* The trace is the pods a cluster held over some weeks: 1 % of them
     * were made months before, the services running when it begins. They
     * arrive at its start, with the first of the rest. */
    t0 = tasks[order[n / 100]].arrive;
    t1 = tasks[order[n - 1]].arrive;
    for (int i = 0; i < n; i++)
        if (tasks[i].arrive < t0)
            tasks[i].arrive = t0;
    for (int i = 0; i < n_nodes; i++)
        gpus += nodes[i].gpus;
    {
        int constrained = 0, multi = 0, never = 0;

        for (int i = 0; i < n; i++) {
            constrained += tasks[i].constrained;
            multi += tasks[i].gpus > 1;
            never += tasks[i].never;
        }
        printf("trace %s: %d GPU tasks (%d constrained to models, %d multi-GPU, %d no "
               "node holds), %d GPU nodes, %u GPUs in %d sites\n",
               argv[2], n, constrained, multi, never, n_nodes, gpus, N_SITES);
    }
    for (int a = 3; a < argc; a++) {
        double load = atof(argv[a]) / 100.0;
        double scale = scale_for(tasks, n, t0, t1, gpus, load);

        if (scale <= 0) {
            printf(
                "\n%s at %.0f%%: not reachable: all the tasks' GPUs at once are less\n",
                argv[2], load * 100);
            continue;
        }
        struct result r[N_POLICIES];
        char m[N_POLICIES][16], p95[N_POLICIES][16], p99[N_POLICIES][16],
            cm[N_POLICIES][16];

        printf("\n%s at %.0f%% offered load (arrivals over %.1f h)\n", argv[2],
               load * 100, (double)(t1 - t0) * scale / 3600);
        printf("  %-10s %9s %9s %9s %7s %6s %8s %11s %8s %7s\n", "policy", "mean", "p95",
               "p99", "util", "away", "refused", "constr.mean", "c.p95", "replay");
        for (int p = 0; p < N_POLICIES; p++) {
            char cp95[16];

            r[p] = replay(nodes, n_nodes, tasks, n, order, scale, t0, (enum policy)p);
            say_duration(r[p].mean, m[p], sizeof(m[p]));
            say_duration(r[p].p95, p95[p], sizeof(p95[p]));
            say_duration(r[p].p99, p99[p], sizeof(p99[p]));
            say_duration(r[p].c_mean, cm[p], sizeof(cm[p]));
            say_duration(r[p].c_p95, cp95, sizeof(cp95));
            printf("  %-10s %9s %9s %9s %6.1f%% %5.1f%% %8d %11s %8s %6.1fs\n",
                   policy_names[p], m[p], p95[p], p99[p], r[p].util * 100,
                   r[p].away * 100, r[p].refused, cm[p], cp95, r[p].seconds);
        }
        printf("placement %s %.0f%%: aifed/home %.2f aifed/pooled %.2f p95/pooled %.2f "
               "refused %d\n",
               argv[2], load * 100, ratio(r[AIFED].mean, r[HOME].mean),
               ratio(r[AIFED].mean, r[POOLED].mean), ratio(r[AIFED].p95, r[POOLED].p95),
               r[AIFED].refused - r[POOLED].refused);
    }
    free(order);
    free(tasks);
    free(nodes);
    return 0;
}
