/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jobrelay: a read of a job's output in flight is a struct log_ask, freed
 * when the executor answers (it always does, also when its readers go).
 */
#include "jobrelay.h"
#include "af_ids.h"
#include "af_log.h"
#include "af_wire.h"
#include "executor.h"
#include "follow.h"
#include "replica_http.h"
#include "replicas.h"
#include "aproc.h"
#include "af_sshcert.h"
#include "usersig.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The site's principals command: its time and its answer's size. */
#define PRINCIPALS_TIMEOUT_MS 10000
#define PRINCIPALS_MAX_OUT    (64 * 1024)

struct jobrelay {
    char site[AF_ID_MAX + 1];
    struct jobrelay_io io;
    const struct executor_ops *xops;
    struct executor *x;
    struct replicas *reps;     /* served models' replicas, probed; NULL without a loop */
    struct replica_http *http; /* requests to them */
    bool quiet;                /* the agent is going: nothing more is sent */
};

static void on_replica_changed(const char *job_id, void *arg);
static void relay_send(void *arg, Aifed__Envelope *env);

struct jobrelay *jobrelay_create(const char *site_id, const struct jobrelay_io *io)
{
    struct jobrelay *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    snprintf(r->site, sizeof(r->site), "%s", site_id);
    r->io = *io;
    if (io->loop &&
        (!(r->reps = replicas_create(io->loop, on_replica_changed, r)) ||
         !(r->http = replica_http_create(io->loop, r->reps, relay_send, r)))) {
        replicas_destroy(r->reps);
        free(r);
        return NULL;
    }
    return r;
}

void jobrelay_destroy(struct jobrelay *r)
{
    if (r) {
        replica_http_destroy(r->http);
        replicas_destroy(r->reps);
    }
    free(r);
}

void jobrelay_set_executor(struct jobrelay *r, const struct executor_ops *xops,
                           struct executor *x)
{
    r->xops = x ? xops : NULL;
    r->x = x;
}

void jobrelay_stop_sending(struct jobrelay *r)
{
    r->quiet = true;
}

static void relay(struct jobrelay *r, Aifed__Envelope *env)
{
    if (!r->quiet)
        r->io.send(r->io.arg, env);
}

static void relay_send(void *arg, Aifed__Envelope *env)
{
    relay(arg, env);
}

void jobrelay_replica_request(struct jobrelay *r, const Aifed__ReplicaRequest *rq)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__ReplicaResponse rr = AIFED__REPLICA_RESPONSE__INIT;

    if (r->http) {
        replica_http_request(r->http, rq);
        return;
    }
    rr.relay_id = rq->relay_id;
    rr.status = 502;
    rr.error = "this site serves no models";
    rr.end = true;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_REPLICA_RESPONSE, &rr);
    relay(r, &env);
}

void jobrelay_replica_cancel(struct jobrelay *r, uint64_t relay_id)
{
    if (r->http)
        replica_http_cancel(r->http, relay_id);
}

void jobrelay_report(const char *job_id, int state, int exit_code, const char *reason,
                     const char *site_job_id, const char *account, void *arg)
{
    struct jobrelay *r = arg;
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__JobStatus st = AIFED__JOB_STATUS__INIT;
    char why[AF_WIRE_MAX_TEXT + 1];

    snprintf(why, sizeof(why), "%s", reason);
    af_wire_clean_text(why);
    st.job_id = (char *)job_id;
    st.state = state;
    st.exit_code = exit_code;
    st.reason = why;
    st.site_job_id = (char *)site_job_id;
    st.local_account = (char *)account;
    if (r->reps) {
        const char *node = r->x && r->xops->node ? r->xops->node(r->x, job_id) : NULL;
        const char *where;
        bool ready;
        replicas_state(r->reps, job_id, state, node);
        if (replicas_get(r->reps, job_id, &where, &st.port, &ready)) {
            st.node = (char *)where;
            st.ready = ready;
        }
    }
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_JOB_STATUS, &st);
    relay(r, &env);
}

/* A replica's readiness changed: the broker hears it with its state. */
static void on_replica_changed(const char *job_id, void *arg)
{
    struct jobrelay *r = arg;
    const char *node;
    uint32_t port;
    bool ready = false;

    replicas_get(r->reps, job_id, &node, &port, &ready);
    jobrelay_report(job_id, AIFED__JOB_STATE__JOB_RUNNING, 0,
                    ready ? "answers its readiness probe"
                          : "stopped answering its readiness probe",
                    "", "", r);
}

/* The site's path of the catalogue entry of kind called name, or NULL. */
static const char *catalog_path(const Aifed__Site *site, int kind, const char *name)
{

    for (size_t i = 0; site && i < site->n_data; i++)
        if ((int)site->data[i]->kind == kind && !strcmp(site->data[i]->name, name) &&
            site->data[i]->path && *site->data[i]->path)
            return site->data[i]->path;
    return NULL;
}

/* What the job names of the site's catalogue, at the site's paths: the
 * first model's and data set's in AIFED_MODEL_PATH and AIFED_DATASET_PATH,
 * and an image named as the catalogue names it run from its path (and
 * given in AIFED_IMAGE_PATH). *copy and its spec borrow from j and res. */
