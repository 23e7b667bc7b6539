/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gw_http: the HTTPS side (libmicrohttpd, its own thread, TLS). A request
 * gets its stream when its URI is read (MHD's URI logger: the raw URI, with
 * its query), is checked and read by the access handler, and waits
 * suspended until its answer's head is there; its body is written by a
 * content reader that suspends the connection while nothing is waiting.
 * aifed's own refusals are application/problem+json (RFC 9457).
 */
#include "af_log.h"
#include "af_time.h"
#include "gconf.h"
#include "gw.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PIECE_MAX  (64 * 1024) /* what the reader gives MHD at once */
#define RATES_MAX  4096        /* keys whose rate is tracked */
#define KEY_PREFIX "Bearer "
/* The characters of a header's name (RFC 9110's token). */
#define TOKEN_CHARS                                                                      \
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

static const char *title_of(unsigned status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 429:
        return "Too Many Requests";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Error";
    }
}

/* An answer of aifed's own: problem+json, with Retry-After when given. */
static enum MHD_Result problem(struct MHD_Connection *c, unsigned status,
                               unsigned retry_after_s, const char *detail)
{
    json_t *j = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title",
                          title_of(status), "status", (int)status, "detail", detail);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    struct MHD_Response *r;
    enum MHD_Result rc;
    char secs[16];

    json_decref(j);
    r = MHD_create_response_from_buffer(text ? strlen(text) : 0, text ? text : (char *)"",
                                        text ? MHD_RESPMEM_MUST_FREE
                                             : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/problem+json");
    if (retry_after_s) {
        snprintf(secs, sizeof(secs), "%u", retry_after_s);
        MHD_add_response_header(r, "Retry-After", secs);
    }
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Whether the key's rate lets one more request through now: 0, or the
 * seconds until it does. Under g->mu. */
static unsigned rate_wait(struct gw *g, const struct af_key_claims *k)
{
    int64_t now = af_mono_ms();
    struct gw_rate *r;

    if (!k->rate_per_s)
        return 0;
    HASH_FIND_STR(g->rates, k->id, r);
    if (!r) {
        if (g->n_rates >= RATES_MAX) { /* a blunt bound: every bucket starts full again */
            struct gw_rate *e, *tmp;
            /* uthash's own idiom, which the analyzer misreads (as in common/). */
            // NOLINTBEGIN(clang-analyzer-unix.Malloc)
            HASH_ITER(hh, g->rates, e, tmp)
            {
                HASH_DEL(g->rates, e);
                free(e);
            }
            // NOLINTEND(clang-analyzer-unix.Malloc)
            g->n_rates = 0;
        }
        if (!(r = calloc(1, sizeof(*r))))
            return 1;
        snprintf(r->key, sizeof(r->key), "%s", k->id);
        r->tokens = k->rate_per_s;
        r->at_ms = now;
        HASH_ADD_STR(g->rates, key, r); // NOLINT(clang-analyzer-unix.Malloc): as above
        g->n_rates++;
    }
    r->tokens += (double)(now - r->at_ms) * k->rate_per_s / 1000.0;
    if (r->tokens > k->rate_per_s) /* a burst of one second's worth */
        r->tokens = k->rate_per_s;
    r->at_ms = now;
    if (r->tokens < 1)
        return (unsigned)ceil((1 - r->tokens) / k->rate_per_s);
    r->tokens -= 1;
    return 0;
}

/* What can be said of the key without the broker: 0, or the status to
 * answer with (why, and retry_after for a 429 or 503). */
static unsigned key_check(struct gw *g, struct gw_stream *s, const char *auth, char *why,
                          size_t size, unsigned *retry_after)
{
    struct af_key_claims k;
    struct af_error err;
    unsigned status = 0;

    *retry_after = 0;
    if (!auth || strncasecmp(auth, KEY_PREFIX, strlen(KEY_PREFIX)) ||
        strlen(auth) - strlen(KEY_PREFIX) >= sizeof(s->key)) {
        snprintf(why, size,
                 "no key: send Authorization: Bearer KEY (aifedctl endpoint key "
                 "create)");
        return 401;
    }
    snprintf(s->key, sizeof(s->key), "%s", auth + strlen(KEY_PREFIX));
    pthread_mutex_lock(&g->mu);
    if (!g->have_pk) {
        snprintf(why, size, "the gateway has not reached the broker yet");
        *retry_after = 2;
        status = 503;
    } else if (af_key_verify(s->key, g->signing_pk, &k, &err) < 0) {
        snprintf(why, size, "the key is not valid here: %s", err.text);
        status = 401;
    } else if (k.not_after_ms <= af_now_ms()) {
        snprintf(why, size, "the key %s has expired", k.id);
        status = 401;
    } else if (*k.endpoint && strcmp(k.endpoint, s->endpoint)) {
        snprintf(why, size, "the key %s is for endpoint %s, not %s", k.id, k.endpoint,
                 s->endpoint);
        status = 403;
    } else if ((*retry_after = rate_wait(g, &k))) {
        snprintf(why, size, "the key %s is over its rate of %u requests a second", k.id,
                 k.rate_per_s);
        status = 429;
    }
    pthread_mutex_unlock(&g->mu);
    return status;
}

/* "/e/NAME" or "/e/NAME/REST": the endpoint's name and the path the
 * replica gets (REST and the query, "/" when none). 0, or -1. */
int gw_route(struct gw_stream *s, const char *uri)
{
    const char *name = uri + 3, *rest;
    size_t n;

    if (strncmp(uri, "/e/", 3))
        return -1;
    n = strcspn(name, "/?");
    if (!n || n > AF_WIRE_MAX_ENDPOINT_NAME)
        return -1;
    snprintf(s->endpoint, sizeof(s->endpoint), "%.*s", (int)n, name);
    if (!af_wire_endpoint_name_ok(s->endpoint))
        return -1;
    rest = name + n;
    /* Printable ASCII without spaces, as the wire takes a path. */
    for (const char *p = rest; *p; p++)
        if (*p <= ' ' || *p > '~')
            return -1;
    if (asprintf(&s->path, "%s%s", *rest == '/' ? "" : "/", rest) < 0) {
        s->path = NULL;
        return -1;
    }
    return strlen(s->path) > AF_WIRE_MAX_HEADER ? -1 : 0;
}

static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct gw_stream *s = cls;
    static const char *const skip[] = {"authorization",
                                       "host",
                                       "connection",
                                       "keep-alive",
                                       "transfer-encoding",
                                       "te",
                                       "upgrade",
                                       "content-length",
                                       "expect",
                                       "proxy-authorization"};

    (void)kind;
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        if (!strcasecmp(key, skip[i]))
            return MHD_YES;
    /* What the wire would refuse is left out (a name that is not a token,
     * a value too long or with a control character). */
    if (s->n_req == AF_WIRE_MAX_HEADERS || !*key || strlen(key) > 256 ||
        strspn(key, TOKEN_CHARS) != strlen(key) || strlen(value) > AF_WIRE_MAX_HEADER)
        return MHD_YES;
    for (const char *p = value; *p; p++)
        if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f)
            return MHD_YES;
    s->req[s->n_req].name = strdup(key);
    s->req[s->n_req].value = strdup(value);
    if (s->req[s->n_req].name && s->req[s->n_req].value)
        s->n_req++;
    else {
        free(s->req[s->n_req].name);
        free(s->req[s->n_req].value);
    }
    return MHD_YES;
}

