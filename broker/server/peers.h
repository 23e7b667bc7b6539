/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peers: the connections the broker serves, per socket, so that one
 * principal cannot make it hold without bound what it sends and nobody
 * reads. Each connection is known by its routing id, tied to its
 * descriptor (to forget it when libzmq says it closed) and its principal.
 *
 * - A principal is served on at most max_per_principal connections at
 *   once; a message on one more is refused (peers_admit: EMLINK).
 * - A connection whose replies the broker could not queue (libzmq's send
 *   high-water mark: its peer does not read) is not served for
 *   PEERS_STALL_MS; its messages are dropped unread meanwhile (EAGAIN).
 *   So what waits for one connection is at most the socket's SNDHWM
 *   replies, and for one principal max_per_principal times that.
 *
 * At most PEERS_MAX connections are known; one not heard for
 * PEERS_IDLE_MS is forgotten (its close may have been missed).
 */
#ifndef PEERS_H
#define PEERS_H

#include <stddef.h>
#include <stdint.h>

#define PEERS_MAX      8192
#define PEERS_STALL_MS 1000
#define PEERS_IDLE_MS  600000

struct peers;

struct peers *peers_create(void);
void peers_destroy(struct peers *p);

/* A message from connection rid (descriptor fd, or -1) of principal (an
 * auth index) on side (the socket, 0 or 1) at now_ms (monotonic): 0 to
 * serve it; -1 with errno EMLINK (the principal has max_per_principal
 * connections served already) or EAGAIN (this one's replies wait unread).
 * 0 too when the table is full (the other bounds still hold). */
int peers_admit(struct peers *p, int side, size_t principal, const uint8_t *rid,
                size_t rid_len, int fd, int64_t now_ms, size_t max_per_principal);

/* A reply to rid on side could not be queued at now_ms: its peer does not
 * read. */
void peers_stalled(struct peers *p, int side, const uint8_t *rid, size_t rid_len,
                   int64_t now_ms);

/* Connection fd on side closed: forget it. */
void peers_closed(struct peers *p, int side, int fd);

/* Forget connections not heard for PEERS_IDLE_MS. */
void peers_sweep(struct peers *p, int64_t now_ms);

/* Connections known now. */
size_t peers_count(const struct peers *p);

#endif
