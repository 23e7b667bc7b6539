/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server: sockets, loop and the outbox. A loop turn reads a batch of messages
 * from a socket; handlers write to the store's open batch and queue replies;
 * at the end of the batch the store commits once and only then is the outbox
 * sent (group commit). If the commit fails, every queued client reply becomes
 * ERROR_INTERNAL, messages to sites are dropped, and the promised capacity is
 * rebuilt from the store, so memory never runs ahead of disk.
 *
 * What promises nothing (holds asked of sites, error replies) is sent at
 * once, not queued, and a batch that queued nothing is not committed yet:
 * the write transaction stays open, so a lease's PENDING and ACTIVE share
 * the one commit that precedes the client's answer, and the site starts on
 * the hold while the broker is still busy. Losing an uncommitted PENDING in a crash is
 * safe: no one was told of it, the client's retry makes it again, and a site that holds
 * it is told to let go at its next advertisement. The tick commits anyway.
 */
#include "server.h"
#include "af_log.h"
#include "af_notify.h"
#include "af_time.h"
#include "af_wire.h"
#include "af_zloop.h"
#include "alloc.h"
#include "bconf.h"
#include "bmetrics.h"
#include "lease.h"
#include "limit.h"
#include "rpc.h"
#include "sites.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define TICK_MS        1000
#define STOP_LINGER_MS 2000 /* how long the last answers may take to leave */

/* Send now what promises nothing; queue the rest for after the commit. */
static int out_push(struct server *srv, void *sock, const uint8_t *rid, size_t rid_len,
                    Aifed__Envelope *env, bool client_reply, bool durable)
{
    struct outmsg *o;

    if (!durable) {
        void *buf;
        size_t len;

        env->version = AF_WIRE_VERSION;
        if (af_wire_pack(env, &buf, &len) < 0)
            return -1;
        if (af_zsock_send_raw(sock, rid, rid_len, buf, len) < 0)
            log_debug("send: %s", zmq_strerror(errno));
        free(buf);
        return 0;
    }
    if (srv->n_out == srv->cap_out) {
        size_t cap = srv->cap_out ? srv->cap_out * 2 : 64;
        struct outmsg *grown = realloc(srv->out, cap * sizeof(*grown));
        if (!grown)
            return -1;
        srv->out = grown;
        srv->cap_out = cap;
    }
    o = &srv->out[srv->n_out];
    env->version = AF_WIRE_VERSION;
    if (af_wire_pack(env, &o->buf, &o->len) < 0)
        return -1;
    o->sock = sock;
    o->rid_len = rid_len;
    memcpy(o->rid, rid, rid_len);
    o->corr_id = env->corr_id;
    o->client_reply = client_reply;
    srv->n_out++;
    return 0;
}

void rpc_reply(struct server *srv, const struct rpc_msg *m, Aifed__Envelope *reply)
{
    void *sock = m->sock ? m->sock : srv->client_sock;

    reply->corr_id = m->env ? m->env->corr_id : 0;
    if (out_push(srv, sock, m->z->rid, m->z->rid_len, reply, sock == srv->client_sock,
                 true) < 0)
        log_err("reply to %s dropped", m->who ? m->who->id : "peer");
}

static void error_to(struct server *srv, void *sock, const uint8_t *rid, size_t rid_len,
                     uint64_t corr_id, Aifed__ErrorCode code, const char *text)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__Error e = AIFED__ERROR__INIT;

    bmetrics_error(srv->metrics, code);
    e.code = code;
    e.message = (char *)text;
    env.body_case = AIFED__ENVELOPE__BODY_ERROR;
    env.error = &e;
    env.corr_id = corr_id;
    /* An error promises nothing: it may leave even if the commit fails. */
    if (out_push(srv, sock, rid, rid_len, &env, false, false) < 0)
        log_err("error reply dropped");
}

