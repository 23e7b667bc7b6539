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
#include "leasesvc.h"
#include "relays.h"
#include "rpc.h"
#include "sites.h"
#include "store.h"
#include "svc.h"

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

static int count_open(const Aifed__Job *j, void *arg)
{
    *(size_t *)arg += !job_ended(j->state);
    return 0;
}

/* Whether spec's time limit fits in what is left of l once the job can
 * start (now, or a SCHEDULED lease's start), setting a missing one to all
 * of it; false with the refusal sent. */
static bool fits(struct svc *s, const struct rpc_msg *m, const Aifed__Lease *l,
                 uint32_t *limit_s)
{
    int64_t left_ms = l->expires_ms - lease_start_ms(l->activated_ms, svc_now_ms(s));
    uint32_t left_s = left_ms > 0 ? (uint32_t)(left_ms / 1000) : 0;
    char left[32], asks[32], more[32];

    if (!*limit_s)
        *limit_s = left_s;
    if (*limit_s <= left_s && left_s > 0)
        return true;
    af_duration_format((uint64_t)left_s * 1000, left, sizeof(left));
    af_duration_format((uint64_t)*limit_s * 1000, asks, sizeof(asks));
    /* Whole minutes, so that --by takes it as it is. */
    af_duration_format(((uint64_t)(*limit_s - left_s) + 59) / 60 * 60000, more,
                       sizeof(more));
    rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NO_CAPACITY,
              "the lease ends in %s, the job asks %s: `aifedctl lease renew %s --by %s`, "
              "or ask less",
              left, asks, l->id, more);
    return false;
}

static void on_submit_job(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__SubmitJob *sj = m->env->submit_job;
    Aifed__JobSpec spec = *sj->spec;
    Aifed__Job j = AIFED__JOB__INIT, *done;
    char id[AF_ID_MAX + 1];
    Aifed__Lease *l;
    size_t open = 0;

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
    if (l->state != LEASE_ACTIVE && l->state != LEASE_SCHEDULED) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_CONFLICT,
                  "lease %s is %s: a job runs in an ACTIVE or SCHEDULED lease", l->id,
                  lease_state_name(l->state));
    } else if (store_job_list(s->store, STORE_JOBS_LEASE, l->id, count_open, &open) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "reading the lease's jobs");
    } else if (open >= AF_WIRE_MAX_JOBS) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_LIMITED,
                  "lease %s has %zu jobs queued or running; at most %d", l->id, open,
                  AF_WIRE_MAX_JOBS);
    } else if (fits(s, m, l, &spec.time_limit_s)) {
        af_id_new("job", id, sizeof(id));
        j.id = id;
        j.request_id = sj->request_id;
        j.lease_id = l->id;
        j.site = l->site;
        j.project = l->workload->project;
        j.principal = (char *)m->who->id;
        j.spec = &spec;
        j.gpus = l->gpus;
        j.state = AIFED__JOB_STATE__JOB_QUEUED;
        j.created_ms = svc_now_ms(s);
        if (l->state == LEASE_SCHEDULED) /* the tick sends it when the lease starts */
            j.reason = "waiting for its lease to start";
        if (store_job_put(s->store, &j) < 0) {
            outbox_store_failed(s->outbox, "storing job %s", id);
        } else {
            rpc_remember(s, m, sj->request_id, id);
            log_info("job %s for %s queued in lease %s at %s", id, m->who->id, l->id,
                     l->site);
            reply_job(s, m, &j);
            if (l->state == LEASE_ACTIVE)
                leasesvc_start_job(s, &j);
        }
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
 * inside one message (GetJob has them). Walks come in any order (several
 * projects, or newest first): a full page gives up its oldest for a newer. */
struct job_page {
    const struct rpc_msg
        *m;              /* who asks: another member's unshared job's run is withheld */
    int state;           /* 0: any */
    const char *project; /* NULL: any */
    bool newest_first;   /* the walk's order: stop once the page is full */
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
        return p->newest_first ? 1 : 0; /* newest first: none newer will come */
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
                   ? store_job_list(s->store, STORE_JOBS_PROJECT, project, page_add, p)
                   : 0;
    if (m->who->kind == AUTH_ADMIN) {
        p->newest_first = true;
        return store_job_each(s->store, page_add, p);
    }
    for (size_t i = 0; i < m->who->n_projects; i++)
        if (store_job_list(s->store, STORE_JOBS_PROJECT, m->who->projects[i], page_add,
                           p) < 0)
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
        rc = store_job_list(s->store, STORE_JOBS_LEASE, l->id, page_add, &p);
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

static void stop_at_site(struct svc *s, const Aifed__Job *j)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__StopJob st = AIFED__STOP_JOB__INIT;

    st.job_id = j->id;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_STOP_JOB, &st);
    leasesvc_to_site(s, j->site, &env);
}

