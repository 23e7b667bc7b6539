/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent: the loop. Until the broker welcomes it, the agent repeats its hello
 * every interval and, after a few unanswered ones, says what to check (a
 * broker that is down, a wrong broker key, or a site key the broker does not
 * know all look the same from here: silence).
 */
#include "agent.h"
#include "aconf.h"
#include "af_keys.h"
#include "af_log.h"
#include "af_notify.h"
#include "af_time.h"
#include "ametrics.h"
#include "af_token.h"
#include "af_wire.h"
#include "af_zlink.h"
#include "af_zloop.h"
#include "af_zsock.h"
#include "aproc.h"
#include "backend.h"
#include "executor.h"
#include "follow.h"
#include "held.h"
#include "jobrelay.h"
#include "runas.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define HELLO_WARN_AFTER 3
#define AGENT_MONITOR    "inproc://agent-monitor"

struct agent {
    const struct aconf *conf;
    const struct backend_ops *ops;
    struct backend *b;
    void *zctx;
    void *sock;
    struct af_zloop *zl;
    void *mon; /* the socket's monitor: why the broker is silent */
    struct af_zloop *zl_mon;
    struct af_zlink link;         /* what the monitor said since the last connection */
    enum af_zlink_why link_said;  /* logged once until it changes */
    const Aifed__Site *site_seen; /* the last advertised, for the catalogue's paths */
    uv_loop_t loop;
    uv_timer_t timer;
    uv_timer_t soon;     /* one advertisement for a burst of holds and releases */
    uv_timer_t metrics;  /* renders the metrics once a second */
    uv_timer_t watchdog; /* systemd's, when it asked for one */
    uv_timer_t starting; /* reads Slurm back to back while a job starts */
    struct ametrics *m;
    uv_signal_t sigterm, sigint, sighup;
    bool welcomed;
    unsigned hellos;
    uint64_t next_corr;
    uint64_t interval_ms;
    char last_error[256];    /* said once, not at every advertisement */
    struct af_signer signer; /* countersigns lease tokens */
    char signing_pub[AF_SIGN_PK_B64];
    uint8_t broker_sign_pk[32]; /* from the Welcome, over CURVE */
    bool have_broker_key;
    size_t adv_bytes;  /* the last advertisement, plus the holds made since */
    size_t adv_held;   /* the holds it listed, plus the holds made since */
    bool list_full;    /* said once: holds are refused for want of room */
    struct held *held; /* what was countersigned, per hold */
    const struct executor_ops *xops; /* how jobs run here, or NULL: they do not */
    struct executor *x;
    struct runas runas;         /* who jobs run as, and how */
    struct aproc_pool *procs;   /* commands run for jobs */
    struct follow_pool *follow; /* jobs' output readers */
    struct jobrelay *relay;     /* jobs: the broker's messages to the executor */
    struct hold_ask *asks;      /* holds the backend answers later */
    size_t n_asks;
    bool dying;
};

static void send_env(struct agent *a, Aifed__Envelope *env)
{
    env->version = AF_WIRE_VERSION;
    if (!env->corr_id)
        env->corr_id = ++a->next_corr;
    if (af_zsock_send(a->sock, NULL, 0, env) < 0)
        log_debug("send %s: %s", af_wire_body_name(env->body_case),
                  af_zsock_strerror(errno));
}

/* Leases that ended at the site tell the broker what their jobs used. */
static void report_ended(struct agent *a)
{
    struct backend_ended ended[32];
    size_t n;

    if (!a->ops->ended || !a->welcomed)
        return;
    while ((n = a->ops->ended(a->b, ended, sizeof(ended) / sizeof(ended[0])))) {
        for (size_t i = 0; i < n; i++) {
            Aifed__Envelope env = AIFED__ENVELOPE__INIT;
            Aifed__LeaseEnded e = AIFED__LEASE_ENDED__INIT;

            held_drop(a->held, ended[i].lease_id);
            e.lease_id = ended[i].lease_id;
            e.gpu_seconds_used = ended[i].gpu_seconds;
            env.body_case = AIFED__ENVELOPE__BODY_LEASE_ENDED;
            env.lease_ended = &e;
            send_env(a, &env);
        }
    }
}

