/* SPDX-License-Identifier: Apache-2.0 */
/* slurm_poll: one thread, a mutex over what it publishes, a condition to wake it. */
#include "slurm_poll.h"
#include "aconf.h"
#include "af_log.h"
#include "af_time.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SIZES 8

struct slurm_poll {
    const struct slurm_cmd *cmd;
    const struct aconf_slurm *conf;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake, done; /* to the thread; from it */
    bool stop, kicked, with_jobs;
    bool full;                /* a whole read is asked for; else the jobs only (squeue) */
    struct slurm_snap *fresh; /* published, not yet taken */
    struct slurm_estimate est[SLURM_MAX_ESTIMATES];
    size_t n_est;
    bool est_fresh;
    int64_t estimated_ms; /* thread only */
};

void slurm_snap_free(struct slurm_snap *s)
{
    if (!s)
        return;
    free(s->nodes);
    free(s->parts);
    free(s->resv);
    free(s->jobs);
    free(s);
}

/* Run one command and parse its answer; what failed goes into s->error. */
static int read_one(const struct slurm_cmd *cmd, struct slurm_snap *s, const char *what,
                    const char *const *args,
                    int (*parse)(const char *text, void *v, size_t *n, struct af_error *),
                    void *v, size_t *n)
{
    struct proc_out o;
    struct af_error err, perr;
    int rc = slurm_cmd_run(cmd, &o, &err, args);

    if (rc == 0 && (rc = parse(o.text, v, n, &perr)) < 0)
        af_error_set(&err, "%s: %s", what, perr.text);
    if (rc < 0)
        snprintf(s->error, sizeof(s->error), "%s", err.text);
    proc_out_free(&o);
    return rc;
}

/* The parsers' first argument types differ only in the element type. */
static int p_nodes(const char *t, void *v, size_t *n, struct af_error *e)
{
    return slurm_parse_nodes(t, v, n, e);
}
static int p_parts(const char *t, void *v, size_t *n, struct af_error *e)
{
    return slurm_parse_partitions(t, v, n, e);
}
static int p_resv(const char *t, void *v, size_t *n, struct af_error *e)
{
    return slurm_parse_reservations(t, v, n, e);
}
static int p_jobs(const char *t, void *v, size_t *n, struct af_error *e)
{
    return slurm_parse_jobs(t, v, n, e);
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const sinfo_args[] = {"sinfo", "--json", NULL};
static const char *const part_args[] = {"scontrol", "--oneliner", "show", "partition",
                                        NULL};
static const char *const resv_args[] = {"scontrol", "--oneliner", "show", "reservation",
                                        NULL};
static const char *const squeue_args[] = {"squeue", "--json", NULL};

/* The commands of one read, in order; the first that fails ends it. */
static void read_all(const struct slurm_cmd *cmd, struct slurm_snap *s, bool with_jobs)
{
    struct slurm_snap j = {0};

    if (read_one(cmd, s, "sinfo --json", sinfo_args, p_nodes, &s->nodes, &s->n_nodes) <
            0 ||
        read_one(cmd, s, "scontrol show partition", part_args, p_parts, &s->parts,
                 &s->n_parts) < 0 ||
        read_one(cmd, s, "scontrol show reservation", resv_args, p_resv, &s->resv,
                 &s->n_resv) < 0 ||
        !with_jobs)
        return;
    /* Capacity is right without the jobs; only usage may come out short. */
    if (read_one(cmd, &j, "squeue --json", squeue_args, p_jobs, &s->jobs, &s->n_jobs) < 0)
        log_warnx("cannot read the jobs in aifed's reservations: %s", j.error);
    else
        s->have_jobs = true;
}

/* A condition variable whose timed waits run on CLOCK_MONOTONIC: a wait is
 * a duration, which a step of the wall clock must not cut or stretch. */
static void cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
}

struct slurm_snap *slurm_snap_read(const struct slurm_cmd *cmd, bool with_jobs)
{
    struct slurm_snap *s = calloc(1, sizeof(*s));
    double t0 = mono_s();

    if (!s)
        return NULL;
    s->started_ms = af_mono_ms();
    read_all(cmd, s, with_jobs);
    s->seconds = mono_s() - t0;
    return s;
}

/* squeue alone: what a job just submitted is doing, between whole reads. */
static struct slurm_snap *read_jobs(const struct slurm_cmd *cmd)
{
    struct slurm_snap *s = calloc(1, sizeof(*s));
    double t0 = mono_s();

