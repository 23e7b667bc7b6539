/* SPDX-License-Identifier: Apache-2.0 */
#include "gconf.h"
#include "af_conf.h"

#include <stdlib.h>
#include <string.h>

static int set_str(char **slot, const char *key, const char *value, struct af_error *err)
{
    if (!*value)
        return af_error_set(err, "%s needs a value", key);
    return af_conf_strdup(slot, value) < 0 ? af_error_set(err, "out of memory") : 0;
}

static int on_line(void *arg, const char *section, const char *key, const char *value,
                   struct af_error *err)
{
    struct gconf *c = arg;
    uint64_t n;

    if (strcmp(section, "gateway"))
        return af_error_set(err, "unknown section [%s] (want [gateway])", section);
    if (!strcmp(key, "listen"))
        return set_str(&c->listen, key, value, err);
    if (!strcmp(key, "tls_cert"))
        return set_str(&c->tls_cert, key, value, err);
    if (!strcmp(key, "tls_key"))
        return set_str(&c->tls_key, key, value, err);
    if (!strcmp(key, "broker"))
        return set_str(&c->broker, key, value, err);
    if (!strcmp(key, "broker_public_key"))
        return set_str(&c->broker_public_key, key, value, err);
    if (!strcmp(key, "secret_key"))
        return set_str(&c->secret_key, key, value, err);
    if (!strcmp(key, "lab"))
        return set_str(&c->lab, key, value, err);
    if (!strcmp(key, "max_body"))
        return af_conf_bytes(key, value, &c->max_body, err);
    if (!strcmp(key, "max_pending"))
        return af_conf_bytes(key, value, &c->max_pending, err);
    if (!strcmp(key, "max_message"))
        return af_conf_bytes(key, value, &c->max_message, err);
    if (!strcmp(key, "max_connections")) {
        if (af_conf_uint(key, value, 65536, &n, err) < 0)
            return -1;
        c->max_connections = (uint32_t)n;
        return 0;
    }
    if (!strcmp(key, "connection_timeout"))
        return af_conf_duration(key, value, &c->connection_timeout_ms, err);
    if (!strcmp(key, "head_timeout"))
        return af_conf_duration(key, value, &c->head_timeout_ms, err);
    return af_error_set(err,
                        "unknown setting '%s' (listen, tls_cert, tls_key, broker, "
                        "broker_public_key, secret_key, max_body, max_pending, "
                        "max_connections, connection_timeout, head_timeout, max_message, "
                        "lab)",
                        key);
}

struct gconf *gconf_load(const char *path, struct af_error *err)
{
    struct gconf *c = calloc(1, sizeof(*c));

    if (!c || !(c->path = strdup(path)) || !(c->listen = strdup("0.0.0.0:8443")) ||
        !(c->tls_cert = strdup("/etc/aifed/gateway.crt")) ||
        !(c->tls_key = strdup("/etc/aifed/gateway.pem")) ||
        !(c->broker = strdup("tcp://127.0.0.1:7700")) ||
        !(c->broker_public_key = strdup("/etc/aifed/broker.pub")) ||
        !(c->secret_key = strdup("/etc/aifed/gateway.key"))) {
        af_error_set(err, "out of memory");
        gconf_destroy(c);
        return NULL;
    }
    /* Under the broker's max_message (1 MiB unless set), which libzmq
     * enforces by dropping the sender. */
    c->max_body = 512 * 1024;
    c->max_pending = 16 * 1024 * 1024;
    c->max_connections = 1024;
    c->connection_timeout_ms = 600 * 1000;
    c->head_timeout_ms = 300 * 1000;
    c->max_message = 2 * 1024 * 1024;
    if (af_conf_parse(path, on_line, c, err) < 0) {
        gconf_destroy(c);
        return NULL;
    }
    if (c->max_body + 64 * 1024 > c->max_message) {
        af_error_set(err, "%s: max_body must leave 64 KiB of max_message for the rest",
                     path);
        gconf_destroy(c);
        return NULL;
    }
    return c;
}

void gconf_destroy(struct gconf *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->listen);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->broker);
    free(c->broker_public_key);
    free(c->secret_key);
    free(c->lab);
    free(c);
}

char *gconf_path(const struct gconf *c, const char *path)
{
    return af_conf_path(c->path, path);
}

void gconf_print(const struct gconf *c, FILE *out)
{
    fprintf(out,
            "[gateway]\nlisten = %s\ntls_cert = %s\ntls_key = %s\nbroker = %s\n"
            "broker_public_key = %s\nsecret_key = %s\nmax_body = %llu\n"
            "max_pending = %llu\nmax_connections = %u\nconnection_timeout = %llums\n"
            "head_timeout = %llums\nmax_message = %llu\n",
            c->listen, c->tls_cert, c->tls_key, c->broker, c->broker_public_key,
            c->secret_key, (unsigned long long)c->max_body,
            (unsigned long long)c->max_pending, c->max_connections,
            (unsigned long long)c->connection_timeout_ms,
            (unsigned long long)c->head_timeout_ms, (unsigned long long)c->max_message);
    if (c->lab)
        fprintf(out, "lab = %s\n", c->lab);
}
