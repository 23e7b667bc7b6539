/* SPDX-License-Identifier: Apache-2.0 */
/*
 * leasesvc, driven without sockets: a real store in a temporary directory,
 * two sites that advertised, an outbox whose send function records what
 * would leave. Every ending must have every one of its effects: the lease
 * stored in its final state with its usage, the site's promise taken back,
 * the allocation settled, the site told to let go, and whoever waits told.
 * Hold timeouts and refusals move a lease to the next site, then fail it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "af_time.h"
#include "af_wire.h"
#include "alloc.h"
#include "auth.h"
#include "bconf.h"
#include "bmetrics.h"
#include "jobsvc.h"
#include "leasesvc.h"
#include "outbox.h"
#include "rpc.h"
#include "sites.h"
#include "store.h"
#include "store_jobs.h"
#include "svc.h"
#include "unit_adv.h"
#include "waiters.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROJECT "llm-eu"
#define GRANTED (100u * 3600u) /* GPU-seconds at each site */
#define GPUS    8
#define WALL_S  3600

/* The services' clocks, moved by the tests: the wall clock (now_ms) and
 * the monotonic one. advance() moves both; a step moves the wall alone. */
static int64_t now_ms, mono_now;

static int64_t test_clock(void)
{
    return now_ms;
}

static int64_t test_mono(void)
{
    return mono_now;
}

static void advance(int64_t ms)
{
    now_ms += ms;
    mono_now += ms;
}

struct sent {
    enum outbox_side side;
    Aifed__Envelope *env;
};

struct fx {
    char dir[64];
    struct bconf conf;
    struct svc s;
    struct sent sent[64];
    size_t n_sent;
};

static void capture(enum outbox_side side, const uint8_t *rid, size_t rid_len,
                    const void *buf, size_t len, void *arg)
{
    struct fx *f = arg;
    struct af_error err;

    (void)rid;
    (void)rid_len;
    assert_true(f->n_sent < 64);
    f->sent[f->n_sent].side = side;
    if (af_wire_unpack(buf, len, 1 << 20, &f->sent[f->n_sent].env, &err) < 0)
        fail_msg("sent a message that does not decode: %s", err.text);
    f->n_sent++;
}

static void forget_sent(struct fx *f)
{
    for (size_t i = 0; i < f->n_sent; i++)
        af_wire_free(f->sent[i].env);
    f->n_sent = 0;
}

/* What was sent of body about lease id, to side; NULL when nothing was. */
static const Aifed__Envelope *sent_of(const struct fx *f, enum outbox_side side, int body,
                                      const char *id)
{
    for (size_t i = 0; i < f->n_sent; i++) {
        const Aifed__Envelope *e = f->sent[i].env;
        const char *about = e->body_case == AIFED__ENVELOPE__BODY_LEASE_RELEASE
                                ? e->lease_release->lease_id
                            : e->body_case == AIFED__ENVELOPE__BODY_LEASE_HOLD
                                ? e->lease_hold->lease->id
                            : e->body_case == AIFED__ENVELOPE__BODY_LEASE_REPLY
                                ? e->lease_reply->lease->id
                                : "";
        if (f->sent[i].side == side && (int)e->body_case == body && !strcmp(about, id))
            return e;
    }
    return NULL;
}

static void add_site(struct fx *f, const char *id, const char *country, uint8_t rid)
{
    Aifed__Advertisement *a = unit_adv(id, country, 64, NULL);
    struct alloc_entry *e;

    assert_int_equal(sites_add(f->s.sites, id), 0);
    sites_advertise(f->s.sites, id, &a, mono_now, now_ms);
    sites_route_set(f->s.sites, id, &rid, 1);
    assert_non_null(e = alloc_get(f->s.allocs, PROJECT, id));
    e->granted_gpu_s = GRANTED;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct af_error err;
    char url[8];

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_leasesvc.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->conf = (struct bconf){.path = "broker.conf",
                             .hold_timeout_ms = 5000,
                             .hold_attempts = 2,
                             .map_size_mb = 64,
                             .max_waiting = 8,
                             .job_retention_ms = 30LL * 86400000,
                             .max_jobs_per_principal = 1000,
                             .max_job_mb_per_principal = 256};
    f->s.conf = &f->conf;
    f->s.clock_ms = test_clock;
    f->s.mono_ms = test_mono;
    now_ms = af_now_ms();
    mono_now = 1000000;
    svc_anchor(&f->s);
    assert_non_null(f->s.store = store_open(f->dir, 64, false, &err));
    assert_non_null(f->s.sites = sites_create(1000, 3, 1));
    assert_non_null(f->s.allocs = alloc_create());
    assert_non_null(f->s.auth = auth_create());
    assert_non_null(f->s.waiters = waiters_create(4));
    assert_non_null(f->s.metrics = bmetrics_create("off", url, sizeof(url), &err));
    assert_non_null(f->s.outbox = outbox_create(f->s.store, f->s.metrics, capture, f));
    af_signer_generate(&f->s.signer);
    add_site(f, "mimer", "SE", 1);
    add_site(f, "pharos", "GR", 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];

    forget_sent(f);
    outbox_destroy(f->s.outbox);
    bmetrics_destroy(f->s.metrics);
    waiters_destroy(f->s.waiters);
    auth_destroy(f->s.auth);
    alloc_destroy(f->s.allocs);
    sites_destroy(f->s.sites);
    store_close(f->s.store);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static uint32_t available(struct fx *f, const char *site)
{
    struct match_site *v;
    size_t n;

    assert_int_equal(sites_views(f->s.sites, PROJECT, NULL, &v, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].id, site))
            return v[i].pools[0].gpus_available;
    fail_msg("no site %s", site);
    return 0;
}

static const struct alloc_entry *alloc_at(struct fx *f, const char *site)
{
    return alloc_find(f->s.allocs, PROJECT, site);
}

static Aifed__Lease *stored(struct fx *f, const char *id)
{
    Aifed__Lease *l;

    assert_int_equal(store_lease_get(f->s.store, id, &l), 0);
    return l;
}

