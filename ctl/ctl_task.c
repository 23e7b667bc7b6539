/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_task: libyaml loads the file as a document (nodes with their marks),
 * and the walk below reads it against tables of known fields. A field of
 * the workload is turned into the text its flag would take and handed to
 * ctl_workload_set(); the strings it keeps live in the task's arena.
 */
#include "ctl_task.h"
#include "af_wire.h"
#include "af_ids.h"
#include "af_yaml.h"
#include "af_time.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

struct walk {
    struct ctl_task *t;
    const struct ctl_task_setter *setter;
    yaml_document_t *doc;
    char *why;
    size_t size;
    char dir[4096]; /* the task file's directory, for files */
};

/* Say what is wrong with node, at its place in the file; -1. */
static int fail(struct walk *w, const yaml_node_t *node, const char *field,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(struct walk *w, const yaml_node_t *node, const char *field,
                const char *fmt, ...)
{
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    snprintf(w->why, w->size, "%s:%zu:%zu: %s%s%s", w->t->path,
             node ? node->start_mark.line + 1 : 1, node ? node->start_mark.column + 1 : 1,
             field ? field : "", field ? ": " : "", text);
    return -1;
}

/* A copy the task owns (and frees), or NULL. */
static char *keep(struct ctl_task *t, const char *s, size_t n)
{
    char *c;

    if (t->n_strs == t->cap_strs) {
        size_t cap = t->cap_strs ? t->cap_strs * 2 : 32;
        char **grown = realloc(t->strs, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        t->strs = grown;
        t->cap_strs = cap;
    }
    if (!(c = strndup(s, n)))
        return NULL;
    t->strs[t->n_strs++] = c;
    return c;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(struct walk *w, int id)
{
    return yaml_document_get_node(w->doc, id);
}

/* The scalar value of field, kept; -1 when it is not one. */
static int want_scalar(struct walk *w, const yaml_node_t *n, const char *field,
                       size_t max, char **ret)
{
    const char *v = scalar(n);

    if (!v)
        return fail(w, n, field, "must be a single value");
    if (strlen(v) > max)
        return fail(w, n, field, "is %zu bytes; at most %zu", strlen(v), max);
    if (!(*ret = keep(w->t, v, strlen(v))))
        return fail(w, n, field, "out of memory");
    return 0;
}

/* Hand value to the workload option opt, as its flag would. */
static int set(struct walk *w, const yaml_node_t *n, const char *field, int opt,
               const char *value)
{
    char why[256], *kept = keep(w->t, value, strlen(value));

    if (!kept)
        return fail(w, n, field, "out of memory");
    if (w->setter->set(w->setter->arg, opt, kept, why, sizeof(why)) < 0)
        return fail(w, n, field, "%s", why);
    return 0;
}

/* "80", "80GB" and "80G" are all 80 (GB). */
static int set_gb(struct walk *w, const yaml_node_t *n, const char *field, int opt)
{
    const char *v = scalar(n);
    char num[32];
    size_t len;

    if (!v)
        return fail(w, n, field, "must be a number of GB");
    len = strlen(v);
    if (len > 2 && !strcasecmp(v + len - 2, "GB"))
        len -= 2;
    else if (len > 1 && (v[len - 1] == 'G' || v[len - 1] == 'g'))
        len -= 1;
    if (len >= sizeof(num))
        return fail(w, n, field, "'%s' is not a number of GB", v);
    memcpy(num, v, len);
    num[len] = '\0';
    return set(w, n, field, opt, num);
}

/* "H100:8" (model and count), or "H100" (the count from gpus). */
static int set_accelerators(struct walk *w, const yaml_node_t *n, const char *field)
{
    const char *v = scalar(n), *colon;
    char model[AF_ID_MAX + 1];

    if (!v)
        return fail(w, n, field, "must be MODEL or MODEL:COUNT, like H100:8");
    colon = strchr(v, ':');
    if ((size_t)(colon ? colon - v : (ptrdiff_t)strlen(v)) > AF_ID_MAX)
        return fail(w, n, field, "'%s' is not MODEL or MODEL:COUNT, like H100:8", v);
    snprintf(model, sizeof(model), "%.*s",
             (int)(colon ? colon - v : (ptrdiff_t)strlen(v)), v);
    if (set(w, n, field, 'a', model) < 0)
        return -1;
    return colon ? set(w, n, field, 'g', colon + 1) : 0;
}

/* A sequence (or one value) whose every item goes to opt. */
static int set_each(struct walk *w, const yaml_node_t *n, const char *field, int opt)
{
    if (n->type == YAML_SCALAR_NODE)
        return set(w, n, field, opt, scalar(n));
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(w, n, field, "must be a list");
    for (yaml_node_item_t *i = n->data.sequence.items.start;
         i < n->data.sequence.items.top; i++) {
        const yaml_node_t *item = node(w, *i);
        if (!scalar(item))
            return fail(w, item, field, "each entry must be a single value");
        if (set(w, item, field, opt, scalar(item)) < 0)
            return -1;
    }
    return 0;
}

static int set_bool_flag(struct walk *w, const yaml_node_t *n, const char *field, int opt)
{
    const char *v = scalar(n);

    if (v && (!strcmp(v, "true") || !strcmp(v, "yes")))
        return set(w, n, field, opt, "");
    if (v && (!strcmp(v, "false") || !strcmp(v, "no")))
        return 0;
    return fail(w, n, field, "must be true or false");
}

/* {time: 4, cost: 1} as --weights time=4,cost=1. */
static int set_weights(struct walk *w, const yaml_node_t *n, const char *field)
{
    char text[256] = "";
    size_t len = 0;

    if (n->type != YAML_MAPPING_NODE)
        return fail(w, n, field, "must map time, cost, carbon, data or fit to a weight");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
         p++) {
        const char *k = scalar(node(w, p->key)), *v = scalar(node(w, p->value));
        if (!k || !v)
            return fail(w, node(w, p->key), field, "each weight is NAME: NUMBER");
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s=%s", len ? "," : "",
                                k, v);
        if (len >= sizeof(text))
            return fail(w, n, field, "too many weights");
    }
    return set(w, n, field, 'W', text);
}

enum kind { K_VALUE, K_GB, K_EACH, K_FLAG, K_ACCELERATORS, K_WEIGHTS };

struct field {
    const char *name;
    enum kind kind;
    int opt; /* the workload option it sets */
};

static const struct field resources[] = {
    {"accelerators", K_ACCELERATORS, 0},
    {"gpus", K_VALUE, 'g'},
    {"accelerator", K_VALUE, 'a'},
    {"gpu_memory", K_GB, 'm'},
    {"nodes", K_VALUE, 'n'},
    {"cpus", K_VALUE, 'C'},
    {"memory", K_GB, 'M'},
    {"walltime", K_VALUE, 'w'},
    {NULL, 0, 0},
};

static const struct field placement[] = {
    {"site", K_EACH, 'S'},
    {"country", K_EACH, 'c'},
    {"eu", K_FLAG, 'e'},
    {"certifications", K_EACH, 'T'},
    {"prefer", K_VALUE, 'P'},
    {"weights", K_WEIGHTS, 0},
    {"not_before", K_VALUE, 'B'},
    {"start_by", K_VALUE, 'D'},
    {NULL, 0, 0},
};

static int set_field(struct walk *w, const struct field *f, const yaml_node_t *n,
                     const char *path)
{
    switch (f->kind) {
    case K_VALUE:
        if (!scalar(n))
            return fail(w, n, path, "must be a single value");
        return set(w, n, path, f->opt, scalar(n));
    case K_GB:
        return set_gb(w, n, path, f->opt);
    case K_EACH:
        return set_each(w, n, path, f->opt);
    case K_FLAG:
        return set_bool_flag(w, n, path, f->opt);
    case K_ACCELERATORS:
        return set_accelerators(w, n, path);
    case K_WEIGHTS:
        return set_weights(w, n, path);
    }
    return -1;
}

/* Every key of the mapping n (named section) against table. */
static int walk_section(struct walk *w, const yaml_node_t *n, const char *section,
                        const struct field *table)
{
    char path[128], known[256] = "";

    if (n->type != YAML_MAPPING_NODE)
        return fail(w, n, section, "must be a mapping of fields");
    for (const struct field *f = table; f->name; f++)
        snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
                 f == table ? "" : ", ", f->name);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = node(w, p->key);
        const struct field *f = table;
        const char *name = scalar(k);

        for (; f->name && (!name || strcmp(f->name, name)); f++)
            ;
        if (!f->name)
            return fail(w, k, section, "unknown field '%s' (known: %s)",
                        name ? name : "?", known);
        snprintf(path, sizeof(path), "%s.%s", section, f->name);
        if (set_field(w, f, node(w, p->value), path) < 0)
            return -1;
    }
    return 0;
}

