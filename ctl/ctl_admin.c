/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_admin: aifedctl admin WHAT VERB ...: allocations, principals, sites
 * and the audit log. Each level of words is a table of its own (bgpctl's
 * token tables): admin's nouns, then each noun's verbs.
 */
#include "af_audit.h"
#include "af_ids.h"
#include "af_keys.h"
#include "af_time.h"
#include "af_wire.h"
#include "ctl.h"
#include "ctl_call.h"
#include "ctl_db.h"
#include "ctl_show.h"

#include "aifed.pb-c.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROJECTS 32

struct admin_opts {
    int64_t since_ms; /* audit --since */
    bool verify;      /* audit --verify */
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

/* The options of this invocation (aifedctl runs one command), for the
 * verbs that take them. */
static struct admin_opts admin_o;

/* ----------------------------------------------------------- allocation */

static int allocation_set(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                          char **argv)
{
    struct admin_opts *o = &admin_o;
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__AllocationSet set = AIFED__ALLOCATION_SET__INIT;

    (void)argv;
    if (argc != 1)
        return ctl_usage_error(cmd, "allocation set takes options, not words", NULL);
    if (!*o->a.project || !*o->a.site || o->hours < 0)
        return ctl_usage_error(
            cmd, "allocation set needs --project, --site and --gpu-hours", NULL);
    o->a.granted_gpu_s = (uint64_t)(o->hours * 3600.0);
    set.allocation = &o->a;
    req.body_case = AIFED__ENVELOPE__BODY_ALLOCATION_SET;
    req.allocation_set = &set;
    return ctl_call_show(ctl, &req, AIFED__ENVELOPE__BODY_ALLOCATION_LIST, 10000,
                         ctl_reply_allocations);
}

static int allocation_show(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                           char **argv)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;

    (void)argv;
    if (argc != 1)
        return ctl_usage_error(cmd, "allocation show takes options, not words", NULL);
    req.body_case = AIFED__ENVELOPE__BODY_LIST_ALLOCATIONS;
    req.list_allocations = &admin_o.list;
    return ctl_call_show(ctl, &req, AIFED__ENVELOPE__BODY_ALLOCATION_LIST, 10000,
                         ctl_reply_allocations);
}

static const struct ctl_verb allocation_verbs[] = {
    {"set", allocation_set},
    {"show", allocation_show},
    {NULL, NULL},
};

/* ------------------------------------------------------------ principal */

/* The principal a request names, and its key. */
struct principal_req {
    const char *id;
    char key[AF_KEY_Z85_LEN + 1];
};

/* The principal id of "principal VERB ID", and for add and remove-key the
 * key --pub names; 0, or the exit status of bad usage. */
static int principal_words(const struct ctl_command *cmd, int argc, char **argv,
                           bool takes_key, struct principal_req *b)
{
    const char *verb = argv[0], *id = argc > 1 ? argv[1] : NULL;
    struct af_error err;

    if (argc != 2)
        return ctl_usage_error(cmd, "principal %s needs one principal id", verb);
    if (strncmp(id, "site:", 5) && strncmp(id, "user:", 5) && strncmp(id, "admin:", 6))
        return ctl_usage_error(cmd, "'%s' is not site:ID, user:NAME or admin:NAME", id);
    if (takes_key) {
        if (!admin_o.pub)
            return ctl_usage_error(cmd, "principal %s needs --pub FILE (the .pub key)",
                                   verb);
        if (af_keys_load_public(admin_o.pub, b->key, &err) < 0) {
            fprintf(stderr, "aifedctl: %s\n", err.text);
            return CTL_EXIT_USAGE;
        }
    }
    b->id = id;
    return 0;
}

static int principal_call(struct ctl *ctl, Aifed__Envelope *req)
{
    return ctl_call_show(ctl, req, AIFED__ENVELOPE__BODY_PRINCIPAL_LIST, 10000,
                         ctl_reply_principals);
}

