/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_zclient: the monitor publishes from before the connect (af_zsock_client
 * starts it), so no event is missed; each event is two frames, the first
 * holding the event number (16 bits) and its value (32 bits).
 */
#include "af_zclient.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct af_zclient {
    void *zctx;
    void *sock;
    void *mon;
    size_t maxmsg;
    struct af_zlink st;
};

/* The DEALER, connected with its monitor publishing from before the
 * connect, and the PAIR that reads the monitor. */
static int connect_monitored(struct af_zclient *c, const char *endpoint,
                             const char *server_pub, const struct af_keypair *kp,
                             struct af_error *err)
{
    char mon_ep[64];

    snprintf(mon_ep, sizeof(mon_ep), "inproc://zclient-monitor-%p", (void *)c);
    if (!(c->sock =
              af_zsock_client(c->zctx, endpoint, server_pub, kp, c->maxmsg, mon_ep, err)))
        return -1;
    return (c->mon = af_zsock_monitor_open(c->zctx, mon_ep, err)) ? 0 : -1;
}

struct af_zclient *af_zclient_create(const char *endpoint, const char *server_pub,
                                     const struct af_keypair *kp, size_t maxmsg,
                                     struct af_error *err)
{
    struct af_zclient *c = calloc(1, sizeof(*c));

    if (!c || !(c->zctx = zmq_ctx_new())) {
        free(c);
        af_error_set(err, "out of memory");
        return NULL;
    }
    c->maxmsg = maxmsg;
    if (connect_monitored(c, endpoint, server_pub, kp, err) < 0) {
        af_zclient_destroy(c);
        return NULL;
    }
    return c;
}

void af_zclient_destroy(struct af_zclient *c)
{
    if (c) { /* each keeps errno, as free does */
        af_zsock_close(c->mon);
        af_zsock_close(c->sock);
        af_zsock_ctx_term(c->zctx);
    }
    free(c);
}

int af_zclient_send(struct af_zclient *c, const struct Aifed__Envelope *env)
{
    return af_zsock_send(c->sock, NULL, 0, env);
}

const struct af_zlink *af_zclient_link(const struct af_zclient *c)
{
    return &c->st;
}

/* Read one monitor event and note what it says about the connection. */
static void read_event(struct af_zclient *c)
{
    uint16_t event;
    uint32_t value;

    if (!af_zsock_monitor_event(c->mon, &event, &value))
        return;
    (void)af_zlink_note(&c->st, event, value);
}

int af_zclient_wait(struct af_zclient *c, long wait_ms, struct af_zmsg *ret)
{
    zmq_pollitem_t items[] = {{c->sock, 0, ZMQ_POLLIN, 0}, {c->mon, 0, ZMQ_POLLIN, 0}};

    if (zmq_poll(items, 2, wait_ms) < 0)
        return errno == EINTR ? 0 : -1;
    if (items[1].revents & ZMQ_POLLIN)
        read_event(c);
    if (!(items[0].revents & ZMQ_POLLIN))
        return 0;
    return af_zsock_recv(c->sock, false, c->maxmsg, ret) < 0 ? 0 : 1;
}
