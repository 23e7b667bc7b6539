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
#include "af_template.h"
#include "af_near.h"
#include "ctl_catalog.h"
#include "ctl_endpoints.h"
#include "ctl_login.h"
#include "ctl_workload.h"
#include "job.h"
#include "lease.h"

#include <errno.h>
#include <limits.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

/* How often run asks how its job is doing. */
#define POLL_MS 500

static volatile sig_atomic_t detach_asked;

static void on_sigint(int signum)
{
    (void)signum;
    detach_asked = 1;
}

#define RUN_MAX_SETS AF_TEMPLATE_MAX_PARAMS

struct run_opts {
    const char *lease, *task;
    bool detach, keep_lease;
    bool share; /* --share: the project's members see its variables and output */
    const char *template_name; /* --template: the task comes from it */
    const char *sets[RUN_MAX_SETS];
    size_t n_sets;
    bool dry_run;
    bool site_flag;           /* --site/-S among the workload flags */
    char site[AF_ID_MAX + 1]; /* the template's site: the job runs only there */
    char tmp[PATH_MAX];       /* the expanded template, a file while it is read */
    bool serve;               /* serve: an endpoint, not a job */
    const char *name;         /* serve --name */
    const char *replicas;     /* serve --replicas N|MIN..MAX */
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
        else if (!strcmp(argv[i], "--share"))
            o->share = true;
        else if (!strcmp(argv[i], "--template") && i + 1 < argc)
            o->template_name = argv[++i];
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            if (o->n_sets == RUN_MAX_SETS)
                return ctl_usage_error(cmd, "--set: more than %s", "32");
            o->sets[o->n_sets++] = argv[++i];
        } else if (!strcmp(argv[i], "--dry-run"))
            o->dry_run = true;
        else if (o->serve && !strcmp(argv[i], "--name") && i + 1 < argc)
            o->name = argv[++i];
        else if (o->serve && !strcmp(argv[i], "--replicas") && i + 1 < argc)
            o->replicas = argv[++i];
        else if (argv[i][0] != '-' && !o->task && !o->template_name &&
                 (i == 1 || !argv[i - 1] || argv[i - 1][0] != '-' ||
                  !strcmp(argv[i - 1], "--eu") || !strcmp(argv[i - 1], "--json") ||
                  !strcmp(argv[i - 1], "--detach") ||
                  !strcmp(argv[i - 1], "--keep-lease") ||
                  !strcmp(argv[i - 1], "--share")))
            o->task = argv[i];
        else
            args[(*n)++] = argv[i];
    }
    if (o->template_name && o->task)
        return ctl_usage_error(cmd, "give a task file or --template NAME, not both",
                               NULL);
    if (!o->task && !o->template_name)
        return ctl_usage_error(cmd, "give a task file, or --template NAME", NULL);
    if ((o->n_sets || o->dry_run) && !o->template_name)
        return ctl_usage_error(cmd, "--set and --dry-run go with --template NAME", NULL);
    if (o->serve && (o->lease || o->detach || o->keep_lease || o->share))
        return ctl_usage_error(
            cmd,
            "--lease, --detach, --keep-lease and --share are run's: an "
            "endpoint's replicas have leases of their own",
            NULL);
    if (o->template_name) /* the task: a file made from the template */
        return 0;
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
    const Aifed__Lease *l;
    char rid[AF_ID_MAX + 1], *id = NULL, when[96];

    af_id_new("req", rid, sizeof(rid));
    s.request_id = rid;
    s.workload = &a->w;
    af_wire_set_body(&req, AIFED__ENVELOPE__BODY_SUBMIT, &s);
    fprintf(stderr, "leasing %u GPU%s for the job...\n", a->w.gpus,
            a->w.gpus == 1 ? "" : "s");
    if (!(rep = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_LEASE_REPLY, 60000, rc)))
        return NULL;
    l = rep->lease_reply->lease;
    if (l->state == AIFED__LEASE_STATE__LEASE_SCHEDULED) {
        ctl_show_time_far(l->activated_ms, when, sizeof(when));
        fprintf(stderr,
                "lease %s SCHEDULED at %s/%s: the hold starts at %s; the job waits for "
                "it\n",
                l->id, l->site, l->pool, when);
        id = strdup(l->id);
    } else if (l->state != AIFED__LEASE_STATE__LEASE_ACTIVE) {
        fprintf(stderr, "aifedctl: lease %s is %s: %s\n", l->id,
                lease_state_name(l->state), l->reason);
        *rc = 1;
    } else {
        fprintf(stderr, "lease %s ACTIVE at %s/%s\n", l->id, l->site, l->pool);
        id = strdup(l->id);
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
        fprintf(stderr, "released lease %s: its GPUs are not held idle%s\n", id,
                rep->lease_reply->site_holds ? " (the site is letting go of them)" : "");
        af_wire_free(rep);
    }
}

