/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend_slurm: a site as its Slurm sees it. A reader thread (slurm_poll)
 * reads the scheduler once per advertisement (sinfo --json for nodes and
 * GPUs, scontrol for partitions and reservations, squeue --json for the jobs
 * in aifed's reservations), and each advertisement applies the newest read,
 * so what the broker sees is at most about one interval old and the loop
 * never waits for Slurm to read it. Each command runs under command_timeout;
 * when one fails or hangs the site is advertised as degraded, with the
 * reason and no free capacity, instead of stale numbers. Holds, renewals and
 * releases run their scontrol command in the loop's command pool (aproc),
 * under the same limit: the loop never waits for slurmctld, and the broker
 * gets the answer to a hold when Slurm gives it.
 *
 * A hold is a Slurm reservation "aifed-<lease id>" of whole nodes in the
 * lease's partition, for the local account its user maps to (user_map), from
 * now to the lease's end. Slurm 22.05 cannot reserve GPUs themselves (its
 * reservations take CPU, Node, License and BB TRES only), so a lease of part
 * of a node holds the node. Reservations are the state: an agent restart
 * finds its holds again by name, and a reservation that disappears (ended,
 * or deleted by an admin) is a hold that ended. The GPU-seconds that jobs
 * ran inside a reservation are taken from slurmctld's job records at every
 * read (kept per job, so a job purged after MinJobAge still counts) and
 * reported to the broker when the hold ends.
 *
 * The site file adds what Slurm does not know (site/site_file).
 */
#include "aconf.h"
#include "af_conf.h"
#include "af_log.h"
#include "af_time.h"
#include "af_wire.h"
#include "backend.h"
#include "site_file.h"
#include "slurm_backend.h"
#include "slurm_cmd.h"
#include "slurm_parse.h"
#include "slurm_poll.h"
#include "runas.h"
#include "aproc.h"

#include "aifed.pb-c.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESV_PREFIX       "aifed-"
#define RESV_NAME_MAX     (sizeof(RESV_PREFIX) + AF_ID_MAX)
#define MAX_SIZES         8
#define MAX_ENDED         256
#define MAX_JOBS_PER_HOLD 4096
#define MAX_WINDOWS       AF_WIRE_MAX_POOLS
#define MAX_RELEASED      64
/* Asks for one hold while its command runs (the broker asking again). */
#define MAX_WAITERS 4

struct job_use {
    uint32_t id;
    uint64_t gpu_s;
};

struct shold {
    char lease_id[AF_ID_MAX + 1];
    char pool[SLURM_NAME_MAX + 1];
    uint32_t nodes, gpus;
    int64_t start_ms, end_ms; /* a hold booked for later (--not-before) starts then */
    int64_t created_ms;       /* a read that began before this may not show it */
    bool releasing;           /* the broker let go; the delete has not gone through yet */
    bool creating, extending, deleting; /* its scontrol runs */
    int64_t extend_to_ms;
    struct {
        backend_hold_fn fn;
        void *arg;
    } waiters[MAX_WAITERS]; /* told when creating or extending ends */
    size_t n_waiters;
    struct job_use *jobs;
    size_t n_jobs;
};

struct spool {
    Aifed__StartEstimate *start_ptrs[MAX_SIZES];
    Aifed__Pool pool;
    Aifed__StartEstimate starts[MAX_SIZES];
    uint32_t gpus_reserved; /* on nodes sinfo flags RESERVED (ours and others') */
    char name[SLURM_NAME_MAX + 1];
    char accel[AF_ID_MAX + 1];
};

struct umap {
    char *from, *to;
};

/* A hold let go of: a read that began before then may still show it. */
struct released {
    char lease_id[AF_ID_MAX + 1];
    int64_t at_ms;
};

/* What a command in flight reaches its backend through: a reload (SIGHUP)
 * moves it to the new backend, a destroy clears it. */
struct sctl {
    struct backend *b;
    unsigned refs;
};

struct backend {
    const struct aconf *conf;
    struct sctl *ctl;
    struct aproc_pool *procs; /* the loop's, for holds' commands */
    struct runas runas;       /* whom the user map may name */
    struct site_file *site;   /* what the site file says: what Slurm does not know */
    struct slurm_cmd cmd;
    struct slurm_poll *poll; /* started at the first advertisement */
    bool read_once;
    double read_s; /* the read the last advertisement applied, or -1 */
    bool read_ok;
    struct umap *users, *projects;
    size_t n_users, n_projects;
    /* Their names, advertised (maps_accounts) so that the broker does not
     * offer the site to someone without an account here; NULL when the map
     * is too long for one list (the site then takes everyone's leases and
     * refuses the unmapped at the hold). */
    char **user_names, **project_names;
    Aifed__SiteAccess access; /* the last slurm_access() answer, in access_buf */
    char access_buf[3][SLURM_NAME_MAX + 32];
    struct spool pools[AF_WIRE_MAX_POOLS];
    Aifed__Pool *pool_ptrs[AF_WIRE_MAX_POOLS];
    size_t n_pools;
    struct shold *holds;
    size_t n_holds;
    struct backend_ended ended[MAX_ENDED];
    size_t n_ended;
    struct released released[MAX_RELEASED]; /* a ring */
    size_t next_released;
    char degraded[sizeof(((struct af_error *)0)->text)];
    /* The advertisement handed out, rebuilt on each call. */
    Aifed__Site site_msg;
    Aifed__Window windows[MAX_WINDOWS];
    Aifed__Window *window_ptrs[MAX_WINDOWS];
    size_t n_windows;
    Aifed__Advertisement adv;
    char **held_ids;
    uint64_t seq;
    /* aifed's jobs as the last read saw them (for sjobs.c), and which read. */
    struct slurm_job *jobs;
    size_t n_jobs;
    struct slurm_node *addrs; /* each node's name and address, as last read */
    size_t n_addrs;
    uint64_t jobs_read;
};

/* ---- user map ---- */

