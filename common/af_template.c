/* SPDX-License-Identifier: Apache-2.0 */
/* af_template: task templates, parsed and expanded with libyaml. */
#include "af_template.h"

#include "af_ids.h"
#include "af_time.h"
#include "af_yaml.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

static const char *const type_names[] = {
    [AF_TP_STRING] = "string",     [AF_TP_INT] = "int",       [AF_TP_BOOL] = "bool",
    [AF_TP_DURATION] = "duration", [AF_TP_CHOICE] = "choice", [AF_TP_MODEL] = "model",
    [AF_TP_DATASET] = "dataset",   [AF_TP_IMAGE] = "image",
};
#define N_TYPES (sizeof(type_names) / sizeof(type_names[0]))

const char *af_tparam_type_name(enum af_tparam_type type)
{
    return (size_t)type < N_TYPES ? type_names[type] : "?";
}

/* ---- reading the document ---- */

static yaml_node_t *node(const struct af_template *t, int id)
{
    return yaml_document_get_node(t->doc, id);
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The value under key in mapping m, or NULL. */
static yaml_node_t *get(const struct af_template *t, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
         p++) {
        const char *k = scalar(node(t, p->key));
        if (k && !strcmp(k, key))
            return node(t, p->value);
    }
    return NULL;
}

static int line_of(yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 0;
}

static int dup_scalar(yaml_node_t *n, char **ret, const char *what, struct af_error *err)
{
    const char *s = scalar(n);

    if (!s)
        return af_error_set(err, "line %d: %s must be a single value", line_of(n), what);
    if (strlen(s) > AF_TEMPLATE_MAX_VALUE || strchr(s, '\n'))
        return af_error_set(err, "line %d: %s must be one line of at most %d characters",
                            line_of(n), what, AF_TEMPLATE_MAX_VALUE);
    if (!(*ret = strdup(s)))
        return af_error_set(err, "out of memory");
    return 0;
}

/* ---- values ---- */

static bool is_bool(const char *v)
{
    static const char *const words[] = {"true", "false", "yes", "no"};

    for (size_t i = 0; i < 4; i++)
        if (!strcasecmp(v, words[i]))
            return true;
    return false;
}

/* Whether value suits p; err says why not, naming the parameter. */
static int value_ok(const struct af_tparam *p, const char *v, struct af_error *err)
{
    uint64_t ms;
    char *end;

    if (strlen(v) > AF_TEMPLATE_MAX_VALUE)
        return af_error_set(err, "%s: longer than %d characters", p->name,
                            AF_TEMPLATE_MAX_VALUE);
    for (const char *c = v; *c; c++)
        if ((unsigned char)*c < ' ' || *c == 0x7f)
            return af_error_set(err, "%s: holds a control character", p->name);
    switch (p->type) {
    case AF_TP_INT:
        if (*v < '0' || *v > '9' || (strtoull(v, &end, 10), *end))
            return af_error_set(err, "%s: '%s' is not a whole number", p->name, v);
        break;
    case AF_TP_BOOL:
        if (!is_bool(v))
            return af_error_set(err, "%s: '%s' is not true or false", p->name, v);
        break;
    case AF_TP_DURATION:
        if (af_duration_parse_bare(v, AF_BARE_MINUTES, &ms) < 0)
            return af_error_set(err, "%s: '%s' is not a duration (like 90m or 2h)",
                                p->name, v);
        break;
    case AF_TP_MODEL:
    case AF_TP_DATASET:
    case AF_TP_IMAGE:
        if (!af_id_valid(v))
            return af_error_set(err, "%s: '%s' is not a %s name", p->name, v,
                                type_names[p->type]);
        break;
    default:
        break;
    }
    if (p->n_allowed) {
        for (size_t i = 0; i < p->n_allowed; i++)
            if (!strcmp(p->allowed[i], v))
                return 0;
        char list[1024] = "";
        size_t at = 0;
        for (size_t i = 0; i < p->n_allowed && at < sizeof(list); i++)
            at += (size_t)snprintf(list + at, sizeof(list) - at, "%s%s", i ? ", " : "",
                                   p->allowed[i]);
        return af_error_set(err, "%s: '%s' is not one of %s", p->name, v, list);
    }
    return 0;
}

/* ---- parameters ---- */

