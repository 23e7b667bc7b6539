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
#include "ctl_opts.h"
#include "ctl_catalog.h"
#include "ctl_show.h"
#include "ctl_table.h"

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

static int allocation_ask(struct ctl *ctl, int body_case, void *body)
{
    return ctl_ask(ctl, body_case, body, AIFED__ENVELOPE__BODY_ALLOCATION_LIST,
                   ctl_reply_allocations);
}

static int allocation_set(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                          char **argv)
{
    struct admin_opts *o = &admin_o;
    Aifed__AllocationSet set = AIFED__ALLOCATION_SET__INIT;

    (void)argc;
    (void)argv;
    if (!*o->a.project || !*o->a.site || o->hours < 0)
        return ctl_usage_error(
            cmd, "allocation set needs --project, --site and --gpu-hours", NULL);
    o->a.granted_gpu_s = (uint64_t)(o->hours * 3600.0);
    set.allocation = &o->a;
    return allocation_ask(ctl, AIFED__ENVELOPE__BODY_ALLOCATION_SET, &set);
}

static int allocation_show(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                           char **argv)
{
    (void)cmd;
    (void)argc;
    (void)argv;
    return allocation_ask(ctl, AIFED__ENVELOPE__BODY_LIST_ALLOCATIONS, &admin_o.list);
}

static const struct ctl_verb allocation_verbs[] = {
    {"set", allocation_set, 0},
    {"show", allocation_show, 0},
    {NULL, NULL, 0},
};

/* ------------------------------------------------------------ principal */

/* 0 when id is a principal id; else the exit status of bad usage. */
static int principal_id(const struct ctl_command *cmd, const char *id)
{
    if (strncmp(id, "site:", 5) && strncmp(id, "user:", 5) && strncmp(id, "admin:", 6))
        return ctl_usage_error(cmd, "'%s' is not site:ID, user:NAME or admin:NAME", id);
    return 0;
}

/* The key --pub names, for verb, into key; 0, or the exit status. */
static int principal_key(const struct ctl_command *cmd, const char *verb, char *key)
{
    struct af_error err;

    if (!admin_o.pub)
        return ctl_usage_error(cmd, "principal %s needs --pub FILE (the .pub key)", verb);
    if (af_keys_load_public(admin_o.pub, key, &err) < 0) {
        fprintf(stderr, "aifedctl: %s\n", err.text);
        return CTL_EXIT_USAGE;
    }
    return 0;
}

static int principal_ask(struct ctl *ctl, int body_case, void *body)
{
    return ctl_ask(ctl, body_case, body, AIFED__ENVELOPE__BODY_PRINCIPAL_LIST,
                   ctl_reply_principals);
}

/* add and remove-key: a principal id and the key --pub names. */
static int principal_key_verb(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                              char **argv)
{
    char key[AF_KEY_Z85_LEN + 1];
    Aifed__PrincipalAdd add = AIFED__PRINCIPAL_ADD__INIT;
    Aifed__PrincipalRemoveKey rm = AIFED__PRINCIPAL_REMOVE_KEY__INIT;
    int rc;

    (void)argc;
    if ((rc = principal_id(cmd, argv[1])) || (rc = principal_key(cmd, argv[0], key)))
        return rc;
    if (strcmp(argv[0], "add")) {
        rm.id = argv[1];
        rm.public_key = key;
        return principal_ask(ctl, AIFED__ENVELOPE__BODY_PRINCIPAL_REMOVE_KEY, &rm);
    }
    add.id = argv[1];
    add.public_key = key;
    add.projects = admin_o.projects;
    add.n_projects = admin_o.n_projects;
    return principal_ask(ctl, AIFED__ENVELOPE__BODY_PRINCIPAL_ADD, &add);
}

static int principal_revoke(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                            char **argv)
{
    Aifed__PrincipalRevoke revoke = AIFED__PRINCIPAL_REVOKE__INIT;
    int rc = principal_id(cmd, argv[1]);

    (void)argc;
    revoke.id = argv[1];
    return rc ? rc : principal_ask(ctl, AIFED__ENVELOPE__BODY_PRINCIPAL_REVOKE, &revoke);
}

static int principal_list(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                          char **argv)
{
    Aifed__ListPrincipals list = AIFED__LIST_PRINCIPALS__INIT;

    (void)cmd;
    (void)argc;
    (void)argv;
    return principal_ask(ctl, AIFED__ENVELOPE__BODY_LIST_PRINCIPALS, &list);
}

static const struct ctl_verb principal_verbs[] = {
    {"add", principal_key_verb, 1},
    {"remove-key", principal_key_verb, 1},
    {"revoke", principal_revoke, 1},
    {"list", principal_list, 0},
    {NULL, NULL, 0},
};

/* ----------------------------------------------------------------- site */

static int site_call(struct ctl *ctl, Aifed__SiteAction action, char *site)
{
    Aifed__SiteAdmin a = AIFED__SITE_ADMIN__INIT;

    a.action = action;
    if (site)
        a.site = site;
    return ctl_ask(ctl, AIFED__ENVELOPE__BODY_SITE_ADMIN, &a,
                   AIFED__ENVELOPE__BODY_SITE_LIST, ctl_reply_sites);
}

#define SITE_USAGE "give site drain SITE, site undrain SITE or site confirm-down"

static int site_drain(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                      char **argv)
{
    (void)argc;
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
    (void)cmd;
    (void)argc;
    (void)argv;
    return site_call(ctl, AIFED__SITE_ACTION__SITE_CONFIRM_DOWN, NULL);
}

