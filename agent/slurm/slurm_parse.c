/* SPDX-License-Identifier: Apache-2.0 */
/* slurm_parse: sinfo/squeue JSON through jansson, scontrol records by key. */
#include "slurm_parse.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

/* The count of one GRES token "gpu[:type]:N[(...)]" or "gres:gpu:N". */
static uint32_t token_count(const char *tok, size_t len)
{
    const char *end = tok + len, *p = memchr(tok, '(', len);
    const char *num;

    if (p)
        end = p;
    for (num = end; num > tok && isdigit((unsigned char)num[-1]); num--)
        ;
    if (num == end || (num > tok && num[-1] != ':' && num[-1] != '='))
        return 1; /* "gpu" alone: one */
    return (uint32_t)strtoul(num, NULL, 10);
}

/* The type in "gpu:a100:4", when there is one. */
static void token_type(const char *tok, size_t len, char *type, size_t size)
{
    const char *a = memchr(tok, ':', len), *b;

    if (!type || !size || *type || !a)
        return;
    a++;
    b = memchr(a, ':', (size_t)(tok + len - a));
    if (!b || isdigit((unsigned char)*a))
        return;
    snprintf(type, size, "%.*s", (int)(b - a), a);
}

uint32_t slurm_gres_gpus(const char *gres, char *type, size_t type_size)
{
    uint32_t total = 0;
    const char *p = gres;

    if (type && type_size)
        *type = '\0';
    while (p && *p) {
        size_t len = 0;
        int depth = 0;

        /* Commas inside "(S:0-1)" or "(IDX:0,2)" do not end a token. */
        while (p[len] && (p[len] != ',' || depth)) {
            depth += p[len] == '(' ? 1 : p[len] == ')' ? -1 : 0;
            len++;
        }
        if (!strncmp(p, "gpu", 3) && (p[3] == ':' || p[3] == '(' || len == 3)) {
            total += token_count(p, len);
            token_type(p, len, type, type_size);
        }
        p += len + (p[len] == ',');
    }
    return total;
}