static void on_cancel_job(struct svc *s, const struct rpc_msg *m)
{
    Aifed__Job *j = job_get(s, m, m->env->cancel_job->job_id);
    char reason[AF_WIRE_MAX_TEXT], *was;

    if (!j)
        return;
    was = j->reason;
    if (job_ended(j->state)) {
        rpc_error_stored(s, m, AIFED__ERROR_CODE__ERROR_CONFLICT,
                         "job %s has already ended", j->id);
    } else {
        snprintf(reason, sizeof(reason), "cancelled by %s", m->who->id);
        job_finish(j, AIFED__JOB_STATE__JOB_CANCELLED, reason, svc_now_ms(s));
        if (store_job_put(s->store, j) < 0) {
            outbox_store_failed(s->outbox, "storing job %s", j->id);
        } else {
            log_info("job %s %s", j->id, reason);
            reply_job(s, m, j);
            stop_at_site(s, j);
        }
        j->reason = was; /* the unpacked one's, to free */
    }
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
    Aifed__Job upd;

    if (store_job_get(s->store, st->job_id, &j) < 0 || strcmp(j->site, m->who->name)) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN, "job %s is not at your site",
                  st->job_id);
        store_job_free(j);
        return;
    }
    if (job_ended(j->state) ||
        (st->state == AIFED__JOB_STATE__JOB_QUEUED && j->state != st->state) ||
        (st->state == j->state && !strcmp(st->site_job_id, j->site_job_id) &&
         !strcmp(st->local_account, j->local_account))) {
        store_job_free(j);
        return;
    }
    upd = *j;
    if (*st->site_job_id)
        upd.site_job_id = st->site_job_id;
    if (*st->local_account)
        upd.local_account = st->local_account;
    if (st->state == AIFED__JOB_STATE__JOB_RUNNING && !upd.started_ms)
        upd.started_ms = svc_now_ms(s);
    if (job_ended(st->state)) {
        job_finish(&upd, st->state, st->reason, svc_now_ms(s));
        upd.exit_code = st->exit_code;
    } else {
        upd.state = st->state;
        upd.reason = st->reason;
    }
    if (store_job_put(s->store, &upd) < 0)
        outbox_store_failed(s->outbox, "storing job %s", j->id);
    else
        log_info("job %s at %s: %s, %s", j->id, j->site, job_state_name(st->state),
                 st->reason);
    store_job_free(j);
}

/* A site connected (again): ask it once more to start each job the broker
 * has queued or running there. A site answers for a job it has with how it
 * is now, and starts only one it never had: so a StartJob lost while the
 * site was away is delivered, and an end the broker missed is learnt. */
static int start_again(const Aifed__Job *j, void *arg)
{
    struct svc *s = arg;
    Aifed__Lease *l;

    /* Not before a SCHEDULED lease starts: its start sends them. */
    if (store_lease_get(s->store, j->lease_id, &l) == 0) {
        if (l->state != LEASE_SCHEDULED)
            leasesvc_start_job(s, j);
        store_lease_free(s->store, l);
    }
    return 0;
}

void rpc_jobs_resume(struct svc *s, const char *site)
{
    if (store_job_list(s->store, STORE_JOBS_OPEN, site, start_again, s) < 0)
        log_err("reading the open jobs at %s", site);
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
        leasesvc_to_site(s, j->site, &env);
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
