/* SPDX-License-Identifier: Apache-2.0 */
/*
 * site_file: a site file read (aifed-site(5)): the [site] section, the
 * pools, and the catalogue (site_catalog). A static site's backend keeps
 * its holds against these pools; a Slurm site takes only what Slurm does
 * not know from it (scheduler: then a pool takes accelerator and
 * gpu_memory_gb only).
 *
 * Site file:
 *     [site]                               [pool:NAME]
 *     id = meluxina                        accelerator = A100
 *     name = MeluXina-AI                   gpu_memory_gb = 40
 *     country = LU                         gpus_per_node = 4
 *     jurisdictions = eu                   nodes = 200
 *     certifications = iso27001            gpus_free = 160   (default: all)
 *     price_per_gpu_hour = 2.5   (EUR)     cpus_per_node = 128
 *     carbon_g_per_kwh = 150               memory_per_node_gb = 512
 *     datasets = eurlex:120GB, ...         max_walltime = 48h
 *     models = llama3-70b:140GB            queue_wait = 10m
 *     images = pytorch-24.05:20GB          start_estimates = 8:5m, 64:2h
 *     maintenance = 2026-12-01T06:00Z/2026-12-01T18:00Z
 *     drained = no
 *     illustrative = yes
 * List keys may repeat; each line adds to the list.
 *
 * For a Slurm site (backend = slurm) the same file says only what Slurm does
 * not know: [site] as above, and per partition [pool:PARTITION] accelerator
 * and gpu_memory_gb; the rest of a pool comes from the scheduler.
 */
#include "site_file.h"
#include "aconf.h"
#include "af_conf.h"
#include "af_ids.h"
#include "af_time.h"
#include "af_wire.h"

#include "aifed.pb-c.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

/* "name[:size], ..." into the site's catalogue, of kind. */
static int add_data(struct site_file *b, int kind, const char *key, const char *value,
                    struct af_error *err)
{
    struct af_strv items = {0};
    int rc = -1;

    if (af_strv_add(&items, key, value, false, AF_WIRE_MAX_LIST, err) < 0)
        goto out;
    for (size_t i = 0; i < items.n; i++) {
        char *colon = strchr(items.v[i], ':');
        uint64_t size = 0;

        if (colon) {
            *colon = '\0';
            if (af_conf_bytes(key, colon + 1, &size, err) < 0)
                goto out;
        }
        if (site_catalog_add(&b->catalog, kind, items.v[i], size, err) < 0) {
            af_error_set(err, "%s: %s", key, err->text);
            goto out;
        }
    }
    rc = 0;
out:
    af_strv_free(&items);
    return rc;
}

/* "START/END", both UTC times. */
static int add_window(struct site_file *b, const char *key, const char *value,
                      struct af_error *err)
{
    char start[64];
    const char *slash = strchr(value, '/');
    int64_t s_ms, e_ms;

    if (!slash || (size_t)(slash - value) >= sizeof(start))
        return af_error_set(err, "%s: '%s' is not START/END", key, value);
    memcpy(start, value, (size_t)(slash - value));
    start[slash - value] = '\0';
    if (af_time_parse(start, &s_ms) < 0 || af_time_parse(slash + 1, &e_ms) < 0)
        return af_error_set(err, "%s: '%s': times look like 2026-12-01T06:00Z", key,
                            value);
    if (e_ms <= s_ms)
        return af_error_set(err, "%s: '%s' ends before it starts", key, value);
    if (b->n_windows == AF_WIRE_MAX_POOLS)
        return af_error_set(err, "%s: more than %d windows", key, AF_WIRE_MAX_POOLS);
    aifed__window__init(&b->windows[b->n_windows]);
    b->windows[b->n_windows].start_ms = s_ms;
    b->windows[b->n_windows].end_ms = e_ms;
    b->window_ptrs[b->n_windows] = &b->windows[b->n_windows];
    b->n_windows++;
    return 0;
}

