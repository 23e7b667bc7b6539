/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aifedctl: the command line for users and admins. Commands are a table
 * (name, handler, usage), as bgpctl's are; each parses its own options with
 * getopt_long. Exit status: 0 done, 1 the broker refused or failed, 2 bad
 * usage, 3 the broker could not be reached.
 */
#include "af_ids.h"
#include "af_conf.h"
#include "af_keys.h"
#include "af_time.h"
#include "af_token.h"
#include "af_wire.h"
#include "af_audit.h"
#include "ctl_client.h"
#include "ctl_db.h"
#include "ctl_show.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_USAGE 2

struct ctl {
    const char *db; /* --db STATE_DIR: read LMDB directly */
    const char *broker;
    const char *broker_key;
    const char *key;
    uint64_t timeout_ms;
    bool timeout_set;
    bool json;
};

struct command {
    const char *name;
    int (*run)(struct ctl *ctl, int argc, char **argv);
    const char *usage;
    const char *help;
};

static const struct command *find_command(const char *name);

static int usage_error(const struct command *cmd, const char *fmt, const char *arg)
{
    if (fmt) {
        fprintf(stderr, "aifedctl %s: ", cmd->name);
        fprintf(stderr, fmt, arg);
        fputc('\n', stderr);
    }
    fprintf(stderr, "usage: aifedctl %s\n", cmd->usage);
    return EXIT_USAGE;
}

static void command_help(const struct command *cmd)
{
    printf("usage: aifedctl %s\n\n%s", cmd->usage, cmd->help);
}

/* Connect using the global options; prints why not and returns NULL. */
static struct ctl_client *connect_broker(const struct ctl *ctl)
{
    struct af_error err;
    struct ctl_client *c;

    if (!ctl->broker || !ctl->broker_key || !ctl->key) {
        fprintf(stderr, "aifedctl: say where the broker is and who you are: --broker "
                        "ENDPOINT --broker-key FILE --key FILE, or set AIFED_BROKER, "
                        "AIFED_BROKER_KEY and AIFED_KEY\n");
        return NULL;
    }
    if (!(c = ctl_client_create(ctl->broker, ctl->broker_key, ctl->key, &err)))
        fprintf(stderr, "aifedctl: %s\n", err.text);
    return c;
}

/* Sent again when no answer came in this time (a broker restarting). */
#define RESEND_MS 3000

/* Reads change nothing, and a submit's request id makes its repeats one
 * lease. Release, renew and the admin calls are sent once. */
static bool safe_to_repeat(Aifed__Envelope__BodyCase body)
{
    switch (body) {
    case AIFED__ENVELOPE__BODY_SUBMIT:
    case AIFED__ENVELOPE__BODY_EXPLAIN:
    case AIFED__ENVELOPE__BODY_GET_LEASE:
    case AIFED__ENVELOPE__BODY_LIST_LEASES:
    case AIFED__ENVELOPE__BODY_LIST_SITES:
    case AIFED__ENVELOPE__BODY_GET_REQUEST:
    case AIFED__ENVELOPE__BODY_LIST_ALLOCATIONS:
    case AIFED__ENVELOPE__BODY_LIST_PRINCIPALS:
    case AIFED__ENVELOPE__BODY_LIST_AUDIT:
        return true;
    default:
        return false;
    }
}

/* How long to wait before asking a broker that is still starting again. */
#define STARTING_RETRY_MS 500

/* The reply, asking again while the broker answers that it has just started
 * and not heard every site yet (requests safe to repeat only), within
 * timeout_ms in all. Says once that it waits. */
static Aifed__Envelope *call_started(const struct ctl *ctl, struct ctl_client *c,
                                     Aifed__Envelope *req, uint64_t timeout_ms,
                                     struct af_error *err)
{
    bool safe = safe_to_repeat(req->body_case), said = false;
    int64_t deadline = af_now_ms() + (int64_t)timeout_ms;

    for (;;) {
        int64_t left = deadline - af_now_ms();
        Aifed__Envelope *rep =
            ctl_call(c, req, left > 0 ? (uint64_t)left : 1, safe ? RESEND_MS : 0, err);

        if (!rep || !safe || rep->body_case != AIFED__ENVELOPE__BODY_ERROR ||
            rep->error->code != AIFED__ERROR_CODE__ERROR_STARTING ||
            af_now_ms() + STARTING_RETRY_MS >= deadline)
            return rep;
        if (!said && !ctl->json)
            fprintf(stderr, "aifedctl: %s (asking again every %d ms)\n",
                    rep->error->message, STARTING_RETRY_MS);
        said = true;
        af_wire_free(rep);
        usleep(STARTING_RETRY_MS * 1000);
    }
}

/* One request, one reply. Prints what went wrong and sets *ret_exit. */
static Aifed__Envelope *call(const struct ctl *ctl, Aifed__Envelope *req,
                             Aifed__Envelope__BodyCase want, uint64_t timeout_ms,
                             int *ret_exit)
{
    struct ctl_client *c = connect_broker(ctl);
    struct af_error err;
    Aifed__Envelope *rep;

    *ret_exit = CTL_EXIT_UNREACHABLE;
    if (!c)
        return NULL;
    rep =
        call_started(ctl, c, req, ctl->timeout_set ? ctl->timeout_ms : timeout_ms, &err);
    ctl_client_destroy(c);
    if (!rep) {
        fprintf(stderr, "aifedctl: %s\n", err.text);
        if (errno == EBADMSG)
            *ret_exit = 1;
        return NULL;
    }
    *ret_exit = 1;
    if (rep->body_case == AIFED__ENVELOPE__BODY_ERROR) {
        fprintf(stderr, "aifedctl: %s\n", rep->error->message);
        af_wire_free(rep);
        return NULL;
    }
    if (rep->body_case != want) {
        fprintf(stderr, "aifedctl: the broker answered with %s\n",
                af_wire_body_name(rep->body_case));
        af_wire_free(rep);
        return NULL;
    }
    *ret_exit = 0;
    return rep;
}

static int parse_u32(const char *s, uint32_t *ret)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (*s < '0' || *s > '9' || *end || errno || v > UINT32_MAX)
        return -1;
    *ret = (uint32_t)v;
    return 0;
}

/* For commands whose only options are --json and --help: -1 to go on, or
 * the exit status. */