static void flush(struct fx *f)
{
    assert_int_equal(outbox_flush(f->s.outbox, true), 0);
}

/* A PENDING lease at site, granted, with a client waiting for it. */
static void grant(struct fx *f, const char *site, char *id)
{
    static int n;
    Aifed__Workload w = AIFED__WORKLOAD__INIT;
    Aifed__Lease l = AIFED__LEASE__INIT;
    struct outbox_peer client = {.side = OUTBOX_CLIENT, .rid = {9}, .rid_len = 1};
    char token[AF_TOKEN_MAX], rq[16];

    snprintf(id, 32, "lease-%d", ++n);
    snprintf(rq, sizeof(rq), "rq-%d", n);
    w.project = PROJECT;
    w.gpus = GPUS;
    w.walltime_s = WALL_S;
    w.accelerator = "H100";
    l.id = id;
    l.request_id = rq;
    l.principal = "user:alice";
    l.workload = &w;
    l.state = LEASE_PENDING;
    l.site = (char *)site;
    l.pool = "gpu";
    l.gpus = GPUS;
    l.nodes = 1;
    l.created_ms = l.updated_ms = now_ms;
    l.expires_ms = l.created_ms + WALL_S * 1000;
    assert_int_equal(leasesvc_grant(&f->s, &l, "user:alice", token), 0);
    assert_true(waiters_add(f->s.waiters, id, 0, &client, mono_now));
    /* The hold leaves at once: it promises nothing. */
    assert_non_null(sent_of(f, OUTBOX_AGENT, AIFED__ENVELOPE__BODY_LEASE_HOLD, id));
    flush(f);
    forget_sent(f);
    assert_int_equal(available(f, site), 64 - GPUS);
    assert_int_equal(alloc_at(f, site)->reserved_gpu_s, GPUS * WALL_S);
}

/* grant(), and the lease as stored (store_lease_free it). */
static Aifed__Lease *granted(struct fx *f, const char *site, char *id)
{
    grant(f, site, id);
    return stored(f, id);
}

/* End lease id by ev now, as stored, and commit. */
static void end_now(struct fx *f, const char *id, enum lease_event ev, uint64_t site_used)
{
    Aifed__Lease *l = stored(f, id);

    assert_int_equal(leasesvc_end(&f->s, l, ev, "ended by the test", site_used, NULL), 0);
    store_lease_free(f->s.store, l);
    flush(f);
}

/* The site held it 100 s ago; nobody waits any more. */
static void activate(struct fx *f, const char *id)
{
    Aifed__Lease *l = stored(f, id), copy;

    assert_int_equal(leasesvc_activate(&f->s, l, "sig", "key", NULL), 0);
    store_lease_free(f->s.store, l);
    l = stored(f, id);
    assert_int_equal(l->state, LEASE_ACTIVE);
    copy = *l;
    copy.activated_ms -= 100000;
    assert_int_equal(leasesvc_put(&f->s, &copy, NULL), 0);
    store_lease_free(f->s.store, l);
    flush(f);
    assert_non_null(sent_of(f, OUTBOX_CLIENT, AIFED__ENVELOPE__BODY_LEASE_REPLY, id));
    forget_sent(f);
}

/* Every effect of an ending to state with used GPU-seconds (give or take
 * the second the test took). */
static void assert_ended(struct fx *f, const char *id, const char *site, int state,
                         uint64_t used_min, uint64_t used_max, bool waited)
{
    Aifed__Lease *l = stored(f, id);
    const Aifed__Envelope *reply;

    assert_int_equal(l->state, state);
    assert_in_range(l->gpu_seconds_used, used_min, used_max);
    assert_int_equal(available(f, site), 64);
    assert_int_equal(alloc_at(f, site)->reserved_gpu_s, 0);
    assert_int_equal(alloc_at(f, site)->used_gpu_s, l->gpu_seconds_used);
    assert_non_null(sent_of(f, OUTBOX_AGENT, AIFED__ENVELOPE__BODY_LEASE_RELEASE, id));
    reply = sent_of(f, OUTBOX_CLIENT, AIFED__ENVELOPE__BODY_LEASE_REPLY, id);
    if (waited) {
        assert_non_null(reply);
        assert_int_equal(reply->lease_reply->lease->state, state);
    }
    assert_int_equal(waiters_total(f->s.waiters), 0);
    store_lease_free(f->s.store, l);
}

static void end_active(void **state, enum lease_event ev, int to, uint64_t site_used,
                       uint64_t used_min, uint64_t used_max)
{
    struct fx *f = *state;
    struct outbox_peer client = {.side = OUTBOX_CLIENT, .rid = {9}, .rid_len = 1};
    struct leasesvc_lease ended;
    char id[32];
    Aifed__Lease *l;

    grant(f, "mimer", id);
    activate(f, id);
    /* Someone waits for it again (a retried submit). */
    assert_true(waiters_add(f->s.waiters, id, 0, &client, mono_now));
    l = stored(f, id);
    assert_int_equal(leasesvc_end(&f->s, l, ev, "because", site_used, &ended), 0);
    assert_int_equal(ended.lease.state, to);
    assert_string_equal(ended.lease.reason, "because");
    store_lease_free(f->s.store, l);
    flush(f);
    assert_ended(f, id, "mimer", to, used_min, used_max, true);
}

static void release_ends_it(void **state)
{
    end_active(state, LEASE_EV_RELEASE, LEASE_RELEASED, 0, GPUS * 100, GPUS * 101);
}

static void expiry_ends_it(void **state)
{
    end_active(state, LEASE_EV_EXPIRE, LEASE_EXPIRED, 0, GPUS * 100, GPUS * 101);
}

static void revoke_ends_it(void **state)
{
    end_active(state, LEASE_EV_REVOKE, LEASE_REVOKED, 0, GPUS * 100, GPUS * 101);
}

