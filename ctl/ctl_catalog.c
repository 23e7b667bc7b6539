/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_catalog: what the federation offers. catalog (models, data sets,
 * images, templates, each with the sites that hold it), gpus (every
 * accelerator model, per site, as sky show-gpus shows them), templates and
 * template show, and the admins' federation templates.
 */
#include "ctl_catalog.h"

#include "ctl.h"
#include "ctl_call.h"
#include "ctl_opts.h"
#include "ctl_show.h"
#include "ctl_table.h"
#include "match.h"

#include "af_conf.h"
#include "af_ids.h"
#include "af_near.h"
#include "af_template.h"
#include "af_time.h"
#include "af_wire.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_words[] = {
    [AIFED__DATA_KIND__DATA_DATASET] = "dataset",
    [AIFED__DATA_KIND__DATA_MODEL] = "model",
    [AIFED__DATA_KIND__DATA_IMAGE] = "image",
};

static const char *kind_word(int kind)
{
    return kind >= 0 && kind <= AIFED__DATA_KIND__DATA_IMAGE ? kind_words[kind] : "?";
}

static void size_text(uint64_t b, char *buf, size_t size)
{
    if (!b)
        snprintf(buf, size, "-");
    else if (b >= 1000000000000ULL)
        snprintf(buf, size, "%.1f TB", (double)b / 1e12);
    else if (b >= 1000000000ULL)
        snprintf(buf, size, "%.1f GB", (double)b / 1e9);
    else
        snprintf(buf, size, "%.1f MB", (double)b / 1e6);
}

static const char *dash(const char *s)
{
    return s && *s ? s : "-";
}

/* ---------------------------------------------------------------- catalog */

static json_t *entry_json(const Aifed__CatalogEntry *e)
{
    const Aifed__DataItem *d = e->item;
    json_t *sites = json_array(), *certs = json_array();

    for (size_t i = 0; i < e->n_sites; i++)
        json_array_append_new(sites, json_pack("{s:s, s:s}", "site", e->sites[i]->site,
                                               "path", e->sites[i]->path));
    for (size_t i = 0; i < d->n_certifications; i++)
        json_array_append_new(certs, json_string(d->certifications[i]));
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:s, s:o}", "kind",
                     kind_word(d->kind), "name", d->name, "version", d->version,
                     "size_bytes", (json_int_t)d->size_bytes, "licence", d->licence,
                     "access", d->access, "certifications", certs, "description",
                     d->description, "sites", sites);
}

static json_t *template_json(const Aifed__Template *t)
{
    return json_pack("{s:s, s:s, s:s}", "name", t->name, "site",
                     *t->site ? t->site : "federation", "description", t->description);
}

/* The sites of e, comma-separated, in buf. */
static void sites_text(const Aifed__CatalogEntry *e, char *buf, size_t size)
{
    size_t at = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < e->n_sites && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, "%s%s", i ? "," : "",
                               e->sites[i]->site);
}

static void show_entries(const Aifed__CatalogList *l)
{
    static const struct ctl_col cols[] = {
        {"KIND", 0},
        {"NAME", 0},
        {"VERSION", 0},
        {"SIZE", CTL_COL_RIGHT},
        {"LICENCE", CTL_COL_TRUNC},
        {"SITES", CTL_COL_WRAP},
        {"ACCESS", CTL_COL_EXTRA | CTL_COL_WRAP},
        {"NEEDS", CTL_COL_EXTRA},
        {"DESCRIPTION", CTL_COL_EXTRA | CTL_COL_WRAP},
    };
    struct ctl_table *t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));

    for (size_t i = 0; i < l->n_entries; i++) {
        const Aifed__DataItem *d = l->entries[i]->item;
        char size[32], sites[1024], needs[512] = "";
        size_t at = 0;

        size_text(d->size_bytes, size, sizeof(size));
        sites_text(l->entries[i], sites, sizeof(sites));
        for (size_t k = 0; k < d->n_certifications && at < sizeof(needs); k++)
            at += (size_t)snprintf(needs + at, sizeof(needs) - at, "%s%s", k ? "," : "",
                                   d->certifications[k]);
        CTL_TABLE_ROW(t, kind_word(d->kind), d->name, dash(d->version), size,
                      dash(d->licence), sites, dash(d->access), dash(needs),
                      dash(d->description));
    }
    ctl_table_print(t);
}