static int parse_json_only(const struct command *cmd, struct ctl *ctl, int argc,
                           char **argv)
{
    static const struct option o[] = {{"json", no_argument, NULL, 'j'},
                                      {"help", no_argument, NULL, 'h'},
                                      {NULL, 0, NULL, 0}};
    int opt;

    while ((opt = getopt_long(argc, argv, "jh", o, NULL)) != -1) {
        if (opt == 'j')
            ctl->json = true;
        else if (opt == 'h')
            return command_help(cmd), 0;
        else
            return usage_error(cmd, NULL, NULL);
    }
    return -1;
}

/* -------------------------------------------------------------- keygen */

static int cmd_keygen(struct ctl *ctl, int argc, char **argv)
{
    static const struct option o[] = {{"dir", required_argument, NULL, 'd'},
                                      {"help", no_argument, NULL, 'h'},
                                      {NULL, 0, NULL, 0}};
    const struct command *cmd = find_command("keygen");
    const char *dir = ".";
    struct af_keypair kp;
    struct af_error err;
    int opt;

    (void)ctl;
    while ((opt = getopt_long(argc, argv, "d:h", o, NULL)) != -1) {
        if (opt == 'd')
            dir = optarg;
        else if (opt == 'h')
            return command_help(cmd), 0;
        else
            return usage_error(cmd, NULL, NULL);
    }
    if (optind + 1 != argc)
        return usage_error(cmd, "give one NAME", NULL);
    if (!af_id_valid(argv[optind]))
        return usage_error(cmd, "'%s' is not a valid name (1-64 of A-Z a-z 0-9 . _ -)",
                           argv[optind]);
    if (af_keys_generate(&kp) < 0) {
        fprintf(stderr, "aifedctl: cannot make a key: %s\n", strerror(errno));
        return 1;
    }
    if (af_keys_write(dir, argv[optind], &kp, &err) < 0) {
        sodium_memzero(&kp, sizeof(kp));
        fprintf(stderr, "aifedctl: %s\n", err.text);
        return 1;
    }
    sodium_memzero(&kp, sizeof(kp));
    printf("wrote %s/%s.key (secret, mode 0600) and %s/%s.pub (public)\n", dir,
           argv[optind], dir, argv[optind]);
    return 0;
}

/* --------------------------------------------------------------- sites */

static int cmd_sites(struct ctl *ctl, int argc, char **argv)
{
    const struct command *cmd = find_command("sites");
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__ListSites ls = AIFED__LIST_SITES__INIT;
    int rc = parse_json_only(cmd, ctl, argc, argv);

    if (rc >= 0)
        return rc;
    if (optind != argc)
        return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    req.body_case = AIFED__ENVELOPE__BODY_LIST_SITES;
    req.list_sites = &ls;
    if ((rep = call(ctl, &req, AIFED__ENVELOPE__BODY_SITE_LIST, 10000, &rc))) {
        ctl_show_sites(rep->site_list, ctl->json);
        af_wire_free(rep);
    }
    return rc;
}

/* ------------------------------------------------------ submit, explain */

static const char *const eu27[] = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI",
                                   "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
                                   "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"};

#define MAX_ITEMS 64

struct workload_args {
    Aifed__Workload w;
    char *countries[MAX_ITEMS];
    char country_buf[MAX_ITEMS][3];
    char *certs[MAX_ITEMS];
    Aifed__DataItem data[MAX_ITEMS];
    Aifed__DataItem *data_ptrs[MAX_ITEMS];
    char data_names[MAX_ITEMS][AF_ID_MAX + 1];
    Aifed__Weights weights;
    const char *request_id;
};

/* "NAME[:SIZE]" as a data item of kind. */
static int add_data(struct workload_args *a, int kind, const char *arg)
{
    const char *colon = strchr(arg, ':');
    size_t n = colon ? (size_t)(colon - arg) : strlen(arg);
    Aifed__DataItem *d;
    struct af_error err;

    if (a->w.n_data == MAX_ITEMS || n > AF_ID_MAX)
        return -1;
    d = &a->data[a->w.n_data];
    aifed__data_item__init(d);
    memcpy(a->data_names[a->w.n_data], arg, n);
    a->data_names[a->w.n_data][n] = '\0';
    if (!af_id_valid(a->data_names[a->w.n_data]))
        return -1;
    if (colon && af_conf_bytes("size", colon + 1, &d->size_bytes, &err) < 0)
        return -1;
    d->kind = (Aifed__DataKind)kind;
    d->name = a->data_names[a->w.n_data];
    a->data_ptrs[a->w.n_data++] = d;
    return 0;
}

/* A UTC time ("2026-12-01T06:00Z") or a duration from now ("2h"). */
static int parse_when(const char *s, int64_t *ret_ms)
{
    uint64_t ms;

    if (af_time_parse(s, ret_ms) == 0)
        return 0;
    if (af_duration_parse(s, &ms) < 0)
        return -1;
    *ret_ms = af_now_ms() + (int64_t)ms;
    return 0;
}

/* "time=1,cost=4,..." over the preference's weights. */
static int parse_weights(struct workload_args *a, const char *arg)
{
    static const char *const names[] = {"time", "cost", "carbon", "data", "fit"};
    double *slots[] = {&a->weights.time, &a->weights.cost, &a->weights.carbon,
                       &a->weights.data, &a->weights.fit};
    char buf[256], *save = NULL;

    if (strlen(arg) >= sizeof(buf))
        return -1;
    strcpy(buf, arg);
    aifed__weights__init(&a->weights);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '='), *end;
        size_t k;

        if (!eq)
            return -1;
        *eq = '\0';
        for (k = 0; k < 5 && strcmp(t, names[k]); k++)
            ;
        if (k == 5)
            return -1;
        *slots[k] = strtod(eq + 1, &end);
        if (end == eq + 1 || *end || *slots[k] < 0 || *slots[k] > 1000)
            return -1;
    }
    a->w.weights = &a->weights;
    return 0;
}

