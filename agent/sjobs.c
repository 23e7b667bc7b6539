/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sjobs: one struct sjob per job in a list (a site runs its leases' jobs,
 * at most AF_WIRE_MAX_JOBS open in each), each with its record on disk:
 * "SLURM_ID STATE EXIT USER LEASE DIR" and a second line, why it is in that
 * state, replaced by rename. The record is written
 * before sbatch runs (Slurm id 0), so a crash between the two leaves a job
 * found by its name ("aifed-<job id>") in the next read, not sent twice.
 */
#include "sjobs.h"
#include "aconf.h"
#include "af_ids.h"
#include "af_log.h"
#include "af_time.h"
#include "af_wire.h"
#include "backend.h"
#include "proc.h"
#include "slurm_cmd.h"
#include "slurm_parse.h"

#include "aifed.pb-c.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RECORD_EXT ".sjob"
/* Records of jobs that ended are kept this long (a broker asking again
 * after an outage is answered from them), then removed at start. */
#define RECORD_KEEP_S (7 * 86400)
/* Reads in a row that must miss a job Slurm listed before it counts as
 * gone (one read may begin before sbatch answered). */
#define MISSING_READS 3
/* After sbatch, how long a queued job's start is watched closely (Slurm's
 * own scheduler starts one in a free reservation within seconds). */
#define START_WATCH_MS 30000
#define MAX_SJOBS      4096
#define PATH_LEN       4096

struct sjob {
    char id[AF_ID_MAX + 1], lease[AF_ID_MAX + 1], user[AF_ID_MAX + 1];
    char dir[PATH_LEN];
    uint32_t slurm_id; /* 0: sbatch has not answered (or the agent stopped first) */
    int state;         /* as last reported (Aifed__JobState) */
    int exit_code;     /* and its exit code, and why */
    char why[AF_WIRE_MAX_TEXT];
    unsigned missing;    /* reads since Slurm last listed it */
    int64_t watch_until; /* monotonic ms: just submitted, its start is watched */
    struct sjob *next;
};

struct sjobs {
    const struct aconf *conf;
    struct backend *b;
    char records[PATH_LEN]; /* jobs_dir */
    jobs_report_fn report;
    void *arg;
    struct sjob *jobs;
    size_t n;
    uint64_t last_read;
    bool root;     /* the agent reads any account's output itself */
    char self[64]; /* the agent's own account */
};

static bool open_state(int state)
{
    return state == AIFED__JOB_STATE__JOB_QUEUED ||
           state == AIFED__JOB_STATE__JOB_RUNNING;
}

/* ---- records ---- */

static void record_path(const struct sjobs *sj, const char *id, const char *ext,
                        char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s%s", sj->records, id, ext);
}

