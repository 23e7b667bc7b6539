/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sites: the registry is a small array sorted by id (sites are registered in
 * the configuration, tens of them, not millions). Promises are a list per
 * site; whether the site's advertisement already counts a promise is decided
 * once per advertisement, so building the matching views is linear.
 */
#include "sites.h"
#include "af_token.h"
#include "af_ids.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uthash.h>

struct promise {
    char lease_id[AF_ID_MAX + 1];
    char pool[AF_ID_MAX + 1];
    char project[AF_ID_MAX + 1];
    uint32_t gpus;
    int64_t asked_ms;
    bool confirmed; /* the site said it holds it */
    bool reported;  /* the site's advertised free figure already counts it */
    bool reasked;   /* held but unconfirmed (the answer was lost): asked again */
    struct promise *next, *prev; /* the site's list, for walks */
    struct promise *hnext;       /* the site's hash chain, for lookups by id */
};

/* GPUs a project has open at a site (for fair share), kept as promises come
 * and go so a match does not walk every promise. */
struct project_sum {
    char project[AF_ID_MAX + 1];
    uint64_t gpus;
};

struct site {
    char id[AF_ID_MAX + 1];
    Aifed__Advertisement *adv;
    int64_t last_seen_ms;      /* monotonic: for DOWN detection */
    int64_t last_seen_wall_ms; /* the same on the wall clock, for people */
    bool up;
    bool went_down;     /* was DOWN after being UP: hysteresis applies */
    unsigned streak;    /* advertisements in a row since then, one an interval */
    int64_t counted_ms; /* when the streak last counted one */
    bool admin_drained;
    char signing_key[AF_SIGN_PK_B64]; /* from its Hello */
    uint8_t rid[256];
    size_t rid_len;
    bool resume_due;    /* a new connection: its open jobs are to be sent again */
    int64_t resumed_ms; /* when they last were (monotonic) */
    struct promise *promises;
    size_t n_promises;
    struct promise **buckets; /* by lease id; n_buckets a power of two */
    size_t n_buckets;
    uint64_t *unreported; /* per pool of adv: promised GPUs it does not count */
    struct project_sum *projects;
    size_t n_projects;
    /* The matching view, built once per advertisement (build_view); only
     * availability and the per-request fields change between matches. */
    struct match_pool *pools;
    size_t n_view_pools; /* of pools, those holding an interned accelerator */
    struct match_start *starts;
    struct match_data *data;
    struct match_window *windows;
};

/* An accelerator model some pool advertises now. Names are interned while
 * a view uses them and forgotten when none does, so the table holds at
 * most one name per configured site's pools, whatever the sites send. */
struct accel {
    char key[AF_ID_MAX + 1]; /* lower case */
    uint32_t id;
    unsigned refs; /* pools of current views that name it */
    UT_hash_handle hh;
};

struct sites {
    int64_t interval_ms;
    int64_t down_after_ms;
    unsigned up_after;
    struct site *v;
    size_t n;
    struct match_site *views;
    struct accel *accels; /* interned accelerator models, by name (hash) */
    struct accel **by_id; /* ... and by id - 1; NULL: a free id */
    size_t n_ids;
    bool isolated; /* the isolation guard holds (see sites_sweep) */
};

struct sites *sites_create(int64_t interval_ms, unsigned down_after, unsigned up_after)
{
    struct sites *s = calloc(1, sizeof(*s));

    if (s)
        sites_set_timing(s, interval_ms, down_after, up_after);
    return s;
}

void sites_set_timing(struct sites *s, int64_t interval_ms, unsigned down_after,
                      unsigned up_after)
{
    s->interval_ms = interval_ms;
    s->down_after_ms = interval_ms * (down_after ? down_after : 1);
    s->up_after = up_after ? up_after : 1;
}

static void accel_unref(struct sites *s, uint32_t id);

