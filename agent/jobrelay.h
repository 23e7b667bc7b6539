/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jobrelay: what the agent's loop does with jobs, knowing only the executor
 * interface (executor.h): a StartJob checked (this site's, an executor
 * here, its user's signature when the site checks them: usersig.h) and given to the
 * executor with the site's catalogue paths filled in, a StopJob passed on, a ReadJobLog
 * answered when the executor has the piece (maybe later), and every state the executor
 * reports sent to the broker as a JobStatus (a served model's replica's with its node,
 * port and readiness: replicas.h). The loop gives it a way to send and to see
 * the site as last advertised, so that it can be tested with a fake executor and no
 * sockets (tests/unit/test_jobrelay.c).
 */
#ifndef JOBRELAY_H
#define JOBRELAY_H

#include <stdint.h>
#include <uv.h>

struct jobrelay;
struct aconf;
struct aproc_pool;
struct executor;
struct executor_ops;
struct Aifed__Envelope;
struct Aifed__Site;
struct Aifed__Job;
struct Aifed__ReadJobLog;

struct jobrelay_io {
    /* Send env to the broker (it is the relay's until the call returns). */
    void (*send)(void *arg, struct Aifed__Envelope *env);
    /* The site as last advertised, for the catalogue's paths; may be NULL. */
    const struct Aifed__Site *(*site)(void *arg);
    /* A job was taken that may still be starting (the loop then reads the
     * site closely, when its backend can). May be NULL. */
    void (*starting)(void *arg);
    void *arg;
    /* The agent's config, for users' job signatures (usersig.h); NULL:
     * none are checked. */
    const struct aconf *conf;
    /* Where the site's principals command runs (NULL: never asked). */
    struct aproc_pool *procs;
    /* The loop replicas' readiness probes run in (replicas.h); NULL: a
     * served model's job gets its port but is never probed. */
    uv_loop_t *loop;
};

/* site_id and io are copied. NULL when out of memory. */
struct jobrelay *jobrelay_create(const char *site_id, const struct jobrelay_io *io);
/* After the executor's output readers (a read they still hold is let go
 * of, unsent). */
void jobrelay_destroy(struct jobrelay *r);
/* The executor jobs go to (borrowed; NULL: this site runs none). */
void jobrelay_set_executor(struct jobrelay *r, const struct executor_ops *xops,
                           struct executor *x);
/* Stop sending (the agent is going); reads still answered are let go of. */
void jobrelay_stop_sending(struct jobrelay *r);

void jobrelay_start(struct jobrelay *r, const struct Aifed__Job *job);
void jobrelay_stop(struct jobrelay *r, const char *job_id);
void jobrelay_read_log(struct jobrelay *r, const struct Aifed__ReadJobLog *rd);
/* A request to one of this site's replicas (replica_http.h), and the end
 * of one the client gave up. */
struct Aifed__ReplicaRequest;
void jobrelay_replica_request(struct jobrelay *r, const struct Aifed__ReplicaRequest *rq);
void jobrelay_replica_cancel(struct jobrelay *r, uint64_t relay_id);

/* The executor's report function (executor_report_fn); arg is the relay. */
void jobrelay_report(const char *job_id, int state, int exit_code, const char *reason,
                     const char *site_job_id, const char *account, void *arg);

#endif
