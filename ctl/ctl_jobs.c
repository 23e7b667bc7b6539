/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_jobs: run, jobs, job show|cancel. `run` is the one command a cloud
 * user expects: a task file in, a lease if none was given, the job started
 * in it, a line for each stage, and the job's own exit status out. Ctrl-C
 * detaches (the job goes on; the lease too); it never cancels.
 */
#include "af_ids.h"
#include "af_time.h"
#include "af_wire.h"
#include "ctl.h"
#include "ctl_call.h"
#include "ctl_show.h"
#include "ctl_workload.h"
#include "job.h"
#include "lease.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How often run asks how its job is doing. */
#define POLL_MS 500

static volatile sig_atomic_t detach_asked;

static void on_sigint(int signum)
{
    (void)signum;
    detach_asked = 1;
}

struct run_opts {
    const char *lease, *task;
    bool detach, keep_lease;
};

/* run's own options and the task file out of argv, the rest (workload
 * flags over the task) into args as ctl_workload_parse() takes them. */
static int split_args(const struct ctl_command *cmd, int argc, char **argv,
                      struct run_opts *o, char **args, int *n)
{
    *n = 0;
    args[(*n)++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--lease") && i + 1 < argc)
            o->lease = argv[++i];
        else if (!strcmp(argv[i], "--detach"))
            o->detach = true;
        else if (!strcmp(argv[i], "--keep-lease"))
            o->keep_lease = true;
        else if (argv[i][0] != '-' && !o->task &&
                 (i == 1 || argv[i - 1][0] != '-' || !strcmp(argv[i - 1], "--eu") ||
                  !strcmp(argv[i - 1], "--json") || !strcmp(argv[i - 1], "--detach") ||
                  !strcmp(argv[i - 1], "--keep-lease")))
            o->task = argv[i];
        else
            args[(*n)++] = argv[i];
    }
    if (!o->task)
        return ctl_usage_error(cmd, "give a task file", NULL);
    if (o->lease && !af_id_valid(o->lease))
        return ctl_usage_error(cmd, "--lease: '%s' is not a lease id", o->lease);
    args[(*n)++] = "--task";
    args[(*n)++] = (char *)o->task;
    return 0;
}

/* A lease for the task (no --lease given): granted, or NULL. */
static char *make_lease(struct ctl *ctl, struct ctl_workload *a, int *rc)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__Submit s = AIFED__SUBMIT__INIT;
    char rid[AF_ID_MAX + 1], *id = NULL;

    af_id_new("req", rid, sizeof(rid));
    s.request_id = rid;
    s.workload = &a->w;
    af_wire_set_body(&req, AIFED__ENVELOPE__BODY_SUBMIT, &s);
    fprintf(stderr, "leasing %u GPU%s for the job...\n", a->w.gpus,
            a->w.gpus == 1 ? "" : "s");
    if (!(rep = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_LEASE_REPLY, 60000, rc)))
        return NULL;
    if (rep->lease_reply->lease->state != AIFED__LEASE_STATE__LEASE_ACTIVE) {
        fprintf(stderr, "aifedctl: lease %s is %s: %s\n", rep->lease_reply->lease->id,
                lease_state_name(rep->lease_reply->lease->state),
                rep->lease_reply->lease->reason);
        *rc = 1;
    } else {
        fprintf(stderr, "lease %s ACTIVE at %s/%s\n", rep->lease_reply->lease->id,
                rep->lease_reply->lease->site, rep->lease_reply->lease->pool);
        id = strdup(rep->lease_reply->lease->id);
    }
    af_wire_free(rep);
    return id;
}

static void release_lease(struct ctl *ctl, const char *id)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__Release r = AIFED__RELEASE__INIT;
    char rid[AF_ID_MAX + 1];
    int rc;

    af_id_new("req", rid, sizeof(rid));
    r.lease_id = (char *)id;
    r.request_id = rid;
    af_wire_set_body(&req, AIFED__ENVELOPE__BODY_RELEASE, &r);
    if ((rep = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_LEASE_REPLY, 20000, &rc))) {
        fprintf(stderr, "released lease %s: its GPUs are not held idle\n", id);
        af_wire_free(rep);
    }
}