static void view_free(struct sites *s, struct site *st)
{
    for (size_t j = 0; j < st->n_view_pools; j++)
        accel_unref(s, st->pools[j].accel_id);
    st->n_view_pools = 0;
    free(st->pools);
    free(st->starts);
    free(st->data);
    free(st->windows);
    st->pools = NULL;
    st->starts = NULL;
    st->data = NULL;
    st->windows = NULL;
}

static void promises_free(struct site *st)
{
    while (st->promises) {
        struct promise *p = st->promises;
        st->promises = p->next;
        free(p);
    }
    st->n_promises = 0;
    free(st->buckets);
    st->buckets = NULL;
    st->n_buckets = 0;
    free(st->projects);
    st->projects = NULL;
    st->n_projects = 0;
}

void sites_destroy(struct sites *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].adv)
            aifed__advertisement__free_unpacked(s->v[i].adv, NULL);
        promises_free(&s->v[i]);
        view_free(s, &s->v[i]);
        free(s->v[i].unreported);
    }
    free(s->by_id); /* every view let go of its names above */
    free(s->v);
    free(s->views);
    free(s);
}

static int site_cmp(const void *a, const void *b)
{
    return strcmp(((const struct site *)a)->id, ((const struct site *)b)->id);
}

static struct site *find(const struct sites *s, const char *id)
{
    struct site key;

    if (strlen(id) > AF_ID_MAX || s->n == 0)
        return NULL;
    snprintf(key.id, sizeof(key.id), "%s", id);
    return bsearch(&key, s->v, s->n, sizeof(*s->v), site_cmp);
}

int sites_add(struct sites *s, const char *id)
{
    struct site *grown;

    if (!af_id_valid(id)) {
        errno = EINVAL;
        return -1;
    }
    if (find(s, id)) {
        errno = EEXIST;
        return -1;
    }
    grown = realloc(s->v, (s->n + 1) * sizeof(*s->v));
    if (!grown)
        return -1;
    s->v = grown;
    memset(&s->v[s->n], 0, sizeof(s->v[0]));
    snprintf(s->v[s->n].id, sizeof(s->v[s->n].id), "%s", id);
    s->n++;
    qsort(s->v, s->n, sizeof(*s->v), site_cmp);
    return 0;
}

bool sites_known(const struct sites *s, const char *id)
{
    return find(s, id) != NULL;
}

bool sites_is_up(const struct sites *s, const char *id)
{
    struct site *st = find(s, id);

    return st && st->up;
}

size_t sites_unheard(const struct sites *s, char *buf, size_t size)
{
    size_t n = 0, used = 0;

    if (size)
        *buf = '\0';
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].adv)
            continue;
        if (used < size) {
            int w = snprintf(buf + used, size - used, "%s%s", n ? ", " : "", s->v[i].id);
            used = w < 0 ? size : used + (size_t)w;
        }
        n++;
    }
    return n;
}

void sites_set_signing_key(struct sites *s, const char *id, const char *b64)
{
    struct site *st = find(s, id);

    if (st)
        snprintf(st->signing_key, sizeof(st->signing_key), "%s", b64);
}

const char *sites_signing_key(const struct sites *s, const char *id)
{
    const struct site *st = find(s, id);

    return st ? st->signing_key : "";
}

void sites_route_set(struct sites *s, const char *id, const uint8_t *rid, size_t len)
{
    struct site *st = find(s, id);

    if (!st || len > sizeof(st->rid))
        return;
    if (len != st->rid_len || memcmp(st->rid, rid, len))
        st->resume_due = true;
    memcpy(st->rid, rid, len);
    st->rid_len = len;
}

bool sites_resume_take(struct sites *s, const char *id, int64_t now_ms, int64_t gap_ms)
{
    struct site *st = find(s, id);

    if (!st || !st->resume_due || (st->resumed_ms && now_ms - st->resumed_ms < gap_ms))
        return false;
    st->resume_due = false;
    st->resumed_ms = now_ms;
    return true;
}