static void send_hello(struct agent *a)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__Hello h = AIFED__HELLO__INIT;

    h.agent_version = AIFED_VERSION;
    h.signing_key = a->signing_pub;
    env.body_case = AIFED__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    send_env(a, &env);
    if (++a->hellos == HELLO_WARN_AFTER)
        log_warnx("no answer from the broker at %s yet: check that it runs, that "
                  "broker_public_key is its key, and that site %s's public key is "
                  "registered there",
                  a->conf->broker, a->conf->site);
}

static int id_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Backend latency and errors: the read behind this advertisement, whether
 * the backend made it in the call or in the background. */
static void observe_backend(struct agent *a, const Aifed__Advertisement *adv, uint64_t t0)
{
    bool ok = adv != NULL;
    double secs = (double)(uv_hrtime() - t0) / 1e9;

    if (adv && a->ops->read_seconds && (secs = a->ops->read_seconds(a->b, &ok)) < 0)
        return;
    ametrics_backend(a->m, secs, ok);
}

static void advertise(struct agent *a)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    struct af_error err;
    uint64_t t0 = uv_hrtime();
    const Aifed__Advertisement *adv = a->ops->advertisement(a->b, &err);
    Aifed__Advertisement out;
    char **held;

    observe_backend(a, adv, t0);
    if (!adv) {
        log_errx("cannot read the site: %s", err.text);
        return;
    }
    /* A shallow copy: the backend's message stays its own. The holds go
     * sorted, which spares the broker a sort per advertisement. */
    out = *adv;
    a->site_seen = adv->site;
    out.signing_key = a->signing_pub;
    held = adv->n_held_lease_ids ? malloc(adv->n_held_lease_ids * sizeof(*held)) : NULL;
    if (held) {
        memcpy(held, adv->held_lease_ids, adv->n_held_lease_ids * sizeof(*held));
        qsort(held, adv->n_held_lease_ids, sizeof(*held), id_cmp);
        out.held_lease_ids = held;
    }
    env.body_case = AIFED__ENVELOPE__BODY_ADVERTISEMENT;
    env.advertisement = &out;
    a->adv_bytes = aifed__envelope__get_packed_size(&env);
    a->adv_held = out.n_held_lease_ids;
    send_env(a, &env);
    log_debug("advertised: seq %llu, %zu holds, %zu bytes", (unsigned long long)out.seq,
              out.n_held_lease_ids, a->adv_bytes);
    free(held);
    ametrics_advertised(a->m, af_now_ms());
    report_ended(a);
    if (a->x) /* the read this advertisement used says how the jobs are */
        a->xops->poll(a->x);
}

static void on_metrics(uv_timer_t *t)
{
    struct agent *a = t->data;

    ametrics_publish(a->m, a->conf->site, a->welcomed, af_now_ms());
}

static void on_soon(uv_timer_t *t)
{
    advertise(t->data);
}

/* Between advertisements, every read of Slurm that comes in says how the
 * jobs just submitted are, until none of them is still queued. */
#define STARTING_MS 50

static void on_starting(uv_timer_t *t)
{
    struct agent *a = t->data;

    if (a->ops->refresh(a->b))
        a->xops->poll(a->x);
    if (!a->xops->starting(a->x))
        uv_timer_stop(t);
}

/* The relay's view of the loop: send, the site as advertised, and a job
 * that may be starting (read the site closely, when the backend can). */
static void relay_send(void *arg, Aifed__Envelope *env)
{
    send_env(arg, env);
}

static const Aifed__Site *relay_site(void *arg)
{
    return ((struct agent *)arg)->site_seen;
}

static void relay_starting(void *arg)
{
    struct agent *a = arg;

    if (a->ops->refresh && !uv_is_active((uv_handle_t *)&a->starting))
        uv_timer_start(&a->starting, on_starting, STARTING_MS, STARTING_MS);
}

/* After a hold or release the broker should soon see the site as it is, but
 * a burst of them needs one advertisement, not one each (each lists every
 * hold): wait a little and send one. */
#define SOON_MS 50

static void advertise_soon(struct agent *a)
{
    if (!uv_is_active((uv_handle_t *)&a->soon))
        uv_timer_start(&a->soon, on_soon, SOON_MS, 0);
}