static bool env_key_valid(const char *k)
{
    if (!*k || strlen(k) > AF_ID_MAX ||
        !(k[0] == '_' || (k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z')))
        return false;
    for (; *k; k++)
        if (!(*k == '_' || (*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') ||
              (*k >= '0' && *k <= '9')))
            return false;
    return true;
}

/* env: and secrets: (whose values the broker never shows back). */
static int walk_env(struct walk *w, const yaml_node_t *n, const char *field, bool secret)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail(w, n, field, "must map names to values");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = node(w, p->key), *v = node(w, p->value);
        struct ctl_task_env *e = &w->t->env[w->t->n_env];

        if (w->t->n_env == CTL_TASK_MAX_ENV)
            return fail(w, k, field, "at most %d variables", CTL_TASK_MAX_ENV);
        if (!scalar(k) || !env_key_valid(scalar(k)))
            return fail(w, k, field, "'%s' is not a variable name (letters, digits, _)",
                        scalar(k) ? scalar(k) : "?");
        if (want_scalar(w, v, field, CTL_TASK_MAX_VALUE, &e->value) < 0)
            return -1;
        if (!(e->key = keep(w->t, scalar(k), strlen(scalar(k)))))
            return fail(w, k, field, "out of memory");
        e->secret = secret;
        w->t->n_env++;
    }
    return 0;
}

static int walk_files(struct walk *w, const yaml_node_t *n)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail(w, n, "files",
                    "must map names in the job's directory to local files");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = node(w, p->key), *v = node(w, p->value);
        struct ctl_task_file *f = &w->t->files[w->t->n_files];
        char full[8192];
        struct stat st;

        if (w->t->n_files == CTL_TASK_MAX_FILES)
            return fail(w, k, "files", "at most %d files", CTL_TASK_MAX_FILES);
        if (!scalar(k) || !af_wire_file_name_ok(scalar(k)))
            return fail(w, k, "files",
                        "'%s' is not a name in the job's directory (relative, without "
                        "'..', of letters, digits, '.', '_', '-' and '/')",
                        scalar(k) ? scalar(k) : "?");
        if (want_scalar(w, v, "files", 4095, &f->path) < 0)
            return -1;
        snprintf(full, sizeof(full), "%s%s%s", *f->path == '/' ? "" : w->dir,
                 *f->path == '/' ? "" : "/", f->path);
        if (stat(full, &st) < 0)
            return fail(w, v, "files", "%s: %s", full, strerror(errno));
        if (!S_ISREG(st.st_mode))
            return fail(w, v, "files", "%s: not a regular file", full);
        if (w->t->files_bytes + (uint64_t)st.st_size > CTL_TASK_MAX_FILES_BYTES)
            return fail(w, v, "files", "the files come to more than %d KiB",
                        CTL_TASK_MAX_FILES_BYTES / 1024);
        if (!(f->name = keep(w->t, scalar(k), strlen(scalar(k)))) ||
            !(f->path = keep(w->t, full, strlen(full))))
            return fail(w, k, "files", "out of memory");
        f->bytes = (uint64_t)st.st_size;
        w->t->files_bytes += f->bytes;
        w->t->n_files++;
    }
    return 0;
}

