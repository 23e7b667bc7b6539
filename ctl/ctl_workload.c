/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_workload: one getopt table for every workload option. */
#include "ctl_workload.h"
#include "af_conf.h"
#include "af_time.h"
#include "ctl_opts.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const eu27[] = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI",
                                   "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
                                   "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"};

/* "NAME[:SIZE]" as a data item of kind. */
static int add_data(struct ctl_workload *a, int kind, const char *arg)
{
    const char *colon = strchr(arg, ':');
    size_t n = colon ? (size_t)(colon - arg) : strlen(arg);
    Aifed__DataItem *d;
    struct af_error err;

    if (a->w.n_data == CTL_MAX_ITEMS || n > AF_ID_MAX)
        return -1;
    d = &a->data[a->w.n_data];
    aifed__data_item__init(d);
    memcpy(a->data_names[a->w.n_data], arg, n);
    a->data_names[a->w.n_data][n] = '\0';
    if (!af_id_valid(a->data_names[a->w.n_data]))
        return -1;
    if (colon && af_conf_bytes("size", colon + 1, &d->size_bytes, &err) < 0)
        return -1;
    d->kind = (Aifed__DataKind)kind;
    d->name = a->data_names[a->w.n_data];
    a->data_ptrs[a->w.n_data++] = d;
    return 0;
}

/* A UTC time ("2026-12-01T06:00Z") or a duration from now ("2h"). */
static int parse_when(const char *s, int64_t *ret_ms)
{
    uint64_t ms;

    if (af_time_parse(s, ret_ms) == 0)
        return 0;
    if (af_duration_parse(s, &ms) < 0)
        return -1;
    *ret_ms = af_now_ms() + (int64_t)ms;
    return 0;
}

/* "time=1,cost=4,..." over the preference's weights. */
static int parse_weights(struct ctl_workload *a, const char *arg)
{
    static const char *const names[] = {"time", "cost", "carbon", "data", "fit"};
    double *slots[] = {&a->weights.time, &a->weights.cost, &a->weights.carbon,
                       &a->weights.data, &a->weights.fit};
    char buf[256], *save = NULL;

    if (strlen(arg) >= sizeof(buf))
        return -1;
    strcpy(buf, arg);
    aifed__weights__init(&a->weights);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '='), *end;
        size_t k;

        if (!eq)
            return -1;
        *eq = '\0';
        for (k = 0; k < 5 && strcmp(t, names[k]); k++)
            ;
        if (k == 5)
            return -1;
        *slots[k] = strtod(eq + 1, &end);
        if (end == eq + 1 || *end || *slots[k] < 0 || *slots[k] > 1000)
            return -1;
    }
    a->w.weights = &a->weights;
    return 0;
}