/* The lease must carry the broker's token, and the token must say what the
 * lease says: a hold is made for what the broker signed, nothing else. */
static int check_token(struct agent *a, const Aifed__Lease *l,
                       struct af_token_claims *ret, struct af_error *why)
{
    struct af_token_claims c;
    struct af_error err;
    char when[32];

    if (!a->have_broker_key)
        return af_error_set(why, "the broker gave no signing key");
    if (af_token_verify(l->token, a->broker_sign_pk, &c, &err) < 0) {
        /* Perhaps the broker has a new key: ask for it with the next Hello. */
        a->welcomed = false;
        return af_error_set(why, "token: %s", err.text);
    }
    /* Every field the backend acts on (the reservation's size, its users and
     * accounts from the principal and project, its end) is the token's. */
    if (strcmp(c.id, l->id) || strcmp(c.site, l->site) || strcmp(c.pool, l->pool) ||
        c.gpus != l->gpus || c.nodes != l->nodes ||
        strcmp(c.project, l->workload->project) || strcmp(c.principal, l->principal) ||
        strcmp(c.accelerator, af_wire_lease_model(l)) || c.not_after_ms != l->expires_ms)
        return af_error_set(why, "the token is for other resources than the lease");
    if (c.not_after_ms <= af_now_ms()) {
        af_time_format(c.not_after_ms, when, sizeof(when));
        return af_error_set(why, "the token expired at %s", when);
    }
    *ret = c;
    return 0;
}

/* A hold asked again for a lease that stands may change its end only. */
static int check_same(struct agent *a, const struct af_token_claims *c,
                      struct af_error *why)
{
    const struct af_token_claims *was = held_find(a->held, c->id);

    if (!was || !a->ops->holding(a->b, c->id) || held_same(was, c))
        return 0;
    return af_error_set(why,
                        "a hold for lease %s stands for %u GPUs on %u nodes in pool %s; "
                        "it may change its end, not what it holds",
                        c->id, was->gpus, was->nodes, was->pool);
}

/*
 * Every advertisement lists every hold, and a message over max_message makes
 * the broker drop the connection (one listing more than AF_WIRE_MAX_HELD it
 * refuses): the site would go DOWN and the holds in flight would be lost. So
 * a hold that would take the list past either (with room kept for the fields
 * that vary) is refused, and the broker places the lease elsewhere. Each
 * listed id costs its length plus a tag and a length. A hold that already
 * stands (a renewal, a re-ask) adds nothing to the list and always has room.
 */
#define ADV_SLACK 1024

static size_t listed_bytes(const char *lease_id)
{
    return strlen(lease_id) + 3;
}

/* *is_new: the hold would add an id to the list. */
static int check_room(struct agent *a, const Aifed__Lease *l, bool *is_new,
                      struct af_error *why)
{
    size_t cap = a->conf->max_message > ADV_SLACK ? a->conf->max_message - ADV_SLACK : 0;

    *is_new = !a->ops->holding(a->b, l->id);
    if (!*is_new)
        return 0;
    if (a->adv_bytes + listed_bytes(l->id) <= cap && a->adv_held < AF_WIRE_MAX_HELD) {
        a->list_full = false;
        return 0;
    }
    if (!a->list_full)
        log_warnx("holds are refused: the advertisement lists all %zu and has no room "
                  "for more within max_message (%llu bytes) or %d ids; raise max_message "
                  "on the broker and here, or let leases end",
                  a->adv_held, (unsigned long long)a->conf->max_message,
                  AF_WIRE_MAX_HELD);
    a->list_full = true;
    return af_error_set(why,
                        "this site's advertisement lists every hold and has no room for "
                        "another within max_message (%llu bytes) or %d ids",
                        (unsigned long long)a->conf->max_message, AF_WIRE_MAX_HELD);
}

/* A hold the backend answers later (a scheduler asked): what the answer
 * needs. At most MAX_ASKS at once; the rest are refused, and the broker
 * places them elsewhere. */
#define MAX_ASKS 256

struct hold_ask {
    struct agent *a; /* NULL once the agent is gone */
    uint64_t corr_id;
    Aifed__Lease *lease; /* a copy */
    struct af_token_claims claims;
    char sig[AF_SIGN_SIG_B64];
    bool is_new;
    struct hold_ask *next;
};

