/* SPDX-License-Identifier: Apache-2.0 */
/*
 * site_catalog: what a site file says the site holds for its users, the
 * AI Factories' catalogue: pre-trained models, data sets and container
 * images ([model:NAME], [dataset:NAME], [image:NAME], or the short lists
 * datasets/models/images = NAME:SIZE in [site]) and task templates
 * ([template:NAME], each a file beside the site file). The agent
 * advertises it with the capacity; aifed-site(5) is the format.
 */
#ifndef SITE_CATALOG_H
#define SITE_CATALOG_H

#include "af_error.h"

#include "aifed.pb-c.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct site_catalog {
    Aifed__DataItem *items; /* their strings are the catalogue's */
    Aifed__DataItem **item_ptrs;
    size_t n_items;
    Aifed__Template *templates;
    Aifed__Template **template_ptrs;
    size_t n_templates;
};

/* One item of a short list ("datasets = eurlex:120GB"): name takes size. */
int site_catalog_add(struct site_catalog *c, int kind, const char *name, uint64_t size,
                     struct af_error *err);

/* A line of a [model:], [dataset:], [image:] or [template:] section: 0 taken,
 * -1 refused (err), 1 not a catalogue section. */
int site_catalog_line(struct site_catalog *c, const char *section, const char *key,
                      const char *value, struct af_error *err);

/* What only the whole file tells: each template read from its file
 * (relative to dir, the site file's) and checked. -1 with err. */
int site_catalog_finish(struct site_catalog *c, const char *dir, struct af_error *err);

/* Into the advertised site: its data and templates (borrowed). */
void site_catalog_advertise(struct site_catalog *c, Aifed__Site *site);

/* As the file would say it, for aifed-agent -n -v: the short lists (within
 * [site]), or the sections. */
void site_catalog_print(const struct site_catalog *c, FILE *out, bool sections);

void site_catalog_free(struct site_catalog *c);

#endif
