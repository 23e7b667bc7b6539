/* SPDX-License-Identifier: Apache-2.0 */
/*
 * match: which site and pool should take a workload, and why every other one
 * did not. A pure function over plain structs: no I/O, no globals, no
 * protobuf, so it is unit-tested on fixtures and benchmarked on its own.
 *
 * For each site the engine checks the hard constraints in a fixed order and
 * records the first that fails with its numbers (have, need); match_reason()
 * turns that into a sentence only when someone reads it, which keeps a
 * thousand-site match fast with the full explanation on. Feasible pools are
 * scored from five parts (expected start, cost, carbon, data to move,
 * stranded GPUs), each normalised to [0, 1] across the feasible pools and
 * weighted by the workload's preference; lower is better. Equal scores go to
 * the earlier site in the input, so the same inputs give the same choice.
 */
#ifndef MATCH_H
#define MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MATCH_NONE   ((size_t)-1)
#define MATCH_GPU_KW 0.7 /* power per busy GPU, for the carbon estimate */

/* ISO 3166 alpha-2 as a number, for fast compares ("LU" -> 'L' << 8 | 'U'). */
static inline uint16_t match_country(const char *cc)
{
    return cc && cc[0] && cc[1] ? (uint16_t)((uint8_t)cc[0] << 8 | (uint8_t)cc[1]) : 0;
}

struct match_data {
    int kind; /* the wire's DataKind */
    const char *name;
    uint64_t size_bytes;
};

struct match_window {
    int64_t start_ms, end_ms;
};

struct match_start {
    uint32_t gpus, wait_s;
};

struct match_pool {
    const char *name;
    const char *accelerator;
    uint32_t accel_id; /* the caller interns models: equal names, equal ids */
    uint32_t gpu_memory_gb;
    uint32_t gpus_per_node;
    uint32_t nodes_total;
    uint32_t gpus_total;
    uint32_t gpus_available; /* advertised free minus what the broker promised */
    uint32_t cpus_per_node;
    uint32_t memory_per_node_gb;
    uint32_t max_walltime_s;
    uint32_t queue_wait_s;
    const struct match_start *starts; /* by size, ascending gpus; may be empty */
    size_t n_starts;
};

/* The workload's project at one site (filled by the caller per request). */
struct match_alloc {
    uint64_t remaining_gpu_s;
    int64_t end_ms; /* 0: no end date */
};

struct match_site {
    const char *id;
    uint16_t country; /* match_country() */
    bool up;
    bool unheard; /* not up because it has not advertised since the broker started */
    bool drained;
    const char *degraded; /* why the site cannot read its scheduler, or NULL/"" */
    char *const *certifications;
    size_t n_certifications;
    double price_per_gpu_hour;
    uint32_t carbon_g_per_kwh;
    const struct match_data *data;
    size_t n_data;
    const struct match_window *maintenance;
    size_t n_maintenance;
    const struct match_pool *pools;
    size_t n_pools;
    /* Per request, for the workload's project: */
    const struct match_alloc *alloc; /* NULL: no allocation here */
    uint32_t project_gpus_open;      /* GPUs its open leases hold here */
    double project_share;            /* fair share of the site's GPUs, 0..1 */
    bool shared;                     /* false: no allocations here, no share limit */
    bool no_account;                 /* the site has no account for its user or project */
};

struct match_weights {
    double time, cost, carbon, data, fit;
};

struct match_workload {
    uint32_t accel_id; /* 0 = any */
    /* Any of these accelerators instead (a task that runs on V100 16 GB or
     * 32 GB); n_accel_ids 0: accel_id alone says. */
    const uint32_t *accel_ids;
    size_t n_accel_ids;
    /* When no pool has the GPUs free now, a pool that says when a workload
     * of this size would start (its queue's estimate, starts) is feasible:
     * the workload waits in that queue, the estimate its expected start.
     * Where some pool has them free, only those are ranked. false (the
     * broker today): a federation whose sites are all busy refuses it. */
    bool may_queue;
    const char *accelerator;
    uint32_t gpus;
    uint32_t nodes; /* 0 = fewest the pool's nodes allow */
    uint32_t gpu_memory_gb;
    uint32_t cpus_per_node;
    uint32_t memory_per_node_gb;
    uint32_t walltime_s;
    int64_t now_ms;
    int64_t not_before_ms;     /* 0 = now */
    int64_t start_by_ms;       /* 0 = no deadline */
    const uint16_t *countries; /* allow-list; n_countries 0 = any */
    size_t n_countries;
    char *const *certifications;
    size_t n_certifications;
    const struct match_data *data;
    size_t n_data;
    const char *const *sites; /* allow-list (--site); n_sites 0 = any */
    size_t n_sites;
    const char *const *exclude; /* sites already tried for this lease */
    size_t n_exclude;
    bool require_allocation;
    double fair_share_floor; /* contended below this fraction of GPUs free */
    struct match_weights weights;
};

/* The constraints, in the order they are checked (but MATCH_SITE, first;
 * the numbers are kept in stored explanations, so new ones go last). */
enum match_check {
    MATCH_OK = 0,
    /* per site */
    MATCH_DOWN,
    MATCH_DRAINED,
    MATCH_DEGRADED,
    MATCH_COUNTRY,
    MATCH_CERTIFICATION,
    MATCH_TRIED,
    MATCH_NO_POOLS,
    MATCH_NO_ALLOCATION,
    MATCH_ALLOCATION_LOW,
    MATCH_FAIR_SHARE,
    /* per pool */
    MATCH_ACCELERATOR,
    MATCH_GPU_MEMORY,
    MATCH_CPUS,
    MATCH_NODE_MEMORY,
    MATCH_NODES,
    MATCH_SHAPE,
    MATCH_WALLTIME,
    MATCH_CAPACITY,
    MATCH_DEADLINE,
    MATCH_MAINTENANCE,
    MATCH_ALLOCATION_ENDS,
    MATCH_SITE,       /* not one of the sites the workload names */
    MATCH_NO_ACCOUNT, /* the site's user map has neither the user nor the project */
};

enum match_verdict { MATCH_CHOSEN = 1, MATCH_RANKED, MATCH_REJECTED };

struct match_parts {
    uint32_t start_in_s;
    double cost_eur;
    double carbon_kg;
    uint64_t bytes_to_move;
    double stranded;
};

/* One per input site, in input order. */
struct match_candidate {
    size_t site;
    size_t pool; /* best pool, or the one that came closest; MATCH_NONE if none */
    enum match_verdict verdict;
    unsigned rank; /* 1 = chosen; 0 when rejected */
    double score;
    uint32_t nodes;           /* chosen: nodes the workload takes in that pool */
    enum match_check failed;  /* rejected: the first constraint that failed */
    int64_t have, need;       /* its numbers */
    size_t detail;            /* which certification or window, where it matters */
    struct match_parts parts; /* ranked: the figures behind the score */
};

struct match_result {
    struct match_candidate *candidates; /* n entries, the caller's */
    size_t n;
    size_t chosen; /* index into candidates, or MATCH_NONE */
};

/* The weights a Preference (the wire's enum) stands for. */
struct match_weights match_weights_for(int prefer);

/* Rank sites for w. 0, or -1/ENOMEM. ret->candidates is the caller's. */
int match_run(const struct match_workload *w, const struct match_site *sites,
              size_t n_sites, struct match_result *ret);

void match_result_free(struct match_result *r);

/* Say why, in words: the failed constraint with its numbers, or the score
 * parts of a ranked candidate. */
void match_reason(const struct match_workload *w, const struct match_site *sites,
                  const struct match_candidate *c, char *buf, size_t size);

#endif