static void ask_free(struct hold_ask *ask)
{
    if (ask->lease)
        aifed__lease__free_unpacked(ask->lease, NULL);
    free(ask);
}

static void hold_answer(struct agent *a, uint64_t corr_id, const Aifed__Lease *l,
                        const struct af_token_claims *claims, const char *sig,
                        bool is_new, int rc, const struct af_error *why_in)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__LeaseHeld held = AIFED__LEASE_HELD__INIT;
    Aifed__LeaseRefused refused = AIFED__LEASE_REFUSED__INIT;
    struct af_error why = *why_in;

    env.corr_id = corr_id;
    if (rc == 0) {
        if (is_new) {
            a->adv_bytes += listed_bytes(l->id);
            a->adv_held++;
        }
        if (held_put(a->held, claims) < 0)
            log_err("lease %s: remembering what was signed", l->id);
        log_info("holding lease %s: %u GPUs in pool %s for %s", l->id, l->gpus, l->pool,
                 l->workload->project);
        held.lease_id = l->id;
        held.signature = (char *)sig;
        held.access =
            a->ops->access ? (Aifed__SiteAccess *)a->ops->access(a->b, l) : NULL;
        env.body_case = AIFED__ENVELOPE__BODY_LEASE_HELD;
        env.lease_held = &held;
    } else {
        log_info("refusing lease %s: %s", l->id, why.text);
        refused.lease_id = l->id;
        af_wire_clean_text(why.text);
        refused.reason = why.text;
        env.body_case = AIFED__ENVELOPE__BODY_LEASE_REFUSED;
        env.lease_refused = &refused;
    }
    send_env(a, &env);
    ametrics_hold(a->m, rc == 0);
    if (rc == 0)
        advertise_soon(a);
}

static void on_held_later(int rc, const struct af_error *why, void *arg)
{
    struct hold_ask *ask = arg, **pp;
    struct agent *a = ask->a;

    if (a) {
        for (pp = &a->asks; *pp && *pp != ask; pp = &(*pp)->next)
            ;
        if (*pp)
            *pp = ask->next;
        a->n_asks--;
        if (!a->dying)
            hold_answer(a, ask->corr_id, ask->lease, &ask->claims, ask->sig, ask->is_new,
                        rc, why);
    }
    ask_free(ask);
}

/* The backend answers later: keep what the answer needs. */
static struct hold_ask *ask_new(struct agent *a, const Aifed__Envelope *in,
                                const struct af_token_claims *claims, const char *sig,
                                bool is_new)
{
    const Aifed__Lease *l = in->lease_hold->lease;
    size_t len = aifed__lease__get_packed_size(l);
    uint8_t *buf = malloc(len ? len : 1);
    struct hold_ask *ask = calloc(1, sizeof(*ask));

    if (!buf || !ask) {
        free(buf);
        free(ask);
        return NULL;
    }
    aifed__lease__pack(l, buf);
    ask->lease = aifed__lease__unpack(NULL, len, buf);
    free(buf);
    if (!ask->lease) {
        free(ask);
        return NULL;
    }
    ask->a = a;
    ask->corr_id = in->corr_id;
    ask->claims = *claims;
    snprintf(ask->sig, sizeof(ask->sig), "%s", sig);
    ask->is_new = is_new;
    return ask;
}

static void on_hold(struct agent *a, const Aifed__Envelope *in)
{
    const Aifed__Lease *l = in->lease_hold->lease;
    char sig[AF_SIGN_SIG_B64];
    struct af_token_claims claims;
    struct hold_ask *ask = NULL;
    struct af_error why = {{0}};
    bool is_new = false;
    int rc;

    if (strcmp(l->site, a->conf->site))
        rc = af_error_set(&why, "lease is for site %s, this is %s", l->site,
                          a->conf->site);
    else if (check_token(a, l, &claims, &why) < 0 || check_same(a, &claims, &why) < 0 ||
             check_room(a, l, &is_new, &why) < 0)
        rc = -1;
    else if (af_token_countersign(l->token, &a->signer, sig, sizeof(sig)) < 0)
        rc = af_error_set(&why, "cannot sign the token");
    else if (a->n_asks >= MAX_ASKS)
        rc = af_error_set(&why, "this site is answering %d holds already; ask again",
                          MAX_ASKS);
    else if (!(ask = ask_new(a, in, &claims, sig, is_new)))
        rc = af_error_set(&why, "out of memory");
    else if ((rc = a->ops->hold(a->b, l, on_held_later, ask, &why)) == 1) {
        ask->next = a->asks; /* answered in on_held_later */
        a->asks = ask;
        a->n_asks++;
        return;
    }
    if (ask)
        ask_free(ask);
    hold_answer(a, in->corr_id, l, &claims, sig, is_new, rc, &why);
}