_Static_assert(CTL_TASK_MAX_FILES == AF_WIRE_MAX_FILES &&
                   CTL_TASK_MAX_FILES_BYTES == AF_WIRE_MAX_FILES_SIZE,
               "a task carries what the wire does");

/* The task's files, read now (a file changed since the task was read is
 * sent as it is now, within the bounds). -1 with the error said. */
struct job_files {
    Aifed__JobFile v[CTL_TASK_MAX_FILES], *ptrs[CTL_TASK_MAX_FILES];
    uint8_t *data[CTL_TASK_MAX_FILES];
    size_t n;
};

static void files_free(struct job_files *jf)
{
    for (size_t i = 0; i < jf->n; i++)
        free(jf->data[i]);
    jf->n = 0;
}

static int files_read(const struct ctl_task *t, struct job_files *jf)
{
    size_t total = 0;

    jf->n = 0;
    for (size_t i = 0; i < t->n_files; i++) {
        Aifed__JobFile *f = &jf->v[i];
        struct stat st;
        FILE *in = fopen(t->files[i].path, "rb");
        size_t got;

        if (!in || fstat(fileno(in), &st) < 0 || !S_ISREG(st.st_mode) ||
            (total += (size_t)st.st_size) > AF_WIRE_MAX_FILES_SIZE ||
            !(jf->data[jf->n] = malloc((size_t)st.st_size + 1))) {
            fprintf(stderr, "aifedctl: %s: %s\n", t->files[i].path,
                    !in ? strerror(errno) : "no longer a file within the task's bounds");
            if (in)
                fclose(in);
            files_free(jf);
            return -1;
        }
        got = fread(jf->data[jf->n], 1, (size_t)st.st_size, in);
        fclose(in);
        aifed__job_file__init(f);
        f->name = t->files[i].name;
        f->data.data = jf->data[jf->n];
        f->data.len = got;
        f->executable = (st.st_mode & S_IXUSR) != 0;
        jf->ptrs[jf->n++] = f;
    }
    return 0;
}

/* The site lease is at, for a signature: into buf; -1 (said) when the
 * broker does not say. */
static int lease_site(struct ctl *ctl, const char *lease, char *buf, size_t size)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__GetLease g = AIFED__GET_LEASE__INIT;
    int rc;

    g.lease_id = (char *)lease;
    af_wire_set_body(&req, AIFED__ENVELOPE__BODY_GET_LEASE, &g);
    if (!(rep = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_LEASE_REPLY, 20000, &rc)))
        return -1;
    snprintf(buf, size, "%s", rep->lease_reply->lease->site);
    af_wire_free(rep);
    return 0;
}

/* After an SSH login, sj signed for its lease's site (ctl_login.h): 0;
 * -1 (said) when it could not be. */
static int sign(struct ctl *ctl, Aifed__SubmitJob *sj)
{
    if (ctl_login_sign_job(ctl, sj, lease_site) < 0)
        return fprintf(stderr, "aifedctl: the job was not submitted: it could not be "
                               "signed with your SSH login's key\n"),
               -1;
    return 0;
}

/* What the task runs, as the wire carries it, with the buffers it points
 * into (its strings are the task's). */
struct job_build {
    Aifed__JobSpec spec;
    Aifed__EnvVar vars[CTL_TASK_MAX_ENV], *ptrs[CTL_TASK_MAX_ENV];
    Aifed__Service service; /* a served model's (spec.service, when set) */
    struct job_files files;
};