/* limit_s 0: all that is left of the lease. */
static Aifed__Envelope *submit_job(struct ctl *ctl, const char *lease,
                                   const struct ctl_workload *a, uint32_t limit_s,
                                   int *rc)
{
    const struct ctl_task *t = a->task;
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__SubmitJob sj = AIFED__SUBMIT_JOB__INIT;
    Aifed__JobSpec spec = AIFED__JOB_SPEC__INIT;
    Aifed__EnvVar vars[CTL_TASK_MAX_ENV], *ptrs[CTL_TASK_MAX_ENV];
    char rid[AF_ID_MAX + 1];

    for (size_t i = 0; i < t->n_env; i++) {
        aifed__env_var__init(&vars[i]);
        vars[i].name = t->env[i].key;
        vars[i].value = t->env[i].value;
        ptrs[i] = &vars[i];
    }
    spec.name = t->name ? t->name : "";
    spec.image = t->image ? t->image : "";
    spec.setup = t->setup ? t->setup : "";
    spec.run = t->run;
    spec.env = ptrs;
    spec.n_env = t->n_env;
    spec.time_limit_s = limit_s;
    af_id_new("req", rid, sizeof(rid));
    sj.request_id = rid;
    sj.lease_id = (char *)lease;
    sj.spec = &spec;
    af_wire_set_body(&req, AIFED__ENVELOPE__BODY_SUBMIT_JOB, &sj);
    return ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_JOB_REPLY, 20000, rc);
}

static Aifed__Envelope *get_job(struct ctl *ctl, const char *id, int *rc)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__GetJob g = AIFED__GET_JOB__INIT;

    g.job_id = (char *)id;
    af_wire_set_body(&req, AIFED__ENVELOPE__BODY_GET_JOB, &g);
    return ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_JOB_REPLY, 20000, rc);
}

/* The exit status run gives for a job that ended. */
static int job_exit(const Aifed__Job *j)
{
    switch (j->state) {
    case AIFED__JOB_STATE__JOB_COMPLETED:
        return 0;
    case AIFED__JOB_STATE__JOB_FAILED:
        return j->exit_code > 0 && j->exit_code < 256 ? j->exit_code : 1;
    case AIFED__JOB_STATE__JOB_TIMEOUT:
        return 124; /* as timeout(1) */
    default:
        return 1;
    }
}

/* Ask until the job ends (or the user detaches), saying each change. */
static int follow(struct ctl *ctl, const char *id, int *exit_status)
{
    const struct timespec pause = {0, POLL_MS * 1000000L};
    int last = -1, rc = 0;

    for (;;) {
        Aifed__Envelope *rep = get_job(ctl, id, &rc);
        const Aifed__Job *j;

        if (!rep)
            return rc;
        j = rep->job_reply->job;
        if ((int)j->state != last && !ctl->json)
            ctl_show_job_line(j);
        last = (int)j->state;
        if (job_ended(j->state)) {
            if (ctl->json)
                ctl_show_job(j, true);
            *exit_status = job_exit(j);
            af_wire_free(rep);
            return 0;
        }
        af_wire_free(rep);
        if (detach_asked) {
            fprintf(stderr,
                    "\ndetached: job %s goes on (nothing was cancelled); follow it with "
                    "`aifedctl job show %s`\n",
                    id, id);
            *exit_status = 0;
            return -1;
        }
        nanosleep(&pause, NULL);
    }
}

static int run(struct ctl *ctl, const struct run_opts *o, struct ctl_workload *a)
{
    char *lease = o->lease ? strdup(o->lease) : NULL, *job = NULL;
    Aifed__Envelope *rep;
    int rc = 0, status = 0, f;

    if (!a->task->run)
        return fprintf(stderr, "aifedctl: %s has no run: nothing to start\n",
                       a->task->path),
               CTL_EXIT_USAGE;
    if (!lease && !(lease = make_lease(ctl, a, &rc)))
        return rc;
    /* In a lease of its own, the job has all of it: the walltime asked for
     * it, less the seconds the grant took. */
    if (!(rep = submit_job(ctl, lease, a, o->lease ? a->w.walltime_s : 0, &rc))) {
        if (!o->lease)
            release_lease(ctl, lease);
        goto out;
    }
    job = strdup(rep->job_reply->job->id);
    fprintf(stderr, "job %s queued in lease %s at %s\n", job, lease,
            rep->job_reply->job->site);
    af_wire_free(rep);
    if (o->detach) {
        printf("%s\n", job);
        goto out;
    }
    signal(SIGINT, on_sigint);
    f = follow(ctl, job, &status);
    signal(SIGINT, SIG_DFL);
    if (f > 0) {
        rc = f;
    } else if (f == 0) {
        rc = status;
        if (!o->lease && !o->keep_lease)
            release_lease(ctl, lease);
    }
out:
    if (o->detach && !o->lease && lease)
        fprintf(stderr, "lease %s stays yours: release it when the job is done\n", lease);
    free(job);
    free(lease);
    return rc;
}

