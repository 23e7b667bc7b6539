/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peers: the connections the broker serves, per socket, so that no peer
 * can make it hold without bound what it sends and nobody reads. Each
 * connection is known by its routing id, tied to its descriptor (to forget
 * it when libzmq says it closed) and its principal.
 *
 * - Replies go to libzmq, which queues at most its SNDHWM per connection.
 *   Past that they wait here, in the connection's own queue, and leave, in
 *   order, as the peer reads (peers_flush).
 * - A connection whose queue holds more than its budget (PEERS_BUDGET_*
 *   bytes) is not served until it reads: its messages are dropped unread
 *   (peers_admit: EAGAIN). So what waits for one connection is SNDHWM
 *   replies in libzmq and about its budget here.
 * - A principal is served on at most max_per_principal connections at
 *   once; a message on one more is refused (EMLINK).
 *
 * At most PEERS_MAX connections are known; one not heard for
 * PEERS_IDLE_MS with nothing queued is forgotten (its close was missed).
 */
#ifndef PEERS_H
#define PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PEERS_MAX           8192
#define PEERS_IDLE_MS       600000
#define PEERS_BUDGET_CLIENT (4u << 20)  /* bytes waiting for a client's connection */
#define PEERS_BUDGET_AGENT  (32u << 20) /* ... for an agent's: its jobs in a burst */

struct peers;

/* Hand one packed message to libzmq: 0, or -1 with errno (EAGAIN: its
 * queue for that connection is full; anything else: the peer is gone). */
typedef int (*peers_send_fn)(int side, const uint8_t *rid, size_t rid_len,
                             const void *buf, size_t len, void *arg);

/* side 0 and 1 are the two sockets; budget[side] their budgets. */
struct peers *peers_create(peers_send_fn send, void *arg);
void peers_destroy(struct peers *p);

/* A message from connection rid (descriptor fd, or -1) of principal (an
 * auth index) on side at now_ms (monotonic): 0 to serve it; -1 with errno
 * EMLINK (the principal has max_per_principal connections served already)
 * or EAGAIN (this one's replies wait unread past its budget). 0 too when
 * the table is full (the other bounds still hold). */
int peers_admit(struct peers *p, int side, size_t principal, const uint8_t *rid,
                size_t rid_len, int fd, int64_t now_ms, size_t max_per_principal);

/* Send buf (len bytes) to rid on side: now, or after what waits for it;
 * queued (copied) when libzmq's queue for it is full. Dropped when the peer
 * is gone. 1 when it had to wait, 0 when it left, -1 when it was dropped. */
int peers_send(struct peers *p, int side, const uint8_t *rid, size_t rid_len,
               const void *buf, size_t len);

/* Send what waits, for every connection, as far as libzmq takes it. */
void peers_flush(struct peers *p);
/* Whether anything waits (the caller then flushes again soon). */
bool peers_waiting(const struct peers *p);
/* Bytes waiting in all queues. */
uint64_t peers_waiting_bytes(const struct peers *p);

/* Connection fd on side closed: forget it and what waits for it. */
void peers_closed(struct peers *p, int side, int fd);

/* Forget connections not heard for PEERS_IDLE_MS with nothing waiting. */
void peers_sweep(struct peers *p, int64_t now_ms);

/* Connections known now. */
size_t peers_count(const struct peers *p);

#endif
