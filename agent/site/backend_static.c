/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend_static: a site described by a file, for demos and tests. It holds
 * capacity by subtracting it from the pool's free GPUs and gives it back on
 * release; nothing runs anywhere. Holds live in memory: an agent restart
 * forgets them, and the broker's reconcile on reconnect sets that right.
 *
 * A hold may be booked for later (the lease's not_before): it takes nothing
 * until its start, and the holds make a timeline, so that a hold is refused
 * when at any time in its span the holds then would take more than the
 * pool has.
 *
 * The site and its pools come from the site file (site_file.c).
 */
#include "aconf.h"
#include "af_conf.h"
#include "af_ids.h"
#include "af_time.h"
#include "af_wire.h"
#include "backend.h"
#include "site_file.h"
#include "af_log.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

/* A site may hold tens of thousands of leases; holds are found by id in a
 * hash (uthash), where a scan cost more than the rest of a hold. A failed
 * allocation in the hash refuses the hold instead of exiting. */
#define HASH_NONFATAL_OOM      1
#define uthash_nonfatal_oom(h) ((h)->oom = true)
#include <uthash.h>

struct hold {
    char lease_id[AF_ID_MAX + 1];
    size_t pool;
    uint32_t gpus;
    int64_t start_ms, end_ms; /* the lease's span, by the wall clock */
    bool started;             /* taken from gpus_free (at its start) */
    bool oom;
    UT_hash_handle hh; /* by lease_id; the hash keeps the order they came in */
};

struct backend {
    struct site_file *f; /* the site and its pools, which holds take from */
    struct hold *holds;  /* uthash head */
    size_t n_booked;     /* holds not started yet */
    /* The advertisement handed out, rebuilt on each call. */
    Aifed__Advertisement adv;
    char **held_ids;
    uint64_t seq;
};

static void holds_free(struct backend *b)
{
    struct hold *h = b->holds, *next;

    /* The table first (it lives in the head's handle), then the items,
     * whose own links stay valid. */
    HASH_CLEAR(hh, b->holds);
    for (; h; h = next) {
        next = h->hh.next;
        free(h);
    }
}

/* Add a hold for id over [start_ms, end_ms), taking its GPUs from the
 * pool now if it has started; NULL (and nothing added) when out of
 * memory. */
static struct hold *hold_add(struct backend *b, const char *id, size_t pool,
                             uint32_t gpus, int64_t start_ms, int64_t end_ms,
                             bool started)
{
    struct hold *h = calloc(1, sizeof(*h));
    uint32_t *free_now = &b->f->pools[pool].gpus_free;

    if (!h)
        return NULL;
    snprintf(h->lease_id, sizeof(h->lease_id), "%s", id);
    h->pool = pool;
    h->gpus = gpus;
    h->start_ms = start_ms;
    h->end_ms = end_ms;
    HASH_ADD_STR(b->holds, lease_id, h);
    if (h->oom) {
        free(h);
        return NULL;
    }
    if ((h->started = started))
        *free_now -= *free_now < gpus ? *free_now : gpus;
    else
        b->n_booked++;
    return h;
}

/* Booked holds whose start has come take their GPUs now. */
static void holds_start(struct backend *b, int64_t now_ms)
{
    if (!b->n_booked)
        return;
    for (struct hold *h = b->holds; h; h = h->hh.next) {
        uint32_t *free_now = &b->f->pools[h->pool].gpus_free;

        if (h->started || h->start_ms > now_ms)
            continue;
        h->started = true;
        b->n_booked--;
        *free_now -= *free_now < h->gpus ? *free_now : h->gpus;
        log_info("lease %s: its booked hold starts now", h->lease_id);
    }
}

struct edge {
    int64_t at;
    int64_t gpus; /* + at a start, - at an end */
};

static int edge_cmp(const void *a, const void *b)
{
    const struct edge *x = a, *y = b;

    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->gpus < y->gpus ? -1 : x->gpus > y->gpus; /* ends first */
}

/* Of pool, what the holds take at their busiest in [from, to) (a started
 * hold past its end still takes its GPUs until it is let go), into *peak,
 * and what the pool has for holds (free now plus what started holds take)
 * into *cap. -1 when out of memory. */
static int holds_peak(const struct backend *b, size_t pool, int64_t from, int64_t to,
                      int64_t now_ms, uint64_t *peak, uint64_t *cap)
{
    size_t n = 0;
    struct edge *e = malloc(2 * (HASH_COUNT(b->holds) + 1) * sizeof(*e));
    int64_t cur = 0;

    if (!e)
        return -1;
    *cap = b->f->pools[pool].gpus_free;
    *peak = 0;
    for (const struct hold *h = b->holds; h; h = h->hh.next) {
        int64_t lo, hi;

        if (h->pool != pool)
            continue;
        if (h->started)
            *cap += h->gpus;
        lo = h->start_ms > from ? h->start_ms : from;
        hi = h->started && h->end_ms <= now_ms ? now_ms + 1 : h->end_ms;
        if (hi > to)
            hi = to;
        if (lo >= hi)
            continue;
        e[n++] = (struct edge){lo, h->gpus};
        e[n++] = (struct edge){hi, -(int64_t)h->gpus};
    }
    qsort(e, n, sizeof(*e), edge_cmp);
    for (size_t i = 0; i < n; i++)
        if ((cur += e[i].gpus) > (int64_t)*peak)
            *peak = (uint64_t)cur;
    free(e);
    return 0;
}

static void static_destroy(struct backend *b)
{
    if (!b)
        return;
    site_file_free(b->f);
    holds_free(b);
    free(b->held_ids);
    free(b);
}

static struct backend *static_create(const struct aconf *conf, struct af_error *err)
{
    struct backend *b = calloc(1, sizeof(*b));

    if (!b) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    if (!(b->f = site_file_read(conf, err))) {
        free(b);
        return NULL;
    }
    return b;
}

static struct backend *static_reload(struct backend *old, const struct aconf *conf,
                                     struct af_error *err)
{
    struct backend *b = static_create(conf, err);

    if (!b)
        return NULL;
    for (const struct hold *h = old->holds; h; h = h->hh.next) {
        const char *pool = old->f->pool_names[h->pool];
        size_t j;

        for (j = 0; j < b->f->n_pools && strcmp(b->f->pool_names[j], pool); j++)
            ;
        if (j == b->f->n_pools) {
            log_warnx("reload: pool %s is gone: lease %s is no longer held", pool,
                      h->lease_id);
            continue;
        }
        /* The file says what is free besides the holds; they still count
         * (hold_add takes a started one's GPUs). */
        if (!hold_add(b, h->lease_id, j, h->gpus, h->start_ms, h->end_ms, h->started)) {
            af_error_set(err, "out of memory");
            static_destroy(b);
            return NULL;
        }
    }
    return b;
}

static const Aifed__Advertisement *static_advertisement(struct backend *b,
                                                        struct af_error *err)
{
    size_t n = HASH_COUNT(b->holds), k = 0;
    char **ids = realloc(b->held_ids, (n ? n : 1) * sizeof(*ids));

    holds_start(b, af_now_ms());
    if (!ids) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    b->held_ids = ids;
    for (struct hold *h = b->holds; h; h = h->hh.next)
        ids[k++] = h->lease_id;
    aifed__advertisement__init(&b->adv);
    b->adv.site = (Aifed__Site *)site_file_site(b->f);
    b->adv.pools = b->f->pool_ptrs;
    b->adv.n_pools = b->f->n_pools;
    b->adv.held_lease_ids = ids;
    b->adv.n_held_lease_ids = n;
    b->adv.seq = ++b->seq;
    return &b->adv;
}

static struct hold *find_hold(struct backend *b, const char *lease_id)
{
    struct hold *h;

    HASH_FIND_STR(b->holds, lease_id, h);
    return h;
}

static bool static_holding(struct backend *b, const char *lease_id)
{
    return find_hold(b, lease_id) != NULL;
}

/* Refused: at some time in [start, end) the pool's holds would take more
 * than it has. */
static int busy_refusal(const struct backend *b, size_t i, const Aifed__Lease *l,
                        int64_t start, uint64_t peak, uint64_t cap, struct af_error *why)
{
    char from[32], to[32];

    af_time_format(start, from, sizeof(from));
    af_time_format(l->expires_ms, to, sizeof(to));
    return af_error_set(why,
                        "pool %s has %llu GPUs free at its busiest between %s and %s "
                        "(holds take %llu of %llu then), the lease needs %u",
                        b->f->pool_names[i],
                        (unsigned long long)(peak < cap ? cap - peak : 0), from, to,
                        (unsigned long long)peak, (unsigned long long)cap, l->gpus);
}

static int static_hold(struct backend *b, const Aifed__Lease *l, backend_hold_fn done,
                       void *arg, struct af_error *why)
{
    int64_t now = af_now_ms();
    int64_t start = backend_hold_start_ms(l, now);
    struct hold *h = find_hold(b, l->id);
    uint64_t peak, cap;
    size_t i;

    (void)done; /* answered at once: nothing to ask */
    (void)arg;

    if (h) { /* the broker asked again: the hold stands, to a renewal's end */
        h->end_ms = l->expires_ms;
        return 0;
    }
    for (i = 0; i < b->f->n_pools; i++)
        if (!strcmp(b->f->pool_names[i], l->pool))
            break;
    if (i == b->f->n_pools)
        return af_error_set(why, "no pool %s here", l->pool);
    if (start <= now && !b->n_booked) {
        /* Nothing booked for later: what is free now is the whole story. */
        if (b->f->pools[i].gpus_free < l->gpus)
            return af_error_set(why, "pool %s has %u GPUs free, the lease needs %u",
                                l->pool, b->f->pools[i].gpus_free, l->gpus);
    } else if (holds_peak(b, i, start, l->expires_ms, now, &peak, &cap) < 0) {
        return af_error_set(why, "out of memory");
    } else if (peak + l->gpus > cap) {
        return busy_refusal(b, i, l, start, peak, cap, why);
    }
    if (!hold_add(b, l->id, i, l->gpus, start, l->expires_ms, start <= now))
        return af_error_set(why, "out of memory");
    return 0;
}

static int static_release(struct backend *b, const char *lease_id)
{
    struct hold *h = find_hold(b, lease_id);

    if (!h) {
        errno = ENOENT;
        return -1;
    }
    if (h->started)
        b->f->pools[h->pool].gpus_free += h->gpus;
    else
        b->n_booked--;
    HASH_DEL(b->holds, h);
    free(h);
    return 0;
}

static void static_print(struct backend *b, FILE *out)
{
    site_file_print(b->f, out);
}

const struct backend_ops backend_static_ops = {
    .name = "static",
    .create = static_create,
    .destroy = static_destroy,
    .advertisement = static_advertisement,
    .hold = static_hold,
    .holding = static_holding,
    .release = static_release,
    .reload = static_reload,
    .print = static_print,
};
