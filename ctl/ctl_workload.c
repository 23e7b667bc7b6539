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

/* "time=1,cost=4,..." over the preference's weights. */
static int parse_weights(struct ctl_workload *a, const char *arg)
{
    static const char *const names[] = {"time", "cost", "carbon", "data", "fit"};
    double *slots[] = {&a->weights.time, &a->weights.cost, &a->weights.carbon,
                       &a->weights.data, &a->weights.fit};
    char buf[256], *save = NULL;

    size_t len = strlen(arg);

    if (len >= sizeof(buf))
        return -1;
    memcpy(buf, arg, len + 1);
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

/* "meluxina" or "meluxina,lumi-ai": sites the workload may go to. */
static int add_sites(struct ctl_workload *a, const char *list)
{
    const char *p = list;

    while (*p) {
        size_t n = strcspn(p, ",");
        if (!n || n > AF_ID_MAX || a->w.n_sites == CTL_MAX_ITEMS)
            return -1;
        memcpy(a->site_buf[a->w.n_sites], p, n);
        a->site_buf[a->w.n_sites][n] = '\0';
        if (!af_id_valid(a->site_buf[a->w.n_sites]))
            return -1;
        a->sites[a->w.n_sites] = a->site_buf[a->w.n_sites];
        a->w.n_sites++;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

void ctl_workload_init(struct ctl_workload *a)
{
    aifed__workload__init(&a->w);
    a->w.countries = a->countries;
    a->w.certifications = a->certs;
    a->w.sites = a->sites;
    a->w.data = a->data_ptrs;
    a->w.accelerator = "";
    a->w.walltime_s = 3600;
}

/* Why arg is wrong for opt, into why: the words a flag and a task file's
 * field share. */
static int bad(char *why, size_t size, const char *fmt, const char *arg)
{
    snprintf(why, size, fmt, arg);
    return -1;
}

static int set_from_task(void *arg, int opt, const char *value, char *why, size_t size)
{
    return ctl_workload_set(arg, opt, value, why, size);
}

struct ctl_task_setter ctl_workload_setter(struct ctl_workload *a)
{
    return (struct ctl_task_setter){.set = set_from_task, .arg = a};
}

int ctl_workload_set(struct ctl_workload *a, int opt, const char *arg, char *why,
                     size_t size)
{
    static const char *const prefs[] = {"balanced", "time", "cost", "green", "local"};
    uint64_t ms;

    switch (opt) {
    case 'C':
        if (ctl_parse_u32(arg, &a->w.cpus_per_node) < 0)
            return bad(why, size, "'%s' is not a count", arg);
        return 0;
    case 'M':
        if (ctl_parse_u32(arg, &a->w.memory_per_node_gb) < 0)
            return bad(why, size, "'%s' is not a number of GB", arg);
        return 0;
    case 'B':
        if (ctl_parse_when(arg, false, &a->w.not_before_ms) < 0)
            return bad(why, size, "'%s' is not a time (" CTL_WHEN_HELP ")", arg);
        return 0;
    case 'D':
        if (ctl_parse_when(arg, false, &a->w.start_by_ms) < 0)
            return bad(why, size, "'%s' is not a time (" CTL_WHEN_HELP ")", arg);
        return 0;
    case 'T':
        if (!af_id_valid(arg) || a->w.n_certifications == CTL_MAX_ITEMS)
            return bad(why, size, "'%s' is not a certification name", arg);
        a->certs[a->w.n_certifications++] = (char *)arg;
        return 0;
    case '1':
    case '2':
    case '3':
        if (add_data(a, opt - '1', arg) < 0)
            return bad(why, size, "'%s' is not NAME or NAME:SIZE (like 120GB)", arg);
        return 0;
    case 'P':
        for (int k = 0; k < 5; k++)
            if (!strcmp(arg, prefs[k])) {
                a->w.prefer = (Aifed__Preference)k;
                return 0;
            }
        return bad(why, size, "'%s' is not time, cost, green, local or balanced", arg);
    case 'W':
        if (parse_weights(a, arg) < 0)
            return bad(why, size, "'%s' is not like time=4,cost=1,fit=0.1", arg);
        return 0;
    case 'p':
        if (!af_id_valid(arg))
            return bad(why, size, "'%s' is not a valid project name", arg);
        a->w.project = (char *)arg;
        return 0;
    case 'g':
        if (ctl_parse_u32(arg, &a->w.gpus) < 0 || a->w.gpus == 0)
            return bad(why, size, "'%s' is not a count of 1 or more", arg);
        return 0;
    case 'a':
        if (!af_id_valid(arg))
            return bad(why, size, "'%s' is not an accelerator model", arg);
        a->w.accelerator = strcasecmp(arg, "any") ? (char *)arg : "";
        return 0;
    case 'm':
        if (ctl_parse_u32(arg, &a->w.gpu_memory_gb) < 0)
            return bad(why, size, "'%s' is not a number of GB", arg);
        return 0;
    case 'n':
        if (ctl_parse_u32(arg, &a->w.nodes) < 0)
            return bad(why, size, "'%s' is not a count", arg);
        return 0;
    case 'w':
        if (ctl_parse_duration(arg, &ms) < 0 || ms < 1000 || ms / 1000 > UINT32_MAX)
            return bad(why, size, "'%s' is not a duration (" CTL_DURATION_HELP ")", arg);
        a->w.walltime_s = (uint32_t)(ms / 1000);
        return 0;
    case 'S':
        if (add_sites(a, arg) < 0)
            return bad(why, size, "'%s' is not a site id or a list like meluxina,lumi-ai",
                       arg);
        return 0;
    case 'c':
        if (add_countries(a, arg) < 0)
            return bad(why, size, "'%s' is not a list like LU,DE", arg);
        return 0;
    case 'e':
        for (size_t i = 0; i < sizeof(eu27) / sizeof(eu27[0]); i++)
            add_countries(a, eu27[i]);
        return 0;
    case 'r':
        if (!af_id_valid(arg))
            return bad(why, size, "'%s' is not a valid request id", arg);
        a->request_id = arg;
        return 0;
    default:
        return bad(why, size, "%s", "not a workload option");
    }
}

/* The long name of a workload option, for its error. */
static const char *opt_name(int opt)
{
    for (const struct option *o = ctl_opts_workload.longopts; o->name; o++)
        if (o->val == opt)
            return o->name;
    return "?";
}

/* --task FILE first, wherever it is on the line: the flags override it. */
static int load_task(const struct ctl_command *cmd, int argc, char **argv,
                     struct ctl_workload *a)
{
    char why[1024];

    for (int i = 1; i < argc && argv[i]; i++) {
        const char *path = NULL;
        if (!strcmp(argv[i], "--task") && i + 1 < argc)
            path = argv[i + 1];
        else if (!strncmp(argv[i], "--task=", 7))
            path = argv[i] + 7;
        if (!path)
            continue;
        struct ctl_task_setter setter = ctl_workload_setter(a);
        if (!(a->task = ctl_task_load(path, &setter, why, sizeof(why))))
            return ctl_usage_error(cmd, "%s", why);
        return 0;
    }
    return 0;
}

int ctl_workload_parse(const struct ctl_command *cmd, struct ctl *ctl, int argc,
                       char **argv, unsigned flags, struct ctl_workload *a)
{
    char why[256], full[320];
    bool site_flag = false;
    int opt, rc;

    ctl_workload_init(a);
    if ((rc = load_task(cmd, argc, argv, a)) != 0)
        return rc;
    while ((opt = ctl_getopt(argc, argv, &ctl_opts_workload)) != -1) {
        if (opt == 'f')
            continue; /* the task file: read first */
        if (opt == 'j' || opt == 'h' || opt == '?') {
            /* --help printed: -1, so that the caller exits 0 */
            if ((rc = ctl_opt_common(cmd, ctl, opt)) >= 0)
                return rc == 0 ? -1 : rc;
            continue;
        }
        if (opt == 'S' && !site_flag) { /* the flag's sites replace the file's */
            site_flag = true;
            a->w.n_sites = 0;
        }
        if (opt == 'r' && !(flags & CTL_WL_REQUEST_ID))
            return ctl_usage_error(cmd, "'%s' is not a valid request id", optarg);
        if (ctl_workload_set(a, opt, optarg, why, sizeof(why)) < 0) {
            snprintf(full, sizeof(full), "--%s: %s", opt_name(opt), why);
            return ctl_usage_error(cmd, "%s", full);
        }
    }
    if (optind != argc)
        return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (flags & CTL_WL_OPTIONAL)
        return 0;
    if (!*a->w.project) /* protobuf-c's init sets strings to "" */
        return ctl_usage_error(cmd, "--project (or a task file's project) is required",
                               NULL);
    if (!a->w.gpus)
        return ctl_usage_error(cmd, "--gpus (or a task file's resources) is required",
                               NULL);
    return 0;
}