static void on_release(struct agent *a, const Aifed__Envelope *in)
{
    const char *id = in->lease_release->lease_id;

    /* No job outlives its lease's hold. */
    if (a->x)
        a->xops->cancel_lease(a->x, id, "the lease ended");
    if (a->ops->release(a->b, id) == 0) {
        held_drop(a->held, id);
        log_info("released lease %s", id);
        report_ended(a);
        advertise_soon(a);
    } else if (errno == ENOENT) {
        held_drop(a->held, id);
        log_debug("release of lease %s: not held here", id);
    } /* else the backend said why and tries again */
}

/* ---- jobs ---- */

static void on_start_job(struct agent *a, const Aifed__Envelope *in)
{
    jobrelay_start(a->relay, in->start_job->job);
}

static void on_stop_job(struct agent *a, const Aifed__Envelope *in)
{
    jobrelay_stop(a->relay, in->stop_job->job_id);
}

static void on_read_job_log(struct agent *a, const Aifed__Envelope *in)
{
    jobrelay_read_log(a->relay, in->read_job_log);
}

static void on_replica_request(struct agent *a, const Aifed__Envelope *in)
{
    jobrelay_replica_request(a->relay, in->replica_request);
}

static void on_replica_cancel(struct agent *a, const Aifed__Envelope *in)
{
    jobrelay_replica_cancel(a->relay, in->replica_cancel->relay_id);
}

/* Why the broker does not answer, once per cause, in words that name the
 * setting to check: the same causes aifedctl tells apart (af_zlink). */
static void say_link(struct agent *a, enum af_zlink_why why)
{
    const char *ep = a->conf->broker, *site = a->conf->site;

    if (why == a->link_said)
        return;
    a->link_said = why;
    if (why == AF_ZLINK_UNREACHABLE)
        log_warnx("cannot reach the broker at %s (connection refused): is it running, "
                  "and is broker = in this agent's config its agent endpoint? (retrying)",
                  ep);
    else if (why == AF_ZLINK_SERVER_KEY)
        log_warnx("connected to %s, but the CURVE handshake does not complete: "
                  "broker_public_key (%s) is not that broker's key (retrying)",
                  ep, a->conf->broker_public_key);
    else if (why == AF_ZLINK_KEY_REFUSED)
        log_warnx("the broker at %s refused site %s's key: its public key must be "
                  "registered in broker.conf as [site:%s] (retrying)",
                  ep, site, site);
}

static void on_monitor(void *mon, void *arg)
{
    struct agent *a = arg;
    uint16_t event;
    uint32_t value;

    while (af_zsock_monitor_event(mon, &event, &value)) {
        if (af_zlink_note(&a->link, event, value)) {
            log_warnx("lost the connection to the broker at %s: reconnecting",
                      a->conf->broker);
            a->link = (struct af_zlink){0}; /* a new connection, a new diagnosis */
            a->link_said = AF_ZLINK_OK;
            continue;
        }
        say_link(a, af_zlink_why(&a->link));
    }
}

static void on_welcome(struct agent *a, const Aifed__Envelope *in)
{
    const Aifed__Welcome *w = in->welcome;

    log_info("connected to the broker as %s", w->principal);
    a->welcomed = true;
    a->have_broker_key = af_sign_pub_decode(w->signing_key, a->broker_sign_pk) == 0;
    if (!a->have_broker_key)
        log_warnx("the broker sent no valid signing key: every hold will be refused");
    a->last_error[0] = '\0';
    /* The broker decides when a silent site is DOWN: keep to its pace. */
    if (w->advertise_interval_ms && w->advertise_interval_ms < a->interval_ms) {
        a->interval_ms = w->advertise_interval_ms;
        uv_timer_set_repeat(&a->timer, a->interval_ms);
    }
    advertise(a);
}