static int site_key(struct site_file *b, const char *key, const char *value,
                    struct af_error *err)
{
    if (!strcmp(key, "id"))
        return af_conf_id(key, value, b->id, sizeof(b->id), err);
    if (!strcmp(key, "name")) {
        if (strlen(value) > 128)
            return af_error_set(err, "name: longer than 128 characters");
        return af_conf_strdup(&b->name, value) < 0 ? af_error_set(err, "out of memory")
                                                   : 0;
    }
    if (!strcmp(key, "country")) {
        if (strlen(value) != 2 || value[0] < 'A' || value[0] > 'Z' || value[1] < 'A' ||
            value[1] > 'Z')
            return af_error_set(err, "country: '%s' is not an ISO 3166 code like LU",
                                value);
        memcpy(b->country, value, 3);
        return 0;
    }
    if (!strcmp(key, "certifications"))
        return af_strv_add(&b->certifications, key, value, true, AF_WIRE_MAX_LIST, err);
    if (!strcmp(key, "jurisdictions"))
        return af_strv_add(&b->jurisdictions, key, value, true, AF_WIRE_MAX_LIST, err);
    if (!strcmp(key, "datasets"))
        return add_data(b, AIFED__DATA_KIND__DATA_DATASET, key, value, err);
    if (!strcmp(key, "models"))
        return add_data(b, AIFED__DATA_KIND__DATA_MODEL, key, value, err);
    if (!strcmp(key, "images"))
        return add_data(b, AIFED__DATA_KIND__DATA_IMAGE, key, value, err);
    if (!strcmp(key, "price_per_gpu_hour"))
        return af_conf_number(key, value, 10000, &b->price, err);
    if (!strcmp(key, "carbon_g_per_kwh")) {
        uint64_t v;
        if (af_conf_uint(key, value, 5000, &v, err) < 0)
            return -1;
        b->carbon = (uint32_t)v;
        return 0;
    }
    if (!strcmp(key, "drained"))
        return af_conf_bool(key, value, &b->drained, err);
    if (!strcmp(key, "maintenance"))
        return add_window(b, key, value, err);
    if (!strcmp(key, "illustrative"))
        return af_conf_bool(key, value, &b->illustrative, err);
    return af_error_set(err, "unknown setting '%s' in [site]", key);
}

static Aifed__Pool *pool_for(struct site_file *b, const char *name, struct af_error *err)
{
    Aifed__Pool *p;

    for (size_t i = 0; i < b->n_pools; i++)
        if (!strcmp(b->pool_names[i], name))
            return &b->pools[i];
    if (!af_id_valid(name)) {
        af_error_set(err, "[pool:%s]: not a valid pool name", name);
        return NULL;
    }
    if (b->n_pools == AF_WIRE_MAX_POOLS) {
        af_error_set(err, "more than %d pools", AF_WIRE_MAX_POOLS);
        return NULL;
    }
    p = &b->pools[b->n_pools];
    aifed__pool__init(p);
    snprintf(b->pool_names[b->n_pools], sizeof(b->pool_names[b->n_pools]), "%s", name);
    p->name = b->pool_names[b->n_pools];
    p->accelerator = b->pool_accels[b->n_pools];
    b->pool_ptrs[b->n_pools] = p;
    b->n_pools++;
    return p;
}

static int u32(const char *key, const char *value, uint32_t *ret, struct af_error *err)
{
    uint64_t v;

    if (af_conf_uint(key, value, UINT32_MAX, &v, err) < 0)
        return -1;
    *ret = (uint32_t)v;
    return 0;
}

static int seconds(const char *key, const char *value, uint32_t *ret,
                   struct af_error *err)
{
    uint64_t ms;

    if (af_conf_duration(key, value, &ms, err) < 0)
        return -1;
    if (ms / 1000 > UINT32_MAX)
        return af_error_set(err, "%s: too long", key);
    *ret = (uint32_t)(ms / 1000);
    return 0;
}

/* "GPUS:WAIT, ..." for pool i. */
static int add_starts(struct site_file *b, size_t i, const char *key, const char *value,
                      struct af_error *err)
{
    struct af_strv items = {0};
    Aifed__Pool *p = &b->pools[i];
    int rc = -1;

    if (af_strv_add(&items, key, value, false, SITE_FILE_MAX_STARTS, err) < 0)
        goto out;
    for (size_t k = 0; k < items.n; k++) {
        char *colon = strchr(items.v[k], ':');
        Aifed__StartEstimate *e;

        if (!colon) {
            af_error_set(err, "%s: '%s' is not GPUS:WAIT like 8:5m", key, items.v[k]);
            goto out;
        }
        *colon = '\0';
        if (p->n_starts == SITE_FILE_MAX_STARTS) {
            af_error_set(err, "%s: more than %d estimates", key, SITE_FILE_MAX_STARTS);
            goto out;
        }
        e = &b->starts[i][p->n_starts];
        aifed__start_estimate__init(e);
        if (u32(key, items.v[k], &e->gpus, err) < 0 ||
            seconds(key, colon + 1, &e->wait_s, err) < 0)
            goto out;
        b->start_ptrs[i][p->n_starts++] = e;
    }
    p->starts = b->start_ptrs[i];
    rc = 0;
out:
    af_strv_free(&items);
    return rc;
}