static int add_countries(struct workload_args *a, const char *list)
{
    const char *p = list;

    while (*p) {
        size_t n = strcspn(p, ",");
        if (n != 2 || a->w.n_countries == 64)
            return -1;
        a->country_buf[a->w.n_countries][0] = (char)(p[0] & ~0x20);
        a->country_buf[a->w.n_countries][1] = (char)(p[1] & ~0x20);
        a->country_buf[a->w.n_countries][2] = '\0';
        a->countries[a->w.n_countries] = a->country_buf[a->w.n_countries];
        a->w.n_countries++;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* Options shared by submit and explain. Returns 0, or an exit status. */
static int parse_workload(const struct command *cmd, struct ctl *ctl, int argc,
                          char **argv, bool submit, struct workload_args *a)
{
    static const struct option o[] = {
        {"project", required_argument, NULL, 'p'},
        {"gpus", required_argument, NULL, 'g'},
        {"accelerator", required_argument, NULL, 'a'},
        {"gpu-memory", required_argument, NULL, 'm'},
        {"nodes", required_argument, NULL, 'n'},
        {"cpus-per-node", required_argument, NULL, 'C'},
        {"memory-per-node", required_argument, NULL, 'M'},
        {"walltime", required_argument, NULL, 'w'},
        {"not-before", required_argument, NULL, 'B'},
        {"start-by", required_argument, NULL, 'D'},
        {"country", required_argument, NULL, 'c'},
        {"eu", no_argument, NULL, 'e'},
        {"cert", required_argument, NULL, 'T'},
        {"dataset", required_argument, NULL, '1'},
        {"model", required_argument, NULL, '2'},
        {"image", required_argument, NULL, '3'},
        {"prefer", required_argument, NULL, 'P'},
        {"weights", required_argument, NULL, 'W'},
        {"request-id", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const prefs[] = {"balanced", "time", "cost", "green", "local"};
    uint64_t ms;
    int opt;

    aifed__workload__init(&a->w);
    a->w.countries = a->countries;
    a->w.certifications = a->certs;
    a->w.data = a->data_ptrs;
    a->w.accelerator = "";
    a->w.walltime_s = 3600;
    while ((opt = getopt_long(argc, argv, "p:g:a:m:n:C:M:w:B:D:c:eT:1:2:3:P:W:r:jh", o,
                              NULL)) != -1) {
        switch (opt) {
        case 'C':
            if (parse_u32(optarg, &a->w.cpus_per_node) < 0)
                return usage_error(cmd, "--cpus-per-node: '%s' is not a count", optarg);
            break;
        case 'M':
            if (parse_u32(optarg, &a->w.memory_per_node_gb) < 0)
                return usage_error(cmd, "--memory-per-node: '%s' is not a number of GB",
                                   optarg);
            break;
        case 'B':
            if (parse_when(optarg, &a->w.not_before_ms) < 0)
                return usage_error(cmd, "--not-before: '%s' is not a time or duration",
                                   optarg);
            break;
        case 'D':
            if (parse_when(optarg, &a->w.start_by_ms) < 0)
                return usage_error(cmd, "--start-by: '%s' is not a time or duration",
                                   optarg);
            break;
        case 'T':
            if (!af_id_valid(optarg) || a->w.n_certifications == MAX_ITEMS)
                return usage_error(cmd, "--cert: '%s' is not a certification name",
                                   optarg);
            a->certs[a->w.n_certifications++] = optarg;
            break;
        case '1':
        case '2':
        case '3':
            if (add_data(a, opt - '1', optarg) < 0)
                return usage_error(cmd, "'%s' is not NAME or NAME:SIZE (like 120GB)",
                                   optarg);
            break;
        case 'P':
            a->w.prefer = AIFED__PREFERENCE__PREFER_BALANCED;
            for (int k = 0; k < 5; k++)
                if (!strcmp(optarg, prefs[k]))
                    a->w.prefer = (Aifed__Preference)k;
            if (a->w.prefer == AIFED__PREFERENCE__PREFER_BALANCED &&
                strcmp(optarg, "balanced"))
                return usage_error(cmd,
                                   "--prefer: '%s' is not time, cost, green, local or "
                                   "balanced",
                                   optarg);
            break;
        case 'W':
            if (parse_weights(a, optarg) < 0)
                return usage_error(
                    cmd, "--weights: '%s' is not like time=4,cost=1,fit=0.1", optarg);
            break;
        case 'p':
            if (!af_id_valid(optarg))
                return usage_error(cmd, "'%s' is not a valid project name", optarg);
            a->w.project = optarg;
            break;
        case 'g':
            if (parse_u32(optarg, &a->w.gpus) < 0 || a->w.gpus == 0)
                return usage_error(cmd, "--gpus: '%s' is not a count of 1 or more",
                                   optarg);
            break;
        case 'a':
            if (!af_id_valid(optarg))
                return usage_error(cmd, "'%s' is not an accelerator model", optarg);
            a->w.accelerator = strcasecmp(optarg, "any") ? optarg : "";
            break;
        case 'm':
            if (parse_u32(optarg, &a->w.gpu_memory_gb) < 0)
                return usage_error(cmd, "--gpu-memory: '%s' is not a number of GB",
                                   optarg);
            break;
        case 'n':
            if (parse_u32(optarg, &a->w.nodes) < 0)
                return usage_error(cmd, "--nodes: '%s' is not a count", optarg);
            break;
        case 'w':
            if (af_duration_parse(optarg, &ms) < 0 || ms < 1000 || ms / 1000 > UINT32_MAX)
                return usage_error(cmd, "--walltime: '%s' is not a duration like 4h",
                                   optarg);
            a->w.walltime_s = (uint32_t)(ms / 1000);
            break;
        case 'c':
            if (add_countries(a, optarg) < 0)
                return usage_error(cmd, "--country: '%s' is not a list like LU,DE",
                                   optarg);
            break;
        case 'e':
            for (size_t i = 0; i < sizeof(eu27) / sizeof(eu27[0]); i++)
                add_countries(a, eu27[i]);
            break;
        case 'r':
            if (!submit || !af_id_valid(optarg))
                return usage_error(cmd, "'%s' is not a valid request id", optarg);
            a->request_id = optarg;
            break;
        case 'j':
            ctl->json = true;
            break;
        case 'h':
            command_help(cmd);
            return -1;
        default:
            return usage_error(cmd, NULL, NULL);
        }
    }
    if (optind != argc)
        return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!*a->w.project) /* protobuf-c's init sets strings to "" */
        return usage_error(cmd, "--project is required", NULL);
    if (!a->w.gpus)
        return usage_error(cmd, "--gpus is required", NULL);
    return 0;
}

static int cmd_submit(struct ctl *ctl, int argc, char **argv)
{
    const struct command *cmd = find_command("submit");
    struct workload_args a = {0};
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__Submit s = AIFED__SUBMIT__INIT;
    char rid[AF_ID_MAX + 1];
    int rc = parse_workload(cmd, ctl, argc, argv, true, &a);

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
    rep = call(ctl, &req, AIFED__ENVELOPE__BODY_LEASE_REPLY, 60000, &rc);
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

static int cmd_explain(struct ctl *ctl, int argc, char **argv)
{
    const struct command *cmd = find_command("explain");
    struct workload_args a = {0};
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__Explain e = AIFED__EXPLAIN__INIT;
    int rc = parse_workload(cmd, ctl, argc, argv, false, &a);

    if (rc)
        return rc < 0 ? 0 : rc;
    e.workload = &a.w;
    req.body_case = AIFED__ENVELOPE__BODY_EXPLAIN;
    req.explain = &e;
    if ((rep = call(ctl, &req, AIFED__ENVELOPE__BODY_EXPLAIN_REPLY, 10000, &rc))) {
        ctl_show_explain(rep->explain_reply, ctl->json);
        af_wire_free(rep);
    }
    return rc;
}

/* -------------------------------------------------------------- leases */

static int cmd_leases(struct ctl *ctl, int argc, char **argv)
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
    static const char *const states[] = {"pending", "active",  "released", "expired",
                                         "failed",  "revoked", "lost"};
    const struct command *cmd = find_command("leases");
    Aifed__ListLeases q = AIFED__LIST_LEASES__INIT;
    uint32_t limit = 0; /* 0: every page */
    size_t shown = 0;
    int opt, rc = 0;
    bool first = true;
    char after[AF_ID_MAX + 1] = "";

    while ((opt = getopt_long(argc, argv, "s:p:t:l:jh", o, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (!af_id_valid(optarg))
                return usage_error(cmd, "'%s' is not a site id", optarg);
            q.site = optarg;
            break;
        case 'p':
            if (!af_id_valid(optarg))
                return usage_error(cmd, "'%s' is not a project name", optarg);
            q.project = optarg;
            break;
        case 't':
            q.state = 0;
            for (int s = 0; s < 7; s++)
                if (!strcasecmp(optarg, states[s]))
                    q.state = (Aifed__LeaseState)(s + 1);
            if (!q.state)
                return usage_error(
                    cmd,
                    "--state: '%s' is not pending, active, released, expired, failed, "
                    "revoked or lost",
                    optarg);
            break;
        case 'l':
            if (parse_u32(optarg, &limit) < 0 || limit == 0)
                return usage_error(cmd, "--limit: '%s' is not a count of 1 or more",
                                   optarg);
            break;
        case 'j':
            ctl->json = true;
            break;
        case 'h':
            return command_help(cmd), 0;
        default:
            return usage_error(cmd, NULL, NULL);
        }
    }
    if (optind != argc)
        return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
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
        if (!(rep = call(ctl, &req, AIFED__ENVELOPE__BODY_LEASE_LIST, 10000, &rc)))
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

/* The request a lease verb makes; 0, or the exit status of bad usage. */
static int lease_request(const struct command *cmd, const char *verb, const char *id,
                         const struct lease_opts *o, Aifed__Envelope *req,
                         Aifed__Envelope__BodyCase *want, void *bodies[4])
{
    Aifed__GetLease *get = bodies[0];
    Aifed__Release *rel = bodies[1];
    Aifed__Renew *renew = bodies[2];
    Aifed__Revoke *revoke = bodies[3];

    *want = AIFED__ENVELOPE__BODY_LEASE_REPLY;
    if (!strcmp(verb, "show") || !strcmp(verb, "token")) {
        get->lease_id = (char *)id;
        req->body_case = AIFED__ENVELOPE__BODY_GET_LEASE;
        req->get_lease = get;
    } else if (!strcmp(verb, "release")) {
        rel->lease_id = (char *)id;
        req->body_case = AIFED__ENVELOPE__BODY_RELEASE;
        req->release = rel;
    } else if (!strcmp(verb, "renew")) {
        if (!o->by_ms)
            return usage_error(cmd, "renew needs --by DURATION (e.g. --by 2h)", NULL);
        renew->lease_id = (char *)id;
        renew->extend_s = (uint32_t)((o->by_ms + 999) / 1000);
        req->body_case = AIFED__ENVELOPE__BODY_RENEW;
        req->renew = renew;
    } else if (!strcmp(verb, "revoke")) {
        revoke->lease_id = (char *)id;
        revoke->reason = (char *)(o->reason ? o->reason : "");
        req->body_case = AIFED__ENVELOPE__BODY_REVOKE;
        req->revoke = revoke;
    } else {
        return usage_error(cmd, "'%s' is not show, why, release, renew, revoke or token",
                           verb);
    }
    return 0;
}

static int lease_why(struct ctl *ctl, const char *id)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__GetRequest why = AIFED__GET_REQUEST__INIT;
    int rc;

    why.lease_id = (char *)id;
    req.body_case = AIFED__ENVELOPE__BODY_GET_REQUEST;
    req.get_request = &why;
    if ((rep = call(ctl, &req, AIFED__ENVELOPE__BODY_REQUEST_REPLY, 10000, &rc))) {
        ctl_show_request(rep->request_reply->request, ctl->json);
        af_wire_free(rep);
    }
    return rc;
}

static int cmd_lease(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"by", required_argument, NULL, 'b'},
        {"reason", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct command *cmd = find_command("lease");
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__GetLease get = AIFED__GET_LEASE__INIT;
    Aifed__Release rel = AIFED__RELEASE__INIT;
    Aifed__Renew renew = AIFED__RENEW__INIT;
    Aifed__Revoke revoke = AIFED__REVOKE__INIT;
    void *bodies[4] = {&get, &rel, &renew, &revoke};
    Aifed__Envelope__BodyCase want;
    struct lease_opts o = {0};
    const char *verb, *id;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "b:r:jh", opts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            if (af_duration_parse(optarg, &o.by_ms) < 0 || o.by_ms == 0 ||
                o.by_ms > 365ull * 86400 * 1000)
                return usage_error(cmd, "--by: '%s' is not a duration like 2h", optarg);
            break;
        case 'r':
            if (strlen(optarg) > 400)
                return usage_error(cmd, "--reason: keep it under 400 characters", NULL);
            o.reason = optarg;
            break;
        case 'j':
            ctl->json = true;
            break;
        case 'h':
            return command_help(cmd), 0;
        default:
            return usage_error(cmd, NULL, NULL);
        }
    }
    if (optind + 2 != argc)
        return usage_error(cmd, "give a verb and a lease id", NULL);
    verb = argv[optind];
    id = argv[optind + 1];
    if (!af_id_valid(id))
        return usage_error(cmd, "'%s' is not a lease id", id);
    if (ctl->db && strcmp(verb, "show"))
        return usage_error(cmd, "with --db only lease show works", NULL);
    if (ctl->db)
        return ctl_db_lease_show(ctl->db, id, ctl->json);
    if (!strcmp(verb, "why"))
        return lease_why(ctl, id);
    if ((rc = lease_request(cmd, verb, id, &o, &req, &want, bodies)) != 0)
        return rc;
    if ((rep = call(ctl, &req, want, 10000, &rc))) {
        const Aifed__Lease *l = rep->lease_reply->lease;
        if (strcmp(verb, "token"))
            ctl_show_lease(l, ctl->json);
        else if (*l->token)
            printf("%s\n", l->token);
        else
            rc = (fprintf(stderr, "aifedctl: lease %s has no token\n", id), 1);
        af_wire_free(rep);
    }
    return rc;
}

/* -------------------------------------------------------- verify-token */

static int cmd_verify_token(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"broker-pub", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct command *cmd = find_command("verify-token");
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
            return command_help(cmd), 0;
        else
            return usage_error(cmd, NULL, NULL);
    }
    if (optind + 1 != argc || !pub)
        return usage_error(cmd, "give a token FILE (- for stdin) and --broker-pub KEY",
                           NULL);
    if (af_sign_pub_load(pub, pk, &err) < 0) {
        fprintf(stderr, "aifedctl: --broker-pub: %s\n", err.text);
        return EXIT_USAGE;
    }
    f = strcmp(argv[optind], "-") ? fopen(argv[optind], "r") : stdin;
    if (!f) {
        fprintf(stderr, "aifedctl: %s: %s\n", argv[optind], strerror(errno));
        return EXIT_USAGE;
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

/* ------------------------------------------------------- request show */

static int cmd_request(struct ctl *ctl, int argc, char **argv)
{
    const struct command *cmd = find_command("request");
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__GetRequest g = AIFED__GET_REQUEST__INIT;
    int rc = parse_json_only(cmd, ctl, argc, argv);

    if (rc >= 0)
        return rc;
    if (optind + 2 != argc || strcmp(argv[optind], "show"))
        return usage_error(cmd, "give show and a request id", NULL);
    if (!af_id_valid(argv[optind + 1]))
        return usage_error(cmd, "'%s' is not a request id", argv[optind + 1]);
    g.request_id = argv[optind + 1];
    req.body_case = AIFED__ENVELOPE__BODY_GET_REQUEST;
    req.get_request = &g;
    if ((rep = call(ctl, &req, AIFED__ENVELOPE__BODY_REQUEST_REPLY, 10000, &rc))) {
        ctl_show_request(rep->request_reply->request, ctl->json);
        af_wire_free(rep);
    }
    return rc;
}

/* ------------------------------- admin allocation ... | admin principal ... */

#define MAX_PROJECTS 32

struct admin_opts {
    Aifed__Allocation a;
    Aifed__ListAllocations list;
    double hours;
    const char *pub; /* --pub FILE: a principal's public key */
    char *projects[MAX_PROJECTS];
    size_t n_projects;
    char project_buf[MAX_PROJECTS][AF_ID_MAX + 1];
};

/* "a,b,c" into o->projects; -1 on a bad name or too many. */
static int split_projects(struct admin_opts *o, const char *s)
{
    const char *p = s;

    o->n_projects = 0;
    while (*p) {
        size_t n = strcspn(p, ",");

        if (o->n_projects == MAX_PROJECTS || n == 0 || n > AF_ID_MAX)
            return -1;
        memcpy(o->project_buf[o->n_projects], p, n);
        o->project_buf[o->n_projects][n] = '\0';
        if (!af_id_valid(o->project_buf[o->n_projects]))
            return -1;
        o->projects[o->n_projects] = o->project_buf[o->n_projects];
        o->n_projects++;
        p += n + (p[n] == ',');
    }
    return o->n_projects ? 0 : -1;
}

static int admin_allocation(struct ctl *ctl, const struct command *cmd,
                            struct admin_opts *o, const char *verb)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__AllocationSet set = AIFED__ALLOCATION_SET__INIT;
    int rc;

    if (!strcmp(verb, "set")) {
        if (!*o->a.project || !*o->a.site || o->hours < 0)
            return usage_error(
                cmd, "allocation set needs --project, --site and --gpu-hours", NULL);
        o->a.granted_gpu_s = (uint64_t)(o->hours * 3600.0);
        set.allocation = &o->a;
        req.body_case = AIFED__ENVELOPE__BODY_ALLOCATION_SET;
        req.allocation_set = &set;
    } else if (!strcmp(verb, "show")) {
        req.body_case = AIFED__ENVELOPE__BODY_LIST_ALLOCATIONS;
        req.list_allocations = &o->list;
    } else {
        return usage_error(cmd, "'%s' is not allocation set or show", verb);
    }
    if ((rep = call(ctl, &req, AIFED__ENVELOPE__BODY_ALLOCATION_LIST, 10000, &rc))) {
        ctl_show_allocations(rep->allocation_list, ctl->json);
        af_wire_free(rep);
    }
    return rc;
}

/* The bodies a principal request may carry, and the key it names. */
struct principal_req {
    Aifed__PrincipalAdd add;
    Aifed__PrincipalRemoveKey rm;
    Aifed__PrincipalRevoke revoke;
    Aifed__ListPrincipals list;
    char key[AF_KEY_Z85_LEN + 1];
};

/* Build the request of "principal VERB [ID]"; exit status when it cannot. */
static int principal_request(const struct command *cmd, struct admin_opts *o,
                             char **words, int n_words, Aifed__Envelope *req,
                             struct principal_req *b)
{
    const char *verb = words[0], *id = n_words > 1 ? words[1] : NULL;
    struct af_error err;
    bool takes_key = !strcmp(verb, "add") || !strcmp(verb, "remove-key");

    if (!strcmp(verb, "list")) {
        if (n_words != 1)
            return usage_error(cmd, "principal list takes no id", NULL);
        req->body_case = AIFED__ENVELOPE__BODY_LIST_PRINCIPALS;
        req->list_principals = &b->list;
        return 0;
    }
    if (!takes_key && strcmp(verb, "revoke"))
        return usage_error(cmd, "'%s' is not principal add, remove-key, revoke or list",
                           verb);
    if (n_words != 2)
        return usage_error(cmd, "principal %s needs one principal id", verb);
    if (strncmp(id, "site:", 5) && strncmp(id, "user:", 5) && strncmp(id, "admin:", 6))
        return usage_error(cmd, "'%s' is not site:ID, user:NAME or admin:NAME", id);
    if (takes_key) {
        if (!o->pub)
            return usage_error(cmd, "principal %s needs --pub FILE (the .pub key)", verb);
        if (af_keys_load_public(o->pub, b->key, &err) < 0) {
            fprintf(stderr, "aifedctl: %s\n", err.text);
            return EXIT_USAGE;
        }
    }
    if (!strcmp(verb, "add")) {
        b->add.id = (char *)id;
        b->add.public_key = b->key;
        b->add.projects = o->projects;
        b->add.n_projects = o->n_projects;
        req->body_case = AIFED__ENVELOPE__BODY_PRINCIPAL_ADD;
        req->principal_add = &b->add;
    } else if (!strcmp(verb, "remove-key")) {
        b->rm.id = (char *)id;
        b->rm.public_key = b->key;
        req->body_case = AIFED__ENVELOPE__BODY_PRINCIPAL_REMOVE_KEY;
        req->principal_remove_key = &b->rm;
    } else {
        b->revoke.id = (char *)id;
        req->body_case = AIFED__ENVELOPE__BODY_PRINCIPAL_REVOKE;
        req->principal_revoke = &b->revoke;
    }
    return 0;
}

static int admin_principal(struct ctl *ctl, const struct command *cmd,
                           struct admin_opts *o, char **words, int n_words)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    struct principal_req b = {.add = AIFED__PRINCIPAL_ADD__INIT,
                              .rm = AIFED__PRINCIPAL_REMOVE_KEY__INIT,
                              .revoke = AIFED__PRINCIPAL_REVOKE__INIT,
                              .list = AIFED__LIST_PRINCIPALS__INIT};
    int rc = principal_request(cmd, o, words, n_words, &req, &b);

    if (rc != 0)
        return rc;
    if ((rep = call(ctl, &req, AIFED__ENVELOPE__BODY_PRINCIPAL_LIST, 10000, &rc))) {
        ctl_show_principals(rep->principal_list, ctl->json);
        af_wire_free(rep);
    }
    return rc;
}

static int admin_site(struct ctl *ctl, const struct command *cmd, char **words,
                      int n_words)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__SiteAdmin a = AIFED__SITE_ADMIN__INIT;
    int rc;

    if (n_words == 1 && !strcmp(words[0], "confirm-down")) {
        a.action = AIFED__SITE_ACTION__SITE_CONFIRM_DOWN;
    } else if (n_words == 2 &&
               (!strcmp(words[0], "drain") || !strcmp(words[0], "undrain"))) {
        if (!af_id_valid(words[1]))
            return usage_error(cmd, "'%s' is not a site id", words[1]);
        a.action = words[0][0] == 'd' ? AIFED__SITE_ACTION__SITE_DRAIN
                                      : AIFED__SITE_ACTION__SITE_UNDRAIN;
        a.site = words[1];
    } else {
        return usage_error(
            cmd, "give site drain SITE, site undrain SITE or site confirm-down", NULL);
    }
    req.body_case = AIFED__ENVELOPE__BODY_SITE_ADMIN;
    req.site_admin = &a;
    if ((rep = call(ctl, &req, AIFED__ENVELOPE__BODY_SITE_LIST, 10000, &rc))) {
        ctl_show_sites(rep->site_list, ctl->json);
        af_wire_free(rep);
    }
    return rc;
}

