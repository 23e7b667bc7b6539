/* SPDX-License-Identifier: Apache-2.0 */
/* site_catalog: a site file's models, data sets, images and templates. */
#include "site_catalog.h"

#include "af_conf.h"
#include "af_ids.h"
#include "af_template.h"
#include "af_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *section; /* "[model:NAME]" */
    const char *list;    /* its short list in [site] */
    int kind;
} kinds[] = {
    {"model", "models", AIFED__DATA_KIND__DATA_MODEL},
    {"dataset", "datasets", AIFED__DATA_KIND__DATA_DATASET},
    {"image", "images", AIFED__DATA_KIND__DATA_IMAGE},
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

static size_t kind_index(int kind)
{
    size_t i = 0;

    while (i + 1 < N_KINDS && kinds[i].kind != kind)
        i++;
    return i;
}

static Aifed__DataItem *item_find(struct site_catalog *c, int kind, const char *name)
{
    for (size_t i = 0; i < c->n_items; i++)
        if ((int)c->items[i].kind == kind && !strcmp(c->items[i].name, name))
            return &c->items[i];
    return NULL;
}

/* The item of kind called name, made when new; NULL with err. */
static Aifed__DataItem *item_get(struct site_catalog *c, int kind, const char *name,
                                 struct af_error *err)
{
    Aifed__DataItem *d = item_find(c, kind, name), *grown;

    if (d)
        return d;
    if (!af_id_valid(name)) {
        af_error_set(err, "'%s' is not a valid name", name);
        return NULL;
    }
    if (c->n_items == AF_WIRE_MAX_LIST) {
        af_error_set(err, "more than %d models, data sets and images", AF_WIRE_MAX_LIST);
        return NULL;
    }
    if (!(grown = realloc(c->items, (c->n_items + 1) * sizeof(*grown)))) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    c->items = grown;
    d = &c->items[c->n_items];
    aifed__data_item__init(d);
    /* NULL, not protobuf-c's shared "": the catalogue frees what it sets,
     * and protobuf-c packs NULL as empty. */
    d->version = d->licence = d->path = d->access = d->description = NULL;
    d->kind = (Aifed__DataKind)kind;
    if (!(d->name = strdup(name))) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    c->n_items++;
    free(c->item_ptrs); /* rebuilt when advertised: the items may have moved */
    c->item_ptrs = NULL;
    return d;
}

int site_catalog_add(struct site_catalog *c, int kind, const char *name, uint64_t size,
                     struct af_error *err)
{
    Aifed__DataItem *d;

    if (size > AF_WIRE_MAX_DATA_BYTES)
        return af_error_set(err, "%s: a size of more than 8 PiB", name);
    if (!(d = item_get(c, kind, name, err)))
        return -1;
    d->size_bytes = size;
    return 0;
}

/* A string field of an entry, bounded as the wire bounds it. */
static int set_text(char **field, const char *key, const char *value, size_t max,
                    struct af_error *err)
{
    if (strlen(value) > max)
        return af_error_set(err, "%s: longer than %zu characters", key, max);
    free(*field);
    if (!(*field = strdup(value)))
        return af_error_set(err, "out of memory");
    return 0;
}

static int item_line(Aifed__DataItem *d, const char *key, const char *value,
                     struct af_error *err)
{
    bool dataset = d->kind == AIFED__DATA_KIND__DATA_DATASET;

    if (!strcmp(key, "size"))
        return af_conf_bytes(key, value, &d->size_bytes, err);
    if (!strcmp(key, "version") || !strcmp(key, "tag"))
        return set_text(&d->version, key, value, AF_WIRE_MAX_ENTRY_WORD, err);
    if (!strcmp(key, "licence") || !strcmp(key, "license"))
        return set_text(&d->licence, key, value, AF_WIRE_MAX_ENTRY_WORD, err);
    if (!strcmp(key, "path"))
        return set_text(&d->path, key, value, AF_WIRE_MAX_ENTRY_TEXT, err);
    if (!strcmp(key, "description"))
        return set_text(&d->description, key, value, AF_WIRE_MAX_ENTRY_TEXT, err);
    if (dataset && !strcmp(key, "access"))
        return set_text(&d->access, key, value, AF_WIRE_MAX_ENTRY_TEXT, err);
    if (dataset && !strcmp(key, "certifications")) {
        struct af_strv v = {.v = d->certifications, .n = d->n_certifications};
        int rc = af_strv_add(&v, key, value, true, AF_WIRE_MAX_ENTRY_CERTS, err);

        d->certifications = v.v;
        d->n_certifications = v.n;
        return rc;
    }
    return af_error_set(err,
                        "unknown setting '%s' (want size, version, licence, path, "
                        "description%s)",
                        key, dataset ? ", access, certifications" : "");
}

static Aifed__Template *template_get(struct site_catalog *c, const char *name,
                                     struct af_error *err)
{
    Aifed__Template *grown, *t;

    for (size_t i = 0; i < c->n_templates; i++)
        if (!strcmp(c->templates[i].name, name))
            return &c->templates[i];
    if (!af_id_valid(name)) {
        af_error_set(err, "[template:%s]: not a valid template name", name);
        return NULL;
    }
    if (c->n_templates == AF_WIRE_MAX_SITE_TEMPLATES) {
        af_error_set(err, "more than %d templates", AF_WIRE_MAX_SITE_TEMPLATES);
        return NULL;
    }
    if (!(grown = realloc(c->templates, (c->n_templates + 1) * sizeof(*grown)))) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    c->templates = grown;
    t = &c->templates[c->n_templates];
    aifed__template__init(t);
    /* site stays empty: the broker names the site that advertised it. The
     * file's path waits in text until finish reads it. */
    t->description = t->text = t->site = NULL;
    if (!(t->name = strdup(name))) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    c->n_templates++;
    free(c->template_ptrs);
    c->template_ptrs = NULL;
    return t;
}

static int template_line(Aifed__Template *t, const char *key, const char *value,
                         struct af_error *err)
{
    if (!strcmp(key, "file"))
        return set_text(&t->text, key, value, 4096, err);
    if (!strcmp(key, "description"))
        return set_text(&t->description, key, value, AF_WIRE_MAX_ENTRY_TEXT, err);
    return af_error_set(err, "unknown setting '%s' (want file, description)", key);
}

int site_catalog_line(struct site_catalog *c, const char *section, const char *key,
                      const char *value, struct af_error *err)
{
    const char *colon = strchr(section, ':');
    size_t len = colon ? (size_t)(colon - section) : 0;

    if (!colon)
        return 1;
    if (len == 8 && !strncmp(section, "template", 8)) {
        Aifed__Template *t = template_get(c, colon + 1, err);
        return t ? template_line(t, key, value, err) : -1;
    }
    for (size_t i = 0; i < N_KINDS; i++)
        if (strlen(kinds[i].section) == len && !strncmp(section, kinds[i].section, len)) {
            Aifed__DataItem *d = item_get(c, kinds[i].kind, colon + 1, err);
            return d ? item_line(d, key, value, err) : -1;
        }
    return 1;
}

int site_catalog_finish(struct site_catalog *c, const char *dir, struct af_error *err)
{
    size_t total = 0;

    for (size_t i = 0; i < c->n_templates; i++) {
        Aifed__Template *t = &c->templates[i];
        char path[4200];
        struct af_error why;
        char *text;

        if (!t->text)
            return af_error_set(err, "[template:%s] needs file = PATH", t->name);
        snprintf(path, sizeof(path), "%s%s%s", t->text[0] == '/' ? "" : dir,
                 t->text[0] == '/' ? "" : "/", t->text);
        if (!(text = af_conf_read_file(path, AF_WIRE_MAX_TEMPLATE, err)))
            return -1;
        if (af_template_check(text, &why) < 0) {
            free(text);
            return af_error_set(err, "[template:%s]: %s: %s", t->name, path, why.text);
        }
        free(t->text);
        t->text = text;
        if ((total += strlen(text)) > AF_WIRE_MAX_TEMPLATES_SIZE)
            return af_error_set(err, "the templates are longer than %d bytes together",
                                AF_WIRE_MAX_TEMPLATES_SIZE);
    }
    return 0;
}

void site_catalog_advertise(struct site_catalog *c, Aifed__Site *site)
{
    if (!c->item_ptrs && c->n_items &&
        (c->item_ptrs = calloc(c->n_items, sizeof(void *))))
        for (size_t i = 0; i < c->n_items; i++)
            c->item_ptrs[i] = &c->items[i];
    if (!c->template_ptrs && c->n_templates &&
        (c->template_ptrs = calloc(c->n_templates, sizeof(void *))))
        for (size_t i = 0; i < c->n_templates; i++)
            c->template_ptrs[i] = &c->templates[i];
    site->data = c->item_ptrs;
    site->n_data = c->item_ptrs ? c->n_items : 0;
    site->templates = c->template_ptrs;
    site->n_templates = c->template_ptrs ? c->n_templates : 0;
}

/* Bytes in the largest decimal unit that holds them exactly, as the file
 * takes them back ("120GB"). */
static void bytes_format(uint64_t n, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KB", "MB", "GB", "TB"};
    size_t u = 0;

    while (u + 1 < sizeof(units) / sizeof(units[0]) && n && n % 1000 == 0)
        n /= 1000, u++;
    snprintf(buf, size, "%llu%s", (unsigned long long)n, units[u]);
}

/* An item with no more than a size: the short list says it all. */
static bool is_short(const Aifed__DataItem *d)
{
    return !d->version && !d->licence && !d->path && !d->access && !d->description &&
           !d->n_certifications;
}

static void print_field(FILE *out, const char *key, const char *value)
{
    if (value)
        fprintf(out, "%s = %s\n", key, value);
}

void site_catalog_print(const struct site_catalog *c, FILE *out, bool sections)
{
    char size[32];

    for (size_t i = 0; !sections && i < c->n_items; i++)
        if (is_short(&c->items[i])) {
            bytes_format(c->items[i].size_bytes, size, sizeof(size));
            fprintf(out, "%s = %s:%s\n", kinds[kind_index(c->items[i].kind)].list,
                    c->items[i].name, size);
        }
    for (size_t i = 0; sections && i < c->n_items; i++) {
        const Aifed__DataItem *d = &c->items[i];

        if (is_short(d))
            continue;
        bytes_format(d->size_bytes, size, sizeof(size));
        fprintf(out, "\n[%s:%s]\nsize = %s\n", kinds[kind_index(d->kind)].section,
                d->name, size);
        print_field(out, "version", d->version);
        print_field(out, "licence", d->licence);
        print_field(out, "path", d->path);
        print_field(out, "access", d->access);
        for (size_t k = 0; k < d->n_certifications; k++)
            print_field(out, "certifications", d->certifications[k]);
        print_field(out, "description", d->description);
    }
    for (size_t i = 0; sections && i < c->n_templates; i++)
        fprintf(out, "\n[template:%s]\n# %zu bytes, a valid template\n%s%s%s",
                c->templates[i].name,
                c->templates[i].text ? strlen(c->templates[i].text) : 0,
                c->templates[i].description ? "description = " : "",
                c->templates[i].description ? c->templates[i].description : "",
                c->templates[i].description ? "\n" : "");
}

static void item_free(Aifed__DataItem *d)
{
    free(d->name);
    free(d->version);
    free(d->licence);
    free(d->path);
    free(d->access);
    free(d->description);
    for (size_t k = 0; k < d->n_certifications; k++)
        free(d->certifications[k]);
    free(d->certifications);
}

void site_catalog_free(struct site_catalog *c)
{
    for (size_t i = 0; i < c->n_items; i++)
        item_free(&c->items[i]);
    free(c->items);
    free(c->item_ptrs);
    for (size_t i = 0; i < c->n_templates; i++) {
        free(c->templates[i].name);
        free(c->templates[i].description);
        free(c->templates[i].text);
    }
    free(c->templates);
    free(c->template_ptrs);
    *c = (struct site_catalog){0};
}