/* The task's job spec, its files read now: 0, or -1 said. */
static int job_build(const struct ctl_workload *a, struct job_build *b)
{
    const struct ctl_task *t = a->task;

    if (files_read(t, &b->files) < 0)
        return -1;
    aifed__job_spec__init(&b->spec);
    for (size_t i = 0; i < t->n_env; i++) {
        aifed__env_var__init(&b->vars[i]);
        b->vars[i].name = t->env[i].key;
        b->vars[i].value = t->env[i].value;
        b->vars[i].secret = t->env[i].secret;
        b->ptrs[i] = &b->vars[i];
    }
    b->spec.name = t->name ? t->name : "";
    b->spec.image = t->image ? t->image : "";
    b->spec.setup = t->setup ? t->setup : "";
    b->spec.run = t->run;
    b->spec.env = b->ptrs;
    b->spec.n_env = t->n_env;
    b->spec.files = b->files.ptrs;
    b->spec.n_files = b->files.n;
    b->spec.data = a->w.data;
    b->spec.n_data = a->w.n_data;
    return 0;
}

/* limit_s 0: all that is left of the lease. */
static Aifed__Envelope *submit_job(struct ctl *ctl, const char *lease,
                                   const struct ctl_workload *a, uint32_t limit_s,
                                   bool share, int *rc)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__SubmitJob sj = AIFED__SUBMIT_JOB__INIT;
    struct job_build b;
    Aifed__Envelope *rep = NULL;
    char rid[AF_ID_MAX + 1];

    *rc = 1;
    if (job_build(a, &b) < 0)
        return NULL;
    b.spec.time_limit_s = limit_s;
    b.spec.shared = share;
    af_id_new("req", rid, sizeof(rid));
    sj.request_id = rid;
    sj.lease_id = (char *)lease;
    sj.spec = &b.spec;
    if (sign(ctl, &sj) == 0) {
        af_wire_set_body(&req, AIFED__ENVELOPE__BODY_SUBMIT_JOB, &sj);
        rep = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_JOB_REPLY, 20000, rc);
    }
    files_free(&b.files);
    return rep;
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

/* One ask for the piece of a job's output at [at, at + max): borrowed
 * into *ret until the reply is freed. */
static Aifed__Envelope *log_piece(struct ctl *ctl, const char *id, uint64_t at,
                                  uint32_t max, int *rc)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__GetJobLog g = AIFED__GET_JOB_LOG__INIT;

    g.job_id = (char *)id;
    g.offset = at;
    g.max_bytes = max;
    af_wire_set_body(&req, AIFED__ENVELOPE__BODY_GET_JOB_LOG, &g);
    return ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_JOB_LOG, 20000, rc);
}

/* Following a job: its output from offset to stdout as the site has it,
 * and between pieces how it is doing. run says each change of state on
 * stderr; both say, once, when its lease nears its end. */
struct tail {
    const char *id;
    uint64_t offset;
    bool progress;    /* run: a line for each state */
    bool withheld;    /* another's unshared job: its output is not ours to read */
    unsigned failed;  /* reads of its output failed in a row */
    int64_t again_ms; /* after one failed: when to ask again (monotonic) */
    bool warned;      /* the lease's end is near: said */
    int last_state;   /* -1 before the first */
};

/* One piece of output: 1 with data, 0 with none yet, 2 at its end, -1
 * with rc set. */
static int tail_step(struct ctl *ctl, struct tail *t, int *rc)
{
    Aifed__Envelope *rep;
    const Aifed__JobLog *l;
    int r;

    if (!(rep = log_piece(ctl, t->id, t->offset, AF_WIRE_MAX_LOG_CHUNK, rc)))
        return -1;
    l = rep->job_log;
    if (l->data.len)
        fwrite(l->data.data, 1, l->data.len, stdout);
    fflush(stdout);
    t->offset += l->data.len;
    r = l->at_end ? 2 : l->data.len ? 1 : 0;
    af_wire_free(rep);
    return r;
}

/* How the job is doing: 1 when it has ended (exit_status set), 0 when
 * not, -1 with rc set. */
static int tail_state(struct ctl *ctl, struct tail *t, int *exit_status, int *rc)
{
    Aifed__Envelope *rep = get_job(ctl, t->id, rc);
    const Aifed__Job *j;
    int ended;

    if (!rep)
        return -1;
    j = rep->job_reply->job;
    /* The broker withholds the run of a job whose output it would refuse. */
    if (!t->withheld && j->spec && !strcmp(j->spec->run, "-")) {
        fprintf(stderr,
                "aifedctl: job %s is %s's: its output is for its owner, unless the "
                "owner shares the job; following its state only\n",
                j->id, j->principal);
        t->withheld = true;
    }
    if ((int)j->state != t->last_state && t->progress && !ctl->json)
        ctl_show_job_line(j);
    t->last_state = (int)j->state;
    if (!job_ended(j->state) && !t->warned &&
        ctl_show_lease_left(stderr, j->lease_id, j->lease_expires_ms, 1))
        t->warned = true;
    if ((ended = job_ended(j->state))) {
        if (ctl->json && t->progress)
            ctl_show_job(j, true);
        *exit_status = job_exit(j);
    }
    af_wire_free(rep);
    return ended;
}

