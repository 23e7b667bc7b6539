/* SPDX-License-Identifier: Apache-2.0 */
/* catalog: the sites' catalogues merged into the federation's. */
#include "catalog.h"

#include "af_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One site's entry, before the merge. */
struct held {
    const char *site;
    const Aifed__DataItem *item;
};

struct merged {
    Aifed__CatalogEntry entry;
    Aifed__DataItem item; /* the first site's, without its path */
    Aifed__CatalogSite *sites;
    Aifed__CatalogSite **site_ptrs;
};

struct catalog {
    struct catalog_query q;
    struct held *held;
    size_t n_held, cap_held;
    Aifed__Template *templates; /* copies without their text */
    Aifed__Template **template_ptrs;
    size_t n_templates, cap_templates;
    struct merged *merged;
    Aifed__CatalogEntry **entry_ptrs;
    size_t n_merged;
    Aifed__CatalogList list;
};

struct catalog *catalog_new(const struct catalog_query *q)
{
    struct catalog *c = calloc(1, sizeof(*c));

    if (c)
        c->q = *q;
    return c;
}

static bool wanted(const struct catalog *c, const char *site, const char *name,
                   const char *description)
{
    if (c->q.site && strcmp(c->q.site, site))
        return false;
    if (!c->q.search)
        return true;
    return strcasestr(name, c->q.search) ||
           (description && strcasestr(description, c->q.search));
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    void *grown;

    if (n < *cap)
        return 0;
    if (!(grown = realloc(*v, (*cap ? *cap * 2 : 16) * size)))
        return -1;
    *v = grown;
    *cap = *cap ? *cap * 2 : 16;
    return 0;
}

static int add_template(struct catalog *c, const Aifed__Template *t, const char *site)
{
    if (!wanted(c, site, t->name, t->description))
        return 0;
    if (grow((void **)&c->templates, &c->cap_templates, c->n_templates,
             sizeof(*c->templates)) < 0)
        return -1;
    c->templates[c->n_templates] = *t;
    c->templates[c->n_templates].text = (char *)""; /* lists leave it out */
    c->templates[c->n_templates].site = (char *)site;
    c->n_templates++;
    return 0;
}

int catalog_add_site(struct catalog *c, const char *site, Aifed__DataItem *const *items,
                     size_t n_items, Aifed__Template *const *templates,
                     size_t n_templates)
{
    bool data = c->q.all || !c->q.templates, tmpl = c->q.all || c->q.templates;

    for (size_t i = 0; data && i < n_items; i++) {
        if ((!c->q.all && (int)items[i]->kind != c->q.kind) ||
            !wanted(c, site, items[i]->name, items[i]->description))
            continue;
        if (grow((void **)&c->held, &c->cap_held, c->n_held, sizeof(*c->held)) < 0)
            return -1;
        c->held[c->n_held++] = (struct held){site, items[i]};
    }
    for (size_t i = 0; tmpl && i < n_templates; i++)
        if (add_template(c, templates[i], site) < 0)
            return -1;
    return 0;
}

int catalog_add_template(struct catalog *c, Aifed__Template *t)
{
    return c->q.all || c->q.templates ? add_template(c, t, "") : 0;
}

static int entry_cmp(const Aifed__DataItem *a, const Aifed__DataItem *b)
{
    int r = (int)a->kind - (int)b->kind;

    if (!r)
        r = strcmp(a->name, b->name);
    if (!r)
        r = strcmp(a->version ? a->version : "", b->version ? b->version : "");
    return r;
}

static int held_cmp(const void *x, const void *y)
{
    const struct held *a = x, *b = y;
    int r = entry_cmp(a->item, b->item);

    return r ? r : strcmp(a->site, b->site);
}

static int template_cmp(const void *x, const void *y)
{
    const Aifed__Template *a = x, *b = y;
    int r = strcmp(a->name, b->name);

    return r ? r : strcmp(a->site, b->site); /* the federation's ("") first */
}

/* The run of held entries from i that are one entry; its end. */
static size_t merge_run(struct catalog *c, size_t i)
{
    struct merged *m = &c->merged[c->n_merged];
    size_t j = i, n;

    while (j < c->n_held && !entry_cmp(c->held[j].item, c->held[i].item))
        j++;
    n = j - i;
    aifed__catalog_entry__init(&m->entry);
    m->item = *c->held[i].item;
    m->item.path = (char *)""; /* each site's is in sites */
    m->entry.item = &m->item;
    m->sites = calloc(n, sizeof(*m->sites));
    m->site_ptrs = calloc(n, sizeof(*m->site_ptrs));
    if (!m->sites || !m->site_ptrs) {
        free(m->sites);
        free(m->site_ptrs);
        return 0;
    }
    for (size_t k = 0; k < n; k++) {
        aifed__catalog_site__init(&m->sites[k]);
        m->sites[k].site = (char *)c->held[i + k].site;
        m->sites[k].path = c->held[i + k].item->path;
        m->site_ptrs[k] = &m->sites[k];
        if (!m->item.size_bytes) /* a size any site knows */
            m->item.size_bytes = c->held[i + k].item->size_bytes;
    }
    m->entry.sites = m->site_ptrs;
    m->entry.n_sites = n;
    c->entry_ptrs[c->n_merged++] = &m->entry;
    return j;
}

const Aifed__CatalogList *catalog_list(struct catalog *c)
{
    aifed__catalog_list__init(&c->list);
    if (c->n_held > 1) /* (qsort takes no NULL, even of nothing) */
        qsort(c->held, c->n_held, sizeof(*c->held), held_cmp);
    if (c->n_templates > 1)
        qsort(c->templates, c->n_templates, sizeof(*c->templates), template_cmp);
    c->merged = calloc(AF_WIRE_MAX_CATALOG, sizeof(*c->merged));
    c->entry_ptrs = calloc(AF_WIRE_MAX_CATALOG, sizeof(*c->entry_ptrs));
    c->template_ptrs = calloc(c->n_templates ? c->n_templates : 1, sizeof(void *));
    if (!c->merged || !c->entry_ptrs || !c->template_ptrs)
        return NULL;
    for (size_t i = 0; i < c->n_held;) {
        size_t next;

        if (c->n_merged == AF_WIRE_MAX_CATALOG) {
            c->list.truncated = true;
            break;
        }
        if (!(next = merge_run(c, i)))
            return NULL;
        i = next;
    }
    for (size_t i = 0; i < c->n_templates && i < AF_WIRE_MAX_LIST; i++)
        c->template_ptrs[i] = &c->templates[i];
    c->list.entries = c->entry_ptrs;
    c->list.n_entries = c->n_merged;
    c->list.templates = c->template_ptrs;
    c->list.n_templates =
        c->n_templates < AF_WIRE_MAX_LIST ? c->n_templates : AF_WIRE_MAX_LIST;
    c->list.truncated |= c->n_templates > AF_WIRE_MAX_LIST;
    return &c->list;
}

void catalog_free(struct catalog *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_merged; i++) {
        free(c->merged[i].sites);
        free(c->merged[i].site_ptrs);
    }
    free(c->merged);
    free(c->entry_ptrs);
    free(c->held);
    free(c->templates);
    free(c->template_ptrs);
    free(c);
}

bool catalog_holds(Aifed__DataItem *const *items, size_t n, int kind, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if ((int)items[i]->kind == kind && !strcmp(items[i]->name, name))
            return true;
    return false;
}