static int param_type(yaml_node_t *n, struct af_tparam *p, struct af_error *err)
{
    const char *s = scalar(n);

    if (!n) {
        p->type = AF_TP_STRING;
        return 0;
    }
    for (size_t i = 0; s && i < N_TYPES; i++)
        if (!strcmp(s, type_names[i])) {
            p->type = (enum af_tparam_type)i;
            return 0;
        }
    return af_error_set(err,
                        "line %d: %s: type must be string, int, bool, duration, choice, "
                        "model, dataset or image",
                        line_of(n), p->name);
}

static int param_allowed(const struct af_template *t, yaml_node_t *n, struct af_tparam *p,
                         struct af_error *err)
{
    if (!n)
        return p->type == AF_TP_CHOICE
                   ? af_error_set(err, "%s: a choice needs allowed: [A, B, ...]", p->name)
                   : 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return af_error_set(err, "line %d: %s: allowed must be a list", line_of(n),
                            p->name);
    for (yaml_node_item_t *i = n->data.sequence.items.start;
         i < n->data.sequence.items.top; i++) {
        if (p->n_allowed == AF_TEMPLATE_MAX_ALLOWED)
            return af_error_set(err, "%s: more than %d allowed values", p->name,
                                AF_TEMPLATE_MAX_ALLOWED);
        if (dup_scalar(node(t, *i), &p->allowed[p->n_allowed], "an allowed value", err) <
            0)
            return -1;
        p->n_allowed++;
    }
    return 0;
}

static int param_parse(const struct af_template *t, const char *name, yaml_node_t *n,
                       struct af_tparam *p, struct af_error *err)
{
    static const char *const keys[] = {"type", "default", "allowed", "help"};

    if (!af_id_valid(name) || strchr(name, '.') || strchr(name, '-'))
        return af_error_set(err,
                            "line %d: '%s' is not a parameter name (letters, digits, _)",
                            line_of(n), name);
    if (!(p->name = strdup(name)))
        return af_error_set(err, "out of memory");
    if (!n || n->type != YAML_MAPPING_NODE)
        return af_error_set(err, "line %d: %s: want {type: ..., default: ..., help: ...}",
                            line_of(n), name);
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top;
         q++) {
        const char *k = scalar(node(t, q->key));
        size_t i = 0;
        while (k && i < 4 && strcmp(k, keys[i]))
            i++;
        if (!k || i == 4)
            return af_error_set(err,
                                "line %d: %s: unknown field '%s' (type, default, "
                                "allowed, help)",
                                line_of(node(t, q->key)), name, k ? k : "?");
    }
    if (param_type(get(t, n, "type"), p, err) < 0 ||
        param_allowed(t, get(t, n, "allowed"), p, err) < 0)
        return -1;
    if (get(t, n, "help") && dup_scalar(get(t, n, "help"), &p->help, "help", err) < 0)
        return -1;
    if (get(t, n, "default")) {
        if (dup_scalar(get(t, n, "default"), &p->def, "default", err) < 0 ||
            value_ok(p, p->def, err) < 0)
            return -1;
    }
    return 0;
}

static int params_parse(struct af_template *t, yaml_node_t *n, struct af_error *err)
{
    if (!n)
        return 0;
    if (n->type != YAML_MAPPING_NODE)
        return af_error_set(err, "line %d: parameters must be a mapping of names",
                            line_of(n));
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top;
         q++) {
        const char *name = scalar(node(t, q->key));

        if (!name)
            return af_error_set(err, "line %d: a parameter's name must be a word",
                                line_of(node(t, q->key)));
        if (af_template_param(t, name))
            return af_error_set(err, "line %d: parameter %s is given twice",
                                line_of(node(t, q->key)), name);
        if (t->n_params == AF_TEMPLATE_MAX_PARAMS)
            return af_error_set(err, "more than %d parameters", AF_TEMPLATE_MAX_PARAMS);
        if (param_parse(t, name, node(t, q->value), &t->params[t->n_params++], err) < 0)
            return -1;
    }
    return 0;
}

const struct af_tparam *af_template_param(const struct af_template *t, const char *name)
{
    for (size_t i = 0; i < t->n_params; i++)
        if (t->params[i].name && !strcmp(t->params[i].name, name))
            return &t->params[i];
    return NULL;
}

/* ---- placeholders ---- */

/* The next "{{ name }}" in s from *at: its name into name (size bytes) and
 * where it starts and ends; false when there is none. */