static void show_templates(const Aifed__CatalogList *l)
{
    static const struct ctl_col cols[] = {
        {"TEMPLATE", 0}, {"FROM", 0}, {"DESCRIPTION", CTL_COL_WRAP}};
    struct ctl_table *t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));

    for (size_t i = 0; i < l->n_templates; i++)
        CTL_TABLE_ROW(t, l->templates[i]->name,
                      *l->templates[i]->site ? l->templates[i]->site : "federation",
                      dash(l->templates[i]->description));
    ctl_table_print(t);
}

static int show_catalog(const Aifed__Envelope *rep, bool json)
{
    const Aifed__CatalogList *l = rep->catalog_list;

    if (json) {
        json_t *o = json_pack("{s:[], s:[], s:b}", "entries", "templates", "truncated",
                              l->truncated);
        for (size_t i = 0; i < l->n_entries; i++)
            json_array_append_new(json_object_get(o, "entries"),
                                  entry_json(l->entries[i]));
        for (size_t i = 0; i < l->n_templates; i++)
            json_array_append_new(json_object_get(o, "templates"),
                                  template_json(l->templates[i]));
        ctl_print_json(o);
        return 0;
    }
    if (!l->n_entries && !l->n_templates) {
        printf("nothing in the catalogue matches\n");
        return 0;
    }
    if (l->n_entries)
        show_entries(l);
    if (l->n_entries && l->n_templates)
        printf("\n");
    if (l->n_templates)
        show_templates(l);
    if (l->truncated)
        printf("(more matched than one list holds: narrow it with --site or --search)\n");
    return 0;
}

int ctl_cmd_catalog(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    static const char *const what[] = {"datasets", "models", "images"};
    Aifed__ListCatalog q = AIFED__LIST_CATALOG__INIT;
    int opt, rc;

    q.all_kinds = true;
    while ((opt = ctl_getopt(argc, argv, &ctl_opts_catalog)) != -1) {
        if (opt == 's' && af_id_valid(optarg))
            q.site = optarg;
        else if (opt == 's')
            return ctl_usage_error(cmd, "--site: '%s' is not a site id", optarg);
        else if (opt == 'w')
            q.search = optarg;
        else if ((rc = ctl_opt_common(cmd, ctl, opt)) >= 0)
            return rc;
    }
    if (optind < argc) {
        const char *w = argv[optind++];
        size_t k = 0;

        while (k < 3 && strcmp(w, what[k]))
            k++;
        if (k < 3) {
            q.all_kinds = false;
            q.kind = (Aifed__DataKind)k; /* the order of DataKind */
        } else if (!strcmp(w, "templates")) {
            q.all_kinds = false;
            q.templates = true;
        } else {
            return ctl_usage_error(cmd,
                                   "'%s': give models, datasets, images or templates", w);
        }
    }
    if (optind != argc)
        return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return ctl_ask(ctl, AIFED__ENVELOPE__BODY_LIST_CATALOG, &q,
                   AIFED__ENVELOPE__BODY_CATALOG_LIST, show_catalog);
}

int ctl_cmd_templates(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                      char **argv)
{
    Aifed__ListCatalog q = AIFED__LIST_CATALOG__INIT;
    int rc = ctl_parse_json_only(cmd, ctl, argc, argv);

    if (rc >= 0)
        return rc;
    if (optind != argc)
        return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    q.templates = true;
    return ctl_ask(ctl, AIFED__ENVELOPE__BODY_LIST_CATALOG, &q,
                   AIFED__ENVELOPE__BODY_CATALOG_LIST, show_catalog);
}

/* ---------------------------------------------------------------- gpus */

