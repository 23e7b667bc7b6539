/* SPDX-License-Identifier: Apache-2.0 */
/* Envelope decoding: what a daemon accepts and what it refuses, and why. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "af_wire.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *countries[] = {"LU", "DE"}; /* read-only */

static void fill_submit(Aifed__Envelope *env, Aifed__Submit *s, Aifed__Workload *w)
{
    aifed__workload__init(w);
    w->project = "llm-eu";
    w->accelerator = "H100";
    w->gpus = 8;
    w->walltime_s = 3600;
    w->countries = countries;
    w->n_countries = 2;
    aifed__submit__init(s);
    s->request_id = "req-1";
    s->workload = w;
    aifed__envelope__init(env);
    env->version = AF_WIRE_VERSION;
    env->corr_id = 42;
    env->body_case = AIFED__ENVELOPE__BODY_SUBMIT;
    env->submit = s;
}

/* Pack env; returns the buffer (caller frees). */
static uint8_t *pack(const Aifed__Envelope *env, size_t *len)
{
    void *buf;

    assert_int_equal(af_wire_pack(env, &buf, len), 0);
    return buf;
}

static int unpack(const void *buf, size_t len, struct af_error *err)
{
    Aifed__Envelope *out = NULL;
    int rc = af_wire_unpack(buf, len, AF_WIRE_MAX_DEFAULT, &out, err);

    if (rc == 0)
        af_wire_free(out);
    return rc;
}

/* env must be refused with errno want_errno and an error text containing why. */
static void expect_refused(const Aifed__Envelope *env, int want_errno, const char *why)
{
    struct af_error err = {{0}};
    size_t len;
    uint8_t *buf = pack(env, &len);

    errno = 0;
    assert_int_equal(unpack(buf, len, &err), -1);
    assert_int_equal(errno, want_errno);
    if (!strstr(err.text, why))
        fail_msg("error '%s' does not say '%s'", err.text, why);
    free(buf);
}

static void expect_accepted(const Aifed__Envelope *env)
{
    struct af_error err = {{0}};
    size_t len;
    uint8_t *buf = pack(env, &len);

    if (unpack(buf, len, &err) != 0)
        fail_msg("refused: %s", err.text);
    free(buf);
}

static void round_trip(void **state)
{
    Aifed__Envelope env, *out = NULL;
    Aifed__Submit s;
    Aifed__Workload w;
    struct af_error err;
    size_t len;
    uint8_t *buf;

    (void)state;
    fill_submit(&env, &s, &w);
    buf = pack(&env, &len);
    assert_int_equal(af_wire_unpack(buf, len, AF_WIRE_MAX_DEFAULT, &out, &err), 0);
    assert_int_equal(out->corr_id, 42);
    assert_int_equal(out->body_case, AIFED__ENVELOPE__BODY_SUBMIT);
    assert_string_equal(out->submit->request_id, "req-1");
    assert_string_equal(out->submit->workload->project, "llm-eu");
    assert_int_equal(out->submit->workload->gpus, 8);
    assert_int_equal(out->submit->workload->n_countries, 2);
    assert_string_equal(out->submit->workload->countries[1], "DE");
    af_wire_free(out);
    free(buf);
}

static void truncated_is_refused(void **state)
{
    Aifed__Envelope env;
    Aifed__Submit s;
    Aifed__Workload w;
    struct af_error err;
    size_t len;
    uint8_t *buf;

    (void)state;
    fill_submit(&env, &s, &w);
    buf = pack(&env, &len);
    /* Every proper prefix either fails to decode or fails validation. */
    for (size_t cut = 0; cut < len; cut++) {
        errno = 0;
        assert_int_equal(unpack(buf, cut, &err), -1);
        assert_true(errno == EBADMSG || errno == EPROTONOSUPPORT);
    }
    free(buf);
}

