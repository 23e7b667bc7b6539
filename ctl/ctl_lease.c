/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_lease: the commands of a lease's life: submit and explain a workload,
 * list leases, act on one (lease VERB ID, the verbs a table), read a
 * request's explanation, and check a lease token offline.
 */
#include "af_ids.h"
#include "af_time.h"
#include "af_token.h"
#include "af_wire.h"
#include "ctl.h"
#include "ctl_call.h"
#include "ctl_db.h"
#include "ctl_opts.h"
#include "ctl_show.h"
#include "ctl_workload.h"
#include "lease.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------ submit, explain */

static int submit(struct ctl *ctl, struct ctl_workload *w)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__Submit s = AIFED__SUBMIT__INIT;
    char rid[AF_ID_MAX + 1];
    int rc;

    /* One id per invocation: the broker makes one lease per id, however
     * often the same request arrives. */
    if (!w->request_id)
        af_id_new("req", rid, sizeof(rid));
    s.request_id = w->request_id ? (char *)w->request_id : rid;
    s.workload = &w->w;
    req.body_case = AIFED__ENVELOPE__BODY_SUBMIT;
    req.submit = &s;
    if (!ctl->json)
        fprintf(stderr, "submitting %s: waiting for a site to hold %u GPU%s...\n",
                s.request_id, w->w.gpus, w->w.gpus == 1 ? "" : "s");
    rep = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_LEASE_REPLY, 60000, &rc);
    if (!rep)
        return rc;
    ctl_show_lease_reply(rep->lease_reply, NULL, ctl->json);
    rc = lease_is_open((int)rep->lease_reply->lease->state) ? 0 : 1;
    af_wire_free(rep);
    return rc;
}

int ctl_cmd_submit(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    struct ctl_workload a = {0};
    int rc = ctl_workload_parse(cmd, ctl, argc, argv, CTL_WL_REQUEST_ID, &a);

    if (rc == 0)
        rc = submit(ctl, &a);
    ctl_task_free(a.task);
    return rc < 0 ? 0 : rc;
}

/* task check FILE [workload flags]: the task as submit would read it. */
int ctl_cmd_task(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    struct ctl_workload a = {0};
    char **args;
    int rc;

    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        ctl_command_help(cmd);
        return 0;
    }
    if (argc < 3 || strcmp(argv[1], "check"))
        return ctl_usage_error(cmd, "give check and a task file", NULL);
    /* The same reading as submit --task FILE, and its flags over it. */
    if (!(args = calloc((size_t)argc + 1, sizeof(*args))))
        return 1;
    args[0] = argv[0];
    args[1] = "--task";
    args[2] = argv[2];
    for (int i = 3; i < argc; i++)
        args[i] = argv[i];
    rc = ctl_workload_parse(cmd, ctl, argc, args, 0, &a);
    if (rc == 0)
        ctl_show_task(a.task, &a.w, ctl->json);
    ctl_task_free(a.task);
    free(args);
    return rc < 0 ? 0 : rc;
}

int ctl_cmd_explain(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    struct ctl_workload a = {0};
    Aifed__Explain e = AIFED__EXPLAIN__INIT;
    int rc = ctl_workload_parse(cmd, ctl, argc, argv, 0, &a);

    if (rc == 0) {
        e.workload = &a.w;
        rc = ctl_ask(ctl, AIFED__ENVELOPE__BODY_EXPLAIN, &e,
                     AIFED__ENVELOPE__BODY_EXPLAIN_REPLY, ctl_reply_explain);
    }
    ctl_task_free(a.task);
    return rc < 0 ? 0 : rc;
}

/* -------------------------------------------------------------- leases */

