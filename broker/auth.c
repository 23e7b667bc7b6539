/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth: ZAP (RFC 27) over an inproc REP socket, answered in the broker's own
 * loop. The handler must answer every request, or the peer's handshake hangs
 * until the handshake timeout, so malformed requests are answered with 500.
 */
#include "auth.h"
#include "af_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
/* version, request id, domain, address, identity, mechanism, key */
#define ZAP_FRAMES 7

struct auth {
    void *sock;
    struct auth_principal *v;
    size_t n;
};

struct auth *auth_create(void *zctx, struct af_error *err)
{
    struct auth *a = calloc(1, sizeof(*a));
    int linger = 0;

    if (!a) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    a->sock = zmq_socket(zctx, ZMQ_REP);
    if (!a->sock || zmq_setsockopt(a->sock, ZMQ_LINGER, &linger, sizeof(linger)) ||
        zmq_bind(a->sock, ZAP_ENDPOINT) != 0) {
        af_error_set(err, "ZAP handler: %s", zmq_strerror(errno));
        auth_destroy(a);
        return NULL;
    }
    return a;
}

void auth_destroy(struct auth *a)
{
    int saved = errno;

    if (!a)
        return;
    if (a->sock)
        zmq_close(a->sock);
    for (size_t i = 0; i < a->n; i++) {
        for (size_t j = 0; j < a->v[i].n_projects; j++)
            free(a->v[i].projects[j]);
        free(a->v[i].projects);
    }
    free(a->v);
    free(a);
    errno = saved;
}

static const char *const kind_prefix[] = {"site", "user", "admin"};

int auth_add(struct auth *a, enum auth_kind kind, const char *name,
             const char *public_z85, char *const *projects, size_t n_projects)
{
    struct auth_principal *p, *grown;
    char id[sizeof(p->id)];

    snprintf(id, sizeof(id), "%s:%s", kind_prefix[kind], name);
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->v[i].id, id) || !strcmp(a->v[i].public_z85, public_z85)) {
            errno = EEXIST;
            return -1;
        }
    grown = realloc(a->v, (a->n + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    a->v = grown;
    /* name points into id: fix up every entry, realloc may have moved them. */
    for (size_t i = 0; i < a->n; i++)
        a->v[i].name = strchr(a->v[i].id, ':') + 1;
    p = &a->v[a->n];
    memset(p, 0, sizeof(*p));
    p->index = a->n;
    p->kind = kind;
    strcpy(p->id, id);
    p->name = strchr(p->id, ':') + 1;
    snprintf(p->public_z85, sizeof(p->public_z85), "%s", public_z85);
    if (n_projects) {
        p->projects = calloc(n_projects, sizeof(*p->projects));
        if (!p->projects)
            return -1;
        for (size_t i = 0; i < n_projects; i++) {
            if (!(p->projects[i] = strdup(projects[i]))) {
                for (size_t j = 0; j < i; j++)
                    free(p->projects[j]);
                free(p->projects);
                errno = ENOMEM;
                return -1;
            }
        }
        p->n_projects = n_projects;
    }
    a->n++;
    return 0;
}

size_t auth_count(const struct auth *a)
{
    return a->n;
}

void *auth_socket(struct auth *a)
{
    return a->sock;
}

const struct auth_principal *auth_find(const struct auth *a, const char *id)
{
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->v[i].id, id))
            return &a->v[i];
    return NULL;
}

bool auth_may_use_project(const struct auth_principal *p, const char *project)
{
    if (p->kind == AUTH_ADMIN)
        return true;
    if (p->kind != AUTH_USER)
        return false;
    for (size_t i = 0; i < p->n_projects; i++)
        if (!strcmp(p->projects[i], project))
            return true;
    return false;
}

/* Which principal, if any, may use this key on this domain. */
static const struct auth_principal *decide(const struct auth *a, const char *domain,
                                           const char *mechanism, const uint8_t *key,
                                           size_t key_len)
{
    char z85[AF_KEY_Z85_LEN + 1];
    bool agent = !strcmp(domain, AUTH_DOMAIN_AGENT);

    if (strcmp(mechanism, "CURVE") || key_len != 32 || !zmq_z85_encode(z85, key, 32))
        return NULL;
    if (!agent && strcmp(domain, AUTH_DOMAIN_CLIENT))
        return NULL;
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->v[i].public_z85, z85))
            continue;
        if (agent == (a->v[i].kind == AUTH_SITE))
            return &a->v[i];
        return NULL;
    }
    return NULL;
}

static void reply(void *sock, const zmq_msg_t *version, const zmq_msg_t *reqid,
                  const char *code, const char *text, const char *user)
{
    zmq_send(sock, zmq_msg_data((zmq_msg_t *)version), zmq_msg_size((zmq_msg_t *)version),
             ZMQ_SNDMORE);
    zmq_send(sock, zmq_msg_data((zmq_msg_t *)reqid), zmq_msg_size((zmq_msg_t *)reqid),
             ZMQ_SNDMORE);
    zmq_send(sock, code, strlen(code), ZMQ_SNDMORE);
    zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(sock, "", 0, 0);
}

static void frame_str(zmq_msg_t *m, char *buf, size_t size)
{
    size_t n = zmq_msg_size(m) < size - 1 ? zmq_msg_size(m) : size - 1;

    memcpy(buf, zmq_msg_data(m), n);
    buf[n] = '\0';
}

void auth_handle(struct auth *a)
{
    zmq_msg_t f[ZAP_FRAMES + 1];
    int n = 0, more = 1;
    char domain[64], mechanism[16], address[64];
    const struct auth_principal *p = NULL;

    while (more && n < ZAP_FRAMES + 1) {
        zmq_msg_init(&f[n]);
        if (zmq_msg_recv(&f[n], a->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&f[n]);
            break;
        }
        more = zmq_msg_more(&f[n]);
        n++;
    }
    if (n < 2) { /* not even a request id: nothing we can answer */
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
        return;
    }
    if (n != ZAP_FRAMES || more) {
        while (more) { /* discard the rest so REP can answer */
            zmq_msg_t x;
            zmq_msg_init(&x);
            if (zmq_msg_recv(&x, a->sock, 0) < 0)
                more = 0;
            else
                more = zmq_msg_more(&x);
            zmq_msg_close(&x);
        }
        reply(a->sock, &f[0], &f[1], "500", "malformed ZAP request", "");
        goto out;
    }
    frame_str(&f[2], domain, sizeof(domain));
    frame_str(&f[3], address, sizeof(address));
    frame_str(&f[5], mechanism, sizeof(mechanism));
    p = decide(a, domain, mechanism, zmq_msg_data(&f[6]), zmq_msg_size(&f[6]));
    if (p) {
        log_debug("ZAP: %s from %s on %s accepted", p->id, address, domain);
        reply(a->sock, &f[0], &f[1], "200", "OK", p->id);
    } else {
        log_info(
            "refused a connection from %s on the %s socket: key not registered there",
            address, domain);
        reply(a->sock, &f[0], &f[1], "400", "key not registered", "");
    }
out:
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}
