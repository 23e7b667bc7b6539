/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ljobs: the demo executor. A static site (the demo federation, tests) may
 * run jobs itself, without a scheduler, only when its config says
 * demo_jobs = yes, and then as one separate account (demo_jobs_account),
 * never as the agent: a job must not read the agent's keys or state. The
 * agent says so loudly at start.
 *
 * A job is prepared (its directory made fresh, its script written) and run
 * by the job helper as that account (exec/runas.h). The helper running it
 * stays as its supervisor, with its stdin a pipe from the agent: a stop (a
 * cancel, the lease's end, the time limit) closes the pipe, and so does the
 * agent's death, even by SIGKILL; either way the helper ends the job's
 * session and everything it left, so no job outlives its agent or its
 * lease. A restarted agent finds such a job FAILED in its record.
 *
 * One struct ljob per job in a list, at most max_jobs_per_user of the one
 * account; a record per job in jobs_dir ("STATE EXIT LEASE" and why). An
 * ended job leaves memory ENDED_KEEP_MS after its end was told.
 */
#include "aconf.h"
#include "af_ids.h"
#include "af_log.h"
#include "af_time.h"
#include "af_wire.h"
#include "aproc.h"
#include "backend.h"
#include "executor.h"
#include "follow.h"
#include "jobscript.h"
#include "runas.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORD_EXT    ".ljob"
#define ENDED_KEEP_MS (10 * 60 * 1000)
#define PREPARE_MS    30000
#define PATH_LEN      4096
#define STOPPED_WITH_AGENT                                                               \
    "the agent stopped while it ran (the demo executor's jobs do not outlive their "     \
    "agent)"

struct ljob {
    struct executor *x;
    char id[AF_ID_MAX + 1], lease[AF_ID_MAX + 1];
    char pid[32]; /* "pid-N", once running */
    int state, exit_code;
    char why[AF_WIRE_MAX_TEXT];
    uint32_t limit_s;
    bool preparing, running, stopped, timed_out;
    char stop_reason[AF_WIRE_MAX_TEXT];
    int64_t ended_ms;
    /* the supervisor (the helper's `run`), while it runs */
    uv_process_t proc;
    uv_pipe_t in, out;
    uv_timer_t limit;
    int handles;
    char outbuf[64];
    size_t outlen;
    bool dropped;
    struct ljob *next;
};

struct executor {
    struct executor_env env;
    char records[PATH_LEN];
    char root[PATH_LEN]; /* job_root for the demo account */
    const char *account;
    struct ljob *jobs;
    size_t n;
};

static bool open_state(int s)
{
    return s == AIFED__JOB_STATE__JOB_QUEUED || s == AIFED__JOB_STATE__JOB_RUNNING;
}

/* ---- records ---- */

static void record_path(const struct executor *x, const char *id, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s" RECORD_EXT, x->records, id);
}

static void record_put(const struct executor *x, const struct ljob *j)
{
    char path[PATH_LEN + 80], tmp[PATH_LEN + 96];
    FILE *f;

    if (mkdir(x->records, 0700) < 0 && errno != EEXIST) {
        log_err("%s", x->records);
        return;
    }
    record_path(x, j->id, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (!(f = fopen(tmp, "w"))) {
        log_err("job %s: %s", j->id, tmp);
        return;
    }
    fprintf(f, "%d %d %s\n%s\n", j->state, j->exit_code, j->lease, j->why);
    if (fclose(f) != 0 || rename(tmp, path) < 0) {
        log_err("job %s: %s", j->id, path);
        unlink(tmp);
    }
}

/* 0 with a job's recorded state, -1 when there is none. */
static int record_get(const struct executor *x, const char *id, int *state, int *code,
                      char *why, size_t size)
{
    char path[PATH_LEN + 80], line[AF_WIRE_MAX_TEXT + 128], lease[AF_ID_MAX + 1];
    FILE *f;

    record_path(x, id, path, sizeof(path));
    if (!af_id_valid(id) || !(f = fopen(path, "r")))
        return -1;
    if (!fgets(line, sizeof(line), f) ||
        sscanf(line, "%d %d %64s", state, code, lease) < 3) {
        fclose(f);
        return -1;
    }
    why[0] = '\0';
    if (fgets(why, (int)size, f))
        why[strcspn(why, "\n")] = '\0';
    fclose(f);
    return 0;
}

/* ---- the list ---- */

static struct ljob *find(const struct executor *x, const char *id)
{
    for (struct ljob *j = x->jobs; j; j = j->next)
        if (!strcmp(j->id, id))
            return j;
    return NULL;
}

static void unlink_job(struct executor *x, struct ljob *j)
{
    for (struct ljob **pp = &x->jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            x->n--;
            return;
        }
}

static void drop(struct executor *x, struct ljob *j)
{
    unlink_job(x, j);
    j->dropped = true;
    if (!j->preparing && j->handles == 0)
        free(j);
}

static void tell(struct executor *x, const struct ljob *j)
{
    x->env.report(j->id, j->state, j->exit_code, j->why, j->pid, x->account, x->env.arg);
}

static void report(struct executor *x, struct ljob *j, int state, int code,
                   const char *why)
{
    if (state != j->state) {
        j->state = state;
        j->exit_code = code;
        snprintf(j->why, sizeof(j->why), "%s", why);
        record_put(x, j);
        log_info("job %s: %s", j->id, why);
        if (!open_state(state)) {
            j->ended_ms = af_mono_ms();
            follow_ended(x->env.follow, j->id);
        }
    }
    tell(x, j);
}

/* ---- the supervisor ---- */

static void on_closed(uv_handle_t *h)
{
    struct ljob *j = h->data;

    if (--j->handles == 0 && j->dropped)
        free(j);
}

static void close_in(struct ljob *j)
{
    if (j->handles && !uv_is_closing((uv_handle_t *)&j->in))
        uv_close((uv_handle_t *)&j->in, on_closed);
}

static void on_exited(uv_process_t *p, int64_t status, int signum)
{
    struct ljob *j = p->data;
    struct executor *x = j->x;
    int code = signum ? 128 + signum : (int)status, state;
    char why[AF_WIRE_MAX_TEXT + 64];

    j->running = false;
    close_in(j);
    uv_close((uv_handle_t *)&j->proc, on_closed);
    uv_close((uv_handle_t *)&j->out, on_closed);
    uv_close((uv_handle_t *)&j->limit, on_closed);
    if (j->dropped)
        return;
    if (j->stopped) {
        state = AIFED__JOB_STATE__JOB_CANCELLED;
        snprintf(why, sizeof(why), "%s", j->stop_reason);
    } else if (j->timed_out) {
        state = AIFED__JOB_STATE__JOB_TIMEOUT;
        snprintf(why, sizeof(why), "its time limit passed");
    } else if (!j->pid[0]) {
        state = AIFED__JOB_STATE__JOB_FAILED;
        snprintf(why, sizeof(why),
                 "the job helper could not run it (exit %d; the "
                 "agent's log says why)",
                 code);
    } else if (code == 0) {
        state = AIFED__JOB_STATE__JOB_COMPLETED;
        snprintf(why, sizeof(why), "exited 0");
    } else {
        state = AIFED__JOB_STATE__JOB_FAILED;
        snprintf(why, sizeof(why), code > 128 ? "killed by signal %d" : "exited %d",
                 code > 128 ? code - 128 : code);
    }
    report(x, j, state, code, why);
}

/* The helper says "pid N" once the job runs. */
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct ljob *j = h->data;

    (void)hint;
    *buf =
        uv_buf_init(j->outbuf + j->outlen, (unsigned)(sizeof(j->outbuf) - 1 - j->outlen));
}

static void on_out(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct ljob *j = s->data;
    int pid;

    (void)buf;
    if (n < 0 || j->outlen + (size_t)n >= sizeof(j->outbuf) - 1) {
        uv_read_stop(s);
        return;
    }
    j->outlen += (size_t)n;
    j->outbuf[j->outlen] = '\0';
    if (!j->pid[0] && strchr(j->outbuf, '\n') && sscanf(j->outbuf, "pid %d", &pid) == 1) {
        snprintf(j->pid, sizeof(j->pid), "pid-%d", pid);
        log_info("job %s: running as %s (account %s)", j->id, j->pid, j->x->account);
        report(j->x, j, AIFED__JOB_STATE__JOB_RUNNING, 0, "running");
    }
}

static void stop(struct ljob *j, const char *reason)
{
    if (!j->running || j->stopped || j->timed_out)
        return;
    j->stopped = true;
    snprintf(j->stop_reason, sizeof(j->stop_reason), "%s", reason);
    close_in(j); /* the helper ends the job's session, then exits */
}

static void on_limit(uv_timer_t *t)
{
    struct ljob *j = t->data;

    if (!j->running || j->stopped)
        return;
    j->timed_out = true;
    close_in(j);
}

static int supervise(struct executor *x, struct ljob *j, struct af_error *why)
{
    char *argv[16];
    size_t n = runas_argv(x->env.runas, x->account, "run", argv);
    uv_stdio_container_t stdio[3];
    uv_process_options_t o = {0};
    int rc;

    argv[n++] = x->root;
    argv[n++] = j->id;
    argv[n] = NULL;
    uv_pipe_init(x->env.loop, &j->in, 0);
    uv_pipe_init(x->env.loop, &j->out, 0);
    uv_timer_init(x->env.loop, &j->limit);
    j->in.data = j->out.data = j->limit.data = j->proc.data = j;
    j->handles = 4;
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&j->in;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&j->out;
    stdio[2].flags = UV_INHERIT_FD; /* the helper's complaints reach the agent's log */
    stdio[2].data.fd = 2;
    o.file = argv[0];
    o.args = argv;
    o.exit_cb = on_exited;
    o.stdio = stdio;
    o.stdio_count = 3;
    if ((rc = uv_spawn(x->env.loop, &j->proc, &o)) < 0) {
        uv_close((uv_handle_t *)&j->proc, on_closed);
        uv_close((uv_handle_t *)&j->in, on_closed);
        uv_close((uv_handle_t *)&j->out, on_closed);
        uv_close((uv_handle_t *)&j->limit, on_closed);
        return af_error_set(why, "cannot start %s: %s", argv[0], uv_strerror(rc));
    }
    j->running = true;
    uv_read_start((uv_stream_t *)&j->out, on_alloc, on_out);
    if (j->limit_s)
        uv_timer_start(&j->limit, on_limit, (uint64_t)j->limit_s * 1000, 0);
    return 0;
}

static void on_prepared(const struct aproc_result *res, void *arg)
{
    struct ljob *j = arg;
    struct af_error why;
    char line[AF_WIRE_MAX_TEXT];

    j->preparing = false;
    if (j->dropped) {
        if (j->handles == 0)
            free(j);
        return;
    }
    if (res->stopping) /* its record says it never ran; the executor frees it */
        return;
    if (j->stopped) {
        report(j->x, j, AIFED__JOB_STATE__JOB_CANCELLED, 0, j->stop_reason);
        return;
    }
    if (res->status != 0) {
        snprintf(line, sizeof(line), "%s",
                 *res->err ? res->err : "the job helper failed");
        line[strcspn(line, "\n")] = '\0';
        report(j->x, j, AIFED__JOB_STATE__JOB_FAILED, 0, line);
        return;
    }
    if (supervise(j->x, j, &why) < 0)
        report(j->x, j, AIFED__JOB_STATE__JOB_FAILED, 0, why.text);
}

/* ---- the interface ---- */

static bool again(struct executor *x, const Aifed__Job *job)
{
    struct ljob *j = find(x, job->id);
    char why[AF_WIRE_MAX_TEXT];
    int state, code;

    if (j) {
        tell(x, j);
        return true;
    }
    if (record_get(x, job->id, &state, &code, why, sizeof(why)) < 0)
        return false;      /* never started here */
    if (open_state(state)) /* it was running when the agent stopped: it was ended */
        x->env.report(job->id, AIFED__JOB_STATE__JOB_FAILED, 0, STOPPED_WITH_AGENT, "",
                      x->account, x->env.arg);
    else
        x->env.report(job->id, state, code, why, "", x->account, x->env.arg);
    return true;
}

/* The demo executor runs its jobs on this host. */
static const char *ljobs_node(struct executor *x, const char *job_id)
{
    return find(x, job_id) ? "127.0.0.1" : NULL;
}

static int ljobs_account(struct executor *x, const Aifed__Job *job, char *buf,
                         size_t size, struct af_error *why)
{
    (void)job;
    (void)why;
    snprintf(buf, size, "%s", x->account);
    return 0;
}

static int ljobs_start(struct executor *x, const Aifed__Job *job, struct af_error *why)
{
    char *argv[16], *text, dir[PATH_LEN + 80];
    size_t n;
    struct ljob *j;
    int rc;

    if (again(x, job))
        return 0;
    if (!x->env.bops->holding(x->env.b, job->lease_id))
        return af_error_set(why, "no hold for lease %s here", job->lease_id);
    if (runas_check(x->env.runas, x->account, NULL, NULL, 0, why) < 0)
        return -1;
    if (x->n >= x->env.conf->max_jobs_per_user)
        return af_error_set(why, "this demo site keeps at most %u jobs at once",
                            x->env.conf->max_jobs_per_user);
    if (!(j = calloc(1, sizeof(*j))))
        return af_error_set(why, "out of memory");
    j->x = x;
    snprintf(j->id, sizeof(j->id), "%s", job->id);
    snprintf(j->lease, sizeof(j->lease), "%s", job->lease_id);
    j->limit_s = job->spec->time_limit_s;
    j->state = AIFED__JOB_STATE__JOB_QUEUED;
    snprintf(j->why, sizeof(j->why), "starting");
    snprintf(dir, sizeof(dir), "%s/%s", x->root, job->id);
    if (!(text = jobscript_for(job, dir,
                               "runs on the demo executor, not under a scheduler"))) {
        free(j);
        return af_error_set(why, "out of memory");
    }
    n = runas_argv(x->env.runas, x->account, "prepare", argv);
    argv[n++] = x->root;
    argv[n++] = j->id;
    argv[n] = NULL;
    rc = aproc_run(x->env.procs, argv, text, strlen(text), PREPARE_MS, 4096, on_prepared,
                   j);
    free(text);
    if (rc < 0) {
        free(j);
        return af_error_set(why, "cannot run the job helper: %s", strerror(errno));
    }
    j->preparing = true;
    j->next = x->jobs;
    x->jobs = j;
    x->n++;
    record_put(x, j);
    return 0;
}

static void ljobs_cancel(struct executor *x, const char *job_id, const char *reason)
{
    struct ljob *j = find(x, job_id);

    if (!j || !open_state(j->state))
        return;
    if (j->preparing) { /* it runs no further than its preparation */
        j->stopped = true;
        snprintf(j->stop_reason, sizeof(j->stop_reason), "%s", reason);
    }
    stop(j, reason);
}

static void ljobs_cancel_lease(struct executor *x, const char *lease_id,
                               const char *reason)
{
    for (struct ljob *j = x->jobs; j; j = j->next)
        if (!strcmp(j->lease, lease_id))
            ljobs_cancel(x, j->id, reason);
}

static int ljobs_read_log(struct executor *x, const char *job_id, uint64_t offset,
                          uint32_t max, executor_log_fn reply, void *arg)
{
    struct ljob *j = find(x, job_id);
    char *argv[16];
    size_t n;

    if (!j) {
        errno = ENOENT;
        return -1;
    }
    if (max > AF_WIRE_MAX_LOG_CHUNK || !max)
        max = AF_WIRE_MAX_LOG_CHUNK;
    if (j->ended_ms)
        j->ended_ms = af_mono_ms();
    n = runas_argv(x->env.runas, x->account, "follow", argv);
    argv[n++] = x->root;
    argv[n++] = j->id;
    argv[n++] = "output.log";
    argv[n] = NULL;
    follow_read(x->env.follow, j->id, x->account, argv, !open_state(j->state), offset,
                max, reply, arg);
    return 0;
}

static void ljobs_poll(struct executor *x)
{
    int64_t now = af_mono_ms();
    struct ljob *j, *next;

    for (j = x->jobs; j; j = next) {
        next = j->next;
        if (j->ended_ms && now - j->ended_ms > ENDED_KEEP_MS)
            drop(x, j);
    }
}

/* The agent read its site again (SIGHUP): holds are asked of the new one. */
static void ljobs_set_backend(struct executor *x, struct backend *b)
{
    x->env.b = b;
}

static size_t ljobs_count(const struct executor *x)
{
    return x->n;
}

static struct executor *ljobs_create(const struct executor_env *env, struct af_error *err)
{
    struct executor *x = calloc(1, sizeof(*x));
    char *dir = aconf_path(env->conf, env->conf->jobs_dir), home[PATH_LEN];
    struct af_error why;

    if (!x || !dir) {
        free(x);
        free(dir);
        af_error_set(err, "out of memory");
        return NULL;
    }
    x->env = *env;
    x->account = env->conf->demo_jobs_account;
    snprintf(x->records, sizeof(x->records), "%s", dir);
    free(dir);
    if (runas_check(env->runas, x->account, NULL, home, sizeof(home), &why) < 0 ||
        runas_job_root(env->conf->job_root, x->account, home, x->root, sizeof(x->root),
                       &why) < 0) {
        af_error_set(err, "demo_jobs_account: %s", why.text);
        free(x);
        return NULL;
    }
    log_warnx("demo_jobs = yes: this site runs users' jobs itself, with no scheduler, as "
              "account %s in %s; for demonstrations and tests only",
              x->account, x->root);
    return x;
}

static void ljobs_destroy(struct executor *x)
{
    if (!x)
        return;
    while (x->jobs) {
        struct ljob *j = x->jobs;
        x->jobs = j->next;
        x->n--;
        if (j->running) {
            /* Its helper ends it when the pipe closes; the agent does not
             * wait for that. */
            snprintf(j->why, sizeof(j->why), STOPPED_WITH_AGENT);
            j->state = AIFED__JOB_STATE__JOB_FAILED;
            record_put(x, j);
            close_in(j);
            uv_close((uv_handle_t *)&j->proc, on_closed);
            uv_close((uv_handle_t *)&j->out, on_closed);
            uv_close((uv_handle_t *)&j->limit, on_closed);
        }
        j->dropped = true;
        if (j->handles == 0) /* one still preparing was the command pool's,
                                which went first */
            free(j);
    }
    free(x);
}

const struct executor_ops executor_local_ops = {
    .name = "local",
    .create = ljobs_create,
    .destroy = ljobs_destroy,
    .start = ljobs_start,
    .account = ljobs_account,
    .node = ljobs_node,
    .cancel = ljobs_cancel,
    .cancel_lease = ljobs_cancel_lease,
    .read_log = ljobs_read_log,
    .poll = ljobs_poll,
    .set_backend = ljobs_set_backend,
    .count = ljobs_count,
};