static void lost_ends_it(void **state)
{
    end_active(state, LEASE_EV_LOST, LEASE_LOST, 0, GPUS * 100, GPUS * 101);
}

/* The site's own figure counts, but never more than the lease allowed. */
static void site_end_ends_it(void **state)
{
    struct fx *f = *state;
    char id[32];
    Aifed__Lease *l;

    end_active(state, LEASE_EV_ENDED, LEASE_RELEASED, 123, 123, 123);
    grant(f, "pharos", id);
    activate(f, id);
    end_now(f, id, LEASE_EV_ENDED, 1u << 30);
    assert_ended(f, id, "pharos", LEASE_RELEASED, GPUS * WALL_S, GPUS * WALL_S, false);
    l = stored(f, id);
    assert_true(l->usage_from_site);
    store_lease_free(f->s.store, l);
}

/* A PENDING lease released before its site answered. */
static void release_before_held(void **state)
{
    struct fx *f = *state;
    char id[32];

    grant(f, "mimer", id);
    end_now(f, id, LEASE_EV_RELEASE, 0);
    assert_ended(f, id, "mimer", LEASE_RELEASED, 0, 0, true);
}

/* An ending its state does not allow changes nothing, and says so. */
static void refused_ending_changes_nothing(void **state)
{
    struct fx *f = *state;
    char id[32];
    Aifed__Lease *l;

    l = granted(f, "mimer", id);
    assert_int_equal(leasesvc_end(&f->s, l, LEASE_EV_LOST, "lost", 0, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(leasesvc_end(&f->s, l, LEASE_EV_RENEW, "renew", 0, NULL), -1);
    store_lease_free(f->s.store, l);
    flush(f);
    assert_int_equal(f->n_sent, 0);
    l = stored(f, id);
    assert_int_equal(l->state, LEASE_PENDING);
    store_lease_free(f->s.store, l);
    assert_int_equal(available(f, "mimer"), 64 - GPUS);
    assert_int_equal(waiters_total(f->s.waiters), 1);
}

/* A hold not answered in time moves to the other site; the second time,
 * with hold_attempts 2, the lease FAILS, and its waiter is told. */
static void hold_timeout_moves_then_fails(void **state)
{
    struct fx *f = *state;
    char id[32];
    Aifed__Lease *l;
    int64_t late = (int64_t)f->conf.hold_timeout_ms + 1000;

    grant(f, "mimer", id);
    advance(late);
    leasesvc_tick(&f->s, true);
    flush(f);
    l = stored(f, id);
    assert_int_equal(l->state, LEASE_PENDING);
    assert_string_equal(l->site, "pharos");
    assert_int_equal(l->n_tried_sites, 1);
    assert_string_equal(l->tried_sites[0], "mimer");
    assert_non_null(strstr(l->reason, "moved from mimer: site mimer did not answer"));
    store_lease_free(f->s.store, l);
    assert_non_null(sent_of(f, OUTBOX_AGENT, AIFED__ENVELOPE__BODY_LEASE_HOLD, id));
    assert_null(sent_of(f, OUTBOX_CLIENT, AIFED__ENVELOPE__BODY_LEASE_REPLY, id));
    assert_int_equal(available(f, "mimer"), 64);
    assert_int_equal(available(f, "pharos"), 64 - GPUS);
    assert_int_equal(alloc_at(f, "mimer")->reserved_gpu_s, 0);
    assert_int_equal(alloc_at(f, "pharos")->reserved_gpu_s, GPUS * WALL_S);
    forget_sent(f);
    advance(late);
    leasesvc_tick(&f->s, true);
    flush(f);
    assert_ended(f, id, "pharos", LEASE_FAILED, 0, 0, true);
    l = stored(f, id);
    assert_non_null(strstr(l->reason, "no more sites tried"));
    store_lease_free(f->s.store, l);
}

/* A refused hold falls back at once; with nowhere left, it FAILS. */
static void refused_hold_falls_back(void **state)
{
    struct fx *f = *state;
    char id[32];
    Aifed__Lease *l;

    f->conf.hold_attempts = 3;
    l = granted(f, "pharos", id);
    leasesvc_hold_failed(&f->s, l, "site pharos refused the hold: full");
    store_lease_free(f->s.store, l);
    flush(f);
    l = stored(f, id);
    assert_string_equal(l->site, "mimer");
    assert_int_equal(l->state, LEASE_PENDING);
    leasesvc_hold_failed(&f->s, l, "site mimer refused the hold: full");
    store_lease_free(f->s.store, l);
    flush(f);
    assert_ended(f, id, "mimer", LEASE_FAILED, 0, 0, true);
    l = stored(f, id);
    assert_non_null(strstr(l->reason, "no other site can take it"));
    assert_int_equal(l->n_tried_sites, 2);
    store_lease_free(f->s.store, l);
    assert_int_equal(available(f, "pharos"), 64);
}

/* The expiry sweep ends what passed its end, and only that. */
static void tick_expires(void **state)
{
    struct fx *f = *state;
    char id[32], other[32];

    grant(f, "mimer", id);
    activate(f, id);
    grant(f, "pharos", other);
    activate(f, other);
    advance(WALL_S * 1000 + 1000);
    leasesvc_tick(&f->s, true);
    flush(f);
    assert_ended(f, id, "mimer", LEASE_EXPIRED, GPUS * WALL_S, GPUS * WALL_S, false);
    assert_ended(f, other, "pharos", LEASE_EXPIRED, GPUS * WALL_S, GPUS * WALL_S, false);
}

/* A failed commit: the reply becomes an error, and the promises and the
 * allocations are read again from the store, as they were. */
static void failed_commit_rebuilds_memory(void **state)
{
    struct fx *f = *state;
    char id[32];
    Aifed__Lease *l;

    l = granted(f, "mimer", id);
    assert_int_equal(leasesvc_end(&f->s, l, LEASE_EV_RELEASE, "released", 0, NULL), 0);
    store_lease_free(f->s.store, l);
    assert_int_equal(available(f, "mimer"), 64);
    errno = EIO;
    outbox_store_failed(f->s.outbox, "a write the test failed");
    assert_int_equal(outbox_flush(f->s.outbox, true), -1);
    assert_null(sent_of(f, OUTBOX_AGENT, AIFED__ENVELOPE__BODY_LEASE_RELEASE, id));
    assert_non_null(sent_of(f, OUTBOX_CLIENT, AIFED__ENVELOPE__BODY_ERROR, ""));
    assert_int_equal(leasesvc_reload(&f->s), 0);
    l = stored(f, id);
    assert_int_equal(l->state, LEASE_PENDING);
    store_lease_free(f->s.store, l);
    assert_int_equal(available(f, "mimer"), 64 - GPUS);
    assert_int_equal(alloc_at(f, "mimer")->reserved_gpu_s, GPUS * WALL_S);
}

static bool drained(struct fx *f, const char *site)
{
    struct match_site *v;
    size_t n;

    assert_int_equal(sites_views(f->s.sites, PROJECT, NULL, &v, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].id, site))
            return v[i].drained;
    fail_msg("no site %s", site);
    return false;
}

/* Drains follow the store: a committed one is there after a reload (as at
 * a restart), one whose commit failed is gone. */
static void drains_follow_the_store(void **state)
{
    struct fx *f = *state;

    assert_int_equal(store_drained_put(f->s.store, "pharos", true), 0);
    sites_drain(f->s.sites, "pharos", true);
    flush(f);
    sites_drain(f->s.sites, "pharos", false); /* memory lost, as in a restart */
    assert_int_equal(leasesvc_reload(&f->s), 0);
    assert_true(drained(f, "pharos"));
    assert_int_equal(store_drained_put(f->s.store, "mimer", true), 0);
    sites_drain(f->s.sites, "mimer", true);
    errno = EIO;
    outbox_store_failed(f->s.outbox, "a write the test failed");
    assert_int_equal(outbox_flush(f->s.outbox, true), -1);
    assert_int_equal(leasesvc_reload(&f->s), 0);
    assert_false(drained(f, "mimer"));
    assert_true(drained(f, "pharos"));
}

/* Renewing grows the walltime and the reservation, re-signs, re-holds,
 * and leaves the message read from the store as it was. */
static void renew_rehold(void **state)
{
    struct fx *f = *state;
    struct leasesvc_lease r;
    char id[32];
    Aifed__Lease *l;

    grant(f, "mimer", id);
    activate(f, id);
    l = stored(f, id);
    assert_int_equal(leasesvc_renew(&f->s, l, 600, &r), 0);
    assert_int_equal(l->workload->walltime_s, WALL_S);
    assert_int_equal(r.lease.workload->walltime_s, WALL_S + 600);
    assert_int_equal(r.lease.expires_ms, l->expires_ms + 600000);
    assert_string_not_equal(r.lease.token, l->token);
    store_lease_free(f->s.store, l);
    flush(f);
    assert_non_null(sent_of(f, OUTBOX_AGENT, AIFED__ENVELOPE__BODY_LEASE_HOLD, id));
    assert_int_equal(alloc_at(f, "mimer")->reserved_gpu_s, GPUS * (WALL_S + 600));
    l = stored(f, id);
    assert_int_equal(l->workload->walltime_s, WALL_S + 600);
    store_lease_free(f->s.store, l);
    end_now(f, id, LEASE_EV_RELEASE, 0);
    assert_int_equal(alloc_at(f, "mimer")->reserved_gpu_s, 0);
}

/* A renewal stays within the pool's maximum walltime (a day here), the
 * GPU-hours left and the allocation's end date, and says by how much it
 * may grow. */
static void renew_bounds(void **state)
{
    struct fx *f = *state;
    struct alloc_entry *e = alloc_get(f->s.allocs, PROJECT, "mimer");
    char id[32], why[AF_WIRE_MAX_TEXT];
    Aifed__Lease *l;

    grant(f, "mimer", id);
    activate(f, id);
    l = stored(f, id);
    assert_null(leasesvc_renew_refusal(&f->s, l, 3600, why, sizeof(why)));
    assert_non_null(leasesvc_renew_refusal(&f->s, l, 86400, why, sizeof(why)));
    assert_non_null(strstr(why, "allows at most 1d of walltime"));
    e->granted_gpu_s = GPUS * WALL_S + GPUS * 600; /* 10 minutes left */
    assert_non_null(leasesvc_renew_refusal(&f->s, l, 3600, why, sizeof(why)));
    assert_non_null(strstr(why, "GPU-hours left at mimer"));
    e->granted_gpu_s = GRANTED;
    e->end_ms = l->expires_ms + 1800 * 1000;
    assert_null(leasesvc_renew_refusal(&f->s, l, 1800, why, sizeof(why)));
    assert_non_null(leasesvc_renew_refusal(&f->s, l, 1801, why, sizeof(why)));
    assert_non_null(strstr(why, "so the lease can grow by at most 30m"));
    e->end_ms = l->expires_ms;
    assert_non_null(leasesvc_renew_refusal(&f->s, l, 60, why, sizeof(why)));
    assert_non_null(strstr(why, "with the lease"));
    store_lease_free(f->s.store, l);
}

/* A step of the wall clock, either way, ends no lease early and stretches
 * none, and fails no hold in flight: durations are monotonic, lease times on
 * the clock the broker started with. */
static void clock_steps_change_nothing(void **state)
{
    struct fx *f = *state;
    char a[32], b[32];
    Aifed__Lease *l;

    grant(f, "mimer", a);
    activate(f, a);
    grant(f, "pharos", b);     /* PENDING: its hold is in flight */
    now_ms += 2 * 3600 * 1000; /* two hours forward, in an instant */
    leasesvc_tick(&f->s, true);
    flush(f);
    l = stored(f, a);
    assert_int_equal(l->state, LEASE_ACTIVE);
    store_lease_free(f->s.store, l);
    l = stored(f, b);
    assert_int_equal(l->state, LEASE_PENDING);
    assert_string_equal(l->site, "pharos");
    store_lease_free(f->s.store, l);
    /* Back four hours while an hour passes: the lease ends on time. */
    now_ms -= 4 * 3600 * 1000;
    advance(WALL_S * 1000 + 1000);
    leasesvc_tick(&f->s, true);
    flush(f);
    l = stored(f, a);
    assert_int_equal(l->state, LEASE_EXPIRED);
    store_lease_free(f->s.store, l);
}

/* The wall clock stopped, the monotonic one runs: a hold still times out. */
static void holds_time_out_by_the_monotonic_clock(void **state)
{
    struct fx *f = *state;
    char id[32];
    Aifed__Lease *l;

    grant(f, "mimer", id);
    mono_now += (int64_t)f->conf.hold_timeout_ms + 1000;
    leasesvc_tick(&f->s, true);
    flush(f);
    l = stored(f, id);
    assert_string_equal(l->site, "pharos");
    store_lease_free(f->s.store, l);
}

/* A tick after the loop was away judges no hold: the answer may have come
 * in time and not be read yet. The next tick does. */
static void holds_not_judged_after_the_loop_was_away(void **state)
{
    struct fx *f = *state;
    char id[32];
    Aifed__Lease *l;

    grant(f, "mimer", id);
    advance((int64_t)f->conf.hold_timeout_ms + 3500);
    leasesvc_tick(&f->s, false);
    flush(f);
    l = stored(f, id);
    assert_int_equal(l->state, LEASE_PENDING);
    assert_string_equal(l->site, "mimer");
    store_lease_free(f->s.store, l);
    activate(f, id); /* its answer, read once the loop polled */
    leasesvc_tick(&f->s, true);
    flush(f);
    l = stored(f, id);
    assert_int_equal(l->state, LEASE_ACTIVE);
    store_lease_free(f->s.store, l);
}

/* The client's Renew, driven through the dispatch table as the server would:
 * a retry with the same request id (its answer was lost) renews once, and
 * answers with the lease as it stands. */
static void renew_retried_renews_once(void **state)
{
    struct fx *f = *state;
    const struct rpc_spec *const tables[] = {rpc_client_specs, rpc_admin_specs, NULL};
    char *projects[] = {PROJECT};
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__Renew r = AIFED__RENEW__INIT;
    struct rpc_msg m = {.from = {.side = OUTBOX_CLIENT, .rid = {5}, .rid_len = 1}};
    char id[32];
    Aifed__Lease *l;

    assert_int_equal(auth_add(f->s.auth, AUTH_USER, "alice",
                              "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", projects, 1),
                     0);
    grant(f, "mimer", id);
    activate(f, id);
    r.lease_id = id;
    r.extend_s = 600;
    r.request_id = "req-renew-1";
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_RENEW, &r);
    m.env = &env;
    m.who = auth_find(f->s.auth, "user:alice");
    for (int i = 0; i < 2; i++) {
        rpc_call(&f->s, rpc_spec_find(tables, AIFED__ENVELOPE__BODY_RENEW), &m);
        flush(f);
        assert_non_null(sent_of(f, OUTBOX_CLIENT, AIFED__ENVELOPE__BODY_LEASE_REPLY, id));
        forget_sent(f);
    }
    l = stored(f, id);
    assert_int_equal(l->workload->walltime_s, WALL_S + 600);
    store_lease_free(f->s.store, l);
    /* A new request id is a new renewal. */
    r.request_id = "req-renew-2";
    rpc_call(&f->s, rpc_spec_find(tables, AIFED__ENVELOPE__BODY_RENEW), &m);
    flush(f);
    l = stored(f, id);
    assert_int_equal(l->workload->walltime_s, WALL_S + 1200);
    store_lease_free(f->s.store, l);
}