static void oversized_is_refused(void **state)
{
    Aifed__Envelope env, *out = NULL;
    Aifed__Submit s;
    Aifed__Workload w;
    struct af_error err;
    size_t len;
    uint8_t *buf;

    (void)state;
    fill_submit(&env, &s, &w);
    buf = pack(&env, &len);
    assert_int_equal(af_wire_unpack(buf, len, len - 1, &out, &err), -1);
    assert_int_equal(errno, EMSGSIZE);
    assert_non_null(strstr(err.text, "exceeds the limit"));
    free(buf);
}

static void garbage_is_refused(void **state)
{
    struct af_error err;
    uint8_t junk[256];

    (void)state;
    srand(7);
    for (int round = 0; round < 500; round++) {
        size_t n = (size_t)(rand() % (int)sizeof(junk));
        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t)rand();
        /* Must not crash; if it decodes at all it was validated. */
        (void)unpack(junk, n, &err);
    }
}

static void wrong_version_is_unsupported(void **state)
{
    Aifed__Envelope env;
    Aifed__Submit s;
    Aifed__Workload w;

    (void)state;
    fill_submit(&env, &s, &w);
    env.version = 99;
    expect_refused(&env, EPROTONOSUPPORT, "version 99");
}

static void empty_body_is_refused(void **state)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;

    (void)state;
    env.version = AF_WIRE_VERSION;
    expect_refused(&env, EPROTONOSUPPORT, "not supported");
}

static void missing_and_bad_fields(void **state)
{
    Aifed__Envelope env;
    Aifed__Submit s;
    Aifed__Workload w;
    char *bad_countries[] = {"LU", "Germany"};

    (void)state;
    fill_submit(&env, &s, &w);
    s.request_id = "";
    expect_refused(&env, EBADMSG, "request_id is required");

    fill_submit(&env, &s, &w);
    w.project = "../etc/passwd";
    expect_refused(&env, EBADMSG, "workload.project is not a valid id");

    fill_submit(&env, &s, &w);
    w.gpus = 0;
    expect_refused(&env, EBADMSG, "gpus must be at least 1");

    fill_submit(&env, &s, &w);
    w.countries = bad_countries;
    expect_refused(&env, EBADMSG, "ISO 3166");

    /* A data item's size is bounded (a sum of unbounded ones wrapped). */
    {
        Aifed__DataItem d = AIFED__DATA_ITEM__INIT, *dp[] = {&d};

        fill_submit(&env, &s, &w);
        d.name = "eurlex";
        d.kind = AIFED__DATA_KIND__DATA_DATASET;
        d.size_bytes = AF_WIRE_MAX_DATA_BYTES;
        w.data = dp;
        w.n_data = 1;
        expect_accepted(&env);
        d.size_bytes = 1ULL << 63;
        expect_refused(&env, EBADMSG, "size_bytes is more than 8 PiB");
    }
}

/* Registry calls: the id names its kind, the key is real Z85. */
static void principal_add_is_checked(void **state)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__PrincipalAdd a = AIFED__PRINCIPAL_ADD__INIT;
    char *projects[] = {"bio-x"};

    (void)state;
    env.version = AF_WIRE_VERSION;
    env.body_case = AIFED__ENVELOPE__BODY_PRINCIPAL_ADD;
    env.principal_add = &a;
    a.id = "user:carol";
    a.public_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    a.projects = projects;
    a.n_projects = 1;
    expect_accepted(&env);
    a.id = "carol";
    expect_refused(&env, EBADMSG, "site:ID, user:NAME, admin:NAME or gateway:NAME");
    a.id = "user:../carol";
    expect_refused(&env, EBADMSG, "principal name");
    a.id = "user:carol";
    a.public_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf"; /* 39 */
    expect_refused(&env, EBADMSG, "40 Z85 characters");
    a.public_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\""; /* '"' is not Z85 */
    expect_refused(&env, EBADMSG, "40 Z85 characters");
}