/* A revoked key or a broker-side limit answers every advertisement with the
 * same error: log it when it starts or changes, not every interval. */
static void on_error(struct agent *a, const Aifed__Envelope *in)
{
    const char *message = in->error->message;

    if (!strncmp(a->last_error, message, sizeof(a->last_error) - 1)) {
        log_debug("broker error (again): %s", message);
        return;
    }
    log_warnx("broker error: %s", message);
    snprintf(a->last_error, sizeof(a->last_error), "%s", message);
}

/* What the broker may say to an agent, ended by a { 0, NULL } row. */
struct agent_spec {
    Aifed__Envelope__BodyCase body;
    void (*fn)(struct agent *a, const Aifed__Envelope *in);
};

static const struct agent_spec handlers[] = {
    {AIFED__ENVELOPE__BODY_WELCOME, on_welcome},
    {AIFED__ENVELOPE__BODY_LEASE_HOLD, on_hold},
    {AIFED__ENVELOPE__BODY_LEASE_RELEASE, on_release},
    {AIFED__ENVELOPE__BODY_START_JOB, on_start_job},
    {AIFED__ENVELOPE__BODY_STOP_JOB, on_stop_job},
    {AIFED__ENVELOPE__BODY_READ_JOB_LOG, on_read_job_log},
    {AIFED__ENVELOPE__BODY_REPLICA_REQUEST, on_replica_request},
    {AIFED__ENVELOPE__BODY_REPLICA_CANCEL, on_replica_cancel},
    {AIFED__ENVELOPE__BODY_ERROR, on_error},
    {0, NULL},
};

static void on_message(void *sock, void *arg)
{
    struct agent *a = arg;
    struct af_zmsg z;
    const struct agent_spec *spec;

    if (af_zsock_recv(sock, false, a->conf->max_message, &z) < 0)
        return;
    if (!z.env) {
        log_warnx("undecodable message from the broker: %s", z.why.text);
        return;
    }
    for (spec = handlers; spec->fn && spec->body != z.env->body_case; spec++)
        ;
    if (spec->fn)
        spec->fn(a, z.env);
    else
        log_warnx("unexpected %s from the broker", af_wire_body_name(z.env->body_case));
    af_zmsg_clear(&z);
}

static void on_timer(uv_timer_t *t)
{
    struct agent *a = t->data;

    if (a->welcomed)
        advertise(a);
    else
        send_hello(a);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct agent *a = h->data;

    log_info("%s: stopping", strsignal(signum));
    af_notify_stopping();
    uv_stop(&a->loop);
}

/* SIGHUP: read the site again; holds carry over. A site file that no longer
 * parses leaves the running one in place, and says why. */
static void on_hup(uv_signal_t *h, int signum)
{
    struct agent *a = h->data;
    struct backend *b;
    struct af_error err;

    (void)signum;
    af_notify_reloading();
    if (!a->ops->reload || !(b = a->ops->reload(a->b, a->conf, &err))) {
        log_errx("reload: %s; the site stays as it was",
                 a->ops->reload ? err.text : "this backend cannot reload");
    } else {
        a->ops->destroy(a->b);
        a->b = b;
        if (a->ops->set_procs)
            a->ops->set_procs(b, a->procs);
        a->site_seen = NULL; /* it was the old backend's, until advertise() */
        if (a->x && a->xops->set_backend)
            a->xops->set_backend(a->x, b);
        log_info("reload: read the site again");
        advertise(a);
    }
    af_notify_ready("advertising");
}

/* The site's secret key and the broker's public one, as conf names them. */
static int load_keys(const struct aconf *conf, struct af_keypair *kp,
                     char broker_pub[AF_KEY_Z85_LEN + 1], struct af_error *err)
{
    char *keyfile = aconf_path(conf, conf->secret_key);
    char *pubfile = aconf_path(conf, conf->broker_public_key);
    struct af_error kerr;
    int rc = -1;

    if (!keyfile || !pubfile)
        af_error_set(err, "out of memory");
    else if (af_keys_load_secret(keyfile, kp, &kerr) < 0)
        af_error_set(err, "site key: %s", kerr.text);
    else if (af_keys_load_public(pubfile, broker_pub, &kerr) < 0)
        af_error_set(err, "broker key: %s", kerr.text);
    else
        rc = 0;
    free(keyfile);
    free(pubfile);
    return rc;
}

