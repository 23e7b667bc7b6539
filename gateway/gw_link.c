/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gw_link: the broker side, in a libuv loop. It learns the broker's
 * signing key (WhoAmI: the CURVE handshake says it is the broker), sends
 * each request handed over, puts each piece of an answer into its stream,
 * and ends what waits too long. It never blocks on the HTTPS side: it only
 * takes the shared mutex, and resumes connections.
 */
#include "af_keys.h"
#include "af_log.h"
#include "af_time.h"
#include "af_zloop.h"
#include "af_zsock.h"
#include "gconf.h"
#include "gw.h"

#include "aifed.pb-c.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS 1000

static void stream_free(struct gw *g, struct gw_stream *s)
{
    HASH_DEL(g->by_id, s);
    g->n_streams--;
    for (size_t i = 0; i < s->n_req; i++) {
        free(s->req[i].name);
        free(s->req[i].value);
    }
    for (size_t i = 0; i < s->n_resp; i++) {
        free(s->resp[i].name);
        free(s->resp[i].value);
    }
    free(s->path);
    free(s->body);
    free(s->data);
    free(s);
}

void gw_stream_unref(struct gw *g, struct gw_stream *s)
{
    if (--s->refs == 0)
        stream_free(g, s);
}

int gw_hand_over(struct gw *g, struct gw_stream *s)
{
    if (g->n_out == sizeof(g->out) / sizeof(g->out[0]))
        return -1;
    s->handed = true;
    s->refs++; /* the broker side's, until its answer ends */
    s->handed_ms = af_mono_ms();
    g->out[g->n_out++] = s;
    uv_async_send(&g->wake);
    return 0;
}

void gw_client_left(struct gw *g, struct gw_stream *s)
{
    bool sent = true;

    /* Not sent yet: it never will be. */
    for (size_t i = 0; i < g->n_out; i++)
        if (g->out[i] == s) {
            g->out[i] = g->out[--g->n_out];
            sent = false;
            break;
        }
    if (sent && g->n_cancels < sizeof(g->cancels) / sizeof(g->cancels[0]))
        g->cancels[g->n_cancels++] = s->id;
    /* The broker side lets go now: a piece that comes later finds nothing. */
    s->ended = true;
    gw_stream_unref(g, s);
    uv_async_send(&g->wake);
}