static int principal_add(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                         char **argv)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    struct principal_req b = {0};
    Aifed__PrincipalAdd add = AIFED__PRINCIPAL_ADD__INIT;
    int rc = principal_words(cmd, argc, argv, true, &b);

    if (rc)
        return rc;
    add.id = (char *)b.id;
    add.public_key = b.key;
    add.projects = admin_o.projects;
    add.n_projects = admin_o.n_projects;
    req.body_case = AIFED__ENVELOPE__BODY_PRINCIPAL_ADD;
    req.principal_add = &add;
    return principal_call(ctl, &req);
}

static int principal_remove_key(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                                char **argv)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    struct principal_req b = {0};
    Aifed__PrincipalRemoveKey rm = AIFED__PRINCIPAL_REMOVE_KEY__INIT;
    int rc = principal_words(cmd, argc, argv, true, &b);

    if (rc)
        return rc;
    rm.id = (char *)b.id;
    rm.public_key = b.key;
    req.body_case = AIFED__ENVELOPE__BODY_PRINCIPAL_REMOVE_KEY;
    req.principal_remove_key = &rm;
    return principal_call(ctl, &req);
}

static int principal_revoke(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                            char **argv)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    struct principal_req b = {0};
    Aifed__PrincipalRevoke revoke = AIFED__PRINCIPAL_REVOKE__INIT;
    int rc = principal_words(cmd, argc, argv, false, &b);

    if (rc)
        return rc;
    revoke.id = (char *)b.id;
    req.body_case = AIFED__ENVELOPE__BODY_PRINCIPAL_REVOKE;
    req.principal_revoke = &revoke;
    return principal_call(ctl, &req);
}

static int principal_list(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                          char **argv)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__ListPrincipals list = AIFED__LIST_PRINCIPALS__INIT;

    (void)argv;
    if (argc != 1)
        return ctl_usage_error(cmd, "principal list takes no id", NULL);
    req.body_case = AIFED__ENVELOPE__BODY_LIST_PRINCIPALS;
    req.list_principals = &list;
    return principal_call(ctl, &req);
}

static const struct ctl_verb principal_verbs[] = {
    {"add", principal_add},
    {"remove-key", principal_remove_key},
    {"revoke", principal_revoke},
    {"list", principal_list},
    {NULL, NULL},
};

/* ----------------------------------------------------------------- site */

static int site_call(struct ctl *ctl, Aifed__SiteAction action, char *site)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__SiteAdmin a = AIFED__SITE_ADMIN__INIT;

    a.action = action;
    if (site)
        a.site = site;
    req.body_case = AIFED__ENVELOPE__BODY_SITE_ADMIN;
    req.site_admin = &a;
    return ctl_call_show(ctl, &req, AIFED__ENVELOPE__BODY_SITE_LIST, 10000,
                         ctl_reply_sites);
}

#define SITE_USAGE "give site drain SITE, site undrain SITE or site confirm-down"

static int site_drain(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                      char **argv)
{
    if (argc != 2)
        return ctl_usage_error(cmd, SITE_USAGE, NULL);
    if (!af_id_valid(argv[1]))
        return ctl_usage_error(cmd, "'%s' is not a site id", argv[1]);
    return site_call(ctl,
                     strcmp(argv[0], "drain") ? AIFED__SITE_ACTION__SITE_UNDRAIN
                                              : AIFED__SITE_ACTION__SITE_DRAIN,
                     argv[1]);
}

static int site_confirm_down(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                             char **argv)
{
    (void)argv;
    if (argc != 1)
        return ctl_usage_error(cmd, SITE_USAGE, NULL);
    return site_call(ctl, AIFED__SITE_ACTION__SITE_CONFIRM_DOWN, NULL);
}

static const struct ctl_verb site_verbs[] = {
    {"drain", site_drain},
    {"undrain", site_drain},
    {"confirm-down", site_confirm_down},
    {NULL, NULL},
};

/* ---------------------------------------------------------------- audit */

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
        if (!(rep = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_AUDIT_LIST, 20000, &rc)))
            return rc;
        for (size_t i = 0; i < rep->audit_list->n_entries; i++)
            audit_entry(rep->audit_list->entries[i], w);
        after = rep->audit_list->next_seq;
        af_wire_free(rep);
    } while (after);
    return 0;
}