const uint8_t *sites_route(const struct sites *s, const char *id, size_t *ret_len)
{
    struct site *st = find(s, id);

    if (!st || st->rid_len == 0)
        return NULL;
    *ret_len = st->rid_len;
    return st->rid;
}

static int build_view(struct sites *s, struct site *st);

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int pool_index(const struct site *st, const char *pool)
{
    for (size_t j = 0; st->adv && j < st->adv->n_pools; j++)
        if (!strcmp(st->adv->pools[j]->name, pool))
            return (int)j;
    return -1;
}

static bool sorted(char **v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i - 1], v[i]) > 0)
            return false;
    return true;
}

static bool holds_listed(const Aifed__Advertisement *a, const char *lease_id)
{
    return a->n_held_lease_ids &&
           bsearch(&lease_id, a->held_lease_ids, a->n_held_lease_ids, sizeof(char *),
                   str_cmp) != NULL;
}

bool sites_holds(const struct sites *s, const char *site, const char *lease_id)
{
    const struct site *st = find(s, site);

    /* mark_reported() sorted the list when the advertisement came. */
    return st && st->adv && holds_listed(st->adv, lease_id);
}

/* Decide once per advertisement which promises it already counts, and sum
 * per pool what it does not. */
static int mark_reported(struct site *st)
{
    Aifed__Advertisement *a = st->adv;
    uint64_t *sums =
        realloc(st->unreported, (a->n_pools ? a->n_pools : 1) * sizeof(*sums));

    if (!sums)
        return -1;
    st->unreported = sums;
    memset(sums, 0, (a->n_pools ? a->n_pools : 1) * sizeof(*sums));
    /* The array is NULL when empty; agents send it sorted, so mostly no sort. */
    if (a->n_held_lease_ids && !sorted(a->held_lease_ids, a->n_held_lease_ids))
        qsort(a->held_lease_ids, a->n_held_lease_ids, sizeof(char *), str_cmp);
    for (struct promise *p = st->promises; p; p = p->next) {
        int j;
        p->reported = holds_listed(a, p->lease_id);
        if (!p->reported && (j = pool_index(st, p->pool)) >= 0)
            sums[j] += p->gpus;
    }
    return 0;
}

void sites_advertise(struct sites *s, const char *id, Aifed__Advertisement **adv,
                     int64_t now_ms, int64_t wall_ms)
{
    struct site *st = find(s, id);

    if (!st)
        return;
    if (st->adv)
        aifed__advertisement__free_unpacked(st->adv, NULL);
    st->adv = *adv;
    *adv = NULL;
    if (st->went_down && now_ms - st->last_seen_ms > s->down_after_ms)
        st->streak = 0; /* silent again in between: start over */
    st->last_seen_ms = now_ms;
    st->last_seen_wall_ms = wall_ms;
    /* Hysteresis counts time, not messages: what queued while the site was
     * cut off arrives at once after the heal and counts as one, and so do a
     * burst's extra advertisements; one counts per interval (a quarter
     * early, for a live site's jitter). */
    if (!st->up && st->went_down &&
        (st->streak == 0 || now_ms - st->counted_ms >= s->interval_ms * 3 / 4)) {
        st->streak++;
        st->counted_ms = now_ms;
    }
    if (!st->up && (!st->went_down || st->streak >= s->up_after)) {
        st->up = true;
        st->streak = 0;
        st->resume_due = true; /* back after a silence: StartJobs may be lost */
    }
    if (mark_reported(st) < 0 || build_view(s, st) < 0) {
        /* Without a view the site cannot be matched: treat it as silent. */
        view_free(s, st);
        st->up = false;
    }
}

/* FNV-1a: lease ids are random already; this only spreads them. */
static uint64_t hash_id(const char *id)
{
    uint64_t h = 1469598103934665603ull;

    for (; *id; id++)
        h = (h ^ (uint8_t)*id) * 1099511628211ull;
    return h;
}