/* No site offers what; the nearest names the federation has. */
static void unknown_name(const char *what, const char *name, const char *const *v,
                         size_t n)
{
    char text[768];

    af_near_unknown(what, name, v, n, text, sizeof(text));
    fprintf(stderr, "aifedctl: %s\n", text);
}

static const char *gpus_accel; /* --accelerator, for show_gpus */

static int show_gpus(const Aifed__Envelope *rep, bool json)
{
    static const struct ctl_col cols[] = {
        {"ACCEL", 0},
        {"MEM", CTL_COL_RIGHT},
        {"SITE", 0},
        {"CC", 0},
        {"GPUS", CTL_COL_RIGHT},
        {"FREE", CTL_COL_RIGHT},
        {"AVAIL", CTL_COL_RIGHT},
        {"EUR/GPU-H", CTL_COL_RIGHT},
        {"GCO2/GPU-H", CTL_COL_RIGHT},
        {"MAXWALL", CTL_COL_RIGHT},
        {"POOL", CTL_COL_EXTRA},
        {"STATE", CTL_COL_EXTRA},
    };
    const Aifed__SiteList *l = rep->site_list;
    json_t *a = json ? json_array() : NULL;
    struct ctl_table *t =
        json ? NULL : ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
    const char *seen[AF_WIRE_MAX_POOLS * 16];
    size_t n_seen = 0, rows = 0;

    /* By model, in the order first met; then by site. */
    for (size_t i = 0; i < l->n_sites; i++)
        for (size_t j = 0; j < l->sites[i]->n_pools; j++) {
            const char *m = l->sites[i]->pools[j]->pool->accelerator;
            size_t k = 0;
            while (k < n_seen && strcasecmp(seen[k], m))
                k++;
            if (k == n_seen && n_seen < sizeof(seen) / sizeof(seen[0]))
                seen[n_seen++] = m;
        }
    for (size_t k = 0; k < n_seen; k++) {
        if (gpus_accel && strcasecmp(gpus_accel, seen[k]))
            continue;
        for (size_t i = 0; i < l->n_sites; i++) {
            const Aifed__SiteStatus *s = l->sites[i];
            for (size_t j = 0; j < s->n_pools; j++) {
                const Aifed__Pool *p = s->pools[j]->pool;
                char mem[16], gpus[16], fr[16], av[16], eur[16], co2[16], wall[24];
                bool up = s->state == AIFED__SITE_STATE__SITE_UP;

                if (strcasecmp(p->accelerator, seen[k]))
                    continue;
                rows++;
                if (json) {
                    json_array_append_new(
                        a,
                        json_pack("{s:s, s:i, s:s, s:s, s:s, s:b, s:i, s:i, s:i, s:f, "
                                  "s:f, s:i}",
                                  "accelerator", p->accelerator, "gpu_memory_gb",
                                  (json_int_t)p->gpu_memory_gb, "site", s->site->id,
                                  "country", s->site->country, "pool", p->name, "up", up,
                                  "gpus_total", (json_int_t)p->gpus_total, "gpus_free",
                                  (json_int_t)p->gpus_free, "gpus_available",
                                  (json_int_t)s->pools[j]->gpus_available,
                                  "eur_per_gpu_hour", s->site->price_per_gpu_hour,
                                  "g_co2_per_gpu_hour",
                                  s->site->carbon_g_per_kwh * MATCH_GPU_KW,
                                  "max_walltime_s", (json_int_t)p->max_walltime_s));
                    continue;
                }
                snprintf(mem, sizeof(mem), "%uG", p->gpu_memory_gb);
                snprintf(gpus, sizeof(gpus), "%u", p->gpus_total);
                snprintf(fr, sizeof(fr), "%u", p->gpus_free);
                snprintf(av, sizeof(av), "%u", s->pools[j]->gpus_available);
                snprintf(eur, sizeof(eur), "%.2f", s->site->price_per_gpu_hour);
                snprintf(co2, sizeof(co2), "%.0f",
                         s->site->carbon_g_per_kwh * MATCH_GPU_KW);
                af_duration_format((uint64_t)p->max_walltime_s * 1000, wall,
                                   sizeof(wall));
                CTL_TABLE_ROW(t, p->accelerator, mem, s->site->id, s->site->country, gpus,
                              fr, av, eur, co2, p->max_walltime_s ? wall : "-", p->name,
                              up ? "UP" : "DOWN");
            }
        }
    }
    if (json) {
        ctl_print_json(a);
        return 0;
    }
    ctl_table_print(t);
    if (!rows && gpus_accel)
        return unknown_name("accelerator", gpus_accel, seen, n_seen), 1;
    return 0;
}