void rpc_error(struct server *srv, const struct rpc_msg *m, Aifed__ErrorCode code,
               const char *fmt, ...)
{
    char text[AF_WIRE_MAX_TEXT];
    va_list ap;
    void *sock = m->sock ? m->sock : srv->client_sock;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    error_to(srv, sock, m->z->rid, m->z->rid_len, m->env ? m->env->corr_id : 0, code,
             text);
}

void rpc_to_site(struct server *srv, const char *site, Aifed__Envelope *env)
{
    size_t len;
    const uint8_t *rid = sites_route(srv->sites, site, &len);

    if (!rid) {
        log_debug("no route to site %s yet; %s not sent", site,
                  af_wire_body_name(env->body_case));
        return;
    }
    /* A hold may leave before its lease is committed (see the file comment);
     * a release may not: the site must never let go of what disk still says
     * it holds. */
    if (out_push(srv, srv->agent_sock, rid, len, env, false,
                 env->body_case != AIFED__ENVELOPE__BODY_LEASE_HOLD) < 0)
        log_err("message to site %s dropped", site);
}

static void send_all(struct server *srv)
{
    for (size_t i = 0; i < srv->n_out; i++) {
        struct outmsg *o = &srv->out[i];

        /* ROUTER drops what it cannot route (the peer left): that is fine,
         * the peer's retry or next advertisement recovers. */
        if (af_zsock_send_raw(o->sock, o->rid, o->rid_len, o->buf, o->len) < 0)
            log_debug("send: %s", zmq_strerror(errno));
        free(o->buf);
    }
    srv->n_out = 0;
}

static int load_promise(const Aifed__Lease *l, void *arg)
{
    struct server *srv = arg;

    if (sites_promise(srv->sites, l->site, l->pool, l->id, l->workload->project, l->gpus,
                      af_now_ms()) < 0) {
        /* A site no longer in the configuration: its leases stay stored. */
        log_warnx("lease %s is at site %s, which is not configured", l->id, l->site);
        return 0;
    }
    if (l->state == LEASE_ACTIVE)
        sites_promise_confirm(srv->sites, l->site, l->id);
    return 0;
}

static int load_alloc(const Aifed__Allocation *a, void *arg)
{
    struct alloc_entry *e = alloc_get(arg, a->project, a->site);

    if (!e)
        return -1;
    e->granted_gpu_s = a->granted_gpu_s;
    e->used_gpu_s = a->used_gpu_s;
    e->reserved_gpu_s = a->reserved_gpu_s;
    e->end_ms = a->end_ms;
    return 0;
}

/* Rebuild the allocation table from disk (at start, and after a failed
 * commit, when memory may be ahead of it). */
static int load_allocations(struct server *srv)
{
    struct allocs *fresh = alloc_create();

    if (!fresh || store_alloc_list(srv->store, load_alloc, fresh) < 0) {
        alloc_destroy(fresh);
        return -1;
    }
    alloc_destroy(srv->allocs);
    srv->allocs = fresh;
    return 0;
}

/* Rebuild promised capacity from the open leases on disk. */
static int load_promises(struct server *srv)
{
    struct store_filter pending = {.state = LEASE_PENDING},
                        active = {.state = LEASE_ACTIVE};

    sites_unpromise_all(srv->sites);
    if (store_lease_list(srv->store, &pending, NULL, load_promise, srv) < 0 ||
        store_lease_list(srv->store, &active, NULL, load_promise, srv) < 0)
        return -1;
    return 0;
}

/* Commit the batch, then send what it promised (see the file comment).
 * Unless force, a batch that promises nothing stays open. */