static int map_add(struct umap **v, size_t *n, const char *from, const char *to)
{
    struct umap *grown = realloc(*v, (*n + 1) * sizeof(**v));

    if (!grown)
        return -1;
    *v = grown;
    grown[*n].from = strdup(from);
    grown[*n].to = strdup(to);
    if (!grown[*n].from || !grown[*n].to) {
        free(grown[*n].from);
        free(grown[*n].to);
        return -1;
    }
    (*n)++;
    return 0;
}

/* A local name is what Slurm takes in Users= and Accounts=. */
static bool local_name_ok(const char *s)
{
    if (!*s || strlen(s) > SLURM_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
            return false;
    return true;
}

static int on_map_line(void *arg, const char *section, const char *key, const char *value,
                       struct af_error *err)
{
    struct backend *b = arg;
    bool users = !strcmp(section, "users");

    if (!users && strcmp(section, "projects"))
        return af_error_set(err, "unknown section [%s] (want [users] or [projects])",
                            section);
    if (!local_name_ok(value))
        return af_error_set(err, "%s: '%s' is not a local %s name", key, value,
                            users ? "user" : "account");
    /* Never root, the agent itself, a system account or one outside
     * job_users_group: refused here, and again before each job (an account
     * missing now may come later, and is checked then). */
    if (users && getpwnam(value) && runas_check(&b->runas, value, NULL, NULL, 0, err) < 0)
        return -1;
    if (users ? map_add(&b->users, &b->n_users, key, value)
              : map_add(&b->projects, &b->n_projects, key, value))
        return af_error_set(err, "out of memory");
    return 0;
}

static const char *map_find(const struct umap *v, size_t n, const char *from)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].from, from))
            return v[i].to;
    return NULL;
}

/* The names map v maps from, for the advertisement; NULL when they do not
 * fit one list (or memory ran out): the site then says nothing of them. */
static char **map_names(const struct umap *v, size_t n)
{
    char **names;

    if (n > AF_WIRE_MAX_LIST || !(names = calloc(n + 1, sizeof(*names))))
        return NULL;
    for (size_t i = 0; i < n; i++)
        names[i] = v[i].from;
    return names;
}

static void map_free(struct umap *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].from);
        free(v[i].to);
    }
    free(v);
}

/* ---- holds ---- */

static struct shold *find_hold(struct backend *b, const char *lease_id)
{
    for (size_t i = 0; i < b->n_holds; i++)
        if (!strcmp(b->holds[i].lease_id, lease_id))
            return &b->holds[i];
    return NULL;
}

static struct shold *add_hold(struct backend *b, const char *lease_id)
{
    struct shold *grown = realloc(b->holds, (b->n_holds + 1) * sizeof(*grown));

    if (!grown)
        return NULL;
    b->holds = grown;
    memset(&grown[b->n_holds], 0, sizeof(*grown));
    snprintf(grown[b->n_holds].lease_id, sizeof(grown->lease_id), "%s", lease_id);
    return &grown[b->n_holds++];
}

static uint64_t hold_usage(const struct shold *h)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < h->n_jobs; i++)
        sum += h->jobs[i].gpu_s;
    return sum;
}

static void note_released(struct backend *b, const char *lease_id)
{
    struct released *r = &b->released[b->next_released++ % MAX_RELEASED];

    snprintf(r->lease_id, sizeof(r->lease_id), "%s", lease_id);
    r->at_ms = af_mono_ms(); /* compared with a read's start, also monotonic */
}

/* Let go of after since_ms: a read begun then still shows its reservation. */
static bool released_after(const struct backend *b, const char *lease_id,
                           int64_t since_ms)
{
    for (size_t i = 0; i < MAX_RELEASED; i++)
        if (b->released[i].at_ms >= since_ms &&
            !strcmp(b->released[i].lease_id, lease_id))
            return true;
    return false;
}

/* The hold is over: tell the agent (and so the broker) what it used. */
static void end_hold(struct backend *b, struct shold *h, const char *how)
{
    uint64_t used = hold_usage(h);

    log_info("lease %s: reservation %s%s %s; its jobs used %llu GPU-seconds", h->lease_id,
             RESV_PREFIX, h->lease_id, how, (unsigned long long)used);
    if (b->n_ended < MAX_ENDED) {
        snprintf(b->ended[b->n_ended].lease_id, AF_ID_MAX + 1, "%s", h->lease_id);
        b->ended[b->n_ended++].gpu_seconds = used;
    } else {
        log_warnx("lease %s: too many ended leases queued; its usage is not reported",
                  h->lease_id);
    }
    note_released(b, h->lease_id);
    free(h->jobs);
    *h = b->holds[--b->n_holds];
}

/* Jobs that ran in a hold's reservation: the most each has been seen to use. */
static void account_job(struct shold *h, const struct slurm_job *j, int64_t now_s)
{
    bool running = !strcmp(j->state, "RUNNING") || !strcmp(j->state, "COMPLETING") ||
                   !strcmp(j->state, "SUSPENDED");
    int64_t end = running ? now_s : j->end_s;
    uint64_t gpu_s;
    size_t k;

    if (!j->start_s || !strcmp(j->state, "PENDING") || end <= j->start_s)
        return;
    gpu_s = (uint64_t)j->gpus * (uint64_t)(end - j->start_s);
    for (k = 0; k < h->n_jobs && h->jobs[k].id != j->id; k++)
        ;
    if (k == h->n_jobs) {
        struct job_use *grown;
        if (h->n_jobs == MAX_JOBS_PER_HOLD ||
            !(grown = realloc(h->jobs, (h->n_jobs + 1) * sizeof(*grown))))
            return;
        h->jobs = grown;
        h->jobs[h->n_jobs++] = (struct job_use){.id = j->id};
    }
    if (gpu_s > h->jobs[k].gpu_s)
        h->jobs[k].gpu_s = gpu_s;
}

static void account_jobs(struct backend *b, const struct slurm_job *jobs, size_t n)
{
    int64_t now_s = af_now_ms() / 1000;

    for (size_t i = 0; i < n; i++) {
        struct shold *h;
        if (!strncmp(jobs[i].resv, RESV_PREFIX, strlen(RESV_PREFIX)) &&
            (h = find_hold(b, jobs[i].resv + strlen(RESV_PREFIX))))
            account_job(h, &jobs[i], now_s);
    }
}

