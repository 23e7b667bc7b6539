/* SPDX-License-Identifier: Apache-2.0 */
/*
 * waiters: the clients waiting for their PENDING lease to be decided. A
 * submit is answered when its lease is ACTIVE or has ended, not when it is
 * matched; until then its requester waits here. The list is bounded (past
 * the bound a submit is answered PENDING at once, and the client polls), and
 * a waiter whose client has surely given up is forgotten.
 */
#ifndef WAITERS_H
#define WAITERS_H

#include "outbox.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct waiters;

#define WAITERS_MAX 4096

/* At most max waiters. NULL/ENOMEM. */
struct waiters *waiters_create(size_t max);
void waiters_destroy(struct waiters *w);

/* peer (of principal, an auth index) waits for lease_id since now_ms.
 * false at the bound: answer now instead. */
bool waiters_add(struct waiters *w, const char *lease_id, size_t principal,
                 const struct outbox_peer *peer, int64_t now_ms);

/* How many submits of principal wait. */
size_t waiters_count(const struct waiters *w, size_t principal);
/* How many wait in all. */
size_t waiters_total(const struct waiters *w);

/* Queue a LeaseReply with lease to whoever waits for it, and forget them. */
void waiters_wake(struct waiters *w, struct outbox *ob, const Aifed__Lease *lease);

/* Forget those who waited ttl_ms or more by now_ms. */
void waiters_expire(struct waiters *w, int64_t now_ms, int64_t ttl_ms);

/* The lease id some waiter waits for (borrowed until the list changes), or
 * NULL when none waits; waiters_forget drops every waiter of lease_id. */
const char *waiters_first(const struct waiters *w);
void waiters_forget(struct waiters *w, const char *lease_id);

#endif