/* admin audit: list the log, and with --verify check its whole chain. */
struct audit_walk {
    int64_t since_ms;
    bool verify, json, broken;
    struct af_audit_check chain;
    size_t shown, total;
    json_t *all;
};

static int audit_entry(const Aifed__AuditEntry *e, void *arg)
{
    struct audit_walk *w = arg;

    w->total++;
    if (w->verify && !w->broken && !af_audit_follows(&w->chain, e)) {
        w->broken = true;
        fprintf(stderr,
                "aifedctl: the audit chain is BROKEN at entry %llu (after entry %llu "
                "it does not follow): the log was altered\n",
                (unsigned long long)e->seq, (unsigned long long)w->chain.seq);
    }
    if (e->time_ms < w->since_ms)
        return 0;
    w->shown++;
    if (w->json)
        json_array_append_new(w->all, ctl_audit_json(e));
    else
        ctl_show_audit_entry(e, w->shown == 1);
    return 0;
}

/* The whole log from the broker, page by page (or from --db). */
static int audit_fetch(struct ctl *ctl, struct audit_walk *w)
{
    uint64_t after = 0;
    int rc = 0;

    if (ctl->db)
        return ctl_db_audit(ctl->db, audit_entry, w) < 0 ? 1 : 0;
    do {
        Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
        Aifed__ListAudit q = AIFED__LIST_AUDIT__INIT;

        q.after_seq = after;
        q.limit = 1000;
        /* --verify needs every entry; otherwise the broker may skip old ones. */
        q.since_ms = w->verify ? 0 : w->since_ms;
        req.body_case = AIFED__ENVELOPE__BODY_LIST_AUDIT;
        req.list_audit = &q;
        if (!(rep = call(ctl, &req, AIFED__ENVELOPE__BODY_AUDIT_LIST, 20000, &rc)))
            return rc;
        for (size_t i = 0; i < rep->audit_list->n_entries; i++)
            audit_entry(rep->audit_list->entries[i], w);
        after = rep->audit_list->next_seq;
        af_wire_free(rep);
    } while (after);
    return 0;
}