/* The MHD URI logger: every request's stream, made as soon as its URI is
 * read. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct gw *g = cls;
    struct gw_stream *s = calloc(1, sizeof(*s));

    (void)c;
    if (!s)
        return NULL;
    s->refs = 1; /* the HTTPS side's */
    s->g = g;
    if (gw_route(s, uri) < 0)
        s->endpoint[0] = '\0';
    pthread_mutex_lock(&g->mu);
    s->id = ++g->next_id;
    HASH_ADD(hh, g->by_id, id, sizeof(s->id), s);
    g->n_streams++;
    pthread_mutex_unlock(&g->mu);
    return s;
}

/* The body, as the broker side puts it in; nothing there: suspended until
 * it is. */
static ssize_t on_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct gw_stream *s = cls;
    ssize_t n;

    (void)pos;
    pthread_mutex_lock(&s->g->mu);
    if (s->len > s->off) {
        n = (ssize_t)(s->len - s->off < max ? s->len - s->off : max);
        memcpy(buf, s->data + s->off, (size_t)n);
        s->off += (size_t)n;
        if (s->off == s->len)
            s->off = s->len = 0;
    } else if (s->ended) {
        n = s->failed ? MHD_CONTENT_READER_END_WITH_ERROR
                      : MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        s->suspended = true;
        MHD_suspend_connection(s->conn);
        n = 0;
    }
    pthread_mutex_unlock(&s->g->mu);
    return n;
}