int ctl_cmd_leases(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    Aifed__ListLeases q = AIFED__LIST_LEASES__INIT;
    uint32_t limit = 0; /* 0: every page */
    size_t shown = 0;
    int opt, rc = 0, state;
    char after[AF_ID_MAX + 1] = "";

    while ((opt = ctl_getopt(argc, argv, &ctl_opts_leases)) != -1) {
        switch (opt) {
        case 's':
            if (!af_id_valid(optarg))
                return ctl_usage_error(cmd, "'%s' is not a site id", optarg);
            q.site = optarg;
            break;
        case 'p':
            if (!af_id_valid(optarg))
                return ctl_usage_error(cmd, "'%s' is not a project name", optarg);
            q.project = optarg;
            break;
        case 't':
            if ((state = lease_state_parse(optarg)) < 0)
                return ctl_usage_error(
                    cmd,
                    "--state: '%s' is not pending, active, released, expired, failed, "
                    "revoked or lost",
                    optarg);
            q.state = (Aifed__LeaseState)state;
            break;
        case 'l':
            if (ctl_parse_u32(optarg, &limit) < 0 || limit == 0)
                return ctl_usage_error(cmd, "--limit: '%s' is not a count of 1 or more",
                                       optarg);
            break;
        default:
            if ((rc = ctl_opt_common(cmd, ctl, opt)) >= 0)
                return rc;
        }
    }
    if (optind != argc)
        return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (ctl->db)
        return ctl_db_leases(ctl->db, q.site, q.project, q.state, limit, ctl->json);
    /* Page through, gathering the pages (the leases live in them) for one
     * table or one JSON array: a table's columns are as wide as its cells. */
    Aifed__Lease **all = NULL;
    size_t n_all = 0;
    Aifed__Envelope *pages[1024];
    size_t n_pages = 0;
    do {
        Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;

        q.after = after;
        q.limit = limit && limit - shown < 1000 ? (uint32_t)(limit - shown) : 1000;
        req.body_case = AIFED__ENVELOPE__BODY_LIST_LEASES;
        req.list_leases = &q;
        if (!(rep = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_LEASE_LIST, 10000, &rc)))
            break;
        Aifed__LeaseList *l = rep->lease_list;
        shown += l->n_leases;
        snprintf(after, sizeof(after), "%s", l->next);
        Aifed__Lease **grown = realloc(all, (n_all + l->n_leases + 1) * sizeof(*all));
        if (!grown) {
            af_wire_free(rep);
            rc = 1;
            break;
        }
        all = grown;
        if (l->n_leases) /* NULL when empty */
            memcpy(all + n_all, l->leases, l->n_leases * sizeof(*all));
        n_all += l->n_leases;
        pages[n_pages++] = rep;
    } while (after[0] && (!limit || shown < limit) && n_pages < 1024);
    if ((ctl->json || shown) && rc == 0)
        ctl_show_leases(all, n_all, ctl->json);
    else if (!ctl->json && rc == 0 && shown == 0)
        printf("no leases\n");
    for (size_t i = 0; i < n_pages; i++)
        af_wire_free(pages[i]);
    free(all);
    return rc;
}

/* ------------------------------- lease show|why|release|renew|revoke|token */

/* The options of this invocation (aifedctl runs one command). */
static struct {
    uint64_t by_ms; /* renew --by */
    const char *reason;
} lease_o;

static int show_lease(const Aifed__Envelope *rep, bool json)
{
    ctl_show_lease_reply(rep->lease_reply, NULL, json);
    return 0;
}

/* For show: the lease's own ask, then its jobs (a second ask; a lease
 * shown without them when that one fails). */
static const struct ctl *show_ctl;

static int show_lease_jobs(const Aifed__Envelope *rep, bool json)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *jobs;
    Aifed__ListJobs l = AIFED__LIST_JOBS__INIT;
    int rc;

    l.lease_id = rep->lease_reply->lease->id;
    af_wire_set_body(&req, AIFED__ENVELOPE__BODY_LIST_JOBS, &l);
    jobs = ctl_call(show_ctl, &req, AIFED__ENVELOPE__BODY_JOB_LIST, 10000, &rc);
    ctl_show_lease_reply(rep->lease_reply, jobs ? jobs->job_list : NULL, json);
    af_wire_free(jobs);
    return 0;
}

static int show_token(const Aifed__Envelope *rep, bool json)
{
    const Aifed__Lease *l = rep->lease_reply->lease;

    (void)json;
    if (!*l->token) {
        fprintf(stderr, "aifedctl: lease %s has no token\n", l->id);
        return 1;
    }
    printf("%s\n", l->token);
    return 0;
}

/* Send body (of case body_case) about a lease, and show what answers: the
 * request's record for why, the lease for every other verb. */
