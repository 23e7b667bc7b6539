/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_zap: ZAP over an inproc REP socket. A request is seven frames: version,
 * request id, domain, address, identity, mechanism, key. The answer echoes
 * the first two, then status, text, User-Id and an empty metadata frame.
 */
#include "af_zap.h"
#include "af_keys.h"
#include "af_log.h"
#include "af_zsock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_FRAMES   7
#define USER_MAX     256

struct af_zap {
    void *sock;
    af_zap_fn decide;
    void *arg;
};

/* The REP socket at the endpoint libzmq sends ZAP requests to. */
static void *bind_rep(void *zctx)
{
    void *sock = zmq_socket(zctx, ZMQ_REP);
    int linger = 0;

    if (sock && (zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger)) ||
                 zmq_bind(sock, ZAP_ENDPOINT) != 0)) {
        int saved = errno;

        zmq_close(sock);
        errno = saved;
        sock = NULL;
    }
    return sock;
}

struct af_zap *af_zap_create(void *zctx, af_zap_fn decide, void *arg,
                             struct af_error *err)
{
    struct af_zap *z = calloc(1, sizeof(*z));

    if (z && (z->sock = bind_rep(zctx))) {
        z->decide = decide;
        z->arg = arg;
        return z;
    }
    af_error_set(err, "ZAP handler: %s", z ? zmq_strerror(errno) : "out of memory");
    free(z);
    return NULL;
}

void af_zap_destroy(struct af_zap *z)
{
    if (z)
        af_zsock_close(z->sock); /* keeps errno, as free does */
    free(z);
}

void *af_zap_socket(struct af_zap *z)
{
    return z->sock;
}

static void reply(void *sock, zmq_msg_t *version, zmq_msg_t *reqid, const char *code,
                  const char *text, const char *user)
{
    zmq_send(sock, zmq_msg_data(version), zmq_msg_size(version), ZMQ_SNDMORE);
    zmq_send(sock, zmq_msg_data(reqid), zmq_msg_size(reqid), ZMQ_SNDMORE);
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

/* Read the rest of a multi-frame message, so that REP can answer. */
static void discard_rest(void *sock, int more)
{
    while (more) {
        zmq_msg_t x;

        zmq_msg_init(&x);
        more = zmq_msg_recv(&x, sock, 0) < 0 ? 0 : zmq_msg_more(&x);
        zmq_msg_close(&x);
    }
}

/* Ask the policy about a well-formed request; "" user when refused. */
static bool admitted(struct af_zap *z, zmq_msg_t *f, char *user, size_t size)
{
    char domain[64], mechanism[16], address[64], key[AF_KEY_Z85_LEN + 1];

    frame_str(&f[2], domain, sizeof(domain));
    frame_str(&f[3], address, sizeof(address));
    frame_str(&f[5], mechanism, sizeof(mechanism));
    if (strcmp(mechanism, "CURVE") || zmq_msg_size(&f[6]) != 32 ||
        !zmq_z85_encode(key, zmq_msg_data(&f[6]), 32)) {
        log_debug("ZAP: %s handshake from %s on %s refused", mechanism, address, domain);
        return false;
    }
    return z->decide(domain, address, key, user, size, z->arg) == 0;
}

void af_zap_handle(struct af_zap *z)
{
    zmq_msg_t f[ZAP_FRAMES + 1];
    int n = 0, more = 1;
    char user[USER_MAX] = "";

    while (more && n < ZAP_FRAMES + 1) {
        zmq_msg_init(&f[n]);
        if (zmq_msg_recv(&f[n], z->sock, ZMQ_DONTWAIT) < 0) {
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
        discard_rest(z->sock, more);
        reply(z->sock, &f[0], &f[1], "500", "malformed ZAP request", "");
    } else if (admitted(z, f, user, sizeof(user))) {
        reply(z->sock, &f[0], &f[1], "200", "OK", user);
    } else {
        reply(z->sock, &f[0], &f[1], "400", "key not registered", "");
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}