/* The replica's answer: its status and headers, its body streamed. Under
 * g->mu (released before it is queued). */
static enum MHD_Result answer(struct gw_stream *s, struct MHD_Connection *c)
{
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, PIECE_MAX, on_read, s, NULL);
    unsigned status = s->status;
    enum MHD_Result rc;

    if (!r) {
        pthread_mutex_unlock(&s->g->mu);
        return MHD_NO;
    }
    for (size_t i = 0; i < s->n_resp; i++)
        MHD_add_response_header(r, s->resp[i].name, s->resp[i].value);
    if (*s->site)
        MHD_add_response_header(r, "X-Aifed-Site", s->site);
    pthread_mutex_unlock(&s->g->mu);
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* The first call for a request: where it goes, and its key. MHD_YES to
 * read on, or a refusal queued. */
static enum MHD_Result begin(struct gw *g, struct gw_stream *s, struct MHD_Connection *c,
                             const char *url, const char *method)
{
    char why[AF_WIRE_MAX_TEXT];
    unsigned status, retry;

    if (!strcmp(url, "/healthz")) {
        struct MHD_Response *r =
            MHD_create_response_from_buffer(3, (void *)"ok\n", MHD_RESPMEM_PERSISTENT);
        enum MHD_Result rc = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return rc;
    }
    if (!*s->endpoint || !s->path)
        return problem(c, 404, 0,
                       "not an endpoint's path: the gateway serves /e/NAME/...");
    if (strlen(method) >= sizeof(s->method) ||
        strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(method))
        return problem(c, 405, 0, "not an HTTP method the gateway passes on");
    snprintf(s->method, sizeof(s->method), "%s", method);
    if ((status = key_check(
             g, s, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"), why,
             sizeof(why), &retry)))
        return problem(c, status, retry, why);
    MHD_get_connection_values(c, MHD_HEADER_KIND, copy_header, s);
    s->conn = c;
    return MHD_YES;
}

