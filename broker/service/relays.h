/* SPDX-License-Identifier: Apache-2.0 */
/*
 * relays: the clients waiting for a site's answer the broker passes on (a
 * piece of a job's output). Each gets an id the site echoes; the answer
 * goes to the client with the corr id it asked with. Bounded in all and per
 * principal; one a site never answers is answered ERROR_TIMEOUT when it
 * has waited too long.
 */
#ifndef RELAYS_H
#define RELAYS_H

#include "outbox.h"

#include <stddef.h>
#include <stdint.h>

struct relays;

#define RELAYS_MAX           256 /* in all: at most this many pieces in flight */
#define RELAYS_PER_PRINCIPAL 8   /* followers of one user at once */
#define RELAYS_TTL_MS        10000

struct relays *relays_create(void);
void relays_destroy(struct relays *r);

/* peer (of principal, an auth index) waits for an answer from site since
 * now_ms: its id (never 0), or 0 at a bound (errno EMLINK: the principal's,
 * ENOSPC: all). */
uint64_t relays_add(struct relays *r, size_t principal, const struct outbox_peer *peer,
                    const char *site, int64_t now_ms);

/* Take the waiter for id, if it waits for an answer from site: true with
 * *peer filled, and it is forgotten. */
bool relays_take(struct relays *r, uint64_t id, const char *site,
                 struct outbox_peer *peer);

/* Answer those who waited RELAYS_TTL_MS by now_ms with ERROR_TIMEOUT. */
void relays_expire(struct relays *r, struct outbox *ob, int64_t now_ms);

#endif
