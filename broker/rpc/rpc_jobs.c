/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_jobs: jobs run in a lease. A user submits one into an ACTIVE lease of
 * its projects; the broker stores it QUEUED, answers once that is on disk,
 * and asks the lease's site to start it (StartJob, after the commit). The
 * site reports each change (JobStatus) for its own jobs only. A job's time
 * limit never outlives its lease: one asking more is refused with the
 * numbers and the renewal that would make room.
 */
#include "af_ids.h"
#include "af_log.h"
#include "af_time.h"
#include "af_wire.h"
#include "bconf.h"
#include "job.h"
#include "lease.h"
#include "jobsvc.h"
#include "relays.h"
#include "rpc.h"
#include "sites.h"
#include "store.h"
#include "store_records.h"
#include "store_jobs.h"
#include "svc.h"
#include "tosite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A reply says when the job's lease ends now (renewals move it), so that
 * aifedctl can warn while there is time to renew. */
static void lease_end_of(struct svc *s, Aifed__Job *j)
{
    Aifed__Lease *l;

    if (store_lease_get(s->store, j->lease_id, &l) == 0) {
        j->lease_expires_ms = l->expires_ms;
        store_lease_free(s->store, l);
    }
}

/* Whether m's sender sees all of j: its owner, an admin, or a member of its
 * project when the owner shared it. */
static bool sees_all(const struct rpc_msg *m, const Aifed__Job *j)
{
    return m->who->kind == AUTH_ADMIN || !strcmp(m->who->id, j->principal) ||
           (j->spec && j->spec->shared);
}

/* What a reply may say of j to m's sender: a secret variable's value to no
 * one; another member of the project (unless the owner shared the job) sees
 * its state, times, site, exit code and usage, with its variables' names
 * but not their values, its files' names but not their bytes, and no
 * scripts. Changes j in place (a copy read for this reply). */
/* An unpacked string made empty: an absent one is protobuf-c's static "". */
static void blank(char **str)
{
    if (*str && *str != protobuf_c_empty_string)
        free(*str);
    *str = (char *)protobuf_c_empty_string;
}

/* run is never empty on the wire: "-" says it is withheld. */
static void withhold_run(Aifed__JobSpec *sp)
{
    if (*sp->run) /* allocated, at least two bytes */
        snprintf(sp->run, 2, "%s", "-");
}

static void redact(const struct rpc_msg *m, Aifed__Job *j)
{
    Aifed__JobSpec *sp = j->spec;
    bool all = sees_all(m, j);

    if (!sp)
        return;
    for (size_t i = 0; i < sp->n_env; i++)
        if (sp->env[i]->secret || !all)
            blank(&sp->env[i]->value);
    if (all)
        return;
    for (size_t i = 0; i < sp->n_files; i++) {
        free(sp->files[i]->data.data);
        sp->files[i]->data.data = NULL;
        sp->files[i]->data.len = 0;
    }
    blank(&sp->setup);
    withhold_run(sp);
}

static void reply_job(struct svc *s, const struct rpc_msg *m, Aifed__Job *j)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__JobReply r = AIFED__JOB_REPLY__INIT;

    lease_end_of(s, j);
    redact(m, j);
    r.job = j;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_JOB_REPLY, &r);
    rpc_reply(s, m, &env);
}

/* The stored job id names, for m's sender (NOT_FOUND sent, as for leases,
 * when it may not see it). Free with store_job_free(). */
static Aifed__Job *job_get(struct svc *s, const struct rpc_msg *m, const char *id)
{
    Aifed__Job *j = NULL;

    if (store_job_get(s->store, id, &j) < 0 ||
        !auth_may_use_project(m->who, j->project)) {
        store_job_free(j);
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no job %s", id);
        return NULL;
    }
    return j;
}

static void on_submit_job(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__SubmitJob *sj = m->env->submit_job;
    struct jobsvc_refusal why;
    struct jobsvc_job made;
    char id[AF_ID_MAX + 1];
    Aifed__Job *done;
    Aifed__Lease *l;
    int rc;

    /* A retry (same principal and request id) is the same job. */
    if (store_idem_get(s->store, m->who->id, sj->request_id, id, sizeof(id)) == 0) {
        if ((done = job_get(s, m, id))) {
            reply_job(s, m, done);
            store_job_free(done);
        }
        return;
    }
    if (!(l = rpc_lease_get(s, m, sj->lease_id)))
        return;
    rc = jobsvc_submit(s, l, m->who->id, sj, &made, &why);
    if (rc > 0) {
        rpc_error(s, m, why.code, "%s", why.text);
    } else if (rc < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "could not record the job");
    } else {
        rpc_remember(s, m, sj->request_id, made.id);
        reply_job(s, m, &made.job);
    }
    store_lease_free(s->store, l);
}