struct resolved {
    Aifed__Job job;
    Aifed__JobSpec spec;
    Aifed__EnvVar vars[5];
    Aifed__EnvVar *env[AF_WIRE_MAX_ENV + 5];
    char port[12]; /* a replica's, in AIFED_PORT */
};

/* Add name=value to r's environment (at most 4 are added). */
static void add_var(struct resolved *r, size_t *n, const char *name, const char *value)
{
    aifed__env_var__init(&r->vars[*n]);
    r->vars[*n].name = (char *)name;
    r->vars[*n].value = (char *)value;
    r->env[r->spec.n_env + *n] = &r->vars[*n];
    ++*n;
}

static const Aifed__Job *resolve_catalog(const Aifed__Site *site, const Aifed__Job *j,
                                         uint32_t port, struct resolved *r)
{
    static const struct {
        int kind;
        const char *var;
    } kinds[] = {{AIFED__DATA_KIND__DATA_MODEL, "AIFED_MODEL_PATH"},
                 {AIFED__DATA_KIND__DATA_DATASET, "AIFED_DATASET_PATH"},
                 {AIFED__DATA_KIND__DATA_IMAGE, "AIFED_IMAGE_PATH"}};
    const Aifed__JobSpec *s = j->spec;
    const char *image = s && *s->image && !strchr(s->image, '/')
                            ? catalog_path(site, AIFED__DATA_KIND__DATA_IMAGE, s->image)
                            : NULL;
    size_t n = 0;

    if (!s || s->n_env > AF_WIRE_MAX_ENV)
        return j;
    r->job = *j;
    r->spec = *s;
    r->job.spec = &r->spec;
    if (s->n_env) /* NULL when there are none */
        memcpy(r->env, s->env, s->n_env * sizeof(*r->env));
    if (image) { /* run inside the site's copy of the image */
        add_var(r, &n, "AIFED_IMAGE_PATH", image);
        r->spec.image = (char *)image;
    }
    for (size_t k = 0; k < 3; k++) {
        const char *path = NULL;

        for (size_t i = 0; !path && i < s->n_data; i++)
            if ((int)s->data[i]->kind == kinds[k].kind)
                path = catalog_path(site, kinds[k].kind, s->data[i]->name);
        if (path && !(image && kinds[k].kind == AIFED__DATA_KIND__DATA_IMAGE))
            add_var(r, &n, kinds[k].var, path);
    }
    if (port) { /* a served model's replica listens there */
        snprintf(r->port, sizeof(r->port), "%u", port);
        add_var(r, &n, "AIFED_PORT", r->port);
    }
    r->spec.env = r->env;
    r->spec.n_env = s->n_env + n;
    return &r->job;
}

static void refuse(struct jobrelay *r, const char *job_id, const char *why)
{
    log_info("job %s: not started: %s", job_id, why);
    jobrelay_report(job_id, AIFED__JOB_STATE__JOB_FAILED, 0, why, "", "", r);
}

/* Start job, checked: with the site's catalogue paths filled in (and a
 * served model's replica's port). */
static void start_checked(struct jobrelay *r, const Aifed__Job *job)
{
    struct resolved res;
    const Aifed__Job *j;
    struct af_error why;
    uint32_t port = 0;
    int rc;

    if (job->spec && job->spec->service && r->reps &&
        replicas_add(r->reps, job, &port) < 0) {
        af_error_set(&why,
                     errno == EMFILE ? "this site runs %d served models' replicas already"
                                     : "no free port for the replica (%d)",
                     errno == EMFILE ? REPLICAS_MAX : errno);
        refuse(r, job->id, why.text);
        return;
    }
    j = resolve_catalog(r->io.site ? r->io.site(r->io.arg) : NULL, job, port, &res);
    if ((rc = r->xops->start(r->x, j, &why)) == 0 && r->xops->starting &&
        r->io.starting && r->xops->starting(r->x))
        r->io.starting(r->io.arg);
    if (rc < 0) {
        log_info("job %s: not started: %s", j->id, why.text);
        jobrelay_report(j->id, AIFED__JOB_STATE__JOB_FAILED, 0, why.text, "", "", r);
    }
}

/* A job waiting for the site's principals command (usersig.h). */
struct asking {
    struct jobrelay *r;
    Aifed__Job *job; /* a copy: the StartJob is gone by the answer */
    struct af_sshcert cert;
    char account[AF_ID_MAX + 1];
};

static void on_principals(const struct aproc_result *res, void *arg)
{
    struct asking *a = arg;
    struct af_error why;
    char line[AF_WIRE_MAX_TEXT];

    if (res->stopping) {
        /* the agent is going */
    } else if (res->status != 0) {
        snprintf(line, sizeof(line), "the site's principals command failed (%s)",
                 *res->err ? res->err : "no reason given");
        line[strcspn(line, "\n")] = '\0';
        refuse(a->r, a->job->id, line);
    } else if (usersig_listed(&a->cert, (char *)res->out, a->account, &why) < 0) {
        refuse(a->r, a->job->id, why.text);
    } else {
        start_checked(a->r, a->job);
    }
    aifed__job__free_unpacked(a->job, NULL);
    free(a);
}

