/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jobs: one struct run per job, in a list (a site runs tens, not millions).
 * A run owns two libuv handles, its process and its time-limit timer; it is
 * freed when both have closed.
 */
#include "jobs.h"
#include "af_ids.h"
#include "af_log.h"
#include "af_wire.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* After SIGTERM, this long before SIGKILL. */
#define KILL_AFTER_MS 5000
/* Variables a job gets beyond the agent's own: its task's, and AIFED_JOB_ID,
 * AIFED_LEASE_ID and AIFED_IMAGE. */
#define EXTRA_ENV (AF_WIRE_MAX_ENV + 3)

struct run {
    struct jobs *owner;
    char id[AF_ID_MAX + 1], lease[AF_ID_MAX + 1];
    uv_process_t proc;
    uv_timer_t limit;
    bool timed_out, stopped, exited, killing;
    char reason[AF_WIRE_MAX_TEXT];
    int open_handles;
    struct run *next;
};

struct jobs {
    uv_loop_t *loop;
    char dir[4096];
    char account[64];
    jobs_report_fn report;
    void *arg;
    struct run *runs;
    size_t n;
};

struct jobs *jobs_create(uv_loop_t *loop, const char *dir, jobs_report_fn report,
                         void *arg)
{
    struct jobs *j = calloc(1, sizeof(*j));
    struct passwd *pw = getpwuid(geteuid());

    if (!j)
        return NULL;
    j->loop = loop;
    snprintf(j->dir, sizeof(j->dir), "%s", dir);
    snprintf(j->account, sizeof(j->account), "%s",
             pw && af_id_valid(pw->pw_name) ? pw->pw_name : "");
    j->report = report;
    j->arg = arg;
    return j;
}

static struct run *find(const struct jobs *j, const char *id)
{
    for (struct run *r = j->runs; r; r = r->next)
        if (!strcmp(r->id, id))
            return r;
    return NULL;
}

static void on_closed(uv_handle_t *h)
{
    struct run *r = h->data, **pp;

    if (--r->open_handles > 0)
        return;
    if (r->owner) { /* NULL once jobs_destroy() let go of the list */
        for (pp = &r->owner->runs; *pp && *pp != r; pp = &(*pp)->next)
            ;
        if (*pp)
            *pp = r->next;
        r->owner->n--;
    }
    free(r);
}

/* A job's end, kept in its directory, so that the broker asking about it
 * again (it sends StartJob once more when the agent connects) learns how it
 * ended rather than starting it twice. */
#define END_FILE ".aifed-end"
#define STOPPED_WITH_AGENT                                                               \
    "the agent stopped while it ran (the demo executor's jobs do not outlive their "     \
    "agent)"

static void end_put(const struct jobs *j, const char *id, int state, int code,
                    const char *why)
{
    char path[4300];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s/" END_FILE, j->dir, id);
    if (!(f = fopen(path, "w"))) {
        log_err("job %s: %s", id, path);
        return;
    }
    fprintf(f, "%d %d %s\n", state, code, why);
    if (fclose(f) != 0)
        log_err("job %s: %s", id, path);
}

/* 0 with the end of job id (why has the reason), -1 when none is kept. */
static int end_get(const struct jobs *j, const char *id, int *state, int *code, char *why,
                   size_t size)
{
    char path[4300], line[AF_WIRE_MAX_TEXT + 64];
    int used = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s/" END_FILE, j->dir, id);
    if (!(f = fopen(path, "r")))
        return -1;
    if (!fgets(line, sizeof(line), f) ||
        sscanf(line, "%d %d %n", state, code, &used) < 2 || !used) {
        fclose(f);
        return -1;
    }
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    snprintf(why, size, "%s", line + used);
    return 0;
}