/* GPUs in a TRES list "gres:gpu:2" or "cpu=1,gres/gpu=2". */
static uint32_t tres_gpus(const char *s)
{
    const char *p = s;

    while (p && *p) {
        size_t len = strcspn(p, ",");
        const char *g = strstr(p, "gpu");
        if (g && g < p + len)
            return token_count(p, len);
        p += len + (p[len] == ',');
    }
    return 0;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static json_int_t jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

static json_t *load_array(const char *text, const char *key, struct af_error *err)
{
    json_error_t je;
    json_t *root = json_loads(text, 0, &je), *a;

    if (!root) {
        af_error_set(err, "not JSON (line %d: %s)", je.line, je.text);
        return NULL;
    }
    a = json_object_get(root, key);
    if (!json_is_array(a)) {
        af_error_set(err, "no \"%s\" array in the answer", key);
        json_decref(root);
        return NULL;
    }
    json_incref(a);
    json_decref(root);
    return a;
}

static bool has_flag(json_t *flags, const char *const *bad)
{
    size_t i;
    json_t *f;

    json_array_foreach(flags, i, f)
    {
        for (const char *const *b = bad; *b; b++)
            if (!strcmp(json_string_value(f) ? json_string_value(f) : "", *b))
                return true;
    }
    return false;
}

static void parse_node(json_t *o, struct slurm_node *n)
{
    static const char *const up_states[] = {"idle", "mixed", "allocated", "completing",
                                            NULL};
    static const char *const bad_flags[] = {
        "DRAIN",         "DOWN",           "FAIL",
        "MAINT",         "NOT_RESPONDING", "POWERED_DOWN",
        "POWERING_DOWN", "POWER_DOWN",     "REBOOT_REQUESTED",
        "REBOOT_ISSUED", "INVALID_REG",    NULL};
    static const char *const reserved[] = {"RESERVED", NULL};
    json_t *flags = json_object_get(o, "state_flags"), *p;
    const char *state = jstr(o, "state");
    size_t i, len;
    char used_type[SLURM_NAME_MAX + 1];

    copy(n->name, sizeof(n->name), jstr(o, "name"));
    copy(n->addr, sizeof(n->addr), jstr(o, "address"));
    json_array_foreach(json_object_get(o, "partitions"), i, p)
    {
        if (n->n_partitions < SLURM_NODE_PARTS)
            copy(n->partitions[n->n_partitions++], SLURM_NAME_MAX + 1,
                 json_string_value(p));
    }
    n->gpus = slurm_gres_gpus(jstr(o, "gres"), n->gpu_type, sizeof(n->gpu_type));
    n->gpus_used = slurm_gres_gpus(jstr(o, "gres_used"), used_type, sizeof(used_type));
    n->cpus = (uint32_t)jint(o, "cpus");
    n->memory_mb = (uint64_t)jint(o, "real_memory");
    n->usable = false;
    for (const char *const *s = up_states; *s; s++)
        n->usable |= !strcmp(state, *s);
    n->usable = n->usable && !has_flag(flags, bad_flags);
    n->reserved = has_flag(flags, reserved);
    len = (size_t)snprintf(n->state, sizeof(n->state), "%s", state);
    json_array_foreach(flags, i, p)
    {
        if (len < sizeof(n->state))
            len += (size_t)snprintf(n->state + len, sizeof(n->state) - len, "+%s",
                                    json_string_value(p) ? json_string_value(p) : "");
    }
}

int slurm_parse_nodes(const char *json, struct slurm_node **nodes, size_t *n,
                      struct af_error *err)
{
    json_t *a = load_array(json, "nodes", err), *o;
    size_t i;

    *nodes = NULL;
    *n = 0;
    if (!a)
        return -1;
    if (json_array_size(a) && !(*nodes = calloc(json_array_size(a), sizeof(**nodes)))) {
        json_decref(a);
        return af_error_set(err, "out of memory");
    }
    json_array_foreach(a, i, o) parse_node(o, &(*nodes)[i]);
    *n = json_array_size(a);
    json_decref(a);
    return 0;
}

static uint32_t job_gpus(json_t *o)
{
    uint32_t g = tres_gpus(jstr(o, "tres_per_job")), count;
    json_t *d;
    size_t i;

    if (g)
        return g;
    if ((g = tres_gpus(jstr(o, "tres_per_node")))) {
        count = (uint32_t)jint(o, "node_count");
        return g * (count ? count : 1);
    }
    json_array_foreach(json_object_get(o, "gres_detail"), i, d)
    {
        const char *s = json_string_value(d);
        g += s ? slurm_gres_gpus(s, NULL, 0) : 0;
    }
    return g;
}

/* Slurm 22.05 gives exit_code as the wait status (code << 8 | signal);
 * later versions as an object with return_code. */
static void job_exit(json_t *o, struct slurm_job *j)
{
    json_t *e = json_object_get(o, "exit_code");

    if (json_is_integer(e)) {
        int64_t v = json_integer_value(e);
        j->exit_code = (int)((v >> 8) & 0xff);
        j->signal = (int)(v & 0x7f);
    } else if (json_is_object(e)) {
        j->exit_code = (int)jint(e, "return_code");
    }
}

int slurm_parse_jobs(const char *json, struct slurm_job **jobs, size_t *n,
                     struct af_error *err)
{
    json_t *a = load_array(json, "jobs", err), *o;
    size_t i;

    *jobs = NULL;
    *n = 0;
    if (!a)
        return -1;
    if (json_array_size(a) && !(*jobs = calloc(json_array_size(a), sizeof(**jobs)))) {
        json_decref(a);
        return af_error_set(err, "out of memory");
    }
    json_array_foreach(a, i, o)
    {
        struct slurm_job *j = &(*jobs)[i];
        j->id = (uint32_t)jint(o, "job_id");
        copy(j->state, sizeof(j->state), jstr(o, "job_state"));
        copy(j->resv, sizeof(j->resv), jstr(o, "resv_name"));
        j->start_s = jint(o, "start_time");
        j->end_s = jint(o, "end_time");
        j->gpus = job_gpus(o);
        copy(j->name, sizeof(j->name), jstr(o, "name"));
        copy(j->user, sizeof(j->user), jstr(o, "user_name"));
        slurm_first_host(jstr(o, "nodes"), j->node, sizeof(j->node));
        job_exit(o, j);
    }
    *n = json_array_size(a);
    json_decref(a);
    return 0;
}

void slurm_first_host(const char *list, char *buf, size_t size)
{
    size_t name = list ? strcspn(list, "[,") : 0, num;

    if (!list || !size) {
        if (size)
            *buf = '\0';
        return;
    }
    if (list[name] != '[') { /* a plain name, maybe the first of several */
        snprintf(buf, size, "%.*s", (int)name, list);
        return;
    }
    /* prefix[03-04,07]: the prefix and the first number as written */
    num = strspn(list + name + 1, "0123456789");
    snprintf(buf, size, "%.*s%.*s", (int)name, list, (int)num, list + name + 1);
}

/* The value of KEY in a oneliner record, or NULL. */
static const char *kv(const char *line, const char *key, char *buf, size_t size)
{
    size_t klen = strlen(key);

    for (const char *p = line; (p = strstr(p, key)); p += klen) {
        if ((p == line || p[-1] == ' ') && p[klen] == '=') {
            size_t len = strcspn(p + klen + 1, " \n");
            snprintf(buf, size, "%.*s", (int)len, p + klen + 1);
            return buf;
        }
    }
    return NULL;
}

int64_t slurm_duration_s(const char *s)
{
    long d = 0, h = 0, m = 0, sec = 0;
    int used = 0;

    if (!strcmp(s, "UNLIMITED") || !strcmp(s, "INFINITE"))
        return 0;
    if (sscanf(s, "%ld-%ld:%ld:%ld%n", &d, &h, &m, &sec, &used) == 4 && !s[used])
        return ((d * 24 + h) * 60 + m) * 60 + sec;
    d = 0;
    if (sscanf(s, "%ld-%ld%n", &d, &h, &used) == 2 && !s[used])
        return (d * 24 + h) * 3600;
    if (sscanf(s, "%ld:%ld:%ld%n", &h, &m, &sec, &used) == 3 && !s[used])
        return (h * 60 + m) * 60 + sec;
    if (sscanf(s, "%ld:%ld%n", &m, &sec, &used) == 2 && !s[used])
        return m * 60 + sec;
    if (sscanf(s, "%ld%n", &m, &used) == 1 && !s[used] && m >= 0)
        return m * 60;
    return -1;
}

int slurm_time_ms(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    time_t t;

    if (!end || (*end && !isspace((unsigned char)*end)))
        return -1;
    tm.tm_isdst = -1;
    if ((t = mktime(&tm)) == (time_t)-1)
        return -1;
    *ms = (int64_t)t * 1000;
    return 0;
}

/* One record per non-empty line, each added by add(). */
static int each_line(const char *text, void *arg,
                     int (*add)(const char *line, void *arg, struct af_error *err),
                     struct af_error *err)
{
    char *copy_ = strdup(text ? text : ""), *save = NULL;
    int rc = 0;

    if (!copy_)
        return af_error_set(err, "out of memory");
    for (char *line = strtok_r(copy_, "\n", &save); line && rc == 0;
         line = strtok_r(NULL, "\n", &save))
        if (*line && strncmp(line, "No ", 3))
            rc = add(line, arg, err);
    free(copy_);
    return rc;
}

struct vec {
    void **v;
    size_t *n;
    size_t elem;
};

static void *vec_push(struct vec *v)
{
    char *grown = realloc(*v->v, (*v->n + 1) * v->elem);

    if (!grown)
        return NULL;
    *v->v = grown;
    memset(grown + *v->n * v->elem, 0, v->elem);
    return grown + (*v->n)++ * v->elem;
}

static int add_part(const char *line, void *arg, struct af_error *err)
{
    struct slurm_part *p = vec_push(arg);
    char buf[128];
    int64_t s;

    if (!p)
        return af_error_set(err, "out of memory");
    if (!kv(line, "PartitionName", p->name, sizeof(p->name)))
        return af_error_set(err, "partition record without PartitionName");
    s = kv(line, "MaxTime", buf, sizeof(buf)) ? slurm_duration_s(buf) : 0;
    if (s < 0 || s > UINT32_MAX)
        return af_error_set(err, "partition %s: MaxTime '%s' not understood", p->name,
                            buf);
    p->max_time_s = (uint32_t)s;
    p->up = kv(line, "State", buf, sizeof(buf)) && !strcmp(buf, "UP");
    return 0;
}

int slurm_parse_partitions(const char *text, struct slurm_part **parts, size_t *n,
                           struct af_error *err)
{
    struct vec v = {(void **)parts, n, sizeof(**parts)};

    *parts = NULL;
    *n = 0;
    return each_line(text, &v, add_part, err);
}

static int add_resv(const char *line, void *arg, struct af_error *err)
{
    struct slurm_resv *r = vec_push(arg);
    char buf[256];

    if (!r)
        return af_error_set(err, "out of memory");
    if (!kv(line, "ReservationName", r->name, sizeof(r->name)))
        return af_error_set(err, "reservation record without ReservationName");
    if (!kv(line, "StartTime", buf, sizeof(buf)) ||
        slurm_time_ms(buf, &r->start_ms) < 0 || !kv(line, "EndTime", buf, sizeof(buf)) ||
        slurm_time_ms(buf, &r->end_ms) < 0)
        return af_error_set(err, "reservation %s: start or end time not understood",
                            r->name);
    if (kv(line, "PartitionName", r->partition, sizeof(r->partition)) &&
        !strcmp(r->partition, "(null)"))
        r->partition[0] = '\0';
    r->nodes =
        kv(line, "NodeCnt", buf, sizeof(buf)) ? (uint32_t)strtoul(buf, NULL, 10) : 0;
    r->maint = kv(line, "Flags", buf, sizeof(buf)) && strstr(buf, "MAINT");
    r->active = kv(line, "State", buf, sizeof(buf)) && !strcmp(buf, "ACTIVE");
    return 0;
}

int slurm_parse_reservations(const char *text, struct slurm_resv **resv, size_t *n,
                             struct af_error *err)
{
    struct vec v = {(void **)resv, n, sizeof(**resv)};

    *resv = NULL;
    *n = 0;
    return each_line(text, &v, add_resv, err);
}

int slurm_test_only_start(const char *text, int64_t *ms)
{
    const char *p = strstr(text ? text : "", " to start at ");
    char buf[32];

    if (!p || sscanf(p + 13, "%31s", buf) != 1)
        return -1;
    return slurm_time_ms(buf, ms);
}