static struct spool *find_pool(struct backend *b, const char *name)
{
    for (size_t i = 0; i < b->n_pools; i++)
        if (!strcmp(b->pools[i].name, name))
            return &b->pools[i];
    return NULL;
}

/* ---- holds' commands, run in the loop's pool ---- */

static void tell_waiters(struct shold *h, int rc, const char *why)
{
    struct af_error err;

    snprintf(err.text, sizeof(err.text), "%s", why ? why : "");
    for (size_t i = 0; i < h->n_waiters; i++)
        h->waiters[i].fn(rc, &err, h->waiters[i].arg);
    h->n_waiters = 0;
}

static int add_waiter(struct shold *h, backend_hold_fn fn, void *arg,
                      struct af_error *why)
{
    if (h->n_waiters == MAX_WAITERS)
        return af_error_set(why, "lease %s: asked too often while Slurm answers",
                            h->lease_id);
    h->waiters[h->n_waiters].fn = fn;
    h->waiters[h->n_waiters++].arg = arg;
    return 0;
}

enum sop_kind { SOP_CREATE, SOP_EXTEND, SOP_USAGE, SOP_DELETE };

struct sop {
    struct sctl *ctl;
    enum sop_kind kind;
    char lease_id[AF_ID_MAX + 1];
};

static void on_sop(const struct aproc_result *r, void *arg);

/* Run scontrol/squeue (args[0] bare, from bin_dir or PATH) for the hold of
 * lease_id; on_sop takes the answer. -1 with why when it cannot start. */
