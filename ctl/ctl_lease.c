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
#include "ctl_show.h"
#include "ctl_workload.h"
#include "lease.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------ submit, explain */

int ctl_cmd_submit(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    struct ctl_workload a = {0};
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__Submit s = AIFED__SUBMIT__INIT;
    char rid[AF_ID_MAX + 1];
    int rc = ctl_workload_parse(cmd, ctl, argc, argv, true, &a);

    if (rc)
        return rc < 0 ? 0 : rc;
    /* One id per invocation: the broker makes one lease per id, however
     * often the same request arrives. */
    if (!a.request_id)
        af_id_new("req", rid, sizeof(rid));
    s.request_id = a.request_id ? (char *)a.request_id : rid;
    s.workload = &a.w;
    req.body_case = AIFED__ENVELOPE__BODY_SUBMIT;
    req.submit = &s;
    if (!ctl->json)
        fprintf(stderr, "submitting %s: waiting for a site to hold %u GPU%s...\n",
                s.request_id, a.w.gpus, a.w.gpus == 1 ? "" : "s");
    rep = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_LEASE_REPLY, 60000, &rc);
    if (!rep)
        return rc;
    ctl_show_lease(rep->lease_reply->lease, ctl->json);
    rc = rep->lease_reply->lease->state == AIFED__LEASE_STATE__LEASE_ACTIVE ||
                 rep->lease_reply->lease->state == AIFED__LEASE_STATE__LEASE_PENDING
             ? 0
             : 1;
    af_wire_free(rep);
    return rc;
}

int ctl_cmd_explain(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    struct ctl_workload a = {0};
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__Explain e = AIFED__EXPLAIN__INIT;
    int rc = ctl_workload_parse(cmd, ctl, argc, argv, false, &a);

    if (rc)
        return rc < 0 ? 0 : rc;
    e.workload = &a.w;
    req.body_case = AIFED__ENVELOPE__BODY_EXPLAIN;
    req.explain = &e;
    return ctl_call_show(ctl, &req, AIFED__ENVELOPE__BODY_EXPLAIN_REPLY, 10000,
                         ctl_reply_explain);
}

/* -------------------------------------------------------------- leases */

int ctl_cmd_leases(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    static const struct option o[] = {
        {"site", required_argument, NULL, 's'},
        {"project", required_argument, NULL, 'p'},
        {"state", required_argument, NULL, 't'},
        {"limit", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    Aifed__ListLeases q = AIFED__LIST_LEASES__INIT;
    uint32_t limit = 0; /* 0: every page */
    size_t shown = 0;
    int opt, rc = 0, state;
    bool first = true;
    char after[AF_ID_MAX + 1] = "";

    while ((opt = getopt_long(argc, argv, "s:p:t:l:jh", o, NULL)) != -1) {
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
        case 'j':
            ctl->json = true;
            break;
        case 'h':
            return ctl_command_help(cmd), 0;
        default:
            return ctl_usage_error(cmd, NULL, NULL);
        }
    }
    if (optind != argc)
        return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (ctl->db)
        return ctl_db_leases(ctl->db, q.site, q.project, q.state, limit, ctl->json);
    /* Page through. Tables print page by page; --json gathers the pages
     * into one array (pages are kept until then: the leases live in them). */
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
        if (ctl->json) {
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
        } else {
            ctl_show_leases(l->leases, l->n_leases, false, first);
            first = false;
            af_wire_free(rep);
        }
    } while (after[0] && (!limit || shown < limit) && n_pages < 1024);
    if (ctl->json && rc == 0)
        ctl_show_leases(all, n_all, true, true);
    else if (!ctl->json && rc == 0 && shown == 0)
        printf("no leases\n");
    for (size_t i = 0; i < n_pages; i++)
        af_wire_free(pages[i]);
    free(all);
    return rc;
}

/* ------------------------------- lease show|why|release|renew|revoke|token */

struct lease_opts {
    uint64_t by_ms; /* renew --by */
    const char *reason;
};

