/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alloc: a flat array. Allocations number projects x sites, in the
 * thousands at most; a linear scan per site per request costs less than the
 * match itself, and keeps the code plain.
 */
#include "alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct allocs {
    struct alloc_entry *v;
    size_t n;
};

struct allocs *alloc_create(void)
{
    return calloc(1, sizeof(struct allocs));
}

void alloc_destroy(struct allocs *a)
{
    if (!a)
        return;
    free(a->v);
    free(a);
}

struct alloc_entry *alloc_find(struct allocs *a, const char *project, const char *site)
{
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->v[i].project, project) && !strcmp(a->v[i].site, site))
            return &a->v[i];
    return NULL;
}

struct alloc_entry *alloc_get(struct allocs *a, const char *project, const char *site)
{
    struct alloc_entry *e = alloc_find(a, project, site), *grown;

    if (e)
        return e;
    if (!af_id_valid(project) || !af_id_valid(site)) {
        errno = EINVAL;
        return NULL;
    }
    grown = realloc(a->v, (a->n + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    a->v = grown;
    e = &a->v[a->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->project, sizeof(e->project), "%s", project);
    snprintf(e->site, sizeof(e->site), "%s", site);
    return e;
}

uint64_t alloc_remaining(const struct alloc_entry *e)
{
    uint64_t spent = e->used_gpu_s + e->reserved_gpu_s;

    return e->granted_gpu_s > spent ? e->granted_gpu_s - spent : 0;
}

double alloc_share(const struct allocs *a, const char *project, const char *site,
                   bool *ret_shared)
{
    uint64_t all = 0, mine = 0;

    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->v[i].site, site))
            continue;
        all += a->v[i].granted_gpu_s;
        if (!strcmp(a->v[i].project, project))
            mine = a->v[i].granted_gpu_s;
    }
    *ret_shared = all > 0;
    return all ? (double)mine / (double)all : 1.0;
}

void alloc_each(const struct allocs *a, const char *project, const char *site,
                alloc_fn fn, void *arg)
{
    for (size_t i = 0; i < a->n; i++)
        if ((!project || !*project || !strcmp(a->v[i].project, project)) &&
            (!site || !*site || !strcmp(a->v[i].site, site)))
            fn(&a->v[i], arg);
}
