/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_zloop: a ZeroMQ socket watched by a libuv loop. ZMQ_FD is edge-triggered
 * and says only that ZMQ_EVENTS may have changed, so a uv_poll_t alone would
 * miss messages that arrive while others are being read, or that a send made
 * readable. The watcher therefore checks ZMQ_EVENTS before the loop blocks and
 * after it wakes, and keeps the loop from blocking while the socket still has
 * messages (flux-core's zwatcher solves the same problem the same way).
 *
 * on_readable is called once per waiting message, up to a batch per loop turn
 * (fairness between sockets); on_batch_end is called after each batch, which
 * is where the broker commits the batch's writes in one transaction and then
 * sends the replies (group commit).
 */
#ifndef AF_ZLOOP_H
#define AF_ZLOOP_H

#include <uv.h>

struct af_zloop;

typedef void (*af_zloop_fn)(void *sock, void *arg);

/* Watch sock (not owned) on loop. on_batch_end may be NULL.
 * Returns NULL with errno set on failure. */
struct af_zloop *af_zloop_create(uv_loop_t *loop, void *sock, af_zloop_fn on_readable,
                                 af_zloop_fn on_batch_end, void *arg);

/* Stop watching and close the handles; memory is freed by their close
 * callbacks, so run the loop once more before uv_loop_close(). NULL is a no-op. */
void af_zloop_destroy(struct af_zloop *zl);

#endif