int ctl_cmd_gpus(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    Aifed__ListSites q = AIFED__LIST_SITES__INIT;
    int opt, rc;

    while ((opt = ctl_getopt(argc, argv, &ctl_opts_gpus)) != -1) {
        if (opt == 'a')
            gpus_accel = optarg;
        else if ((rc = ctl_opt_common(cmd, ctl, opt)) >= 0)
            return rc;
    }
    if (optind != argc)
        return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return ctl_ask(ctl, AIFED__ENVELOPE__BODY_LIST_SITES, &q,
                   AIFED__ENVELOPE__BODY_SITE_LIST, show_gpus);
}

/* ---------------------------------------------------------------- templates */

Aifed__Envelope *ctl_template_get(const struct ctl *ctl, const char *name, int *ret_exit)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__GetTemplate q = AIFED__GET_TEMPLATE__INIT;

    q.name = (char *)name;
    af_wire_set_body(&req, AIFED__ENVELOPE__BODY_GET_TEMPLATE, &q);
    return ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_TEMPLATE_REPLY, 10000, ret_exit);
}

static void show_param(const struct af_tparam *p)
{
    printf("  %-14s %-8s %s%s%s", p->name, af_tparam_type_name(p->type),
           p->def ? "default " : "required", p->def ? p->def : "", p->help ? "; " : "");
    if (p->help)
        printf("%s", p->help);
    for (size_t i = 0; i < p->n_allowed; i++)
        printf("%s%s", i ? ", " : " (one of ", p->allowed[i]);
    printf("%s\n", p->n_allowed ? ")" : "");
}

static bool any_required(const struct af_template *t)
{
    for (size_t i = 0; i < t->n_params; i++)
        if (!t->params[i].def)
            return true;
    return false;
}

/* The task with the defaults, and for each required parameter a stand-in:
 * "<name>" where a word may stand, else a value of its type. */
static char *expand_shown(const struct af_template *t, struct af_error *err)
{
    char buf[AF_TEMPLATE_MAX_PARAMS][96];
    const char *sets[AF_TEMPLATE_MAX_PARAMS];
    size_t n = 0;

    for (size_t i = 0; i < t->n_params; i++) {
        const struct af_tparam *p = &t->params[i];
        if (p->def)
            continue;
        if (p->n_allowed)
            snprintf(buf[n], sizeof(buf[n]), "%.60s=%s", p->name, p->allowed[0]);
        else if (p->type == AF_TP_STRING)
            snprintf(buf[n], sizeof(buf[n]), "%.40s=<%.40s>", p->name, p->name);
        else
            snprintf(buf[n], sizeof(buf[n]), "%.60s=%s", p->name,
                     p->type == AF_TP_INT        ? "1"
                     : p->type == AF_TP_BOOL     ? "true"
                     : p->type == AF_TP_DURATION ? "1h"
                                                 : "NAME");
        sets[n] = buf[n];
        n++;
    }
    return af_template_expand(t, sets, n, err);
}

