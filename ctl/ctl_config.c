/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_config: the environment and the config file, under the options. */
#include "ctl_config.h"
#include "af_conf.h"
#include "af_time.h"
#include "ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void config_path(struct ctl_config *c)
{
    const char *env = getenv("AIFED_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");

    if (env && *env)
        snprintf(c->path, sizeof(c->path), "%s", env);
    else if (xdg && *xdg)
        snprintf(c->path, sizeof(c->path), "%s/aifed/config", xdg);
    else
        snprintf(c->path, sizeof(c->path), "%s/.config/aifed/config", home ? home : ".");
}

/* A path in the file, relative to the file's directory. */
static int file_path(const struct ctl_config *c, const char *key, const char *value,
                     char *buf, size_t size, struct af_error *err)
{
    const char *slash = strrchr(c->path, '/');
    int n;

    if (value[0] == '/' || !slash)
        n = snprintf(buf, size, "%s", value);
    else
        n = snprintf(buf, size, "%.*s/%s", (int)(slash - c->path), c->path, value);
    if (n < 0 || (size_t)n >= size)
        return af_error_set(err, "%s: the path is too long", key);
    return 0;
}

static int on_line(void *arg, const char *section, const char *key, const char *value,
                   struct af_error *err)
{
    struct ctl_config *c = arg;
    uint64_t ms;

    if (strcmp(section, "aifedctl"))
        return af_error_set(err, "unknown section [%s] (want [aifedctl])", section);
    if (!strcmp(key, "broker")) {
        if (!ctl_config_endpoint(value, c->broker, sizeof(c->broker)))
            return af_error_set(err, "broker: '%s' is not host:port or tcp://host:port",
                                value);
        return 0;
    }
    if (!strcmp(key, "broker_key"))
        return file_path(c, key, value, c->broker_key, sizeof(c->broker_key), err);
    if (!strcmp(key, "key"))
        return file_path(c, key, value, c->key, sizeof(c->key), err);
    if (!strcmp(key, "oidc_issuer") || !strcmp(key, "oidc_client_id") ||
        !strcmp(key, "oidc_scopes")) {
        char *dst = key[5] == 'i'   ? c->oidc_issuer
                    : key[5] == 'c' ? c->oidc_client_id
                                    : c->oidc_scopes;
        size_t size = key[5] == 'i'   ? sizeof(c->oidc_issuer)
                      : key[5] == 'c' ? sizeof(c->oidc_client_id)
                                      : sizeof(c->oidc_scopes);

        if (strlen(value) >= size)
            return af_error_set(err, "%s: too long", key);
        memcpy(dst, value, strlen(value) + 1);
        return 0;
    }
    if (!strcmp(key, "timeout")) {
        if (af_duration_parse(value, &ms) < 0 || !ms)
            return af_error_set(err, "timeout: '%s' is not a duration like 30s", value);
        snprintf(c->timeout, sizeof(c->timeout), "%s", value);
        return 0;
    }
    return af_error_set(err,
                        "unknown setting '%s' (broker, broker_key, key, timeout, "
                        "oidc_issuer, oidc_client_id, oidc_scopes)",
                        key);
}

/* One endpoint: host:port or scheme://..., as tcp://. NULL when neither. */
static bool one_endpoint(const char *s, size_t len, char *buf, size_t size)
{
    char one[512], *end;
    const char *colon;
    long port;

    if (len == 0 || len >= sizeof(one))
        return false;
    memcpy(one, s, len);
    one[len] = '\0';
    if (strstr(one, "://"))
        return (size_t)snprintf(buf, size, "%s", one) < size;
    if (!(colon = strrchr(one, ':')) || colon == one)
        return false;
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return false;
    return (size_t)snprintf(buf, size, "tcp://%s", one) < size;
}

const char *ctl_config_endpoint(const char *s, char *buf, size_t size)
{
    size_t at = 0;

    buf[0] = '\0';
    for (const char *p = s; *p;) {
        size_t skip = strspn(p, " "), len = strcspn(p + skip, ", ");

        if (at && at + 1 < size)
            buf[at++] = ',';
        if (!one_endpoint(p + skip, len, buf + at, size - at))
            return NULL;
        at += strlen(buf + at);
        p += skip + len;
        p += strspn(p, " ");
        if (*p == ',')
            p++;
        else if (*p)
            return NULL;
    }
    return at ? buf : NULL;
}

/* The option's value, else the variable's, else the file's. */
static void pick(const char **value, const char **src, const char *opt_name,
                 const char *var, const char *from_file, const char *file)
{
    const char *env = getenv(var);

    if (*value)
        *src = opt_name;
    else if (env && *env)
        *value = env, *src = var;
    else if (*from_file)
        *value = from_file, *src = file;
    else
        *src = "not set";
}

int ctl_config_apply(struct ctl *ctl, struct ctl_config *c, struct af_error *err)
{
    struct stat st;

    config_path(c);
    if (stat(c->path, &st) == 0) {
        /* It names the broker and its key: another user's file, or one
         * others may write, could send this user's key to anyone's broker.
         * Refused as such a secret key is. */
        if (st.st_uid != geteuid())
            return af_error_set(err,
                                "%s belongs to uid %u, not to you (uid %u): it names the "
                                "broker you trust; chown it, or use --config",
                                c->path, (unsigned)st.st_uid, (unsigned)geteuid());
        if (st.st_mode & (S_IWGRP | S_IWOTH))
            return af_error_set(err,
                                "%s is writable by group or others (mode %04o): it names "
                                "the broker you trust; run chmod go-w on it",
                                c->path, (unsigned)(st.st_mode & 07777));
        if (af_conf_parse(c->path, on_line, c, err) < 0)
            return -1;
        c->found = true;
    }
    pick(&ctl->broker, &c->src_broker, "--broker", "AIFED_BROKER", c->broker, c->path);
    pick(&ctl->broker_key, &c->src_broker_key, "--broker-key", "AIFED_BROKER_KEY",
         c->broker_key, c->path);
    pick(&ctl->key, &c->src_key, "--key", "AIFED_KEY", c->key, c->path);
    if (ctl->timeout_set) {
        c->src_timeout = "--timeout";
    } else if (*c->timeout) {
        af_duration_parse(c->timeout, &ctl->timeout_ms); /* checked when read */
        ctl->timeout_set = true;
        c->src_timeout = c->path;
    } else {
        c->src_timeout = "each command's own (20 s for most)";
    }
    return 0;
}