static int admin_audit(struct ctl *ctl, int64_t since_ms, bool verify)
{
    struct audit_walk w = {.since_ms = since_ms, .verify = verify, .json = ctl->json};
    int rc;

    if (w.json)
        w.all = json_array();
    rc = audit_fetch(ctl, &w);
    if (rc == 0 && w.json)
        ctl_print_json(w.all);
    else
        json_decref(w.all);
    if (rc == 0 && !w.json && w.shown == 0)
        printf("no audit entries%s\n", since_ms ? " since then" : "");
    if (rc == 0 && verify && !w.broken)
        fprintf(
            w.json ? stderr : stdout,
            "audit chain intact: %zu entries, each following the one before; last hash "
            "%.16s...\n",
            w.total, w.chain.hash);
    return rc ? rc : w.broken ? 1 : 0;
}

static int cmd_admin(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"project", required_argument, NULL, 'p'},
        {"site", required_argument, NULL, 's'},
        {"gpu-hours", required_argument, NULL, 'g'},
        {"until", required_argument, NULL, 'u'},
        {"pub", required_argument, NULL, 'k'},
        {"projects", required_argument, NULL, 'P'},
        {"since", required_argument, NULL, 'S'},
        {"verify", no_argument, NULL, 'v'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct command *cmd = find_command("admin");
    struct admin_opts o = {
        .a = AIFED__ALLOCATION__INIT, .list = AIFED__LIST_ALLOCATIONS__INIT, .hours = -1};
    char *end;
    int64_t since_ms = 0;
    bool verify = false;
    int opt;

    while ((opt = getopt_long(argc, argv, "p:s:g:u:k:P:S:vjh", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            if (!af_id_valid(optarg))
                return usage_error(cmd, "'%s' is not a project name", optarg);
            o.a.project = o.list.project = optarg;
            break;
        case 's':
            if (!af_id_valid(optarg))
                return usage_error(cmd, "'%s' is not a site id", optarg);
            o.a.site = o.list.site = optarg;
            break;
        case 'g':
            o.hours = strtod(optarg, &end);
            if (end == optarg || *end || !(o.hours >= 0 && o.hours < 1e12))
                return usage_error(cmd, "--gpu-hours: '%s' is not a number of hours",
                                   optarg);
            break;
        case 'u':
            if (af_time_parse(optarg, &o.a.end_ms) < 0)
                return usage_error(cmd, "--until: '%s' is not a date like 2027-06-30",
                                   optarg);
            break;
        case 'k':
            o.pub = optarg;
            break;
        case 'S':
            if (af_time_parse(optarg, &since_ms) < 0)
                return usage_error(
                    cmd, "--since: '%s' is not a time like 2026-11-24T06:00Z", optarg);
            break;
        case 'v':
            verify = true;
            break;
        case 'P':
            if (split_projects(&o, optarg) < 0)
                return usage_error(cmd, "--projects: '%s' is not a list like ai-lux,bio",
                                   optarg);
            break;
        case 'j':
            ctl->json = true;
            break;
        case 'h':
            return command_help(cmd), 0;
        default:
            return usage_error(cmd, NULL, NULL);
        }
    }
    if (optind + 1 == argc && !strcmp(argv[optind], "audit"))
        return admin_audit(ctl, since_ms, verify);
    if (ctl->db)
        return usage_error(cmd, "with --db only admin audit works", NULL);
    if (optind + 2 == argc && !strcmp(argv[optind], "allocation"))
        return admin_allocation(ctl, cmd, &o, argv[optind + 1]);
    if (optind + 2 <= argc && !strcmp(argv[optind], "principal"))
        return admin_principal(ctl, cmd, &o, argv + optind + 1, argc - optind - 1);
    if (optind + 2 <= argc && !strcmp(argv[optind], "site"))
        return admin_site(ctl, cmd, argv + optind + 1, argc - optind - 1);
    return usage_error(
        cmd,
        "give allocation set|show, principal add|remove-key|revoke|list or site "
        "drain|undrain|confirm-down",
        NULL);
}

static int cmd_help(struct ctl *ctl, int argc, char **argv);

static const struct command commands[] = {
    {"keygen", cmd_keygen, "keygen [--dir DIR] NAME",
     "Write a new CURVE key pair: DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub\n"
     "(public; give it to the broker's administrator). Never overwrites a key.\n"},
    {"sites", cmd_sites, "sites [--json]",
     "List every site the broker knows: state, pools, free and available GPUs (free\n"
     "minus what the broker has promised to leases the site has not counted yet).\n"},
    {"submit", cmd_submit,
     "submit --project P --gpus N [--accelerator MODEL] [--gpu-memory GB] [--nodes N]\n"
     "       [--cpus-per-node N] [--memory-per-node GB] [--walltime DURATION]\n"
     "       [--not-before WHEN] [--start-by WHEN] [--country CC,CC | --eu]\n"
     "       [--cert NAME]... [--dataset|--model|--image NAME[:SIZE]]...\n"
     "       [--prefer time|cost|green|local|balanced] [--weights time=W,cost=W,...]\n"
     "       [--request-id ID] [--json]",
     "Ask for capacity. The broker picks the best site, asks it to hold the GPUs, and\n"
     "answers once the site holds them (ACTIVE) or no site would (FAILED). The\n"
     "walltime defaults to 1h. WHEN is a UTC time (2026-12-01T06:00Z) or a duration\n"
     "from now (2h). --cert names a certification the site must hold (repeat for\n"
     "several); data the site already holds need not be moved, which --prefer local\n"
     "weighs most. --weights sets the score weights of time, cost, carbon, data and\n"
     "fit directly. A retry with the same --request-id returns the same lease,\n"
     "never a second one; `aifedctl request show ID` explains any request later.\n"},
    {"explain", cmd_explain,
     "explain --project P --gpus N [workload options as for submit] [--json]",
     "Show how the broker would place a workload: every site, chosen, ranked (with the\n"
     "start, cost, carbon and data figures behind its score) or rejected (the first\n"
     "constraint that failed, with the numbers).\n"},
    {"leases", cmd_leases,
     "leases [--site S] [--project P] [--state STATE] [--limit N] [--json]",
     "List the leases you may see (your projects' leases; an admin sees all).\n"},
    {"lease", cmd_lease,
     "lease show|why|release|token ID [--json]\n"
     "       lease renew ID --by DURATION [--json]\n"
     "       lease revoke ID [--reason TEXT] [--json]",
     "show: one lease in full. why: the explanation kept from its submit.\n"
     "release: give its capacity back now. renew: make an ACTIVE lease longer, within\n"
     "the pool's maximum walltime and the project's allocation. revoke (admins): take\n"
     "it back; the site is told to drop the hold. token: print the broker's signed\n"
     "token for it, which `aifedctl verify-token` checks with no broker reachable.\n"},
    {"verify-token", cmd_verify_token, "verify-token FILE|- --broker-pub KEY [--json]",
     "Check a lease token offline: its signature against the broker's signing key\n"
     "(KEY: the broker's signing.key.pub file, or its base64 text), and print what it\n"
     "grants. Exit 0 when valid, 1 when not (altered, or not signed by that key).\n"},
    {"request", cmd_request, "request show REQUEST-ID [--json]",
     "What the broker decided for one of your submits, granted or refused, and why,\n"
     "site by site.\n"},
    {"admin", cmd_admin,
     "admin allocation set --project P --site S --gpu-hours H [--until DATE]\n"
     "       admin allocation show [--project P] [--site S] [--json]\n"
     "       admin principal add ID --pub FILE [--projects P,P]\n"
     "       admin principal remove-key ID --pub FILE\n"
     "       admin principal revoke ID\n"
     "       admin principal list [--json]\n"
     "       admin site drain|undrain SITE\n"
     "       admin site confirm-down\n"
     "       admin audit [--since WHEN] [--verify] [--json]",
     "allocation: GPU-hours a project may use at a site, and until when. set is for\n"
     "admins; show lists what you may see (users: their projects). A site where a\n"
     "project's balance cannot cover gpus x walltime is rejected.\n"
     "\n"
     "principal (admins only): who may talk to the broker. ID is site:NAME,\n"
     "user:NAME or admin:NAME; FILE is the principal's .pub (aifedctl keygen). add\n"
     "registers a principal, or gives it a second key for a change-over (a user's\n"
     "--projects replace its projects); remove-key ends the change-over; revoke\n"
     "refuses every key at once, also on connections already open. Changes are\n"
     "stored by the broker and survive its restart. A site added here may connect\n"
     "its agent straight away.\n"
     "\n"
     "site (admins only): drain gives a site no new leases (its leases stay);\n"
     "undrain ends that. When every site goes silent at once the broker assumes it is\n"
     "the one cut off and marks none DOWN (the isolation guard); confirm-down says the\n"
     "silence is real and marks the silent sites DOWN now.\n"
     "\n"
     "audit (admins only): every change of a lease, principal or allocation, each\n"
     "entry hashing the one before. --since shows the entries from WHEN on; --verify\n"
     "recomputes the whole chain and exits 1 if any entry was altered or dropped.\n"
     "With the global --db STATE_DIR it reads the broker's store directly (on the\n"
     "broker host; works while the broker runs and while it is down).\n"},
    {"help", cmd_help, "help [COMMAND]", "Describe aifedctl or one command.\n"},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: aifedctl [--broker ENDPOINT] [--broker-key FILE] [--key FILE]\n"
                 "                [--timeout DURATION] [--json] COMMAND [ARGS]\n"
                 "       aifedctl --db STATE_DIR leases|lease show|admin audit ...\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %s\n", commands[i].usage);
    fprintf(out, "\nThe broker and keys come from the options or from AIFED_BROKER,\n"
                 "AIFED_BROKER_KEY (the broker's .pub) and AIFED_KEY (your .key).\n"
                 "`aifedctl COMMAND --help` describes a command. Exit status: 0 done,\n"
                 "1 refused or failed, 2 bad usage, 3 broker unreachable.\n");
}