/* Put p in the hash index, doubling it past two promises a bucket. */
static int index_promise(struct site *st, struct promise *p)
{
    if (st->n_promises + 1 > 2 * st->n_buckets) {
        size_t nb = st->n_buckets ? st->n_buckets * 2 : 64;
        struct promise **b = calloc(nb, sizeof(*b));

        if (!b)
            return -1;
        for (struct promise *q = st->promises; q; q = q->next) {
            size_t i = hash_id(q->lease_id) & (nb - 1);
            q->hnext = b[i];
            b[i] = q;
        }
        free(st->buckets);
        st->buckets = b;
        st->n_buckets = nb;
    }
    size_t i = hash_id(p->lease_id) & (st->n_buckets - 1);
    p->hnext = st->buckets[i];
    st->buckets[i] = p;
    return 0;
}

/* Add (or with a negative delta, take) GPUs to a project's sum at st. */
static int project_add(struct site *st, const char *project, int64_t delta)
{
    struct project_sum *grown;

    for (size_t i = 0; i < st->n_projects; i++)
        if (!strcmp(st->projects[i].project, project)) {
            st->projects[i].gpus += (uint64_t)delta;
            return 0;
        }
    if (delta <= 0)
        return 0;
    grown = realloc(st->projects, (st->n_projects + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    st->projects = grown;
    snprintf(grown[st->n_projects].project, sizeof(grown->project), "%s", project);
    grown[st->n_projects++].gpus = (uint64_t)delta;
    return 0;
}

static struct promise *promise_find(const struct site *st, const char *lease_id)
{
    if (!st->n_buckets)
        return NULL;
    for (struct promise *p = st->buckets[hash_id(lease_id) & (st->n_buckets - 1)]; p;
         p = p->hnext)
        if (!strcmp(p->lease_id, lease_id))
            return p;
    return NULL;
}

int sites_promise(struct sites *s, const char *site, const char *pool,
                  const char *lease_id, const char *project, uint32_t gpus,
                  int64_t now_ms)
{
    struct site *st = find(s, site);
    struct promise *p;
    int j;

    if (!st) {
        errno = ENOENT;
        return -1;
    }
    /* One promise per lease: a second would count its GPUs twice and
     * outlive the lease's end, which removes one. */
    if (promise_find(st, lease_id))
        sites_unpromise(s, site, lease_id);
    p = calloc(1, sizeof(*p));
    if (!p)
        return -1;
    snprintf(p->lease_id, sizeof(p->lease_id), "%s", lease_id);
    snprintf(p->pool, sizeof(p->pool), "%s", pool);
    snprintf(p->project, sizeof(p->project), "%s", project);
    p->gpus = gpus;
    p->asked_ms = now_ms;
    if (index_promise(st, p) < 0 || project_add(st, project, gpus) < 0) {
        free(p);
        return -1;
    }
    p->next = st->promises;
    if (p->next)
        p->next->prev = p;
    st->promises = p;
    st->n_promises++;
    if ((j = pool_index(st, pool)) >= 0 && st->unreported)
        st->unreported[j] += gpus;
    return 0;
}

void sites_promise_confirm(struct sites *s, const char *site, const char *lease_id)
{
    struct site *st = find(s, site);
    struct promise *p = st ? promise_find(st, lease_id) : NULL;

    if (p)
        p->confirmed = true;
}

void sites_unpromise(struct sites *s, const char *site, const char *lease_id)
{
    struct site *st = find(s, site);
    struct promise *p = st ? promise_find(st, lease_id) : NULL;
    struct promise **pp;
    int j;

    if (!p)
        return;
    for (pp = &st->buckets[hash_id(lease_id) & (st->n_buckets - 1)]; *pp != p;
         pp = &(*pp)->hnext)
        ;
    *pp = p->hnext;
    if (p->prev)
        p->prev->next = p->next;
    else
        st->promises = p->next;
    if (p->next)
        p->next->prev = p->prev;
    st->n_promises--;
    if (!p->reported && (j = pool_index(st, p->pool)) >= 0 && st->unreported)
        st->unreported[j] -= p->gpus;
    project_add(st, p->project, -(int64_t)p->gpus);
    free(p);
}

void sites_unpromise_all(struct sites *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct site *st = &s->v[i];
        promises_free(st);
        if (st->unreported && st->adv)
            memset(st->unreported, 0, st->adv->n_pools * sizeof(*st->unreported));
    }
}

void sites_overdue(struct sites *s, int64_t cutoff_ms, sites_overdue_fn fn, void *arg)
{
    for (size_t i = 0; i < s->n; i++) {
        struct promise *p = s->v[i].promises, *next;
        for (; p; p = next) {
            next = p->next; /* fn may free p */
            if (!p->confirmed && p->asked_ms <= cutoff_ms)
                fn(s->v[i].id, p->lease_id, arg);
        }
    }
}

static bool silent(const struct sites *s, const struct site *st, int64_t now_ms)
{
    return now_ms - st->last_seen_ms > s->down_after_ms;
}

/* Past its next advertisement (half an interval late: a live site's may come
 * a little late), so no longer heard, though not yet silent long enough to
 * be DOWN. */
static bool missed(const struct sites *s, const struct site *st, int64_t now_ms)
{
    int64_t late = s->interval_ms + s->interval_ms / 2;

    return now_ms - st->last_seen_ms >
           (late < s->down_after_ms ? late : s->down_after_ms);
}

void sites_confirm_down(struct sites *s, int64_t now_ms, sites_change_fn fn, void *arg)
{
    s->isolated = false;
    for (size_t i = 0; i < s->n; i++) {
        struct site *st = &s->v[i];
        if (st->up && silent(s, st, now_ms)) {
            st->up = false;
            st->went_down = true;
            st->streak = 0;
            if (fn)
                fn(st->id, false, arg);
        }
    }
}

/*
 * Sites cut off at the same instant do not all pass down_after in the same
 * tick: their last advertisements were up to an interval apart. So the test
 * for "at once" is that, when the first is silent long enough to be DOWN,
 * every other has missed its advertisement too; a site still heard proves
 * the broker is not the one cut off.
 */
bool sites_sweep(struct sites *s, int64_t now_ms, sites_change_fn fn, void *arg)
{
    size_t up = 0, quiet = 0, gone = 0;

    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].up) {
            up++;
            quiet += missed(s, &s->v[i], now_ms);
            gone += silent(s, &s->v[i], now_ms);
        }
    if (up >= 2 && gone && quiet == up)
        return s->isolated = true;
    sites_confirm_down(s, now_ms, fn, arg);
    return false;
}