/* The options of this invocation (aifedctl runs one command), for the
 * verbs that take them. */
static struct lease_opts lease_o;

/* The lease verbs that answer with the lease: send req, show the lease. */
static int lease_call(struct ctl *ctl, Aifed__Envelope *req)
{
    int rc;
    Aifed__Envelope *rep =
        ctl_call(ctl, req, AIFED__ENVELOPE__BODY_LEASE_REPLY, 10000, &rc);

    if (rep) {
        ctl_show_lease(rep->lease_reply->lease, ctl->json);
        af_wire_free(rep);
    }
    return rc;
}

static int lease_show(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                      char **argv)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__GetLease get = AIFED__GET_LEASE__INIT;

    (void)cmd;
    (void)argc;
    if (ctl->db)
        return ctl_db_lease_show(ctl->db, argv[1], ctl->json);
    get.lease_id = argv[1];
    req.body_case = AIFED__ENVELOPE__BODY_GET_LEASE;
    req.get_lease = &get;
    return lease_call(ctl, &req);
}

static int lease_token(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                       char **argv)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__GetLease get = AIFED__GET_LEASE__INIT;
    int rc;

    (void)cmd;
    (void)argc;
    get.lease_id = argv[1];
    req.body_case = AIFED__ENVELOPE__BODY_GET_LEASE;
    req.get_lease = &get;
    if ((rep = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_LEASE_REPLY, 10000, &rc))) {
        if (*rep->lease_reply->lease->token)
            printf("%s\n", rep->lease_reply->lease->token);
        else
            rc = (fprintf(stderr, "aifedctl: lease %s has no token\n", argv[1]), 1);
        af_wire_free(rep);
    }
    return rc;
}

static int lease_why(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                     char **argv)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__GetRequest why = AIFED__GET_REQUEST__INIT;

    (void)cmd;
    (void)argc;
    why.lease_id = argv[1];
    req.body_case = AIFED__ENVELOPE__BODY_GET_REQUEST;
    req.get_request = &why;
    return ctl_call_show(ctl, &req, AIFED__ENVELOPE__BODY_REQUEST_REPLY, 10000,
                         ctl_reply_request);
}

static int lease_release(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                         char **argv)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__Release rel = AIFED__RELEASE__INIT;

    (void)cmd;
    (void)argc;
    rel.lease_id = argv[1];
    req.body_case = AIFED__ENVELOPE__BODY_RELEASE;
    req.release = &rel;
    return lease_call(ctl, &req);
}

static int lease_renew(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                       char **argv)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__Renew renew = AIFED__RENEW__INIT;

    (void)argc;
    if (!lease_o.by_ms)
        return ctl_usage_error(cmd, "renew needs --by DURATION (e.g. --by 2h)", NULL);
    renew.lease_id = argv[1];
    renew.extend_s = (uint32_t)((lease_o.by_ms + 999) / 1000);
    req.body_case = AIFED__ENVELOPE__BODY_RENEW;
    req.renew = &renew;
    return lease_call(ctl, &req);
}

static int lease_revoke(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                        char **argv)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__Revoke revoke = AIFED__REVOKE__INIT;

    (void)cmd;
    (void)argc;
    revoke.lease_id = argv[1];
    revoke.reason = (char *)(lease_o.reason ? lease_o.reason : "");
    req.body_case = AIFED__ENVELOPE__BODY_REVOKE;
    req.revoke = &revoke;
    return lease_call(ctl, &req);
}

static const struct ctl_verb lease_verbs[] = {
    {"show", lease_show},   {"why", lease_why},       {"release", lease_release},
    {"renew", lease_renew}, {"revoke", lease_revoke}, {"token", lease_token},
    {NULL, NULL},
};