static void server_flush(struct server *srv, bool force)
{
    if (!force && !srv->batch_failed && srv->n_out == 0)
        return;
    bmetrics_commit(srv->metrics, srv->n_out);
    if (srv->batch_failed || store_commit(srv->store) < 0) {
        if (!srv->batch_failed)
            rpc_store_failed(srv, "commit failed; answering the batch with errors");
        store_abort(srv->store);
        srv->batch_failed = false;
        /* error_to() appends (and may move the array): work on copies, and
         * keep only what was appended after the first n entries. */
        size_t n = srv->n_out, keep = 0;
        for (size_t i = 0; i < n; i++) {
            struct outmsg o = srv->out[i];

            srv->out[i].sock = NULL;
            free(o.buf);
            if (o.client_reply)
                error_to(srv, o.sock, o.rid, o.rid_len, o.corr_id,
                         AIFED__ERROR_CODE__ERROR_INTERNAL,
                         "the broker could not store this change; nothing was changed");
        }
        for (size_t i = 0; i < srv->n_out; i++)
            if (srv->out[i].sock)
                srv->out[keep++] = srv->out[i];
        srv->n_out = keep;
        if (load_promises(srv) < 0 || load_allocations(srv) < 0)
            log_err("reloading open leases and allocations after a failed commit");
    }
    send_all(srv);
}

/* How often a full store's log line repeats the advice. */
#define FULL_ADVICE_MS 60000