static bool next_placeholder(const char *s, const char **start, const char **end,
                             char *name, size_t size)
{
    const char *p = strstr(s, "{{"), *q, *a, *b;

    if (!p || !(q = strstr(p + 2, "}}")))
        return false;
    for (a = p + 2; *a == ' '; a++)
        ;
    for (b = q; b > a && b[-1] == ' '; b--)
        ;
    snprintf(name, size, "%.*s", (int)(b - a), a);
    *start = p;
    *end = q + 2;
    return true;
}

/* Every placeholder in the task's scalars names a parameter, and none is a
 * key: a key a value chooses could become any field (files:, which reads
 * the user's machine), past every check of the template's text. */
static int placeholders_known(const struct af_template *t, yaml_node_t *n,
                              struct af_error *err)
{
    if (!n)
        return 0;
    if (n->type == YAML_SCALAR_NODE) {
        const char *s = scalar(n), *a, *b;
        char name[128];

        while (next_placeholder(s, &a, &b, name, sizeof(name))) {
            if (!af_template_param(t, name))
                return af_error_set(err, "line %d: {{%s}} is not one of the parameters",
                                    line_of(n), name);
            s = b;
        }
        return 0;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *i = n->data.sequence.items.start;
             i < n->data.sequence.items.top; i++)
            if (placeholders_known(t, node(t, *i), err) < 0)
                return -1;
        return 0;
    }
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top;
         q++) {
        const char *k = scalar(node(t, q->key));
        if (!k || strstr(k, "{{"))
            return af_error_set(err,
                                "line %d: a key is a field's name, not a parameter's "
                                "value: write it out",
                                line_of(node(t, q->key)));
        if (placeholders_known(t, node(t, q->value), err) < 0)
            return -1;
    }
    return 0;
}

/* ---- parse ---- */

