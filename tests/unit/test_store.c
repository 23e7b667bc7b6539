/* SPDX-License-Identifier: Apache-2.0 */
/* store: durability across reopen, indexes, batches, paging, expiry. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "af_audit.h"
#include "af_ids.h"
#include "lease.h"
#include "store.h"
#include "store_audit.h"
#include "store_records.h"
#include "store_jobs.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fixture {
    char dir[64];
    struct store *st;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct af_error err;

    strcpy(f->dir, "/tmp/aifed-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->st = store_open(f->dir, 64, false, &err);
    *state = f;
    return f->st ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    store_close(f->st);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* A lease for tests; strings are borrowed from the arguments. */
static void make(Aifed__Lease *l, Aifed__Workload *w, const char *id, const char *site,
                 const char *project, int state, int64_t expires)
{
    aifed__workload__init(w);
    w->project = (char *)project;
    w->gpus = 4;
    w->walltime_s = 60;
    aifed__lease__init(l);
    l->id = (char *)id;
    l->site = (char *)site;
    l->pool = "gpu";
    l->workload = w;
    l->state = state;
    l->gpus = 4;
    l->expires_ms = expires;
    l->request_id = (char *)id;
}

static void put(struct store *st, const char *id, const char *site, const char *project,
                int state, int64_t expires)
{
    Aifed__Lease l;
    Aifed__Workload w;

    make(&l, &w, id, site, project, state, expires);
    assert_int_equal(store_lease_put(st, &l, "user:alice"), 0);
}

struct collect {
    char ids[64][70];
    size_t n;
    size_t stop_at;
};

static int collect(const Aifed__Lease *l, void *arg)
{
    struct collect *c = arg;

    snprintf(c->ids[c->n++], sizeof(c->ids[0]), "%s", l->id);
    return c->stop_at && c->n == c->stop_at ? 1 : 0;
}