static int run_sop(struct backend *b, enum sop_kind kind, const char *lease_id,
                   const char *const *args, struct af_error *why)
{
    char path[512], *argv[16];
    struct sop *op;
    size_t n = 0;

    if (!b->procs)
        return af_error_set(why, "the agent is stopping");
    if (!(op = calloc(1, sizeof(*op))))
        return af_error_set(why, "out of memory");
    slurm_cmd_path(&b->cmd, args[0], path, sizeof(path));
    argv[n++] = path;
    for (size_t i = 1; args[i] && n < 15; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    op->ctl = b->ctl;
    op->kind = kind;
    snprintf(op->lease_id, sizeof(op->lease_id), "%s", lease_id);
    if (aproc_run_env(b->procs, argv, b->cmd.env[0] ? b->cmd.env : NULL, NULL, 0,
                      b->cmd.timeout_ms, kind == SOP_USAGE ? (32u << 20) : 4096, on_sop,
                      op) < 0) {
        free(op);
        return af_error_set(why, "cannot run %s now: %s", args[0], strerror(errno));
    }
    b->ctl->refs++;
    return 0;
}

static void start_delete(struct backend *b, struct shold *h)
{
    struct af_error err;

    if (h->deleting)
        return;
    /* First the last look at its jobs, for their usage, then the delete. */
    if (run_sop(b, SOP_USAGE, h->lease_id,
                (const char *const[]){"squeue", "--json", NULL}, &err) < 0)
        log_warnx("lease %s: %s; the reservation is deleted at a later read", h->lease_id,
                  err.text);
    else
        h->deleting = true;
}

static void run_delete(struct backend *b, struct shold *h)
{
    char name[SLURM_NAME_MAX + 32];
    struct af_error err;

    snprintf(name, sizeof(name), "ReservationName=" RESV_PREFIX "%s", h->lease_id);
    if (run_sop(b, SOP_DELETE, h->lease_id,
                (const char *const[]){"scontrol", "delete", name, NULL}, &err) < 0) {
        log_warnx("lease %s: %s; will try again", h->lease_id, err.text);
        h->deleting = false;
    }
}

static void drop_hold(struct backend *b, struct shold *h)
{
    free(h->jobs);
    *h = b->holds[--b->n_holds];
}

static void created(struct backend *b, struct shold *h, bool ok, const char *why)
{
    struct spool *sp = find_pool(b, h->pool);

    h->creating = false;
    if (!ok) {
        tell_waiters(h, -1, why);
        drop_hold(b, h);
        return;
    }
    h->created_ms = af_mono_ms();
    /* Until the next read shows the reservation. */
    if (sp && h->start_ms <= af_now_ms())
        sp->pool.gpus_free -= sp->pool.gpus_free < h->gpus ? sp->pool.gpus_free : h->gpus;
    if (h->releasing) { /* let go of while it was being made */
        tell_waiters(h, -1, "the lease was released while Slurm made its reservation");
        start_delete(b, h);
        return;
    }
    tell_waiters(h, 0, NULL);
}

static void on_sop(const struct aproc_result *r, void *arg)
{
    struct sop *op = arg;
    struct backend *b = op->ctl->b;
    struct shold *h = b ? find_hold(b, op->lease_id) : NULL;
    char why[sizeof(((struct af_error *)0)->text)];
    bool ok = r->status == 0;

    snprintf(why, sizeof(why), "%s: %s", op->kind == SOP_USAGE ? "squeue" : "scontrol",
             *r->err ? r->err : "failed");
    why[strcspn(why, "\n")] = '\0';
    if (--op->ctl->refs == 0 && !b)
        free(op->ctl);
    if (!h || r->stopping) { /* ended meanwhile, or the agent is stopping (its
                                waiters are told when the backend goes) */
        free(op);
        return;
    }
    if (op->kind == SOP_CREATE) {
        created(b, h, ok, why);
    } else if (op->kind == SOP_EXTEND) {
        h->extending = false;
        if (ok)
            h->end_ms = h->extend_to_ms;
        tell_waiters(h, ok ? 0 : -1, why);
    } else if (op->kind == SOP_USAGE) {
        struct slurm_job *jobs = NULL;
        size_t n = 0;
        struct af_error err;
        if (ok && slurm_parse_jobs(r->out, &jobs, &n, &err) == 0)
            account_jobs(b, jobs, n);
        else
            log_warnx("lease %s: usage may be short: %s", h->lease_id,
                      ok ? err.text : why);
        free(jobs);
        run_delete(b, h);
    } else if (ok) {
        end_hold(b, h, "deleted");
    } else {
        /* Kept as releasing: every read tries again until Slurm agrees. */
        h->deleting = false;
        log_warnx("lease %s: %s; will try again", h->lease_id, why);
    }
    free(op);
}

/* Reservations are the holds: find ours again (after a restart), notice the
 * ones that are gone, and retry deletes that did not go through. A read that
 * began before a hold was made, or before one was let go of, says nothing
 * about it. */
static void sync_holds(struct backend *b, const struct slurm_resv *r, size_t n,
                       int64_t read_ms)
{
    for (size_t i = 0; i < n; i++) {
        const char *id = r[i].name + strlen(RESV_PREFIX);
        struct spool *p;
        struct shold *h;

        if (strncmp(r[i].name, RESV_PREFIX, strlen(RESV_PREFIX)) || !af_id_valid(id) ||
            find_hold(b, id) || released_after(b, id, read_ms))
            continue;
        if (!(h = add_hold(b, id)))
            return;
        snprintf(h->pool, sizeof(h->pool), "%s", r[i].partition);
        h->nodes = r[i].nodes;
        p = find_pool(b, h->pool);
        h->gpus = p ? h->nodes * p->pool.gpus_per_node : 0;
        h->start_ms = r[i].start_ms;
        h->end_ms = r[i].end_ms;
        log_info("lease %s: found its reservation in Slurm; holding it", id);
    }
    for (size_t i = 0; i < b->n_holds;) {
        struct shold *h = &b->holds[i];
        size_t k;
        char name[RESV_NAME_MAX];

        snprintf(name, sizeof(name), RESV_PREFIX "%s", h->lease_id);
        for (k = 0; k < n && strcmp(r[k].name, name); k++)
            ;
        if (k == n && !h->creating && h->created_ms < read_ms) {
            tell_waiters(h, -1, "the reservation is gone from Slurm");
            end_hold(b, h, h->releasing ? "deleted" : "is gone from Slurm");
            continue;
        }
        if (k < n && h->releasing && !h->creating)
            start_delete(b, h); /* again, until Slurm agrees */
        i++;
    }
}

/* ---- pools ---- */

static bool wanted(const struct backend *b, const char *partition)
{
    const struct af_strv *want = &b->conf->slurm.partitions;

    return want->n == 0 || af_strv_has(want, partition);
}

static bool node_in(const struct slurm_node *n, const char *partition)
{
    for (size_t i = 0; i < n->n_partitions; i++)
        if (!strcmp(n->partitions[i], partition))
            return true;
    return false;
}

static void upper(char *dst, size_t size, const char *src)
{
    size_t i;

    for (i = 0; i + 1 < size && src[i]; i++)
        dst[i] = (char)toupper((unsigned char)src[i]);
    dst[i] = '\0';
}

/* One pool from a partition's GPU nodes; false when it has none. */
static bool build_pool(struct backend *b, struct spool *sp, const struct slurm_part *part,
                       const struct slurm_node *nodes, size_t n_nodes)
{
    Aifed__Pool *p = &sp->pool;
    const Aifed__Pool *file = site_file_pool(b->site, part->name);
    const char *type = "";
    size_t n_starts = p->n_starts;
    uint32_t wait = p->queue_wait_s;

    aifed__pool__init(p);
    snprintf(sp->name, sizeof(sp->name), "%s", part->name);
    p->name = sp->name;
    for (size_t i = 0; i < n_nodes; i++) {
        const struct slurm_node *nd = &nodes[i];
        if (!nd->gpus || !node_in(nd, part->name))
            continue;
        if (!*type)
            type = nd->gpu_type;
        p->nodes_total++;
        p->gpus_total += nd->gpus;
        if (nd->gpus > p->gpus_per_node)
            p->gpus_per_node = nd->gpus;
        if (!p->cpus_per_node || nd->cpus < p->cpus_per_node)
            p->cpus_per_node = nd->cpus;
        if (!p->memory_per_node_gb || nd->memory_mb / 1024 < p->memory_per_node_gb)
            p->memory_per_node_gb = (uint32_t)(nd->memory_mb / 1024);
        /* A node in a reservation (an aifed hold, maintenance, another
         * project's) is not free to anyone who asks now. */
        if (part->up && nd->usable && !nd->reserved && nd->gpus > nd->gpus_used)
            p->gpus_free += nd->gpus - nd->gpus_used;
        if (nd->reserved)
            sp->gpus_reserved += nd->gpus;
    }
    if (!p->nodes_total)
        return false;
    if (file && file->accelerator && *file->accelerator)
        snprintf(sp->accel, sizeof(sp->accel), "%s", file->accelerator);
    else
        upper(sp->accel, sizeof(sp->accel), *type ? type : "gpu");
    p->accelerator = sp->accel;
    p->gpu_memory_gb = file ? file->gpu_memory_gb : 0;
    p->max_walltime_s = part->max_time_s;
    /* Estimates are asked for less often than capacity: keep the last ones. */
    p->starts = sp->start_ptrs;
    p->n_starts = n_starts;
    p->queue_wait_s = wait;
    return true;
}

static void build_pools(struct backend *b, const struct slurm_part *parts, size_t n_parts,
                        const struct slurm_node *nodes, size_t n_nodes)
{
    struct spool old[AF_WIRE_MAX_POOLS];
    size_t n_old = b->n_pools;

    memcpy(old, b->pools, sizeof(old));
    b->n_pools = 0;
    for (size_t i = 0; i < n_parts && b->n_pools < AF_WIRE_MAX_POOLS; i++) {
        struct spool *sp = &b->pools[b->n_pools];
        size_t k;

        if (!wanted(b, parts[i].name))
            continue;
        memset(sp, 0, sizeof(*sp));
        for (k = 0; k < n_old && strcmp(old[k].name, parts[i].name); k++)
            ;
        if (k < n_old) { /* carry the estimates over */
            memcpy(sp->starts, old[k].starts, sizeof(sp->starts));
            sp->pool.n_starts = old[k].pool.n_starts;
            sp->pool.queue_wait_s = old[k].pool.queue_wait_s;
        }
        for (size_t s = 0; s < MAX_SIZES; s++)
            sp->start_ptrs[s] = &sp->starts[s];
        if (build_pool(b, sp, &parts[i], nodes, n_nodes))
            b->pool_ptrs[b->n_pools++] = &sp->pool;
    }
}

/* Maintenance reservations, for the broker's matching. */
static void build_windows(struct backend *b, const struct slurm_resv *r, size_t n)
{
    const Aifed__Site *file = site_file_site(b->site);
    size_t w = 0;

    for (size_t i = 0; file && i < file->n_maintenance && w < MAX_WINDOWS; i++)
        b->windows[w++] = *file->maintenance[i];
    for (size_t i = 0; i < n && w < MAX_WINDOWS; i++) {
        if (!r[i].maint)
            continue;
        aifed__window__init(&b->windows[w]);
        b->windows[w].start_ms = r[i].start_ms;
        b->windows[w++].end_ms = r[i].end_ms;
    }
    for (size_t i = 0; i < w; i++)
        b->window_ptrs[i] = &b->windows[i];
    b->n_windows = w;
}

/* ---- applying what the reader found ---- */

/*
 * Our holds take their GPUs from the reservations we made, not from sinfo:
 * slurmctld flags a reserved node RESERVED a few seconds after the
 * reservation is made, and until then sinfo reads it as free. So whatever
 * of a pool's holds the RESERVED nodes do not account for is not free.
 * (Another's reservation flagged meanwhile can hide that much of ours for
 * those seconds; nothing else can.)
 */
static void subtract_unflagged_holds(struct backend *b)
{
    int64_t now = af_now_ms();

    for (size_t i = 0; i < b->n_pools; i++) {
        struct spool *sp = &b->pools[i];
        uint64_t held = 0, missing;

        /* A reservation booked for later holds nothing yet: Slurm still runs
         * work on its nodes that ends before it starts. */
        for (size_t k = 0; k < b->n_holds; k++)
            if (!strcmp(b->holds[k].pool, sp->name) && b->holds[k].start_ms <= now)
                held += b->holds[k].gpus;
        missing = held > sp->gpus_reserved ? held - sp->gpus_reserved : 0;
        sp->pool.gpus_free -=
            sp->pool.gpus_free < missing ? sp->pool.gpus_free : (uint32_t)missing;
    }
}

/* Keep the jobs aifed started (named "aifed-job-..."), for sjobs.c. */
static void keep_jobs(struct backend *b, const struct slurm_job *jobs, size_t n)
{
    struct slurm_job *kept = n ? calloc(n, sizeof(*kept)) : NULL;
    size_t k = 0;

    if (n && !kept)
        return; /* the last read's stay */
    for (size_t i = 0; i < n; i++)
        if (!strncmp(jobs[i].name, RESV_PREFIX "job-", strlen(RESV_PREFIX "job-")))
            kept[k++] = jobs[i];
    free(b->jobs);
    b->jobs = kept;
    b->n_jobs = k;
    b->jobs_read++;
}

/* Where each node is reached (a served model's replica: NodeAddr, which
 * its name need not resolve to). */
static void keep_addrs(struct backend *b, const struct slurm_node *nodes, size_t n)
{
    struct slurm_node *kept = n ? calloc(n, sizeof(*kept)) : NULL;

    if (n && !kept)
        return; /* the last read's stay */
    for (size_t i = 0; i < n; i++) {
        snprintf(kept[i].name, sizeof(kept[i].name), "%s", nodes[i].name);
        snprintf(kept[i].addr, sizeof(kept[i].addr), "%s", nodes[i].addr);
    }
    free(b->addrs);
    b->addrs = kept;
    b->n_addrs = n;
}

const char *backend_slurm_node_addr(const struct backend *b, const char *name)
{
    for (size_t i = 0; i < b->n_addrs; i++)
        if (!strcmp(b->addrs[i].name, name))
            return *b->addrs[i].addr ? b->addrs[i].addr : name;
    return name;
}

static void apply_read(struct backend *b, const struct slurm_snap *s)
{
    if (s->jobs_only) { /* capacity stays as the last whole read had it */
        if (s->have_jobs)
            keep_jobs(b, s->jobs, s->n_jobs);
        return;
    }
    if (s->error[0]) {
        if (strcmp(b->degraded, s->error))
            log_errx("cannot read Slurm: %s; advertising the site as degraded", s->error);
        snprintf(b->degraded, sizeof(b->degraded), "%s", s->error);
        for (size_t i = 0; i < b->n_pools; i++)
            b->pools[i].pool.gpus_free = 0;
        return;
    }
    if (*b->degraded)
        log_info("Slurm answers again: the site is no longer degraded");
    b->degraded[0] = '\0';
    build_pools(b, s->parts, s->n_parts, s->nodes, s->n_nodes);
    keep_addrs(b, s->nodes, s->n_nodes);
    if (s->have_jobs) {
        account_jobs(b, s->jobs, s->n_jobs);
        keep_jobs(b, s->jobs, s->n_jobs);
    }
    sync_holds(b, s->resv, s->n_resv, s->started_ms);
    subtract_unflagged_holds(b);
    build_windows(b, s->resv, s->n_resv);
}

/* Start estimates by pool; the first size's is the pool's queue wait. */
static void apply_estimates(struct backend *b, const struct slurm_estimate *e, size_t n)
{
    for (size_t i = 0; i < b->n_pools; i++) {
        struct spool *sp = &b->pools[i];
        Aifed__Pool *p = &sp->pool;

        p->n_starts = 0;
        for (size_t k = 0; k < n && p->n_starts < MAX_SIZES; k++) {
            Aifed__StartEstimate *st = &sp->starts[p->n_starts];
            if (strcmp(e[k].partition, sp->name))
                continue;
            aifed__start_estimate__init(st);
            st->gpus = e[k].gpus;
            st->wait_s = e[k].wait_s;
            p->n_starts++;
        }
        p->queue_wait_s = p->n_starts ? p->starts[0]->wait_s : 0;
    }
}

/* Take what the reader has; the first time, wait a little for it (bounded
 * well below the watchdog: a slurmctld that hangs at start makes the site
 * degraded, not the agent stuck). */
static int take_reads(struct backend *b, struct af_error *err)
{
    static struct slurm_estimate est[SLURM_MAX_ESTIMATES];
    uint64_t first_wait = 4 * b->cmd.timeout_ms < 5000 ? 4 * b->cmd.timeout_ms : 5000;
    struct slurm_snap *s;
    bool fresh;
    size_t n;

    if (!b->poll) {
        if (!(b->poll = slurm_poll_start(&b->cmd, &b->conf->slurm, err)))
            return -1;
        slurm_poll_kick(b->poll, b->n_holds > 0);
    }
    s = slurm_poll_take(b->poll, b->read_once ? 0 : first_wait);
    b->read_s = s ? s->seconds : -1;
    b->read_ok = s && !s->error[0];
    if (s) {
        apply_read(b, s);
        b->read_once = true;
        slurm_snap_free(s);
    } else if (!b->read_once) {
        snprintf(b->degraded, sizeof(b->degraded),
                 "no answer from Slurm yet (after %llu ms)",
                 (unsigned long long)first_wait);
    }
    n = slurm_poll_estimates(b->poll, est, SLURM_MAX_ESTIMATES, &fresh);
    if (fresh)
        apply_estimates(b, est, n);
    /* The next read, for the next advertisement. */
    slurm_poll_kick(b->poll, b->n_holds > 0);
    return 0;
}

static bool slurm_refresh(struct backend *b)
{
    struct slurm_snap *s = b->poll ? slurm_poll_take(b->poll, 0) : NULL;

    if (!s) {
        /* Not done yet, or none asked for since the last was taken (a job
         * was just submitted between advertisements): ask, so that the
         * reads run back to back rather than from the next advertisement
         * (asking again while one runs changes nothing). */
        if (b->poll)
            slurm_poll_kick_jobs(b->poll);
        return false;
    }
    apply_read(b, s);
    slurm_snap_free(s);
    slurm_poll_kick_jobs(b->poll);
    return true;
}

/* Holds still in force, listed for the broker (net of the free figures). */
static int list_holds(struct backend *b, struct af_error *err)
{
    char **ids = realloc(b->held_ids, (b->n_holds ? b->n_holds : 1) * sizeof(*ids));
    size_t n = 0;

    if (!ids)
        return af_error_set(err, "out of memory");
    b->held_ids = ids;
    for (size_t i = 0; i < b->n_holds; i++)
        if (!b->holds[i].releasing && !b->holds[i].creating)
            ids[n++] = b->holds[i].lease_id;
    b->adv.held_lease_ids = ids;
    b->adv.n_held_lease_ids = n;
    return 0;
}

static const Aifed__Advertisement *slurm_advertisement(struct backend *b,
                                                       struct af_error *err)
{
    const Aifed__Site *file = site_file_site(b->site);

    if (!file) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    if (take_reads(b, err) < 0)
        return NULL;
    b->site_msg = *file;
    af_wire_clean_text(b->degraded);
    b->site_msg.degraded = b->degraded;
    b->site_msg.maintenance = b->window_ptrs;
    b->site_msg.n_maintenance = b->n_windows;
    if (b->user_names && b->project_names) {
        b->site_msg.maps_accounts = true;
        b->site_msg.mapped_users = b->user_names;
        b->site_msg.n_mapped_users = b->n_users;
        b->site_msg.mapped_projects = b->project_names;
        b->site_msg.n_mapped_projects = b->n_projects;
    }
    aifed__advertisement__init(&b->adv);
    b->adv.site = &b->site_msg;
    b->adv.pools = b->pool_ptrs;
    b->adv.n_pools = b->n_pools;
    b->adv.seq = ++b->seq;
    if (list_holds(b, err) < 0)
        return NULL;
    return &b->adv;
}

/* ---- holds asked by the broker ---- */

static void local_time(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
}

/* The local user and account the user map gives for l's principal and
 * project; either may be NULL. */
static void local_names(const struct backend *b, const Aifed__Lease *l, const char **user,
                        const char **acct)
{
    const char *name =
        strncmp(l->principal, "user:", 5) ? l->principal : l->principal + 5;

    *user = map_find(b->users, b->n_users, name);
    *acct = map_find(b->projects, b->n_projects, l->workload->project);
}

/* Users= and Accounts= for the lease, from user_map. */
static int who(struct backend *b, const Aifed__Lease *l, char *users, char *accounts,
               size_t size, struct af_error *why)
{
    const char *user, *acct;

    local_names(b, l, &user, &acct);
    if (!user && !acct)
        return af_error_set(why,
                            "no local Slurm user for %s or account for project %s "
                            "in the site's user map",
                            l->principal, l->workload->project);
    snprintf(users, size, "Users=%s", user ? user : "");
    snprintf(accounts, size, "Accounts=%s", acct ? acct : "");
    return 0;
}

/* A renewal moves the reservation's end: 0 when it is there already, 1
 * when scontrol was asked (done is told), -1 with why. */
static int extend(struct backend *b, struct shold *h, int64_t end_ms,
                  backend_hold_fn done, void *arg, struct af_error *why)
{
    char name[SLURM_NAME_MAX + 32], end[64], t[32];

    if (end_ms == h->end_ms && !h->extending)
        return 0;     /* the broker asked again: the hold stands */
    if (h->extending) /* asked again while it runs */
        return add_waiter(h, done, arg, why) < 0 ? -1 : 1;
    local_time(end_ms, t, sizeof(t));
    snprintf(name, sizeof(name), "ReservationName=" RESV_PREFIX "%s", h->lease_id);
    snprintf(end, sizeof(end), "EndTime=%s", t);
    if (run_sop(b, SOP_EXTEND, h->lease_id,
                (const char *const[]){"scontrol", "update", name, end, NULL}, why) < 0)
        return -1;
    h->extending = true;
    h->extend_to_ms = end_ms;
    add_waiter(h, done, arg, why);
    return 1;
}

/* scontrol create reservation aifed-<lease> of nodes in l's partition,
 * from now (or the lease's not_before) to the lease's end, for whom the
 * user map says. Slurm itself refuses one whose nodes are taken then. */
static int create_reservation(struct backend *b, const Aifed__Lease *l, uint32_t nodes,
                              int64_t start_ms, struct af_error *why)
{
    char name[SLURM_NAME_MAX + 32], part[SLURM_NAME_MAX + 32], end[64], cnt[32], t[32];
    char start[64];
    char users[SLURM_NAME_MAX + 16], accounts[SLURM_NAME_MAX + 16];
    const char *args[13] = {"scontrol", "create", "reservation"};
    size_t n = 3;

    if (who(b, l, users, accounts, sizeof(users), why) < 0)
        return -1;
    local_time(l->expires_ms, t, sizeof(t));
    snprintf(name, sizeof(name), "ReservationName=" RESV_PREFIX "%s", l->id);
    snprintf(part, sizeof(part), "PartitionName=%s", l->pool);
    snprintf(end, sizeof(end), "EndTime=%s", t);
    snprintf(cnt, sizeof(cnt), "NodeCnt=%u", nodes);
    args[n++] = name;
    if (start_ms > af_now_ms()) {
        local_time(start_ms, t, sizeof(t));
        snprintf(start, sizeof(start), "StartTime=%s", t);
        args[n++] = start;
    } else {
        args[n++] = "StartTime=now";
    }
    args[n++] = end;
    args[n++] = part;
    args[n++] = cnt;
    if (users[6]) /* "Users=" and a name */
        args[n++] = users;
    if (accounts[9])
        args[n++] = accounts;
    args[n] = NULL;
    return run_sop(b, SOP_CREATE, l->id, args, why);
}

/* A hold being released is not listed any more: asking for it again is new. */
static bool slurm_holding(struct backend *b, const char *lease_id)
{
    const struct shold *h = find_hold(b, lease_id);

    return h && !h->releasing && !h->creating;
}

static int slurm_hold(struct backend *b, const Aifed__Lease *l, backend_hold_fn done,
                      void *arg, struct af_error *why)
{
    struct shold *h = find_hold(b, l->id);
    struct spool *sp = find_pool(b, l->pool);
    int64_t start_ms = backend_hold_start_ms(l, af_now_ms());
    uint32_t gpn, nodes;

    if (h && h->creating && !h->releasing) /* asked again while Slurm makes it */
        return add_waiter(h, done, arg, why) < 0 ? -1 : 1;
    if (h && !h->releasing)
        return extend(b, h, l->expires_ms, done, arg, why);
    if (h)
        return af_error_set(why, "lease %s is being released here", l->id);
    if (*b->degraded)
        return af_error_set(why, "Slurm does not answer: %s", b->degraded);
    if (!sp)
        return af_error_set(why, "no partition %s with GPUs here", l->pool);
    if (l->expires_ms <= af_now_ms())
        return af_error_set(why, "the lease has already ended");
    /* Slurm 22.05 reserves nodes, not GPUs: whole nodes, enough for both. */
    gpn = sp->pool.gpus_per_node;
    nodes = (l->gpus + gpn - 1) / gpn;
    if (l->nodes > nodes)
        nodes = l->nodes;
    {
        char u[SLURM_NAME_MAX + 16], a[SLURM_NAME_MAX + 16];
        if (who(b, l, u, a, sizeof(u), why) < 0) /* said now, not after a command */
            return -1;
    }
    if (!(h = add_hold(b, l->id)))
        return af_error_set(why, "out of memory");
    snprintf(h->pool, sizeof(h->pool), "%s", l->pool);
    h->nodes = nodes;
    h->gpus = nodes * gpn;
    h->start_ms = start_ms;
    h->end_ms = l->expires_ms;
    h->created_ms = INT64_MAX; /* no read says anything of it while it is made */
    h->creating = true;
    if (create_reservation(b, l, nodes, start_ms, why) < 0) {
        drop_hold(b, h);
        return -1;
    }
    add_waiter(find_hold(b, l->id), done, arg, why);
    return 1;
}

/* sbatch --reservation=aifed-<lease> --partition=<pool>, as the local
 * account the user map gives (the user's, else the project's). */
static const Aifed__SiteAccess *slurm_access(struct backend *b, const Aifed__Lease *l)
{
    const char *user, *acct;

    local_names(b, l, &user, &acct);
    aifed__site_access__init(&b->access);
    snprintf(b->access_buf[0], sizeof(b->access_buf[0]), RESV_PREFIX "%s", l->id);
    snprintf(b->access_buf[1], sizeof(b->access_buf[1]), "%s", l->pool);
    snprintf(b->access_buf[2], sizeof(b->access_buf[2]), "%s",
             user   ? user
             : acct ? acct
                    : "");
    b->access.scheduler = "slurm";
    b->access.reservation = b->access_buf[0];
    b->access.partition = b->access_buf[1];
    b->access.account = b->access_buf[2];
    return &b->access;
}

const struct slurm_cmd *backend_slurm_cmd(const struct backend *b)
{
    return &b->cmd;
}

int backend_slurm_read_once(const struct backend *b)
{
    return b->read_once;
}

uint64_t backend_slurm_jobs(const struct backend *b, const struct slurm_job **jobs,
                            size_t *n)
{
    *jobs = b->jobs;
    *n = b->n_jobs;
    return b->jobs_read;
}

int backend_slurm_target(struct backend *b, const Aifed__Job *j, struct backend_target *t,
                         struct af_error *why)
{
    const struct shold *h = find_hold(b, j->lease_id);
    const char *name =
        strncmp(j->principal, "user:", 5) ? j->principal : j->principal + 5;
    const char *user = map_find(b->users, b->n_users, name);
    const char *acct = map_find(b->projects, b->n_projects, j->project);

    if (!h || h->releasing || h->creating)
        return af_error_set(why, "no hold for lease %s here", j->lease_id);
    if (!user)
        return af_error_set(
            why,
            "no local user for %s in the site's user map: a job runs as "
            "its user's own account (the site's admins add it to [users])",
            j->principal);
    snprintf(t->reservation, sizeof(t->reservation), RESV_PREFIX "%s", j->lease_id);
    snprintf(t->partition, sizeof(t->partition), "%s", h->pool);
    snprintf(t->user, sizeof(t->user), "%s", user);
    snprintf(t->account, sizeof(t->account), "%s", acct ? acct : "");
    return 0;
}

static int slurm_release(struct backend *b, const char *lease_id)
{
    struct shold *h = find_hold(b, lease_id);

    if (!h) {
        errno = ENOENT;
        return -1;
    }
    h->releasing = true;
    if (!h->creating) /* else once Slurm has made it */
        start_delete(b, h);
    return 0;
}

static double slurm_read_seconds(struct backend *b, bool *ok)
{
    *ok = b->read_ok;
    return b->read_s;
}

static size_t slurm_ended(struct backend *b, struct backend_ended *out, size_t max)
{
    size_t n = b->n_ended < max ? b->n_ended : max;

    memcpy(out, b->ended, n * sizeof(*out));
    memmove(b->ended, b->ended + n, (b->n_ended - n) * sizeof(*out));
    b->n_ended -= n;
    return n;
}

/* ---- life ---- */

static void slurm_set_procs(struct backend *b, struct aproc_pool *procs)
{
    b->procs = procs; /* NULL: the pool is going; no command starts */
}

static void slurm_destroy(struct backend *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n_holds; i++)
        tell_waiters(&b->holds[i], -1, "the agent is stopping");
    if (b->ctl) {
        b->ctl->b = NULL;
        if (b->ctl->refs == 0)
            free(b->ctl);
    }
    free(b->addrs);
    free(b->jobs);
    slurm_poll_stop(b->poll); /* first: the reader uses cmd and conf */
    site_file_free(b->site);
    slurm_cmd_fini(&b->cmd);
    free(b->user_names);
    free(b->project_names);
    map_free(b->users, b->n_users);
    map_free(b->projects, b->n_projects);
    for (size_t i = 0; i < b->n_holds; i++)
        free(b->holds[i].jobs);
    free(b->holds);
    free(b->held_ids);
    free(b);
}