/* Enum values outside the schema are refused; the newest error code (every
 * code the broker sends) is taken. */
static void unknown_enum_is_refused(void **state)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__ListLeases q = AIFED__LIST_LEASES__INIT;
    Aifed__Error e = AIFED__ERROR__INIT;

    (void)state;
    env.version = AF_WIRE_VERSION;
    env.body_case = AIFED__ENVELOPE__BODY_LIST_LEASES;
    env.list_leases = &q;
    q.state = (Aifed__LeaseState)77;
    expect_refused(&env, EBADMSG, "not a known lease state");
    q.state = AIFED__LEASE_STATE__LEASE_ACTIVE;
    expect_accepted(&env);

    env.body_case = AIFED__ENVELOPE__BODY_ERROR;
    env.error = &e;
    e.message = "starting";
    e.code = AIFED__ERROR_CODE__ERROR_STARTING;
    expect_accepted(&env);
    e.code = (Aifed__ErrorCode)(AIFED__ERROR_CODE__ERROR_STARTING + 1);
    expect_refused(&env, EBADMSG, "not a known error code");
}

static void too_many_pools_is_refused(void **state)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__Advertisement a = AIFED__ADVERTISEMENT__INIT;
    Aifed__Site site = AIFED__SITE__INIT;
    Aifed__Pool pools[AF_WIRE_MAX_POOLS + 1];
    Aifed__Pool *ptrs[AF_WIRE_MAX_POOLS + 1];
    char names[AF_WIRE_MAX_POOLS + 1][16];

    (void)state;
    site.id = "meluxina";
    site.country = "LU";
    for (int i = 0; i <= AF_WIRE_MAX_POOLS; i++) {
        aifed__pool__init(&pools[i]);
        snprintf(names[i], sizeof(names[i]), "p%d", i);
        pools[i].name = names[i];
        pools[i].accelerator = "A100";
        ptrs[i] = &pools[i];
    }
    a.site = &site;
    a.pools = ptrs;
    env.version = AF_WIRE_VERSION;
    env.body_case = AIFED__ENVELOPE__BODY_ADVERTISEMENT;
    env.advertisement = &a;

    a.n_pools = AF_WIRE_MAX_POOLS;
    expect_accepted(&env);
    a.n_pools = AF_WIRE_MAX_POOLS + 1;
    expect_refused(&env, EBADMSG, "too many pools");

    /* A pool claiming more free GPUs than it has is refused too. */
    a.n_pools = 1;
    pools[0].gpus_total = 4;
    pools[0].gpus_per_node = 4;
    pools[0].nodes_total = 1;
    pools[0].gpus_free = 5;
    expect_refused(&env, EBADMSG, "gpus_free exceeds gpus_total");
}

/* The validators that answered a refusal with 1 (the caller took only
 * negative values as refusals) now refuse: each bound, one case each. */