static int record_put(const struct sjobs *sj, const struct sjob *r)
{
    char path[PATH_LEN + 80], tmp[PATH_LEN + 96];
    FILE *f;
    int ok;

    record_path(sj, r->id, RECORD_EXT, path, sizeof(path));
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

static struct sjob *find(const struct sjobs *sj, const char *id)
{
    for (struct sjob *r = sj->jobs; r; r = r->next)
        if (!strcmp(r->id, id))
            return r;
    return NULL;
}

static struct sjob *add(struct sjobs *sj, const char *id)
{
    struct sjob *r;

    if (sj->n >= MAX_SJOBS || !(r = calloc(1, sizeof(*r))))
        return NULL;
    snprintf(r->id, sizeof(r->id), "%s", id);
    r->next = sj->jobs;
    sj->jobs = r;
    sj->n++;
    return r;
}

/* One record file into the list; an ended job's old record is removed. */
static void record_load(struct sjobs *sj, const char *name)
{
    char path[PATH_LEN + 80], id[AF_ID_MAX + 1], line[PATH_LEN + 256];
    char user[AF_ID_MAX + 1], lease[AF_ID_MAX + 1];
    size_t len = strlen(name) - strlen(RECORD_EXT);
    struct sjob *r;
    struct stat st;
    unsigned slurm_id;
    int state, code, used = 0;
    char why[AF_WIRE_MAX_TEXT] = "";
    FILE *f;

    if (len > AF_ID_MAX)
        return;
    snprintf(id, sizeof(id), "%.*s", (int)len, name);
    snprintf(path, sizeof(path), "%s/%s", sj->records, name);
    if (!af_id_valid(id) || !(f = fopen(path, "r")))
        return;
    if (!fgets(line, sizeof(line), f) || fstat(fileno(f), &st) < 0 ||
        sscanf(line, "%u %d %d %64s %64s %n", &slurm_id, &state, &code, user, lease,
               &used) < 5 ||
        !used) {
        fclose(f);
        log_warnx("%s: not a job record; left alone", path);
        return;
    }
    if (fgets(why, sizeof(why), f))
        why[strcspn(why, "\n")] = '\0';
    fclose(f);
    if (!open_state(state) && time(NULL) - st.st_mtime > RECORD_KEEP_S) {
        unlink(path);
        return;
    }
    if (!(r = add(sj, id)))
        return;
    line[strcspn(line, "\n")] = '\0';
    r->slurm_id = slurm_id;
    r->state = state;
    r->exit_code = code;
    snprintf(r->why, sizeof(r->why), "%s", why);
    snprintf(r->user, sizeof(r->user), "%s", user);
    snprintf(r->lease, sizeof(r->lease), "%s", lease);
    snprintf(r->dir, sizeof(r->dir), "%s", line + used);
}

static int records_load(struct sjobs *sj, struct af_error *err)
{
    DIR *d;
    struct dirent *e;
    size_t ext = strlen(RECORD_EXT), len;

    /* Made by the first job (a site may run none through aifed). */
    if (!(d = opendir(sj->records)))
        return errno == ENOENT
                   ? 0
                   : af_error_set(err, "%s: %s", sj->records, strerror(errno));
    while ((e = readdir(d)))
        if ((len = strlen(e->d_name)) > ext && !strcmp(e->d_name + len - ext, RECORD_EXT))
            record_load(sj, e->d_name);
    closedir(d);
    if (sj->n)
        log_info("%zu Slurm job%s on record", sj->n, sj->n == 1 ? "" : "s");
    return 0;
}

/* ---- the batch script ---- */

/* s in single quotes for sh. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    fputc('\'', f);
}

/* data as a file at name (quoted), decoded by base64 from a here-document
 * (base64 has no '_', so the delimiter never occurs in it). */
static int put_file(FILE *f, const char *name, const void *data, size_t len, bool exec)
{
    size_t b64 = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *text = malloc(b64);

    if (!text)
        return -1;
    sodium_bin2base64(text, b64, data, len, sodium_base64_VARIANT_ORIGINAL);
    if (strchr(name, '/')) {
        fputs("mkdir -p \"$(dirname ", f);
        put_quoted(f, name);
        fputs(")\" || exit 1\n", f);
    }
    fputs("base64 -d >", f);
    put_quoted(f, name);
    fputs(" <<'AIFED_EOF' || exit 1\n", f);
    for (size_t i = 0, n = strlen(text); i < n; i += 76)
        fprintf(f, "%.76s\n", text + i);
    fputs("AIFED_EOF\n", f);
    if (exec) {
        fputs("chmod +x ", f);
        put_quoted(f, name);
        fputc('\n', f);
    }
    free(text);
    return 0;
}

static void put_env(FILE *f, const char *name, const char *value)
{
    fprintf(f, "export %s=", name);
    put_quoted(f, value);
    fputc('\n', f);
}

/* The batch script for job, run in dir: a malloc'd string, or NULL. */
static char *script_for(const Aifed__Job *job, const char *dir, const char *reservation)
{
    const Aifed__JobSpec *s = job->spec;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int bad = 0;

    if (!f)
        return NULL;
    fprintf(f,
            "#!/bin/sh\n# aifed job %s in lease %s, written by aifed-agent\numask 077\n",
            job->id, job->lease_id);
    fputs("d=", f);
    put_quoted(f, dir);
    fputs("\nmkdir -p \"$d\" && cd \"$d\" || exit 1\nexec >>output.log 2>&1\n", f);
    fprintf(f,
            "echo \"aifed: job %s runs as Slurm job $SLURM_JOB_ID in reservation %s on "
            "$(hostname -s), as $(id -un)\"\n",
            job->id, reservation);
    for (size_t i = 0; i < s->n_env; i++)
        put_env(f, s->env[i]->name, s->env[i]->value);
    put_env(f, "AIFED_JOB_ID", job->id);
    put_env(f, "AIFED_LEASE_ID", job->lease_id);
    if (*s->image)
        put_env(f, "AIFED_IMAGE", s->image);
    for (size_t i = 0; i < s->n_files && !bad; i++)
        bad = put_file(f, s->files[i]->name, s->files[i]->data.data,
                       s->files[i]->data.len, s->files[i]->executable);
    if (!bad && *s->setup)
        bad = put_file(f, ".aifed-setup.sh", s->setup, strlen(s->setup), false);
    if (!bad)
        bad = put_file(f, ".aifed-run.sh", s->run, strlen(s->run), false);
    if (*s->setup)
        fputs("sh ./.aifed-setup.sh || { rc=$?; echo $rc >.aifed-exit; exit $rc; }\n", f);
    /* The image, when there is one: Apptainer, EuroHPC's container runtime. */
    fputs(*s->image ? "apptainer exec \"$AIFED_IMAGE\" sh ./.aifed-run.sh\n"
                    : "sh ./.aifed-run.sh\n",
          f);
    fputs("rc=$?\necho $rc >.aifed-exit\nexit $rc\n", f);
    if (fclose(f) != 0 || bad) {
        free(text);
        return NULL;
    }
    return text;
}

/* ---- Slurm's commands, as the job's account ---- */

/* Whom to run a command as: NULL (directly) when the account is the
 * agent's own. */
static const char *as_user(const struct sjobs *sj, const char *user)
{
    return strcmp(sj->self, user) ? user : NULL;
}

/* job_root with %u (the account) and %h (its home) filled in, and the job's
 * id after it. */
static int job_dir(const struct sjobs *sj, const char *user, const char *id, char *buf,
                   size_t size, struct af_error *why)
{
    const char *p = sj->conf->slurm.job_root;
    struct passwd *pw = getpwnam(user);
    size_t n = 0;

    if (!pw)
        return af_error_set(why, "no local account %s on this login node", user);
    for (; *p && n < size - 1; p++) {
        const char *put = NULL;
        if (p[0] == '%' && p[1] == 'u')
            put = user;
        else if (p[0] == '%' && p[1] == 'h')
            put = pw->pw_dir;
        if (put) {
            n += (size_t)snprintf(buf + n, size - n, "%s", put);
            p++;
        } else {
            buf[n++] = *p;
        }
        if (n >= size)
            return af_error_set(why, "job_root: the path is too long");
    }
    buf[n] = '\0';
    if ((size_t)snprintf(buf + n, size - n, "/%s", id) >= size - n)
        return af_error_set(why, "job_root: the path is too long");
    return 0;
}

static int submit(struct sjobs *sj, struct sjob *r, const Aifed__Job *job,
                  const struct backend_target *t, const char *script_path,
                  struct af_error *why)
{
    char name[AF_ID_MAX + 16], resv[AF_ID_MAX + 32], part[AF_ID_MAX + 16];
    char gpus[32], time_s[32], acct[AF_ID_MAX + 16];
    const char *args[16] = {"sbatch", "--parsable", "--output=/dev/null", "--chdir=/tmp"};
    size_t n = 4;
    struct proc_out o;
    unsigned long id;
    char *end;
    int rc;

    snprintf(name, sizeof(name), "--job-name=aifed-%s", job->id);
    snprintf(resv, sizeof(resv), "--reservation=%s", t->reservation);
    snprintf(part, sizeof(part), "--partition=%s", t->partition);
    snprintf(gpus, sizeof(gpus), "--gpus=%u", job->gpus ? job->gpus : 1);
    args[n++] = name;
    args[n++] = resv;
    args[n++] = part;
    args[n++] = gpus;
    /* minutes:seconds, Slurm's form. The broker always sets a limit; were
     * there none, the reservation's end would bound the job. */
    if (job->spec->time_limit_s) {
        snprintf(time_s, sizeof(time_s), "--time=%u:%02u", job->spec->time_limit_s / 60,
                 job->spec->time_limit_s % 60);
        args[n++] = time_s;
    }
    if (*t->account) {
        snprintf(acct, sizeof(acct), "--account=%s", t->account);
        args[n++] = acct;
    }
    rc = slurm_cmd_run_as(backend_slurm_cmd(sj->b), as_user(sj, t->user), script_path, &o,
                          why, args);
    if (rc == 0) {
        /* --parsable: "ID" or "ID;cluster" */
        id = strtoul(o.text, &end, 10);
        if (!id || id > UINT32_MAX || (*end && *end != ';' && *end != '\n'))
            rc = af_error_set(why, "sbatch answered '%.40s', not a job id", o.text);
        else
            r->slurm_id = (uint32_t)id;
    }
    proc_out_free(&o);
    return rc;
}

/* Tell the broker how r is, as last recorded. */
static void tell(struct sjobs *sj, const struct sjob *r)
{
    char sid[16] = "";

    if (r->slurm_id)
        snprintf(sid, sizeof(sid), "%u", r->slurm_id);
    sj->report(r->id, r->state, r->exit_code, r->why, sid, r->user, sj->arg);
}

/* r is now in state: recorded and logged when that is a change; told. */
static void report(struct sjobs *sj, struct sjob *r, int state, int code, const char *why)
{
    if (state != r->state) {
        r->state = state;
        r->exit_code = code;
        snprintf(r->why, sizeof(r->why), "%s", why);
        record_put(sj, r);
        log_info("job %s (Slurm job %u): %s", r->id, r->slurm_id, why);
    }
    tell(sj, r);
}

bool sjobs_again(struct sjobs *sj, const Aifed__Job *job)
{
    struct sjob *r = find(sj, job->id);

    if (r) /* as last seen; the next read of Slurm says more if it changed */
        tell(sj, r);
    return r != NULL;
}

int sjobs_start(struct sjobs *sj, const Aifed__Job *job, struct af_error *why)
{
    struct backend_target t;
    char script[PATH_LEN + 80], *text;
    struct sjob *r;
    FILE *f;
    int rc;

    if (sjobs_again(sj, job))
        return 0;
    if (backend_slurm_target(sj->b, job, &t, why) < 0)
        return -1;
    if (mkdir(sj->records, 0700) < 0 && errno != EEXIST)
        return af_error_set(why, "jobs_dir %s: %s", sj->records, strerror(errno));
    if (!(r = add(sj, job->id)))
        return af_error_set(why, "this site has %d jobs on record; at most that many",
                            MAX_SJOBS);
    snprintf(r->lease, sizeof(r->lease), "%s", job->lease_id);
    snprintf(r->user, sizeof(r->user), "%s", t.user);
    r->state = AIFED__JOB_STATE__JOB_QUEUED;
    snprintf(r->why, sizeof(r->why), "queued in Slurm");
    if (job_dir(sj, t.user, job->id, r->dir, sizeof(r->dir), why) < 0 ||
        !(text = script_for(job, r->dir, t.reservation)))
        goto refused;
    /* The script is the agent's until sbatch has read it (it may hold the
     * task's variables): mode 0600 in the agent's own directory. */
    record_path(sj, job->id, ".sh", script, sizeof(script));
    f = fopen(script, "w");
    rc = f && fputs(text, f) >= 0 ? 0 : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    free(text);
    if (rc < 0) {
        af_error_set(why, "%s: %s", script, strerror(errno));
        goto refused;
    }
    if (record_put(sj, r) < 0) {
        af_error_set(why, "cannot keep the job's record in %s", sj->records);
        unlink(script);
        goto refused;
    }
    rc = submit(sj, r, job, &t, script, why);
    unlink(script);
    if (rc < 0) {
        char path[PATH_LEN + 80];
        record_path(sj, job->id, RECORD_EXT, path, sizeof(path));
        unlink(path);
        goto refused;
    }
    record_put(sj, r); /* now with Slurm's id */
    r->watch_until = af_mono_ms() + START_WATCH_MS;
    log_info("job %s (Slurm job %u): %s", r->id, r->slurm_id, r->why);
    tell(sj, r);
    return 0;
refused:
    sj->jobs = r->next; /* the newest: at the head */
    sj->n--;
    free(r);
    return -1;
}

static void cancel(struct sjobs *sj, struct sjob *r, const char *reason)
{
    char id[16], name[AF_ID_MAX + 16];
    struct af_error err;
    struct proc_out o;
    int rc;

    if (!open_state(r->state))
        return;
    snprintf(id, sizeof(id), "%u", r->slurm_id);
    snprintf(name, sizeof(name), "--name=aifed-%s", r->id);
    rc =
        slurm_cmd_run_as(backend_slurm_cmd(sj->b), as_user(sj, r->user), NULL, &o, &err,
                         (const char *const[]){"scancel", r->slurm_id ? id : name, NULL});
    proc_out_free(&o);
    if (rc < 0)
        log_warnx("job %s: %s (the lease's end stops it)", r->id, err.text);
    report(sj, r, AIFED__JOB_STATE__JOB_CANCELLED, 0, reason);
}

void sjobs_stop(struct sjobs *sj, const char *job_id, const char *reason)
{
    struct sjob *r = find(sj, job_id);

    if (r)
        cancel(sj, r, reason);
}

void sjobs_stop_lease(struct sjobs *sj, const char *lease_id, const char *reason)
{
    for (struct sjob *r = sj->jobs; r; r = r->next)
        if (!strcmp(r->lease, lease_id))
            cancel(sj, r, reason);
}

/* ---- output ---- */

/* Up to max bytes of path from offset into buf, and the file's size: read
 * by the agent itself when it may (root, or the account is its own), else
 * as the account (stat and dd through sudo). -1 when there is no file. */
static int read_piece(struct sjobs *sj, const struct sjob *r, const char *path,
                      uint64_t offset, uint32_t max, uint8_t *buf, size_t *got,
                      uint64_t *size)
{
    char skip[40], count[40], in[PATH_LEN + 16];
    const struct slurm_cmd *c = backend_slurm_cmd(sj->b);
    const char *user = as_user(sj, r->user);
    struct af_error err;
    struct proc_out o;

    *got = 0;
    if (sj->root || !user)
        return jobs_read_file(path, offset, max, buf, got, size);
    if (slurm_cmd_run_as(c, user, NULL, &o, &err,
                         (const char *const[]){"/usr/bin/stat", "-c", "%s", path, NULL}) <
        0) {
        proc_out_free(&o);
        return -1;
    }
    *size = strtoull(o.text, NULL, 10);
    proc_out_free(&o);
    if (offset >= *size)
        return 0;
    snprintf(in, sizeof(in), "if=%s", path);
    snprintf(skip, sizeof(skip), "skip=%llu", (unsigned long long)offset);
    snprintf(count, sizeof(count), "count=%u", max);
    if (slurm_cmd_run_as(c, user, NULL, &o, &err,
                         (const char *const[]){"/usr/bin/dd", in, "bs=65536", skip, count,
                                               "iflag=skip_bytes,count_bytes",
                                               "status=none", NULL}) == 0) {
        *got = o.len < max ? o.len : max;
        memcpy(buf, o.text, *got);
    }
    proc_out_free(&o);
    return 0;
}

int sjobs_read_log(struct sjobs *sj, const char *job_id, uint64_t offset, uint32_t max,
                   uint8_t *buf, Aifed__JobLog *out)
{
    const struct sjob *r = find(sj, job_id);
    char path[PATH_LEN + 16];
    uint64_t size = 0;
    size_t got = 0;

    if (!r) {
        errno = ENOENT;
        return -1;
    }
    if (max > AF_WIRE_MAX_LOG_CHUNK || !max)
        max = AF_WIRE_MAX_LOG_CHUNK;
    snprintf(path, sizeof(path), "%s/output.log", r->dir);
    /* A job still queued has written nothing yet: an empty piece, not the end. */
    if (read_piece(sj, r, path, offset, max, buf, &got, &size) < 0)
        size = got = 0;
    jobs_log_piece(out, job_id, offset, buf, got, size, !open_state(r->state));
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

/* Slurm lists it no more (purged after MinJobAge while the agent was
 * away): its script wrote the exit code, if it got that far. */
static void gone(struct sjobs *sj, struct sjob *r)
{
    char path[PATH_LEN + 16], why[64];
    uint8_t buf[16];
    uint64_t size = 0;
    size_t got = 0;

    if (!r->slurm_id) {
        report(sj, r, AIFED__JOB_STATE__JOB_FAILED, 0,
               "the agent stopped while giving it to sbatch, and Slurm has no such job: "
               "submit it again");
        return;
    }
    snprintf(path, sizeof(path), "%s/.aifed-exit", r->dir);
    if (read_piece(sj, r, path, 0, sizeof(buf) - 1, buf, &got, &size) == 0 && got) {
        int code;
        buf[got] = '\0';
        code = atoi((char *)buf);
        snprintf(why, sizeof(why), "exited %d", code);
        report(sj, r,
               code ? AIFED__JOB_STATE__JOB_FAILED : AIFED__JOB_STATE__JOB_COMPLETED,
               code, why);
        return;
    }
    report(sj, r, AIFED__JOB_STATE__JOB_FAILED, 0,
           "Slurm no longer knows the job, and its end was not seen");
}

void sjobs_sync(struct sjobs *sj)
{
    const struct slurm_job *v, *j;
    uint64_t read;
    size_t n;
    char why[AF_WIRE_MAX_TEXT];

    read = backend_slurm_jobs(sj->b, &v, &n);
    if (read == sj->last_read)
        return; /* no new read of Slurm's jobs */
    sj->last_read = read;
    for (struct sjob *r = sj->jobs; r; r = r->next) {
        int state;
        if (!open_state(r->state))
            continue;
        if (!(j = listed(r, v, n))) {
            if (++r->missing >= MISSING_READS)
                gone(sj, r);
            continue;
        }
        r->missing = 0;
        if (!r->slurm_id) { /* found by its name after a restart */
            r->slurm_id = j->id;
            record_put(sj, r);
        }
        state = state_of(j, why, sizeof(why));
        if (state != r->state)
            report(sj, r, state, j->exit_code, why);
    }
}

bool sjobs_starting(const struct sjobs *sj)
{
    int64_t now = af_mono_ms();

    for (const struct sjob *r = sj->jobs; r; r = r->next)
        if (r->state == AIFED__JOB_STATE__JOB_QUEUED && now < r->watch_until)
            return true;
    return false;
}

struct sjobs *sjobs_create(const struct aconf *conf, struct backend *b,
                           jobs_report_fn report_fn, void *arg, struct af_error *err)
{
    struct sjobs *sj = calloc(1, sizeof(*sj));
    char *dir = aconf_path(conf, conf->jobs_dir);
    struct passwd *pw = getpwuid(geteuid());

    if (!sj || !dir) {
        free(sj);
        free(dir);
        af_error_set(err, "out of memory");
        return NULL;
    }
    sj->conf = conf;
    sj->b = b;
    snprintf(sj->records, sizeof(sj->records), "%s", dir);
    free(dir);
    sj->report = report_fn;
    sj->arg = arg;
    sj->root = geteuid() == 0;
    snprintf(sj->self, sizeof(sj->self), "%s", pw ? pw->pw_name : "");
    if (records_load(sj, err) < 0) {
        sjobs_destroy(sj);
        return NULL;
    }
    return sj;
}

void sjobs_set_backend(struct sjobs *sj, struct backend *b)
{
    sj->b = b;
    sj->last_read = 0; /* a new backend counts its reads afresh */
}

void sjobs_destroy(struct sjobs *sj)
{
    if (!sj)
        return;
    while (sj->jobs) {
        struct sjob *r = sj->jobs;
        sj->jobs = r->next;
        free(r);
    }
    free(sj);
}
