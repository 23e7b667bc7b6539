/* SPDX-License-Identifier: Apache-2.0 */
/*
 * endpointsvc: inference endpoints (docs/inference.md). An endpoint is a
 * name, what each replica asks of a site (a workload) and runs (a job with
 * a service: its port and readiness probe), and how many replicas it
 * wants. Each replica is a lease, placed by the matcher like any workload
 * and spread over sites, and a job in it; the endpoint's record in LMDB
 * lists them. A reconciler (endpointsvc_tick, once a second, and at once
 * after a change) looks at each replica's lease, job and site and acts:
 * the job submitted when the lease is held; the replica dropped when its
 * lease or job ended; OFFLINE while its site is DOWN or its probe stopped
 * answering; a replacement placed, at another site first, while fewer than
 * wanted serve; the surplus ended once enough are LIVE. A replica lives
 * for its lease's walltime: before it ends, its successor is placed and
 * made LIVE first. Every write goes into the store's open batch.
 */
#ifndef ENDPOINTSVC_H
#define ENDPOINTSVC_H

#include "af_wire.h"

#include "aifed.pb-c.h"

#include <stdint.h>

struct svc;

/* Bounds: endpoints in all (one EndpointList holds them), and per owner. */
#define ENDPOINTS_MAX           AF_WIRE_MAX_ENDPOINTS
#define ENDPOINTS_PER_PRINCIPAL 16
/* Replicas in a row that end before they are LIVE, after which no more are
 * placed until the endpoint is scaled again (a model that cannot start
 * would otherwise be placed again and again). */
#define ENDPOINT_MAX_FAILURES 3

/* Why a change was refused: the code and words for the client. */
struct endpointsvc_refusal {
    Aifed__ErrorCode code;
    char text[AF_WIRE_MAX_TEXT];
};

/* A new endpoint of principal's (c: its name, workload and job with its
 * service), stored and its first replicas placed. 0 with *ret the endpoint
 * as stored (free with store_endpoint_free); 1 when refused (why); -1 when
 * the store failed (the batch is failed). */
int endpointsvc_create(struct svc *s, const char *principal,
                       const Aifed__CreateEndpoint *c, Aifed__Endpoint **ret,
                       struct endpointsvc_refusal *why);

/* ep (as stored) wants min..max replicas from now; its failures are
 * forgotten. 0 with *ret as stored, or -1 when the store failed. */
int endpointsvc_scale(struct svc *s, const Aifed__Endpoint *ep, uint32_t min,
                      uint32_t max, Aifed__Endpoint **ret);

/* End ep's replicas' leases (their jobs end with them) and delete it, by
 * whom (an audit entry). 0, or -1 when the store failed. */
int endpointsvc_delete(struct svc *s, const Aifed__Endpoint *ep, const char *by);

/* The state of the endpoint as a whole, for people: LIVE when a replica
 * is, else the best of its replicas' ("STARTING", "QUEUED", "OFFLINE"),
 * "FAILED" when it stopped placing, "IDLE" with none wanted. */
const char *endpointsvc_state(const Aifed__Endpoint *ep);
const char *endpointsvc_replica_state_name(int state);

/* Once a second: every endpoint reconciled (at most one replica placed
 * and one ended per endpoint per tick). Writes only what changed. */
void endpointsvc_tick(struct svc *s);

#endif