int agent_keys_check(const struct aconf *conf, struct af_error *err)
{
    struct af_keypair kp;
    char broker_pub[AF_KEY_Z85_LEN + 1];
    int rc = load_keys(conf, &kp, broker_pub, err);

    sodium_memzero(&kp, sizeof(kp));
    return rc;
}

static int connect_broker(struct agent *a, struct af_error *err)
{
    struct af_keypair kp;
    char broker_pub[AF_KEY_Z85_LEN + 1];
    struct af_error kerr;

    if (load_keys(a->conf, &kp, broker_pub, err) < 0)
        return -1;
    a->sock = af_zsock_client(a->zctx, a->conf->broker, broker_pub, &kp,
                              a->conf->max_message, AGENT_MONITOR, &kerr);
    sodium_memzero(&kp, sizeof(kp));
    if (!a->sock)
        return af_error_set(err, "%s", kerr.text);
    if (!(a->mon = af_zsock_monitor_open(a->zctx, AGENT_MONITOR, &kerr)))
        return af_error_set(err, "%s", kerr.text);
    return 0;
}

/* The key the agent countersigns tokens with: signing_key (made on first
 * start), or a fresh one per start; the broker learns it from the Hello. */
static int load_signer(struct agent *a, struct af_error *err)
{
    char *path;
    int rc;

    if (!a->conf->signing_key)
        af_signer_generate(&a->signer);
    else if (!(path = aconf_path(a->conf, a->conf->signing_key)))
        return af_error_set(err, "out of memory");
    else {
        rc = af_signer_load_or_create(path, &a->signer, err);
        free(path);
        if (rc < 0)
            return -1;
    }
    af_sign_pub_encode(a->signer.pk, a->signing_pub);
    return 0;
}

/* The executor this site uses, and what it needs: the command pool and
 * the output readers (both bounded), and who jobs may run as. */
#define PROCS_RUNNING 8
#define PROCS_QUEUED  256

static int start_executor(struct agent *a, struct af_error *err)
{
    struct executor_env env = {0};
    struct jobrelay_io io = {.send = relay_send,
                             .site = relay_site,
                             .starting = relay_starting,
                             .arg = a,
                             .conf = a->conf,
                             .procs = a->procs,
                             .loop = &a->loop};

    /* Made first: a site without an executor answers StartJob through it. */
    if (!(a->relay = jobrelay_create(a->conf->site, &io)))
        return af_error_set(err, "out of memory");

    if (!(a->xops = executor_find(a->conf, a->ops))) {
        log_info("this site runs no jobs through aifed (a static site without "
                 "demo_jobs = yes)");
        return 0;
    }
    if (runas_init(&a->runas, a->conf, err) < 0)
        return -1;
    if (!(a->follow = follow_pool_create(&a->loop)))
        return af_error_set(err, "out of memory");
    env.loop = &a->loop;
    env.conf = a->conf;
    env.bops = a->ops;
    env.b = a->b;
    env.runas = &a->runas;
    env.procs = a->procs;
    env.follow = a->follow;
    env.report = jobrelay_report;
    env.arg = a->relay;
    if (!(a->x = a->xops->create(&env, err)))
        return -1;
    jobrelay_set_executor(a->relay, a->xops, a->x);
    log_info("jobs run through the %s executor, as their users' accounts by way of %s",
             a->xops->name, a->conf->job_helper);
    return 0;
}

struct agent *agent_create(const struct aconf *conf, const struct backend_ops *ops,
                           struct backend *b, struct af_error *err)
{
    struct agent *a = calloc(1, sizeof(*a));
    char url[128];