/* Ask the site's principals command for account, then start job if the
 * certificate's principals are among its answer. 0 asked; -1 with why. */
static int ask_principals(struct jobrelay *r, const Aifed__Job *job,
                          const struct af_sshcert *cert, const char *account,
                          struct af_error *why)
{
    struct asking *a = calloc(1, sizeof(*a));
    size_t len = aifed__job__get_packed_size(job);
    uint8_t *buf = malloc(len ? len : 1);
    char words[2048], *argv[16];

    if (a && buf) {
        aifed__job__pack(job, buf);
        a->job = aifed__job__unpack(NULL, len, buf);
    }
    free(buf);
    if (!a || !a->job) {
        free(a);
        return af_error_set(why, "out of memory");
    }
    a->r = r;
    a->cert = *cert;
    snprintf(a->account, sizeof(a->account), "%s", account);
    if (usersig_command(r->io.conf, account, words, sizeof(words), argv, 16, why) < 0 ||
        aproc_run(r->io.procs, argv, NULL, 0, PRINCIPALS_TIMEOUT_MS, PRINCIPALS_MAX_OUT,
                  on_principals, a) < 0) {
        if (!*why->text)
            af_error_set(why,
                         "the site is too busy to check who signed it; submit again");
        aifed__job__free_unpacked(a->job, NULL);
        free(a);
        return -1;
    }
    return 0;
}

/* Whether job's user signed it, as the site requires or checks: on the job
 * as the broker sent it, before the site fills anything in. 0: start it;
 * 1: asked of the principals command, started when it answers; -1 why. */
static int signed_by_user(struct jobrelay *r, const Aifed__Job *job, struct af_error *why)
{
    char account[AF_ID_MAX + 1];
    struct af_sshcert cert;
    int rc;

    if (!r->io.conf || (!usersig_checks(r->io.conf) && !usersig_required(r->io.conf)))
        return 0;
    if (!r->xops->account)
        return af_error_set(why, "this site cannot check who signed a job");
    if (r->xops->account(r->x, job, account, sizeof(account), why) < 0)
        return -1;
    if (!usersig_by_command(r->io.conf) || !r->io.procs)
        return usersig_check(r->io.conf, job, account, why);
    if ((rc = usersig_verify(r->io.conf, job, &cert, why)) != 0)
        return rc > 0 ? 0 : -1;
    why->text[0] = '\0';
    return ask_principals(r, job, &cert, account, why) < 0 ? -1 : 1;
}

void jobrelay_start(struct jobrelay *r, const Aifed__Job *job)
{
    struct af_error why;
    int rc;

    if (strcmp(job->site, r->site))
        rc = af_error_set(&why, "job %s is for site %s, this is %s", job->id, job->site,
                          r->site);
    else if (!r->x)
        rc = af_error_set(&why,
                          "this site runs no jobs through aifed; run it by hand in "
                          "the lease's reservation (aifedctl lease show %s)",
                          job->lease_id);
    else if ((rc = signed_by_user(r, job, &why)) == 0)
        start_checked(r, job);
    if (rc < 0)
        refuse(r, job->id, why.text);
}

void jobrelay_stop(struct jobrelay *r, const char *job_id)
{
    if (r->x)
        r->xops->cancel(r->x, job_id, "cancelled");
}

struct log_ask {
    struct jobrelay *r;
    uint64_t relay_id;
    char job_id[AF_ID_MAX + 1];
};

static void send_piece(struct jobrelay *r, uint64_t relay_id, const char *job_id,
                       const struct follow_piece *p)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__JobLogChunk c = AIFED__JOB_LOG_CHUNK__INIT;
    Aifed__JobLog log = AIFED__JOB_LOG__INIT;

    log.job_id = (char *)job_id;
    log.offset = p->offset;
    log.data.data = (uint8_t *)p->data;
    log.data.len = p->len;
    log.size = p->size;
    log.at_end = p->at_end;
    c.relay_id = relay_id;
    c.log = &log;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_JOB_LOG_CHUNK, &c);
    relay(r, &env);
}

static void on_log_piece(const struct follow_piece *p, void *arg)
{
    struct log_ask *ask = arg;

    send_piece(ask->r, ask->relay_id, ask->job_id, p);
    free(ask);
}

/* A job this site has no output for answers an empty end, so the follower
 * stops. */
void jobrelay_read_log(struct jobrelay *r, const Aifed__ReadJobLog *rd)
{
    struct follow_piece none = {.offset = rd->offset, .at_end = true};
    struct log_ask *ask = calloc(1, sizeof(*ask));

    if (ask && r->x && af_id_valid(rd->job_id)) {
        ask->r = r;
        ask->relay_id = rd->relay_id;
        snprintf(ask->job_id, sizeof(ask->job_id), "%s", rd->job_id);
        if (r->xops->read_log(r->x, rd->job_id, rd->offset, rd->max_bytes, on_log_piece,
                              ask) == 0)
            return;
    }
    free(ask);
    send_piece(r, rd->relay_id, rd->job_id, &none);
}