/* A read in the batch of a write that fails is answered as a read: at once,
 * from what was last committed, and not as the failed write. */
static void reads_do_not_share_a_failed_commit(void **state)
{
    struct fx *f = *state;
    const struct rpc_spec *const tables[] = {rpc_client_specs, rpc_admin_specs, NULL};
    char *projects[] = {PROJECT};
    Aifed__Envelope renew_env = AIFED__ENVELOPE__INIT, get_env = AIFED__ENVELOPE__INIT;
    Aifed__Renew r = AIFED__RENEW__INIT;
    Aifed__GetLease g = AIFED__GET_LEASE__INIT;
    struct rpc_msg m = {.from = {.side = OUTBOX_CLIENT, .rid = {5}, .rid_len = 1}};
    const Aifed__Envelope *e;
    char id[32];
    size_t errors = 0, clients = 0;

    assert_int_equal(auth_add(f->s.auth, AUTH_USER, "alice",
                              "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", projects, 1),
                     0);
    grant(f, "mimer", id);
    activate(f, id);
    forget_sent(f);
    m.who = auth_find(f->s.auth, "user:alice");
    r.lease_id = id;
    r.extend_s = 600;
    r.request_id = "req-renew-1";
    af_wire_set_body(&renew_env, AIFED__ENVELOPE__BODY_RENEW, &r);
    m.env = &renew_env;
    rpc_call(&f->s, rpc_spec_find(tables, AIFED__ENVELOPE__BODY_RENEW), &m);
    g.lease_id = id;
    af_wire_set_body(&get_env, AIFED__ENVELOPE__BODY_GET_LEASE, &g);
    m.env = &get_env;
    rpc_call(&f->s, rpc_spec_find(tables, AIFED__ENVELOPE__BODY_GET_LEASE), &m);
    e = sent_of(f, OUTBOX_CLIENT, AIFED__ENVELOPE__BODY_LEASE_REPLY, id);
    assert_non_null(e); /* before the commit */
    assert_int_equal(e->lease_reply->lease->workload->walltime_s, WALL_S);
    errno = EIO;
    outbox_store_failed(f->s.outbox, "a write the test failed");
    assert_int_equal(outbox_flush(f->s.outbox, true), -1);
    assert_int_equal(leasesvc_reload(&f->s), 0);
    for (size_t i = 0; i < f->n_sent; i++) {
        clients += f->sent[i].side == OUTBOX_CLIENT;
        errors += f->sent[i].env->body_case == AIFED__ENVELOPE__BODY_ERROR;
    }
    assert_int_equal(errors, 1); /* the renewal's */
    assert_int_equal(clients, 2);
}

