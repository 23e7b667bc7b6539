/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server: the broker daemon's sockets, loop and dispatch. It owns the libuv
 * loop, the two CURVE ROUTER sockets ("agent" and "client"), the ZAP handler
 * (common/af_zap, with auth's policy), the one-second tick and the signals,
 * and every object the services borrow (struct svc). A loop turn reads a
 * batch of messages from a socket; each is decoded, authorized (the key's
 * current state, the sender's rate, the role its dispatch table asks) and
 * handed to its handler; at the end of the batch the outbox commits once and
 * sends (group commit: service/outbox.h).
 *
 * The stack, each layer calling only those below it: server -> rpc (the
 * handlers) -> service (lease services, placement, ledger, principals,
 * waiters, outbox) -> state (store, sites, auth, bconf, bmetrics) and core
 * (lease, match, alloc, limit: pure).
 */
#include "server.h"
#include "af_log.h"
#include "af_notify.h"
#include "af_time.h"
#include "af_wire.h"
#include "af_zap.h"
#include "af_zguard.h"
#include "af_zloop.h"
#include "af_zsock.h"
#include "alloc.h"
#include "auth.h"
#include "bconf.h"
#include "bmetrics.h"
#include "endpointsvc.h"
#include "jobsvc.h"
#include "jwks.h"
#include "login.h"
#include "oidc.h"
#include "peers.h"
#include "leasesvc.h"
#include "limit.h"
#include "outbox.h"
#include "principals.h"
#include "proxy.h"
#include "relays.h"
#include "rpc.h"
#include "sites.h"
#include "store.h"
#include "store_records.h"
#include "svc.h"
#include "waiters.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICK_MS        1000
#define STOP_LINGER_MS 2000 /* how long the last answers may take to leave */

struct server {
    struct svc svc;
    struct bconf *conf_owned; /* the latest reload's; main() owns the first */
    void *zctx;
    void *agent_sock;
    void *client_sock;
    struct af_zap *zap;
    struct af_zloop *zl_agent, *zl_client, *zl_zap;
    /* connections that have not finished a handshake, per socket */
    struct af_zguard *guard_agent, *guard_client;
    struct af_zloop *zl_guard_agent, *zl_guard_client;
    uv_loop_t loop;
    uv_timer_t tick;
    uv_timer_t drain;    /* sends what waits in peers, while anything does */
    uv_timer_t watchdog; /* systemd's, when it asked for one */
    uv_signal_t sigterm, sigint, sighup;
    struct peers *peers;          /* the connections served (backpressure) */
    struct jwks *jwks;            /* fetches the OpenID issuer's keys */
    struct limit_bucket *buckets; /* one per principal (auth index) */
    size_t n_buckets;
    char metrics_url[128]; /* "" when metrics are off */
    bool failed;           /* the store could not be read: stopping */
    int64_t skew_ms;       /* wall clock - lease clock, as last seen */
    int64_t ticked_ms;     /* when the last tick ran (monotonic) */
};

/* Which tables a socket's messages are dispatched by. */
static const struct rpc_spec *const agent_tables[] = {
    rpc_agent_specs, rpc_job_agent_specs, rpc_endpoint_agent_specs, NULL};
static const struct rpc_spec *const client_tables[] = {rpc_client_specs,
                                                       rpc_admin_specs,
                                                       rpc_job_client_specs,
                                                       rpc_catalog_specs,
                                                       rpc_login_specs,
                                                       rpc_endpoint_specs,
                                                       NULL};

/* Replies that may wait for one connection, whatever their size: a client
 * asks and reads one at a time; an agent is sent holds and jobs in bursts
 * (a site's open jobs when it connects again). */
#define CLIENT_SNDHWM 8
#define AGENT_SNDHWM  256

/* How often what waits for a connection is offered to libzmq again. */
#define DRAIN_MS 10

static void on_drain(uv_timer_t *t)
{
    struct server *srv = t->data;

    peers_flush(srv->peers);
    if (!peers_waiting(srv->peers))
        uv_timer_stop(t);
}

/* libzmq's side of peers: a send that never blocks. */
static int zsend(int side, const uint8_t *rid, size_t rid_len, const void *buf,
                 size_t len, void *arg)
{
    struct server *srv = arg;

    return af_zsock_send_raw(side == OUTBOX_AGENT ? srv->agent_sock : srv->client_sock,
                             rid, rid_len, buf, len);
}

/* The outbox's way out, through peers: what libzmq cannot queue waits
 * there (and the drain timer sends it on); what cannot be routed (the peer
 * left) is dropped, which is fine: the peer's retry or next advertisement
 * recovers. */
static void send_packed(enum outbox_side side, const uint8_t *rid, size_t rid_len,
                        const void *buf, size_t len, void *arg)
{
    struct server *srv = arg;
    int rc = peers_send(srv->peers, side, rid, rid_len, buf, len);

    if (rc > 0) {
        bmetrics_backpressure(srv->svc.metrics, BMETRICS_REPLY_HELD);
        if (!uv_is_active((uv_handle_t *)&srv->drain))
            uv_timer_start(&srv->drain, on_drain, DRAIN_MS, DRAIN_MS);
    } else if (rc < 0) {
        log_debug("send: %s", af_zsock_strerror(errno));
    }
}

/* When a client refused over its principal's connections asks again. */
#define REFUSED_RETRY_MS 500

/* Whether m's connection is served: not when its principal is served on
 * max_connections_per_principal others (refused, saying so), nor while
 * more than its budget of replies waits for it unread (dropped unread). */
static bool admitted(struct server *srv, const struct rpc_msg *m, int fd)
{
    const struct bconf *c = srv->svc.conf;
    char text[AF_WIRE_MAX_TEXT];

    if (peers_admit(srv->peers, m->from.side, m->who->index, m->from.rid, m->from.rid_len,
                    fd, svc_mono_ms(&srv->svc), c->max_connections_per_principal) == 0)
        return true;
    if (errno == EAGAIN) {
        bmetrics_backpressure(srv->svc.metrics, BMETRICS_REQUEST_UNREAD);
        return false;
    }
    bmetrics_backpressure(srv->svc.metrics, BMETRICS_CONNECTION_REFUSED);
    snprintf(text, sizeof(text),
             "%s is served on %llu connections already (max_connections_per_principal); "
             "close one, or ask on one you have",
             m->who->id, (unsigned long long)c->max_connections_per_principal);
    /* Asked again (aifedctl does), it is served once one of the others
     * has closed. */
    outbox_error_retry(srv->svc.outbox, &m->from, AIFED__ERROR_CODE__ERROR_LIMITED, text,
                       REFUSED_RETRY_MS);
    return false;
}

/* The rate bucket of principal index i, the table grown to the registry's
 * size on first need (the registry grows at run time). NULL/ENOMEM. */
static struct limit_bucket *bucket(struct server *srv, size_t i)
{
    if (i >= srv->n_buckets) {
        size_t n = auth_count(srv->svc.auth) > i ? auth_count(srv->svc.auth) : i + 1;
        struct limit_bucket *b = realloc(srv->buckets, n * sizeof(*b));

        if (!b)
            return NULL;
        memset(b + srv->n_buckets, 0, (n - srv->n_buckets) * sizeof(*b));
        srv->buckets = b;
        srv->n_buckets = n;
    }
    return &srv->buckets[i];
}

static Aifed__ErrorCode decode_code(int why)
{
    return why == EPROTONOSUPPORT ? AIFED__ERROR_CODE__ERROR_UNSUPPORTED
                                  : AIFED__ERROR_CODE__ERROR_BAD_REQUEST;
}

/* Within the sender's rate: true; else false with the refusal sent. A
 * flood is refused before anything else, so it costs the broker little. */
static bool within_rate(struct server *srv, const struct rpc_msg *m)
{
    const struct bconf *c = srv->svc.conf;
    struct limit_bucket *b;
    char text[AF_WIRE_MAX_TEXT];

    /* A gateway speaks for many clients: each key has its rate there, and
     * the broker bounds a gateway's requests in flight (proxy.h). A site's
     * pieces of an answer come as fast as its replica writes them, each
     * for a request the broker sent (others are dropped unread). */
    if (m->who->kind == AUTH_GATEWAY ||
        (m->env && m->env->body_case == AIFED__ENVELOPE__BODY_REPLICA_RESPONSE))
        return true;
    b = bucket(srv, m->who->index);
    if (b && limit_take(b, (int64_t)uv_now(&srv->loop), (double)c->rate_limit,
                        (double)c->rate_burst))
        return true;
    /* Saying when a token is back lets a client pace itself (aifedctl
     * waits that long and asks again) instead of giving up. */
    snprintf(text, sizeof(text),
             "over the rate limit of %llu requests a second; slow down",
             (unsigned long long)c->rate_limit);
    outbox_error_retry(srv->svc.outbox, &m->from, AIFED__ERROR_CODE__ERROR_LIMITED, text,
                       b ? limit_wait_ms(b, (double)c->rate_limit) : 1000);
    return false;
}

/* A message from a principal within its rate: refused if it did not decode
 * or is not one this socket takes; else to the handler its table names,
 * which checks the role. */
static void dispatch(struct server *srv, const struct rpc_msg *m, const struct af_zmsg *z,
                     const struct rpc_spec *const *tables)
{
    const struct rpc_spec *spec;

    if (!z->env) {
        log_info("bad message from %s: %s", m->who->id, z->why.text);
        rpc_error(&srv->svc, m, decode_code(z->why_errno), "%s", z->why.text);
    } else if (!(spec = rpc_spec_find(tables, z->env->body_case))) {
        rpc_error(&srv->svc, m, AIFED__ERROR_CODE__ERROR_UNSUPPORTED,
                  "%s is not a request this socket takes",
                  af_wire_body_name(z->env->body_case));
    } else {
        log_debug("%s from %s", af_wire_body_name(z->env->body_case), m->who->id);
        bmetrics_request(srv->svc.metrics, z->env->body_case);
        rpc_call(&srv->svc, spec, m);
    }
}

/* One message from either socket: decode, authorize, dispatch. false when
 * none was waiting. */
static bool handle(struct server *srv, void *sock, enum outbox_side side,
                   const struct rpc_spec *const *tables)
{
    struct af_zmsg z;
    struct rpc_msg m = {.from = {.side = side}};

    /* Stopping on an unreadable store: what is left of this loop turn acts
     * on nothing (no advertisement reconciled against a view it lost). */
    if (srv->failed || af_zsock_recv(sock, true, srv->svc.conf->max_message, &z) < 0)
        return false;
    memcpy(m.from.rid, z.rid, z.rid_len);
    m.from.rid_len = z.rid_len;
    m.key = strchr(z.principal, '/'); /* ZAP's "principal/key" */
    m.key = m.key ? m.key + 1 : "";
    m.from.corr_id = z.env ? z.env->corr_id : 0;
    m.env = z.env;
    if (!(m.who = auth_check(srv->svc.auth, z.principal))) {
        /* Admitted at the handshake, but the key has since been revoked or
         * removed: refuse every message on the open connection. */
        outbox_error(srv->svc.outbox, &m.from, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                     "this key is no longer valid here (revoked or replaced)");
    } else if (side == OUTBOX_AGENT && m.who->kind != AUTH_SITE &&
               m.who->kind != AUTH_GATEWAY) {
        /* A user's or an admin's key on the daemons' endpoint: admitted at the
         * handshake so that it can be told where it should be, and nothing more.
         * Gateways come here as sites do: they carry many requests at once,
         * which the agents' SNDHWM and byte budget are sized for. */
        char text[AF_WIRE_MAX_TEXT];

        snprintf(text, sizeof(text),
                 "%s is not a site: this is the broker's endpoint for sites' agents; "
                 "aifedctl connects to its client endpoint (the broker's client_listen)",
                 m.who->id);
        outbox_error(srv->svc.outbox, &m.from, AIFED__ERROR_CODE__ERROR_UNSUPPORTED,
                     text);
    } else if (admitted(srv, &m, z.fd) && within_rate(srv, &m)) {
        dispatch(srv, &m, &z, tables);
    }
    af_zmsg_clear(&z);
    return true;
}

static void on_agent(void *sock, void *arg)
{
    handle(arg, sock, OUTBOX_AGENT, agent_tables);
}

static void on_client(void *sock, void *arg)
{
    handle(arg, sock, OUTBOX_CLIENT, client_tables);
}

/* Commit and send. A failed commit leaves memory ahead of disk, so what it
 * holds (promises, allocations, drains, the registry) is read again from the
 * store. A store that cannot even be read then is no ground to act on: the
 * broker stops rather than release holds or grant on a view it cannot
 * check, and a restart (systemd's) opens the store afresh. */
static void flush(struct server *srv, bool force)
{
    if (outbox_flush(srv->svc.outbox, force) == 0 || srv->failed)
        return;
    if (leasesvc_reload(&srv->svc) < 0 || principals_restore(&srv->svc) < 0) {
        log_errx("the store cannot be read after a failed commit (%s): stopping, so "
                 "that a restart opens it afresh; no hold was released",
                 strerror(errno));
        srv->failed = true;
        uv_stop(&srv->loop);
    }
}

static void on_batch_end(void *sock, void *arg)
{
    (void)sock;
    flush(arg, false);
}

static void on_zap(void *sock, void *arg)
{
    (void)sock;
    af_zap_handle(((struct server *)arg)->zap);
}

static void on_guard(void *sock, void *arg)
{
    (void)sock;
    af_zguard_read(arg);
}

/* A connection closed: what peers knew of it goes. */
static void on_agent_closed(int fd, void *arg)
{
    peers_closed(arg, OUTBOX_AGENT, fd);
}

static void on_client_closed(int fd, void *arg)
{
    peers_closed(arg, OUTBOX_CLIENT, fd);
}

static void on_site_change(const char *site, bool up, void *arg)
{
    (void)arg;
    if (!up)
        log_warnx(
            "site %s is DOWN: no advertisement received in time; no new leases go there",
            site);
}

/* What sites said before a timeout is judged: after the loop was held up
 * (a long fsync, a stop), libuv runs the timers before it polls, and the
 * answers already in the socket would be judged missing. Bounded, as a turn
 * of af_zloop is. */
#define TICK_READ_MAX 4096

static void read_sites(struct server *srv)
{
    for (int i = 0; i < TICK_READ_MAX; i++)
        if (!handle(srv, srv->agent_sock, OUTBOX_AGENT, agent_tables))
            break;
}

/* A step of the wall clock by more than this is logged and counted. */
#define STEP_MS 2000

/* The lease clock does not follow a step of the wall clock (svc.h): say so
 * once per step, and count it. */
static void watch_clock(struct server *srv)
{
    int64_t skew = svc_wall_ms(&srv->svc) - svc_now_ms(&srv->svc);

    if (llabs(skew - srv->skew_ms) <= STEP_MS)
        return;
    log_warnx("the wall clock stepped by %+lld ms; leases keep to the time the broker "
              "started with (and the monotonic clock since), so none ends early or "
              "late for it; restart the broker to take the new time",
              (long long)(skew - srv->skew_ms));
    bmetrics_clock_step(srv->svc.metrics);
    srv->skew_ms = skew;
}

/* Request records and request ids past the retention period go, a bounded
 * number a tick, in the batch the tick's flush commits. */
#define PRUNE_MAX 1000

static void prune_records(struct svc *s)
{
    int64_t before = svc_now_ms(s) - (int64_t)s->conf->request_retention_ms;
    int n = store_records_prune(s->store, before, PRUNE_MAX);

    if (n < 0)
        outbox_store_failed(s->outbox, "deleting request records past their retention");
    else if (n > 0)
        log_debug("%d request records past their retention deleted", n);
}

/* A tick later than this after the last one finds the loop was away (the
 * process paused, as a VM is, or stalled): what peers sent meanwhile may
 * still be in libzmq's I/O thread, which was away too, and not in the
 * socket read_sites() reads. Every timeout (a hold, a silent site, a waiter,
 * a relay) is judged a tick later, once the loop has polled, so that what
 * came in time is never judged missing. */
#define AWAY_MS 1500

/* Whether the loop was away since the last tick (and when it ticked now). */
static bool was_away(struct server *srv, int64_t now)
{
    int64_t gap = now - srv->ticked_ms;

    srv->ticked_ms = now;
    if (gap <= AWAY_MS)
        return false;
    log_info("the broker's loop was away for %lld ms (paused or stalled): timeouts are "
             "judged at the next tick, after what peers sent meanwhile is read",
             (long long)gap);
    return true;
}

static void on_tick(uv_timer_t *t)
{
    struct server *srv = t->data;
    struct svc *s = &srv->svc;
    int64_t now;
    bool was, isolated, away = was_away(srv, svc_mono_ms(s));

    read_sites(srv);
    watch_clock(srv);
    now = svc_mono_ms(s);
    was = sites_isolated(s->sites);
    isolated = away ? was : sites_sweep(s->sites, now, on_site_change, srv);

    if (isolated && !was)
        log_warnx("every site went silent at once: this broker is likely the one cut "
                  "off, so no site is marked DOWN and nothing is granted until one "
                  "returns (or an admin runs `aifedctl admin site confirm-down`)");
    else if (was && !isolated)
        log_info("sites are heard again: the isolation guard is lifted");
    auth_expire(s->auth, svc_now_ms(s)); /* logins' enrolments */
    jwks_tick(srv->jwks, svc_mono_ms(s));
    leasesvc_tick(s, !away);
    jobsvc_tick(s);
    if (!away) {
        /* What the sites said meanwhile is not read yet: judged next tick. */
        endpointsvc_tick(s);
        proxy_tick(s);
        relays_expire(s->relays, s->outbox, svc_mono_ms(s));
    }
    prune_records(s);
    flush(srv, true);
    af_zguard_sweep(srv->guard_agent);
    af_zguard_sweep(srv->guard_client);
    peers_sweep(srv->peers, svc_mono_ms(s));
    bmetrics_replies_waiting(s->metrics, peers_waiting_bytes(srv->peers));
    bmetrics_connections_shed(s->metrics, af_zguard_shed(srv->guard_agent) +
                                              af_zguard_shed(srv->guard_client));
    bmetrics_publish(s->metrics, s->sites, s->store);
}

/* A clean stop answers every submit still waiting for its site with the
 * lease as it stands (PENDING): the client has its lease id and can look
 * again; the lease and its hold are on disk and resume with the broker. */
static void on_signal(uv_signal_t *h, int signum)
{
    struct server *srv = h->data;

    log_info("%s: stopping", strsignal(signum));
    af_notify_stopping();
    leasesvc_answer_waiters(&srv->svc);
    flush(srv, true);
    uv_stop(&srv->loop);
}

static void set_store_limit(struct server *srv, const struct bconf *c)
{
    char *dir = bconf_path(c, c->state_dir);

    outbox_set_store_limit(srv->svc.outbox, c->map_size_mb, c->path, dir);
    free(dir);
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

/* Whether keys nobody registered may connect, to log in: with an SSH CA or
 * an OpenID issuer to log in by. */
static bool logins_open(const struct bconf *c)
{
    return c->n_ssh_cas > 0 || c->oidc_issuer;
}

/* The OpenID logins' settings in force (the cache borrows the strings). */
static void set_oidc(struct svc *s, const struct bconf *c)
{
    struct oidc_conf oc = {
        .issuer = c->oidc_issuer,
        .audience = c->oidc_audience,
        .user_claim = c->oidc_user_claim,
        .user_suffix = c->oidc_user_suffix,
        .projects_claim = c->oidc_projects_claim,
        .project_prefix = c->oidc_project_prefix,
        .refresh_ms = c->oidc_jwks_refresh_ms,
    };

    oidc_set_conf(s->oidc, &oc);
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
    if (!(c = bconf_load(srv->svc.conf->path, &err))) {
        log_errx("reload: %s; the running configuration stays", err.text);
    } else {
        warn_restart(srv->svc.conf, c);
        principals_reload(&srv->svc, srv->svc.conf, c);
        srv->svc.conf = c;
        bconf_destroy(srv->conf_owned);
        srv->conf_owned = c;
        set_store_limit(srv, c);
        sites_set_timing(srv->svc.sites, (int64_t)c->advertise_interval_ms,
                         (unsigned)c->down_after, (unsigned)c->up_after);
        af_zguard_set_max(srv->guard_agent, c->max_handshakes);
        af_zguard_set_max(srv->guard_client, c->max_handshakes);
        set_oidc(&srv->svc, c);
        if (auth_set_login(srv->svc.auth, logins_open(c)) < 0)
            log_err("reload: logins not opened");
        log_info("reload: %s read again", c->path);
    }
    af_notify_ready("serving");
}

/* Tell tests, the demo and admins which ports "*" picked. Written atomically. */
static int write_endpoints(const struct server *srv, const char *agent,
                           const char *client)
{
    char *dir = bconf_path(srv->svc.conf, srv->svc.conf->state_dir);
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
    char *dir = bconf_path(srv->svc.conf, srv->svc.conf->state_dir);
    char path[4096];
    const char *k = srv->svc.conf->signing_key;
    int rc;

    if (!dir)
        return af_error_set(err, "out of memory");
    if (snprintf(path, sizeof(path), "%s%s%s", k[0] == '/' ? "" : dir,
                 k[0] == '/' ? "" : "/", k) >= (int)sizeof(path)) {
        free(dir);
        return af_error_set(err, "signing_key: path too long");
    }
    free(dir);
    if ((rc = af_signer_load_or_create(path, &srv->svc.signer, err)) == 0)
        af_sign_pub_encode(srv->svc.signer.pk, srv->svc.signing_pub);
    return rc;
}

/* The context, and in it the ZAP handler, which binds before any CURVE
 * server socket does. */
static int open_zap(struct server *srv, struct af_error *err)
{
    if (!(srv->zctx = af_zsock_ctx_new()))
        return af_error_set(err, "out of memory");
    srv->zap = af_zap_create(srv->zctx, auth_decide, srv->svc.auth, err);
    return srv->zap ? 0 : -1;
}

static int open_sockets(struct server *srv, struct af_error *err)
{
    struct af_keypair kp;
    char *keyfile = bconf_path(srv->svc.conf, srv->svc.conf->secret_key);
    char agent_ep[256], client_ep[256];
    struct af_error kerr;
    int rc;

    if (!keyfile)
        return af_error_set(err, "out of memory");
    rc = af_keys_load_secret(keyfile, &kp, &kerr);
    free(keyfile);
    if (rc < 0)
        return af_error_set(err, "broker key: %s", kerr.text);
    srv->agent_sock = af_zsock_server(srv->zctx, srv->svc.conf->agent_listen, &kp,
                                      AUTH_DOMAIN_AGENT, srv->svc.conf->max_message,
                                      AGENT_SNDHWM, agent_ep, sizeof(agent_ep), &kerr);
    if (srv->agent_sock)
        srv->client_sock =
            af_zsock_server(srv->zctx, srv->svc.conf->client_listen, &kp,
                            AUTH_DOMAIN_CLIENT, srv->svc.conf->max_message, CLIENT_SNDHWM,
                            client_ep, sizeof(client_ep), &kerr);
    memset(&kp, 0, sizeof(kp));
    if (!srv->agent_sock || !srv->client_sock)
        return af_error_set(err, "%s", kerr.text);
    if (!(srv->guard_agent = af_zguard_create(srv->zctx, srv->agent_sock, "agent",
                                              srv->svc.conf->max_handshakes, err)) ||
        !(srv->guard_client = af_zguard_create(srv->zctx, srv->client_sock, "client",
                                               srv->svc.conf->max_handshakes, err)))
        return -1;
    if (!(srv->peers = peers_create(zsend, srv)))
        return af_error_set(err, "out of memory");
    af_zguard_on_close(srv->guard_agent, on_agent_closed, srv->peers);
    af_zguard_on_close(srv->guard_client, on_client_closed, srv->peers);
    log_info("listening: agents on %s, clients on %s", agent_ep, client_ep);
    /* A full disk must not keep the broker from serving (and reading its
     * store, which needs no room): only tools read this file. */
    if (write_endpoints(srv, agent_ep, client_ep) < 0)
        log_warnx("cannot write %s/endpoints (%s); serving without it: only tests and "
                  "the demo read it",
                  srv->svc.conf->state_dir,
                  errno == ENOSPC ? "the disk is full" : strerror(errno));
    return 0;
}

/* The services, in the order they depend on each other. */
static int create_services(struct server *srv, const struct bconf *conf, struct store *st,
                           struct af_error *err)
{
    struct svc *s = &srv->svc;

    s->conf = conf;
    s->store = st;
    svc_anchor(s);
    s->started_ms = svc_mono_ms(s);
    s->active_since_ms = svc_wall_ms(s);
    s->sites = sites_create((int64_t)conf->advertise_interval_ms,
                            (unsigned)conf->down_after, (unsigned)conf->up_after);
    s->waiters = waiters_create(WAITERS_MAX);
    s->relays = relays_create();
    s->proxy = proxy_create();
    s->login = login_create();
    s->oidc = oidc_create();
    s->auth = auth_create();
    if (!s->sites || !s->waiters || !s->relays || !s->proxy || !s->login || !s->oidc ||
        !s->auth || auth_set_login(s->auth, logins_open(conf)) < 0 ||
        !(srv->jwks = jwks_create(&srv->loop, s->oidc)))
        return af_error_set(err, "out of memory");
    set_oidc(s, conf);
    if (!(s->metrics = bmetrics_create(conf->metrics_listen, srv->metrics_url,
                                       sizeof(srv->metrics_url), err)))
        return -1;
    if (*srv->metrics_url)
        log_info("metrics on %s", srv->metrics_url);
    if (!(s->outbox = outbox_create(st, s->metrics, send_packed, srv)))
        return af_error_set(err, "out of memory");
    set_store_limit(srv, conf);
    if (load_signer(srv, err) < 0 || principals_bootstrap(s, err) < 0)
        return -1;
    if (leasesvc_reload(s) < 0)
        return af_error_set(err, "loading open leases and allocations: %s",
                            strerror(errno));
    return 0;
}

static int watch_loop(struct server *srv, struct af_error *err)
{
    uint64_t wd;

    srv->zl_zap = af_zloop_create(&srv->loop, af_zap_socket(srv->zap), on_zap, NULL, srv);
    srv->zl_agent =
        af_zloop_create(&srv->loop, srv->agent_sock, on_agent, on_batch_end, srv);
    srv->zl_client =
        af_zloop_create(&srv->loop, srv->client_sock, on_client, on_batch_end, srv);
    srv->zl_guard_agent = af_zloop_create(&srv->loop, af_zguard_socket(srv->guard_agent),
                                          on_guard, NULL, srv->guard_agent);
    srv->zl_guard_client =
        af_zloop_create(&srv->loop, af_zguard_socket(srv->guard_client), on_guard, NULL,
                        srv->guard_client);
    if (!srv->zl_zap || !srv->zl_agent || !srv->zl_client || !srv->zl_guard_agent ||
        !srv->zl_guard_client)
        return af_error_set(err, "event loop: cannot watch sockets");
    uv_timer_init(&srv->loop, &srv->tick);
    uv_timer_init(&srv->loop, &srv->drain);
    if ((wd = af_notify_watchdog_start(&srv->loop, &srv->watchdog)))
        log_info("systemd watchdog: pinging every %llu ms", (unsigned long long)wd / 2);
    uv_signal_init(&srv->loop, &srv->sigterm);
    uv_signal_init(&srv->loop, &srv->sigint);
    uv_signal_init(&srv->loop, &srv->sighup);
    srv->tick.data = srv->drain.data = srv->sigterm.data = srv->sigint.data =
        srv->sighup.data = srv;
    return 0;
}

struct server *server_create(const struct bconf *conf, struct store *st,
                             struct af_error *err)
{
    struct server *srv = calloc(1, sizeof(*srv));

    if (!srv) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    if (uv_loop_init(&srv->loop) != 0) {
        free(srv);
        af_error_set(err, "event loop: cannot initialise");
        return NULL;
    }
    if (create_services(srv, conf, st, err) < 0 || open_zap(srv, err) < 0 ||
        open_sockets(srv, err) < 0 || watch_loop(srv, err) < 0) {
        server_destroy(srv);
        return NULL;
    }
    return srv;
}

int server_run(struct server *srv)
{
    /* The first tick measures from here: a pause before it is a pause too. */
    srv->ticked_ms = svc_mono_ms(&srv->svc);
    uv_timer_start(&srv->tick, on_tick, TICK_MS, TICK_MS);
    uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
    uv_signal_start(&srv->sigint, on_signal, SIGINT);
    uv_signal_start(&srv->sighup, on_hup, SIGHUP);
    log_info("broker ready: %zu leases stored", store_lease_count(srv->svc.store));
    af_notify_ready("serving");
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    return srv->failed ? -1 : 0;
}

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

void server_destroy(struct server *srv)
{
    struct svc *s;

    if (!srv)
        return;
    s = &srv->svc;
    af_zloop_destroy(srv->zl_zap);
    af_zloop_destroy(srv->zl_agent);
    af_zloop_destroy(srv->zl_client);
    af_zloop_destroy(srv->zl_guard_agent);
    af_zloop_destroy(srv->zl_guard_client);
    if (srv->tick.data) { /* the handles were initialised */
        uv_close((uv_handle_t *)&srv->tick, close_cb);
        uv_close((uv_handle_t *)&srv->drain, close_cb);
        uv_close((uv_handle_t *)&srv->watchdog, close_cb);
        uv_close((uv_handle_t *)&srv->sigterm, close_cb);
        uv_close((uv_handle_t *)&srv->sigint, close_cb);
        uv_close((uv_handle_t *)&srv->sighup, close_cb);
    }
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&srv->loop) != 0)
        log_warnx("event loop closed with handles still open");
    outbox_destroy(s->outbox);
    waiters_destroy(s->waiters);
    relays_destroy(s->relays);
    proxy_destroy(s->proxy);
    login_destroy(s->login);
    jwks_destroy(srv->jwks); /* after the loop ran: no fetch is left */
    oidc_destroy(s->oidc);
    free(srv->buckets);
    peers_destroy(srv->peers);
    af_zguard_destroy(srv->guard_agent);
    af_zguard_destroy(srv->guard_client);
    /* Let the last answers leave (bounded), then close. */
    af_zsock_close_linger(srv->client_sock, STOP_LINGER_MS);
    af_zsock_close_linger(srv->agent_sock, STOP_LINGER_MS);
    af_zap_destroy(srv->zap);
    af_zsock_ctx_term(srv->zctx);
    auth_destroy(s->auth);
    sites_destroy(s->sites);
    alloc_destroy(s->allocs);
    af_signer_wipe(&s->signer);
    bmetrics_destroy(s->metrics);
    bconf_destroy(srv->conf_owned);
    free(srv);
}