bool sites_isolated(const struct sites *s)
{
    return s->isolated;
}

void sites_undrain_all(struct sites *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->v[i].admin_drained = false;
}

int sites_drain(struct sites *s, const char *id, bool drained)
{
    struct site *st = find(s, id);

    if (!st) {
        errno = ENOENT;
        return -1;
    }
    st->admin_drained = drained;
    return 0;
}

void sites_reconcile(struct sites *s, const char *id, sites_lease_fn lost_fn,
                     sites_lease_fn unknown_fn, sites_lease_fn reask_fn, void *arg)
{
    struct site *st = find(s, id);
    struct promise *p, *next;
    size_t listed = 0;

    if (!st || !st->adv)
        return;
    /* A confirmed hold was announced (LeaseHeld) before this advertisement
     * on the same ordered connection, so it must be listed here. */
    for (p = st->promises; p; p = next) {
        next = p->next; /* lost_fn may unpromise p */
        if (p->reported && !p->confirmed && !p->reasked) {
            /* The site holds it but its LeaseHeld never arrived (the broker
             * restarted in between): ask once more; the answer repeats. */
            p->reasked = true;
            reask_fn(st->id, p->lease_id, arg);
        }
        if (p->reported)
            listed++;
        else if (p->confirmed)
            lost_fn(st->id, p->lease_id, arg);
    }
    if (listed == st->adv->n_held_lease_ids)
        return; /* every hold it lists is a lease open here: the usual case */
    for (size_t i = 0; i < st->adv->n_held_lease_ids; i++) {
        const char *h = st->adv->held_lease_ids[i];
        if (!promise_find(st, h))
            unknown_fn(st->id, h, arg);
    }
}