static void every_refusal_refuses(void **state)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__Hello h = AIFED__HELLO__INIT;
    Aifed__Welcome w = AIFED__WELCOME__INIT;
    Aifed__LeaseHeld held = AIFED__LEASE_HELD__INIT;
    Aifed__SiteAccess access = AIFED__SITE_ACCESS__INIT;
    Aifed__Revoke r = AIFED__REVOKE__INIT;
    char long_text[AF_WIRE_MAX_TEXT + 2];

    (void)state;
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    env.version = AF_WIRE_VERSION;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_HELLO, &h);
    h.agent_version = "0.1.0";
    expect_accepted(&env);
    h.agent_version = long_text;
    expect_refused(&env, EBADMSG, "hello.agent_version is too long");
    h.agent_version = "0.1.0";
    h.signing_key = "not a key";
    expect_refused(&env, EBADMSG, "hello.signing_key holds a character");
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_WELCOME, &w);
    w.principal = long_text;
    expect_refused(&env, EBADMSG, "welcome.principal is too long");
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_LEASE_HELD, &held);
    held.lease_id = "../../etc/passwd";
    expect_refused(&env, EBADMSG, "lease_id is not a valid id");
    held.lease_id = "lease-1";
    held.signature = long_text;
    expect_refused(&env, EBADMSG, "signature is too long");
    held.signature = "";
    held.access = &access;
    access.scheduler = "slurm";
    access.reservation = "aifed-lease-1";
    access.partition = "gpu";
    access.account = "alice";
    expect_accepted(&env);
    /* What a user would paste into a shell: ids only. */
    access.reservation = "x; rm -rf ~";
    expect_refused(&env, EBADMSG, "access.reservation is not a valid id");
    access.reservation = "aifed-lease-1";
    access.partition = "\033[2J";
    expect_refused(&env, EBADMSG, "access.partition is not a valid id");
    access.partition = "gpu";
    access.account = long_text;
    expect_refused(&env, EBADMSG, "access.account is not a valid id");
    access.account = "alice";
    access.scheduler = "sl urm";
    expect_refused(&env, EBADMSG, "access.scheduler is not a valid id");
    held.access = NULL;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_REVOKE, &r);
    r.lease_id = "lease-1";
    r.reason = "ops asked";
    expect_accepted(&env);
    r.reason = long_text;
    expect_refused(&env, EBADMSG, "reason is too long");
    r.lease_id = "";
    r.reason = "";
    expect_refused(&env, EBADMSG, "lease_id is required");
}

/* Free text is one line without control characters: no escape sequence
 * reaches a terminal, no newline forges a log line, and a site's degraded
 * text is bounded like any other. */
static void free_text_is_one_clean_line(void **state)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__LeaseRefused lr = AIFED__LEASE_REFUSED__INIT;
    Aifed__Advertisement a = AIFED__ADVERTISEMENT__INIT;
    Aifed__Site site = AIFED__SITE__INIT;
    char *big = malloc(4096), line[] = "sinfo failed:\nerror: x";

    (void)state;
    assert_non_null(big);
    env.version = AF_WIRE_VERSION;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_LEASE_REFUSED, &lr);
    lr.lease_id = "lease-1";
    lr.reason = "pool full (Grüße)";
    expect_accepted(&env);
    lr.reason = "full\n2026-12-01 aifed-broker: forged line";
    expect_refused(&env, EBADMSG, "reason holds a control character");
    lr.reason = "\x1b[2J\x1b[Hwiped";
    expect_refused(&env, EBADMSG, "reason holds a control character");
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_ADVERTISEMENT, &a);
    a.site = &site;
    site.id = "pharos";
    site.name = "Pharos";
    expect_accepted(&env);
    site.name = "Pha\x1b]0;owned\x07ros";
    expect_refused(&env, EBADMSG, "site.name holds a control character");
    site.name = "Pharos";
    memset(big, 'x', 4095);
    big[4095] = '\0';
    site.degraded = big;
    expect_refused(&env, EBADMSG, "site.degraded is too long");
    /* What the agent sends is cleaned first. */
    af_wire_clean_text(line);
    assert_string_equal(line, "sinfo failed: error: x");
    site.degraded = line;
    expect_accepted(&env);
    free(big);
}

/* Every time a client sends is bounded (so that its sums with a walltime
 * cannot wrap), and so is every count of GPU-seconds. */