static int pool_key(struct site_file *b, const char *section, const char *key,
                    const char *value, struct af_error *err)
{
    Aifed__Pool *p = pool_for(b, section + 5, err);
    size_t i;

    if (!p)
        return -1;
    i = (size_t)(p - b->pools);
    if (!strcmp(key, "accelerator"))
        return af_conf_id(key, value, b->pool_accels[i], sizeof(b->pool_accels[i]), err);
    if (!strcmp(key, "gpu_memory_gb"))
        return u32(key, value, &p->gpu_memory_gb, err);
    if (b->scheduler)
        return af_error_set(err,
                            "%s in [%s]: a Slurm site's pools take only accelerator and "
                            "gpu_memory_gb from this file; the rest comes from Slurm",
                            key, section);
    if (!strcmp(key, "gpus_per_node"))
        return u32(key, value, &p->gpus_per_node, err);
    if (!strcmp(key, "nodes"))
        return u32(key, value, &p->nodes_total, err);
    if (!strcmp(key, "gpus_free")) {
        b->free_given[i] = true;
        return u32(key, value, &p->gpus_free, err);
    }
    if (!strcmp(key, "cpus_per_node"))
        return u32(key, value, &p->cpus_per_node, err);
    if (!strcmp(key, "memory_per_node_gb"))
        return u32(key, value, &p->memory_per_node_gb, err);
    if (!strcmp(key, "max_walltime"))
        return seconds(key, value, &p->max_walltime_s, err);
    if (!strcmp(key, "queue_wait"))
        return seconds(key, value, &p->queue_wait_s, err);
    if (!strcmp(key, "start_estimates"))
        return add_starts(b, i, key, value, err);
    return af_error_set(err, "unknown setting '%s' in [%s]", key, section);
}

static int on_line(void *arg, const char *section, const char *key, const char *value,
                   struct af_error *err)
{
    struct site_file *b = arg;
    int rc;

    if (!strcmp(section, "site"))
        return site_key(b, key, value, err);
    if (!strncmp(section, "pool:", 5))
        return pool_key(b, section, key, value, err);
    if ((rc = site_catalog_line(&b->catalog, section, key, value, err)) <= 0)
        return rc;
    return af_error_set(err,
                        "unknown section [%s] (want [site], [pool:NAME], [model:NAME], "
                        "[dataset:NAME], [image:NAME] or [template:NAME])",
                        section);
}

/* What only the whole file can tell. */
static int finish(struct site_file *b, const char *path, const char *want_id,
                  struct af_error *err)
{
    if (!b->id[0])
        return af_error_set(err, "%s: [site] needs id", path);
    if (strcmp(b->id, want_id))
        return af_error_set(err, "%s: site id %s does not match the agent's site %s",
                            path, b->id, want_id);
    if (!b->country[0])
        return af_error_set(err, "%s: [site] needs country", path);
    if (b->n_pools == 0 && !b->scheduler)
        return af_error_set(err, "%s: no [pool:NAME] sections", path);
    for (size_t i = 0; i < b->n_pools && !b->scheduler; i++) {
        Aifed__Pool *p = &b->pools[i];
        if (!b->pool_accels[i][0] || !p->gpus_per_node || !p->nodes_total)
            return af_error_set(
                err, "%s: [pool:%s] needs accelerator, gpus_per_node and nodes", path,
                p->name);
        p->gpus_total = p->gpus_per_node * p->nodes_total;
        if (!b->free_given[i])
            p->gpus_free = p->gpus_total;
        if (p->gpus_free > p->gpus_total)
            return af_error_set(err,
                                "%s: [pool:%s] gpus_free %u exceeds the %u GPUs it has",
                                path, p->name, p->gpus_free, p->gpus_total);
    }
    return 0;
}

struct site_file *site_file_read(const struct aconf *conf, struct af_error *err)
{
    struct site_file *b = calloc(1, sizeof(*b));
    char *path = aconf_path(conf, conf->site_file);

    if (!b || !path) {
        af_error_set(err, "out of memory");
        goto fail;
    }
    b->scheduler = strcmp(conf->backend, "static") != 0;
    if (af_conf_parse(path, on_line, b, err) < 0 || finish(b, path, conf->site, err) < 0)
        goto fail;
    if (site_catalog_finish(&b->catalog, dirname(path), err) < 0) /* path is done with */
        goto fail;
    free(path);
    return b;
fail:
    free(path);
    site_file_free(b);
    return NULL;
}