int ctl_cmd_template(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                     char **argv)
{
    Aifed__Envelope *rep;
    struct af_template t;
    struct af_error err;
    char *task;
    int rc = ctl_parse_json_only(cmd, ctl, argc, argv);

    if (rc >= 0)
        return rc;
    if (argc - optind != 2 || strcmp(argv[optind], "show"))
        return ctl_usage_error(cmd, "give template show NAME", NULL);
    if (!(rep = ctl_template_get(ctl, argv[optind + 1], &rc)))
        return rc;
    const Aifed__Template *tp = rep->template_reply->template_;
    if (ctl->json) {
        ctl_print_json(json_pack("{s:s, s:s, s:s, s:s}", "name", tp->name, "site",
                                 *tp->site ? tp->site : "federation", "description",
                                 tp->description, "text", tp->text));
        af_wire_free(rep);
        return 0;
    }
    if (af_template_parse(tp->text, &t, &err) < 0) {
        fprintf(stderr, "aifedctl: template %s: %s\n", tp->name, err.text);
        af_template_free(&t);
        af_wire_free(rep);
        return 1;
    }
    printf("template:    %s (from %s)\n", tp->name,
           *tp->site ? tp->site : "the federation");
    if (*tp->description)
        printf("description: %s\n", tp->description);
    printf("parameters:%s\n", t.n_params ? "" : " none");
    for (size_t i = 0; i < t.n_params; i++)
        show_param(&t.params[i]);
    task = expand_shown(&t, &err);
    printf("\nthe task it makes%s:\n%s",
           any_required(&t) ? " (<NAME>: what you must set)" : "", task ? task : "");
    if (!task)
        printf("  %s\n", err.text);
    printf("\n`aifedctl run --template %s --set NAME=VALUE ...` runs it; --dry-run shows "
           "the task file.\n",
           tp->name);
    free(task);
    af_template_free(&t);
    af_wire_free(rep);
    return 0;
}

/* ---------------------------------------------------------------- admin */

static int show_template_reply(const Aifed__Envelope *rep, bool json)
{
    const Aifed__Template *t = rep->template_reply->template_;

    if (json)
        ctl_print_json(json_pack("{s:s}", "name", t->name));
    else
        printf("template %s: done (aifedctl templates lists them)\n", t->name);
    return 0;
}

int ctl_admin_template(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                       char **argv)
{
    Aifed__TemplateAdmin a = AIFED__TEMPLATE_ADMIN__INIT;
    Aifed__Template t = AIFED__TEMPLATE__INIT;
    struct af_template parsed;
    struct af_error err;
    char *text, name[AF_ID_MAX + 1];
    int rc;

    if (argc == 2 && !strcmp(argv[1], "list")) {
        Aifed__ListCatalog q = AIFED__LIST_CATALOG__INIT;
        q.templates = true;
        return ctl_ask(ctl, AIFED__ENVELOPE__BODY_LIST_CATALOG, &q,
                       AIFED__ENVELOPE__BODY_CATALOG_LIST, show_catalog);
    }
    if (argc == 3 && !strcmp(argv[1], "remove")) {
        a.remove = argv[2];
        return ctl_ask(ctl, AIFED__ENVELOPE__BODY_TEMPLATE_ADMIN, &a,
                       AIFED__ENVELOPE__BODY_TEMPLATE_REPLY, show_template_reply);
    }
    if (argc != 3 || strcmp(argv[1], "add"))
        return ctl_usage_error(cmd,
                               "give template add FILE, template remove NAME or "
                               "template list",
                               NULL);
    if (!(text = af_conf_read_file(argv[2], AF_WIRE_MAX_TEMPLATE, &err))) {
        fprintf(stderr, "aifedctl: %s\n", err.text);
        return 1;
    }
    if (af_template_check(text, &err) < 0 || af_template_parse(text, &parsed, &err) < 0) {
        fprintf(stderr, "aifedctl: %s: %s\n", argv[2], err.text);
        free(text);
        return 1;
    }
    /* Its name: the file's template field, else the file's name. */
    snprintf(name, sizeof(name), "%s", parsed.name ? parsed.name : basename(argv[2]));
    if (!parsed.name && strchr(name, '.'))
        *strrchr(name, '.') = '\0';
    t.name = name;
    t.description = parsed.description ? parsed.description : (char *)"";
    t.text = text;
    a.template_ = &t;
    rc = ctl_ask(ctl, AIFED__ENVELOPE__BODY_TEMPLATE_ADMIN, &a,
                 AIFED__ENVELOPE__BODY_TEMPLATE_REPLY, show_template_reply);
    af_template_free(&parsed);
    free(text);
    return rc;
}