static const struct ctl_verb site_verbs[] = {
    {"drain", site_drain, 1},
    {"undrain", site_drain, 1},
    {"confirm-down", site_confirm_down, 0},
    {NULL, NULL, 0},
};

/* ---------------------------------------------------------------- audit */

/* admin audit: list the log, and with --verify check its whole chain. */
struct audit_walk {
    int64_t since_ms;
    bool verify, json, broken;
    struct af_audit_check chain;
    size_t shown, total;
    json_t *all;
    struct ctl_table *table; /* the part of the table not printed yet */
};

/* A table holds its rows until printed, so a long log is printed a part of
 * AUDIT_PART rows at a time: memory stays bounded, and each part is laid out
 * from its own rows (the first alone has the header). */
#define AUDIT_PART 1000

static void audit_row(struct audit_walk *w, const Aifed__AuditEntry *e)
{
    if (!w->table) {
        w->table = ctl_show_audit_table();
        if (w->shown > 1)
            ctl_table_no_header(w->table);
    }
    ctl_show_audit_entry(w->table, e);
    if (ctl_table_rows(w->table) >= AUDIT_PART) {
        ctl_table_print(w->table);
        w->table = NULL;
    }
}

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
        audit_row(w, e);
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

    (void)cmd;
    (void)argc; /* 1: the table says so */
    (void)argv;
    if (w.json)
        w.all = json_array();
    rc = audit_fetch(ctl, &w);
    if (w.table)
        ctl_table_print(w.table);
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

/* ---------------------------------------------------------------- health */

static int show_health(const Aifed__Envelope *rep, bool json)
{
    const Aifed__HealthReply *h = rep->health_reply;
    char since[96];

    if (json) {
        ctl_print_json(json_pack("{s:s, s:s, s:b, s:i, s:i}", "node", h->node,
                                 "active_since", ctl_time_json(h->active_since_ms),
                                 "store_writable", 1, "sites_up", (json_int_t)h->sites_up,
                                 "sites", (json_int_t)h->sites));
        return 0;
    }
    ctl_show_time_far(h->active_since_ms, since, sizeof(since));
    printf("broker on %s: active since %s; the store took a write; %u of %u sites UP\n",
           h->node, since, h->sites_up, h->sites);
    return 0;
}

/* admin health: what a cluster manager's monitor asks (deploy/ha). */
static int admin_health(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                        char **argv)
{
    Aifed__Health q = AIFED__HEALTH__INIT;

    (void)cmd;
    (void)argc;
    (void)argv;
    return ctl_ask(ctl, AIFED__ENVELOPE__BODY_HEALTH, &q,
                   AIFED__ENVELOPE__BODY_HEALTH_REPLY, show_health);
}

/* ---------------------------------------------------------------- admin */

/* A noun with verbs: the verb's table finds its handler. */
static int run_verbs(const struct ctl_verb *verbs, const char *what, struct ctl *ctl,
                     const struct ctl_command *cmd, int argc, char **argv)
{
    const struct ctl_verb *v;

    if (argc < 2 || !(v = ctl_verb_find(verbs, argv[1])))
        return ctl_usage_error(cmd, what, NULL);
    if (argc - 2 != v->words)
        return ctl_usage_error(
            cmd, v->words ? "%s needs one name or id" : "%s takes no more words",
            v->name);
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
    {"allocation", admin_allocation, -1},
    {"principal", admin_principal, -1},
    {"site", admin_site, -1},
    {"audit", admin_audit, 0},
    {"template", ctl_admin_template, -1},
    {"health", admin_health, 0},
    {NULL, NULL, 0},
};

int ctl_cmd_admin(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    struct admin_opts *o = &admin_o;
    const struct ctl_verb *noun;
    char *end;
    int opt, rc;

    *o = (struct admin_opts){
        .a = AIFED__ALLOCATION__INIT, .list = AIFED__LIST_ALLOCATIONS__INIT, .hours = -1};
    while ((opt = ctl_getopt(argc, argv, &ctl_opts_admin)) != -1) {
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
            if (ctl_parse_when(optarg, false, &o->a.end_ms) < 0)
                return ctl_usage_error(
                    cmd, "--until: '%s' is not a time (" CTL_WHEN_HELP ")", optarg);
            break;
        case 'k':
            o->pub = optarg;
            break;
        case 'S':
            if (ctl_parse_when(optarg, true, &o->since_ms) < 0)
                return ctl_usage_error(
                    cmd, "--since: '%s' is not a time (" CTL_WHEN_HELP " ago)", optarg);
            break;
        case 'v':
            o->verify = true;
            break;
        case 'P':
            if (split_projects(o, optarg) < 0)
                return ctl_usage_error(
                    cmd, "--projects: '%s' is not a list like ai-lux,bio", optarg);
            break;
        default:
            if ((rc = ctl_opt_common(cmd, ctl, opt)) >= 0)
                return rc;
        }
    }
    if (optind >= argc || !(noun = ctl_verb_find(admin_nouns, argv[optind])))
        return ctl_usage_error(
            cmd,
            "give allocation set|show, principal "
            "add|remove-key|revoke|list, site drain|undrain|confirm-down, "
            "template add|remove|list, health or audit",
            NULL);
    if (ctl->db && noun->run != admin_audit)
        return ctl_usage_error(cmd, "with --db only admin audit works", NULL);
    if (noun->words >= 0 && argc - optind - 1 != noun->words)
        return ctl_usage_error(cmd, "%s takes no more words", noun->name);
    return noun->run(ctl, cmd, argc - optind, argv + optind);
}