static void waiters_bound_and_wake(void **state)
{
    struct fx *f = *state;
    struct outbox_peer p = {
        .side = OUTBOX_CLIENT, .rid = {7}, .rid_len = 1, .corr_id = 42};
    Aifed__Lease l = AIFED__LEASE__INIT;
    Aifed__Workload wl = AIFED__WORKLOAD__INIT;
    struct waiters *w = f->s.waiters;

    assert_true(waiters_add(w, "lease-a", 1, &p, 1000));
    assert_true(waiters_add(w, "lease-a", 2, &p, 1000));
    assert_true(waiters_add(w, "lease-b", 1, &p, 2000));
    assert_true(waiters_add(w, "lease-c", 1, &p, 3000));
    assert_false(waiters_add(w, "lease-d", 1, &p, 3000)); /* the bound is 4 */
    assert_int_equal(waiters_count(w, 1), 3);
    assert_int_equal(waiters_count(w, 2), 1);
    wl.project = PROJECT;
    wl.gpus = 1;
    wl.walltime_s = 60;
    l.id = "lease-a";
    l.state = LEASE_ACTIVE;
    l.workload = &wl;
    waiters_wake(w, f->s.outbox, &l);
    assert_int_equal(waiters_total(w), 2);
    flush(f);
    assert_int_equal(f->n_sent, 2);
    assert_int_equal(f->sent[0].env->corr_id, 42);
    waiters_expire(w, 4000, 2500); /* lease-b waited 2000 ms: stays */
    assert_int_equal(waiters_total(w), 2);
    waiters_expire(w, 4500, 2500);
    assert_int_equal(waiters_total(w), 1);
    assert_string_equal(waiters_first(w), "lease-c");
    waiters_forget(w, "lease-c");
    assert_null(waiters_first(w));
}

