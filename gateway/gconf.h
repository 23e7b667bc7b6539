/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gconf: gateway.conf, the [gateway] section of an INI file: where it
 * listens (HTTPS: its certificate and key), how it reaches the broker, and
 * its bounds (aifed.conf(5)).
 */
#ifndef GCONF_H
#define GCONF_H

#include "af_error.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct gconf {
    char *path;
    char *listen;   /* HOST:PORT (port 0: any; the log says which) */
    char *tls_cert; /* PEM files, as written */
    char *tls_key;
    char *broker;            /* the broker's client endpoint(s) */
    char *broker_public_key; /* file, as written */
    char *secret_key;        /* the gateway's CURVE key (its principal gateway:NAME) */
    char *lab;               /* why it may run as root, or NULL */
    uint64_t max_body;       /* a request's body, bytes */
    uint64_t max_pending;    /* an answer's bytes the client has not read yet */
    uint32_t max_connections;
    uint64_t connection_timeout_ms; /* a client silent this long is closed */
    uint64_t head_timeout_ms;       /* a request unanswered this long: 504 */
    uint64_t max_message;
};

struct gconf *gconf_load(const char *path, struct af_error *err);
void gconf_destroy(struct gconf *c);
/* A path from the file, resolved against its directory; the caller frees. */
char *gconf_path(const struct gconf *c, const char *path);
/* Every setting as it is in force, for `aifed-gateway -n -v`. */
void gconf_print(const struct gconf *c, FILE *out);

#endif