int af_template_parse(const char *text, struct af_template *t, struct af_error *err)
{
    static const char *const top[] = {"template", "description", "parameters", "task"};
    yaml_parser_t parser;
    yaml_node_t *root;
    int ok;

    memset(t, 0, sizeof(*t));
    if (af_yaml_plain(text, strlen(text), err) < 0)
        return -1;
    if (!(t->doc = calloc(1, sizeof(yaml_document_t))))
        return af_error_set(err, "out of memory");
    if (!yaml_parser_initialize(&parser)) {
        free(t->doc);
        t->doc = NULL;
        return af_error_set(err, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    ok = yaml_parser_load(&parser, t->doc);
    if (!ok) {
        af_error_set(err, "line %d: %s", (int)parser.problem_mark.line + 1,
                     parser.problem ? parser.problem : "not YAML");
        yaml_parser_delete(&parser);
        free(t->doc);
        t->doc = NULL;
        return -1;
    }
    yaml_parser_delete(&parser);
    if (!(root = yaml_document_get_root_node(t->doc)) || root->type != YAML_MAPPING_NODE)
        return af_error_set(err, "a template is a mapping with parameters and task");
    for (yaml_node_pair_t *q = root->data.mapping.pairs.start;
         q < root->data.mapping.pairs.top; q++) {
        const char *k = scalar(node(t, q->key));
        size_t i = 0;
        while (k && i < 4 && strcmp(k, top[i]))
            i++;
        if (!k || i == 4)
            return af_error_set(err,
                                "line %d: unknown field '%s' (template, description, "
                                "parameters, task)",
                                line_of(node(t, q->key)), k ? k : "?");
    }
    if ((get(t, root, "template") &&
         dup_scalar(get(t, root, "template"), &t->name, "template", err) < 0) ||
        (get(t, root, "description") &&
         dup_scalar(get(t, root, "description"), &t->description, "description", err) <
             0))
        return -1;
    if (t->name && !af_id_valid(t->name))
        return af_error_set(err, "template: '%s' is not a valid name", t->name);
    if (!get(t, root, "task") || get(t, root, "task")->type != YAML_MAPPING_NODE)
        return af_error_set(err, "a template needs task: (a task file's fields)");
    /* A task's files are read from the machine that runs aifedctl: a
     * template, which a site or an admin wrote, must not name any. */
    if (get(t, get(t, root, "task"), "files"))
        return af_error_set(err,
                            "line %d: a template cannot send local files (files:): "
                            "the user's machine is not the template's to read",
                            line_of(get(t, get(t, root, "task"), "files")));
    if (params_parse(t, get(t, root, "parameters"), err) < 0)
        return -1;
    return placeholders_known(t, get(t, root, "task"), err);
}

void af_template_free(struct af_template *t)
{
    if (t->doc) {
        yaml_document_delete(t->doc);
        free(t->doc);
    }
    for (size_t i = 0; i < t->n_params; i++) {
        free(t->params[i].name);
        free(t->params[i].def);
        free(t->params[i].help);
        for (size_t k = 0; k < t->params[i].n_allowed; k++)
            free(t->params[i].allowed[k]);
    }
    free(t->name);
    free(t->description);
    memset(t, 0, sizeof(*t));
}

/* ---- expansion ---- */

struct out {
    char *buf;
    size_t len, cap;
    bool over;
};

static int out_write(void *arg, unsigned char *data, size_t size)
{
    struct out *o = arg;

    if (o->len + size + 1 > AF_TEMPLATE_MAX_OUTPUT) {
        o->over = true;
        return 0;
    }
    if (o->len + size + 1 > o->cap) {
        size_t cap = (o->len + size + 1) * 2;
        char *grown = realloc(o->buf, cap);
        if (!grown)
            return 0;
        o->buf = grown;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, data, size);
    o->len += size;
    o->buf[o->len] = '\0';
    return 1;
}

/* s with each placeholder replaced by its value (free it); NULL: memory. */
static char *substitute(const char *s, const char *const *values,
                        const struct af_template *t)
{
    size_t cap = strlen(s) + 1, at = 0;
    const char *a, *b, *p;
    char name[128], *r;

    for (p = s; next_placeholder(p, &a, &b, name, sizeof(name)); p = b)
        cap += strlen(values[af_template_param(t, name) - t->params]);
    if (!(r = malloc(cap)))
        return NULL;
    for (p = s; next_placeholder(p, &a, &b, name, sizeof(name)); p = b) {
        const char *v = values[af_template_param(t, name) - t->params];

        memcpy(r + at, p, (size_t)(a - p));
        at += (size_t)(a - p);
        memcpy(r + at, v, strlen(v));
        at += strlen(v);
    }
    memcpy(r + at, p, strlen(p) + 1);
    return r;
}

static int emit_node(const struct af_template *t, yaml_emitter_t *e, yaml_node_t *n,
                     const char *const *values)
{
    yaml_event_t ev;

    if (n->type == YAML_SCALAR_NODE) {
        char *v = substitute(scalar(n), values, t);
        bool changed = v && strcmp(v, scalar(n));
        int ok;

        if (!v)
            return 0;
        /* A value put in takes the style it needs ("{{gpus}}" must be quoted
         * in the template, 4 need not be in the task); the rest keep theirs
         * (a literal block stays one). */
        ok = yaml_scalar_event_initialize(
                 &ev, NULL, NULL, (yaml_char_t *)v, (int)strlen(v), 1, 1,
                 changed && !strchr(v, '\n') ? YAML_ANY_SCALAR_STYLE
                                             : n->data.scalar.style) &&
             yaml_emitter_emit(e, &ev);
        free(v);
        return ok;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                  n->data.sequence.style) ||
            !yaml_emitter_emit(e, &ev))
            return 0;
        for (yaml_node_item_t *i = n->data.sequence.items.start;
             i < n->data.sequence.items.top; i++)
            if (!emit_node(t, e, node(t, *i), values))
                return 0;
        return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
    }
    if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, n->data.mapping.style) ||
        !yaml_emitter_emit(e, &ev))
        return 0;
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top;
         q++)
        if (!emit_node(t, e, node(t, q->key), values) ||
            !emit_node(t, e, node(t, q->value), values))
            return 0;
    return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
}

