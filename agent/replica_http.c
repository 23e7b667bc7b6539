/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replica_http: curl's socket callback gives each socket a uv_poll_t, its
 * timer callback drives one uv_timer_t, and a finished transfer (read from
 * curl_multi_info_read after each action) is answered and freed. A request
 * is a struct rreq, in a uthash by the broker's relay id.
 */
#include "replica_http.h"
#include "af_ids.h"
#include "af_log.h"
#include "af_wire.h"
#include "replicas.h"

#include "aifed.pb-c.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uthash.h>

/* An OpenAI-compatible answer says its usage at its end: in a JSON body's
 * last object, or a stream's last event before [DONE]. */
#define TAIL_BYTES 4096

struct rreq {
    uint64_t relay_id;
    struct replica_http *h;
    CURL *e;
    struct curl_slist *hdrs;
    uint8_t *body;
    /* the answer's headers, kept until they go with its status */
    Aifed__HttpHeader hv[AF_WIRE_MAX_HEADERS], *hp[AF_WIRE_MAX_HEADERS];
    char *hstr[AF_WIRE_MAX_HEADERS * 2];
    size_t nh;
    bool headed;
    uint64_t bytes;
    char tail[TAIL_BYTES + 1]; /* the answer's last bytes: its usage is there */
    size_t tail_len;
    UT_hash_handle hh;
};

struct replica_http {
    uv_loop_t *loop;
    const struct replicas *reps;
    void (*send)(void *arg, Aifed__Envelope *env);
    void *arg;
    CURLM *multi;
    uv_timer_t timer;
    struct rreq *by_id;
    size_t n;
};

struct sockpoll {
    uv_poll_t poll;
    curl_socket_t fd;
    struct replica_http *h;
};

static void send_piece(struct replica_http *h, Aifed__ReplicaResponse *rr)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;

    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_REPLICA_RESPONSE, rr);
    h->send(h->arg, &env);
}

/* An answer of the agent's own (the replica was not reached): the end. */
static void refuse(struct replica_http *h, uint64_t relay_id, uint32_t status,
                   const char *why)
{
    Aifed__ReplicaResponse rr = AIFED__REPLICA_RESPONSE__INIT;

    rr.relay_id = relay_id;
    rr.status = status;
    rr.error = (char *)why;
    rr.end = true;
    send_piece(h, &rr);
}

static void headers_free(struct rreq *q)
{
    for (size_t i = 0; i < q->nh * 2; i++)
        free(q->hstr[i]);
    q->nh = 0;
}

static void rreq_free(struct rreq *q)
{
    if (q->e) {
        curl_multi_remove_handle(q->h->multi, q->e);
        curl_easy_cleanup(q->e);
    }
    curl_slist_free_all(q->hdrs);
    headers_free(q);
    free(q->body);
    HASH_DEL(q->h->by_id, q);
    q->h->n--;
    free(q);
}

/* The characters of a header's name (RFC 9110's token). */
#define TOKEN_CHARS                                                                      \
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/* Headers a hop (the gateway, the broker, the agent) answers for itself,
 * and what the client said to aifed rather than to the model. */
static bool hop_header(const char *name, size_t len)
{
    static const char *const hop[] = {
        "connection", "keep-alive",     "proxy-authenticate", "proxy-authorization",
        "te",         "trailer",        "transfer-encoding",  "upgrade",
        "host",       "content-length", "authorization",      "expect"};

    for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
        if (strlen(hop[i]) == len && !strncasecmp(hop[i], name, len))
            return true;
    return false;
}

/* The status and headers, once curl has read them all. */
static void send_head(struct rreq *q)
{
    Aifed__ReplicaResponse rr = AIFED__REPLICA_RESPONSE__INIT;
    long status = 0;

    curl_easy_getinfo(q->e, CURLINFO_RESPONSE_CODE, &status);
    rr.relay_id = q->relay_id;
    rr.status = status >= 100 && status <= 599 ? (uint32_t)status : 502;
    rr.headers = q->hp;
    rr.n_headers = q->nh;
    send_piece(q->h, &rr);
    q->headed = true;
    headers_free(q);
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
    struct rreq *q = arg;
    size_t len = size * n, name;
    char *colon;

    if (len >= 5 && !strncmp(buf, "HTTP/", 5)) { /* a new answer (after a 100) */
        headers_free(q);
        return len;
    }
    if (len <= 2) { /* the blank line: the head is whole, unless it was a 1xx */
        long status = 0;
        curl_easy_getinfo(q->e, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && !q->headed)
            send_head(q);
        return len;
    }
    if (!(colon = memchr(buf, ':', len)) || q->nh == AF_WIRE_MAX_HEADERS)
        return len;
    name = (size_t)(colon - buf);
    /* What the wire would refuse (the whole answer with it) is left out:
     * a name that is not a token, a value past its bound. */
    if (hop_header(buf, name) || !name || name > 256 || len - name > AF_WIRE_MAX_HEADER ||
        strspn(buf, TOKEN_CHARS) < name)
        return len;
    colon++;
    while (colon < buf + len && (*colon == ' ' || *colon == '\t'))
        colon++;
    aifed__http_header__init(&q->hv[q->nh]);
    q->hstr[q->nh * 2] = strndup(buf, name);
    q->hstr[q->nh * 2 + 1] = strndup(colon, (size_t)(buf + len - colon));
    if (!q->hstr[q->nh * 2] || !q->hstr[q->nh * 2 + 1])
        return 0;
    q->hstr[q->nh * 2 + 1][strcspn(q->hstr[q->nh * 2 + 1], "\r\n")] = '\0';
    af_wire_clean_text(q->hstr[q->nh * 2 + 1]);
    q->hv[q->nh].name = q->hstr[q->nh * 2];
    q->hv[q->nh].value = q->hstr[q->nh * 2 + 1];
    q->hp[q->nh] = &q->hv[q->nh];
    q->nh++;
    return len;
}

