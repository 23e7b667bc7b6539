/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_client: one call at a time over common/af_zclient, whose connection
 * events say, when no answer comes, which of the usual causes it was.
 */
#include "ctl_client.h"
#include "af_keys.h"
#include "af_wire.h"
#include "af_zclient.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Refused connections this long in a row mean nobody listens there (one
 * endpoint; with an active/standby list aifedctl waits out its --timeout
 * for the other to take over). */
#define REFUSED_GIVE_UP_MS 2000

/* How often a request no connection took is offered again. */
#define UNSENT_RETRY_MS 50

struct ctl_client {
    struct af_zclient *zc;
    char endpoint[1024];
    uint64_t next_corr;
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
    struct ctl_client *c;
    struct af_keypair kp;
    char pub[AF_KEY_Z85_LEN + 1];
    struct af_error kerr = {"out of memory"};

    if (af_keys_load_public(broker_pub_file, pub, &kerr) < 0) {
        af_error_set(err, "broker key: %s", kerr.text);
        return NULL;
    }
    if (af_keys_load_secret(key_file, &kp, &kerr) < 0) {
        af_error_set(err, "your key: %s", kerr.text);
        return NULL;
    }
    if ((c = calloc(1, sizeof(*c))))
        c->zc = af_zclient_create(endpoint, pub, &kp, AF_WIRE_MAX_DEFAULT * 64, &kerr);
    sodium_memzero(&kp, sizeof(kp));
    if (!c || !c->zc) {
        free(c);
        af_error_set(err, "%s", kerr.text);
        return NULL;
    }
    snprintf(c->endpoint, sizeof(c->endpoint), "%s", endpoint);
    randombytes_buf(&c->next_corr, sizeof(c->next_corr));
    c->next_corr >>= 1; /* room to count up */
    return c;
}

void ctl_client_destroy(struct ctl_client *c)
{
    if (c)
        af_zclient_destroy(c->zc);
    free(c);
}

/* Why nothing came back, in words a user can act on. */
static struct Aifed__Envelope *diagnose(struct ctl_client *c, uint64_t waited_ms,
                                        struct af_error *err)
{
    const struct af_zlink *st = af_zclient_link(c->zc);
    enum af_zlink_why why = af_zlink_why(st);

    if (why == AF_ZLINK_KEY_REFUSED) {
        af_error_set(err,
                     "the broker at %s refused your key (status %d): is your public key "
                     "registered in its broker.conf as a user or admin?",
                     c->endpoint, st->auth_status);
        errno = EACCES;
    } else if (!st->connected) {
        af_error_set(err,
                     "cannot reach the broker at %s%s: is it running, and is the address "
                     "(--broker or AIFED_BROKER) right?",
                     c->endpoint, st->retried ? " (connection refused)" : "");
        errno = ECONNREFUSED;
    } else if (!st->handshaken) {
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

struct Aifed__Envelope *ctl_client_call(struct ctl_client *c, struct Aifed__Envelope *req,
                                        uint64_t timeout_ms, uint64_t resend_ms,
                                        struct af_error *err)
{
    const struct af_zlink *st = af_zclient_link(c->zc);
    uint64_t start = mono_ms(), now = start, sent = start;
    bool unsent = false;

    req->version = AF_WIRE_VERSION;
    req->corr_id = ++c->next_corr;
    /* EAGAIN: no connection took it (with an active/standby list, only a
     * completed one may): it is sent as soon as one does. */
    if (af_zclient_send(c->zc, req) < 0) {
        if (errno != EAGAIN) {
            af_error_set(err, "send: %s", af_zsock_strerror(errno));
            return NULL;
        }
        unsent = true;
    }
    for (; now - start < timeout_ms; now = mono_ms()) {
        uint64_t wait = timeout_ms - (now - start);
        struct af_zmsg z;
        int rc;

        /* A refused key or a wrong broker key is said in a second, not at
         * the end of a submit's minute; a slow broker keeps the connection
         * open and is waited for. */
        if (st->auth_failed || af_zlink_why(st) == AF_ZLINK_SERVER_KEY ||
            (!st->connected && st->retried && now - start >= REFUSED_GIVE_UP_MS &&
             !strchr(c->endpoint, ',')))
            break;
        /* A request lost with a broker that stopped before answering is sent
         * again, the same (same corr id); only safe requests ask for this. */
        if ((resend_ms && now - sent >= resend_ms) || unsent) {
            unsent = af_zclient_send(c->zc, req) < 0 && errno == EAGAIN;
            sent = now;
        }
        if (resend_ms && wait > resend_ms - (now - sent))
            wait = resend_ms - (now - sent);
        if (unsent && wait > UNSENT_RETRY_MS)
            wait = UNSENT_RETRY_MS;
        if ((rc = af_zclient_wait(c->zc, (long)wait, &z)) < 0)
            break;
        if (rc == 0)
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
