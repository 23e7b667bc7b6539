/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_conf: INI parsing over inih. inih reports only the number of the first
 * line a handler refused, so the handler's reason is kept in the context and
 * joined with that number at the end: the first error wins and is the one
 * shown, with its line.
 */
#include "af_conf.h"
#include "af_ids.h"
#include "af_time.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct conf_ctx {
    af_conf_fn fn;
    void *arg;
    struct af_error first;
    bool failed;
};

/* value without a comment that ends its line: "#" after a space, as in the
 * examples people copy (inih itself ends a value at " ;" only). A "#" with
 * no space before it is part of the value. */
static const char *uncommented(const char *value, char *buf, size_t size)
{
    size_t n = 0;

    for (const char *p = value; *p; p++)
        if (*p == '#' && p > value && (p[-1] == ' ' || p[-1] == '\t')) {
            n = (size_t)(p - value);
            break;
        }
    if (!n || n >= size)
        return value;
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    memcpy(buf, value, n);
    buf[n] = '\0';
    return buf;
}

static int conf_handler(void *user, const char *section, const char *key,
                        const char *value)
{
    struct conf_ctx *ctx = user;
    struct af_error err = {{0}};
    char buf[AF_CONF_VALUE_MAX];

    if (ctx->fn(ctx->arg, section, key, uncommented(value, buf, sizeof(buf)), &err) == 0)
        return 1;
    if (!ctx->failed) {
        ctx->first = err;
        ctx->failed = true;
    }
    return 0;
}

int af_conf_parse(const char *path, af_conf_fn fn, void *arg, struct af_error *err)
{
    struct conf_ctx ctx = {.fn = fn, .arg = arg};
    FILE *f = fopen(path, "r");
    int line;

    if (!f)
        return af_error_set(err, "%s: %s", path, strerror(errno));
    line = ini_parse_file(f, conf_handler, &ctx);
    fclose(f);
    if (line == 0)
        return 0;
    if (line > 0 && ctx.failed)
        return af_error_set(err, "%s:%d: %s", path, line, ctx.first.text);
    if (line > 0)
        return af_error_set(
            err, "%s:%d: syntax error (expected [section] or key = value)", path, line);
    return af_error_set(err, "%s: cannot parse (out of memory)", path);
}