static void on_exited(uv_process_t *p, int64_t status, int signum)
{
    struct run *r = p->data;
    int state, code = signum ? 128 + signum : (int)status;
    char why[AF_WIRE_MAX_TEXT + 64];

    r->exited = true;
    if (!r->owner) /* the agent is stopping: nobody to tell */
        return;
    if (r->stopped) {
        state = AIFED__JOB_STATE__JOB_CANCELLED;
        snprintf(why, sizeof(why), "%s", r->reason);
    } else if (r->timed_out) {
        state = AIFED__JOB_STATE__JOB_TIMEOUT;
        snprintf(why, sizeof(why), "its time limit passed");
    } else if (code == 0) {
        state = AIFED__JOB_STATE__JOB_COMPLETED;
        snprintf(why, sizeof(why), "exited 0");
    } else {
        state = AIFED__JOB_STATE__JOB_FAILED;
        if (signum)
            snprintf(why, sizeof(why), "killed by signal %d", signum);
        else
            snprintf(why, sizeof(why), "exited %d", code);
    }
    log_info("job %s: %s", r->id, why);
    end_put(r->owner, r->id, state, code, why);
    r->owner->report(r->id, state, code, why, "", "", r->owner->arg);
    uv_close((uv_handle_t *)&r->proc, on_closed);
    uv_close((uv_handle_t *)&r->limit, on_closed);
}

/* The time limit passed, or a stop: SIGTERM to the job's session, then
 * SIGKILL if it is still there. */
static void on_limit(uv_timer_t *t)
{
    struct run *r = t->data;

    if (r->exited)
        return;
    if (!r->killing) {
        r->killing = true;
        r->timed_out = !r->stopped; /* the time limit, not a stop */
        kill(-r->proc.pid, SIGTERM);
        uv_timer_start(&r->limit, on_limit, KILL_AFTER_MS, 0);
    } else {
        kill(-r->proc.pid, SIGKILL);
    }
}

static void stop(struct run *r, const char *reason)
{
    if (r->exited || r->stopped)
        return;
    r->stopped = true;
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
    r->killing = false;
    uv_timer_stop(&r->limit);
    on_limit(&r->limit);
}

/* dir/name with text in it, mode 0700 for scripts. */
static int write_file(const char *dir, const char *name, const char *text,
                      struct af_error *why)
{
    char path[4200];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!(f = fopen(path, "w")))
        return af_error_set(why, "%s: %s", path, strerror(errno));
    fputs(text, f);
    if (fclose(f) != 0)
        return af_error_set(why, "%s: %s", path, strerror(errno));
    return 0;
}

/* The task's files, in the job's directory (their names are checked on the
 * wire: relative, without "." or ".." parts). */
static int put_files(const char *dir, const Aifed__JobSpec *s, struct af_error *why)
{
    for (size_t i = 0; i < s->n_files; i++) {
        const Aifed__JobFile *f = s->files[i];
        char path[4400];
        FILE *out;

        snprintf(path, sizeof(path), "%s/%s", dir, f->name);
        /* Each parent in turn (mkdir -p). */
        for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
            *p = '\0';
            if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return af_error_set(why, "%s: %s", path, strerror(errno));
            *p = '/';
        }
        if (!(out = fopen(path, "w")) ||
            fwrite(f->data.data, 1, f->data.len, out) != f->data.len) {
            if (out)
                fclose(out);
            return af_error_set(why, "%s: %s", path, strerror(errno));
        }
        if (fclose(out) != 0 || chmod(path, f->executable ? 0700 : 0600) < 0)
            return af_error_set(why, "%s: %s", path, strerror(errno));
    }
    return 0;
}

/* The job's directory and scripts. job.sh says what runs it, then runs
 * setup (stopping if it fails) and run, inside the image when there is one
 * (Apptainer, the EuroHPC sites' container runtime). */
static int prepare(struct jobs *j, const Aifed__Job *job, char *dir, size_t size,
                   struct af_error *why)
{
    const Aifed__JobSpec *s = job->spec;
    char head[1024];

    if (mkdir(j->dir, 0700) < 0 && errno != EEXIST)
        return af_error_set(why, "%s: %s", j->dir, strerror(errno));
    snprintf(dir, size, "%s/%s", j->dir, job->id);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return af_error_set(why, "%s: %s", dir, strerror(errno));
    snprintf(head, sizeof(head),
             "echo 'aifed: the demo executor runs job %s as a local process of the "
             "agent (account %s), not under a scheduler'\n"
             "%s"
             "%s ./run.sh\n",
             job->id, *j->account ? j->account : "?",
             s->setup && *s->setup ? "sh ./setup.sh || exit $?\n" : "",
             s->image && *s->image ? "exec apptainer exec \"$AIFED_IMAGE\" sh"
                                   : "exec sh");
    if (put_files(dir, s, why) < 0 || write_file(dir, "job.sh", head, why) < 0 ||
        write_file(dir, "run.sh", s->run, why) < 0 ||
        (s->setup && *s->setup && write_file(dir, "setup.sh", s->setup, why) < 0))
        return -1;
    return 0;
}

