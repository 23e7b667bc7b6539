/* SPDX-License-Identifier: Apache-2.0 */
/*
 * site_file: a site file read: what a site advertises that no scheduler
 * tells (its [site] section, its catalogue) and, for a static site, its
 * pools and their figures. The static backend keeps its holds against
 * these pools (it changes their gpus_free); a Slurm site reads only the
 * [site] section and each partition's accelerator and memory from it.
 * The format is aifed-site(5).
 */
#ifndef SITE_FILE_H
#define SITE_FILE_H

#include "af_conf.h"
#include "af_error.h"
#include "af_ids.h"
#include "af_wire.h"
#include "site_catalog.h"

#include "aifed.pb-c.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SITE_FILE_MAX_STARTS 16

struct aconf;

/* Open for the static backend, which holds against the pools. */
struct site_file {
    bool scheduler; /* the pools' figures come from a scheduler, not this file */
    char id[AF_ID_MAX + 1];
    char *name;
    char country[3];
    bool illustrative;
    struct af_strv certifications, jurisdictions;
    double price;
    uint32_t carbon;
    bool drained;
    struct site_catalog catalog; /* models, data sets, images, templates */
    Aifed__Window windows[AF_WIRE_MAX_POOLS];
    Aifed__Window *window_ptrs[AF_WIRE_MAX_POOLS];
    size_t n_windows;
    Aifed__StartEstimate starts[AF_WIRE_MAX_POOLS][SITE_FILE_MAX_STARTS];
    Aifed__StartEstimate *start_ptrs[AF_WIRE_MAX_POOLS][SITE_FILE_MAX_STARTS];
    Aifed__Pool pools[AF_WIRE_MAX_POOLS];
    Aifed__Pool *pool_ptrs[AF_WIRE_MAX_POOLS];
    char pool_names[AF_WIRE_MAX_POOLS][AF_ID_MAX + 1];
    char pool_accels[AF_WIRE_MAX_POOLS][AF_ID_MAX + 1];
    bool free_given[AF_WIRE_MAX_POOLS];
    size_t n_pools;
    Aifed__Site site; /* site_file_site()'s, rebuilt on each call */
};

/* conf's site file, for conf's backend (a scheduler's site file names no
 * pool figures). NULL with err ("site.conf:12: ..."). */
struct site_file *site_file_read(const struct aconf *conf, struct af_error *err);
void site_file_free(struct site_file *f);

/* The [site] section as a message, borrowed until the next call. */
const Aifed__Site *site_file_site(struct site_file *f);
/* The pool called name, or NULL. */
const Aifed__Pool *site_file_pool(const struct site_file *f, const char *name);
/* The file as understood (aifed-agent -n -v). */
void site_file_print(const struct site_file *f, FILE *out);

#endif