int ctl_cmd_lease(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        {"by", required_argument, NULL, 'b'},
        {"reason", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct ctl_verb *verb;
    int opt;

    while ((opt = getopt_long(argc, argv, "b:r:jh", opts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            if (af_duration_parse(optarg, &lease_o.by_ms) < 0 || lease_o.by_ms == 0 ||
                lease_o.by_ms > 365ull * 86400 * 1000)
                return ctl_usage_error(cmd, "--by: '%s' is not a duration like 2h",
                                       optarg);
            break;
        case 'r':
            if (strlen(optarg) > 400)
                return ctl_usage_error(cmd, "--reason: keep it under 400 characters",
                                       NULL);
            lease_o.reason = optarg;
            break;
        case 'j':
            ctl->json = true;
            break;
        case 'h':
            return ctl_command_help(cmd), 0;
        default:
            return ctl_usage_error(cmd, NULL, NULL);
        }
    }
    if (optind + 2 != argc)
        return ctl_usage_error(cmd, "give a verb and a lease id", NULL);
    if (!(verb = ctl_verb_find(lease_verbs, argv[optind])))
        return ctl_usage_error(
            cmd, "'%s' is not show, why, release, renew, revoke or token", argv[optind]);
    if (!af_id_valid(argv[optind + 1]))
        return ctl_usage_error(cmd, "'%s' is not a lease id", argv[optind + 1]);
    if (ctl->db && verb->run != lease_show)
        return ctl_usage_error(cmd, "with --db only lease show works", NULL);
    return verb->run(ctl, cmd, 2, argv + optind);
}

/* ------------------------------------------------------- request show */

int ctl_cmd_request(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__GetRequest g = AIFED__GET_REQUEST__INIT;
    int rc = ctl_parse_json_only(cmd, ctl, argc, argv);

    if (rc >= 0)
        return rc;
    if (optind + 2 != argc || strcmp(argv[optind], "show"))
        return ctl_usage_error(cmd, "give show and a request id", NULL);
    if (!af_id_valid(argv[optind + 1]))
        return ctl_usage_error(cmd, "'%s' is not a request id", argv[optind + 1]);
    g.request_id = argv[optind + 1];
    req.body_case = AIFED__ENVELOPE__BODY_GET_REQUEST;
    req.get_request = &g;
    return ctl_call_show(ctl, &req, AIFED__ENVELOPE__BODY_REQUEST_REPLY, 10000,
                         ctl_reply_request);
}

/* -------------------------------------------------------- verify-token */

int ctl_cmd_verify_token(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                         char **argv)
{
    static const struct option opts[] = {
        {"broker-pub", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *pub = NULL;
    char token[AF_TOKEN_MAX + 2];
    uint8_t pk[32];
    struct af_token_claims c;
    struct af_error err;
    FILE *f;
    int opt;

    while ((opt = getopt_long(argc, argv, "p:jh", opts, NULL)) != -1) {
        if (opt == 'p')
            pub = optarg;
        else if (opt == 'j')
            ctl->json = true;
        else if (opt == 'h')
            return ctl_command_help(cmd), 0;
        else
            return ctl_usage_error(cmd, NULL, NULL);
    }
    if (optind + 1 != argc || !pub)
        return ctl_usage_error(
            cmd, "give a token FILE (- for stdin) and --broker-pub KEY", NULL);
    if (af_sign_pub_load(pub, pk, &err) < 0) {
        fprintf(stderr, "aifedctl: --broker-pub: %s\n", err.text);
        return CTL_EXIT_USAGE;
    }
    f = strcmp(argv[optind], "-") ? fopen(argv[optind], "r") : stdin;
    if (!f) {
        fprintf(stderr, "aifedctl: %s: %s\n", argv[optind], strerror(errno));
        return CTL_EXIT_USAGE;
    }
    if (!fgets(token, sizeof(token), f))
        token[0] = '\0';
    if (f != stdin)
        fclose(f);
    token[strcspn(token, "\r\n")] = '\0';
    if (af_token_verify(token, pk, &c, &err) < 0) {
        fprintf(stderr, "aifedctl: INVALID token: %s\n", err.text);
        return 1;
    }
    ctl_show_token(&c, ctl->json);
    return 0;
}
