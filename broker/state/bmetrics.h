/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bmetrics: the broker's Prometheus metrics. The loop counts as it goes
 * (requests and errors by type, grant latency, commit batch sizes) and
 * renders the rest from its state once a second (sites by state, GPUs free
 * and available by site and accelerator, leases by state), then publishes
 * the text to the HTTP thread (af_metrics).
 */
#ifndef BMETRICS_H
#define BMETRICS_H

#include "af_error.h"

#include <stddef.h>
#include <stdint.h>

struct bmetrics;
struct sites;
struct store;

/* listen "off" gives a bmetrics that counts but serves nothing. */
struct bmetrics *bmetrics_create(const char *listen, char *ret_url, size_t size,
                                 struct af_error *err);
void bmetrics_destroy(struct bmetrics *m);

void bmetrics_request(struct bmetrics *m, int body_case);
void bmetrics_error(struct bmetrics *m, int code);
void bmetrics_grant(struct bmetrics *m, double seconds);
void bmetrics_commit(struct bmetrics *m, size_t messages);
/* The wall clock stepped (the lease clock did not follow). */
void bmetrics_clock_step(struct bmetrics *m);
/* Connections shed so far (af_zguard), all sockets. */
void bmetrics_connections_shed(struct bmetrics *m, uint64_t total);
/* Backpressure (server/peers.h): a reply that had to wait in the broker,
 * a request dropped unread, a message refused over its principal's
 * connections; and the bytes waiting now. */
enum bmetrics_pressure {
    BMETRICS_REPLY_HELD,
    BMETRICS_REQUEST_UNREAD,
    BMETRICS_CONNECTION_REFUSED,
};
void bmetrics_backpressure(struct bmetrics *m, enum bmetrics_pressure what);
void bmetrics_replies_waiting(struct bmetrics *m, uint64_t bytes);
/* A commit failed (the batch was answered with errors). */
void bmetrics_commit_failed(struct bmetrics *m);

/* Render everything, with the state of sites and st, and publish it. */
void bmetrics_publish(struct bmetrics *m, struct sites *sites, struct store *st);

#endif
