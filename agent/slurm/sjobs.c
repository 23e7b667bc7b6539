/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sjobs: the Slurm executor. A job is a batch script given to sbatch as the
 * job's user's own local account, into its lease's reservation and
 * partition, with its time limit. Everything done as that account (making
 * the job's directory, sbatch, scancel, reading output and the exit code)
 * is the job helper's, through sudo (exec/runas.h), and runs without the
 * loop waiting (exec/aproc.h, exec/follow.h).
 *
 * Slurm is the state: each read of the site (squeue, by the backend's
 * reader thread) says how aifed's jobs are doing, and a change reaches the
 * broker as a JobStatus. A small record per job in jobs_dir (the agent's
 * own): "SLURM_ID STATE EXIT USER LEASE DIR" and a second line, why it is
 * in that state, replaced by rename. It is written before sbatch runs
 * (Slurm id 0), so a crash between the two leaves a job found by its name
 * ("aifed-<job id>") in the next read, not sent twice; after an agent
 * restart a job is found again from it.
 *
 * Bounds: max_jobs_per_user records per account in memory (one user cannot
 * use up another's room); an ended job leaves memory ENDED_KEEP_MS after
 * its final state was told (the broker asking again is answered from its
 * record on disk); records of ended jobs leave the disk after RECORD_KEEP_S.
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
#include "slurm_backend.h"
#include "slurm_cmd.h"
#include "slurm_parse.h"

#include "aifed.pb-c.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RECORD_EXT    ".sjob"
#define RECORD_KEEP_S (7 * 86400)
/* An ended job's record stays in memory this long after its end was told. */
#define ENDED_KEEP_MS (10 * 60 * 1000)
/* The disk's records are pruned this often. */
#define PRUNE_EVERY_MS (3600 * 1000)
/* Reads in a row that must miss a job Slurm listed before it counts as
 * gone (one read may begin before sbatch answered). */
#define MISSING_READS 3
/* After sbatch, how long a queued job's start is watched closely. */
#define START_WATCH_MS 30000
/* sbatch that slurmctld did not answer (stopped, overloaded, failing
 * over) is tried again this often, for this long, while the job waits
 * QUEUED; each try first looks for the job in a read of Slurm newer than
 * the failure, so that an sbatch that did reach slurmctld is not doubled. */
#define SUBMIT_RETRY_MS     5000
#define SUBMIT_RETRY_FOR_MS (15 * 60 * 1000)
#define PATH_LEN            4096
#define MAX_OUT             4096

struct sjob {
    struct executor *x;
    char id[AF_ID_MAX + 1], lease[AF_ID_MAX + 1], user[AF_ID_MAX + 1];
    char dir[PATH_LEN + AF_ID_MAX + 2], root[PATH_LEN];
    uint32_t slurm_id; /* 0: sbatch has not answered (or the agent stopped first) */
    char node[AF_ID_MAX + 1]; /* where it runs, as Slurm last said, or "" */
    int state;                /* as last reported (Aifed__JobState) */
    int exit_code;            /* and its exit code, and why */
    char why[AF_WIRE_MAX_TEXT];
    unsigned missing;             /* reads since Slurm last listed it */
    int64_t watch_until;          /* monotonic ms: just submitted, its start is watched */
    int64_t ended_ms;             /* monotonic ms its end was told, or 0 */
    bool submitting;              /* sbatch runs */
    int64_t retry_ms;             /* monotonic ms sbatch is tried again, or 0 */
    int64_t retry_until;          /* ... until then */
    uint64_t failed_read;         /* the read of Slurm when sbatch last failed */
    char opts[6][AF_ID_MAX + 32]; /* sbatch's options, for a retry */
    size_t n_opts;
    uint32_t dup_cancelled; /* a second copy of it in Slurm, cancelled */
    bool asking_exit;       /* the helper reads its exit code */
    int refs;               /* callbacks in flight that hold it */
    bool dropped;           /* out of the list; freed when refs reach 0 */
    struct sjob *next;
};

struct executor {
    struct executor_env env;
    char records[PATH_LEN]; /* jobs_dir */
    struct sjob *jobs;
    size_t n;
    uint64_t last_read;
    int64_t pruned_ms;
};

static bool open_state(int state)
{
    return state == AIFED__JOB_STATE__JOB_QUEUED ||
           state == AIFED__JOB_STATE__JOB_RUNNING;
}

static const struct slurm_cmd *cmd(const struct executor *x)
{
    return backend_slurm_cmd(x->env.b);
}

/* ---- records ---- */

static void record_path(const struct executor *x, const char *id, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s" RECORD_EXT, x->records, id);
}

static int record_put(const struct executor *x, const struct sjob *r)
{
    char path[PATH_LEN + 80], tmp[PATH_LEN + 96];
    FILE *f;
    int ok;

    record_path(x, r->id, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (!(f = fopen(tmp, "w"))) {
        log_err("job %s: %s", r->id, tmp);
        return -1;
    }
    fprintf(f, "%u %d %d %s %s %s\n%s\n", r->slurm_id, r->state, r->exit_code, r->user,
            r->lease, r->dir, r->why);
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0 || !ok || rename(tmp, path) < 0) {
        log_err("job %s: %s", r->id, path);
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void record_del(const struct executor *x, const char *id)
{
    char path[PATH_LEN + 80];

    record_path(x, id, path, sizeof(path));
    unlink(path);
}

static struct sjob *find(const struct executor *x, const char *id)
{
    for (struct sjob *r = x->jobs; r; r = r->next)
        if (!strcmp(r->id, id))
            return r;
    return NULL;
}

static size_t of_user(const struct executor *x, const char *user)
{
    size_t n = 0;

    for (const struct sjob *r = x->jobs; r; r = r->next)
        n += !strcmp(r->user, user);
    return n;
}

/* A record for job id of account user; NULL when user has no room (capped:
 * a new job; a job on record is real, in Slurm, and always kept) or memory
 * ran out. */
static struct sjob *add(struct executor *x, const char *id, const char *user, bool capped)
{
    struct sjob *r;

    if ((capped && of_user(x, user) >= x->env.conf->max_jobs_per_user) ||
        !(r = calloc(1, sizeof(*r))))
        return NULL;
    r->x = x;
    snprintf(r->id, sizeof(r->id), "%s", id);
    snprintf(r->user, sizeof(r->user), "%s", user);
    r->next = x->jobs;
    x->jobs = r;
    x->n++;
    return r;
}

static void unref(struct sjob *r)
{
    if (--r->refs == 0 && r->dropped)
        free(r);
}

/* Out of memory (its record stays on disk); freed once no callback holds it. */
static void drop(struct executor *x, struct sjob *r)
{
    for (struct sjob **pp = &x->jobs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            x->n--;
            break;
        }
    r->dropped = true;
    if (r->refs == 0)
        free(r);
}

/* The job's root (job_root filled in) from its directory. */
static void root_of(struct sjob *r)
{
    const char *slash;

    size_t len = (slash = strrchr(r->dir, '/')) ? (size_t)(slash - r->dir) : 0;

    if (len >= sizeof(r->root))
        len = 0;
    memcpy(r->root, r->dir, len);
    r->root[len] = '\0';
}

/* Read one record file into the list (NULL: not there, or not a record). */
static struct sjob *record_load(struct executor *x, const char *id, bool keep_old)
{
    char path[PATH_LEN + 80], line[PATH_LEN + 256], user[AF_ID_MAX + 1];
    char lease[AF_ID_MAX + 1], why[AF_WIRE_MAX_TEXT] = "";
    struct sjob *r;
    struct stat st;
    unsigned slurm_id;
    int state, code, used = 0;
    FILE *f;

    record_path(x, id, path, sizeof(path));
    if (!af_id_valid(id) || !(f = fopen(path, "r")))
        return NULL;
    if (!fgets(line, sizeof(line), f) || fstat(fileno(f), &st) < 0 ||
        sscanf(line, "%u %d %d %64s %64s %n", &slurm_id, &state, &code, user, lease,
               &used) < 5 ||
        !used) {
        fclose(f);
        log_warnx("%s: not a job record; left alone", path);
        return NULL;
    }
    if (fgets(why, sizeof(why), f))
        why[strcspn(why, "\n")] = '\0';
    fclose(f);
    if (!open_state(state) && !keep_old && time(NULL) - st.st_mtime > RECORD_KEEP_S) {
        unlink(path);
        return NULL;
    }
    if (!(r = add(x, id, user, false))) {
        log_err("job %s: its record", id);
        return NULL;
    }
    line[strcspn(line, "\n")] = '\0';
    r->slurm_id = slurm_id;
    r->state = state;
    r->exit_code = code;
    snprintf(r->why, sizeof(r->why), "%s", why);
    snprintf(r->lease, sizeof(r->lease), "%s", lease);
    snprintf(r->dir, sizeof(r->dir), "%s", line + used);
    root_of(r);
    if (!open_state(state))
        r->ended_ms = af_mono_ms();
    return r;
}

/* Every record of a job still open; the old ended ones are removed. */
static int records_load(struct executor *x, struct af_error *err)
{
    char id[AF_ID_MAX + 1];
    size_t ext = strlen(RECORD_EXT), len;
    struct dirent *e;
    DIR *d;

    /* Made by the first job (a site may run none through aifed). */
    if (!(d = opendir(x->records)))
        return errno == ENOENT ? 0
                               : af_error_set(err, "%s: %s", x->records, strerror(errno));
    while ((e = readdir(d))) {
        len = strlen(e->d_name);
        if (len <= ext || len - ext > AF_ID_MAX ||
            strcmp(e->d_name + len - ext, RECORD_EXT))
            continue;
        snprintf(id, sizeof(id), "%.*s", (int)(len - ext), e->d_name);
        struct sjob *r = record_load(x, id, false);
        if (r && !open_state(r->state))
            drop(x, r); /* ended: read from disk if asked again */
    }
    closedir(d);
    if (x->n)
        log_info("%zu Slurm job%s on record", x->n, x->n == 1 ? "" : "s");
    return 0;
}

/* Ended records older than RECORD_KEEP_S leave the disk. */
static void records_prune(struct executor *x)
{
    size_t ext = strlen(RECORD_EXT), len;
    char path[PATH_LEN + 300];
    struct dirent *e;
    struct stat st;
    DIR *d;

    if (!(d = opendir(x->records)))
        return;
    while ((e = readdir(d))) {
        len = strlen(e->d_name);
        if (len <= ext || strcmp(e->d_name + len - ext, RECORD_EXT))
            continue;
        snprintf(path, sizeof(path), "%s/%s", x->records, e->d_name);
        if (stat(path, &st) == 0 && time(NULL) - st.st_mtime > RECORD_KEEP_S) {
            char id[AF_ID_MAX + 1];
            snprintf(id, sizeof(id), "%.*s", (int)(len - ext), e->d_name);
            struct sjob *r = find(x, id);
            if (!r || !open_state(r->state))
                unlink(path);
        }
    }
    closedir(d);
}

/* ---- telling ---- */

static void tell(struct executor *x, const struct sjob *r)
{
    char sid[16] = "";

    if (r->slurm_id)
        snprintf(sid, sizeof(sid), "%u", r->slurm_id);
    x->env.report(r->id, r->state, r->exit_code, r->why, sid, r->user, x->env.arg);
}

/* r is now in state: recorded and logged when that is a change; told. */
static void report(struct executor *x, struct sjob *r, int state, int code,
                   const char *why)
{
    if (state != r->state) {
        r->state = state;
        r->exit_code = code;
        snprintf(r->why, sizeof(r->why), "%s", why);
        record_put(x, r);
        log_info("job %s (Slurm job %u): %s", r->id, r->slurm_id, why);
        if (!open_state(state)) {
            r->ended_ms = af_mono_ms();
            follow_ended(x->env.follow, r->id);
        }
    }
    tell(x, r);
}

/* ---- the helper, as the job's account ---- */

/* argv: sudo ... helper verb, then up to 16 of the caller's. */
struct hargv {
    char *v[32];
    size_t n;
};

static void hargv_init(struct hargv *h, const struct executor *x, const char *user,
                       const char *verb)
{
    h->n = runas_argv(x->env.runas, user, verb, h->v);
    h->v[h->n] = NULL;
}

static void hargv_add(struct hargv *h, const char *arg)
{
    if (h->n < sizeof(h->v) / sizeof(h->v[0]) - 1) {
        h->v[h->n++] = (char *)arg;
        h->v[h->n] = NULL;
    }
}

/* The first line of a command's stderr, for a reason. */
static const char *first_line(const char *err, char *buf, size_t size)
{
    snprintf(buf, size, "%s", err);
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

/* ---- start ---- */

/* A failure slurmctld's silence explains (the command timed out, or said
 * it could not reach it), not the job's. */
static bool transient(const struct aproc_result *res)
{
    static const char *const words[] = {
        "timed out", "Unable to contact", "Connection refused",
        "Zero Bytes were transmitted", "no answer within"};

    if (res->status == -1)
        return true;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(res->err, words[i]))
            return true;
    return false;
}

static void on_submitted(const struct aproc_result *res, void *arg)
{
    struct sjob *r = arg;
    struct executor *x = r->x;
    char line[AF_WIRE_MAX_TEXT], why[AF_WIRE_MAX_TEXT + 32];
    unsigned long id = 0;
    char *end = NULL;

    r->submitting = false;
    if (r->dropped || res->stopping) { /* its record says how far it got */
        unref(r);
        return;
    }
    if (res->status == 0) {
        /* --parsable: "ID" or "ID;cluster" */
        id = strtoul(res->out, &end, 10);
        if (!id || id > UINT32_MAX || (*end && *end != ';' && *end != '\n'))
            id = 0;
    }
    if (!id && transient(res) && af_mono_ms() < r->retry_until) {
        const struct slurm_job *v;
        size_t n;
        r->failed_read = backend_slurm_jobs(x->env.b, &v, &n);
        r->retry_ms = af_mono_ms() + SUBMIT_RETRY_MS;
        log_warnx("job %s: sbatch: %s; trying again while it waits", r->id,
                  *res->err ? first_line(res->err, line, sizeof(line)) : "no answer");
        unref(r);
        return;
    }
    r->retry_ms = 0;
    if (!id) {
        snprintf(why, sizeof(why), "not submitted: %s",
                 res->status == 0 ? "sbatch answered no job id"
                 : *res->err      ? first_line(res->err, line, sizeof(line))
                                  : "sbatch failed");
        log_info("job %s: %s", r->id, why);
        /* The helper may have made the directory: its record goes, and a
         * StartJob sent again fails the same way rather than finding it. */
        report(x, r, AIFED__JOB_STATE__JOB_FAILED, 0, why);
        unref(r);
        return;
    }
    r->slurm_id = (uint32_t)id;
    r->watch_until = af_mono_ms() + START_WATCH_MS;
    record_put(x, r); /* now with Slurm's id */
    log_info("job %s (Slurm job %u): %s", r->id, r->slurm_id, r->why);
    tell(x, r);
    unref(r);
}

/* Everything a job needs checked before anything is done: where, as whom
 * (the user map's account, allowed here now), and in which directory. */
static int plan(struct executor *x, const Aifed__Job *job, struct backend_target *t,
                char *root, size_t size, struct af_error *why)
{
    char home[PATH_LEN];

    if (backend_slurm_target(x->env.b, job, t, why) < 0 ||
        runas_check(x->env.runas, t->user, NULL, home, sizeof(home), why) < 0)
        return -1;
    return runas_job_root(x->env.conf->job_root, t->user, home, root, size, why);
}

/* sbatch (again: resubmit, on the script the first left) as r's user. */
static int run_sbatch(struct executor *x, struct sjob *r, const char *script)
{
    char sbatch[PATH_LEN];
    struct hargv h;
    int rc;

    slurm_cmd_path(cmd(x), "sbatch", sbatch, sizeof(sbatch));
    hargv_init(&h, x, r->user, script ? "submit" : "resubmit");
    hargv_add(&h, r->root);
    hargv_add(&h, r->id);
    hargv_add(&h, sbatch);
    hargv_add(&h, slurm_cmd_conf(cmd(x)));
    for (size_t i = 0; i < r->n_opts; i++)
        hargv_add(&h, r->opts[i]);
    r->refs++;
    rc = aproc_run(x->env.procs, h.v, script, script ? strlen(script) : 0,
                   cmd(x)->timeout_ms * 3, MAX_OUT, on_submitted, r);
    if (rc < 0) {
        r->refs--;
        return -1;
    }
    r->submitting = true;
    return 0;
}

static void opt(struct sjob *r, const char *fmt, const char *value)
{
    if (r->n_opts < sizeof(r->opts) / sizeof(r->opts[0]))
        snprintf(r->opts[r->n_opts++], sizeof(r->opts[0]), fmt, value);
}

static int submit(struct executor *x, struct sjob *r, const Aifed__Job *job,
                  const struct backend_target *t, struct af_error *why)
{
    char gpus[16], time_s[32], where[200];
    char *text;
    int rc;

    snprintf(gpus, sizeof(gpus), "%u", job->gpus ? job->gpus : 1);
    opt(r, "--job-name=aifed-%s", job->id);
    opt(r, "--reservation=%s", t->reservation);
    opt(r, "--partition=%s", t->partition);
    opt(r, "--gpus=%s", gpus);
    /* minutes:seconds, Slurm's form. The broker always sets a limit, no
     * longer than the lease; were there none, the reservation's end would
     * bound the job. */
    if (job->spec->time_limit_s) {
        snprintf(time_s, sizeof(time_s), "%u:%02u", job->spec->time_limit_s / 60,
                 job->spec->time_limit_s % 60);
        opt(r, "--time=%s", time_s);
    }
    if (*t->account)
        opt(r, "--account=%s", t->account);
    snprintf(where, sizeof(where),
             "runs as Slurm job $SLURM_JOB_ID in reservation %s on $(hostname -s)",
             t->reservation);
    if (!(text = jobscript_for(job, r->dir, where)))
        return af_error_set(why, "out of memory");
    r->retry_until = af_mono_ms() + SUBMIT_RETRY_FOR_MS;
    rc = run_sbatch(x, r, text);
    free(text);
    if (rc < 0)
        return af_error_set(why, "%s",
                            errno == EAGAIN ? "the site has too many commands waiting; "
                                              "submit it again"
                                            : strerror(errno));
    return 0;
}

/* Said again: from memory, else from its record on disk. */
static bool again(struct executor *x, const Aifed__Job *job)
{
    struct sjob *r = find(x, job->id);

    if (!r && (r = record_load(x, job->id, true)) && !open_state(r->state))
        r->ended_ms = af_mono_ms();
    if (r) /* as last seen; the next read of Slurm says more if it changed */
        tell(x, r);
    return r != NULL;
}

static int sjobs_start(struct executor *x, const Aifed__Job *job, struct af_error *why)
{
    struct backend_target t;
    char root[PATH_LEN];
    struct sjob *r;

    if (again(x, job))
        return 0;
    if (plan(x, job, &t, root, sizeof(root), why) < 0)
        return -1;
    if (mkdir(x->records, 0700) < 0 && errno != EEXIST)
        return af_error_set(why, "jobs_dir %s: %s", x->records, strerror(errno));
    if (!(r = add(x, job->id, t.user, true)))
        return af_error_set(why,
                            "this site keeps at most %u jobs of account %s at once "
                            "(max_jobs_per_user); let some end",
                            x->env.conf->max_jobs_per_user, t.user);
    snprintf(r->lease, sizeof(r->lease), "%s", job->lease_id);
    snprintf(r->root, sizeof(r->root), "%s", root);
    snprintf(r->dir, sizeof(r->dir), "%s/%s", root, job->id);
    r->state = AIFED__JOB_STATE__JOB_QUEUED;
    snprintf(r->why, sizeof(r->why), "queued in Slurm");
    if (record_put(x, r) < 0) {
        af_error_set(why, "cannot keep the job's record in %s", x->records);
        drop(x, r);
        return -1;
    }
    if (submit(x, r, job, &t, why) < 0) {
        record_del(x, r->id);
        drop(x, r);
        return -1;
    }
    return 0;
}

static const char *sjobs_node(struct executor *x, const char *job_id)
{
    const struct sjob *r = find(x, job_id);

    return r && *r->node ? backend_slurm_node_addr(x->env.b, r->node) : NULL;
}

static int sjobs_account(struct executor *x, const Aifed__Job *job, char *buf,
                         size_t size, struct af_error *why)
{
    struct backend_target t;

    if (backend_slurm_target(x->env.b, job, &t, why) < 0)
        return -1;
    snprintf(buf, size, "%s", t.user);
    return 0;
}

/* ---- cancel ---- */

static void on_cancelled(const struct aproc_result *res, void *arg)
{
    char line[AF_WIRE_MAX_TEXT];
    char *id = arg;

    if (res->status != 0 && !res->stopping)
        log_warnx("job %s: scancel: %s (the lease's end stops it)", id,
                  *res->err ? first_line(res->err, line, sizeof(line)) : "failed");
    free(id);
}

static void cancel(struct executor *x, struct sjob *r, const char *reason)
{
    char id[16], name[AF_ID_MAX + 24], scancel[PATH_LEN];
    struct hargv h;
    char *copy;

    if (!open_state(r->state))
        return;
    snprintf(id, sizeof(id), "%u", r->slurm_id);
    snprintf(name, sizeof(name), "aifed-%s", r->id);
    slurm_cmd_path(cmd(x), "scancel", scancel, sizeof(scancel));
    hargv_init(&h, x, r->user, "scancel");
    hargv_add(&h, scancel);
    hargv_add(&h, slurm_cmd_conf(cmd(x)));
    hargv_add(&h, r->slurm_id ? id : name);
    if (!(copy = strdup(r->id)) ||
        aproc_run(x->env.procs, h.v, NULL, 0, cmd(x)->timeout_ms, MAX_OUT, on_cancelled,
                  copy) < 0) {
        log_warnx("job %s: cannot run scancel now (the lease's end stops it)", r->id);
        free(copy);
    }
    report(x, r, AIFED__JOB_STATE__JOB_CANCELLED, 0, reason);
}

static void sjobs_cancel(struct executor *x, const char *job_id, const char *reason)
{
    struct sjob *r = find(x, job_id);

    if (r)
        cancel(x, r, reason);
}

static void sjobs_cancel_lease(struct executor *x, const char *lease_id,
                               const char *reason)
{
    for (struct sjob *r = x->jobs; r; r = r->next)
        if (!strcmp(r->lease, lease_id))
            cancel(x, r, reason);
}

/* ---- output ---- */

static int sjobs_read_log(struct executor *x, const char *job_id, uint64_t offset,
                          uint32_t max, executor_log_fn reply, void *arg)
{
    struct sjob *r = find(x, job_id);
    struct hargv h;

    if (!r) {
        errno = ENOENT;
        return -1;
    }
    if (max > AF_WIRE_MAX_LOG_CHUNK || !max)
        max = AF_WIRE_MAX_LOG_CHUNK;
    r->ended_ms = r->ended_ms ? af_mono_ms() : 0; /* read: keep it a while yet */
    hargv_init(&h, x, r->user, "follow");
    hargv_add(&h, r->root);
    hargv_add(&h, r->id);
    hargv_add(&h, "output.log");
    follow_read(x->env.follow, r->id, r->user, h.v, !open_state(r->state), offset, max,
                reply, arg);
    return 0;
}

/* ---- what Slurm says ---- */

/* A Slurm job state (squeue's job_state) as aifed's, with why in words. */
static int state_of(const struct slurm_job *j, char *why, size_t size)
{
    static const struct {
        const char *slurm;
        int state;
    } map[] = {
        {"PENDING", AIFED__JOB_STATE__JOB_QUEUED},
        {"CONFIGURING", AIFED__JOB_STATE__JOB_RUNNING},
        {"RUNNING", AIFED__JOB_STATE__JOB_RUNNING},
        {"COMPLETING", AIFED__JOB_STATE__JOB_RUNNING},
        {"SUSPENDED", AIFED__JOB_STATE__JOB_RUNNING},
        {"COMPLETED", AIFED__JOB_STATE__JOB_COMPLETED},
        {"CANCELLED", AIFED__JOB_STATE__JOB_CANCELLED},
        {"TIMEOUT", AIFED__JOB_STATE__JOB_TIMEOUT},
        {"DEADLINE", AIFED__JOB_STATE__JOB_TIMEOUT},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(j->state, map[i].slurm)) {
            if (map[i].state == AIFED__JOB_STATE__JOB_COMPLETED)
                snprintf(why, size, "exited 0");
            else if (map[i].state == AIFED__JOB_STATE__JOB_TIMEOUT)
                snprintf(why, size, "its time limit passed (Slurm: %s)", j->state);
            else
                snprintf(why, size, "Slurm: %s", j->state);
            return map[i].state;
        }
    /* FAILED, NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, PREEMPTED, ... */
    if (!strcmp(j->state, "FAILED"))
        snprintf(why, size, "exited %d", j->exit_code);
    else
        snprintf(why, size, "Slurm: %s", j->state);
    return AIFED__JOB_STATE__JOB_FAILED;
}

static const struct slurm_job *listed(const struct sjob *r, const struct slurm_job *v,
                                      size_t n)
{
    char name[AF_ID_MAX + 16];

    snprintf(name, sizeof(name), "aifed-%s", r->id);
    for (size_t i = 0; i < n; i++)
        if (r->slurm_id ? v[i].id == r->slurm_id : !strcmp(v[i].name, name))
            return &v[i];
    return NULL;
}

static void on_exit_code(const struct aproc_result *res, void *arg)
{
    struct sjob *r = arg;
    char why[64];
    int code;

    r->asking_exit = false;
    if (r->dropped || res->stopping || !open_state(r->state)) {
        unref(r);
        return;
    }
    if (res->status == 0 && res->out_len) {
        code = atoi(res->out);
        snprintf(why, sizeof(why), "exited %d", code);
        report(r->x, r,
               code ? AIFED__JOB_STATE__JOB_FAILED : AIFED__JOB_STATE__JOB_COMPLETED,
               code, why);
    } else {
        report(r->x, r, AIFED__JOB_STATE__JOB_FAILED, 0,
               "Slurm no longer knows the job, and its end was not seen");
    }
    unref(r);
}

/* Slurm lists it no more (purged after MinJobAge while the agent was
 * away): its script wrote the exit code, if it got that far. */
static void gone(struct executor *x, struct sjob *r)
{
    struct hargv h;

    if (!r->slurm_id) {
        report(x, r, AIFED__JOB_STATE__JOB_FAILED, 0,
               "the agent stopped while giving it to sbatch, and Slurm has no such job: "
               "submit it again");
        return;
    }
    if (r->asking_exit)
        return;
    hargv_init(&h, x, r->user, "cat");
    hargv_add(&h, r->root);
    hargv_add(&h, r->id);
    hargv_add(&h, ".aifed-exit");
    r->refs++;
    if (aproc_run(x->env.procs, h.v, NULL, 0, cmd(x)->timeout_ms, 64, on_exit_code, r) <
        0)
        r->refs--; /* asked again at the next read */
    else
        r->asking_exit = true;
}

/* A job whose lease no longer stands here (it ended while the agent was
 * away, or was lost) must not run on: Slurm's reservation is gone, so
 * nothing else would stop it before its time limit. */
static void orphaned(struct executor *x, struct sjob *r)
{
    if (!r->submitting && backend_slurm_read_once(x->env.b) &&
        !x->env.bops->holding(x->env.b, r->lease))
        cancel(x, r, "its lease no longer stands at this site");
}

/* An sbatch that timed out may still reach a slurmctld that was only
 * stopped, after the agent tried again: a second job by the same name,
 * which is cancelled (the one whose id the agent has runs). */
static void cancel_copies(struct executor *x, const struct slurm_job *v, size_t n)
{
    char id[16], scancel[PATH_LEN];
    struct hargv h;

    for (size_t i = 0; i < n; i++) {
        struct sjob *r = strncmp(v[i].name, "aifed-", 6) ? NULL : find(x, v[i].name + 6);
        if (!r || !r->slurm_id || v[i].id == r->slurm_id || v[i].id == r->dup_cancelled ||
            strcmp(v[i].user, r->user))
            continue;
        log_warnx("job %s: Slurm has a second copy (Slurm job %u) from an sbatch that "
                  "timed out; cancelling it",
                  r->id, v[i].id);
        snprintf(id, sizeof(id), "%u", v[i].id);
        slurm_cmd_path(cmd(x), "scancel", scancel, sizeof(scancel));
        hargv_init(&h, x, r->user, "scancel");
        hargv_add(&h, scancel);
        hargv_add(&h, slurm_cmd_conf(cmd(x)));
        hargv_add(&h, id);
        char *copy = strdup(r->id);
        if (copy && aproc_run(x->env.procs, h.v, NULL, 0, cmd(x)->timeout_ms, MAX_OUT,
                              on_cancelled, copy) == 0)
            r->dup_cancelled = v[i].id;
        else
            free(copy);
    }
}

/* sbatch again, once a read of Slurm newer than its failure does not list
 * the job (so the failed one did not reach slurmctld). */
static void retry(struct executor *x, struct sjob *r, uint64_t read)
{
    /* read k+1 may have begun before the failure; k+2 began after it. */
    if (read < r->failed_read + 2 || af_mono_ms() < r->retry_ms)
        return;
    if (run_sbatch(x, r, NULL) < 0)
        r->retry_ms = af_mono_ms() + SUBMIT_RETRY_MS;
}

static void sync_jobs(struct executor *x)
{
    const struct slurm_job *v, *j;
    uint64_t read;
    size_t n;
    char why[AF_WIRE_MAX_TEXT];

    read = backend_slurm_jobs(x->env.b, &v, &n);
    if (read == x->last_read)
        return; /* no new read of Slurm's jobs */
    x->last_read = read;
    for (struct sjob *r = x->jobs; r; r = r->next) {
        int state;
        if (!open_state(r->state) || r->submitting)
            continue;
        if (!(j = listed(r, v, n))) {
            if (r->retry_ms)
                retry(x, r, read);
            else if (++r->missing >= MISSING_READS)
                gone(x, r);
            continue;
        }
        r->retry_ms = 0; /* an sbatch that timed out had reached slurmctld */
        r->missing = 0;
        if (!r->slurm_id) { /* found by its name after a restart */
            r->slurm_id = j->id;
            record_put(x, r);
        }
        snprintf(r->node, sizeof(r->node), "%s", j->node);
        state = state_of(j, why, sizeof(why));
        if (state != r->state)
            report(x, r, state, j->exit_code, why);
        else
            orphaned(x, r);
    }
    cancel_copies(x, v, n);
}

static void sjobs_poll(struct executor *x)
{
    int64_t now = af_mono_ms();
    struct sjob *r, *next;

    sync_jobs(x);
    for (r = x->jobs; r; r = next) {
        next = r->next;
        if (r->ended_ms && now - r->ended_ms > ENDED_KEEP_MS)
            drop(x, r);
    }
    if (now - x->pruned_ms > PRUNE_EVERY_MS) {
        x->pruned_ms = now;
        records_prune(x);
    }
}

static bool sjobs_starting(const struct executor *x)
{
    int64_t now = af_mono_ms();

    for (const struct sjob *r = x->jobs; r; r = r->next)
        if (r->state == AIFED__JOB_STATE__JOB_QUEUED &&
            (r->submitting || now < r->watch_until))
            return true;
    return false;
}

static void sjobs_set_backend(struct executor *x, struct backend *b)
{
    x->env.b = b;
    x->last_read = 0; /* a new backend counts its reads afresh */
}

static size_t sjobs_count(const struct executor *x)
{
    return x->n;
}

static struct executor *sjobs_create(const struct executor_env *env, struct af_error *err)
{
    struct executor *x = calloc(1, sizeof(*x));
    char *dir = aconf_path(env->conf, env->conf->jobs_dir);

    if (!x || !dir) {
        free(x);
        free(dir);
        af_error_set(err, "out of memory");
        return NULL;
    }
    x->env = *env;
    snprintf(x->records, sizeof(x->records), "%s", dir);
    free(dir);
    x->pruned_ms = af_mono_ms();
    if (records_load(x, err) < 0) {
        free(x);
        return NULL;
    }
    return x;
}

static void sjobs_destroy(struct executor *x)
{
    if (!x)
        return;
    /* The command pool went first: every callback has let go of its job. */
    while (x->jobs) {
        struct sjob *r = x->jobs;
        x->jobs = r->next;
        free(r);
    }
    free(x);
}

const struct executor_ops executor_slurm_ops = {
    .name = "slurm",
    .create = sjobs_create,
    .destroy = sjobs_destroy,
    .start = sjobs_start,
    .account = sjobs_account,
    .node = sjobs_node,
    .cancel = sjobs_cancel,
    .cancel_lease = sjobs_cancel_lease,
    .read_log = sjobs_read_log,
    .poll = sjobs_poll,
    .starting = sjobs_starting,
    .set_backend = sjobs_set_backend,
    .count = sjobs_count,
};
