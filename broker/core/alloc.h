/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alloc: project allocations. EuroHPC grants access per project and per
 * system: each (project, site) pair has GPU-seconds granted, used (settled by
 * leases that ended) and reserved (gpus x walltime of its open leases), and
 * maybe an end date. A lease reserves when it is granted and settles what it
 * really used when it ends; remaining = granted - used - reserved.
 *
 * The table lives in memory for matching (one lookup per site per request)
 * and every change is written to the store's batch by the caller, in the same
 * transaction as the lease change that caused it.
 *
 * Fair share at a site: a project's share is its granted GPU-seconds there
 * over all projects' granted GPU-seconds there (docs/architecture.md).
 */
#ifndef ALLOC_H
#define ALLOC_H

#include "af_ids.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct allocs;

struct alloc_entry {
    char project[AF_ID_MAX + 1];
    char site[AF_ID_MAX + 1];
    uint64_t granted_gpu_s;
    uint64_t used_gpu_s;
    uint64_t reserved_gpu_s;
    int64_t end_ms; /* 0: no end date */
};

struct allocs *alloc_create(void);
void alloc_destroy(struct allocs *a);

/* The entry for (project, site), or NULL. Borrowed until the table changes. */
struct alloc_entry *alloc_find(struct allocs *a, const char *project, const char *site);

/* The entry for (project, site), added (all zero) if new. NULL/ENOMEM. */
struct alloc_entry *alloc_get(struct allocs *a, const char *project, const char *site);

/* granted - used - reserved, never below zero. */
uint64_t alloc_remaining(const struct alloc_entry *e);

/* project's fair share of site (0..1); *ret_shared is false, and the share
 * 1, when no project has an allocation at site. */
double alloc_share(const struct allocs *a, const char *project, const char *site,
                   bool *ret_shared);

/* Visit entries (project or site may be NULL: any). */
typedef void (*alloc_fn)(const struct alloc_entry *e, void *arg);
void alloc_each(const struct allocs *a, const char *project, const char *site,
                alloc_fn fn, void *arg);

#endif