    if (!s)
        return NULL;
    s->started_ms = af_mono_ms();
    s->jobs_only = true;
    s->have_jobs =
        read_one(cmd, s, "squeue --json", squeue_args, p_jobs, &s->jobs, &s->n_jobs) == 0;
    s->seconds = mono_s() - t0;
    return s;
}

/* When a job of gpus GPUs would start in partition part (gpn GPUs per
 * node), by Slurm's own planner; -1 when it will not say. */
static int estimate(const struct slurm_cmd *cmd, const char *part, uint32_t gpn,
                    uint32_t gpus, int64_t *start_ms)
{
    char p[SLURM_NAME_MAX + 16], n[32], g[48];
    struct proc_out o;
    struct af_error err;
    int rc;

    snprintf(p, sizeof(p), "--partition=%.*s", SLURM_NAME_MAX, part);
    snprintf(n, sizeof(n), "--nodes=%u", (gpus + gpn - 1) / gpn);
    snprintf(g, sizeof(g), "--gres=gpu:%u", gpus < gpn ? gpus : gpn);
    rc = SLURM_RUN(cmd, &o, &err, "sbatch", "--test-only", p, n, g, "--time=60",
                   "--output=/dev/null", "--wrap=true");
    /* sbatch says when on stderr. */
    if (rc == 0 && slurm_test_only_start(o.err, start_ms) < 0)
        rc = af_error_set(&err, "sbatch --test-only: no start time in '%s'", o.err);
    if (rc != 0)
        log_debug("partition %s: no estimate for %u GPUs: %s", part, gpus, err.text);
    proc_out_free(&o);
    return rc;
}

static bool wanted(const struct aconf_slurm *c, const char *partition)
{
    return c->partitions.n == 0 || af_strv_has(&c->partitions, partition);
}

/* A partition to estimate for: its GPUs per node (the largest) and in all. */
struct target {
    char name[SLURM_NAME_MAX + 1];
    uint32_t gpn, total;
};

#define MAX_TARGETS 64

/* Taken from a snapshot before it is published (the loop may free it). */
static size_t targets_of(const struct slurm_poll *p, const struct slurm_snap *s,
                         struct target *t)
{
    size_t n = 0;

    for (size_t i = 0; i < s->n_parts && n < MAX_TARGETS; i++) {
        if (!wanted(p->conf, s->parts[i].name))
            continue;
        snprintf(t[n].name, sizeof(t[n].name), "%s", s->parts[i].name);
        t[n].gpn = t[n].total = 0;
        for (size_t j = 0; j < s->n_nodes; j++)
            for (size_t k = 0; k < s->nodes[j].n_partitions; k++)
                if (!strcmp(s->nodes[j].partitions[k], t[n].name)) {
                    t[n].total += s->nodes[j].gpus;
                    if (s->nodes[j].gpus > t[n].gpn)
                        t[n].gpn = s->nodes[j].gpus;
                }
        n += t[n].gpn > 0;
    }
    return n;
}

static size_t estimate_all(struct slurm_poll *p, const struct target *t, size_t n_t,
                           struct slurm_estimate *out)
{
    const struct aconf_slurm *c = p->conf;
    int64_t now = af_now_ms();
    size_t n = 0;

    for (size_t i = 0; i < n_t; i++) {
        uint32_t sizes[MAX_SIZES];
        size_t n_sizes = c->n_estimate_sizes;

        if (n_sizes) {
            memcpy(sizes, c->estimate_sizes, n_sizes * sizeof(sizes[0]));
        } else { /* one GPU, and one full node */
            sizes[0] = 1;
            sizes[1] = t[i].gpn;
            n_sizes = t[i].gpn > 1 ? 2 : 1;
        }
        for (size_t k = 0; k < n_sizes && n < SLURM_MAX_ESTIMATES; k++) {
            int64_t start = 0;
            if (sizes[k] > t[i].total ||
                estimate(p->cmd, t[i].name, t[i].gpn, sizes[k], &start) < 0)
                continue;
            snprintf(out[n].partition, sizeof(out[n].partition), "%.*s", SLURM_NAME_MAX,
                     t[i].name);
            out[n].gpus = sizes[k];
            out[n++].wait_s = start > now ? (uint32_t)((start - now) / 1000) : 0;
        }
    }
    return n;
}