static int body_add(struct gw *g, struct gw_stream *s, const char *data, size_t len)
{
    uint8_t *grown;

    if (s->too_big || s->body_len + len > g->conf->max_body) {
        s->too_big = true;
        return 0;
    }
    if (!(grown = realloc(s->body, s->body_len + len)))
        return -1;
    s->body = grown;
    memcpy(s->body + s->body_len, data, len);
    s->body_len += len;
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    struct gw *g = cls;
    struct gw_stream *s = *con_cls;
    enum MHD_Result rc;

    (void)version;
    if (!s)
        return problem(c, 503, 1, "the gateway is out of memory");
    if (!s->begun) {
        s->begun = true;
        return begin(g, s, c, url, method);
    }
    if (*upload_size) {
        if (body_add(g, s, upload, *upload_size) < 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (s->too_big)
        return problem(c, 413, 0, "the request's body is larger than the gateway takes");
    pthread_mutex_lock(&g->mu);
    if (!s->handed && gw_hand_over(g, s) < 0) {
        pthread_mutex_unlock(&g->mu);
        return problem(c, 503, 1, "the gateway has too many requests waiting to be sent");
    }
    if (!s->head && !g->stopping) { /* woken before its answer came: wait on */
        s->suspended = true;
        MHD_suspend_connection(c);
        pthread_mutex_unlock(&g->mu);
        return MHD_YES;
    }
    if (s->n_resp || !*s->error) /* the replica's answer */
        return answer(s, c);
    {
        char why[AF_WIRE_MAX_TEXT + 1];
        unsigned status = s->status ? s->status : 502, retry = s->retry_after_s;
        snprintf(why, sizeof(why), "%s", s->error);
        pthread_mutex_unlock(&g->mu);
        rc = problem(c, status, retry, why);
    }
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct gw *g = cls;
    struct gw_stream *s = *con_cls;

    (void)c;
    (void)toe;
    if (!s)
        return;
    pthread_mutex_lock(&g->mu);
    s->gone = true;
    s->conn = NULL;
    if (s->handed && !s->ended)
        gw_client_left(g, s);
    gw_stream_unref(g, s);
    pthread_mutex_unlock(&g->mu);
    *con_cls = NULL;
}

/* HOST:PORT (an IPv4 address) into addr. */
static int listen_addr(const char *listen, struct sockaddr_in *addr, struct af_error *err)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    unsigned long port;
    char *end;

    if (!colon || (size_t)(colon - listen) >= sizeof(host))
        return af_error_set(err, "listen = %s is not HOST:PORT", listen);
    snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
    port = strtoul(colon + 1, &end, 10);
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (*end || port > 65535 || inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return af_error_set(err, "listen = %s is not an IPv4 HOST:PORT", listen);
    return 0;
}

int gw_http_start(struct gw *g, struct af_error *err)
{
    const struct gconf *c = g->conf;
    struct sockaddr_in addr;
    const union MHD_DaemonInfo *info;

    if (listen_addr(c->listen, &addr, err) < 0)
        return -1;
    g->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_TLS | MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, g, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_HTTPS_MEM_CERT, g->tls_cert, MHD_OPTION_HTTPS_MEM_KEY, g->tls_key,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, g, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        g, MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(c->connection_timeout_ms / 1000),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024), MHD_OPTION_END);
    if (!g->mhd)
        return af_error_set(err,
                            "cannot serve HTTPS on %s (the address, or the "
                            "certificate and key)",
                            c->listen);
    info = MHD_get_daemon_info(g->mhd, MHD_DAEMON_INFO_BIND_PORT);
    log_info("serving HTTPS on %.*s:%u", (int)(strrchr(c->listen, ':') - c->listen),
             c->listen, info ? info->port : 0);
    return 0;
}

/* Every open request ends (503 if it had no answer yet), and the waiting
 * ones are resumed to say so: MHD may not stop with one suspended. true
 * while some connection is still open. Under g->mu. */
static bool end_all(struct gw *g)
{
    struct gw_stream *s, *tmp;
    bool open = false;

    HASH_ITER(hh, g->by_id, s, tmp)
    {
        if (!s->conn)
            continue;
        open = true;
        if (!s->head) {
            s->status = 503;
            s->retry_after_s = 1;
            snprintf(s->error, sizeof(s->error), "the gateway is stopping");
            s->head = true;
        }
        if (!s->ended)
            s->ended = s->failed = true;
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->conn);
        }
    }
    return open;
}

void gw_http_stop(struct gw *g)
{
    bool open = true;

    if (!g->mhd)
        return;
    for (int i = 0; i < 100 && open; i++) { /* at most a second */
        pthread_mutex_lock(&g->mu);
        g->stopping = true;
        open = end_all(g);
        pthread_mutex_unlock(&g->mu);
        if (open)
            usleep(10000);
    }
    MHD_stop_daemon(g->mhd);
    g->mhd = NULL;
}