void rpc_store_failed(struct server *srv, const char *fmt, ...)
{
    int why = errno;
    int64_t now = af_now_ms();
    char what[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    srv->batch_failed = true;
    if (why != EDQUOT) {
        log_errx("%s: %s", what, strerror(why));
    } else if (now - srv->full_told_ms < FULL_ADVICE_MS) {
        log_errx("%s: the store is full", what);
    } else {
        srv->full_told_ms = now;
        log_errx("%s: the store is full: it has reached map_size_mb (%llu MiB), so every "
                 "change is refused (reads still work) until map_size_mb is raised in %s "
                 "and the broker restarted; nothing stored is lost",
                 what, (unsigned long long)srv->conf->map_size_mb, srv->conf->path);
    }
}

int rpc_put(struct server *srv, const Aifed__Lease *lease, const char *idem_principal)
{
    if (store_lease_put(srv->store, lease, idem_principal) < 0) {
        rpc_store_failed(srv, "storing lease %s", lease->id);
        return -1;
    }
    return 0;
}

static const struct rpc_spec *spec_for(const struct rpc_spec *t, int body)
{
    for (; t->fn; t++)
        if ((int)t->body == body)
            return t;
    return NULL;
}

static Aifed__ErrorCode decode_code(int why)
{
    return why == EPROTONOSUPPORT ? AIFED__ERROR_CODE__ERROR_UNSUPPORTED
                                  : AIFED__ERROR_CODE__ERROR_BAD_REQUEST;
}

/* One message from either socket: decode, authorize by socket, dispatch. */
static void handle(struct server *srv, void *sock, const struct rpc_spec *table)
{
    struct af_zmsg z;
    struct rpc_msg m = {.sock = sock, .z = &z};
    const struct rpc_spec *spec;

    if (af_zsock_recv(sock, true, srv->conf->max_message, &z) < 0)
        return;
    m.env = z.env;
    m.who = auth_check(srv->auth, z.principal);
    if (!m.who) {
        /* Admitted at the handshake, but the key has since been revoked or
         * removed: refuse every message on the open connection. */
        rpc_error(srv, &m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "this key is no longer valid here (revoked or replaced)");
        af_zmsg_clear(&z);
        return;
    }
    if (!limit_take(&srv->buckets[m.who->index], (int64_t)uv_now(&srv->loop),
                    (double)srv->conf->rate_limit, (double)srv->conf->rate_burst)) {
        /* Refused before anything else: a flood costs the broker little. */
        rpc_error(srv, &m, AIFED__ERROR_CODE__ERROR_LIMITED,
                  "over the rate limit of %llu requests a second; slow down",
                  (unsigned long long)srv->conf->rate_limit);
    } else if (!z.env) {
        log_info("bad message from %s: %s", m.who->id, z.why.text);
        rpc_error(srv, &m, decode_code(z.why_errno), "%s", z.why.text);
    } else if (!(spec = spec_for(table, z.env->body_case))) {
        rpc_error(srv, &m, AIFED__ERROR_CODE__ERROR_UNSUPPORTED,
                  "%s is not a request this socket takes",
                  af_wire_body_name(z.env->body_case));
    } else {
        log_debug("%s from %s", af_wire_body_name(z.env->body_case), m.who->id);
        bmetrics_request(srv->metrics, z.env->body_case);
        spec->fn(srv, &m);
    }
    af_zmsg_clear(&z);
}

static void on_agent(void *sock, void *arg)
{
    handle(arg, sock, rpc_agent_specs);
}

static void on_client(void *sock, void *arg)
{
    handle(arg, sock, rpc_client_specs);
}

static void on_batch_end(void *sock, void *arg)
{
    (void)sock;
    server_flush(arg, false);
}

static void on_zap(void *sock, void *arg)
{
    (void)sock;
    auth_handle(((struct server *)arg)->auth);
}

static void on_site_change(const char *site, bool up, void *arg)
{
    (void)arg;
    if (!up)
        log_warnx(
            "site %s is DOWN: no advertisement received in time; no new leases go there",
            site);
}

static void on_overdue(const char *site, const char *lease_id, void *arg)
{
    struct server *srv = arg;
    Aifed__Lease *l;
    char why[128];

    if (store_lease_get(srv->store, lease_id, &l) < 0) {
        sites_unpromise(srv->sites, site, lease_id);
        return;
    }
    if (l->state == LEASE_PENDING && !strcmp(l->site, site)) {
        snprintf(why, sizeof(why), "site %s did not answer the hold in time", site);
        log_warnx("lease %s: %s", l->id, why);
        rpc_hold_failed(srv, l, why);
    } else {
        sites_unpromise(srv->sites, site, lease_id);
    }
    store_lease_free(srv->store, l);
}

static int on_expired(const Aifed__Lease *stored, void *arg)
{
    struct server *srv = arg;
    Aifed__Lease l = *stored;

    l.state = lease_next(stored->state, LEASE_EV_EXPIRE);
    if ((int)l.state < 0)
        return 0;
    l.updated_ms = af_now_ms();
    l.reason = "walltime passed";
    l.gpu_seconds_used =
        lease_usage(l.gpus, l.workload->walltime_s, l.activated_ms, l.updated_ms);
    if (rpc_put(srv, &l, NULL) < 0)
        return -1;
    log_info("lease %s expired at site %s", l.id, l.site);
    rpc_lease_closed(srv, &l);
    return 0;
}

/* Forget waiters whose client has surely given up. */
static void expire_waiters(struct server *srv, int64_t now)
{
    size_t keep = 0;

    for (size_t i = 0; i < srv->n_waiters; i++)
        if (now - srv->waiters[i].since_ms < srv->waiter_ttl_ms)
            srv->waiters[keep++] = srv->waiters[i];
    srv->n_waiters = keep;
}

static void on_tick(uv_timer_t *t)
{
    struct server *srv = t->data;
    int64_t now = af_now_ms();

    bool isolated = sites_sweep(srv->sites, now, on_site_change, srv);

    if (isolated != srv->isolated) {
        if (isolated)
            log_warnx("every site went silent at once: this broker is likely the one cut "
                      "off, so no site is marked DOWN and nothing is granted until one "
                      "returns (or an admin runs `aifedctl admin site confirm-down`)");
        else
            log_info("sites are heard again: the isolation guard is lifted");
        srv->isolated = isolated;
    }
    /* Cut off, a silent hold says nothing about the site: keep waiting. */
    if (!isolated)
        sites_overdue(srv->sites, now - (int64_t)srv->conf->hold_timeout_ms, on_overdue,
                      srv);
    if (store_lease_expired(srv->store, now, on_expired, srv) < 0)
        log_err("expiry sweep");
    expire_waiters(srv, now);
    server_flush(srv, true);
    bmetrics_publish(srv->metrics, srv);
}

/* A clean stop answers every submit still waiting for its site with the
 * lease as it stands (PENDING): the client has its lease id and can look
 * again; the lease and its hold are on disk and resume with the broker. */
static void answer_waiters(struct server *srv)
{
    while (srv->n_waiters) {
        Aifed__Lease *l;

        if (store_lease_get(srv->store, srv->waiters[0].lease_id, &l) < 0) {
            srv->waiters[0] = srv->waiters[--srv->n_waiters];
            continue;
        }
        rpc_wake_waiters(srv, l); /* answers and forgets all who wait for l */
        store_lease_free(srv->store, l);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *srv = h->data;

    log_info("%s: stopping", strsignal(signum));
    af_notify_stopping();
    answer_waiters(srv);
    server_flush(srv, true);
    uv_stop(&srv->loop);
}

/* What a reload cannot change while sockets and the store are open. */
static void warn_restart(const struct bconf *a, const struct bconf *b)
{
    const struct {
        const char *key, *was, *is;
    } strs[] = {
        {"agent_listen", a->agent_listen, b->agent_listen},
        {"client_listen", a->client_listen, b->client_listen},
        {"state_dir", a->state_dir, b->state_dir},
        {"secret_key", a->secret_key, b->secret_key},
        {"signing_key", a->signing_key, b->signing_key},
        {"metrics_listen", a->metrics_listen, b->metrics_listen},
    };

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (strcmp(strs[i].was, strs[i].is))
            log_warnx("reload: %s changed; it takes effect at the next restart",
                      strs[i].key);
    if (a->max_message != b->max_message || a->map_size_mb != b->map_size_mb)
        log_warnx("reload: max_message and map_size_mb take effect at the next restart");
}

/* SIGHUP: read broker.conf again. Principals and limits take effect now;
 * leases, promises and connections are untouched. A file that no longer
 * parses leaves the running configuration in place, and says why. */
static void on_hup(uv_signal_t *h, int signum)
{
    struct server *srv = h->data;
    struct af_error err;
    struct bconf *c;

    (void)signum;
    af_notify_reloading();
    if (!(c = bconf_load(srv->conf->path, &err))) {
        log_errx("reload: %s; the running configuration stays", err.text);
    } else {
        warn_restart(srv->conf, c);
        rpc_reload_principals(srv, srv->conf, c);
        srv->conf = c;
        bconf_destroy(srv->conf_owned);
        srv->conf_owned = c;
        srv->waiter_ttl_ms = (int64_t)(c->hold_timeout_ms * (c->hold_attempts + 1));
        sites_set_timing(srv->sites, (int64_t)c->advertise_interval_ms,
                         (unsigned)c->down_after, (unsigned)c->up_after);
        log_info("reload: %s read again", c->path);
    }
    af_notify_ready("serving");
}

/* Tell tests, the demo and admins which ports "*" picked. Written atomically. */
static int write_endpoints(const struct server *srv, const char *agent,
                           const char *client)
{
    char *dir = bconf_path(srv->conf, srv->conf->state_dir);
    char path[4096], tmp[4200];
    FILE *f;
    int rc = -1;

    if (!dir)
        return -1;
    snprintf(path, sizeof(path), "%s/endpoints", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    free(dir);
    if (!(f = fopen(tmp, "w")))
        return -1;
    fprintf(f, "agent %s\nclient %s\n", agent, client);
    if (*srv->metrics_url)
        fprintf(f, "metrics %s\n", srv->metrics_url);
    if (fclose(f) == 0 && rename(tmp, path) == 0)
        rc = 0;
    return rc;
}

/* The token signing key: signing_key, relative to state_dir; made on first
 * start, with its .pub beside it for whoever checks tokens offline. */
static int load_signer(struct server *srv, struct af_error *err)
{
    char *dir = bconf_path(srv->conf, srv->conf->state_dir);
    char path[4096];
    const char *k = srv->conf->signing_key;
    int rc;

    if (!dir)
        return af_error_set(err, "out of memory");
    if (snprintf(path, sizeof(path), "%s%s%s", k[0] == '/' ? "" : dir,
                 k[0] == '/' ? "" : "/", k) >= (int)sizeof(path)) {
        free(dir);
        return af_error_set(err, "signing_key: path too long");
    }
    free(dir);
    if ((rc = af_signer_load_or_create(path, &srv->signer, err)) == 0)
        af_sign_pub_encode(srv->signer.pk, srv->signing_pub);
    return rc;
}

static int register_principals(struct server *srv, struct af_error *err)
{
    static const enum auth_kind kinds[] = {AUTH_SITE, AUTH_USER, AUTH_ADMIN};

    for (size_t i = 0; i < srv->conf->n_principals; i++) {
        const struct bconf_principal *p = &srv->conf->principals[i];

        if (auth_add(srv->auth, kinds[p->kind], p->name, p->public_z85, p->projects.v,
                     p->projects.n) < 0)
            return af_error_set(err, "principal %s:%s: %s", bconf_kind_name(p->kind),
                                p->name, strerror(errno));
        if (p->kind == BCONF_SITE && sites_add(srv->sites, p->name) < 0)
            return af_error_set(err, "site %s: %s", p->name, strerror(errno));
    }
    return 0;
}

static int open_sockets(struct server *srv, struct af_error *err)
{
    struct af_keypair kp;
    char *keyfile = bconf_path(srv->conf, srv->conf->secret_key);
    char agent_ep[256], client_ep[256];
    struct af_error kerr;
    int rc;

    if (!keyfile)
        return af_error_set(err, "out of memory");
    rc = af_keys_load_secret(keyfile, &kp, &kerr);
    free(keyfile);
    if (rc < 0)
        return af_error_set(err, "broker key: %s", kerr.text);
    srv->agent_sock =
        af_zsock_server(srv->zctx, srv->conf->agent_listen, &kp, AUTH_DOMAIN_AGENT,
                        srv->conf->max_message, agent_ep, sizeof(agent_ep), &kerr);
    if (srv->agent_sock)
        srv->client_sock =
            af_zsock_server(srv->zctx, srv->conf->client_listen, &kp, AUTH_DOMAIN_CLIENT,
                            srv->conf->max_message, client_ep, sizeof(client_ep), &kerr);
    memset(&kp, 0, sizeof(kp));
    if (!srv->agent_sock || !srv->client_sock)
        return af_error_set(err, "%s", kerr.text);
    log_info("listening: agents on %s, clients on %s", agent_ep, client_ep);
    if (write_endpoints(srv, agent_ep, client_ep) < 0)
        return af_error_set(err, "writing %s/endpoints: %s", srv->conf->state_dir,
                            strerror(errno));
    return 0;
}

struct server *server_create(const struct bconf *conf, struct store *st,
                             struct af_error *err)
{
    struct server *srv = calloc(1, sizeof(*srv));
    uint64_t wd;

    if (!srv) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    srv->conf = conf;
    srv->store = st;
    srv->started_ms = af_now_ms();
    srv->waiter_ttl_ms = (int64_t)(conf->hold_timeout_ms * (conf->hold_attempts + 1));
    if (uv_loop_init(&srv->loop) != 0) {
        free(srv);
        af_error_set(err, "event loop: cannot initialise");
        return NULL;
    }
    srv->sites = sites_create((int64_t)conf->advertise_interval_ms,
                              (unsigned)conf->down_after, (unsigned)conf->up_after);
    srv->zctx = zmq_ctx_new();
    if (!srv->sites || !srv->zctx) {
        af_error_set(err, "out of memory");
        goto fail;
    }
    if (!(srv->metrics = bmetrics_create(conf->metrics_listen, srv->metrics_url,
                                         sizeof(srv->metrics_url), err)))
        goto fail;
    if (*srv->metrics_url)
        log_info("metrics on %s", srv->metrics_url);
    if (load_signer(srv, err) < 0 || !(srv->auth = auth_create(srv->zctx, err)) ||
        register_principals(srv, err) < 0 || open_sockets(srv, err) < 0)
        goto fail;
    if (rpc_load_principals(srv) < 0) {
        af_error_set(err, "loading the principal registry: %s", strerror(errno));
        goto fail;
    }
    if (load_promises(srv) < 0 || load_allocations(srv) < 0) {
        af_error_set(err, "loading open leases and allocations: %s", strerror(errno));
        goto fail;
    }
    srv->zl_zap = af_zloop_create(&srv->loop, auth_socket(srv->auth), on_zap, NULL, srv);
    srv->zl_agent =
        af_zloop_create(&srv->loop, srv->agent_sock, on_agent, on_batch_end, srv);
    srv->zl_client =
        af_zloop_create(&srv->loop, srv->client_sock, on_client, on_batch_end, srv);
    if (!srv->zl_zap || !srv->zl_agent || !srv->zl_client) {
        af_error_set(err, "event loop: cannot watch sockets");
        goto fail;
    }
    uv_timer_init(&srv->loop, &srv->tick);
    if ((wd = af_notify_watchdog_start(&srv->loop, &srv->watchdog)))
        log_info("systemd watchdog: pinging every %llu ms", (unsigned long long)wd / 2);
    uv_signal_init(&srv->loop, &srv->sigterm);
    uv_signal_init(&srv->loop, &srv->sigint);
    uv_signal_init(&srv->loop, &srv->sighup);
    srv->tick.data = srv->sigterm.data = srv->sigint.data = srv->sighup.data = srv;
    return srv;
fail:
    server_destroy(srv);
    return NULL;
}

int server_run(struct server *srv)
{
    uv_timer_start(&srv->tick, on_tick, TICK_MS, TICK_MS);
    uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
    uv_signal_start(&srv->sigint, on_signal, SIGINT);
    uv_signal_start(&srv->sighup, on_hup, SIGHUP);
    log_info("broker ready: %zu leases stored", store_lease_count(srv->store));
    af_notify_ready("serving");
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    return 0;
}

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

void server_destroy(struct server *srv)
{
    if (!srv)
        return;
    af_zloop_destroy(srv->zl_zap);
    af_zloop_destroy(srv->zl_agent);
    af_zloop_destroy(srv->zl_client);
    if (srv->tick.data) { /* the handles were initialised */
        uv_close((uv_handle_t *)&srv->tick, close_cb);
        uv_close((uv_handle_t *)&srv->watchdog, close_cb);
        uv_close((uv_handle_t *)&srv->sigterm, close_cb);
        uv_close((uv_handle_t *)&srv->sigint, close_cb);
        uv_close((uv_handle_t *)&srv->sighup, close_cb);
    }
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&srv->loop) != 0)
        log_warnx("event loop closed with handles still open");
    for (size_t i = 0; i < srv->n_out; i++)
        free(srv->out[i].buf);
    free(srv->out);
    free(srv->waiters);
    free(srv->buckets);
    /* Let the last answers leave (bounded), then close. */
    if (srv->client_sock)
        zmq_setsockopt(srv->client_sock, ZMQ_LINGER, &(int){STOP_LINGER_MS}, sizeof(int));
    if (srv->agent_sock)
        zmq_setsockopt(srv->agent_sock, ZMQ_LINGER, &(int){STOP_LINGER_MS}, sizeof(int));
    af_zsock_close(srv->agent_sock);
    af_zsock_close(srv->client_sock);
    auth_destroy(srv->auth);
    if (srv->zctx)
        zmq_ctx_term(srv->zctx);
    sites_destroy(srv->sites);
    alloc_destroy(srv->allocs);
    af_signer_wipe(&srv->signer);
    bmetrics_destroy(srv->metrics);
    bconf_destroy(srv->conf_owned);
    free(srv);
}
