/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replicas: a replica is a struct replica in a uthash by job id; a probe
 * in flight is a struct probe, which outlives its replica when that is
 * forgotten meanwhile (rep is then NULL) and is freed when its last handle
 * closed and its name lookup returned.
 */
#include "replicas.h"
#include "af_ids.h"
#include "af_log.h"
#include "af_time.h"
#include "af_wire.h"

#include "aifed.pb-c.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uthash.h>

#define TICK_MS              1000
#define PROBE_EVERY_MS       2000
#define PROBE_TIMEOUT_MS     5000 /* when the service gives none */
#define FAILS_BEFORE_UNREADY 3

struct probe;

struct replica {
    char id[AF_ID_MAX + 1];
    char node[AF_WIRE_MAX_TEXT + 1];
    char path[AF_WIRE_MAX_PROBE_PATH + 1];
    uint32_t port;
    int64_t delay_ms, timeout_ms;
    int64_t running_since; /* monotonic; 0: not running */
    int64_t next_ms;       /* the next probe, monotonic */
    unsigned fails;
    bool ready;
    struct probe *probe; /* in flight */
    struct replicas *rs;
    UT_hash_handle hh;
};

struct replicas {
    uv_loop_t *loop;
    uv_timer_t tick;
    struct replica *by_id;
    size_t n;
    replicas_changed_fn changed;
    void *arg;
};

struct probe {
    struct replica *rep; /* NULL once its replica is forgotten */
    uv_getaddrinfo_t gai;
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_write_t wr;
    uv_timer_t timer;
    char req[AF_WIRE_MAX_PROBE_PATH + AF_WIRE_MAX_TEXT + 96];
    char buf[64];
    size_t got;
    int pending; /* callbacks still to come: lookup, closes */
    bool tcp_open, done;
};

static void probe_unref(struct probe *p)
{
    if (--p->pending == 0)
        free(p);
}

static void on_probe_closed(uv_handle_t *h)
{
    probe_unref(h->data);
}

/* The probe's answer: the replica learns it, the handles close. */
static void probe_done(struct probe *p, bool ok)
{
    struct replica *rep = p->rep;

    if (p->done)
        return;
    p->done = true;
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, on_probe_closed);
    if (p->tcp_open)
        uv_close((uv_handle_t *)&p->tcp, on_probe_closed);
    else
        uv_cancel((uv_req_t *)&p->gai); /* its callback still comes */
    if (!rep)
        return;
    rep->probe = NULL;
    rep->next_ms = af_mono_ms() + PROBE_EVERY_MS;
    if (ok) {
        rep->fails = 0;
        if (!rep->ready) {
            rep->ready = true;
            log_info("replica %s on %s:%u answers its probe: ready", rep->id, rep->node,
                     rep->port);
            rep->rs->changed(rep->id, rep->rs->arg);
        }
    } else if (rep->ready && ++rep->fails >= FAILS_BEFORE_UNREADY) {
        rep->ready = false;
        log_info("replica %s on %s:%u stopped answering its probe", rep->id, rep->node,
                 rep->port);
        rep->rs->changed(rep->id, rep->rs->arg);
    }
}

static void on_timeout(uv_timer_t *t)
{
    probe_done(t->data, false);
}

/* "HTTP/1.x 2.." is ready; anything else, or nothing, is not. */
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct probe *p = s->data;

    (void)buf;
    if (n > 0)
        p->got += (size_t)n;
    if (n < 0 || p->got >= 12) {
        p->buf[p->got < sizeof(p->buf) ? p->got : sizeof(p->buf) - 1] = '\0';
        probe_done(p, p->got >= 12 && !strncmp(p->buf, "HTTP/1.", 7) &&
                          p->buf[8] == ' ' && p->buf[9] == '2');
    }
}

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf)
{
    struct probe *p = h->data;

    (void)want;
    *buf = uv_buf_init(p->buf + p->got, (unsigned)(sizeof(p->buf) - 1 - p->got));
}

static void on_written(uv_write_t *w, int status)
{
    (void)w;
    (void)status; /* a failed write ends the read too */
}

static void on_connect(uv_connect_t *c, int status)
{
    struct probe *p = c->data;
    uv_buf_t b = uv_buf_init(p->req, (unsigned)strlen(p->req));

    if (p->done)
        return;
    if (status < 0 || uv_write(&p->wr, (uv_stream_t *)&p->tcp, &b, 1, on_written) < 0 ||
        uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) < 0)
        probe_done(p, false);
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *ai)
{
    struct probe *p = g->data;

    if (!p->done && status == 0 && ai && uv_tcp_init(g->loop, &p->tcp) == 0) {
        p->tcp_open = true;
        p->pending++;
        p->tcp.data = p;
        p->conn.data = p;
        if (uv_tcp_connect(&p->conn, &p->tcp, ai->ai_addr, on_connect) < 0)
            probe_done(p, false);
    } else {
        probe_done(p, false);
    }
    if (ai)
        uv_freeaddrinfo(ai);
    probe_unref(p);
}