static void on_get_job(struct svc *s, const struct rpc_msg *m)
{
    Aifed__Job *j = job_get(s, m, m->env->get_job->job_id);

    if (j)
        reply_job(s, m, j);
    store_job_free(j);
}

/* The newest AF_WIRE_MAX_JOBS that pass the filter (ids sort by time), each
 * without its scripts, variables and files, so that a full list stays far
 * inside one message (GetJob has them). Every walk goes newest first, one
 * project after another: a full page gives up its oldest for a newer, and a
 * walk stops at the first job older than the whole page. */
struct job_page {
    const struct rpc_msg
        *m;              /* who asks: another member's unshared job's run is withheld */
    int state;           /* 0: any */
    const char *project; /* NULL: any */
    Aifed__Job *v[AF_WIRE_MAX_JOBS];
    size_t n;
};

static int job_cmp(const void *a, const void *b)
{
    return strcmp((*(Aifed__Job *const *)a)->id, (*(Aifed__Job *const *)b)->id);
}

/* Where j goes in the page: a free slot, the oldest when j is newer, or
 * -1 when the page is full of newer ones. */
static int page_slot(const struct job_page *p, const Aifed__Job *j)
{
    size_t oldest = 0;

    if (p->n < AF_WIRE_MAX_JOBS)
        return (int)p->n;
    for (size_t i = 1; i < p->n; i++)
        if (strcmp(p->v[i]->id, p->v[oldest]->id) < 0)
            oldest = i;
    return strcmp(j->id, p->v[oldest]->id) > 0 ? (int)oldest : -1;
}

static int page_add(const Aifed__Job *j, void *arg)
{
    struct job_page *p = arg;
    Aifed__Job *copy;
    int at;

    if ((p->state && (int)j->state != p->state) ||
        (p->project && strcmp(j->project, p->project)))
        return 0;
    if ((at = page_slot(p, j)) < 0)
        return 1; /* every walk goes newest first: none newer will come */
    /* The walk's job is borrowed: keep a copy, less what a list leaves out. */
    if (!(copy = af_wire_copy(j)))
        return -1;
    job_strip(copy->spec);
    if (!sees_all(p->m, copy))
        withhold_run(copy->spec);
    if ((size_t)at < p->n)
        aifed__job__free_unpacked(p->v[at], NULL);
    else
        p->n++;
    p->v[at] = copy;
    return 0;
}

/* Walk what a list without a lease covers: project, if the caller may see
 * it; or each of a user's projects; or, for an admin, every job. */
static int page_walk(struct svc *s, const struct rpc_msg *m, const char *project,
                     struct job_page *p)
{
    if (*project)
        return auth_may_use_project(m->who, project)
                   ? store_job_list_newest(s->store, STORE_JOBS_PROJECT, project,
                                           page_add, p)
                   : 0;
    if (m->who->kind == AUTH_ADMIN)
        return store_job_each(s->store, page_add, p);
    for (size_t i = 0; i < m->who->n_projects; i++)
        if (store_job_list_newest(s->store, STORE_JOBS_PROJECT, m->who->projects[i],
                                  page_add, p) < 0)
            return -1;
    return 0;
}

static void on_list_jobs(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__ListJobs *lj = m->env->list_jobs;
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__JobList list = AIFED__JOB_LIST__INIT;
    struct job_page p = {
        .m = m, .state = lj->state, .project = *lj->project ? lj->project : NULL};
    Aifed__Lease *l = NULL;
    int rc;

    if (*lj->lease_id) {
        if (!(l = rpc_lease_get(s, m, lj->lease_id)))
            return;
        rc = store_job_list_newest(s->store, STORE_JOBS_LEASE, l->id, page_add, &p);
    } else {
        rc = page_walk(s, m, lj->project, &p);
    }
    if (rc < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "reading the jobs");
    } else {
        qsort(p.v, p.n, sizeof(p.v[0]), job_cmp); /* oldest first */
        for (size_t i = 0; i < p.n; i++)
            lease_end_of(s, p.v[i]);
        list.jobs = p.v;
        list.n_jobs = p.n;
        af_wire_set_body(&env, AIFED__ENVELOPE__BODY_JOB_LIST, &list);
        rpc_reply(s, m, &env);
    }
    for (size_t i = 0; i < p.n; i++)
        aifed__job__free_unpacked(p.v[i], NULL);
    store_lease_free(s->store, l);
}

static void on_cancel_job(struct svc *s, const struct rpc_msg *m)
{
    Aifed__Job *j = job_get(s, m, m->env->cancel_job->job_id);
    char reason[AF_WIRE_MAX_TEXT], *was;
    int rc;

    if (!j)
        return;
    was = j->reason;
    rc = jobsvc_cancel(s, j, m->who->id, reason, sizeof(reason));
    if (rc > 0)
        rpc_error_stored(s, m, AIFED__ERROR_CODE__ERROR_CONFLICT,
                         "job %s has already ended", j->id);
    else if (rc < 0)
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "could not record the cancel");
    else
        reply_job(s, m, j);
    j->reason = was; /* the unpacked one's, to free */
    store_job_free(j);
}