int ctl_cmd_run(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    struct run_opts o = {0};
    struct ctl_workload a = {0};
    char **args;
    int n, rc;

    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        ctl_command_help(cmd);
        return 0;
    }
    if (!(args = calloc((size_t)argc + 3, sizeof(*args))))
        return 1;
    if ((rc = split_args(cmd, argc, argv, &o, args, &n)) == 0) {
        /* With --lease, the task's resources need not name a project. */
        rc = ctl_workload_parse(cmd, ctl, n, args,
                                CTL_WL_REQUEST_ID | (o.lease ? CTL_WL_OPTIONAL : 0), &a);
        if (rc == 0)
            rc = run(ctl, &o, &a);
    }
    ctl_task_free(a.task);
    free(args);
    return rc < 0 ? 0 : rc;
}

/* ---- jobs, job show|cancel ---- */

static int show_job(const Aifed__Envelope *rep, bool json)
{
    ctl_show_job(rep->job_reply->job, json);
    return 0;
}

static int show_jobs(const Aifed__Envelope *rep, bool json)
{
    ctl_show_jobs(rep->job_list, json);
    return 0;
}

int ctl_cmd_jobs(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    Aifed__ListJobs l = AIFED__LIST_JOBS__INIT;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--lease") && i + 1 < argc)
            l.lease_id = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            ctl->json = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return ctl_command_help(cmd), 0;
        else
            return ctl_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    }
    if (!*l.lease_id)
        return ctl_usage_error(cmd, "--lease is required", NULL);
    rc = ctl_ask(ctl, AIFED__ENVELOPE__BODY_LIST_JOBS, &l, AIFED__ENVELOPE__BODY_JOB_LIST,
                 show_jobs);
    return rc;
}

int ctl_cmd_job(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    const char *verb = argc > 1 ? argv[1] : "", *id = argc > 2 ? argv[2] : "";

    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            ctl->json = true;
        else
            return ctl_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    }
    if (!strcmp(verb, "--help") || !strcmp(verb, "-h"))
        return ctl_command_help(cmd), 0;
    if (!af_id_valid(id))
        return ctl_usage_error(cmd, "give show or cancel and a job id", NULL);
    if (!strcmp(verb, "show")) {
        Aifed__GetJob g = AIFED__GET_JOB__INIT;
        g.job_id = (char *)id;
        return ctl_ask(ctl, AIFED__ENVELOPE__BODY_GET_JOB, &g,
                       AIFED__ENVELOPE__BODY_JOB_REPLY, show_job);
    }
    if (!strcmp(verb, "cancel")) {
        Aifed__CancelJob c = AIFED__CANCEL_JOB__INIT;
        c.job_id = (char *)id;
        return ctl_ask(ctl, AIFED__ENVELOPE__BODY_CANCEL_JOB, &c,
                       AIFED__ENVELOPE__BODY_JOB_REPLY, show_job);
    }
    return ctl_usage_error(cmd, "'%s' is not show or cancel", verb);
}

/* ---- logs ---- */

int ctl_cmd_logs(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    const struct timespec pause = {0, POLL_MS * 1000000L};
    const char *id = NULL;
    bool follow = false;
    uint64_t offset = 0;
    int rc = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow"))
            follow = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return ctl_command_help(cmd), 0;
        else if (!id && af_id_valid(argv[i]))
            id = argv[i];
        else
            return ctl_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    }
    if (!id)
        return ctl_usage_error(cmd, "give a job id", NULL);
    for (;;) {
        Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
        Aifed__GetJobLog g = AIFED__GET_JOB_LOG__INIT;
        const Aifed__JobLog *l;
        bool done;

        g.job_id = (char *)id;
        g.offset = offset;
        g.max_bytes = AF_WIRE_MAX_LOG_CHUNK;
        af_wire_set_body(&req, AIFED__ENVELOPE__BODY_GET_JOB_LOG, &g);
        if (!(rep = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_JOB_LOG, 20000, &rc)))
            return rc;
        l = rep->job_log;
        if (l->data.len)
            fwrite(l->data.data, 1, l->data.len, stdout);
        fflush(stdout);
        offset += l->data.len;
        done = l->at_end || (!follow && offset >= l->size);
        if (l->data.len == 0 && !done)
            nanosleep(&pause, NULL);
        af_wire_free(rep);
        if (done)
            return 0;
    }
}