uint32_t sites_pool_max_walltime(const struct sites *s, const char *site,
                                 const char *pool)
{
    const struct site *st = find(s, site);

    for (size_t j = 0; st && st->adv && j < st->adv->n_pools; j++)
        if (!strcmp(st->adv->pools[j]->name, pool))
            return st->adv->pools[j]->max_walltime_s;
    return 0;
}

/* GPUs promised at pool j that the site's advertisement does not yet count. */
static uint32_t promised(const struct site *st, size_t j)
{
    uint64_t sum = st->unreported ? st->unreported[j] : 0;

    return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

static void accel_key(const char *model, char key[AF_ID_MAX + 1])
{
    size_t i;

    for (i = 0; model[i] && i < AF_ID_MAX; i++)
        key[i] = (char)(model[i] >= 'A' && model[i] <= 'Z' ? model[i] + 32 : model[i]);
    key[i] = '\0';
}

static struct accel *accel_find(const struct sites *s, const char *model)
{
    char key[AF_ID_MAX + 1] = {0}; /* whole: uthash hashes it byte by byte */
    struct accel *e;

    accel_key(model, key);
    HASH_FIND_STR(s->accels, key, e);
    return e;
}

/* The id of model, interned for one more pool; 0 (none) on ENOMEM. */
static uint32_t intern(struct sites *s, const char *model)
{
    struct accel *e = accel_find(s, model);
    size_t slot;

    if (e) {
        e->refs++;
        return e->id;
    }
    for (slot = 0; slot < s->n_ids && s->by_id[slot]; slot++)
        ;
    if (slot == s->n_ids) {
        struct accel **grown = realloc(s->by_id, (s->n_ids + 64) * sizeof(*grown));

        if (!grown)
            return 0;
        memset(grown + s->n_ids, 0, 64 * sizeof(*grown));
        s->by_id = grown;
        s->n_ids += 64;
    }
    if (!(e = calloc(1, sizeof(*e))))
        return 0;
    accel_key(model, e->key);
    e->id = (uint32_t)slot + 1;
    e->refs = 1;
    HASH_ADD_STR(s->accels, key, e);
    s->by_id[slot] = e;
    return e->id;
}

static void accel_unref(struct sites *s, uint32_t id)
{
    struct accel *e = id && id <= s->n_ids ? s->by_id[id - 1] : NULL;

    if (!e || --e->refs > 0)
        return;
    /* e is in the table, so the table is not empty: the analyzer does not
     * follow uthash's macros that far. */
    HASH_DEL(s->accels, e); // NOLINT(clang-analyzer-core.NullDereference)
    s->by_id[id - 1] = NULL;
    free(e);
}

uint32_t sites_accel_id(const struct sites *s, const char *model)
{
    const struct accel *e;

    if (!model || !*model)
        return 0;
    e = accel_find(s, model);
    return e ? e->id : UINT32_MAX; /* no pool has it */
}

size_t sites_accel_count(const struct sites *s)
{
    return HASH_COUNT(s->accels);
}

static int start_cmp(const void *a, const void *b)
{
    const struct match_start *x = a, *y = b;

    return (x->gpus > y->gpus) - (x->gpus < y->gpus);
}

/* The matching view of st's advertisement: what does not change until the
 * next one. Strings are borrowed from the advertisement. */
static int build_view(struct sites *s, struct site *st)
{
    const Aifed__Advertisement *a = st->adv;
    const Aifed__Site *site = a->site;
    size_t n_starts = 0, k = 0;

    view_free(s, st);
    for (size_t j = 0; j < a->n_pools; j++)
        n_starts += a->pools[j]->n_starts;
    st->pools = calloc(a->n_pools ? a->n_pools : 1, sizeof(*st->pools));
    st->starts = calloc(n_starts ? n_starts : 1, sizeof(*st->starts));
    st->data = calloc(site->n_data ? site->n_data : 1, sizeof(*st->data));
    st->windows =
        calloc(site->n_maintenance ? site->n_maintenance : 1, sizeof(*st->windows));
    if (!st->pools || !st->starts || !st->data || !st->windows)
        return -1;
    for (size_t j = 0; j < a->n_pools; j++) {
        const Aifed__Pool *p = a->pools[j];
        struct match_start *starts = &st->starts[k];

        for (size_t e = 0; e < p->n_starts; e++)
            st->starts[k++] =
                (struct match_start){p->starts[e]->gpus, p->starts[e]->wait_s};
        qsort(starts, p->n_starts, sizeof(*starts), start_cmp);
        st->pools[j] = (struct match_pool){
            .name = p->name,
            .accelerator = p->accelerator,
            .accel_id = intern(s, p->accelerator),
            .gpu_memory_gb = p->gpu_memory_gb,
            .gpus_per_node = p->gpus_per_node,
            .nodes_total = p->nodes_total,
            .gpus_total = p->gpus_total,
            .cpus_per_node = p->cpus_per_node,
            .memory_per_node_gb = p->memory_per_node_gb,
            .max_walltime_s = p->max_walltime_s,
            .queue_wait_s = p->queue_wait_s,
            .starts = starts,
            .n_starts = p->n_starts,
        };
        if (!st->pools[j].accel_id)
            return -1;
        st->n_view_pools = j + 1;
    }
    for (size_t d = 0; d < site->n_data; d++)
        st->data[d] = (struct match_data){site->data[d]->kind, site->data[d]->name,
                                          site->data[d]->size_bytes};
    for (size_t m = 0; m < site->n_maintenance; m++)
        st->windows[m] = (struct match_window){site->maintenance[m]->start_ms,
                                               site->maintenance[m]->end_ms};
    return 0;
}

static uint32_t project_gpus(const struct site *st, const char *project)
{
    uint64_t sum = 0;

    for (size_t i = 0; project && i < st->n_projects; i++)
        if (!strcmp(st->projects[i].project, project))
            sum = st->projects[i].gpus;
    return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

/* Whether a site that runs work in its users' own accounts has one for
 * principal (its name without "user:") or for project. A scan: user maps
 * are short, and the list is bounded (AF_WIRE_MAX_LIST). */
static bool has_account(const Aifed__Site *site, const char *principal,
                        const char *project)
{
    const char *name = strncmp(principal, "user:", 5) ? principal : principal + 5;

    if (!site->maps_accounts)
        return true;
    for (size_t i = 0; i < site->n_mapped_users; i++)
        if (!strcmp(site->mapped_users[i], name))
            return true;
    for (size_t i = 0; project && i < site->n_mapped_projects; i++)
        if (!strcmp(site->mapped_projects[i], project))
            return true;
    return false;
}

int sites_views(struct sites *s, const char *project, const char *principal,
                struct match_site **ret, size_t *ret_n)
{
    struct match_site *v = realloc(s->views, (s->n ? s->n : 1) * sizeof(*v));

    if (!v)
        return -1;
    s->views = v;
    for (size_t i = 0; i < s->n; i++) {
        struct site *st = &s->v[i];
        const Aifed__Site *site;

        v[i] = (struct match_site){
            .id = st->id, .up = st->up && st->pools, .unheard = !st->adv};
        if (!v[i].up || !st->adv) /* pools come with an advertisement */
            continue;
        site = st->adv->site;
        for (size_t j = 0; j < st->adv->n_pools; j++) {
            uint32_t held = promised(st, j);
            uint32_t adv_free = st->adv->pools[j]->gpus_free;
            st->pools[j].gpus_available = adv_free > held ? adv_free - held : 0;
        }
        v[i].country = match_country(site->country);
        v[i].drained = site->drained || st->admin_drained;
        v[i].degraded = site->degraded;
        v[i].certifications = site->certifications;
        v[i].n_certifications = site->n_certifications;
        v[i].price_per_gpu_hour = site->price_per_gpu_hour;
        v[i].carbon_g_per_kwh = site->carbon_g_per_kwh;
        v[i].data = st->data;
        v[i].n_data = site->n_data;
        v[i].maintenance = st->windows;
        v[i].n_maintenance = site->n_maintenance;
        v[i].pools = st->pools;
        v[i].n_pools = st->adv->n_pools;
        v[i].project_gpus_open = project_gpus(st, project);
        v[i].no_account = principal && !has_account(site, principal, project);
        v[i].project_share = 1.0;
    }
    *ret = v;
    *ret_n = s->n;
    return 0;
}

/*
 * The list borrows strings and sub-messages from the advertisements; what it
 * allocates itself lives in one block per site so that sites_list_free is a
 * short walk.
 */
struct site_block {
    Aifed__SiteStatus status;
    Aifed__Site bare; /* for a site never heard from */
    Aifed__PoolStatus *pools;
    Aifed__PoolStatus **pool_ptrs;
};

void sites_each(const struct sites *s, sites_site_fn fn, void *arg)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].adv && fn(s->v[i].id, s->v[i].adv, s->v[i].up, arg))
            return;
}