/* The agent's environment, the job's variables, and AIFED_*: into env
 * (strings in buf, freed by the caller). */
static char **job_env(const Aifed__Job *job, char **bufs, size_t *n_bufs)
{
    size_t n = 0;
    char **env;

    while (environ[n])
        n++;
    if (!(env = calloc(n + EXTRA_ENV + 2, sizeof(*env))))
        return NULL;
    memcpy(env, environ, n * sizeof(*env));
    *n_bufs = 0;
    for (size_t i = 0; i < job->spec->n_env && *n_bufs < AF_WIRE_MAX_ENV; i++)
        if (asprintf(&bufs[(*n_bufs)++], "%s=%s", job->spec->env[i]->name,
                     job->spec->env[i]->value) < 0)
            bufs[--(*n_bufs)] = NULL;
    if (asprintf(&bufs[*n_bufs], "AIFED_JOB_ID=%s", job->id) >= 0)
        (*n_bufs)++;
    if (asprintf(&bufs[*n_bufs], "AIFED_LEASE_ID=%s", job->lease_id) >= 0)
        (*n_bufs)++;
    if (job->spec->image && *job->spec->image &&
        asprintf(&bufs[*n_bufs], "AIFED_IMAGE=%s", job->spec->image) >= 0)
        (*n_bufs)++;
    memcpy(env + n, bufs, *n_bufs * sizeof(*env));
    return env;
}

static int spawn(struct jobs *j, struct run *r, const Aifed__Job *job, const char *dir,
                 struct af_error *why)
{
    char out[4300], *args[] = {"sh", "job.sh", NULL}, *bufs[EXTRA_ENV + 2] = {0}, **env;
    uv_process_options_t o = {0};
    uv_stdio_container_t stdio[3];
    size_t n_bufs = 0;
    int fd, rc;

