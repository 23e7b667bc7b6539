/* SPDX-License-Identifier: Apache-2.0 */
/*
 * catalog: the federation's catalogue, merged from what each site
 * advertises: every model, data set and image once (by kind, name and
 * version) with every site that holds it, and the templates, the
 * federation's and the sites'. Pure: the caller gives the sites' lists;
 * the result borrows their strings.
 */
#ifndef CATALOG_H
#define CATALOG_H

#include "aifed.pb-c.h"

#include <stdbool.h>
#include <stddef.h>

struct catalog_query {
    int kind;           /* the wire's DataKind, unless all */
    bool all;           /* every kind, and templates */
    bool templates;     /* templates only */
    const char *site;   /* only this site's (NULL: all) */
    const char *search; /* a word in the name or description (NULL: all) */
};

struct catalog;

struct catalog *catalog_new(const struct catalog_query *q);
/* Take site's entries and templates (borrowed until catalog_free). -1/ENOMEM. */
int catalog_add_site(struct catalog *c, const char *site, Aifed__DataItem *const *items,
                     size_t n_items, Aifed__Template *const *templates,
                     size_t n_templates);
/* Take one of the federation's templates (borrowed). -1/ENOMEM. */
int catalog_add_template(struct catalog *c, Aifed__Template *t);
/* The list, sorted by kind, name and version, at most AF_WIRE_MAX_CATALOG
 * entries (truncated says when more matched); it lives with c. */
const Aifed__CatalogList *catalog_list(struct catalog *c);
void catalog_free(struct catalog *c);

/* Whether a workload's need (kind and name) names anything in items. */
bool catalog_holds(Aifed__DataItem *const *items, size_t n, int kind, const char *name);

#endif
