/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server: the broker daemon's sockets and loop. It owns the libuv loop, the
 * two CURVE ROUTER sockets ("agent" and "client"), the ZAP handler, the
 * one-second tick (site liveness, hold timeouts, expiry) and the outbox that
 * holds every reply until the batch that produced it is committed.
 */
#ifndef SERVER_H
#define SERVER_H

#include "af_error.h"

struct server;
struct bconf;
struct store;

/* Bind both sockets and load open leases from st (borrowed, as is conf).
 * Writes "<state_dir>/endpoints" once bound. NULL with err set. */
struct server *server_create(const struct bconf *conf, struct store *st,
                             struct af_error *err);

/* Run until SIGTERM or SIGINT. Returns 0 after a clean stop, -1 when it
 * stopped because the store could not be read (exit 1: restart it). */
int server_run(struct server *srv);

void server_destroy(struct server *srv);

#endif