static void put_get_survives_reopen(void **state)
{
    struct fixture *f = *state;
    struct af_error err;
    Aifed__Lease *l;
    char id[80];

    put(f->st, "lease-a", "meluxina", "llm-eu", LEASE_ACTIVE, 1000);
    assert_int_equal(store_commit(f->st), 0);
    store_close(f->st);
    f->st = store_open(f->dir, 64, false, &err);
    assert_non_null(f->st);
    assert_int_equal(store_lease_get(f->st, "lease-a", &l), 0);
    assert_string_equal(l->site, "meluxina");
    assert_int_equal(l->state, LEASE_ACTIVE);
    store_lease_free(f->st, l);
    assert_int_equal(store_idem_get(f->st, "user:alice", "lease-a", id, sizeof(id)), 0);
    assert_string_equal(id, "lease-a");
    assert_int_equal(store_idem_get(f->st, "user:bob", "lease-a", id, sizeof(id)), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(store_lease_get(f->st, "lease-zz", &l), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(store_lease_count(f->st), 1);
}

static void batch_is_visible_then_aborted(void **state)
{
    struct fixture *f = *state;
    Aifed__Lease *l;
    char id[80];

    put(f->st, "lease-b", "bsc", "bio-x", LEASE_PENDING, 0);
    assert_true(store_in_batch(f->st));
    /* Reads inside the batch see its writes (same request id in one batch). */
    assert_int_equal(store_lease_get(f->st, "lease-b", &l), 0);
    store_lease_free(f->st, l);
    assert_int_equal(store_idem_get(f->st, "user:alice", "lease-b", id, sizeof(id)), 0);
    store_abort(f->st);
    assert_false(store_in_batch(f->st));
    assert_int_equal(store_lease_get(f->st, "lease-b", &l), -1);
    assert_int_equal(errno, ENOENT);
}

static void indexes_follow_updates(void **state)
{
    struct fixture *f = *state;
    struct store_filter by_site = {.site = "mimer"}, pending = {.state = LEASE_PENDING},
                        active = {.state = LEASE_ACTIVE},
                        proj = {.project = "vision-sme"},
                        both = {.site = "mimer", .project = "llm-eu"};
    struct collect c = {0};

    put(f->st, "lease-1", "mimer", "llm-eu", LEASE_PENDING, 0);
    put(f->st, "lease-2", "mimer", "vision-sme", LEASE_PENDING, 0);
    put(f->st, "lease-3", "pharos", "vision-sme", LEASE_PENDING, 0);
    assert_int_equal(store_commit(f->st), 0);

    assert_int_equal(store_lease_list(f->st, &by_site, NULL, collect, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.ids[0], "lease-1");
    assert_string_equal(c.ids[1], "lease-2");
    c.n = 0;
    assert_int_equal(store_lease_list(f->st, &proj, NULL, collect, &c), 0);
    assert_int_equal(c.n, 2);
    c.n = 0;
    assert_int_equal(store_lease_list(f->st, &both, NULL, collect, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.ids[0], "lease-1");

    /* lease-2 becomes ACTIVE: it leaves the PENDING index, joins ACTIVE. */
    put(f->st, "lease-2", "mimer", "vision-sme", LEASE_ACTIVE, 5000);
    assert_int_equal(store_commit(f->st), 0);
    c.n = 0;
    assert_int_equal(store_lease_list(f->st, &pending, NULL, collect, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.ids[0], "lease-1");
    assert_string_equal(c.ids[1], "lease-3");
    c.n = 0;
    assert_int_equal(store_lease_list(f->st, &active, NULL, collect, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.ids[0], "lease-2");
}

static void paging_resumes_after_the_last_id(void **state)
{
    struct fixture *f = *state;
    struct store_filter all = {0}, site = {.site = "lumi-ai"};
    struct collect c = {.stop_at = 3};
    char id[32];

    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "lease-%02d", i);
        put(f->st, id, "lumi-ai", "llm-eu", LEASE_ACTIVE, 0);
    }
    assert_int_equal(store_commit(f->st), 0);
    for (int pass = 0; pass < 2; pass++) {
        const struct store_filter *flt = pass ? &site : &all;
        char after[70] = "";
        size_t seen = 0;

        for (int page = 0; page < 5; page++) {
            c.n = 0;
            assert_int_equal(
                store_lease_list(f->st, flt, after[0] ? after : NULL, collect, &c), 0);
            for (size_t i = 0; i < c.n; i++) {
                snprintf(id, sizeof(id), "lease-%02zu", seen + i);
                assert_string_equal(c.ids[i], id);
            }
            seen += c.n;
            if (c.n == 0)
                break;
            strcpy(after, c.ids[c.n - 1]);
        }
        assert_int_equal(seen, 10);
    }
}

static int expire_fn(const Aifed__Lease *l, void *arg)
{
    struct fixture *f = arg;
    Aifed__Lease copy = *l;

    copy.state = LEASE_EXPIRED;
    return store_lease_put(f->st, &copy, NULL);
}

static void expiry_visits_only_due_open_leases(void **state)
{
    struct fixture *f = *state;
    struct collect c = {0};

    put(f->st, "lease-early", "bsc", "llm-eu", LEASE_ACTIVE, 1000);
    put(f->st, "lease-late", "bsc", "llm-eu", LEASE_ACTIVE, 9000);
    put(f->st, "lease-done", "bsc", "llm-eu", LEASE_RELEASED, 500);
    put(f->st, "lease-mid", "bsc", "llm-eu", LEASE_ACTIVE, 5000);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(store_lease_expired(f->st, 5000, collect, &c), 0);
    store_abort(f->st);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.ids[0], "lease-early");
    assert_string_equal(c.ids[1], "lease-mid");
    /* Expiring them removes them from the expiry index. */
    assert_int_equal(store_lease_expired(f->st, 5000, expire_fn, f), 0);
    assert_int_equal(store_commit(f->st), 0);
    c.n = 0;
    assert_int_equal(store_lease_expired(f->st, 10000, collect, &c), 0);
    store_abort(f->st);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.ids[0], "lease-late");
}

static void readonly_cannot_write(void **state)
{
    struct fixture *f = *state;
    struct af_error err;
    struct store *ro;
    Aifed__Lease l;
    Aifed__Workload w;
    Aifed__Lease *got;

    put(f->st, "lease-ro", "pharos", "llm-eu", LEASE_ACTIVE, 0);
    assert_int_equal(store_commit(f->st), 0);
    ro = store_open(f->dir, 64, true, &err);
    assert_non_null(ro);
    assert_int_equal(store_lease_get(ro, "lease-ro", &got), 0);
    store_lease_free(ro, got);
    make(&l, &w, "lease-x", "pharos", "llm-eu", LEASE_ACTIVE, 0);
    assert_int_equal(store_lease_put(ro, &l, NULL), -1);
    assert_int_equal(errno, EROFS);
    store_close(ro);
}

struct chain {
    struct af_audit_check check;
    char changes[8][32];
    size_t n;
    bool intact;
};

static int follow(const Aifed__AuditEntry *e, void *arg)
{
    struct chain *c = arg;

    c->intact &= af_audit_follows(&c->check, e);
    snprintf(c->changes[c->n++ % 8], sizeof(c->changes[0]), "%s", e->change);
    return 0;
}

/* Every state change is in the audit log, in the lease's own transaction,
 * chained; restating a lease unchanged adds nothing; an abort adds nothing. */
static void audit_follows_every_change(void **state)
{
    struct fixture *f = *state;
    struct chain c = {.intact = true};

    put(f->st, "lease-a", "mimer", "llm-eu", LEASE_PENDING, 1000);
    put(f->st, "lease-a", "mimer", "llm-eu", LEASE_ACTIVE, 1000);
    put(f->st, "lease-a", "mimer", "llm-eu", LEASE_ACTIVE, 1000); /* no change */
    put(f->st, "lease-a", "mimer", "llm-eu", LEASE_ACTIVE, 5000); /* renewed */
    assert_int_equal(store_commit(f->st), 0);
    put(f->st, "lease-a", "mimer", "llm-eu", LEASE_RELEASED, 0);
    store_abort(f->st);
    assert_int_equal(store_audit_append(f->st, "user:carol", "user:carol",
                                        "principal revoked", "by admin:ops"),
                     0);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(store_audit_list(f->st, 0, follow, &c), 0);
    assert_true(c.intact);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.changes[0], "NEW->PENDING");
    assert_string_equal(c.changes[1], "PENDING->ACTIVE");
    assert_string_equal(c.changes[2], "ACTIVE renewed by 4s");
    assert_string_equal(c.changes[3], "principal revoked");
    /* Paging resumes after a given entry. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_audit_list(f->st, 2, follow, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.changes[0], "ACTIVE renewed by 4s");
}

static int gather(const char *site, void *arg)
{
    char *buf = arg;

    strcat(buf, site);
    strcat(buf, " ");
    return 0;
}

/* Drained sites survive a reopen; an undrain removes the record; the list
 * sees only drains, not the schema beside them in the meta database. */
static void drains_are_stored(void **state)
{
    struct fixture *f = *state;
    struct af_error err;
    char seen[256] = "";

    assert_int_equal(store_drained_put(f->st, "pharos", true), 0);
    assert_int_equal(store_drained_put(f->st, "mimer", true), 0);
    assert_int_equal(store_drained_put(f->st, "lumi-ai", false), 0); /* never drained */
    assert_int_equal(store_commit(f->st), 0);
    store_close(f->st);
    assert_non_null(f->st = store_open(f->dir, 64, false, &err));
    assert_int_equal(store_drained_list(f->st, gather, seen), 0);
    assert_string_equal(seen, "mimer pharos ");
    assert_int_equal(store_drained_put(f->st, "mimer", false), 0);
    assert_int_equal(store_commit(f->st), 0);
    seen[0] = '\0';
    assert_int_equal(store_drained_list(f->st, gather, seen), 0);
    assert_string_equal(seen, "pharos ");
}

/* A request record for tests: strings are borrowed. */
static int put_record(struct store *st, const char *principal, const char *rid,
                      int64_t ms, size_t keep)
{
    Aifed__RequestRecord r = AIFED__REQUEST_RECORD__INIT;
    Aifed__Workload w = AIFED__WORKLOAD__INIT;

    w.project = "llm-eu";
    r.principal = (char *)principal;
    r.request_id = (char *)rid;
    r.workload = &w;
    r.created_ms = ms;
    r.refusal = "no site can take it";
    return store_request_put(st, &r, keep);
}

static bool has_record(struct store *st, const char *principal, const char *rid)
{
    Aifed__RequestRecord *r = NULL;
    int rc = store_request_get(st, principal, rid, &r);

    store_request_free(r);
    return rc == 0;
}

/* One principal cannot make the broker keep more than its bound: its oldest
 * records go as it makes new ones, and nobody else's do. */
static void requests_are_bounded_per_principal(void **state)
{
    struct fixture *f = *state;
    char rid[16];

    for (int i = 1; i <= 5; i++) {
        snprintf(rid, sizeof(rid), "r%d", i);
        assert_int_equal(put_record(f->st, "user:alice", rid, 1000 * i, 3), 0);
    }
    assert_int_equal(put_record(f->st, "user:bob", "r1", 500, 3), 0);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(store_request_count(f->st, "user:alice"), 3);
    assert_false(has_record(f->st, "user:alice", "r1"));
    assert_false(has_record(f->st, "user:alice", "r2"));
    for (int i = 3; i <= 5; i++) {
        snprintf(rid, sizeof(rid), "r%d", i);
        assert_true(has_record(f->st, "user:alice", rid));
    }
    assert_true(has_record(f->st, "user:bob", "r1"));
    assert_int_equal(store_request_count(f->st, "user:bob"), 1);
    /* A lower bound (a reload) takes effect at the next record. */
    assert_int_equal(put_record(f->st, "user:alice", "r6", 6000, 1), 0);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(store_request_count(f->st, "user:alice"), 1);
    assert_true(has_record(f->st, "user:alice", "r6"));
}

/* Records and request ids past the retention go, oldest first, as many as
 * asked at a time; a record made again is aged from its remaking. */
static void records_are_pruned_by_age(void **state)
{
    struct fixture *f = *state;
    char id[AF_ID_MAX + 1];

    assert_int_equal(put_record(f->st, "user:alice", "old", 100, 10), 0);
    assert_int_equal(store_idem_put(f->st, "user:alice", "rn1", "lease-1", 150), 0);
    assert_int_equal(put_record(f->st, "user:alice", "again", 200, 10), 0);
    assert_int_equal(put_record(f->st, "user:alice", "again", 900, 10), 0);
    assert_int_equal(put_record(f->st, "user:alice", "young", 400, 10), 0);
    assert_int_equal(store_idem_put(f->st, "user:alice", "rn2", "lease-2", 350), 0);
    /* Known already: aged from when it was first made, not again. */
    assert_int_equal(store_idem_put(f->st, "user:alice", "rn1", "lease-1", 5000), 0);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(store_records_prune(f->st, 320, 1), 1);
    assert_false(has_record(f->st, "user:alice", "old"));
    assert_int_equal(store_idem_get(f->st, "user:alice", "rn1", id, sizeof(id)), 0);
    assert_int_equal(store_records_prune(f->st, 320, 100),
                     1); /* "again" is younger now */
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(store_idem_get(f->st, "user:alice", "rn1", id, sizeof(id)), -1);
    assert_int_equal(errno, ENOENT);
    assert_true(has_record(f->st, "user:alice", "again"));
    assert_true(has_record(f->st, "user:alice", "young"));
    assert_int_equal(store_idem_get(f->st, "user:alice", "rn2", id, sizeof(id)), 0);
    assert_string_equal(id, "lease-2");
    assert_int_equal(store_request_count(f->st, "user:alice"), 2);
    assert_int_equal(store_records_prune(f->st, 320, 100), 0);
    assert_false(store_in_batch(f->st)); /* nothing due opens no batch */
    assert_int_equal(store_records_prune(f->st, 1000, 100), 3);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(store_request_count(f->st, "user:alice"), 0);
}

/* Make the closed store in dir look as an older broker left it: drop the
 * databases it did not have, and write its schema. */
struct db_name {
    const char *name;
    unsigned flags;
};

static void downgrade(const char *dir, const char *schema, const struct db_name *drop)
{
    MDB_val k = {6, "schema"}, v = {strlen(schema), (void *)schema};
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;

    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    for (; drop->name; drop++) {
        assert_int_equal(mdb_dbi_open(txn, drop->name, drop->flags, &dbi), 0);
        assert_int_equal(mdb_drop(txn, dbi, 1), 0);
    }
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* A store written before records had ages (schema 1) is indexed when a
 * broker opens it, so that its records are bounded too. */
static void schema_1_records_are_indexed(void **state)
{
    struct fixture *f = *state;
    struct af_error err;
    char id[AF_ID_MAX + 1];

    assert_int_equal(put_record(f->st, "user:alice", "r1", 100, 10), 0);
    assert_int_equal(store_idem_put(f->st, "user:alice", "rn1", "lease-1", 100), 0);
    assert_int_equal(store_commit(f->st), 0);
    store_close(f->st);
    f->st = NULL;
    /* Undo what schema 2 added, as a schema 1 broker left it. */
    downgrade(f->dir, "1",
              (const struct db_name[]){
                  {"record_age", 0}, {"request_owner", MDB_DUPSORT}, {NULL, 0}});

    assert_null(store_open(f->dir, 64, true, &err)); /* read-only cannot upgrade */
    assert_non_null(strstr(err.text, "start aifed-broker once"));
    assert_non_null(f->st = store_open(f->dir, 64, false, &err));
    assert_int_equal(store_request_count(f->st, "user:alice"), 1);
    assert_int_equal(store_records_prune(f->st, 200, 100), 1); /* the record */
    assert_int_equal(store_commit(f->st), 0);
    assert_false(has_record(f->st, "user:alice", "r1"));
    /* The request id was aged as of the upgrade, now: it stays. */
    assert_int_equal(store_idem_get(f->st, "user:alice", "rn1", id, sizeof(id)), 0);
}

/* Store job id of lease-1 at mimer, alice's, in state (ended at ended_ms
 * when that is an end); its packed size into *size when size is not NULL. */
static int put_job_at(struct store *st, const char *id, const char *project, int state,
                      int64_t ended_ms, size_t *size)
{
    Aifed__Job j = AIFED__JOB__INIT;
    Aifed__JobSpec spec = AIFED__JOB_SPEC__INIT;

    spec.run = "true";
    j.id = (char *)id;
    j.lease_id = "lease-1";
    j.site = "mimer";
    j.project = (char *)project;
    j.principal = "user:alice";
    j.spec = &spec;
    j.state = state;
    j.ended_ms = ended_ms;
    if (size)
        *size = aifed__job__get_packed_size(&j);
    return store_job_put(st, &j);
}

static int put_job(struct store *st, const char *id, const char *project, int state)
{
    return put_job_at(st, id, project, state, 0, NULL);
}

struct ids {
    char v[8][AF_ID_MAX + 1];
    size_t n;
};

static int add_id(const Aifed__Job *j, void *arg)
{
    struct ids *ids = arg;

    if (ids->n < 8)
        snprintf(ids->v[ids->n++], sizeof(ids->v[0]), "%s", j->id);
    return 0;
}

static size_t listed(struct store *st, enum store_jobs_by by, const char *key,
                     struct ids *ids)
{
    ids->n = 0;
    assert_int_equal(store_job_list(st, by, key, add_id, ids), 0);
    return ids->n;
}

/* Jobs are found by lease and project; only the open ones by site, which
 * is what a site that connects again is asked about. */
static void jobs_are_indexed(void **state)
{
    struct fixture *f = *state;
    struct ids ids;

    assert_int_equal(put_job(f->st, "job-1", "llm-eu", AIFED__JOB_STATE__JOB_RUNNING), 0);
    assert_int_equal(put_job(f->st, "job-2", "vision", AIFED__JOB_STATE__JOB_QUEUED), 0);
    assert_int_equal(put_job(f->st, "job-3", "llm-eu", AIFED__JOB_STATE__JOB_FAILED), 0);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(listed(f->st, STORE_JOBS_LEASE, "lease-1", &ids), 3);
    assert_int_equal(listed(f->st, STORE_JOBS_PROJECT, "llm-eu", &ids), 2);
    assert_string_equal(ids.v[0], "job-1");
    assert_string_equal(ids.v[1], "job-3");
    assert_int_equal(listed(f->st, STORE_JOBS_OPEN, "mimer", &ids), 2);
    assert_string_equal(ids.v[1], "job-2");
    /* It ends: no longer open, still the project's. */
    assert_int_equal(put_job(f->st, "job-1", "llm-eu", AIFED__JOB_STATE__JOB_COMPLETED),
                     0);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(listed(f->st, STORE_JOBS_OPEN, "mimer", &ids), 1);
    assert_string_equal(ids.v[0], "job-2");
    assert_int_equal(listed(f->st, STORE_JOBS_PROJECT, "llm-eu", &ids), 2);
    ids.n = 0;
    assert_int_equal(store_job_each(f->st, add_id, &ids), 0); /* newest first */
    assert_int_equal(ids.n, 3);
    assert_string_equal(ids.v[0], "job-3");
}

/* A store whose jobs were indexed by lease only (schema 2) gets the other
 * indexes when a broker opens it. */
static void schema_2_jobs_are_indexed(void **state)
{
    struct fixture *f = *state;
    struct af_error err;
    struct ids ids;

    assert_int_equal(put_job(f->st, "job-1", "llm-eu", AIFED__JOB_STATE__JOB_RUNNING), 0);
    assert_int_equal(put_job(f->st, "job-2", "llm-eu", AIFED__JOB_STATE__JOB_FAILED), 0);
    assert_int_equal(store_commit(f->st), 0);
    store_close(f->st);
    f->st = NULL;
    downgrade(f->dir, "2",
              (const struct db_name[]){{"jobs_by_project", MDB_DUPSORT},
                                       {"jobs_open", MDB_DUPSORT},
                                       {NULL, 0}});

    assert_non_null(f->st = store_open(f->dir, 64, false, &err));
    assert_int_equal(listed(f->st, STORE_JOBS_PROJECT, "llm-eu", &ids), 2);
    assert_int_equal(listed(f->st, STORE_JOBS_OPEN, "mimer", &ids), 1);
    assert_string_equal(ids.v[0], "job-1");
}

/* A lease's open jobs are counted, and an owner's jobs and bytes, by every
 * put and delete, without a walk. */
static void jobs_are_counted(void **state)
{
    struct fixture *f = *state;
    size_t a, b, c;
    uint64_t jobs, bytes;

    assert_int_equal(
        put_job_at(f->st, "job-1", "p", AIFED__JOB_STATE__JOB_RUNNING, 0, &a), 0);
    assert_int_equal(put_job_at(f->st, "job-2", "p", AIFED__JOB_STATE__JOB_QUEUED, 0, &b),
                     0);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(store_job_count_open(f->st, "lease-1"), 2);
    store_job_usage(f->st, "user:alice", &jobs, &bytes);
    assert_int_equal(jobs, 2);
    assert_int_equal(bytes, a + b);
    /* job-1 ends (a bigger record now: its end time) */
    assert_int_equal(
        put_job_at(f->st, "job-1", "p", AIFED__JOB_STATE__JOB_FAILED, 5000, &c), 0);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(store_job_count_open(f->st, "lease-1"), 1);
    store_job_usage(f->st, "user:alice", &jobs, &bytes);
    assert_int_equal(jobs, 2);
    assert_int_equal(bytes, c + b);
    assert_int_equal(store_job_delete(f->st, "job-1"), 0);
    assert_int_equal(store_job_delete(f->st, "job-1"), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(store_job_delete(f->st, "job-2"), 0);
    assert_int_equal(store_commit(f->st), 0);
    store_job_usage(f->st, "user:alice", &jobs, &bytes);
    assert_int_equal(jobs, 0);
    assert_int_equal(bytes, 0);
    assert_int_equal(store_job_count_open(f->st, "lease-1"), 0);
}

/* Retention deletes the jobs that ended before its cut, oldest end first,
 * bounded per call, with every index entry of theirs. */
static void ended_jobs_are_pruned(void **state)
{
    struct fixture *f = *state;
    struct ids ids;
    uint64_t jobs, bytes;

    assert_int_equal(
        put_job_at(f->st, "job-1", "p", AIFED__JOB_STATE__JOB_FAILED, 3000, NULL), 0);
    assert_int_equal(
        put_job_at(f->st, "job-2", "p", AIFED__JOB_STATE__JOB_COMPLETED, 1000, NULL), 0);
    assert_int_equal(
        put_job_at(f->st, "job-3", "p", AIFED__JOB_STATE__JOB_RUNNING, 0, NULL), 0);
    assert_int_equal(
        put_job_at(f->st, "job-4", "p", AIFED__JOB_STATE__JOB_CANCELLED, 2000, NULL), 0);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(store_jobs_prune(f->st, 2500, 1), 1);  /* job-2, the first to end */
    assert_int_equal(store_jobs_prune(f->st, 2500, 10), 1); /* job-4 */
    assert_int_equal(store_jobs_prune(f->st, 2500, 10), 0);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(listed(f->st, STORE_JOBS_PROJECT, "p", &ids), 2);
    assert_string_equal(ids.v[0], "job-1");
    assert_string_equal(ids.v[1], "job-3");
    assert_int_equal(listed(f->st, STORE_JOBS_LEASE, "lease-1", &ids), 2);
    assert_int_equal(listed(f->st, STORE_JOBS_PRINCIPAL, "user:alice", &ids), 2);
    store_job_usage(f->st, "user:alice", &jobs, &bytes);
    assert_int_equal(jobs, 2);
}

/* An owner at its bound loses its oldest ended jobs, never an open one. */
static void eviction_takes_the_oldest_ended(void **state)
{
    struct fixture *f = *state;
    struct ids ids;

    assert_int_equal(
        put_job_at(f->st, "job-1", "p", AIFED__JOB_STATE__JOB_RUNNING, 0, NULL), 0);
    assert_int_equal(
        put_job_at(f->st, "job-2", "p", AIFED__JOB_STATE__JOB_FAILED, 9000, NULL), 0);
    assert_int_equal(
        put_job_at(f->st, "job-3", "p", AIFED__JOB_STATE__JOB_FAILED, 1000, NULL), 0);
    assert_int_equal(store_jobs_evict(f->st, "user:alice", 1), 1);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(listed(f->st, STORE_JOBS_PRINCIPAL, "user:alice", &ids), 2);
    assert_string_equal(ids.v[0], "job-1");
    assert_string_equal(ids.v[1], "job-3");
    assert_int_equal(store_jobs_evict(f->st, "user:alice", 10), 1);
    assert_int_equal(store_jobs_evict(f->st, "user:alice", 10), 0);
    assert_int_equal(store_jobs_evict(f->st, "user:bob", 10), 0);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(listed(f->st, STORE_JOBS_PRINCIPAL, "user:alice", &ids), 1);
    assert_string_equal(ids.v[0], "job-1");
}

/* A schema 3 store gets the job bounds' indexes and counts when a broker
 * opens it. */
static void schema_3_jobs_are_counted(void **state)
{
    struct fixture *f = *state;
    struct af_error err;
    struct ids ids;
    uint64_t jobs, bytes;

    assert_int_equal(
        put_job_at(f->st, "job-1", "p", AIFED__JOB_STATE__JOB_RUNNING, 0, NULL), 0);
    assert_int_equal(
        put_job_at(f->st, "job-2", "p", AIFED__JOB_STATE__JOB_FAILED, 1000, NULL), 0);
    assert_int_equal(store_commit(f->st), 0);
    store_close(f->st);
    f->st = NULL;
    downgrade(f->dir, "3",
              (const struct db_name[]){{"jobs_lease_open", MDB_DUPSORT},
                                       {"jobs_by_principal", MDB_DUPSORT},
                                       {"jobs_ended", 0},
                                       {"job_usage", 0},
                                       {NULL, 0}});

    assert_non_null(f->st = store_open(f->dir, 64, false, &err));
    assert_int_equal(store_job_count_open(f->st, "lease-1"), 1);
    store_job_usage(f->st, "user:alice", &jobs, &bytes);
    assert_int_equal(jobs, 2);
    assert_true(bytes > 0);
    assert_int_equal(listed(f->st, STORE_JOBS_PRINCIPAL, "user:alice", &ids), 2);
    assert_int_equal(store_jobs_prune(f->st, 2000, 10), 1);
    assert_int_equal(store_commit(f->st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(put_get_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(batch_is_visible_then_aborted, setup, teardown),
        cmocka_unit_test_setup_teardown(indexes_follow_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(paging_resumes_after_the_last_id, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(expiry_visits_only_due_open_leases, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(readonly_cannot_write, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_follows_every_change, setup, teardown),
        cmocka_unit_test_setup_teardown(drains_are_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(requests_are_bounded_per_principal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(records_are_pruned_by_age, setup, teardown),
        cmocka_unit_test_setup_teardown(schema_1_records_are_indexed, setup, teardown),
        cmocka_unit_test_setup_teardown(jobs_are_indexed, setup, teardown),
        cmocka_unit_test_setup_teardown(schema_2_jobs_are_indexed, setup, teardown),
        cmocka_unit_test_setup_teardown(jobs_are_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(ended_jobs_are_pruned, setup, teardown),
        cmocka_unit_test_setup_teardown(eviction_takes_the_oldest_ended, setup, teardown),
        cmocka_unit_test_setup_teardown(schema_3_jobs_are_counted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