static void alloc_table(void **state)
{
    struct allocs *a = alloc_create();
    struct alloc_entry *e;
    bool shared;

    (void)state;
    assert_null(alloc_find(a, "p1", "mimer"));
    assert_non_null(e = alloc_get(a, "p1", "mimer"));
    assert_ptr_equal(alloc_find(a, "p1", "mimer"), e);
    e->granted_gpu_s = 1000;
    e->used_gpu_s = 300;
    e->reserved_gpu_s = 200;
    assert_int_equal(alloc_remaining(e), 500);
    e->reserved_gpu_s = 900;
    assert_int_equal(alloc_remaining(e), 0); /* never below zero */
    assert_non_null(e = alloc_get(a, "p2", "mimer"));
    e->granted_gpu_s = 3000;
    assert_float_equal(alloc_share(a, "p1", "mimer", &shared), 0.25, 1e-9);
    assert_true(shared);
    assert_float_equal(alloc_share(a, "p1", "pharos", &shared), 1.0, 1e-9);
    assert_false(shared);
    alloc_destroy(a);
    alloc_destroy(NULL);
}

/* ---- jobs (jobsvc) ---- */

/* A spec of n_env variables of env_len bytes and n_files files of
 * file_len bytes, in bufs that live as long as the test. */
struct big_spec {
    Aifed__JobSpec spec;
    Aifed__EnvVar env[40], *envp[40];
    Aifed__JobFile file[16], *filep[16];
    char names[56][32];
    char value[4096];
    uint8_t data[16384];
};

static void make_spec(struct big_spec *b, size_t n_env, size_t env_len, size_t n_files,
                      size_t file_len)
{
    *b = (struct big_spec){.spec = AIFED__JOB_SPEC__INIT};
    memset(b->value, 'v', env_len);
    b->value[env_len] = '\0';
    memset(b->data, 'd', file_len);
    b->spec.run = "train.sh";
    b->spec.env = b->envp;
    b->spec.n_env = n_env;
    for (size_t i = 0; i < n_env; i++) {
        b->env[i] = (Aifed__EnvVar)AIFED__ENV_VAR__INIT;
        snprintf(b->names[i], sizeof(b->names[i]), "VAR_%zu", i);
        b->env[i].name = b->names[i];
        b->env[i].value = b->value;
        b->envp[i] = &b->env[i];
    }
    b->spec.files = b->filep;
    b->spec.n_files = n_files;
    for (size_t i = 0; i < n_files; i++) {
        b->file[i] = (Aifed__JobFile)AIFED__JOB_FILE__INIT;
        snprintf(b->names[40 + i], sizeof(b->names[0]), "f%zu.txt", i);
        b->file[i].name = b->names[40 + i];
        b->file[i].data.data = b->data;
        b->file[i].data.len = file_len;
        b->filep[i] = &b->file[i];
    }
}

/* Submit spec into lease as alice: 0 (id into id), or the refusal's code. */
static int submit_job(struct fx *f, const char *lease, const Aifed__JobSpec *spec,
                      char id[AF_ID_MAX + 1], struct jobsvc_refusal *why)
{
    static int n;
    Aifed__Lease *l = stored(f, lease);
    Aifed__SubmitJob sj = AIFED__SUBMIT_JOB__INIT;
    struct jobsvc_job made;
    char rq[32];
    int rc;

    snprintf(rq, sizeof(rq), "job-rq-%d", ++n);
    sj.request_id = rq;
    sj.spec = (Aifed__JobSpec *)spec;
    rc = jobsvc_submit(&f->s, l, "user:alice", &sj, &made, why);
    if (rc == 0)
        snprintf(id, AF_ID_MAX + 1, "%s", made.id);
    store_lease_free(f->s.store, l);
    assert_true(rc >= 0);
    return rc == 0 ? 0 : (int)why->code;
}

