/* SPDX-License-Identifier: Apache-2.0 */
/*
 * match: which site and pool should take a workload, and why every other one
 * did not. A pure function over plain structs: no I/O, no globals, no
 * protobuf, so it is unit-tested on fixtures and benchmarked on its own.
 *
 * For each site the engine checks the hard constraints in a fixed order and
 * records the first that fails, with the numbers. Feasible pools are scored
 * (lower is better): the expected wait in seconds, plus the fraction of the
 * pool's free GPUs the workload would leave stranded, which only breaks ties
 * between equal waits. Remaining ties go to the earlier site in the input, so
 * the same inputs always give the same choice.
 */
#ifndef MATCH_H
#define MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MATCH_REASON_MAX 160
#define MATCH_NONE       ((size_t)-1)

struct match_pool {
    const char *name;
    const char *accelerator;
    uint32_t gpu_memory_gb;
    uint32_t gpus_per_node;
    uint32_t nodes_total;
    uint32_t gpus_total;
    uint32_t gpus_available; /* advertised free minus what the broker promised */
    uint32_t max_walltime_s;
    uint32_t queue_wait_s;
};

struct match_site {
    const char *id;
    const char *country;
    bool up;
    const struct match_pool *pools;
    size_t n_pools;
};

struct match_workload {
    const char *accelerator; /* NULL or "" = any */
    uint32_t gpus;
    uint32_t nodes; /* 0 = fewest the pool's nodes allow */
    uint32_t gpu_memory_gb;
    uint32_t walltime_s;
    const char *const *countries; /* allow-list; n_countries 0 = any */
    size_t n_countries;
    const char *const *exclude; /* sites already tried for this lease */
    size_t n_exclude;
};

enum match_verdict { MATCH_CHOSEN = 1, MATCH_RANKED, MATCH_REJECTED };

/* One per input site, in input order. */
struct match_candidate {
    size_t site;
    size_t pool; /* best pool, or the one that came closest; MATCH_NONE if none */
    enum match_verdict verdict;
    unsigned rank; /* 1 = chosen; 0 when rejected */
    double score;
    uint32_t nodes; /* nodes the workload takes in that pool */
    char reason[MATCH_REASON_MAX];
};

struct match_result {
    struct match_candidate *candidates; /* n_sites entries, caller frees */
    size_t n;
    size_t chosen; /* index into candidates, or MATCH_NONE */
};

/* Rank sites for w. 0, or -1/ENOMEM. ret->candidates is the caller's. */
int match_run(const struct match_workload *w, const struct match_site *sites,
              size_t n_sites, struct match_result *ret);

void match_result_free(struct match_result *r);

#endif