char *af_conf_read_file(const char *path, size_t max, struct af_error *err)
{
    FILE *f = fopen(path, "r");
    char *buf = f ? malloc(max + 2) : NULL;
    size_t n = 0;

    if (!f) {
        af_error_set(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (buf)
        n = fread(buf, 1, max + 1, f);
    fclose(f);
    if (!buf) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    if (n > max) {
        free(buf);
        af_error_set(err, "%s: longer than %zu bytes", path, max);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

bool af_conf_url_ok(const char *url)
{
    static const char *const local[] = {"http://127.0.0.1:", "http://127.0.0.1/",
                                        "http://localhost:", "http://localhost/",
                                        "http://[::1]:",     "http://[::1]/"};

    if (strpbrk(url, " \t\r\n"))
        return false;
    if (!strncmp(url, "https://", 8) && url[8] && url[8] != '/')
        return true;
    for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
        if (!strncmp(url, local[i], strlen(local[i])))
            return true;
    return false;
}

int af_conf_uint(const char *key, const char *value, uint64_t max, uint64_t *ret,
                 struct af_error *err)
{
    char *end;
    unsigned long long n;

    errno = 0;
    if (*value < '0' || *value > '9')
        return af_error_set(err, "%s: '%s' is not a whole number", key, value);
    n = strtoull(value, &end, 10);
    if (*end != '\0')
        return af_error_set(err, "%s: '%s' is not a whole number", key, value);
    if (errno == ERANGE || n > max)
        return af_error_set(err, "%s: %s is larger than %llu", key, value,
                            (unsigned long long)max);
    *ret = n;
    return 0;
}

int af_conf_duration(const char *key, const char *value, uint64_t *ret_ms,
                     struct af_error *err)
{
    if (af_duration_parse(value, ret_ms) < 0)
        return af_error_set(err, "%s: '%s' is not a duration (e.g. 500ms, 30s, 5m, 48h)",
                            key, value);
    return 0;
}

int af_conf_bool(const char *key, const char *value, bool *ret, struct af_error *err)
{
    if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1")) {
        *ret = true;
        return 0;
    }
    if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0")) {
        *ret = false;
        return 0;
    }
    return af_error_set(err, "%s: '%s' is not yes or no", key, value);
}

int af_conf_id(const char *key, const char *value, char *buf, size_t size,
               struct af_error *err)
{
    if (!af_id_valid(value) || strlen(value) >= size)
        return af_error_set(
            err, "%s: '%s' is not a valid name (1-64 of A-Z a-z 0-9 . _ -)", key, value);
    memcpy(buf, value, strlen(value) + 1); /* fits: checked above */
    return 0;
}

int af_conf_bytes(const char *key, const char *value, uint64_t *ret, struct af_error *err)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {{"", 1},
                 {"B", 1},
                 {"KB", 1000},
                 {"MB", 1000000},
                 {"GB", 1000000000ULL},
                 {"TB", 1000000000000ULL}};
    char *end;
    unsigned long long n;

    errno = 0;
    if (*value < '0' || *value > '9')
        return af_error_set(err, "%s: '%s' is not a size like 120GB", key, value);
    n = strtoull(value, &end, 10);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit))
            continue;
        /* 8 PiB: what the wire takes as a data item's size (AF_WIRE_MAX_DATA_BYTES). */
        if (errno == ERANGE || n > (1ULL << 53) / units[i].mult)
            return af_error_set(err, "%s: '%s' is too large (at most 8 PiB)", key, value);
        *ret = n * units[i].mult;
        return 0;
    }
    return af_error_set(err, "%s: '%s' is not a size like 120GB", key, value);
}

int af_conf_number(const char *key, const char *value, double max, double *ret,
                   struct af_error *err)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(value, &end);
    if (end == value || *end || errno || !(v >= 0 && v <= max))
        return af_error_set(err, "%s: '%s' is not a number from 0 to %g", key, value,
                            max);
    *ret = v;
    return 0;
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

int af_strv_add(struct af_strv *sv, const char *key, const char *value, bool check_id,
                size_t max, struct af_error *err)
{
    char *copy = strdup(value);
    char *save = NULL;
    int rc = -1;

    if (!copy)
        return af_error_set(err, "%s: out of memory", key);
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *item = trim(tok);
        char **grown;

        if (*item == '\0')
            continue;
        if (check_id && !af_id_valid(item)) {
            af_error_set(err, "%s: '%s' is not a valid name", key, item);
            goto out;
        }
        if (sv->n >= max) {
            af_error_set(err, "%s: more than %zu items", key, max);
            goto out;
        }
        grown = realloc(sv->v, (sv->n + 1) * sizeof(*sv->v));
        if (!grown || !(grown[sv->n] = strdup(item))) {
            if (grown)
                sv->v = grown;
            af_error_set(err, "%s: out of memory", key);
            goto out;
        }
        sv->v = grown;
        sv->n++;
    }
    rc = 0;
out:
    free(copy);
    return rc;
}

bool af_strv_has(const struct af_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (!strcmp(sv->v[i], s))
            return true;
    return false;
}

void af_strv_free(struct af_strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

int af_conf_strdup(char **slot, const char *s)
{
    char *copy = strdup(s);

    if (!copy)
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

char *af_conf_path(const char *base_file, const char *path)
{
    const char *slash = strrchr(base_file, '/');
    size_t dirlen;
    char *out;

    if (path[0] == '/' || !slash)
        return strdup(path);
    dirlen = (size_t)(slash - base_file);
    out = malloc(dirlen + 1 + strlen(path) + 1);
    if (!out)
        return NULL;
    memcpy(out, base_file, dirlen);
    out[dirlen] = '/';
    memcpy(out + dirlen + 1, path, strlen(path) + 1);
    return out;
}