/* The HTTPS side waits for s: wake it. Under g->mu. */
static void resume(struct gw_stream *s)
{
    if (s->suspended && s->conn) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

/* s ends here with status and why (504, the broker gone, ...). Under g->mu. */
static void fail(struct gw *g, struct gw_stream *s, uint32_t status, const char *why)
{
    if (!s->head) {
        s->status = status;
        snprintf(s->error, sizeof(s->error), "%s", why);
        s->head = true;
    } else {
        s->failed = true;
    }
    s->ended = true;
    resume(s);
    gw_stream_unref(g, s);
}

static int keep_headers(struct gw_stream *s, const Aifed__ProxyResponse *pr)
{
    for (size_t i = 0; i < pr->n_headers && s->n_resp < AF_WIRE_MAX_HEADERS; i++) {
        if (!strcasecmp(pr->headers[i]->name, "content-length") ||
            !strcasecmp(pr->headers[i]->name, "transfer-encoding"))
            continue; /* MHD frames the body itself */
        if (!(s->resp[s->n_resp].name = strdup(pr->headers[i]->name)) ||
            !(s->resp[s->n_resp].value = strdup(pr->headers[i]->value))) {
            free(s->resp[s->n_resp].name);
            return -1;
        }
        s->n_resp++;
    }
    return 0;
}

static int keep_data(struct gw *g, struct gw_stream *s, const uint8_t *data, size_t len)
{
    uint8_t *grown;
    size_t cap;

    if (!len)
        return 0;
    if (s->len + len > g->conf->max_pending)
        return -1;
    if (s->len + len > s->cap) {
        cap = s->cap ? s->cap : 16 * 1024;
        while (cap < s->len + len)
            cap *= 2;
        if (!(grown = realloc(s->data, cap)))
            return -1;
        s->data = grown;
        s->cap = cap;
    }
    memcpy(s->data + s->len, data, len);
    s->len += len;
    return 0;
}

/* A piece of an answer, into its stream. Under g->mu. */
static void on_piece(struct gw *g, const Aifed__ProxyResponse *pr)
{
    struct gw_stream *s;

    HASH_FIND(hh, g->by_id, &pr->stream_id, sizeof(pr->stream_id), s);
    log_debug("stream %llu: a piece of %zu bytes%s%s", (unsigned long long)pr->stream_id,
              pr->data.len, pr->end ? ", the end" : "",
              !s             ? " (gone)"
              : s->ended     ? " (ended)"
              : s->suspended ? " (resumed)"
                             : "");
    if (!s || s->ended)
        return; /* its client went away, or it ended here already */
    if (!s->head) {
        s->status = pr->status ? pr->status : 502;
        s->retry_after_s = pr->retry_after_s;
        snprintf(s->error, sizeof(s->error), "%s", pr->error);
        snprintf(s->site, sizeof(s->site), "%s", pr->site);
        if (keep_headers(s, pr) < 0) {
            fail(g, s, 502, "the gateway is out of memory");
            return;
        }
        s->head = true;
    } else if (*pr->error) {
        s->failed = true; /* the body stops short: the client sees it cut */
    }
    if (keep_data(g, s, pr->data.data, pr->data.len) < 0) {
        gw_client_left(g, s); /* the broker is told; s ends here */
        s->failed = true;
        resume(s);
        return;
    }
    if (pr->end) {
        s->ended = true;
        gw_stream_unref(g, s);
    }
    resume(s);
}

static void on_identity(struct gw *g, const Aifed__Identity *id)
{
    uint8_t pk[32];

    if (strncmp(id->principal, "gateway:", 8)) {
        log_warnx("the broker takes this gateway's key for %s, not a gateway: requests "
                  "will be refused (register it as [gateway:NAME])",
                  id->principal);
        return;
    }
    if (af_sign_pub_decode(id->signing_key, pk) < 0)
        return;
    pthread_mutex_lock(&g->mu);
    if (!g->have_pk)
        log_info("connected to the broker as %s", id->principal);
    memcpy(g->signing_pk, pk, sizeof(pk));
    g->have_pk = true;
    pthread_mutex_unlock(&g->mu);
}

static void on_message(void *sock, void *arg)
{
    struct gw *g = arg;
    struct af_zmsg z;

    if (af_zsock_recv(sock, false, g->conf->max_message, &z) < 0)
        return;
    if (!z.env) {
        log_warnx("a message from the broker was refused: %s", z.why.text);
    } else if (z.env->body_case == AIFED__ENVELOPE__BODY_PROXY_RESPONSE) {
        pthread_mutex_lock(&g->mu);
        on_piece(g, z.env->proxy_response);
        pthread_mutex_unlock(&g->mu);
    } else if (z.env->body_case == AIFED__ENVELOPE__BODY_IDENTITY) {
        on_identity(g, z.env->identity);
    } else if (z.env->body_case == AIFED__ENVELOPE__BODY_ERROR && z.env->corr_id) {
        /* A request the broker refused before it looked at it (its shape). */
        struct gw_stream *s;
        pthread_mutex_lock(&g->mu);
        HASH_FIND(hh, g->by_id, &z.env->corr_id, sizeof(z.env->corr_id), s);
        if (s && s->handed && !s->ended)
            fail(g, s, 502, z.env->error->message);
        pthread_mutex_unlock(&g->mu);
    } else if (z.env->body_case == AIFED__ENVELOPE__BODY_ERROR &&
               strcmp(g->last_error, z.env->error->message)) {
        /* Said once, not at every try. */
        snprintf(g->last_error, sizeof(g->last_error), "%s", z.env->error->message);
        log_warnx("the broker says: %s", g->last_error);
    }
    af_zmsg_clear(&z);
}

static void ask_identity(struct gw *g)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__WhoAmI w = AIFED__WHO_AM_I__INIT;

    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_WHO_AM_I, &w);
    env.version = AF_WIRE_VERSION;
    (void)af_zsock_send(g->sock, NULL, 0, &env);
}

static void send_request(struct gw *g, struct gw_stream *s)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__ProxyRequest r = AIFED__PROXY_REQUEST__INIT;
    Aifed__HttpHeader hv[AF_WIRE_MAX_HEADERS], *hp[AF_WIRE_MAX_HEADERS];

    for (size_t i = 0; i < s->n_req; i++) {
        aifed__http_header__init(&hv[i]);
        hv[i].name = s->req[i].name;
        hv[i].value = s->req[i].value;
        hp[i] = &hv[i];
    }
    r.stream_id = s->id;
    r.key = s->key;
    r.endpoint = s->endpoint;
    r.method = s->method;
    r.path = s->path;
    r.headers = hp;
    r.n_headers = s->n_req;
    r.body.data = s->body;
    r.body.len = s->body_len;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_PROXY_REQUEST, &r);
    env.version = AF_WIRE_VERSION;
    env.corr_id = s->id; /* an Error the broker answers with names the stream */
    if (af_zsock_send(g->sock, NULL, 0, &env) < 0) {
        pthread_mutex_lock(&g->mu);
        if (!s->ended)
            fail(g, s, 503, "the gateway cannot reach the broker now");
        pthread_mutex_unlock(&g->mu);
    }
}

static void send_cancel(struct gw *g, uint64_t id)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__ProxyCancel c = AIFED__PROXY_CANCEL__INIT;

    c.stream_id = id;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_PROXY_CANCEL, &c);
    env.version = AF_WIRE_VERSION;
    (void)af_zsock_send(g->sock, NULL, 0, &env);
}

/* What the HTTPS side handed over: sent. The streams are held (their
 * broker-side reference) while they are read here. */
