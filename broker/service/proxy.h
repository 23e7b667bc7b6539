/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy: requests to served models (docs/inference.md). A gateway sends a
 * ProxyRequest with the client's key; the broker checks the key (its
 * signature, expiry, scope, and that it is not revoked: what a gateway
 * cannot know offline), picks a LIVE replica of the endpoint whose site is
 * UP (the one with the fewest requests in flight), and passes the request
 * on to that site's agent as a ReplicaRequest. With no LIVE replica (the
 * endpoint scaled to zero, its replicas starting) the request waits, a
 * bounded time, for one: the endpoint's load (endpointsvc's scaling) says
 * it is wanted. The agent's answer comes back
 * in pieces (ReplicaResponse), each passed on at once to the gateway as a
 * ProxyResponse: nothing is buffered whole. A stream is bounded in number
 * (in all and per gateway) and in silence: one whose site goes DOWN, or that
 * hears nothing for PROXY_IDLE_MS, ends with 502/504. Usage is counted per
 * key in memory and written to the key's record each tick.
 */
#ifndef PROXY_H
#define PROXY_H

#include "outbox.h"

#include "aifed.pb-c.h"

#include <stdint.h>

struct svc;
struct proxy;

#define PROXY_MAX         4096 /* streams in flight in all */
#define PROXY_PER_GATEWAY 2048
#define PROXY_IDLE_MS     (120 * 1000)
/* A request for an endpoint with no LIVE replica (scaled to zero, or
 * replicas starting) waits this long for one, then is answered 503. At
 * most PROXY_WAITING requests wait, holding at most PROXY_WAITING_BYTES. */
#define PROXY_WAIT_MS       (90 * 1000)
#define PROXY_WAITING       256
#define PROXY_WAITING_BYTES (64u * 1024 * 1024)

/* An endpoint's load, as the scaling reads it. */
struct proxy_load {
    uint32_t inflight; /* requests relayed, not yet answered whole */
    uint32_t waiting;  /* requests waiting for a LIVE replica */
    double rps;        /* requests a second, over the last 10 s */
    int64_t last_ms;   /* the last request (monotonic), 0: none since start */
};

struct proxy *proxy_create(void);
void proxy_destroy(struct proxy *p);

/* A gateway's request (gateway: its principal index, peer: whom the
 * answers go to). Answered at once with an error ProxyResponse when it
 * cannot go on. */
void proxy_request(struct svc *s, size_t gateway, const struct outbox_peer *peer,
                   const Aifed__ProxyRequest *r);
/* The gateway's client went away: its stream ends, the agent is told. */
void proxy_cancel(struct svc *s, size_t gateway, uint64_t stream_id);
/* A piece of a replica's answer from site. */
void proxy_response(struct svc *s, const char *site, const Aifed__ReplicaResponse *rr);

/* Once a second: streams whose site went DOWN or that are silent end, the
 * keys' usage is stored. */
void proxy_tick(struct svc *s);

/* endpoint's load now (zeros when none came). */
void proxy_load(const struct proxy *p, const char *endpoint, struct proxy_load *ret);

/* Streams in flight (for the metrics and tests). */
size_t proxy_streams(const struct proxy *p);

#endif
