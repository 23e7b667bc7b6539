/* SPDX-License-Identifier: Apache-2.0 */
/* held: a uthash of claims by lease id. */
#include "held.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct entry {
    struct af_token_claims c;
    UT_hash_handle hh;
};

struct held {
    struct entry *by_id;
};

struct held *held_create(void)
{
    return calloc(1, sizeof(struct held));
}

void held_destroy(struct held *h)
{
    struct entry *e, *tmp;

    if (!h)
        return;
    /* uthash's own idiom, which the analyzer misreads (as in common/). */
    // NOLINTBEGIN(clang-analyzer-unix.Malloc)
    HASH_ITER(hh, h->by_id, e, tmp)
    {
        HASH_DEL(h->by_id, e);
        free(e);
    }
    // NOLINTEND(clang-analyzer-unix.Malloc)
    free(h);
}

static struct entry *find(const struct held *h, const char *lease_id)
{
    struct entry *e;

    HASH_FIND_STR(h->by_id, lease_id, e);
    return e;
}

const struct af_token_claims *held_find(const struct held *h, const char *lease_id)
{
    struct entry *e = find(h, lease_id);

    return e ? &e->c : NULL;
}

int held_put(struct held *h, const struct af_token_claims *c)
{
    struct entry *e = find(h, c->id);

    if (!e) {
        if (!(e = calloc(1, sizeof(*e))))
            return -1;
        e->c = *c;
        HASH_ADD_STR(h->by_id, c.id, e);
        return 0;
    }
    e->c = *c;
    return 0;
}

void held_drop(struct held *h, const char *lease_id)
{
    struct entry *e = find(h, lease_id);

    if (e) {
        HASH_DEL(h->by_id, e);
        free(e);
    }
}

bool held_same(const struct af_token_claims *was, const struct af_token_claims *c)
{
    return !strcmp(was->site, c->site) && !strcmp(was->pool, c->pool) &&
           !strcmp(was->project, c->project) && !strcmp(was->principal, c->principal) &&
           !strcmp(was->accelerator, c->accelerator) && was->gpus == c->gpus &&
           was->nodes == c->nodes;
}
