/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replica_http: requests the broker passes on to this site's replicas
 * (docs/inference.md), made with libcurl's multi interface inside the
 * agent's loop (its sockets and timer are libuv's: nothing blocks). The
 * answer goes back in pieces as the replica writes it: the status and
 * headers first, then each piece of the body, then the end; nothing is
 * held whole. Hop-by-hop headers, the client's Authorization and Host are
 * not passed on. Bounded: REPLICA_HTTP_MAX requests at once, each at most
 * REPLICA_HTTP_TIMEOUT_S long and REPLICA_HTTP_MAX_BYTES of answer.
 */
#ifndef REPLICA_HTTP_H
#define REPLICA_HTTP_H

#include <stdint.h>
#include <uv.h>

struct replica_http;
struct replicas;
struct Aifed__Envelope;
struct Aifed__ReplicaRequest;

#define REPLICA_HTTP_MAX       256
#define REPLICA_HTTP_TIMEOUT_S 600
#define REPLICA_HTTP_MAX_BYTES (256u * 1024 * 1024)

/* send(arg, env): to the broker (env is lent for the call). reps: where
 * each replica is (borrowed). NULL when out of memory. */
struct replica_http *
replica_http_create(uv_loop_t *loop, const struct replicas *reps,
                    void (*send)(void *arg, struct Aifed__Envelope *env), void *arg);
/* Requests in flight are given up unanswered (the agent is going). */
void replica_http_destroy(struct replica_http *h);

void replica_http_request(struct replica_http *h, const struct Aifed__ReplicaRequest *rq);
void replica_http_cancel(struct replica_http *h, uint64_t relay_id);

#endif
