/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbox: the broker's group commit. Handlers write to the store's open
 * batch and queue what they promise here; outbox_flush() commits the batch
 * once and only then sends what was queued, so no reply ever promises what
 * is not on disk. If the commit fails, every queued client reply becomes
 * ERROR_INTERNAL, messages to sites are dropped, and the caller rebuilds
 * what memory holds from the store.
 *
 * What promises nothing (holds asked of sites, error replies) leaves at
 * once, and a batch that queued nothing stays open: a lease's PENDING and
 * ACTIVE then share the one commit that precedes the client's answer (see
 * docs/architecture.md, "Group commit").
 *
 * The outbox never touches a socket: it hands packed messages to the send
 * function it was made with, so it runs the same in unit tests.
 */
#ifndef OUTBOX_H
#define OUTBOX_H

#include "af_zsock.h"

#include "aifed.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct outbox;
struct store;
struct bmetrics;

/* The broker's two sockets. */
enum outbox_side { OUTBOX_CLIENT, OUTBOX_AGENT };

/* Whom a message goes to: a side, a ROUTER routing id, and the request's
 * correlation id it answers (0 for what is not an answer). */
struct outbox_peer {
    enum outbox_side side;
    uint8_t rid[AF_ZSOCK_RID_MAX];
    size_t rid_len;
    uint64_t corr_id;
};

/* Send one packed envelope (as af_wire_pack made it) to peer; may fail
 * (the peer left): the peer's retry or next advertisement recovers. */
typedef void (*outbox_send_fn)(enum outbox_side side, const uint8_t *rid, size_t rid_len,
                               const void *buf, size_t len, void *arg);

/* st and metrics are borrowed. NULL/ENOMEM. */
struct outbox *outbox_create(struct store *st, struct bmetrics *metrics,
                             outbox_send_fn send, void *arg);
/* Frees what is still queued, unsent. */
void outbox_destroy(struct outbox *ob);

/* What the log says when the store is full: its size and where to raise
 * it; and the store's directory, to tell a full disk from a failing one. */
void outbox_set_store_limit(struct outbox *ob, uint64_t map_size_mb,
                            const char *conf_path, const char *state_dir);

/* Queue env (its version set here) to peer for after the commit; durable
 * false sends it now. -1/ENOMEM (dropped). */
int outbox_push(struct outbox *ob, const struct outbox_peer *to, Aifed__Envelope *env,
                bool durable);

/* Send an Error (code, text) to peer now, and count it. */
void outbox_error(struct outbox *ob, const struct outbox_peer *to, Aifed__ErrorCode code,
                  const char *text);
/* The same, saying when the same request will be taken (over the rate). */
void outbox_error_retry(struct outbox *ob, const struct outbox_peer *to,
                        Aifed__ErrorCode code, const char *text, uint32_t retry_after_ms);

/* The same, queued for after the commit: for a refusal that points at
 * what the batch stores (a refused submit's explanation), which must be
 * there when the client asks for it. A failed commit answers it as a
 * failed write, which it is. */
void outbox_error_stored(struct outbox *ob, const struct outbox_peer *to,
                         Aifed__ErrorCode code, const char *text);

/* A write to the store failed (errno says why): log it once, saying what
 * to do when the store is full, and fail the batch. */
void outbox_store_failed(struct outbox *ob, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Commit the batch, then send what it promised. Unless force, a batch that
 * queued nothing stays open (returns 0). 0 once sent; -1 when the commit
 * failed: the replies went out as errors, and what memory holds of the
 * batch (promises, allocations) must be rebuilt from the store. */
int outbox_flush(struct outbox *ob, bool force);

/* Messages queued for after the commit. */
size_t outbox_queued(const struct outbox *ob);

#endif
