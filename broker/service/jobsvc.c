/* SPDX-License-Identifier: Apache-2.0 */
#include "jobsvc.h"
#include "af_log.h"
#include "af_time.h"
#include "bconf.h"
#include "job.h"
#include "lease.h"
#include "outbox.h"
#include "sites.h"
#include "store.h"
#include "store_jobs.h"
#include "svc.h"
#include "tosite.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Ended jobs past the retention period deleted in one tick, at most. */
#define PRUNE_MAX 256
/* Rounds of deleting an owner's oldest ended jobs to make room for a new
 * one, at most, and jobs per round. */
#define EVICT_ROUNDS 4
#define EVICT_BATCH  16

/* Ask j's site to start it (after the commit; again is harmless). */
static void start_at_site(struct svc *s, const Aifed__Job *j)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__StartJob st = AIFED__START_JOB__INIT;

    st.job = (Aifed__Job *)j;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_START_JOB, &st);
    tosite_send(s, j->site, &env);
}

static void stop_at_site(struct svc *s, const Aifed__Job *j)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__StopJob st = AIFED__STOP_JOB__INIT;

    st.job_id = j->id;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_STOP_JOB, &st);
    tosite_send(s, j->site, &env);
}

/* Store j, saying once what failed. */
static int put(struct svc *s, const Aifed__Job *j)
{
    if (store_job_put(s->store, j) < 0) {
        outbox_store_failed(s->outbox, "storing job %s", j->id);
        return -1;
    }
    return 0;
}

/* End j (unpacked) in state for reason (borrowed), what it used counted
 * and its contents dropped, and store it. */
static int end_at(struct svc *s, Aifed__Job *j, int state, const char *reason,
                  int64_t at_ms)
{
    job_finish(j, state, reason, at_ms);
    job_drop_contents(j->spec);
    return put(s, j);
}

static int end(struct svc *s, Aifed__Job *j, int state, const char *reason)
{
    return end_at(s, j, state, reason, svc_now_ms(s));
}

/* Whether spec's time limit fits in what is left of l once the job can
 * start (now, or a SCHEDULED lease's start), setting a missing one to all
 * of it; false with the refusal in why. */
static bool fits(struct svc *s, const Aifed__Lease *l, uint32_t *limit_s,
                 struct jobsvc_refusal *why)
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
    why->code = AIFED__ERROR_CODE__ERROR_NO_CAPACITY;
    snprintf(why->text, sizeof(why->text),
             "the lease ends in %s, the job asks %s: `aifedctl lease renew %s --by %s`, "
             "or ask less",
             left, asks, l->id, more);
    return false;
}

/* Whether principal may store one more job of size bytes: its oldest
 * ended jobs make room when its bound is reached; false with the refusal
 * in why when its open ones fill it. -1 when the store failed. */
static int room_for(struct svc *s, const char *principal, uint64_t size,
                    struct jobsvc_refusal *why)
{
    const struct bconf *c = s->conf;
    uint64_t max_bytes = c->max_job_mb_per_principal << 20, jobs, bytes;

    for (int round = 0;; round++) {
        int n;

        store_job_usage(s->store, principal, &jobs, &bytes);
        if (jobs < c->max_jobs_per_principal && bytes + size <= max_bytes)
            return 1;
        if (round == EVICT_ROUNDS ||
            (n = store_jobs_evict(s->store, principal, EVICT_BATCH)) == 0)
            break;
        if (n < 0) {
            outbox_store_failed(s->outbox, "deleting %s's oldest ended jobs", principal);
            return -1;
        }
    }
    why->code = AIFED__ERROR_CODE__ERROR_LIMITED;
    snprintf(
        why->text, sizeof(why->text),
        "you have %llu jobs stored (%.1f MiB) and this one is %.1f MiB: at most %llu "
        "jobs and %llu MiB, and those still queued or running keep their room; "
        "cancel some, or wait for them to end",
        (unsigned long long)jobs, bytes / 1048576.0, size / 1048576.0,
        (unsigned long long)c->max_jobs_per_principal,
        (unsigned long long)c->max_job_mb_per_principal);
    return 0;
}

int jobsvc_submit(struct svc *s, const Aifed__Lease *l, const char *principal,
                  const Aifed__SubmitJob *sj, struct jobsvc_job *out,
                  struct jobsvc_refusal *why)
{
    Aifed__Job *j = &out->job;
    size_t open;
    int rc;

    if (l->state != LEASE_ACTIVE && l->state != LEASE_SCHEDULED) {
        why->code = AIFED__ERROR_CODE__ERROR_CONFLICT;
        snprintf(why->text, sizeof(why->text),
                 "lease %s is %s: a job runs in an ACTIVE or SCHEDULED lease", l->id,
                 lease_state_name(l->state));
        return 1;
    }
    if ((open = store_job_count_open(s->store, l->id)) >= AF_WIRE_MAX_JOBS) {
        why->code = AIFED__ERROR_CODE__ERROR_LIMITED;
        snprintf(why->text, sizeof(why->text),
                 "lease %s has %zu jobs queued or running; at most %d", l->id, open,
                 AF_WIRE_MAX_JOBS);
        return 1;
    }
    out->spec = *sj->spec;
    if (!fits(s, l, &out->spec.time_limit_s, why))
        return 1;
    *j = (Aifed__Job)AIFED__JOB__INIT;
    af_id_new("job", out->id, sizeof(out->id));
    j->id = out->id;
    j->request_id = sj->request_id;
    j->user_signature = sj->user_signature;
    j->lease_id = l->id;
    j->site = l->site;
    j->project = l->workload->project;
    j->principal = (char *)principal;
    j->spec = &out->spec;
    j->gpus = l->gpus;
    j->state = AIFED__JOB_STATE__JOB_QUEUED;
    j->created_ms = svc_now_ms(s);
    if (l->state == LEASE_SCHEDULED) /* sent when the lease starts */
        j->reason = "waiting for its lease to start";
    if ((rc = room_for(s, principal, aifed__job__get_packed_size(j), why)) <= 0)
        return rc < 0 ? -1 : 1;
    if (put(s, j) < 0)
        return -1;
    log_info("job %s for %s queued in lease %s at %s", j->id, principal, l->id, l->site);
    if (l->state == LEASE_ACTIVE)
        start_at_site(s, j);
    return 0;
}

