/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mkseeds: one valid envelope of every body, with every field set, written
 * to DIR for fuzz_wire to start from. protobuf-c's decoder is not
 * instrumented, so without seeds libFuzzer rarely builds a message that
 * reaches the validators at all.
 */
#include "af_wire.h"

#include "aifed.pb-c.h"

#include <stdio.h>
#include <stdlib.h>

static int n_written;

static void emit(const char *dir, Aifed__Envelope *env)
{
    char path[512];
    void *buf;
    size_t len;
    FILE *f;

    env->version = AF_WIRE_VERSION;
    env->corr_id = 7;
    snprintf(path, sizeof(path), "%s/seed-%02d", dir, n_written++);
    if (af_wire_pack(env, &buf, &len) < 0 || !(f = fopen(path, "wb")) ||
        fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    free(buf);
}

#define EMIT_TO(dir, kase, field, value)                                                 \
    do {                                                                                 \
        aifed__envelope__init(&env);                                                     \
        env.body_case = AIFED__ENVELOPE__BODY_##kase;                                    \
        env.field = value;                                                               \
        emit(dir, &env);                                                                 \
    } while (0)

/* The registry, lifecycle and audit bodies. */
static void more_seeds(const char *dir)
{
    static char *projects[] = {"bio-x"};
    static char *keys[] = {"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"};
    Aifed__Envelope env;
    Aifed__Principal pr = AIFED__PRINCIPAL__INIT, *prs[] = {&pr};
    Aifed__PrincipalAdd padd = AIFED__PRINCIPAL_ADD__INIT;
    Aifed__PrincipalRemoveKey prm = AIFED__PRINCIPAL_REMOVE_KEY__INIT;
    Aifed__PrincipalRevoke prev = AIFED__PRINCIPAL_REVOKE__INIT;
    Aifed__ListPrincipals lp = AIFED__LIST_PRINCIPALS__INIT;
    Aifed__PrincipalList plist = AIFED__PRINCIPAL_LIST__INIT;
    Aifed__Renew renew = AIFED__RENEW__INIT;
    Aifed__Revoke revoke = AIFED__REVOKE__INIT;
    Aifed__ListAudit la = AIFED__LIST_AUDIT__INIT;
    Aifed__AuditEntry ae = AIFED__AUDIT_ENTRY__INIT, *aes[] = {&ae};
    Aifed__AuditList alist = AIFED__AUDIT_LIST__INIT;
    Aifed__SiteAdmin sa = AIFED__SITE_ADMIN__INIT;

    padd.id = pr.id = prm.id = prev.id = "user:carol";
    padd.public_key = prm.public_key = keys[0];
    padd.projects = pr.projects = projects;
    padd.n_projects = pr.n_projects = 1;
    pr.public_keys = keys;
    pr.n_public_keys = 1;
    plist.principals = prs;
    plist.n_principals = 1;
    renew.lease_id = revoke.lease_id = ae.subject = "lease-1";
    renew.extend_s = 3600;
    revoke.reason = "incident";
    la.limit = 10;
    ae.seq = 1;
    ae.change = "NEW->PENDING";
    ae.hash = "00ff";
    alist.entries = aes;
    alist.n_entries = 1;
    sa.site = "mimer";
    sa.action = AIFED__SITE_ACTION__SITE_DRAIN;
    EMIT_TO(dir, PRINCIPAL_ADD, principal_add, &padd);
    EMIT_TO(dir, PRINCIPAL_REMOVE_KEY, principal_remove_key, &prm);
    EMIT_TO(dir, PRINCIPAL_REVOKE, principal_revoke, &prev);
    EMIT_TO(dir, LIST_PRINCIPALS, list_principals, &lp);
    EMIT_TO(dir, PRINCIPAL_LIST, principal_list, &plist);
    EMIT_TO(dir, RENEW, renew, &renew);
    EMIT_TO(dir, REVOKE, revoke, &revoke);
    EMIT_TO(dir, LIST_AUDIT, list_audit, &la);
    EMIT_TO(dir, AUDIT_LIST, audit_list, &alist);
    EMIT_TO(dir, SITE_ADMIN, site_admin, &sa);
}

int main(int argc, char **argv)
{
    static char *countries[] = {"LU", "DE"}, *certs[] = {"iso27001"},
                *ids[] = {"lease-1"};
    Aifed__DataItem di = AIFED__DATA_ITEM__INIT, *dis[] = {&di};
    Aifed__Weights wt = AIFED__WEIGHTS__INIT;
    Aifed__Workload w = AIFED__WORKLOAD__INIT;
    Aifed__StartEstimate se = AIFED__START_ESTIMATE__INIT, *ses[] = {&se};
    Aifed__Pool pool = AIFED__POOL__INIT, *pools[] = {&pool};
    Aifed__Window win = AIFED__WINDOW__INIT, *wins[] = {&win};
    Aifed__Site site = AIFED__SITE__INIT;
    Aifed__Lease lease = AIFED__LEASE__INIT, *leases[] = {&lease};
    Aifed__ScoreParts parts = AIFED__SCORE_PARTS__INIT;
    Aifed__Candidate cand = AIFED__CANDIDATE__INIT, *cands[] = {&cand};
    Aifed__Allocation al = AIFED__ALLOCATION__INIT, *als[] = {&al};
    Aifed__PoolStatus ps = AIFED__POOL_STATUS__INIT, *pss[] = {&ps};
    Aifed__SiteStatus ss = AIFED__SITE_STATUS__INIT, *sss[] = {&ss};
    Aifed__RequestRecord rr = AIFED__REQUEST_RECORD__INIT;
    Aifed__Error e = AIFED__ERROR__INIT;
    Aifed__Hello hello = AIFED__HELLO__INIT;
    Aifed__Welcome welcome = AIFED__WELCOME__INIT;
    Aifed__Advertisement adv = AIFED__ADVERTISEMENT__INIT;
    Aifed__LeaseHold hold = AIFED__LEASE_HOLD__INIT;
    Aifed__LeaseHeld held = AIFED__LEASE_HELD__INIT;
    Aifed__LeaseRefused refused = AIFED__LEASE_REFUSED__INIT;
    Aifed__LeaseRelease rel = AIFED__LEASE_RELEASE__INIT;
    Aifed__LeaseEnded ended = AIFED__LEASE_ENDED__INIT;
    Aifed__Submit submit = AIFED__SUBMIT__INIT;
    Aifed__Explain explain = AIFED__EXPLAIN__INIT;
    Aifed__ExplainReply er = AIFED__EXPLAIN_REPLY__INIT;
    Aifed__GetLease gl = AIFED__GET_LEASE__INIT;
    Aifed__ListLeases ll = AIFED__LIST_LEASES__INIT;
    Aifed__LeaseList llist = AIFED__LEASE_LIST__INIT;
    Aifed__LeaseReply lr = AIFED__LEASE_REPLY__INIT;
    Aifed__Release release = AIFED__RELEASE__INIT;
    Aifed__ListSites ls = AIFED__LIST_SITES__INIT;
    Aifed__SiteList slist = AIFED__SITE_LIST__INIT;
    Aifed__GetRequest greq = AIFED__GET_REQUEST__INIT;
    Aifed__RequestReply rrep = AIFED__REQUEST_REPLY__INIT;
    Aifed__AllocationSet aset = AIFED__ALLOCATION_SET__INIT;
    Aifed__ListAllocations lal = AIFED__LIST_ALLOCATIONS__INIT;
    Aifed__AllocationList alist = AIFED__ALLOCATION_LIST__INIT;
    Aifed__Envelope env;

    if (argc != 2) {
        fprintf(stderr, "usage: mkseeds DIR\n");
        return 2;
    }
    di.kind = AIFED__DATA_KIND__DATA_MODEL;
    di.name = "llama3-70b";
    di.size_bytes = 140000000000ULL;
    wt.time = 4;
    wt.fit = 0.1;
    w.project = "llm-eu";
    w.accelerator = "H100";
    w.gpus = 16;
    w.nodes = 2;
    w.gpu_memory_gb = 80;
    w.walltime_s = 3600;
    w.countries = countries;
    w.n_countries = 2;
    w.cpus_per_node = 64;
    w.memory_per_node_gb = 512;
    w.not_before_ms = 1800000000000LL;
    w.start_by_ms = 1800003600000LL;
    w.certifications = certs;
    w.n_certifications = 1;
    w.data = dis;
    w.n_data = 1;
    w.prefer = AIFED__PREFERENCE__PREFER_GREEN;
    w.weights = &wt;
    se.gpus = 16;
    se.wait_s = 300;
    pool.name = "gpu";
    pool.accelerator = "H100";
    pool.gpu_memory_gb = 80;
    pool.gpus_per_node = 8;
    pool.nodes_total = 40;
    pool.gpus_total = 320;
    pool.gpus_free = 64;
    pool.cpus_per_node = 112;
    pool.memory_per_node_gb = 2048;
    pool.max_walltime_s = 259200;
    pool.queue_wait_s = 600;
    pool.starts = ses;
    pool.n_starts = 1;
    win.start_ms = 1800000000000LL;
    win.end_ms = 1800043200000LL;
    site.id = "mimer";
    site.name = "MIMER";
    site.country = "SE";
    site.certifications = certs;
    site.n_certifications = 1;
    site.illustrative = 1;
    site.jurisdictions = (char *[]){"eu"};
    site.n_jurisdictions = 1;
    site.price_per_gpu_hour = 2.6;
    site.carbon_g_per_kwh = 40;
    site.data = dis;
    site.n_data = 1;
    site.maintenance = wins;
    site.n_maintenance = 1;
    lease.id = "lease-1";
    lease.request_id = "req-1";
    lease.principal = "user:alice";
    lease.workload = &w;
    lease.state = AIFED__LEASE_STATE__LEASE_ACTIVE;
    lease.site = "mimer";
    lease.pool = "gpu";
    lease.gpus = 16;
    lease.nodes = 2;
    lease.created_ms = lease.updated_ms = 1800000000000LL;
    lease.expires_ms = 1800003600000LL;
    lease.reason = "moved from pharos";
    lease.tried_sites = (char *[]){"pharos"};
    lease.n_tried_sites = 1;
    parts.start_in_s = 300;
    parts.cost_eur = 41.6;
    cand.site = "mimer";
    cand.pool = "gpu";
    cand.verdict = AIFED__VERDICT__VERDICT_CHOSEN;
    cand.rank = 1;
    cand.reason = "pool gpu: starts in 5m";
    cand.parts = &parts;
    al.project = "llm-eu";
    al.site = "mimer";
    al.granted_gpu_s = 72000;
    al.end_ms = 1830000000000LL;
    ps.pool = &pool;
    ps.gpus_available = 48;
    ss.site = &site;
    ss.state = AIFED__SITE_STATE__SITE_UP;
    ss.pools = pss;
    ss.n_pools = 1;
    rr.request_id = "req-1";
    rr.principal = "user:alice";
    rr.workload = &w;
    rr.lease_id = "lease-1";
    rr.candidates = cands;
    rr.n_candidates = 1;

#define EMIT(kase, field, value) EMIT_TO(argv[1], kase, field, value)

    e.code = AIFED__ERROR_CODE__ERROR_FORBIDDEN;
    e.message = "no";
    EMIT(ERROR, error, &e);
    hello.agent_version = "0.1.0";
    EMIT(HELLO, hello, &hello);
    welcome.principal = "site:mimer";
    EMIT(WELCOME, welcome, &welcome);
    adv.site = &site;
    adv.pools = pools;
    adv.n_pools = 1;
    adv.held_lease_ids = ids;
    adv.n_held_lease_ids = 1;
    EMIT(ADVERTISEMENT, advertisement, &adv);
    hold.lease = &lease;
    EMIT(LEASE_HOLD, lease_hold, &hold);
    held.lease_id = "lease-1";
    EMIT(LEASE_HELD, lease_held, &held);
    refused.lease_id = "lease-1";
    refused.reason = "full";
    EMIT(LEASE_REFUSED, lease_refused, &refused);
    rel.lease_id = "lease-1";
    EMIT(LEASE_RELEASE, lease_release, &rel);
    ended.lease_id = "lease-1";
    ended.gpu_seconds_used = 100;
    EMIT(LEASE_ENDED, lease_ended, &ended);
    submit.request_id = "req-1";
    submit.workload = &w;
    EMIT(SUBMIT, submit, &submit);
    explain.workload = &w;
    EMIT(EXPLAIN, explain, &explain);
    er.candidates = cands;
    er.n_candidates = 1;
    EMIT(EXPLAIN_REPLY, explain_reply, &er);
    gl.lease_id = "lease-1";
    EMIT(GET_LEASE, get_lease, &gl);
    ll.site = "mimer";
    ll.state = AIFED__LEASE_STATE__LEASE_ACTIVE;
    ll.limit = 10;
    EMIT(LIST_LEASES, list_leases, &ll);
    llist.leases = leases;
    llist.n_leases = 1;
    EMIT(LEASE_LIST, lease_list, &llist);
    lr.lease = &lease;
    EMIT(LEASE_REPLY, lease_reply, &lr);
    release.lease_id = "lease-1";
    EMIT(RELEASE, release, &release);
    EMIT(LIST_SITES, list_sites, &ls);
    slist.sites = sss;
    slist.n_sites = 1;
    EMIT(SITE_LIST, site_list, &slist);
    greq.request_id = "req-1";
    EMIT(GET_REQUEST, get_request, &greq);
    rrep.request = &rr;
    EMIT(REQUEST_REPLY, request_reply, &rrep);
    aset.allocation = &al;
    EMIT(ALLOCATION_SET, allocation_set, &aset);
    lal.project = "llm-eu";
    EMIT(LIST_ALLOCATIONS, list_allocations, &lal);
    alist.allocations = als;
    alist.n_allocations = 1;
    EMIT(ALLOCATION_LIST, allocation_list, &alist);
    more_seeds(argv[1]);
    return 0;
}