static void probe_start(struct replicas *rs, struct replica *rep)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct probe *p = calloc(1, sizeof(*p));
    char port[8];

    rep->next_ms = af_mono_ms() + PROBE_EVERY_MS;
    if (!p)
        return;
    snprintf(p->req, sizeof(p->req),
             "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: aifed-agent probe\r\n"
             "Connection: close\r\n\r\n",
             rep->path, rep->node, rep->port);
    snprintf(port, sizeof(port), "%u", rep->port);
    p->rep = rep;
    p->gai.data = p;
    p->timer.data = p;
    uv_timer_init(rs->loop, &p->timer);
    p->pending = 2; /* the lookup's callback and the timer's close */
    if (uv_getaddrinfo(rs->loop, &p->gai, on_resolved, rep->node, port, &hints) < 0) {
        p->pending = 1;
        p->done = true;
        uv_close((uv_handle_t *)&p->timer, on_probe_closed);
        return;
    }
    uv_timer_start(&p->timer, on_timeout, (uint64_t)rep->timeout_ms, 0);
    rep->probe = p;
}

static void on_tick(uv_timer_t *t)
{
    struct replicas *rs = t->data;
    struct replica *rep, *tmp;
    int64_t now = af_mono_ms();

    HASH_ITER(hh, rs->by_id, rep, tmp)
    {
        if (rep->running_since && *rep->node && !rep->probe &&
            now - rep->running_since >= rep->delay_ms && now >= rep->next_ms)
            probe_start(rs, rep);
    }
}

struct replicas *replicas_create(uv_loop_t *loop, replicas_changed_fn changed, void *arg)
{
    struct replicas *rs = calloc(1, sizeof(*rs));

    if (!rs)
        return NULL;
    rs->loop = loop;
    rs->changed = changed;
    rs->arg = arg;
    uv_timer_init(loop, &rs->tick);
    rs->tick.data = rs;
    uv_timer_start(&rs->tick, on_tick, TICK_MS, TICK_MS);
    return rs;
}

static void forget(struct replicas *rs, struct replica *rep)
{
    if (rep->probe) {
        rep->probe->rep = NULL;
        probe_done(rep->probe, false);
    }
    HASH_DEL(rs->by_id, rep);
    rs->n--;
    free(rep);
}

static void on_tick_closed(uv_handle_t *h)
{
    free(h->data);
}

void replicas_destroy(struct replicas *rs)
{
    struct replica *rep, *tmp;

    if (!rs)
        return;
    // NOLINTBEGIN(clang-analyzer-unix.Malloc)
    HASH_ITER(hh, rs->by_id, rep, tmp)
    {
        forget(rs, rep);
    }
    // NOLINTEND(clang-analyzer-unix.Malloc)
    uv_timer_stop(&rs->tick);
    uv_close((uv_handle_t *)&rs->tick, on_tick_closed); /* frees rs */
}

/* A port free on this host now: the kernel's choice for a socket bound to
 * port 0. */
static int free_port(uint32_t *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = -1;

    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        *port = ntohs(a.sin_port);
        rc = 0;
    }
    close(fd);
    return rc;
}

int replicas_add(struct replicas *rs, const Aifed__Job *job, uint32_t *port)
{
    const Aifed__Service *sv = job->spec->service;
    struct replica *rep;

    HASH_FIND_STR(rs->by_id, job->id, rep);
    if (rep) {
        *port = rep->port;
        return 0;
    }
    if (rs->n >= REPLICAS_MAX) {
        errno = EMFILE;
        return -1;
    }
    if (!(rep = calloc(1, sizeof(*rep))))
        return -1;
    rep->port = sv->port;
    if (!rep->port && free_port(&rep->port) < 0) {
        free(rep);
        return -1;
    }
    snprintf(rep->id, sizeof(rep->id), "%s", job->id);
    snprintf(rep->path, sizeof(rep->path), "%s", *sv->probe_path ? sv->probe_path : "/");
    rep->delay_ms = (int64_t)sv->probe_delay_s * 1000;
    rep->timeout_ms =
        sv->probe_timeout_s ? (int64_t)sv->probe_timeout_s * 1000 : PROBE_TIMEOUT_MS;
    rep->rs = rs;
    HASH_ADD_STR(rs->by_id, id, rep);
    rs->n++;
    *port = rep->port;
    return 0;
}

void replicas_state(struct replicas *rs, const char *job_id, int state, const char *node)
{
    struct replica *rep;

    HASH_FIND_STR(rs->by_id, job_id, rep);
    if (!rep)
        return;
    if (state >= AIFED__JOB_STATE__JOB_COMPLETED) {
        forget(rs, rep);
        return;
    }
    if (node && *node)
        snprintf(rep->node, sizeof(rep->node), "%s", node);
    if (state == AIFED__JOB_STATE__JOB_RUNNING && !rep->running_since)
        rep->running_since = af_mono_ms();
}

bool replicas_get(const struct replicas *rs, const char *job_id, const char **node,
                  uint32_t *port, bool *ready)
{
    struct replica *rep;

    HASH_FIND_STR(rs->by_id, job_id, rep);
    if (!rep)
        return false;
    *node = rep->node;
    *port = rep->port;
    *ready = rep->ready;
    return true;
}

size_t replicas_count(const struct replicas *rs)
{
    return rs ? rs->n : 0;
}