int jobsvc_cancel(struct svc *s, Aifed__Job *j, const char *by, char *buf, size_t size)
{
    if (job_ended(j->state))
        return 1;
    snprintf(buf, size, "cancelled by %s", by);
    if (end(s, j, AIFED__JOB_STATE__JOB_CANCELLED, buf) < 0)
        return -1;
    log_info("job %s %s", j->id, buf);
    stop_at_site(s, j);
    return 0;
}

int jobsvc_report(struct svc *s, Aifed__Job *j, const Aifed__JobStatus *st)
{
    Aifed__Job upd;

    if (!job_report_changes(j, st))
        return 0;
    upd = *j; /* its strings j's, or st's: freed with them */
    if (*st->site_job_id)
        upd.site_job_id = st->site_job_id;
    if (*st->local_account)
        upd.local_account = st->local_account;
    /* A replica's whereabouts and readiness, as its site sees them now. */
    upd.node = st->node;
    upd.port = st->port;
    upd.ready = st->ready && st->state == AIFED__JOB_STATE__JOB_RUNNING;
    if (st->state == AIFED__JOB_STATE__JOB_RUNNING && !upd.started_ms)
        upd.started_ms = svc_now_ms(s);
    if (job_ended(st->state)) {
        upd.exit_code = st->exit_code;
        if (end(s, &upd, st->state, st->reason) < 0)
            return -1;
    } else {
        upd.state = st->state;
        upd.reason = st->reason;
        if (put(s, &upd) < 0)
            return -1;
    }
    log_info("job %s at %s: %s, %s", j->id, j->site, job_state_name(st->state),
             st->reason);
    return 0;
}

static int start_queued(const Aifed__Job *j, void *arg)
{
    start_at_site(arg, j);
    return 0;
}

void jobsvc_lease_started(struct svc *s, const Aifed__Lease *l)
{
    if (store_job_list(s->store, STORE_JOBS_LEASE_OPEN, l->id, start_queued, s) < 0)
        log_err("reading the jobs of lease %s", l->id);
}

/* The ids of a lease's queued and running jobs (at most AF_WIRE_MAX_JOBS:
 * no more may be open in one lease), read before any is changed. */
struct open_jobs {
    char ids[AF_WIRE_MAX_JOBS][AF_ID_MAX + 1];
    size_t n;
};

static int collect_open(const Aifed__Job *j, void *arg)
{
    struct open_jobs *o = arg;

    if (o->n == AF_WIRE_MAX_JOBS)
        return 1;
    snprintf(o->ids[o->n++], sizeof(o->ids[0]), "%s", j->id);
    return 0;
}

int jobsvc_lease_ended(struct svc *s, const Aifed__Lease *l, uint32_t *ended)
{
    struct open_jobs o = {.n = 0};

    if (store_job_list(s->store, STORE_JOBS_LEASE_OPEN, l->id, collect_open, &o) < 0)
        return -1;
    for (size_t i = 0; i < o.n; i++) {
        Aifed__Job *j;
        char *was;
        int rc;

        if (store_job_get(s->store, o.ids[i], &j) < 0)
            return -1;
        was = j->reason;
        rc = end_at(s, j, AIFED__JOB_STATE__JOB_CANCELLED, "the lease ended",
                    l->updated_ms);
        j->reason = was; /* the unpacked one's, to free */
        store_job_free(j);
        if (rc < 0)
            return -1;
    }
    *ended = (uint32_t)o.n;
    return 0;
}

/* Send j again, unless its lease is SCHEDULED still: its start sends it. */
static int start_again(const Aifed__Job *j, void *arg)
{
    struct svc *s = arg;
    Aifed__Lease *l;

    if (store_lease_get(s->store, j->lease_id, &l) == 0) {
        if (l->state != LEASE_SCHEDULED)
            start_at_site(s, j);
        store_lease_free(s->store, l);
    }
    return 0;
}

void jobsvc_site_heard(struct svc *s, const char *site)
{
    if (!sites_resume_take(s->sites, site, svc_mono_ms(s), JOBSVC_RESUME_GAP_MS))
        return;
    if (store_job_list(s->store, STORE_JOBS_OPEN, site, start_again, s) < 0)
        log_err("reading the open jobs at %s", site);
}

static int resume_held_back(const char *site, const Aifed__Advertisement *adv, bool up,
                            void *arg)
{
    (void)adv;
    (void)up;
    jobsvc_site_heard(arg, site);
    return 0;
}

void jobsvc_tick(struct svc *s)
{
    int64_t before = svc_now_ms(s) - (int64_t)s->conf->job_retention_ms;
    int n = store_jobs_prune(s->store, before, PRUNE_MAX);

    if (n < 0)
        outbox_store_failed(s->outbox, "deleting jobs past their retention");
    else if (n > 0)
        log_debug("%d jobs past their retention deleted", n);
    sites_each(s->sites, resume_held_back, s);
}