/* Follow until the job has ended and its output is all out (or the user
 * detaches: -1). 0 with exit_status, or rc on an error. Once the broker has
 * the job ended, its site has DRAIN_POLLS polls to say the output is whole
 * (a stop takes a few seconds to reach every process). */
#define DRAIN_POLLS 60
/* A read that failed (the broker restarting, the site away) is tried
 * again, from where it stopped, after 1 s, then twice as long each time,
 * at most this long. */
#define AGAIN_MAX_MS 30000

/* One piece, unless a failed read's pause is still running: as tail_step,
 * with a failure said once and the next try put off. */
static int tail_try(struct ctl *ctl, struct tail *t)
{
    int64_t now = af_mono_ms();
    int got, rc;

    if (t->failed && now < t->again_ms)
        return 0;
    if ((got = tail_step(ctl, t, &rc)) >= 0) {
        if (t->failed)
            fprintf(stderr, "aifedctl: its output can be read again\n");
        t->failed = 0;
        return got;
    }
    /* The job's state still comes from the broker meanwhile. */
    if (!t->failed++)
        fprintf(stderr, "aifedctl: its output cannot be read now; asking again\n");
    t->again_ms = now + (t->failed > 5 ? AGAIN_MAX_MS : (1000 << (t->failed - 1)));
    if (t->again_ms - now > AGAIN_MAX_MS)
        t->again_ms = now + AGAIN_MAX_MS;
    return 0;
}

static int tail_follow(struct ctl *ctl, struct tail *t, int *exit_status)
{
    const struct timespec pause = {0, POLL_MS * 1000000L};
    int rc = 0, got = 0, ended = 0, drain = 0;
    bool whole = false; /* the site says the output is all out */

    for (;;) {
        got = 0;
        /* A queued job has no output yet, and one waiting for its lease to
         * start is not at its site at all: only its state is asked then. */
        if (!whole && !t->withheld && t->last_state != -1 &&
            t->last_state != AIFED__JOB_STATE__JOB_QUEUED)
            whole = (got = tail_try(ctl, t)) == 2;
        if (got == 1 && !detach_asked)
            continue;
        if (!ended && (ended = tail_state(ctl, t, exit_status, &rc)) < 0)
            return rc;
        if (ended && (whole || t->withheld || drain++ >= DRAIN_POLLS)) {
            if (!whole && !t->withheld)
                fprintf(stderr,
                        "aifedctl: job %s has ended, and its output from byte %llu "
                        "could not be read yet; `aifedctl logs %s` shows it later\n",
                        t->id, (unsigned long long)t->offset, t->id);
            return 0;
        }
        if (detach_asked) {
            fprintf(stderr,
                    "\ndetached: job %s goes on (nothing was cancelled); follow it with "
                    "`aifedctl logs -f %s`\n",
                    t->id, t->id);
            return -1;
        }
        nanosleep(&pause, NULL);
    }
}

