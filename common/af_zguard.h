/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_zguard: keep connections without a key from starving those with one.
 *
 * libzmq accepts every TCP connection a ROUTER's listener is offered and
 * keeps it for ZMQ_HANDSHAKE_IVL before giving up on its handshake; it has
 * no bound on how many. A peer that opens connections and sends nothing
 * exhausts the descriptors, and then libzmq's listener spins on EMFILE
 * while no valid client can connect at all.
 *
 * The guard watches the socket's monitor for accepted and closed
 * connections, and counts as "waiting" each accepted connection whose peer
 * has not yet sent what a CURVE handshake takes (greeting, HELLO and
 * INITIATE: over AF_ZGUARD_PROOF bytes, from TCP_INFO). Past the bound, it
 * shuts the oldest waiting ones down, so that a valid client, whose
 * handshake takes milliseconds, always finds a descriptor. shutdown(2), not
 * close(2): libzmq owns the descriptor, sees the end of the stream, and
 * closes it itself.
 *
 * The bound is the smaller of max_waiting and half the descriptor limit,
 * read again at each sweep (an admin may change it with prlimit).
 */
#ifndef AF_ZGUARD_H
#define AF_ZGUARD_H

#include "af_error.h"

#include <stddef.h>
#include <stdint.h>

/* Bytes a peer has sent once it has got through a CURVE handshake. */
#define AF_ZGUARD_PROOF 500

struct af_zguard;

/* Watch sock (a bound ROUTER; not owned) through a monitor in zctx. NULL
 * with err set. */
struct af_zguard *af_zguard_create(void *zctx, void *sock, const char *name,
                                   size_t max_waiting, struct af_error *err);
void af_zguard_destroy(struct af_zguard *g);

/* The monitor socket, for the caller's loop: call af_zguard_read() when it
 * is readable. */
void *af_zguard_socket(struct af_zguard *g);

/* Read the monitor's events, then shed what is over the bound. */
void af_zguard_read(struct af_zguard *g);

/* Forget connections that have proved themselves and shed what is over the
 * bound. Call it now and then (each tick). */
void af_zguard_sweep(struct af_zguard *g);

/* Connections shut down since the start. */
uint64_t af_zguard_shed(const struct af_zguard *g);

/* Accepted connections that have not proved themselves yet. */
size_t af_zguard_waiting(const struct af_zguard *g);

void af_zguard_set_max(struct af_zguard *g, size_t max_waiting);

/* Call fn with the descriptor of each connection that closed (libzmq's
 * DISCONNECTED or CLOSED, or a descriptor accepted again), from
 * af_zguard_read(): what the caller tied to a connection can go. */
typedef void (*af_zguard_close_fn)(int fd, void *arg);
void af_zguard_on_close(struct af_zguard *g, af_zguard_close_fn fn, void *arg);

#endif