/* A decimal count of at most 9 digits; -1 otherwise. */
static int count(const char *s, uint32_t *ret)
{
    size_t n = strspn(s, "0123456789");

    if (!n || n > 9 || s[n])
        return -1;
    *ret = (uint32_t)strtoul(s, NULL, 10);
    return 0;
}

int ctl_task_replicas(const char *s, uint32_t *min, uint32_t *max, char *why, size_t size)
{
    const char *dots = strstr(s, "..");
    char lo[16];

    if (!dots) {
        if (count(s, min) < 0 || *min < 1 || *min > AF_WIRE_MAX_REPLICAS)
            goto bad;
        *max = *min;
        return 0;
    }
    snprintf(lo, sizeof(lo), "%.*s", (int)(dots - s), s);
    if ((size_t)(dots - s) >= sizeof(lo) || count(lo, min) < 0 ||
        count(dots + 2, max) < 0 || *max < 1 || *max > AF_WIRE_MAX_REPLICAS ||
        *min > *max)
        goto bad;
    return 0;
bad:
    snprintf(why, size,
             "'%s' is not a replica count: N, or MIN..MAX (0 <= MIN <= MAX, 1 <= MAX <= "
             "%d)",
             s, AF_WIRE_MAX_REPLICAS);
    return -1;
}