static void times_are_bounded(void **state)
{
    Aifed__Envelope env;
    Aifed__Submit s;
    Aifed__Workload w;
    Aifed__AllocationSet set = AIFED__ALLOCATION_SET__INIT;
    Aifed__Allocation a = AIFED__ALLOCATION__INIT;

    (void)state;
    fill_submit(&env, &s, &w);
    w.not_before_ms = AF_WIRE_MAX_TIME_MS;
    expect_accepted(&env);
    w.not_before_ms = INT64_MAX;
    expect_refused(&env, EBADMSG, "workload.not_before is not a time between");
    w.not_before_ms = 0;
    w.start_by_ms = AF_WIRE_MAX_TIME_MS + 1;
    expect_refused(&env, EBADMSG, "workload.start_by is not a time between");
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_ALLOCATION_SET, &set);
    set.allocation = &a;
    a.project = "llm-eu";
    a.site = "mimer";
    a.granted_gpu_s = AF_WIRE_MAX_GPU_S;
    a.end_ms = AF_WIRE_MAX_TIME_MS;
    expect_accepted(&env);
    a.end_ms = INT64_MAX;
    expect_refused(&env, EBADMSG, "allocation.end is not a time between");
    a.end_ms = 0;
    a.granted_gpu_s = UINT64_MAX;
    expect_refused(&env, EBADMSG, "more GPU-seconds than the broker counts");
}

/* af_wire_set_body fills any case of the oneof; af_wire_copy copies any
 * message deeply (the copy outlives the original). */
static void set_body_and_copy(void **state)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT, *back;
    Aifed__Release rel = AIFED__RELEASE__INIT;
    Aifed__Lease l = AIFED__LEASE__INIT, *copy;
    Aifed__Workload w = AIFED__WORKLOAD__INIT;
    char id[] = "lease-1";
    struct af_error err;
    void *buf;
    size_t len;

    (void)state;
    rel.lease_id = "lease-1";
    env.version = AF_WIRE_VERSION;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_RELEASE, &rel);
    assert_int_equal(env.body_case, AIFED__ENVELOPE__BODY_RELEASE);
    assert_ptr_equal(env.release, &rel);
    assert_int_equal(af_wire_pack(&env, &buf, &len), 0);
    assert_int_equal(af_wire_unpack(buf, len, AF_WIRE_MAX_DEFAULT, &back, &err), 0);
    assert_string_equal(back->release->lease_id, "lease-1");
    af_wire_free(back);
    free(buf);
    w.project = "llm-eu";
    l.id = id;
    l.workload = &w;
    assert_non_null(copy = af_wire_copy(&l));
    id[0] = 'X';
    assert_string_equal(copy->id, "lease-1");
    assert_string_equal(copy->workload->project, "llm-eu");
    assert_ptr_not_equal(copy->workload, &w);
    aifed__lease__free_unpacked(copy, NULL);
}

