/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placement: one match of a workload against the live sites, with the
 * project's allocations and fair share at each, and its explanation as the
 * wire carries it. The engine (core/match) is pure; this is where the
 * broker's state is turned into its input.
 */
#ifndef PLACEMENT_H
#define PLACEMENT_H

#include "match.h"

#include "aifed.pb-c.h"

#include <stddef.h>
#include <stdint.h>

struct svc;

/* One match and what it needs to be explained: the engine's workload (with
 * the buffers it points into), the site views and the result. */
struct placement {
    struct match_workload w;
    struct match_site *views;
    size_t n;
    struct match_result r;
    uint16_t *countries;
    struct match_data *data;
    struct match_alloc *allocs;
};

/* Match w for principal (sites without an account for it, or for w's
 * project, are rejected), excluding the sites lease (if not NULL) already
 * tried. With queue_when_busy, a new lease (lease NULL) no site can start
 * now goes where its queue says it starts first (placement_queued). 0 with
 * ret filled (free with placement_free), or -1/ENOMEM. */
int placement_run(struct svc *s, const Aifed__Workload *w, const char *principal,
                  const Aifed__Lease *lease, struct placement *ret);
void placement_free(struct placement *p);

/* When the chosen pool has not the GPUs free now (it was chosen for its
 * queue): the estimated start in ms from now; else 0. */
int64_t placement_queued(const struct placement *p);

/* Whether every name w gives is one some site offers: its accelerator, a
 * country of its allow-list, each certification, data set, model and image
 * (sites heard from since the broker started, DOWN ones too; while one is
 * not heard yet, every name passes). 0, or -1 with why: "no site offers
 * accelerator H200; known: H100, A100, MI250X". */
int placement_names_known(struct svc *s, const Aifed__Workload *w, char *why,
                          size_t size);

/* The candidates of p as protobuf, with their reasons in words, in one
 * block the caller frees with free(*ret_ptrs) (strings included). */
int placement_candidates(const struct placement *p, Aifed__Candidate ***ret_ptrs);

/* Why nothing was chosen, in one line: the site that got furthest speaks
 * for all (a pool-level miss beats a site-level one). */
void placement_refusal(const struct placement *p, char *buf, size_t size);

#endif