static int run(struct ctl *ctl, const struct run_opts *o, struct ctl_workload *a)
{
    char *lease, *job = NULL;
    Aifed__Envelope *rep;
    int rc = 0, status = 0, f;

    if (!a->task->run)
        return fprintf(stderr, "aifedctl: %s has no run: nothing to start\n",
                       a->task->path),
               CTL_EXIT_USAGE;
    lease = o->lease ? strdup(o->lease) : NULL;
    if (!lease && !(lease = make_lease(ctl, a, &rc)))
        return rc;
    /* In a lease of its own, the job has all of it: the walltime asked for
     * it, less the seconds the grant took. */
    if (!(rep =
              submit_job(ctl, lease, a, o->lease ? a->w.walltime_s : 0, o->share, &rc))) {
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
    /* A lease run made for the job ends when it does: nothing to warn of. */
    f = tail_follow(
        ctl,
        &(struct tail){
            .id = job, .progress = true, .warned = !o->lease, .last_state = -1},
        &status);
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

/* The endpoint's name: --name, else the task's name in lower case. */
static int endpoint_name(const struct ctl_command *cmd, const struct run_opts *o,
                         const struct ctl_task *t, char *buf, size_t size)
{
    snprintf(buf, size, "%s", o->name ? o->name : t->name ? t->name : "");
    for (char *p = buf; !o->name && *p; p++)
        *p = *p >= 'A' && *p <= 'Z'   ? (char)(*p - 'A' + 'a')
             : *p == '_' || *p == '.' ? '-'
                                      : *p;
    if (af_wire_endpoint_name_ok(buf))
        return 0;
    return ctl_usage_error(cmd,
                           *buf ? "'%s' is not an endpoint's name (1-40 of a-z, 0-9 and "
                                  "'-', from a letter): give --name NAME"
                                : "%sthe task has no name: give --name NAME",
                           buf);
}

/* serve: an endpoint for the task's model; its replicas are placed and
 * started by the broker, and the answer shows them as they are now. */
static int serve(struct ctl *ctl, const struct ctl_command *cmd, const struct run_opts *o,
                 struct ctl_workload *a)
{
    const struct ctl_task_service *sv = &a->task->service;
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__CreateEndpoint c = AIFED__CREATE_ENDPOINT__INIT;
    char name[AF_WIRE_MAX_ENDPOINT_NAME + 1], rid[AF_ID_MAX + 1], why[160];
    struct job_build b;
    int rc;

    if (!a->task->run)
        return fprintf(stderr, "aifedctl: %s has no run: nothing to serve\n",
                       a->task->path),
               CTL_EXIT_USAGE;
    if ((rc = endpoint_name(cmd, o, a->task, name, sizeof(name))) != 0)
        return rc;
    if (job_build(a, &b) < 0)
        return 1;
    aifed__service__init(&b.service);
    b.service.replicas_min = b.service.replicas_max = 1; /* no service: section */
    if (sv->given) {
        b.service.port = sv->port;
        b.service.probe_path = sv->probe_path ? sv->probe_path : "";
        b.service.probe_delay_s = sv->probe_delay_s;
        b.service.probe_timeout_s = sv->probe_timeout_s;
        b.service.replicas_min = sv->min;
        b.service.replicas_max = sv->max;
        b.service.metric = sv->metric;
        b.service.target = sv->target;
        b.service.scale_down_delay_s = sv->scale_down_delay_s;
    }
    if (o->replicas && ctl_task_replicas(o->replicas, &b.service.replicas_min,
                                         &b.service.replicas_max, why, sizeof(why)) < 0) {
        files_free(&b.files);
        return ctl_usage_error(cmd, "--replicas: %s", why);
    }
    b.spec.service = &b.service;
    af_id_new("req", rid, sizeof(rid));
    c.request_id = rid;
    c.name = name;
    c.workload = &a->w;
    c.job = &b.spec;
    af_wire_set_body(&req, AIFED__ENVELOPE__BODY_CREATE_ENDPOINT, &c);
    if ((rep = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_ENDPOINT_REPLY, 20000, &rc))) {
        rc = ctl_endpoints_show(rep, ctl->json);
        if (!ctl->json)
            fprintf(stderr, "follow it with: aifedctl endpoint show %s\n", name);
        af_wire_free(rep);
    }
    files_free(&b.files);
    return rc;
}

/* Whether the catalogue has an entry of kind called name; when not, says
 * so with the nearest names (1), else 0; -1: the broker did not answer. */
static int not_in_catalog(const struct ctl *ctl, const struct af_tparam *p,
                          const char *name, int *rc)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__ListCatalog q = AIFED__LIST_CATALOG__INIT;
    const char *names[AF_WIRE_MAX_CATALOG];
    char near[768];
    size_t n = 0;
    bool found = false;

    q.kind = p->type == AF_TP_MODEL     ? AIFED__DATA_KIND__DATA_MODEL
             : p->type == AF_TP_DATASET ? AIFED__DATA_KIND__DATA_DATASET
                                        : AIFED__DATA_KIND__DATA_IMAGE;
    af_wire_set_body(&req, AIFED__ENVELOPE__BODY_LIST_CATALOG, &q);
    if (!(rep = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_CATALOG_LIST, 10000, rc)))
        return -1;
    for (size_t i = 0; i < rep->catalog_list->n_entries; i++) {
        names[n++] = rep->catalog_list->entries[i]->item->name;
        found |= !strcmp(rep->catalog_list->entries[i]->item->name, name);
    }
    if (!found) {
        af_near_unknown(af_tparam_type_name(p->type), name, names, n, near, sizeof(near));
        fprintf(stderr, "aifedctl run: %s: %s\n", p->name, near);
    }
    af_wire_free(rep);
    return found ? 0 : 1;
}