static void publish(struct slurm_poll *p, struct slurm_snap *s)
{
    pthread_mutex_lock(&p->mu);
    if (s->jobs_only && p->fresh && !p->fresh->jobs_only) {
        /* A whole read not yet taken keeps its capacity; the jobs are
         * newer here. */
        struct slurm_snap *whole = p->fresh;
        if (s->have_jobs) {
            free(whole->jobs);
            whole->jobs = s->jobs;
            whole->n_jobs = s->n_jobs;
            whole->have_jobs = true;
            s->jobs = NULL;
        }
        slurm_snap_free(s);
        pthread_cond_broadcast(&p->done);
        pthread_mutex_unlock(&p->mu);
        return;
    }
    slurm_snap_free(p->fresh); /* never taken: the newer one replaces it */
    p->fresh = s;
    pthread_cond_broadcast(&p->done);
    pthread_mutex_unlock(&p->mu);
}

static bool estimates_due(struct slurm_poll *p, const struct slurm_snap *s)
{
    int64_t now = af_mono_ms();

    if (s->error[0] || (p->estimated_ms &&
                        now - p->estimated_ms < (int64_t)p->conf->estimate_interval_ms))
        return false;
    p->estimated_ms = now;
    return true;
}

static void run_estimates(struct slurm_poll *p, const struct target *t, size_t n_t)
{
    struct slurm_estimate est[SLURM_MAX_ESTIMATES];
    size_t n = estimate_all(p, t, n_t, est);

    pthread_mutex_lock(&p->mu);
    memcpy(p->est, est, n * sizeof(est[0]));
    p->n_est = n;
    p->est_fresh = true;
    pthread_mutex_unlock(&p->mu);
}

static void *thread_main(void *arg)
{
    struct slurm_poll *p = arg;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && !p->kicked)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop)
            break;
        p->kicked = false;
        bool with_jobs = p->with_jobs, full = p->full;
        p->full = false;
        pthread_mutex_unlock(&p->mu);

        if (!full) {
            struct slurm_snap *js = read_jobs(p->cmd);
            if (js)
                publish(p, js);
            pthread_mutex_lock(&p->mu);
            continue;
        }
        struct slurm_snap *s = slurm_snap_read(p->cmd, with_jobs);
        struct target t[MAX_TARGETS];
        size_t n_t = 0;
        bool due = s && estimates_due(p, s);

        if (due)
            n_t = targets_of(p, s, t);
        if (s) /* capacity first; the slower estimates follow */
            publish(p, s);
        pthread_mutex_lock(&p->mu);
        bool stopping = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (due && !stopping)
            run_estimates(p, t, n_t);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct slurm_poll *slurm_poll_start(const struct slurm_cmd *cmd,
                                    const struct aconf_slurm *conf, struct af_error *err)
{
    struct slurm_poll *p = calloc(1, sizeof(*p));

    if (!p) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    p->cmd = cmd;
    p->conf = conf;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    cond_init_monotonic(&p->done);
    if (pthread_create(&p->thread, NULL, thread_main, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->wake);
        pthread_cond_destroy(&p->done);
        free(p);
        af_error_set(err, "cannot start the Slurm reader thread");
        return NULL;
    }
    return p;
}

void slurm_poll_stop(struct slurm_poll *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    slurm_snap_free(p->fresh);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p);
}

void slurm_poll_kick_jobs(struct slurm_poll *p)
{
    pthread_mutex_lock(&p->mu);
    p->kicked = true; /* a whole read asked for and not begun stays asked */
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
}

void slurm_poll_kick(struct slurm_poll *p, bool with_jobs)
{
    pthread_mutex_lock(&p->mu);
    p->kicked = true;
    p->full = true;
    p->with_jobs = with_jobs;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
}

struct slurm_snap *slurm_poll_take(struct slurm_poll *p, uint64_t wait_ms)
{
    struct slurm_snap *s;
    struct timespec until;

    clock_gettime(CLOCK_MONOTONIC, &until); /* the clock p->done waits on */
    until.tv_sec += (time_t)(wait_ms / 1000);
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&p->mu);
    while (!p->fresh && wait_ms && pthread_cond_timedwait(&p->done, &p->mu, &until) == 0)
        ;
    s = p->fresh;
    p->fresh = NULL;
    pthread_mutex_unlock(&p->mu);
    return s;
}

size_t slurm_poll_estimates(struct slurm_poll *p, struct slurm_estimate *out, size_t max,
                            bool *fresh)
{
    size_t n = 0;

    pthread_mutex_lock(&p->mu);
    *fresh = p->est_fresh;
    if (p->est_fresh) {
        n = p->n_est < max ? p->n_est : max;
        memcpy(out, p->est, n * sizeof(*out));
        p->est_fresh = false;
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}