/* The site reports job id in state. */
static void report(struct fx *f, const char *id, int state)
{
    Aifed__JobStatus st = AIFED__JOB_STATUS__INIT;
    Aifed__Job *j;

    st.job_id = (char *)id;
    st.state = state;
    st.reason = "the site says so";
    assert_int_equal(store_job_get(f->s.store, id, &j), 0);
    assert_int_equal(jobsvc_report(&f->s, j, &st), 0);
    store_job_free(j);
}

static size_t sent_count(const struct fx *f, int body)
{
    size_t n = 0;

    for (size_t i = 0; i < f->n_sent; i++)
        n += (int)f->sent[i].env->body_case == body;
    return n;
}

/* An ended job keeps its variables' names and files' names and sizes, and
 * the digest of what was dropped; a report after its end changes nothing. */
static void ended_job_drops_contents(void **state)
{
    struct fx *f = *state;
    struct jobsvc_refusal why;
    struct big_spec *b = malloc(sizeof(*b));
    char lease[32], id[AF_ID_MAX + 1];
    Aifed__Job *j;

    assert_non_null(b);
    grant(f, "mimer", lease);
    activate(f, lease);
    make_spec(b, 2, 10, 1, 100);
    assert_int_equal(submit_job(f, lease, &b->spec, id, &why), 0);
    flush(f);
    assert_int_equal(sent_count(f, AIFED__ENVELOPE__BODY_START_JOB), 1);
    forget_sent(f);
    report(f, id, AIFED__JOB_STATE__JOB_RUNNING);
    report(f, id, AIFED__JOB_STATE__JOB_COMPLETED);
    report(f, id, AIFED__JOB_STATE__JOB_FAILED); /* late: changes nothing */
    flush(f);
    assert_int_equal(store_job_get(f->s.store, id, &j), 0);
    assert_int_equal(j->state, AIFED__JOB_STATE__JOB_COMPLETED);
    assert_int_equal(j->spec->n_env, 2);
    assert_string_equal(j->spec->env[1]->name, "VAR_1");
    assert_string_equal(j->spec->env[1]->value, "");
    assert_int_equal(j->spec->n_files, 1);
    assert_string_equal(j->spec->files[0]->name, "f0.txt");
    assert_int_equal(j->spec->files[0]->data.len, 0);
    assert_int_equal(j->spec->files[0]->size, 100);
    assert_int_equal(strlen(j->spec->dropped_sha256), 64);
    assert_string_equal(j->spec->run, "train.sh");
    store_job_free(j);
    free(b);
}

/* Refused: a lease not ACTIVE or SCHEDULED, a time limit past the lease's
 * end, more open jobs than a lease takes, an owner whose open jobs fill
 * its bound. Nothing refused is stored. */
static void job_refusals(void **state)
{
    struct fx *f = *state;
    struct jobsvc_refusal why;
    Aifed__JobSpec spec = AIFED__JOB_SPEC__INIT;
    char lease[32], pending[32], id[AF_ID_MAX + 1];
    uint64_t jobs, bytes;

    spec.run = "true";
    grant(f, "mimer", pending);
    assert_int_equal(submit_job(f, pending, &spec, id, &why),
                     AIFED__ERROR_CODE__ERROR_CONFLICT);
    grant(f, "pharos", lease);
    activate(f, lease);
    spec.time_limit_s = 2 * WALL_S;
    assert_int_equal(submit_job(f, lease, &spec, id, &why),
                     AIFED__ERROR_CODE__ERROR_NO_CAPACITY);
    assert_non_null(strstr(why.text, "aifedctl lease renew"));
    spec.time_limit_s = 60;
    f->conf.max_jobs_per_principal = 3;
    for (int i = 0; i < 3; i++)
        assert_int_equal(submit_job(f, lease, &spec, id, &why), 0);
    assert_int_equal(submit_job(f, lease, &spec, id, &why),
                     AIFED__ERROR_CODE__ERROR_LIMITED);
    assert_non_null(strstr(why.text, "queued or running keep their room"));
    report(f, id, AIFED__JOB_STATE__JOB_FAILED); /* one ends: its room is taken back */
    assert_int_equal(submit_job(f, lease, &spec, id, &why), 0);
    flush(f);
    store_job_usage(f->s.store, "user:alice", &jobs, &bytes);
    assert_int_equal(jobs, 3);
    f->conf.max_jobs_per_principal = 1000;
    forget_sent(f);
    for (int i = 3; i < AF_WIRE_MAX_JOBS; i++) {
        assert_int_equal(submit_job(f, lease, &spec, id, &why), 0);
        flush(f); /* what the capture holds is bounded */
        forget_sent(f);
    }
    assert_int_equal(submit_job(f, lease, &spec, id, &why),
                     AIFED__ERROR_CODE__ERROR_LIMITED);
    assert_non_null(strstr(why.text, "jobs queued or running; at most"));
    flush(f);
    forget_sent(f);
}

/* 3,000 jobs of 104 KiB each (16 files of 4 KiB, 40 variables of 1 KiB),
 * made and ended in one lease: the store keeps its owner's bound (the
 * oldest ended jobs go) and an ended job costs a few hundred bytes, so the
 * store never fills and the lease's release is recorded after them. */