    snprintf(out, sizeof(out), "%s/output.log", dir);
    if ((fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
        return af_error_set(why, "%s: %s", out, strerror(errno));
    if (!(env = job_env(job, bufs, &n_bufs))) {
        close(fd);
        return af_error_set(why, "out of memory");
    }
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = stdio[2].flags = UV_INHERIT_FD;
    stdio[1].data.fd = stdio[2].data.fd = fd;
    o.exit_cb = on_exited;
    o.file = "/bin/sh";
    o.args = args;
    o.env = env;
    o.cwd = dir;
    o.flags = UV_PROCESS_DETACHED; /* a session of its own: stop reaches all */
    o.stdio_count = 3;
    o.stdio = stdio;
    r->proc.data = r;
    rc = uv_spawn(j->loop, &r->proc, &o);
    close(fd);
    for (size_t i = 0; i < n_bufs; i++)
        free(bufs[i]);
    free(env);
    if (rc < 0) {
        /* libuv wants the handle closed even so. */
        uv_close((uv_handle_t *)&r->proc, NULL);
        return af_error_set(why, "cannot start /bin/sh: %s", uv_strerror(rc));
    }
    return 0;
}

bool jobs_again(struct jobs *j, const Aifed__Job *job)
{
    char why[AF_WIRE_MAX_TEXT], pid[32], dir[4200];
    const struct run *r = find(j, job->id);
    struct stat st;
    int state, code;

    snprintf(dir, sizeof(dir), "%s/%s", j->dir, job->id);
    if (!r && stat(dir, &st) < 0)
        return false; /* never started here */
    if (r) {
        snprintf(pid, sizeof(pid), "pid-%d", r->proc.pid);
        j->report(job->id, AIFED__JOB_STATE__JOB_RUNNING, 0, "running", pid, j->account,
                  j->arg);
    } else if (end_get(j, job->id, &state, &code, why, sizeof(why)) == 0) {
        j->report(job->id, state, code, why, "", "", j->arg);
    } else {
        j->report(job->id, AIFED__JOB_STATE__JOB_FAILED, 0, STOPPED_WITH_AGENT, "", "",
                  j->arg);
    }
    return true;
}

int jobs_start(struct jobs *j, const Aifed__Job *job, struct af_error *why)
{
    char dir[4200], pid[32];
    struct run *r;

    if (jobs_again(j, job))
        return 0;
    if (prepare(j, job, dir, sizeof(dir), why) < 0)
        return -1;
    if (!(r = calloc(1, sizeof(*r))))
        return af_error_set(why, "out of memory");
    r->owner = j;
    snprintf(r->id, sizeof(r->id), "%s", job->id);
    snprintf(r->lease, sizeof(r->lease), "%s", job->lease_id);
    if (spawn(j, r, job, dir, why) < 0) {
        free(r);
        return -1;
    }
    uv_timer_init(j->loop, &r->limit);
    r->limit.data = r;
    r->open_handles = 2;
    r->next = j->runs;
    j->runs = r;
    j->n++;
    if (job->spec->time_limit_s)
        uv_timer_start(&r->limit, on_limit, (uint64_t)job->spec->time_limit_s * 1000, 0);
    snprintf(pid, sizeof(pid), "pid-%d", r->proc.pid);
    log_info("job %s: running as %s in %s", job->id, pid, dir);
    j->report(job->id, AIFED__JOB_STATE__JOB_RUNNING, 0, "running", pid, j->account,
              j->arg);
    return 0;
}

void jobs_stop(struct jobs *j, const char *job_id, const char *reason)
{
    struct run *r = find(j, job_id);

    if (r)
        stop(r, reason);
}

void jobs_stop_lease(struct jobs *j, const char *lease_id, const char *reason)
{
    for (struct run *r = j->runs; r; r = r->next)
        if (!strcmp(r->lease, lease_id))
            stop(r, reason);
}

int jobs_read_file(const char *path, uint64_t offset, uint32_t max, uint8_t *buf,
                   size_t *got, uint64_t *size)
{
    struct stat st;
    ssize_t n = 0;
    int fd;

    *got = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        errno = ENOENT;
        return -1;
    }
    *size = (uint64_t)st.st_size;
    if (offset < *size && (n = pread(fd, buf, max, (off_t)offset)) < 0)
        n = 0;
    close(fd);
    *got = (size_t)n;
    return 0;
}

void jobs_log_piece(Aifed__JobLog *out, const char *job_id, uint64_t offset, uint8_t *buf,
                    size_t got, uint64_t size, bool ended)
{
    aifed__job_log__init(out);
    out->job_id = (char *)job_id;
    out->offset = offset;
    out->data.data = buf;
    out->data.len = got;
    out->size = size;
    /* A job still running may write more; one that ended will not. */
    out->at_end = ended && offset + got >= size;
}

int jobs_read_log(struct jobs *j, const char *job_id, uint64_t offset, uint32_t max,
                  uint8_t *buf, Aifed__JobLog *out)
{
    char path[4300];
    uint64_t size;
    size_t got;

    if (!af_id_valid(job_id)) {
        errno = ENOENT;
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s/output.log", j->dir, job_id);
    if (max > AF_WIRE_MAX_LOG_CHUNK || !max)
        max = AF_WIRE_MAX_LOG_CHUNK;
    if (jobs_read_file(path, offset, max, buf, &got, &size) < 0)
        return -1;
    jobs_log_piece(out, job_id, offset, buf, got, size, !find(j, job_id));
    return 0;
}

size_t jobs_running(const struct jobs *j)
{
    return j->n;
}

void jobs_destroy(struct jobs *j)
{
    if (!j)
        return;
    for (struct run *r = j->runs; r; r = r->next) {
        if (!r->exited) {
            end_put(j, r->id, AIFED__JOB_STATE__JOB_FAILED, 0, STOPPED_WITH_AGENT);
            kill(-r->proc.pid, SIGTERM);
            uv_close((uv_handle_t *)&r->proc, on_closed);
            uv_close((uv_handle_t *)&r->limit, on_closed);
        }
    }
    /* Runs still closing are freed by on_closed as the loop runs; the list
     * head goes with j, so they must not find it. */
    for (struct run *r = j->runs; r; r = r->next)
        r->owner = NULL;
    free(j);
}