static int admin_audit(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                       char **argv)
{
    int64_t since_ms = admin_o.since_ms;
    bool verify = admin_o.verify;
    struct audit_walk w = {.since_ms = since_ms, .verify = verify, .json = ctl->json};
    int rc;

    (void)argv;
    if (argc != 1)
        return ctl_usage_error(cmd, "admin audit takes options, not words", NULL);
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

/* ---------------------------------------------------------------- admin */

/* A noun with verbs: the verb's table finds its handler. */
static int run_verbs(const struct ctl_verb *verbs, const char *what, struct ctl *ctl,
                     const struct ctl_command *cmd, int argc, char **argv)
{
    const struct ctl_verb *v;

    if (argc < 2 || !(v = ctl_verb_find(verbs, argv[1])))
        return ctl_usage_error(cmd, what, NULL);
    return v->run(ctl, cmd, argc - 1, argv + 1);
}

static int admin_allocation(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                            char **argv)
{
    return run_verbs(allocation_verbs, "give allocation set or allocation show", ctl, cmd,
                     argc, argv);
}

static int admin_principal(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                           char **argv)
{
    return run_verbs(principal_verbs, "give principal add, remove-key, revoke or list",
                     ctl, cmd, argc, argv);
}

static int admin_site(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                      char **argv)
{
    return run_verbs(site_verbs, SITE_USAGE, ctl, cmd, argc, argv);
}

static const struct ctl_verb admin_nouns[] = {
    {"allocation", admin_allocation},
    {"principal", admin_principal},
    {"site", admin_site},
    {"audit", admin_audit},
    {NULL, NULL},
};

int ctl_cmd_admin(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
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
    struct admin_opts *o = &admin_o;
    const struct ctl_verb *noun;
    char *end;
    int opt;

    *o = (struct admin_opts){
        .a = AIFED__ALLOCATION__INIT, .list = AIFED__LIST_ALLOCATIONS__INIT, .hours = -1};
    while ((opt = getopt_long(argc, argv, "p:s:g:u:k:P:S:vjh", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            if (!af_id_valid(optarg))
                return ctl_usage_error(cmd, "'%s' is not a project name", optarg);
            o->a.project = o->list.project = optarg;
            break;
        case 's':
            if (!af_id_valid(optarg))
                return ctl_usage_error(cmd, "'%s' is not a site id", optarg);
            o->a.site = o->list.site = optarg;
            break;
        case 'g':
            o->hours = strtod(optarg, &end);
            if (end == optarg || *end || !(o->hours >= 0 && o->hours < 1e12))
                return ctl_usage_error(cmd, "--gpu-hours: '%s' is not a number of hours",
                                       optarg);
            break;
        case 'u':
            if (af_time_parse(optarg, &o->a.end_ms) < 0)
                return ctl_usage_error(cmd, "--until: '%s' is not a date like 2027-06-30",
                                       optarg);
            break;
        case 'k':
            o->pub = optarg;
            break;
        case 'S':
            if (af_time_parse(optarg, &o->since_ms) < 0)
                return ctl_usage_error(
                    cmd, "--since: '%s' is not a time like 2026-11-24T06:00Z", optarg);
            break;
        case 'v':
            o->verify = true;
            break;
        case 'P':
            if (split_projects(o, optarg) < 0)
                return ctl_usage_error(
                    cmd, "--projects: '%s' is not a list like ai-lux,bio", optarg);
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
    if (optind >= argc || !(noun = ctl_verb_find(admin_nouns, argv[optind])))
        return ctl_usage_error(
            cmd,
            "give allocation set|show, principal "
            "add|remove-key|revoke|list, site drain|undrain|confirm-down "
            "or audit",
            NULL);
    if (ctl->db && noun->run != admin_audit)
        return ctl_usage_error(cmd, "with --db only admin audit works", NULL);
    return noun->run(ctl, cmd, argc - optind, argv + optind);
}