/* Job bodies: each bound refuses. */
static void job_bodies_are_bounded(void **state)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__SubmitJob sj = AIFED__SUBMIT_JOB__INIT;
    Aifed__JobSpec spec = AIFED__JOB_SPEC__INIT;
    Aifed__EnvVar var = AIFED__ENV_VAR__INIT, *vars[AF_WIRE_MAX_ENV + 1];
    Aifed__JobStatus st = AIFED__JOB_STATUS__INIT;
    static char script[AF_WIRE_MAX_SCRIPT + 2];

    (void)state;
    env.version = AF_WIRE_VERSION;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_SUBMIT_JOB, &sj);
    sj.request_id = "req-1";
    sj.lease_id = "lease-1";
    expect_refused(&env, EBADMSG, "spec is required");
    sj.spec = &spec;
    expect_refused(&env, EBADMSG, "spec.run is required");
    spec.run = "echo hi\n\tpython train.py\n";
    expect_accepted(&env);
    memset(script, 'x', sizeof(script) - 1);
    spec.run = script;
    expect_refused(&env, EBADMSG, "spec.run is too long");
    spec.run = "echo \033[2J";
    expect_refused(&env, EBADMSG, "spec.run holds a control character");
    spec.run = "true";
    spec.setup = script;
    expect_refused(&env, EBADMSG, "spec.setup is too long");
    spec.setup = "";
    var.name = "1BAD";
    var.value = "x";
    for (size_t i = 0; i <= AF_WIRE_MAX_ENV; i++)
        vars[i] = &var;
    spec.env = vars;
    spec.n_env = 1;
    expect_refused(&env, EBADMSG, "spec.env.name is not a variable name");
    var.name = "EPOCHS";
    expect_accepted(&env);
    spec.n_env = AF_WIRE_MAX_ENV + 1;
    expect_refused(&env, EBADMSG, "spec.env has too many entries");
    spec.n_env = 1;
    var.value = script;
    expect_refused(&env, EBADMSG, "spec.env.value is too long");
    var.value = "3";
    sj.lease_id = "../lease";
    expect_refused(&env, EBADMSG, "lease_id is not a valid id");
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_JOB_STATUS, &st);
    st.job_id = "job-1";
    st.state = AIFED__JOB_STATE__JOB_RUNNING;
    expect_accepted(&env);
    st.state = 99;
    expect_refused(&env, EBADMSG, "state is not a known job state");
    st.state = AIFED__JOB_STATE__JOB_COMPLETED;
    st.site_job_id = "pid 1; rm";
    expect_refused(&env, EBADMSG, "site_job_id is not a valid id");
    {
        Aifed__GetJobLog g = AIFED__GET_JOB_LOG__INIT;
        Aifed__JobLogChunk c = AIFED__JOB_LOG_CHUNK__INIT;
        Aifed__JobLog l = AIFED__JOB_LOG__INIT;
        static uint8_t piece[AF_WIRE_MAX_LOG_CHUNK + 1];

        af_wire_set_body(&env, AIFED__ENVELOPE__BODY_GET_JOB_LOG, &g);
        g.job_id = "job-1";
        g.max_bytes = AF_WIRE_MAX_LOG_CHUNK;
        expect_accepted(&env);
        g.max_bytes = AF_WIRE_MAX_LOG_CHUNK + 1;
        expect_refused(&env, EBADMSG, "max_bytes is too large");
        af_wire_set_body(&env, AIFED__ENVELOPE__BODY_JOB_LOG_CHUNK, &c);
        expect_refused(&env, EBADMSG, "log is required");
        c.log = &l;
        l.job_id = "job-1";
        l.data.data = piece;
        l.data.len = AF_WIRE_MAX_LOG_CHUNK;
        expect_accepted(&env);
        l.data.len = AF_WIRE_MAX_LOG_CHUNK + 1;
        expect_refused(&env, EBADMSG, "log.data is too long");
    }
}

/* Files sent along stay inside the job's directory and within their bounds;
 * a list may name a lease, a project and a state, each checked. */
static void job_files_and_lists_are_checked(void **state)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__SubmitJob sj = AIFED__SUBMIT_JOB__INIT;
    Aifed__JobSpec spec = AIFED__JOB_SPEC__INIT;
    Aifed__JobFile f = AIFED__JOB_FILE__INIT, g = AIFED__JOB_FILE__INIT;
    Aifed__JobFile *files[AF_WIRE_MAX_FILES + 1];
    Aifed__ListJobs l = AIFED__LIST_JOBS__INIT;
    static uint8_t big[AF_WIRE_MAX_FILES_SIZE + 1];
    static const char *const bad[] = {"/etc/passwd", "../x", "a/../../x", "a//b",
                                      "a/",          ".",    "a/./b",     "x y",
                                      "a;b",         "",     NULL};

    (void)state;
    env.version = AF_WIRE_VERSION;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_SUBMIT_JOB, &sj);
    sj.request_id = "req-1";
    sj.lease_id = "lease-1";
    sj.spec = &spec;
    spec.run = "sh train.sh";
    f.name = "conf/train.yaml";
    f.data.data = big;
    f.data.len = 10;
    g.name = "train.sh";
    for (size_t i = 0; i <= AF_WIRE_MAX_FILES; i++)
        files[i] = &f;
    files[1] = &g;
    spec.files = files;
    spec.n_files = 2;
    expect_accepted(&env);
    for (size_t i = 0; bad[i]; i++) {
        f.name = (char *)bad[i];
        expect_refused(&env, EBADMSG,
                       "spec.files.name is not a path inside the job's "
                       "directory");
    }
    f.name = ".hidden/..x";
    expect_accepted(&env);
    g.name = f.name;
    expect_refused(&env, EBADMSG, "spec.files names a file twice");
    g.name = "train.sh";
    spec.n_files = AF_WIRE_MAX_FILES + 1;
    expect_refused(&env, EBADMSG, "spec.files has too many entries");
    spec.n_files = 2;
    f.data.len = AF_WIRE_MAX_FILES_SIZE + 1;
    expect_refused(&env, EBADMSG, "spec.files is too large");

    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_LIST_JOBS, &l);
    expect_accepted(&env); /* every job the caller may see */
    l.project = "llm-eu";
    l.state = AIFED__JOB_STATE__JOB_RUNNING;
    expect_accepted(&env);
    l.state = 42;
    expect_refused(&env, EBADMSG, "state is not a known job state");
    l.state = 0;
    l.project = "llm eu";
    expect_refused(&env, EBADMSG, "project is not a valid id");
}