/* The value of each parameter: from sets, else its default. */
static int values_of(const struct af_template *t, const char *const *sets, size_t n_sets,
                     const char **values, struct af_error *err)
{
    for (size_t i = 0; i < t->n_params; i++)
        values[i] = t->params[i].def;
    for (size_t i = 0; i < n_sets; i++) {
        const char *eq = strchr(sets[i], '=');
        char name[128];
        const struct af_tparam *p;

        if (!eq || eq == sets[i])
            return af_error_set(err, "'%s' is not NAME=VALUE", sets[i]);
        snprintf(name, sizeof(name), "%.*s", (int)(eq - sets[i]), sets[i]);
        if (!(p = af_template_param(t, name)))
            return af_error_set(err, "%s: the template has no such parameter", name);
        if (value_ok(p, eq + 1, err) < 0)
            return -1;
        values[p - t->params] = eq + 1;
    }
    for (size_t i = 0; i < t->n_params; i++)
        if (!values[i])
            return af_error_set(
                err, "%s: required (%s%s%s): --set %s=VALUE", t->params[i].name,
                type_names[t->params[i].type], t->params[i].help ? ", " : "",
                t->params[i].help ? t->params[i].help : "", t->params[i].name);
    return 0;
}

/* The task as expanded, checked again as a whole: whatever the values put
 * in, it names no local files (the template's text was checked, but a check
 * of the text alone is a check of what it says before values are put in). */
static int expanded_ok(const char *yaml, struct af_error *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root;
    int rc = 0;

    if (af_yaml_plain(yaml, strlen(yaml), err) < 0)
        return -1;
    if (!yaml_parser_initialize(&parser))
        return af_error_set(err, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, strlen(yaml));
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_parser_delete(&parser);
        return af_error_set(err, "the expanded task is not YAML");
    }
    yaml_parser_delete(&parser);
    root = yaml_document_get_root_node(&doc);
    for (yaml_node_pair_t *q = root && root->type == YAML_MAPPING_NODE
                                   ? root->data.mapping.pairs.start
                                   : NULL;
         q && q < root->data.mapping.pairs.top; q++) {
        yaml_node_t *k = yaml_document_get_node(&doc, q->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            !strcmp((const char *)k->data.scalar.value, "files"))
            rc = af_error_set(err, "the expanded task names local files (files:): a "
                                   "template cannot send any");
    }
    yaml_document_delete(&doc);
    return rc;
}

char *af_template_expand(const struct af_template *t, const char *const *sets,
                         size_t n_sets, struct af_error *err)
{
    const char *values[AF_TEMPLATE_MAX_PARAMS];
    struct out o = {0};
    yaml_emitter_t e;
    yaml_event_t ev;
    int ok;

    if (!t->doc)
        return af_error_set(err, "no template"), NULL;
    if (values_of(t, sets, n_sets, values, err) < 0)
        return NULL;
    if (!yaml_emitter_initialize(&e)) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    yaml_emitter_set_output(&e, out_write, &o);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
         yaml_emitter_emit(&e, &ev) &&
         yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
         yaml_emitter_emit(&e, &ev) &&
         emit_node(t, &e, get(t, yaml_document_get_root_node(t->doc), "task"), values) &&
         yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&e, &ev) &&
         yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&e, &ev) &&
         yaml_emitter_flush(&e);
    yaml_emitter_delete(&e);
    if (!ok || !o.buf) {
        af_error_set(
            err, o.over ? "the expanded task is longer than %d bytes" : "out of memory",
            AF_TEMPLATE_MAX_OUTPUT);
        free(o.buf);
        return NULL;
    }
    if (expanded_ok(o.buf, err) < 0) {
        free(o.buf);
        return NULL;
    }
    return o.buf;
}

int af_template_check(const char *text, struct af_error *err)
{
    struct af_template t;
    int rc = af_template_parse(text, &t, err);
    char *yaml = NULL;

    /* Defaults must expand; a required parameter gets a stand-in of its type
     * only to see that the rest does. */
    if (rc == 0) {
        const char *sets[AF_TEMPLATE_MAX_PARAMS];
        char buf[AF_TEMPLATE_MAX_PARAMS][96];
        size_t n = 0;

        for (size_t i = 0; i < t.n_params; i++) {
            const struct af_tparam *p = &t.params[i];
            const char *v = p->n_allowed                ? p->allowed[0]
                            : p->type == AF_TP_INT      ? "1"
                            : p->type == AF_TP_BOOL     ? "true"
                            : p->type == AF_TP_DURATION ? "1h"
                                                        : "x";
            if (p->def)
                continue;
            snprintf(buf[n], sizeof(buf[n]), "%.60s=%s", p->name, v);
            sets[n] = buf[n];
            n++;
        }
        rc = (yaml = af_template_expand(&t, sets, n, err)) ? 0 : -1;
    }
    free(yaml);
    af_template_free(&t);
    return rc;
}