static int cmd_help(struct ctl *ctl, int argc, char **argv)
{
    const struct command *cmd;

    (void)ctl;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!(cmd = find_command(argv[1]))) {
        fprintf(stderr, "aifedctl: no command '%s'\n", argv[1]);
        return EXIT_USAGE;
    }
    command_help(cmd);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option o[] = {
        {"broker", required_argument, NULL, 'b'},
        {"broker-key", required_argument, NULL, 'B'},
        {"db", required_argument, NULL, 'D'},
        {"key", required_argument, NULL, 'k'},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct ctl ctl = {
        .broker = getenv("AIFED_BROKER"),
        .broker_key = getenv("AIFED_BROKER_KEY"),
        .key = getenv("AIFED_KEY"),
    };
    const struct command *cmd;
    int opt;

    if (sodium_init() < 0) {
        fprintf(stderr, "aifedctl: libsodium failed to initialise\n");
        return 1;
    }
    /* "+": stop at the command; its options are its own. */
    while ((opt = getopt_long(argc, argv, "+b:B:D:k:t:jhV", o, NULL)) != -1) {
        switch (opt) {
        case 'D':
            ctl.db = optarg;
            break;
        case 'b':
            ctl.broker = optarg;
            break;
        case 'B':
            ctl.broker_key = optarg;
            break;
        case 'k':
            ctl.key = optarg;
            break;
        case 't':
            if (af_duration_parse(optarg, &ctl.timeout_ms) < 0 || ctl.timeout_ms == 0) {
                fprintf(stderr, "aifedctl: --timeout: '%s' is not a duration like 10s\n",
                        optarg);
                return EXIT_USAGE;
            }
            ctl.timeout_set = true;
            break;
        case 'j':
            ctl.json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("aifedctl %s\n", AIFED_VERSION);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!(cmd = find_command(argv[optind]))) {
        fprintf(stderr, "aifedctl: no command '%s'\n\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (ctl.db && strcmp(cmd->name, "leases") && strcmp(cmd->name, "lease") &&
        strcmp(cmd->name, "admin")) {
        fprintf(stderr, "aifedctl: --db works with leases, lease show and admin audit\n");
        return EXIT_USAGE;
    }
    argc -= optind;
    argv += optind;
    /* 0, not 1: glibc then re-initialises getopt, forgetting the "+" (stop at
     * the first word) of the global parse, so a command's options may also
     * follow its words ("lease show ID --json"). */
    optind = 0;
    return cmd->run(&ctl, argc, argv);
}