static void three_thousand_jobs_stay_bounded(void **state)
{
    struct fx *f = *state;
    struct jobsvc_refusal why;
    struct big_spec *b = malloc(sizeof(*b));
    char lease[32], ids[50][AF_ID_MAX + 1];
    uint64_t jobs, bytes;
    Aifed__Lease *l;

    assert_non_null(b);
    f->conf.max_jobs_per_principal = 1000;
    f->conf.max_job_mb_per_principal = 256;
    grant(f, "mimer", lease);
    activate(f, lease);
    make_spec(b, 40, 1024, 16, 4096);
    for (int round = 0; round < 60; round++) {
        for (int i = 0; i < 50; i++)
            assert_int_equal(submit_job(f, lease, &b->spec, ids[i], &why), 0);
        flush(f);
        forget_sent(f);
        for (int i = 0; i < 50; i++)
            report(f, ids[i], AIFED__JOB_STATE__JOB_COMPLETED);
        flush(f);
    }
    store_job_usage(f->s.store, "user:alice", &jobs, &bytes);
    print_message("3000 jobs of %zu bytes made and ended: %llu stored, %llu bytes, "
                  "%.0f bytes per ended job\n",
                  aifed__job_spec__get_packed_size(&b->spec), (unsigned long long)jobs,
                  (unsigned long long)bytes, (double)bytes / (double)jobs);
    assert_true(jobs <= 1000 && jobs > 900);
    assert_true(bytes / jobs < 2048);
    assert_int_equal(store_job_count_open(f->s.store, lease), 0);
    l = stored(f, lease);
    assert_int_equal(leasesvc_end(&f->s, l, LEASE_EV_RELEASE, "released", 0, NULL), 0);
    store_lease_free(f->s.store, l);
    flush(f);
    forget_sent(f);
    free(b);
}

/* A site's open jobs are sent again once per new connection (or return
 * after a silence), never for a Hello on the same one, and at most once
 * per JOBSVC_RESUME_GAP_MS: one held back goes from the tick. */
static void jobs_resent_once_per_connection(void **state)
{
    struct fx *f = *state;
    struct jobsvc_refusal why;
    Aifed__JobSpec spec = AIFED__JOB_SPEC__INIT;
    char lease[32], id[AF_ID_MAX + 1];
    uint8_t rid = 7;

    spec.run = "true";
    grant(f, "mimer", lease);
    activate(f, lease);
    jobsvc_site_heard(&f->s, "mimer"); /* its first connection's */
    assert_int_equal(submit_job(f, lease, &spec, id, &why), 0);
    assert_int_equal(submit_job(f, lease, &spec, id, &why), 0);
    flush(f);
    forget_sent(f);
    jobsvc_site_heard(&f->s, "mimer"); /* the same connection: nothing */
    flush(f);
    assert_int_equal(sent_count(f, AIFED__ENVELOPE__BODY_START_JOB), 0);
    advance(JOBSVC_RESUME_GAP_MS);
    sites_route_set(f->s.sites, "mimer", &rid, 1); /* a new connection */
    jobsvc_site_heard(&f->s, "mimer");
    flush(f);
    assert_int_equal(sent_count(f, AIFED__ENVELOPE__BODY_START_JOB), 2);
    forget_sent(f);
    for (int i = 0; i < 10; i++) { /* reconnecting as fast as it can */
        rid = (uint8_t)(10 + i);
        sites_route_set(f->s.sites, "mimer", &rid, 1);
        jobsvc_site_heard(&f->s, "mimer");
    }
    flush(f);
    assert_int_equal(sent_count(f, AIFED__ENVELOPE__BODY_START_JOB), 0);
    advance(JOBSVC_RESUME_GAP_MS);
    jobsvc_tick(&f->s);
    flush(f);
    assert_int_equal(sent_count(f, AIFED__ENVELOPE__BODY_START_JOB), 2);
    forget_sent(f);
    jobsvc_tick(&f->s);
    flush(f);
    assert_int_equal(sent_count(f, AIFED__ENVELOPE__BODY_START_JOB), 0);
}

/* Ended jobs go after the retention period, by the tick. */
static void jobs_pruned_after_retention(void **state)
{
    struct fx *f = *state;
    struct jobsvc_refusal why;
    Aifed__JobSpec spec = AIFED__JOB_SPEC__INIT;
    char lease[32], id[AF_ID_MAX + 1], open_id[AF_ID_MAX + 1];
    Aifed__Job *j;

    spec.run = "true";
    f->conf.job_retention_ms = 60000;
    grant(f, "mimer", lease);
    activate(f, lease);
    assert_int_equal(submit_job(f, lease, &spec, id, &why), 0);
    assert_int_equal(submit_job(f, lease, &spec, open_id, &why), 0);
    report(f, id, AIFED__JOB_STATE__JOB_COMPLETED);
    flush(f);
    advance(59000);
    jobsvc_tick(&f->s);
    flush(f);
    assert_int_equal(store_job_get(f->s.store, id, &j), 0);
    store_job_free(j);
    advance(2000);
    jobsvc_tick(&f->s);
    flush(f);
    assert_int_equal(store_job_get(f->s.store, id, &j), -1);
    assert_int_equal(store_job_get(f->s.store, open_id, &j), 0); /* open: stays */
    store_job_free(j);
    forget_sent(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(release_ends_it, setup, teardown),
        cmocka_unit_test_setup_teardown(expiry_ends_it, setup, teardown),
        cmocka_unit_test_setup_teardown(revoke_ends_it, setup, teardown),
        cmocka_unit_test_setup_teardown(lost_ends_it, setup, teardown),
        cmocka_unit_test_setup_teardown(site_end_ends_it, setup, teardown),
        cmocka_unit_test_setup_teardown(release_before_held, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_ending_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(hold_timeout_moves_then_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_hold_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(tick_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_commit_rebuilds_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(renew_rehold, setup, teardown),
        cmocka_unit_test_setup_teardown(drains_follow_the_store, setup, teardown),
        cmocka_unit_test_setup_teardown(renew_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(clock_steps_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(holds_time_out_by_the_monotonic_clock, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(holds_not_judged_after_the_loop_was_away, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(reads_do_not_share_a_failed_commit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(renew_retried_renews_once, setup, teardown),
        cmocka_unit_test_setup_teardown(waiters_bound_and_wake, setup, teardown),
        cmocka_unit_test_setup_teardown(ended_job_drops_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(job_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(three_thousand_jobs_stay_bounded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(jobs_resent_once_per_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(jobs_pruned_after_retention, setup, teardown),
        cmocka_unit_test(alloc_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