/* Nothing is asked of Slurm here, so `-n` works where Slurm is not reachable. */
static struct backend *slurm_create(const struct aconf *conf, struct af_error *err)
{
    struct backend *b = calloc(1, sizeof(*b));
    char *map = NULL;

    if (!b || !(map = aconf_path(conf, conf->slurm.user_map))) {
        af_error_set(err, "out of memory");
        goto fail;
    }
    b->conf = conf;
    if (!(b->ctl = calloc(1, sizeof(*b->ctl)))) {
        af_error_set(err, "out of memory");
        goto fail;
    }
    b->ctl->b = b;
    if (runas_init(&b->runas, conf, err) < 0 || slurm_cmd_init(&b->cmd, conf, err) < 0 ||
        !(b->site = site_file_read(conf, err)) ||
        af_conf_parse(map, on_map_line, b, err) < 0)
        goto fail;
    b->user_names = map_names(b->users, b->n_users);
    b->project_names = map_names(b->projects, b->n_projects);
    if (!b->user_names || !b->project_names)
        log_warnx("user map %s: more than %d users or projects: the broker is not told "
                  "whose accounts are here, and refuses no one before a hold",
                  map, AF_WIRE_MAX_LIST);
    build_windows(b, NULL, 0);
    free(map);
    return b;
fail:
    free(map);
    slurm_destroy(b);
    return NULL;
}