static void on_wake(uv_async_t *a)
{
    struct gw *g = a->data;
    struct gw_stream *out[sizeof(g->out) / sizeof(g->out[0])];
    uint64_t cancels[sizeof(g->cancels) / sizeof(g->cancels[0])];
    size_t n_out, n_cancels;

    pthread_mutex_lock(&g->mu);
    n_out = g->n_out;
    memcpy(out, g->out, n_out * sizeof(out[0]));
    n_cancels = g->n_cancels;
    memcpy(cancels, g->cancels, n_cancels * sizeof(cancels[0]));
    g->n_out = g->n_cancels = 0;
    for (size_t i = 0; i < n_out; i++)
        out[i]->refs++; /* while it is sent */
    pthread_mutex_unlock(&g->mu);
    for (size_t i = 0; i < n_out; i++) {
        send_request(g, out[i]);
        pthread_mutex_lock(&g->mu);
        gw_stream_unref(g, out[i]);
        pthread_mutex_unlock(&g->mu);
    }
    for (size_t i = 0; i < n_cancels; i++)
        send_cancel(g, cancels[i]);
}

static void on_tick(uv_timer_t *t)
{
    struct gw *g = t->data;
    struct gw_stream *s, *tmp;
    int64_t now = af_mono_ms();
    bool ask;

    pthread_mutex_lock(&g->mu);
    ask = !g->have_pk;
    HASH_ITER(hh, g->by_id, s, tmp)
    {
        if (s->handed && !s->head && !s->ended &&
            now - s->handed_ms > (int64_t)g->conf->head_timeout_ms) {
            if (g->n_cancels < sizeof(g->cancels) / sizeof(g->cancels[0]))
                g->cancels[g->n_cancels++] = s->id;
            fail(g, s, 504, "no answer from the endpoint in time");
        }
    }
    pthread_mutex_unlock(&g->mu);
    if (ask)
        ask_identity(g);
    uv_async_send(&g->wake);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct gw *g = sig->data;

    log_info("%s: stopping", strsignal(signum));
    g->stopping = true;
    uv_stop(&g->loop);
}

int gw_link_start(struct gw *g, struct af_error *err)
{
    struct af_keypair kp;
    char broker_pub[AF_KEY_Z85_LEN + 1], *path;
    int rc;

    if (!(path = gconf_path(g->conf, g->conf->broker_public_key)))
        return af_error_set(err, "out of memory");
    rc = af_keys_load_public(path, broker_pub, err);
    free(path);
    if (rc < 0)
        return -1;
    if (!(path = gconf_path(g->conf, g->conf->secret_key)))
        return af_error_set(err, "out of memory");
    rc = af_keys_load_secret(path, &kp, err);
    free(path);
    if (rc < 0)
        return -1;
    if (uv_loop_init(&g->loop) < 0 || !(g->zctx = af_zsock_ctx_new()))
        return af_error_set(err, "out of memory");
    g->sock = af_zsock_client(g->zctx, g->conf->broker, broker_pub, &kp,
                              g->conf->max_message, NULL, err);
    if (!g->sock)
        return -1;
    if (!(g->zl = af_zloop_create(&g->loop, g->sock, on_message, NULL, g)))
        return af_error_set(err, "out of memory");
    uv_async_init(&g->loop, &g->wake, on_wake);
    g->wake.data = g;
    uv_timer_init(&g->loop, &g->tick);
    g->tick.data = g;
    uv_timer_start(&g->tick, on_tick, TICK_MS, TICK_MS);
    uv_signal_init(&g->loop, &g->sigterm);
    uv_signal_init(&g->loop, &g->sigint);
    g->sigterm.data = g->sigint.data = g;
    uv_signal_start(&g->sigterm, on_signal, SIGTERM);
    uv_signal_start(&g->sigint, on_signal, SIGINT);
    ask_identity(g);
    return 0;
}

int gw_run(struct gw *g)
{
    uv_run(&g->loop, UV_RUN_DEFAULT);
    return 0;
}

static void closed(uv_handle_t *h)
{
    (void)h;
}

void gw_link_stop(struct gw *g)
{
    struct gw_stream *s, *tmp;

    /* The HTTPS side has stopped: what is left is the broker side's. */
    // NOLINTBEGIN(clang-analyzer-unix.Malloc)
    HASH_ITER(hh, g->by_id, s, tmp)
    {
        stream_free(g, s);
    }
    {
        struct gw_rate *r, *rtmp;
        HASH_ITER(hh, g->rates, r, rtmp)
        {
            HASH_DEL(g->rates, r);
            free(r);
        }
    }
    // NOLINTEND(clang-analyzer-unix.Malloc)
    if (!g->zctx)
        return;
    af_zloop_destroy(g->zl);
    if (g->wake.data) {
        uv_close((uv_handle_t *)&g->wake, closed);
        uv_close((uv_handle_t *)&g->tick, closed);
        uv_close((uv_handle_t *)&g->sigterm, closed);
        uv_close((uv_handle_t *)&g->sigint, closed);
    }
    uv_run(&g->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&g->loop) != 0)
        log_warnx("event loop closed with handles still open");
    af_zsock_close(g->sock);
    af_zsock_ctx_term(g->zctx);
}