int sites_list(struct sites *s, Aifed__SiteList **ret)
{
    struct match_site *views;
    size_t n;
    Aifed__SiteList *list = calloc(1, sizeof(*list));

    if (!list || sites_views(s, NULL, NULL, &views, &n) < 0)
        goto fail;
    aifed__site_list__init(list);
    list->isolated = s->isolated;
    list->sites = calloc(n ? n : 1, sizeof(*list->sites));
    if (!list->sites)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        struct site *st = &s->v[i];
        struct site_block *b = calloc(1, sizeof(*b));
        size_t np = st->adv ? st->adv->n_pools : 0;

        if (!b)
            goto fail;
        list->sites[list->n_sites++] = &b->status;
        aifed__site_status__init(&b->status);
        aifed__site__init(&b->bare);
        b->bare.id = st->id;
        b->status.site = st->adv ? st->adv->site : &b->bare;
        b->status.state =
            st->up ? AIFED__SITE_STATE__SITE_UP : AIFED__SITE_STATE__SITE_DOWN;
        b->status.last_seen_ms = st->last_seen_wall_ms;
        b->status.admin_drained = st->admin_drained;
        b->status.leases_open = (uint32_t)st->n_promises;
        b->pools = calloc(np ? np : 1, sizeof(*b->pools));
        b->pool_ptrs = calloc(np ? np : 1, sizeof(*b->pool_ptrs));
        if (!b->pools || !b->pool_ptrs)
            goto fail;
        for (size_t j = 0; j < np; j++) {
            Aifed__PoolStatus *ps = &b->pools[j];
            aifed__pool_status__init(ps);
            ps->pool = st->adv->pools[j];
            /* A DOWN site shows its last figures but has nothing to grant. */
            ps->gpus_available = views[i].up ? views[i].pools[j].gpus_available : 0;
            ps->gpus_promised = promised(st, j);
            b->pool_ptrs[j] = ps;
        }
        b->status.pools = b->pool_ptrs;
        b->status.n_pools = np;
    }
    *ret = list;
    return 0;
fail:
    sites_list_free(list);
    errno = ENOMEM;
    return -1;
}

void sites_list_free(Aifed__SiteList *list)
{
    if (!list)
        return;
    for (size_t i = 0; list->sites && i < list->n_sites; i++) {
        struct site_block *b = (struct site_block *)list->sites[i];

        if (!b)
            continue;
        free(b->pools);
        free(b->pool_ptrs);
        free(b);
    }
    free(list->sites);
    free(list);
}