/* SIGHUP: the site file and the user map again; holds live in Slurm and
 * carry over as they are. */
static struct backend *slurm_reload(struct backend *old, const struct aconf *conf,
                                    struct af_error *err)
{
    struct backend *b = slurm_create(conf, err);

    if (!b)
        return NULL;
    b->holds = old->holds;
    b->n_holds = old->n_holds;
    old->holds = NULL;
    old->n_holds = 0;
    /* Commands in flight answer the new backend. */
    free(b->ctl);
    b->ctl = old->ctl;
    b->ctl->b = b;
    old->ctl = NULL;
    b->procs = old->procs;
    memcpy(b->pools, old->pools, sizeof(b->pools));
    b->n_pools = old->n_pools;
    for (size_t i = 0; i < b->n_pools; i++) {
        b->pools[i].pool.name = b->pools[i].name;
        b->pools[i].pool.accelerator = b->pools[i].accel;
        for (size_t s = 0; s < MAX_SIZES; s++)
            b->pools[i].start_ptrs[s] = &b->pools[i].starts[s];
        b->pools[i].pool.starts = b->pools[i].start_ptrs;
        b->pool_ptrs[i] = &b->pools[i].pool;
    }
    memcpy(b->ended, old->ended, sizeof(b->ended));
    b->n_ended = old->n_ended;
    old->n_ended = 0;
    memcpy(b->released, old->released, sizeof(b->released));
    b->next_released = old->next_released;
    memcpy(b->degraded, old->degraded, sizeof(b->degraded));
    b->read_once = old->read_once;
    return b;
}

static void slurm_print(struct backend *b, FILE *out)
{
    site_file_print(b->site, out);
    fprintf(out, "\n# user map, as understood\n[users]\n");
    for (size_t i = 0; i < b->n_users; i++)
        fprintf(out, "%s = %s\n", b->users[i].from, b->users[i].to);
    fprintf(out, "[projects]\n");
    for (size_t i = 0; i < b->n_projects; i++)
        fprintf(out, "%s = %s\n", b->projects[i].from, b->projects[i].to);
}

const struct backend_ops backend_slurm_ops = {
    .name = "slurm",
    .create = slurm_create,
    .destroy = slurm_destroy,
    .advertisement = slurm_advertisement,
    .hold = slurm_hold,
    .access = slurm_access,
    .holding = slurm_holding,
    .release = slurm_release,
    .ended = slurm_ended,
    .read_seconds = slurm_read_seconds,
    .reload = slurm_reload,
    .print = slurm_print,
    .refresh = slurm_refresh,
    .set_procs = slurm_set_procs,
    .executor = "slurm",
};
