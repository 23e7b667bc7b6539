/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replicas: the served models' replicas this site runs (jobs whose spec
 * has a service, docs/inference.md). Each gets its port when it starts
 * (the service's, or one free on this host, given to the job in
 * AIFED_PORT), and once its job runs and the service's initial delay has
 * passed, its readiness probe: an HTTP GET of the probe's path on its node
 * and port, every few seconds, from the loop (libuv: nothing blocks), at
 * most its timeout each. A 2xx answer makes it ready; three failures in a
 * row after that make it not ready. Each change is told to the caller,
 * which reports it to the broker with the job's state. The agent connects
 * to the replica's port as itself and reads only a status line from it.
 */
#ifndef REPLICAS_H
#define REPLICAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct replicas;
struct Aifed__Job;

/* The most replicas one agent keeps (a StartJob past it is refused). */
#define REPLICAS_MAX 256

/* A replica became ready, or stopped being ready. */
typedef void (*replicas_changed_fn)(const char *job_id, void *arg);

struct replicas *replicas_create(uv_loop_t *loop, replicas_changed_fn changed, void *arg);
/* Probes in flight are given up (their handles close with the loop). */
void replicas_destroy(struct replicas *rs);

/* job (its spec has a service) is starting here: its port into *port (the
 * one it had, for a job known already). 0, or -1 with errno: EMFILE past
 * REPLICAS_MAX, or why no free port could be found. */
int replicas_add(struct replicas *rs, const struct Aifed__Job *job, uint32_t *port);

/* The executor says how job_id is (state: Aifed__JobState) and where it
 * runs (node, NULL when it does not know): a running one is probed, an
 * ended one forgotten. Not a replica: nothing. */
void replicas_state(struct replicas *rs, const char *job_id, int state, const char *node);

/* What the broker is told of job_id: false when it is not a replica. */
bool replicas_get(const struct replicas *rs, const char *job_id, const char **node,
                  uint32_t *port, bool *ready);

/* Replicas known (for the metrics and tests). */
size_t replicas_count(const struct replicas *rs);

#endif