static void keep_tail(struct rreq *q, const char *buf, size_t len)
{
    if (len >= TAIL_BYTES) {
        memcpy(q->tail, buf + len - TAIL_BYTES, TAIL_BYTES);
        q->tail_len = TAIL_BYTES;
    } else {
        size_t keep = q->tail_len + len > TAIL_BYTES ? TAIL_BYTES - len : q->tail_len;
        memmove(q->tail, q->tail + q->tail_len - keep, keep);
        memcpy(q->tail + keep, buf, len);
        q->tail_len = keep + len;
    }
    q->tail[q->tail_len] = '\0';
}

/* The tokens the answer reports: the number after its last
 * "total_tokens" (an OpenAI usage object), or 0. */
static uint64_t tail_tokens(struct rreq *q)
{
    const char *at = NULL, *p = q->tail, *end = q->tail + q->tail_len;

    while (p < end && (p = memmem(p, (size_t)(end - p), "\"total_tokens\"", 14)))
        at = p++;
    if (!at)
        return 0;
    at += 14;
    while (at < end && (*at == ' ' || *at == ':' || *at == '\t'))
        at++;
    return at < end && *at >= '0' && *at <= '9' ? strtoull(at, NULL, 10) : 0;
}

/* A piece of the body, passed on as it comes. */
static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
    struct rreq *q = arg;
    Aifed__ReplicaResponse rr = AIFED__REPLICA_RESPONSE__INIT;
    size_t len = size * n;

    if ((q->bytes += len) > REPLICA_HTTP_MAX_BYTES)
        return 0; /* curl ends it: CURLE_WRITE_ERROR */
    if (!q->headed)
        send_head(q);
    rr.relay_id = q->relay_id;
    rr.data.data = (uint8_t *)buf;
    rr.data.len = len;
    send_piece(q->h, &rr);
    keep_tail(q, buf, len);
    return len;
}

static void done(struct rreq *q, CURLcode rc)
{
    Aifed__ReplicaResponse rr = AIFED__REPLICA_RESPONSE__INIT;
    char why[AF_WIRE_MAX_TEXT];

    if (rc != CURLE_OK) {
        snprintf(why, sizeof(why), "the replica: %s%s", curl_easy_strerror(rc),
                 q->bytes > REPLICA_HTTP_MAX_BYTES ? " (its answer is too large)" : "");
        if (!q->headed) {
            refuse(q->h, q->relay_id, rc == CURLE_OPERATION_TIMEDOUT ? 504 : 502, why);
            rreq_free(q);
            return;
        }
        rr.error = why;
    } else if (!q->headed) {
        send_head(q);
    }
    rr.relay_id = q->relay_id;
    rr.end = true;
    rr.tokens = tail_tokens(q);
    send_piece(q->h, &rr);
    rreq_free(q);
}

static void check_done(struct replica_http *h)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(h->multi, &left))) {
        struct rreq *q = NULL;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&q);
        if (q)
            done(q, msg->data.result);
    }
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sockpoll *sp = p->data;
    int flags = 0, running;

    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(sp->h->multi, sp->fd, flags, &running);
    check_done(sp->h);
}

static void on_poll_closed(uv_handle_t *h)
{
    free(h->data);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct replica_http *h = userp;
    struct sockpoll *sp = socketp;
    int events = 0;

    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (sp) {
            uv_poll_stop(&sp->poll);
            uv_close((uv_handle_t *)&sp->poll, on_poll_closed);
            curl_multi_assign(h->multi, fd, NULL);
        }
        return 0;
    }
    if (!sp) {
        if (!(sp = calloc(1, sizeof(*sp))))
            return -1;
        sp->fd = fd;
        sp->h = h;
        if (uv_poll_init_socket(h->loop, &sp->poll, fd) < 0) {
            free(sp);
            return -1;
        }
        sp->poll.data = sp;
        curl_multi_assign(h->multi, fd, sp);
    }
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&sp->poll, events, on_poll);
    return 0;
}

static void on_timeout(uv_timer_t *t)
{
    struct replica_http *h = t->data;
    int running;

    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
}