    if (!a) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    a->conf = conf;
    a->ops = ops;
    a->b = b;
    a->interval_ms = conf->advertise_interval_ms;
    if (uv_loop_init(&a->loop) != 0) {
        free(a);
        af_error_set(err, "event loop: cannot initialise");
        return NULL;
    }
    if (!(a->zctx = af_zsock_ctx_new()) || !(a->held = held_create())) {
        af_error_set(err, "out of memory");
        goto fail;
    }
    if (!(a->m = ametrics_create(conf->metrics_listen, url, sizeof(url), err)))
        goto fail;
    if (*url)
        log_info("metrics on %s", url);
    if (load_signer(a, err) < 0 || connect_broker(a, err) < 0)
        goto fail;
    /* Commands for holds and jobs: bounded, never waited for. */
    if (!(a->procs = aproc_pool_create(&a->loop, PROCS_RUNNING, PROCS_QUEUED))) {
        af_error_set(err, "out of memory");
        goto fail;
    }
    if (a->ops->set_procs)
        a->ops->set_procs(b, a->procs);
    if (start_executor(a, err) < 0)
        goto fail;
    if (!(a->zl = af_zloop_create(&a->loop, a->sock, on_message, NULL, a)) ||
        !(a->zl_mon = af_zloop_create(&a->loop, a->mon, on_monitor, NULL, a))) {
        af_error_set(err, "event loop: cannot watch the socket");
        goto fail;
    }
    uv_timer_init(&a->loop, &a->timer);
    uv_timer_init(&a->loop, &a->soon);
    uv_timer_init(&a->loop, &a->metrics);
    uv_timer_init(&a->loop, &a->starting);
    af_notify_watchdog_start(&a->loop, &a->watchdog);
    uv_signal_init(&a->loop, &a->sigterm);
    uv_signal_init(&a->loop, &a->sigint);
    uv_signal_init(&a->loop, &a->sighup);
    a->timer.data = a->soon.data = a->metrics.data = a->starting.data = a->sigterm.data =
        a->sigint.data = a->sighup.data = a;
    return a;
fail:
    agent_destroy(a);
    return NULL;
}

struct backend *agent_backend(const struct agent *a)
{
    return a->b;
}

int agent_run(struct agent *a)
{
    log_info("site %s: connecting to the broker at %s", a->conf->site, a->conf->broker);
    send_hello(a);
    uv_timer_start(&a->timer, on_timer, a->interval_ms, a->interval_ms);
    uv_timer_start(&a->metrics, on_metrics, 0, 1000);
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    uv_signal_start(&a->sighup, on_hup, SIGHUP);
    af_notify_ready("advertising");
    uv_run(&a->loop, UV_RUN_DEFAULT);
    return 0;
}

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

void agent_destroy(struct agent *a)
{
    if (!a)
        return;
    a->dying = true;
    af_zloop_destroy(a->zl);
    af_zloop_destroy(a->zl_mon);
    /* The commands first: no callback of theirs reaches a destroyed
     * executor. Then the readers, whose parked reads are let go. */
    for (struct hold_ask *ask = a->asks; ask; ask = ask->next)
        ask->a = NULL; /* the backend, destroyed after us, lets them go */
    if (a->ops->set_procs)
        a->ops->set_procs(a->b, NULL);
    aproc_pool_destroy(a->procs);
    if (a->relay)
        jobrelay_stop_sending(a->relay);
    if (a->x)
        a->xops->destroy(a->x);
    follow_pool_destroy(a->follow);
    jobrelay_destroy(a->relay);
    if (a->timer.data) { /* the handles were initialised */
        uv_close((uv_handle_t *)&a->timer, close_cb);
        uv_close((uv_handle_t *)&a->soon, close_cb);
        uv_close((uv_handle_t *)&a->metrics, close_cb);
        uv_close((uv_handle_t *)&a->starting, close_cb);
        uv_close((uv_handle_t *)&a->watchdog, close_cb);
        uv_close((uv_handle_t *)&a->sigterm, close_cb);
        uv_close((uv_handle_t *)&a->sigint, close_cb);
        uv_close((uv_handle_t *)&a->sighup, close_cb);
    }
    uv_run(&a->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&a->loop) != 0)
        log_warnx("event loop closed with handles still open");
    af_zsock_close(a->mon);
    af_zsock_close(a->sock);
    if (a->zctx)
        af_zsock_ctx_term(a->zctx);
    af_signer_wipe(&a->signer);
    held_destroy(a->held);
    ametrics_destroy(a->m);
    free(a);
}
