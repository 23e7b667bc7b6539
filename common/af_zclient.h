/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_zclient: a CURVE DEALER with its own context and a socket monitor, for
 * a command-line client that must say why nothing answers. The monitor is
 * how it tells a broker that is not there (connect retried) from one that
 * refused the key (handshake failed, ZAP status 400) and from a wrong server
 * key (TCP connects, the handshake never completes).
 */
#ifndef AF_ZCLIENT_H
#define AF_ZCLIENT_H

#include "af_error.h"
#include "af_keys.h"
#include "af_zlink.h"
#include "af_zsock.h"

#include <stdbool.h>
#include <stddef.h>

struct af_zclient;

/* Connect to endpoint, trusting server_pub. NULL with err set. */
struct af_zclient *af_zclient_create(const char *endpoint, const char *server_pub,
                                     const struct af_keypair *kp, size_t maxmsg,
                                     struct af_error *err);
void af_zclient_destroy(struct af_zclient *c);

/* Send env as it is (never blocks; -1/EAGAIN when the queue is full). */
int af_zclient_send(struct af_zclient *c, const struct Aifed__Envelope *env);

/* Wait up to wait_ms for a message, noting connection events meanwhile.
 * 1 with *ret filled (af_zmsg_clear it; ret->env may be NULL: ret->why),
 * 0 when none came in time, -1 with errno on a poll failure. */
int af_zclient_wait(struct af_zclient *c, long wait_ms, struct af_zmsg *ret);

/* What its monitor has said of the link so far. */
const struct af_zlink *af_zclient_link(const struct af_zclient *c);

#endif