/* The template's task: expanded with --set, its catalogue names checked,
 * printed (--dry-run: 0 and done) or written to a private file that o->task
 * then names. 0 to go on, else the exit status (-1: done, exit 0). */
static int template_task(struct ctl *ctl, struct run_opts *o)
{
    Aifed__Envelope *rep;
    struct af_template t;
    struct af_error err;
    char *yaml = NULL;
    int rc = 0, fd;

    if (!(rep = ctl_template_get(ctl, o->template_name, &rc)))
        return rc;
    /* A site's template was written by that site, for that site: it runs
     * there and nowhere else, whatever its placement says. */
    snprintf(o->site, sizeof(o->site), "%s", rep->template_reply->template_->site);
    if (*o->site && o->site_flag) {
        fprintf(stderr,
                "aifedctl run: template %s is site %s's and runs only there: leave out "
                "--site\n",
                o->template_name, o->site);
        af_wire_free(rep);
        return CTL_EXIT_USAGE;
    }
    if (af_template_parse(rep->template_reply->template_->text, &t, &err) < 0 ||
        !(yaml = af_template_expand(&t, o->sets, o->n_sets, &err))) {
        fprintf(stderr, "aifedctl run: template %s: %s\n", o->template_name, err.text);
        rc = CTL_EXIT_USAGE;
        goto out;
    }
    for (size_t i = 0; i < t.n_params && rc == 0; i++) {
        const struct af_tparam *p = &t.params[i];
        const char *v = p->def;
        for (size_t k = 0; k < o->n_sets; k++)
            if (!strncmp(o->sets[k], p->name, strlen(p->name)) &&
                o->sets[k][strlen(p->name)] == '=')
                v = o->sets[k] + strlen(p->name) + 1;
        if (p->type >= AF_TP_MODEL && not_in_catalog(ctl, p, v, &rc) > 0)
            rc = CTL_EXIT_USAGE;
    }
    if (rc == 0 && o->dry_run) {
        printf("# the task template %s (%s%s%s) makes\n%s", o->template_name,
               *o->site ? "site " : "the federation's", o->site,
               *o->site ? "'s: it runs only there" : "", yaml);
        rc = -1;
    } else if (rc == 0) {
        if (!ctl->json)
            fprintf(stderr, "aifedctl run: template %s is %s%s%s\n", o->template_name,
                    *o->site ? "site " : "the federation's", o->site,
                    *o->site ? "'s: it runs only there" : "");
        /* The name may be SITE/NAME, and long: not part of the file's. */
        snprintf(o->tmp, sizeof(o->tmp), "/tmp/aifed-template-XXXXXX");
        if ((fd = mkstemp(o->tmp)) < 0 ||
            write(fd, yaml, strlen(yaml)) != (ssize_t)strlen(yaml)) {
            fprintf(stderr, "aifedctl run: %s: %s\n", o->tmp, strerror(errno));
            rc = 1;
        }
        if (fd >= 0)
            close(fd);
        o->task = o->tmp;
    }
out:
    free(yaml);
    af_template_free(&t);
    af_wire_free(rep);
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
    o.serve = !strcmp(cmd->name, "serve");
    if (!(args = calloc((size_t)argc + 5, sizeof(*args))))
        return 1;
    if ((rc = split_args(cmd, argc, argv, &o, args, &n)) == 0 && o.template_name) {
        for (int i = 1; i < n; i++)
            o.site_flag |= !strcmp(args[i], "--site") || !strcmp(args[i], "-S") ||
                           !strncmp(args[i], "--site=", 7);
        if ((rc = template_task(ctl, &o)) == 0) {
            args[n++] = "--task";
            args[n++] = o.tmp;
            if (*o.site) { /* the flag's sites replace the task's placement */
                args[n++] = "--site";
                args[n++] = o.site;
            }
        }
    }
    if (rc == 0) {
        /* With --lease, the task's resources need not name a project. */
        rc = ctl_workload_parse(cmd, ctl, n, args,
                                CTL_WL_REQUEST_ID | (o.lease ? CTL_WL_OPTIONAL : 0), &a);
        if (o.tmp[0]) /* read: the task is in memory now */
            unlink(o.tmp);
        if (rc == 0)
            rc = o.serve ? serve(ctl, cmd, &o, &a) : run(ctl, &o, &a);
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

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--lease") && i + 1 < argc)
            l.lease_id = argv[++i];
        else if (!strcmp(argv[i], "--project") && i + 1 < argc)
            l.project = argv[++i];
        else if (!strcmp(argv[i], "--state") && i + 1 < argc) {
            if (!(l.state = job_state_parse(argv[++i])))
                return ctl_usage_error(cmd,
                                       "--state: '%s' is not queued, running, completed, "
                                       "failed, cancelled or timeout",
                                       argv[i]);
        } else if (!strcmp(argv[i], "--json"))
            ctl->json = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return ctl_command_help(cmd), 0;
        else
            return ctl_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    }
    if (*l.lease_id && !af_id_valid(l.lease_id))
        return ctl_usage_error(cmd, "--lease: '%s' is not a lease id", l.lease_id);
    if (*l.project && !af_id_valid(l.project))
        return ctl_usage_error(cmd, "--project: '%s' is not a project name", l.project);
    return ctl_ask(ctl, AIFED__ENVELOPE__BODY_LIST_JOBS, &l,
                   AIFED__ENVELOPE__BODY_JOB_LIST, show_jobs);
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

/* Where the last n lines of a job's output start: read back from its end
 * a piece at a time (at most TAIL_PIECES of them: 1 MiB), counting
 * newlines. */
#define TAIL_PIECES 16

static int tail_start(struct ctl *ctl, const char *id, uint64_t n, uint64_t *ret, int *rc)
{
    Aifed__Envelope *rep;
    uint64_t size, pos, lines = 0;

    if (!(rep = log_piece(ctl, id, 0, 1, rc)))
        return -1;
    size = pos = rep->job_log->size;
    af_wire_free(rep);
    for (int i = 0; i < TAIL_PIECES && pos > 0 && n > 0; i++) {
        uint64_t at = pos > AF_WIRE_MAX_LOG_CHUNK ? pos - AF_WIRE_MAX_LOG_CHUNK : 0;
        const ProtobufCBinaryData *d;

        if (!(rep = log_piece(ctl, id, at, (uint32_t)(pos - at), rc)))
            return -1;
        d = &rep->job_log->data;
        /* The newline that ends the last line starts no line. */
        for (size_t k = d->len; k-- > 0;)
            if (d->data[k] == '\n' && at + k != size - 1 && ++lines == n) {
                *ret = at + k + 1;
                af_wire_free(rep);
                return 0;
            }
        af_wire_free(rep);
        pos = at;
    }
    *ret = n ? pos : size; /* fewer lines than asked: from where it looked */
    return 0;
}

int ctl_cmd_logs(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    struct tail t = {.last_state = -1};
    bool follow = false, tail = false;
    uint64_t lines = 0;
    int rc = 0, status = 0, got;
    char *end;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow")) {
            follow = true;
        } else if ((!strcmp(argv[i], "--tail") || !strcmp(argv[i], "-n")) &&
                   i + 1 < argc) {
            lines = strtoull(argv[++i], &end, 10);
            if (*end || !*argv[i] || *argv[i] == '-')
                return ctl_usage_error(cmd, "--tail: '%s' is not a number of lines",
                                       argv[i]);
            tail = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            return ctl_command_help(cmd), 0;
        } else if (!t.id && af_id_valid(argv[i])) {
            t.id = argv[i];
        } else {
            return ctl_usage_error(cmd, "unexpected argument '%s'", argv[i]);
        }
    }
    if (!t.id)
        return ctl_usage_error(cmd, "give a job id", NULL);
    if (tail && tail_start(ctl, t.id, lines, &t.offset, &rc) < 0)
        return rc;
    if (follow) {
        signal(SIGINT, on_sigint);
        rc = tail_follow(ctl, &t, &status);
        signal(SIGINT, SIG_DFL);
        return rc < 0 ? 0 : rc;
    }
    /* What the site has now, and no more. */
    while ((got = tail_step(ctl, &t, &rc)) == 1)
        ;
    return got < 0 ? rc : 0;
}