/* A whole number of seconds, at most a day. */
static int want_seconds(struct walk *w, const yaml_node_t *n, const char *field,
                        uint32_t *ret)
{
    if (!scalar(n) || count(scalar(n), ret) < 0 || *ret > 86400)
        return fail(w, n, field, "must be a number of seconds, at most 86400");
    return 0;
}

/* readiness_probe: a path, or {path, initial_delay_seconds, timeout_seconds}. */
static int walk_probe(struct walk *w, const yaml_node_t *n)
{
    struct ctl_task_service *sv = &w->t->service;
    const char *f = "service.readiness_probe";

    if (scalar(n)) {
        if (want_scalar(w, n, f, AF_WIRE_MAX_PROBE_PATH, &sv->probe_path) < 0)
            return -1;
        return *sv->probe_path == '/' && !strpbrk(sv->probe_path, " \t\r\n")
                   ? 0
                   : fail(w, n, f, "'%s' is not a path (/v1/models)", sv->probe_path);
    }
    if (n->type != YAML_MAPPING_NODE)
        return fail(w, n, f,
                    "must be a path, or path, initial_delay_seconds and "
                    "timeout_seconds");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
         p++) {
        const char *k = scalar(node(w, p->key));
        const yaml_node_t *v = node(w, p->value);
        int rc;
        if (k && !strcmp(k, "path"))
            rc = walk_probe(w, v);
        else if (k && !strcmp(k, "initial_delay_seconds"))
            rc = want_seconds(w, v, f, &sv->probe_delay_s);
        else if (k && !strcmp(k, "timeout_seconds"))
            rc = want_seconds(w, v, f, &sv->probe_timeout_s);
        else
            rc = fail(w, node(w, p->key), f,
                      "unknown field '%s' (known: path, initial_delay_seconds, "
                      "timeout_seconds)",
                      k ? k : "?");
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* scaling: {metric: rps | requests_in_flight, target: N}. */
static int walk_scaling(struct walk *w, const yaml_node_t *n)
{
    struct ctl_task_service *sv = &w->t->service;
    const char *f = "service.scaling";

    if (n->type != YAML_MAPPING_NODE)
        return fail(w, n, f, "must be metric (rps or requests_in_flight) and target");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
         p++) {
        const char *k = scalar(node(w, p->key)), *v = scalar(node(w, p->value));
        char *end = NULL;
        if (k && !strcmp(k, "metric") && v &&
            (!strcmp(v, "rps") || !strcmp(v, "requests_in_flight")))
            sv->metric = !strcmp(v, "rps") ? AIFED__SCALE_METRIC__SCALE_RPS
                                           : AIFED__SCALE_METRIC__SCALE_INFLIGHT;
        else if (k && !strcmp(k, "target") && v && (sv->target = strtod(v, &end)) > 0 &&
                 !*end && sv->target <= 1e6)
            ;
        else
            return fail(w, node(w, p->value), f,
                        "'%s: %s' is not metric: rps or requests_in_flight, or target: a "
                        "number above 0",
                        k ? k : "?", v ? v : "?");
    }
    if (!sv->metric || sv->target <= 0)
        return fail(w, n, f, "needs both metric and target");
    return 0;
}