/* A NUL byte inside a string is refused wherever it is (C would cut the
 * string there): the test packs a marker (ZQ) and makes it a NUL on the wire. */
static void nul_in_a_string_is_refused(void **state)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__SubmitJob sj = AIFED__SUBMIT_JOB__INIT;
    Aifed__JobSpec spec = AIFED__JOB_SPEC__INIT;
    Aifed__JobFile f = AIFED__JOB_FILE__INIT, *files[] = {&f};
    Aifed__EnvVar v = AIFED__ENV_VAR__INIT, *vars[] = {&v};
    const char *const where[] = {"JobSpec.run", "JobFile.name", "EnvVar.value"};

    (void)state;
    env.version = AF_WIRE_VERSION;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_SUBMIT_JOB, &sj);
    sj.request_id = "req-1";
    sj.lease_id = "lease-1";
    sj.spec = &spec;
    spec.files = files;
    spec.n_files = 1;
    spec.env = vars;
    spec.n_env = 1;
    v.name = "TOKEN";
    for (int i = 0; i < 3; i++) {
        struct af_error err = {{0}};
        size_t len;
        uint8_t *buf, *at;

        spec.run = i == 0 ? "echo okZQrm -rf ~" : "echo ok";
        f.name = i == 1 ? "trainZQ.sh" : "train.sh";
        v.value = i == 2 ? "secretZQtail" : "secret";
        expect_accepted(&env);
        buf = pack(&env, &len);
        assert_non_null(at = memmem(buf, len, "ZQ", 2));
        *at = '\0';
        errno = 0;
        assert_int_equal(unpack(buf, len, &err), -1);
        assert_int_equal(errno, EBADMSG);
        if (!strstr(err.text, where[i]) || !strstr(err.text, "NUL byte"))
            fail_msg("error '%s' does not name %s", err.text, where[i]);
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(truncated_is_refused),
        cmocka_unit_test(oversized_is_refused),
        cmocka_unit_test(garbage_is_refused),
        cmocka_unit_test(wrong_version_is_unsupported),
        cmocka_unit_test(empty_body_is_refused),
        cmocka_unit_test(missing_and_bad_fields),
        cmocka_unit_test(unknown_enum_is_refused),
        cmocka_unit_test(principal_add_is_checked),
        cmocka_unit_test(too_many_pools_is_refused),
        cmocka_unit_test(set_body_and_copy),
        cmocka_unit_test(every_refusal_refuses),
        cmocka_unit_test(job_bodies_are_bounded),
        cmocka_unit_test(job_files_and_lists_are_checked),
        cmocka_unit_test(free_text_is_one_clean_line),
        cmocka_unit_test(times_are_bounded),
        cmocka_unit_test(nul_in_a_string_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