static int on_timer(CURLM *m, long ms, void *userp)
{
    struct replica_http *h = userp;

    (void)m;
    if (ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, on_timeout, ms ? (uint64_t)ms : 1, 0);
    return 0;
}

struct replica_http *replica_http_create(uv_loop_t *loop, const struct replicas *reps,
                                         void (*send)(void *arg, Aifed__Envelope *env),
                                         void *arg)
{
    struct replica_http *h = calloc(1, sizeof(*h));

    /* Counted, and thread-safe in the libcurl Debian 12 has (7.88). */
    if (!h || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(h);
        return NULL;
    }
    if (!(h->multi = curl_multi_init())) {
        curl_global_cleanup();
        free(h);
        return NULL;
    }
    h->loop = loop;
    h->reps = reps;
    h->send = send;
    h->arg = arg;
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return h;
}

static void on_timer_closed(uv_handle_t *t)
{
    free(t->data);
}

void replica_http_destroy(struct replica_http *h)
{
    struct rreq *q, *tmp;

    if (!h)
        return;
    // NOLINTBEGIN(clang-analyzer-unix.Malloc)
    HASH_ITER(hh, h->by_id, q, tmp)
    {
        rreq_free(q);
    }
    // NOLINTEND(clang-analyzer-unix.Malloc)
    curl_multi_cleanup(h->multi);
    curl_global_cleanup();
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, on_timer_closed); /* frees h */
}

/* The request's headers for curl, less the hop's; -1 out of memory. */
static int request_headers(struct rreq *q, const Aifed__ReplicaRequest *rq)
{
    char line[AF_WIRE_MAX_HEADER + 300];
    struct curl_slist *l;

    for (size_t i = 0; i < rq->n_headers; i++) {
        const Aifed__HttpHeader *hd = rq->headers[i];
        if (hop_header(hd->name, strlen(hd->name)))
            continue;
        snprintf(line, sizeof(line), "%s: %s", hd->name, hd->value);
        if (!(l = curl_slist_append(q->hdrs, line)))
            return -1;
        q->hdrs = l;
    }
    /* No "Expect: 100-continue" wait for a body. */
    if (!(l = curl_slist_append(q->hdrs, "Expect:")))
        return -1;
    q->hdrs = l;
    return 0;
}

static int request_setup(struct rreq *q, const Aifed__ReplicaRequest *rq,
                         const char *node, uint32_t port)
{
    char url[AF_WIRE_MAX_HEADER + AF_WIRE_MAX_TEXT + 32];
    CURL *e = q->e;

    snprintf(url, sizeof(url), "http://%s%s%s:%u%s", strchr(node, ':') ? "[" : "", node,
             strchr(node, ':') ? "]" : "", port, rq->path);
    if (request_headers(q, rq) < 0)
        return -1;
    if (rq->body.len && !(q->body = malloc(rq->body.len)))
        return -1;
    if (rq->body.len)
        memcpy(q->body, rq->body.data, rq->body.len);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)REPLICA_HTTP_TIMEOUT_S);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->hdrs);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(e, CURLOPT_PRIVATE, q);
    /* What comes back is passed on as it was sent: no decoding. */
    curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    if (rq->body.len || strcmp(rq->method, "GET")) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body ? (char *)q->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body.len);
    }
    if (strcmp(rq->method, "GET") && strcmp(rq->method, "POST"))
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
    if (!strcmp(rq->method, "HEAD"))
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    return 0;
}

void replica_http_request(struct replica_http *h, const Aifed__ReplicaRequest *rq)
{
    const char *node;
    uint32_t port;
    bool ready;
    struct rreq *q;

    HASH_FIND(hh, h->by_id, &rq->relay_id, sizeof(rq->relay_id), q);
    if (q)
        return; /* sent twice: the first is answered */
    if (!replicas_get(h->reps, rq->job_id, &node, &port, &ready) || !*node) {
        refuse(h, rq->relay_id, 502, "that job is not a replica running at this site");
        return;
    }
    if (h->n >= REPLICA_HTTP_MAX) {
        refuse(h, rq->relay_id, 503, "this site relays too many requests already");
        return;
    }
    if (!(q = calloc(1, sizeof(*q)))) {
        refuse(h, rq->relay_id, 503, "the agent is out of memory");
        return;
    }
    q->relay_id = rq->relay_id;
    q->h = h;
    HASH_ADD(hh, h->by_id, relay_id, sizeof(q->relay_id), q);
    h->n++;
    if (!(q->e = curl_easy_init()) || request_setup(q, rq, node, port) < 0 ||
        curl_multi_add_handle(h->multi, q->e) != CURLM_OK) {
        refuse(h, rq->relay_id, 503, "the agent could not make the request");
        rreq_free(q);
    }
}

void replica_http_cancel(struct replica_http *h, uint64_t relay_id)
{
    struct rreq *q;

    HASH_FIND(hh, h->by_id, &relay_id, sizeof(relay_id), q);
    if (q)
        rreq_free(q);
}