static int lease_ask(struct ctl *ctl, int body_case, void *body, ctl_show_fn show)
{
    return ctl_ask(ctl, body_case, body,
                   body_case == AIFED__ENVELOPE__BODY_GET_REQUEST
                       ? AIFED__ENVELOPE__BODY_REQUEST_REPLY
                       : AIFED__ENVELOPE__BODY_LEASE_REPLY,
                   show);
}

/* Every body a lease verb may send, each naming the lease; a verb's row
 * says which one it sends. */
struct lease_req {
    Aifed__GetLease get;
    Aifed__GetRequest why;
    Aifed__Release release;
    Aifed__Renew renew;
    Aifed__Revoke revoke;
};

/* lease VERB ID: what each verb sends about the lease, and how the answer
 * is shown. */
static const struct lease_verb {
    const char *name;
    int body_case;
    size_t body; /* where in struct lease_req */
    ctl_show_fn show;
} lease_verbs[] = {
    {"show", AIFED__ENVELOPE__BODY_GET_LEASE, offsetof(struct lease_req, get),
     show_lease_jobs},
    {"token", AIFED__ENVELOPE__BODY_GET_LEASE, offsetof(struct lease_req, get),
     show_token},
    {"why", AIFED__ENVELOPE__BODY_GET_REQUEST, offsetof(struct lease_req, why),
     ctl_reply_request},
    {"release", AIFED__ENVELOPE__BODY_RELEASE, offsetof(struct lease_req, release),
     show_lease},
    {"renew", AIFED__ENVELOPE__BODY_RENEW, offsetof(struct lease_req, renew), show_lease},
    {"revoke", AIFED__ENVELOPE__BODY_REVOKE, offsetof(struct lease_req, revoke),
     show_lease},
    {NULL, 0, 0, NULL},
};

static const struct lease_verb *lease_verb(const char *name)
{
    const struct lease_verb *v = lease_verbs;

    while (v->name && strcmp(v->name, name))
        v++;
    return v->name ? v : NULL;
}

static int lease_run(struct ctl *ctl, const struct lease_verb *v, char *id)
{
    struct lease_req r = {AIFED__GET_LEASE__INIT, AIFED__GET_REQUEST__INIT,
                          AIFED__RELEASE__INIT, AIFED__RENEW__INIT, AIFED__REVOKE__INIT};
    char rid[AF_ID_MAX + 1];

    if (ctl->db) /* only show gets here with --db */
        return ctl_db_lease_show(ctl->db, id, ctl->json);
    r.get.lease_id = r.why.lease_id = r.release.lease_id = id;
    r.renew.lease_id = r.revoke.lease_id = id;
    /* One id per invocation, so that asking again (ctl_retry) changes once. */
    af_id_new("req", rid, sizeof(rid));
    r.release.request_id = r.renew.request_id = r.revoke.request_id = rid;
    r.renew.extend_s = (uint32_t)((lease_o.by_ms + 999) / 1000);
    r.revoke.reason = (char *)(lease_o.reason ? lease_o.reason : "");
    show_ctl = ctl;
    return lease_ask(ctl, v->body_case, (char *)&r + v->body, v->show);
}

int ctl_cmd_lease(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    const struct lease_verb *verb;
    int opt, rc;

    while ((opt = ctl_getopt(argc, argv, &ctl_opts_lease)) != -1) {
        switch (opt) {
        case 'b':
            if (ctl_parse_duration(optarg, &lease_o.by_ms) < 0 || lease_o.by_ms == 0 ||
                lease_o.by_ms > 365ull * 86400 * 1000)
                return ctl_usage_error(
                    cmd, "--by: '%s' is not a duration (" CTL_DURATION_HELP ")", optarg);
            break;
        case 'r':
            if (strlen(optarg) > 400)
                return ctl_usage_error(cmd, "--reason: keep it under 400 characters",
                                       NULL);
            lease_o.reason = optarg;
            break;
        default:
            if ((rc = ctl_opt_common(cmd, ctl, opt)) >= 0)
                return rc;
        }
    }
    if (optind + 2 != argc)
        return ctl_usage_error(cmd, "give a verb and a lease id", NULL);
    if (!(verb = lease_verb(argv[optind])))
        return ctl_usage_error(
            cmd, "'%s' is not show, why, release, renew, revoke or token", argv[optind]);
    if (!af_id_valid(argv[optind + 1]))
        return ctl_usage_error(cmd, "'%s' is not a lease id", argv[optind + 1]);
    if (ctl->db && strcmp(verb->name, "show"))
        return ctl_usage_error(cmd, "with --db only lease show works", NULL);
    if (verb->body_case == AIFED__ENVELOPE__BODY_RENEW && !lease_o.by_ms)
        return ctl_usage_error(cmd, "renew needs --by DURATION (e.g. --by 2h)", NULL);
    return lease_run(ctl, verb, argv[optind + 1]);
}

