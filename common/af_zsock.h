/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_zsock: CURVE sockets and the Envelope on them. Every aifed socket is
 * CURVE-encrypted; this module offers no other kind. A received message comes
 * with the principal that ZAP authenticated for its sender (the "User-Id"
 * metadata), which is the only identity the broker ever trusts.
 */
#ifndef AF_ZSOCK_H
#define AF_ZSOCK_H

#include "af_error.h"
#include "af_keys.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct Aifed__Envelope;

#define AF_ZSOCK_RID_MAX       256
#define AF_ZSOCK_PRINCIPAL_MAX 128

/* One received message. */
struct af_zmsg {
    uint8_t rid[AF_ZSOCK_RID_MAX]; /* ROUTER routing id; rid_len 0 otherwise */
    size_t rid_len;
    char principal[AF_ZSOCK_PRINCIPAL_MAX]; /* ZAP User-Id; "" if none */
    struct Aifed__Envelope *env;            /* owned; NULL if it did not decode */
    struct af_error why;                    /* why env is NULL */
    int why_errno;                          /* EBADMSG, EMSGSIZE, EPROTONOSUPPORT */
    int fd; /* the connection's descriptor (libzmq's), or -1: to tell when it closes */
};

/* A CURVE server ROUTER bound to endpoint ("tcp://127.0.0.1:*" picks a port).
 * ZAP requests go out with zap_domain. The bound endpoint is written to
 * ret_endpoint. At most sndhwm messages wait to be sent on one connection
 * (whatever their size): past that, a send fails with EAGAIN rather than
 * queue (ZMQ_ROUTER_MANDATORY), and a send to a peer that left fails with
 * EHOSTUNREACH. Returns the socket, or NULL with err set. */
void *af_zsock_server(void *zctx, const char *endpoint, const struct af_keypair *kp,
                      const char *zap_domain, size_t maxmsg, int sndhwm,
                      char *ret_endpoint, size_t size, struct af_error *err);

/* A CURVE client DEALER connected to endpoint (or to each of a comma-
 * separated list: an active/standby pair, whichever answers), trusting
 * server_pub. With
 * monitor (an inproc endpoint) not NULL, connection events are published
 * there from before the connect, so a caller can tell why nothing answers. */
void *af_zsock_client(void *zctx, const char *endpoint, const char *server_pub,
                      const struct af_keypair *kp, size_t maxmsg, const char *monitor,
                      struct af_error *err);

/* Receive one message without blocking (router: first frame is the routing
 * id). Returns 0 with *ret filled (ret->env may be NULL: see ret->why),
 * or -1 with errno EAGAIN when nothing is waiting. */
int af_zsock_recv(void *sock, bool router, size_t max, struct af_zmsg *ret);

/* Free what af_zsock_recv put in m. */
void af_zmsg_clear(struct af_zmsg *m);

/* Send env, prefixed by a routing id when rid_len > 0. Never blocks:
 * -1/EAGAIN when the peer's queue is full (the message is dropped). */
int af_zsock_send(void *sock, const uint8_t *rid, size_t rid_len,
                  const struct Aifed__Envelope *env);

/* Send an already packed envelope (as af_wire_pack made it). */
int af_zsock_send_raw(void *sock, const uint8_t *rid, size_t rid_len, const void *buf,
                      size_t len);

/* Close with no linger. NULL is ignored. */
void af_zsock_close(void *sock);

/* Close, first letting what is queued leave for at most linger_ms (a clean
 * stop's last answers). NULL is ignored. */
void af_zsock_close_linger(void *sock, int linger_ms);

/* A ZeroMQ context, and its end (which waits for every socket in it to be
 * closed). NULL/ENOMEM. af_zsock_ctx_term(NULL) does nothing. */
/* The PAIR that reads the events a socket monitor publishes on endpoint
 * (af_zsock_client's monitor). NULL with err set. */
void *af_zsock_monitor_open(void *zctx, const char *endpoint, struct af_error *err);

/* Read one event from a socket monitor's PAIR, without waiting: its number
 * and value (a descriptor, an error code), the endpoint frame dropped.
 * false when none was queued. */
bool af_zsock_monitor_event(void *mon, uint16_t *event, uint32_t *value);

void *af_zsock_ctx_new(void);
void af_zsock_ctx_term(void *zctx);

/* errno in words, including ZeroMQ's own values (EFSM, ETERM, ...). */
const char *af_zsock_strerror(int errnum);

#endif