static int add_countries(struct ctl_workload *a, const char *list)
{
    const char *p = list;

    while (*p) {
        size_t n = strcspn(p, ",");
        if (n != 2 || a->w.n_countries == 64)
            return -1;
        a->country_buf[a->w.n_countries][0] = (char)(p[0] & ~0x20);
        a->country_buf[a->w.n_countries][1] = (char)(p[1] & ~0x20);
        a->country_buf[a->w.n_countries][2] = '\0';
        a->countries[a->w.n_countries] = a->country_buf[a->w.n_countries];
        a->w.n_countries++;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

int ctl_workload_parse(const struct ctl_command *cmd, struct ctl *ctl, int argc,
                       char **argv, bool submit, struct ctl_workload *a)
{
    static const char *const prefs[] = {"balanced", "time", "cost", "green", "local"};
    uint64_t ms;
    int opt, rc;

    aifed__workload__init(&a->w);
    a->w.countries = a->countries;
    a->w.certifications = a->certs;
    a->w.data = a->data_ptrs;
    a->w.accelerator = "";
    a->w.walltime_s = 3600;
    while ((opt = ctl_getopt(argc, argv, &ctl_opts_workload)) != -1) {
        switch (opt) {
        case 'C':
            if (ctl_parse_u32(optarg, &a->w.cpus_per_node) < 0)
                return ctl_usage_error(cmd, "--cpus-per-node: '%s' is not a count",
                                       optarg);
            break;
        case 'M':
            if (ctl_parse_u32(optarg, &a->w.memory_per_node_gb) < 0)
                return ctl_usage_error(
                    cmd, "--memory-per-node: '%s' is not a number of GB", optarg);
            break;
        case 'B':
            if (parse_when(optarg, &a->w.not_before_ms) < 0)
                return ctl_usage_error(
                    cmd, "--not-before: '%s' is not a time or duration", optarg);
            break;
        case 'D':
            if (parse_when(optarg, &a->w.start_by_ms) < 0)
                return ctl_usage_error(cmd, "--start-by: '%s' is not a time or duration",
                                       optarg);
            break;
        case 'T':
            if (!af_id_valid(optarg) || a->w.n_certifications == CTL_MAX_ITEMS)
                return ctl_usage_error(cmd, "--cert: '%s' is not a certification name",
                                       optarg);
            a->certs[a->w.n_certifications++] = optarg;
            break;
        case '1':
        case '2':
        case '3':
            if (add_data(a, opt - '1', optarg) < 0)
                return ctl_usage_error(cmd, "'%s' is not NAME or NAME:SIZE (like 120GB)",
                                       optarg);
            break;
        case 'P':
            a->w.prefer = AIFED__PREFERENCE__PREFER_BALANCED;
            for (int k = 0; k < 5; k++)
                if (!strcmp(optarg, prefs[k]))
                    a->w.prefer = (Aifed__Preference)k;
            if (a->w.prefer == AIFED__PREFERENCE__PREFER_BALANCED &&
                strcmp(optarg, "balanced"))
                return ctl_usage_error(
                    cmd,
                    "--prefer: '%s' is not time, cost, green, local or "
                    "balanced",
                    optarg);
            break;
        case 'W':
            if (parse_weights(a, optarg) < 0)
                return ctl_usage_error(
                    cmd, "--weights: '%s' is not like time=4,cost=1,fit=0.1", optarg);
            break;
        case 'p':
            if (!af_id_valid(optarg))
                return ctl_usage_error(cmd, "'%s' is not a valid project name", optarg);
            a->w.project = optarg;
            break;
        case 'g':
            if (ctl_parse_u32(optarg, &a->w.gpus) < 0 || a->w.gpus == 0)
                return ctl_usage_error(cmd, "--gpus: '%s' is not a count of 1 or more",
                                       optarg);
            break;
        case 'a':
            if (!af_id_valid(optarg))
                return ctl_usage_error(cmd, "'%s' is not an accelerator model", optarg);
            a->w.accelerator = strcasecmp(optarg, "any") ? optarg : "";
            break;
        case 'm':
            if (ctl_parse_u32(optarg, &a->w.gpu_memory_gb) < 0)
                return ctl_usage_error(cmd, "--gpu-memory: '%s' is not a number of GB",
                                       optarg);
            break;
        case 'n':
            if (ctl_parse_u32(optarg, &a->w.nodes) < 0)
                return ctl_usage_error(cmd, "--nodes: '%s' is not a count", optarg);
            break;
        case 'w':
            if (af_duration_parse(optarg, &ms) < 0 || ms < 1000 || ms / 1000 > UINT32_MAX)
                return ctl_usage_error(cmd, "--walltime: '%s' is not a duration like 4h",
                                       optarg);
            a->w.walltime_s = (uint32_t)(ms / 1000);
            break;
        case 'c':
            if (add_countries(a, optarg) < 0)
                return ctl_usage_error(cmd, "--country: '%s' is not a list like LU,DE",
                                       optarg);
            break;
        case 'e':
            for (size_t i = 0; i < sizeof(eu27) / sizeof(eu27[0]); i++)
                add_countries(a, eu27[i]);
            break;
        case 'r':
            if (!submit || !af_id_valid(optarg))
                return ctl_usage_error(cmd, "'%s' is not a valid request id", optarg);
            a->request_id = optarg;
            break;
        default: /* --help printed: -1, so that the caller exits 0 */
            if ((rc = ctl_opt_common(cmd, ctl, opt)) >= 0)
                return rc == 0 ? -1 : rc;
        }
    }
    if (optind != argc)
        return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!*a->w.project) /* protobuf-c's init sets strings to "" */
        return ctl_usage_error(cmd, "--project is required", NULL);
    if (!a->w.gpus)
        return ctl_usage_error(cmd, "--gpus is required", NULL);
    return 0;
}