/* A site says how one of its jobs is doing. An ended job stays as it
 * ended (a cancel the site had not seen yet, a report that came late); a
 * queued one learns its site id and account while it waits there. A report
 * that changes nothing (a site answering the StartJob sent again when it
 * connects) writes nothing. */
static void on_job_status(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__JobStatus *st = m->env->job_status;
    Aifed__Job *j = NULL;

    if (store_job_get(s->store, st->job_id, &j) < 0 || strcmp(j->site, m->who->name))
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN, "job %s is not at your site",
                  st->job_id);
    else
        (void)jobsvc_report(s, j, st); /* a failed store fails the batch: reported */
    store_job_free(j);
}

/* The most of a job's output one piece may carry: what was asked (0: as
 * much as the wire allows), and no more than the broker's own max_message
 * takes in with the envelope around it, so the site's answer is never
 * refused on the way back. */
static uint32_t log_piece_max(const struct svc *s, uint32_t asked)
{
    uint64_t room = s->conf->max_message > 8192 ? s->conf->max_message - 4096
                                                : s->conf->max_message / 2;
    uint32_t max = asked && asked < AF_WIRE_MAX_LOG_CHUNK ? asked : AF_WIRE_MAX_LOG_CHUNK;

    return room < max ? (uint32_t)room : max;
}

/* A piece of a job's output: asked of its site, whose answer the broker
 * passes on (on_job_log_chunk). The broker keeps none of it. */
static void on_get_job_log(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__GetJobLog *g = m->env->get_job_log;
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__ReadJobLog rd = AIFED__READ_JOB_LOG__INIT;
    Aifed__Job *j = job_get(s, m, g->job_id);

    if (!j)
        return;
    if (!sees_all(m, j)) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "job %s is %s's: its output is for its owner, unless the owner shares "
                  "the job (aifedctl run --share)",
                  j->id, j->principal);
    } else if (!sites_route(s->sites, j->site, &(size_t){0})) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_TIMEOUT,
                  "site %s is not connected now; ask again later", j->site);
    } else if (!(rd.relay_id = relays_add(s->relays, m->who->index, &m->from, j->site,
                                          svc_mono_ms(s)))) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_LIMITED,
                  errno == EMLINK ? "you already follow %d outputs at once"
                                  : "the broker follows %d outputs already",
                  errno == EMLINK ? RELAYS_PER_PRINCIPAL : RELAYS_MAX);
    } else {
        rd.job_id = j->id;
        rd.offset = g->offset;
        rd.max_bytes = log_piece_max(s, g->max_bytes);
        af_wire_set_body(&env, AIFED__ENVELOPE__BODY_READ_JOB_LOG, &rd);
        tosite_send(s, j->site, &env);
    }
    store_job_free(j);
}

/* A site's answer to ReadJobLog, to the client waiting for it. */
static void on_job_log_chunk(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__JobLogChunk *c = m->env->job_log_chunk;
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    struct outbox_peer to;

    if (!relays_take(s->relays, c->relay_id, m->who->name, &to))
        return; /* late (the client was told to ask again), or not this site's */
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_JOB_LOG, c->log);
    env.corr_id = to.corr_id;
    if (outbox_push(s->outbox, &to, &env, false) < 0)
        log_err("job output for %s dropped", c->log->job_id);
}

#define ANYONE (RPC_USER | RPC_ADMIN)

const struct rpc_spec rpc_job_client_specs[] = {
    {AIFED__ENVELOPE__BODY_SUBMIT_JOB, ANYONE, on_submit_job, NULL, 0},
    {AIFED__ENVELOPE__BODY_GET_JOB, ANYONE, on_get_job, NULL, RPC_READS},
    {AIFED__ENVELOPE__BODY_LIST_JOBS, ANYONE, on_list_jobs, NULL, RPC_READS},
    {AIFED__ENVELOPE__BODY_CANCEL_JOB, ANYONE, on_cancel_job, NULL, 0},
    {AIFED__ENVELOPE__BODY_GET_JOB_LOG, ANYONE, on_get_job_log, NULL, RPC_READS},
    {0, 0, NULL, NULL, 0},
};

const struct rpc_spec rpc_job_agent_specs[] = {
    {AIFED__ENVELOPE__BODY_JOB_STATUS, RPC_SITE, on_job_status, NULL, 0},
    {AIFED__ENVELOPE__BODY_JOB_LOG_CHUNK, RPC_SITE, on_job_log_chunk, NULL, 0},
    {0, 0, NULL, NULL, 0},
};
