/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_client: a DEALER with a socket monitor. The monitor is how aifedctl
 * knows the difference between a broker that is not there (connect retried),
 * a broker that refused our key (handshake failed with ZAP status 400) and a
 * broker key that is wrong (TCP connects, handshake never completes).
 */
#include "ctl_client.h"
#include "af_keys.h"
#include "af_wire.h"
#include "af_zsock.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

/* Refused connections this long in a row mean nobody listens there. */
#define REFUSED_GIVE_UP_MS 2000

struct ctl_client {
    void *zctx;
    void *sock;
    void *mon;
    char endpoint[256];
    uint64_t next_corr;
    bool connected, handshaken, auth_failed, retried;
    int auth_status;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct ctl_client *ctl_client_create(const char *endpoint, const char *broker_pub_file,
                                     const char *key_file, struct af_error *err)
{
    struct ctl_client *c = calloc(1, sizeof(*c));
    struct af_keypair kp;
    char pub[AF_KEY_Z85_LEN + 1], mon_ep[64];
    struct af_error kerr;
    int linger = 0;

    if (!c || !(c->zctx = zmq_ctx_new())) {
        free(c);
        af_error_set(err, "out of memory");
        return NULL;
    }
    snprintf(c->endpoint, sizeof(c->endpoint), "%s", endpoint);
    randombytes_buf(&c->next_corr, sizeof(c->next_corr));
    c->next_corr >>= 1; /* room to count up */
    if (af_keys_load_public(broker_pub_file, pub, &kerr) < 0) {
        af_error_set(err, "broker key: %s", kerr.text);
        goto fail;
    }
    if (af_keys_load_secret(key_file, &kp, &kerr) < 0) {
        af_error_set(err, "your key: %s", kerr.text);
        goto fail;
    }
    snprintf(mon_ep, sizeof(mon_ep), "inproc://ctl-monitor-%p", (void *)c);
    c->sock = af_zsock_client(c->zctx, endpoint, pub, &kp, AF_WIRE_MAX_DEFAULT * 64,
                              mon_ep, &kerr);
    sodium_memzero(&kp, sizeof(kp));
    if (!c->sock) {
        af_error_set(err, "%s", kerr.text);
        goto fail;
    }
    c->mon = zmq_socket(c->zctx, ZMQ_PAIR);
    if (!c->mon || zmq_setsockopt(c->mon, ZMQ_LINGER, &linger, sizeof(linger)) ||
        zmq_connect(c->mon, mon_ep) != 0) {
        af_error_set(err, "monitor: %s", zmq_strerror(errno));
        goto fail;
    }
    return c;
fail:
    ctl_client_destroy(c);
    return NULL;
}

void ctl_client_destroy(struct ctl_client *c)
{
    if (!c)
        return;
    if (c->mon)
        zmq_close(c->mon);
    af_zsock_close(c->sock);
    zmq_ctx_term(c->zctx);
    free(c);
}

/* Read one monitor event and note what it says about the connection. */
static void read_event(struct ctl_client *c)
{
    zmq_msg_t m;
    uint16_t event = 0;
    uint32_t value = 0;
    int more;

    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, c->mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return;
    }
    if (zmq_msg_size(&m) >= 6) {
        memcpy(&event, zmq_msg_data(&m), 2);
        memcpy(&value, (char *)zmq_msg_data(&m) + 2, 4);
    }
    more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    while (more) { /* the endpoint frame */
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->mon, ZMQ_DONTWAIT) < 0)
            more = 0;
        else
            more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    switch (event) {
    case ZMQ_EVENT_CONNECTED:
        c->connected = true;
        break;
    case ZMQ_EVENT_CONNECT_RETRIED:
        c->retried = true;
        break;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        c->handshaken = true;
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        c->auth_failed = true;
        c->auth_status = (int)value;
        break;
    default:
        break;
    }
}

/* Why nothing came back, in words a user can act on. */
static struct Aifed__Envelope *diagnose(struct ctl_client *c, uint64_t waited_ms,
                                        struct af_error *err)
{
    if (c->auth_failed) {
        af_error_set(err,
                     "the broker at %s refused your key (status %d): is your public key "
                     "registered in its broker.conf as a user or admin?",
                     c->endpoint, c->auth_status);
        errno = EACCES;
    } else if (!c->connected) {
        af_error_set(err,
                     "cannot reach the broker at %s%s: is it running, and is the address "
                     "(--broker or AIFED_BROKER) right?",
                     c->endpoint, c->retried ? " (connection refused)" : "");
        errno = ECONNREFUSED;
    } else if (!c->handshaken) {
        af_error_set(err,
                     "connected to %s but the CURVE handshake did not complete: is the "
                     "broker's public key (--broker-key or AIFED_BROKER_KEY) right?",
                     c->endpoint);
        errno = ETIMEDOUT;
    } else {
        af_error_set(err, "the broker at %s did not answer within %llu ms", c->endpoint,
                     (unsigned long long)waited_ms);
        errno = ETIMEDOUT;
    }
    return NULL;
}

struct Aifed__Envelope *ctl_call(struct ctl_client *c, struct Aifed__Envelope *req,
                                 uint64_t timeout_ms, uint64_t resend_ms,
                                 struct af_error *err)
{
    uint64_t start = mono_ms(), now = start, sent = start;

    req->version = AF_WIRE_VERSION;
    req->corr_id = ++c->next_corr;
    if (af_zsock_send(c->sock, NULL, 0, req) < 0 && errno != EAGAIN) {
        af_error_set(err, "send: %s", zmq_strerror(errno));
        return NULL;
    }
    for (; now - start < timeout_ms; now = mono_ms()) {
        zmq_pollitem_t items[] = {{c->sock, 0, ZMQ_POLLIN, 0},
                                  {c->mon, 0, ZMQ_POLLIN, 0}};
        uint64_t wait = timeout_ms - (now - start);
        struct af_zmsg z;

        if (c->auth_failed ||
            (!c->connected && c->retried && now - start >= REFUSED_GIVE_UP_MS))
            break;
        /* A request lost with a broker that stopped before answering is sent
         * again, the same (same corr id); only safe requests ask for this. */
        if (resend_ms && now - sent >= resend_ms) {
            af_zsock_send(c->sock, NULL, 0, req);
            sent = now;
        }
        if (resend_ms && wait > resend_ms - (now - sent))
            wait = resend_ms - (now - sent);
        if (zmq_poll(items, 2, (long)wait) < 0 && errno != EINTR)
            break;
        if (items[1].revents & ZMQ_POLLIN)
            read_event(c);
        if (!(items[0].revents & ZMQ_POLLIN) ||
            af_zsock_recv(c->sock, false, AF_WIRE_MAX_DEFAULT * 64, &z) < 0)
            continue;
        if (!z.env) {
            af_error_set(err, "the broker's reply did not decode: %s", z.why.text);
            errno = EBADMSG;
            return NULL;
        }
        if (z.env->corr_id == req->corr_id)
            return z.env;
        af_zmsg_clear(&z); /* a late reply to an earlier call */
    }
    return diagnose(c, mono_ms() - start, err);
}