/* service: a served model's (aifedctl serve; docs/inference.md). */
static int walk_service(struct walk *w, const yaml_node_t *n)
{
    struct ctl_task_service *sv = &w->t->service;
    char why[160];

    if (n->type != YAML_MAPPING_NODE)
        return fail(w, n, "service", "must be a mapping of fields");
    sv->given = true;
    sv->min = sv->max = 1;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
         p++) {
        const char *k = scalar(node(w, p->key)), *v = scalar(node(w, p->value));
        const yaml_node_t *vn = node(w, p->value);
        uint64_t ms = 0;
        int rc = 0;
        if (!k) {
            rc = fail(w, node(w, p->key), "service",
                      "a field's name must be a single value");
        } else if (!strcmp(k, "port")) {
            if (!v || count(v, &sv->port) < 0 || !sv->port || sv->port > 65535)
                rc = fail(w, vn, "service.port", "must be a port, 1-65535");
        } else if (!strcmp(k, "readiness_probe")) {
            rc = walk_probe(w, vn);
        } else if (!strcmp(k, "replicas")) {
            if (!v || ctl_task_replicas(v, &sv->min, &sv->max, why, sizeof(why)) < 0)
                rc = fail(w, vn, "service.replicas", "%s",
                          v ? why : "must be N or MIN..MAX");
        } else if (!strcmp(k, "scaling")) {
            rc = walk_scaling(w, vn);
        } else if (!strcmp(k, "scale_down_delay")) {
            if (!v || af_duration_parse_bare(v, AF_BARE_MINUTES, &ms) < 0 ||
                ms > 86400000ull)
                rc = fail(w, vn, "service.scale_down_delay",
                          "must be a duration of at most a day (like 10m)");
            sv->scale_down_delay_s = (uint32_t)(ms / 1000);
        } else {
            rc = fail(
                w, node(w, p->key), "service",
                "unknown field '%s' (known: port, readiness_probe, replicas, scaling, "
                "scale_down_delay)",
                k);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* One top-level key. */
static int walk_top(struct walk *w, const char *key, const yaml_node_t *k,
                    const yaml_node_t *v)
{
    static const char *const data[] = {"datasets", "models", "images"};

    if (!strcmp(key, "resources"))
        return walk_section(w, v, "resources", resources);
    if (!strcmp(key, "placement"))
        return walk_section(w, v, "placement", placement);
    for (int i = 0; i < 3; i++)
        if (!strcmp(key, data[i]))
            return set_each(w, v, key, '1' + i);
    if (!strcmp(key, "project"))
        return scalar(v) ? set(w, v, key, 'p', scalar(v))
                         : fail(w, v, key, "must be a single value");
    if (!strcmp(key, "name")) {
        if (want_scalar(w, v, key, AF_ID_MAX, &w->t->name) < 0)
            return -1;
        return af_id_valid(w->t->name)
                   ? 0
                   : fail(w, v, key, "'%s' is not a name (1-64 of A-Z a-z 0-9 . _ -)",
                          w->t->name);
    }
    if (!strcmp(key, "image"))
        return want_scalar(w, v, key, 1024, &w->t->image);
    if (!strcmp(key, "setup"))
        return want_scalar(w, v, key, CTL_TASK_MAX_SCRIPT, &w->t->setup);
    if (!strcmp(key, "run"))
        return want_scalar(w, v, key, CTL_TASK_MAX_SCRIPT, &w->t->run);
    if (!strcmp(key, "env"))
        return walk_env(w, v, "env", false);
    if (!strcmp(key, "secrets"))
        return walk_env(w, v, "secrets", true);
    if (!strcmp(key, "files"))
        return walk_files(w, v);
    if (!strcmp(key, "service"))
        return walk_service(w, v);
    return fail(w, k, NULL,
                "unknown field '%s' (known: name, project, resources, placement, "
                "datasets, models, images, image, env, secrets, setup, run, files, "
                "service)",
                key);
}

static int walk_root(struct walk *w)
{
    yaml_node_t *root = yaml_document_get_root_node(w->doc);

    if (!root)
        return fail(w, NULL, NULL, "the file is empty");
    if (root->type != YAML_MAPPING_NODE)
        return fail(w, root, NULL, "a task is a mapping of fields (name: ..., run: ...)");
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         p < root->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(w, p->key);
        if (!scalar(k))
            return fail(w, k, NULL, "a field's name must be a single value");
        if (walk_top(w, scalar(k), k, node(w, p->value)) < 0)
            return -1;
    }
    return 0;
}

struct ctl_task *ctl_task_parse(const char *path, const char *buf, size_t len,
                                const struct ctl_task_setter *setter, char *why,
                                size_t size)
{
    struct ctl_task *t = calloc(1, sizeof(*t));
    struct walk w = {.t = t, .setter = setter, .why = why, .size = size};
    yaml_parser_t parser;
    yaml_document_t doc;
    char *copy;
    int rc = -1;

    if (!t || !(t->path = strdup(path))) {
        snprintf(why, size, "%s: out of memory", path);
        free(t);
        return NULL;
    }
    if ((copy = strdup(path))) {
        snprintf(w.dir, sizeof(w.dir), "%s", dirname(copy));
        free(copy);
    }
    if (len > CTL_TASK_MAX_BYTES) {
        snprintf(why, size, "%s: the task file is %zu bytes; at most %d", path, len,
                 CTL_TASK_MAX_BYTES);
        ctl_task_free(t);
        return NULL;
    }
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(why, size, "%s:%zu:%zu: %s%s%s", path, parser.problem_mark.line + 1,
                 parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "bad YAML", parser.context ? " " : "",
                 parser.context ? parser.context : "");
    } else {
        struct af_error err;
        /* Loading keeps an alias as a reference; walking it would follow an
         * alias cycle forever or expand a bomb: refused before the walk. */
        if (af_yaml_plain(buf, len, &err) < 0)
            snprintf(why, size, "%s:%s", path, err.text + strlen("line "));
        else {
            w.doc = &doc;
            rc = walk_root(&w);
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    if (rc < 0) {
        ctl_task_free(t);
        return NULL;
    }
    return t;
}

struct ctl_task *ctl_task_load(const char *path, const struct ctl_task_setter *setter,
                               char *why, size_t size)
{
    FILE *f = fopen(path, "r");
    char *buf;
    size_t len;
    struct ctl_task *t;

    if (!f) {
        snprintf(why, size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (!(buf = malloc(CTL_TASK_MAX_BYTES + 1))) {
        fclose(f);
        snprintf(why, size, "%s: out of memory", path);
        return NULL;
    }
    len = fread(buf, 1, CTL_TASK_MAX_BYTES + 1, f);
    if (ferror(f)) {
        snprintf(why, size, "%s: %s", path, strerror(errno));
        t = NULL;
    } else {
        t = ctl_task_parse(path, buf, len, setter, why, size);
    }
    fclose(f);
    free(buf);
    return t;
}

void ctl_task_free(struct ctl_task *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_strs; i++)
        free(t->strs[i]);
    free(t->strs);
    free(t->path);
    free(t);
}