void site_file_free(struct site_file *b)
{
    if (!b)
        return;
    free(b->name);
    af_strv_free(&b->certifications);
    af_strv_free(&b->jurisdictions);
    site_catalog_free(&b->catalog);
    free(b);
}

const Aifed__Site *site_file_site(struct site_file *b)
{
    aifed__site__init(&b->site);
    b->site.id = b->id;
    b->site.name = b->name ? b->name : b->id;
    b->site.country = b->country;
    b->site.certifications = b->certifications.v;
    b->site.n_certifications = b->certifications.n;
    b->site.jurisdictions = b->jurisdictions.v;
    b->site.n_jurisdictions = b->jurisdictions.n;
    b->site.price_per_gpu_hour = b->price;
    b->site.carbon_g_per_kwh = b->carbon;
    b->site.drained = b->drained;
    site_catalog_advertise(&b->catalog, &b->site);
    b->site.maintenance = b->window_ptrs;
    b->site.n_maintenance = b->n_windows;
    b->site.illustrative = b->illustrative;
    return &b->site;
}

const Aifed__Pool *site_file_pool(const struct site_file *b, const char *name)
{
    for (size_t i = 0; i < b->n_pools; i++)
        if (!strcmp(b->pool_names[i], name))
            return &b->pools[i];
    return NULL;
}

/* A list as the file would say it (a comment when there is none). */
static void print_list(FILE *out, const char *key, const struct af_strv *v)
{
    if (!v->n) {
        fprintf(out, "# %s: none\n", key);
        return;
    }
    fprintf(out, "%s = ", key);
    for (size_t i = 0; i < v->n; i++)
        fprintf(out, "%s%s", i ? ", " : "", v->v[i]);
    fputc('\n', out);
}

void site_file_print(const struct site_file *b, FILE *out)
{
    char d[32], e[32];

    fprintf(out,
            "\n# site file, as understood\n[site]\nid = %s\nname = %s\ncountry = %s\n",
            b->id, b->name ? b->name : b->id, b->country);
    print_list(out, "certifications", &b->certifications);
    print_list(out, "jurisdictions", &b->jurisdictions);
    fprintf(out, "price_per_gpu_hour = %.2f\ncarbon_g_per_kwh = %u\ndrained = %s\n",
            b->price, b->carbon, b->drained ? "yes" : "no");
    fprintf(out, "illustrative = %s\n", b->illustrative ? "yes" : "no");
    site_catalog_print(&b->catalog, out, false); /* its short lists, in [site] */
    for (size_t i = 0; i < b->n_windows; i++) {
        af_time_format(b->windows[i].start_ms, d, sizeof(d));
        af_time_format(b->windows[i].end_ms, e, sizeof(e));
        fprintf(out, "maintenance = %s/%s\n", d, e);
    }
    for (size_t i = 0; i < b->n_pools; i++) {
        const Aifed__Pool *p = &b->pools[i];
        if (b->scheduler) {
            fprintf(out, "\n[pool:%s]\naccelerator = %s\ngpu_memory_gb = %u\n", p->name,
                    *p->accelerator ? p->accelerator : "(from Slurm's GRES type)",
                    p->gpu_memory_gb);
            continue;
        }
        fprintf(out,
                "\n[pool:%s]\naccelerator = %s\ngpu_memory_gb = %u\ngpus_per_node = %u\n"
                "nodes = %u\ngpus_total = %u\ngpus_free = %u\n",
                p->name, p->accelerator, p->gpu_memory_gb, p->gpus_per_node,
                p->nodes_total, p->gpus_total, p->gpus_free);
        af_duration_format((uint64_t)p->max_walltime_s * 1000, d, sizeof(d));
        fprintf(out, "max_walltime = %s\n", d);
        af_duration_format((uint64_t)p->queue_wait_s * 1000, d, sizeof(d));
        fprintf(out, "queue_wait = %s\n", d);
        for (size_t k = 0; k < p->n_starts; k++) {
            af_duration_format((uint64_t)p->starts[k]->wait_s * 1000, d, sizeof(d));
            fprintf(out, "start_estimates = %u:%s\n", p->starts[k]->gpus, d);
        }
    }
    site_catalog_print(&b->catalog, out, true); /* its own sections, last */
}