/* ------------------------------------------------------- request show */

int ctl_cmd_request(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    Aifed__GetRequest g = AIFED__GET_REQUEST__INIT;
    int rc = ctl_parse_json_only(cmd, ctl, argc, argv);

    if (rc >= 0)
        return rc;
    if (optind + 2 != argc || strcmp(argv[optind], "show"))
        return ctl_usage_error(cmd, "give show and a request id", NULL);
    if (!af_id_valid(argv[optind + 1]))
        return ctl_usage_error(cmd, "'%s' is not a request id", argv[optind + 1]);
    g.request_id = argv[optind + 1];
    return lease_ask(ctl, AIFED__ENVELOPE__BODY_GET_REQUEST, &g, ctl_reply_request);
}

/* -------------------------------------------------------- verify-token */

/* The token in file (- for stdin), one line, into token; -1 said. */
static int read_token(const char *file, char token[AF_TOKEN_MAX + 2])
{
    FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;

    if (!f) {
        fprintf(stderr, "aifedctl: %s: %s\n", file, strerror(errno));
        return -1;
    }
    if (!fgets(token, AF_TOKEN_MAX + 2, f))
        token[0] = '\0';
    if (f != stdin)
        fclose(f);
    token[strcspn(token, "\r\n")] = '\0';
    return 0;
}

/* Ask the broker whether token holds now. */
static int verify_online(struct ctl *ctl, const char *token)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__CheckToken ct = AIFED__CHECK_TOKEN__INIT;
    int rc;

    ct.token = (char *)token;
    req.body_case = AIFED__ENVELOPE__BODY_CHECK_TOKEN;
    req.check_token = &ct;
    if (!(rep = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_TOKEN_STATUS, 10000, &rc)))
        return rc;
    ctl_show_token_status(rep->token_status, ctl->json);
    rc = rep->token_status->valid ? 0 : 1;
    af_wire_free(rep);
    return rc;
}

int ctl_cmd_verify_token(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                         char **argv)
{
    const char *pub = NULL;
    char token[AF_TOKEN_MAX + 2];
    uint8_t pk[32];
    struct af_token_claims c;
    struct af_error err;
    bool expired, online = false;
    int opt, rc;

    while ((opt = ctl_getopt(argc, argv, &ctl_opts_verify_token)) != -1)
        if (opt == 'p')
            pub = optarg;
        else if (opt == 'o')
            online = true;
        else if ((rc = ctl_opt_common(cmd, ctl, opt)) >= 0)
            return rc;
    if (optind + 1 != argc || (!pub && !online))
        return ctl_usage_error(
            cmd, "give a token FILE (- for stdin) and --broker-pub KEY, or --online",
            NULL);
    if (pub && af_sign_pub_load(pub, pk, &err) < 0) {
        fprintf(stderr, "aifedctl: --broker-pub: %s\n", err.text);
        return CTL_EXIT_USAGE;
    }
    if (read_token(argv[optind], token) < 0)
        return CTL_EXIT_USAGE;
    if (online)
        return verify_online(ctl, token);
    if (af_token_verify(token, pk, &c, &err) < 0) {
        fprintf(stderr, "aifedctl: INVALID token: %s\n", err.text);
        return 1;
    }
    /* The signature is good; whether the grant still holds is the clock's
     * to say (expired), or the broker's (released, revoked: --online). */
    expired = c.not_after_ms <= af_now_ms();
    ctl_show_token(&c, expired, ctl->json);
    return expired ? 1 : 0;
}
