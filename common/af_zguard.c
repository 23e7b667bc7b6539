/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_zguard: the waiting connections live in a uthash keyed by descriptor,
 * whose iteration order is insertion order: the oldest come first, and
 * shedding the oldest is a walk from the front.
 *
 * A descriptor number is reused once libzmq closes it, and the monitor's
 * events arrive after the fact; so before shutting a connection down the
 * guard checks that the descriptor still leads to the peer it accepted.
 *
 * The NOLINT marks: clang's analyzer does not follow uthash's bookkeeping
 * through a delete inside HASH_ITER (the idiom uthash documents) and reports
 * a use after free on each.
 */
#include "af_zguard.h"
#include "af_log.h"
#include "af_zsock.h"

#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <uthash.h>
#include <zmq.h>

/* Events one read takes, so that a flood of them cannot hold the loop. */
#define READ_MAX 4096
/* Events the monitor queues before libzmq's I/O thread waits for us. */
#define MONITOR_HWM 100000

struct conn {
    int fd;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    UT_hash_handle hh;
};

struct af_zguard {
    void *sock, *mon;
    char name[32];
    size_t max;
    struct conn *conns; /* waiting, oldest first */
    size_t n;
    uint64_t shed, logged;
    af_zguard_close_fn on_close; /* told of each connection that closed */
    void *on_close_arg;
};

struct af_zguard *af_zguard_create(void *zctx, void *sock, const char *name,
                                   size_t max_waiting, struct af_error *err)
{
    struct af_zguard *g = calloc(1, sizeof(*g));
    char ep[64];
    int hwm = MONITOR_HWM, linger = 0;

    if (!g) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    g->sock = sock;
    g->max = max_waiting;
    snprintf(g->name, sizeof(g->name), "%s", name);
    snprintf(ep, sizeof(ep), "inproc://zguard-%p", (void *)g);
    if (zmq_socket_monitor(
            sock, ep, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED)) {
        af_error_set(err, "monitor: %s", zmq_strerror(errno));
        free(g);
        return NULL;
    }
    if (!(g->mon = zmq_socket(zctx, ZMQ_PAIR)) ||
        zmq_setsockopt(g->mon, ZMQ_RCVHWM, &hwm, sizeof(hwm)) ||
        zmq_setsockopt(g->mon, ZMQ_LINGER, &linger, sizeof(linger)) ||
        zmq_connect(g->mon, ep)) {
        af_error_set(err, "monitor: %s", zmq_strerror(errno));
        af_zguard_destroy(g);
        return NULL;
    }
    return g;
}

static void forget(struct af_zguard *g, struct conn *c)
{
    HASH_DEL(g->conns, c);
    free(c);
    g->n--;
}

void af_zguard_destroy(struct af_zguard *g)
{
    struct conn *c, *tmp;

    if (!g)
        return;
    HASH_ITER(hh, g->conns, c, tmp) // NOLINT(clang-analyzer-unix.Malloc)
    {
        HASH_DEL(g->conns, c); // NOLINT(clang-analyzer-unix.Malloc)
        free(c);
    }
    if (g->mon) {
        zmq_socket_monitor(g->sock, NULL, 0);
        zmq_close(g->mon);
    }
    free(g);
}

void *af_zguard_socket(struct af_zguard *g)
{
    return g->mon;
}

uint64_t af_zguard_shed(const struct af_zguard *g)
{
    return g->shed;
}

size_t af_zguard_waiting(const struct af_zguard *g)
{
    return g->n;
}

void af_zguard_set_max(struct af_zguard *g, size_t max_waiting)
{
    g->max = max_waiting;
}

void af_zguard_on_close(struct af_zguard *g, af_zguard_close_fn fn, void *arg)
{
    g->on_close = fn;
    g->on_close_arg = arg;
}

static void accepted(struct af_zguard *g, int fd)
{
    struct conn *c;

    HASH_FIND_INT(g->conns, &fd, c);
    if (c) /* the descriptor of one whose close we have not heard yet */
        forget(g, c);
    if (!(c = calloc(1, sizeof(*c))))
        return; /* untracked: ZMQ_HANDSHAKE_IVL still bounds it */
    c->fd = fd;
    c->peer_len = sizeof(c->peer);
    if (getpeername(fd, (struct sockaddr *)&c->peer, &c->peer_len) < 0 ||
        (c->peer.ss_family != AF_INET && c->peer.ss_family != AF_INET6)) {
        free(c); /* gone already, or not TCP */
        return;
    }
    HASH_ADD_INT(g->conns, fd, c);
    g->n++;
}

static void closed(struct af_zguard *g, int fd)
{
    struct conn *c;

    HASH_FIND_INT(g->conns, &fd, c);
    if (c)
        forget(g, c);
}

static bool read_one(struct af_zguard *g)
{
    uint16_t event;
    uint32_t value;

    if (!af_zsock_monitor_event(g->mon, &event, &value))
        return false;
    /* A descriptor accepted again was closed before, whether or not that
     * event came through the monitor's bounded queue. */
    if (g->on_close && event != 0)
        g->on_close((int)value, g->on_close_arg);
    if (event == ZMQ_EVENT_ACCEPTED)
        accepted(g, (int)value);
    else if (event == ZMQ_EVENT_DISCONNECTED || event == ZMQ_EVENT_CLOSED)
        closed(g, (int)value);
    return true;
}

/* Whether the peer has sent what a handshake takes (or is gone, which
 * libzmq will report). */
static bool proved(const struct conn *c)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    memset(&ti, 0, sizeof(ti));
    if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
        return true;
    return ti.tcpi_bytes_received >= AF_ZGUARD_PROOF;
}

static bool same_peer(const struct conn *c)
{
    struct sockaddr_storage now;
    socklen_t len = sizeof(now);

    return getpeername(c->fd, (struct sockaddr *)&now, &len) == 0 && len == c->peer_len &&
           !memcmp(&now, &c->peer, len);
}

static size_t bound(const struct af_zguard *g)
{
    struct rlimit rl;
    size_t half;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return g->max;
    half = (size_t)(rl.rlim_cur / 2);
    return half < g->max ? half : g->max;
}

/* Past the bound, the oldest waiting go; those that proved themselves
 * meanwhile are only forgotten. */
static void shed(struct af_zguard *g)
{
    size_t most = bound(g);
    struct conn *c, *tmp;

    HASH_ITER(hh, g->conns, c, tmp) // NOLINT(clang-analyzer-unix.Malloc)
    {
        if (g->n <= most)
            break;
        if (!proved(c) && same_peer(c) && shutdown(c->fd, SHUT_RDWR) == 0)
            g->shed++;
        HASH_DEL(g->conns, c); // NOLINT(clang-analyzer-unix.Malloc)
        free(c);
        g->n--;
    }
}

void af_zguard_read(struct af_zguard *g)
{
    for (int i = 0; i < READ_MAX && read_one(g); i++)
        ;
    shed(g);
}

void af_zguard_sweep(struct af_zguard *g)
{
    struct conn *c, *tmp;

    HASH_ITER(hh, g->conns, c, tmp) // NOLINT(clang-analyzer-unix.Malloc)
    {
        if (!proved(c))
            continue;
        HASH_DEL(g->conns, c); // NOLINT(clang-analyzer-unix.Malloc)
        free(c);
        g->n--;
    }
    shed(g);
    if (g->shed > g->logged) {
        log_warnx("%s socket: %llu connections shut down that had not finished a CURVE "
                  "handshake (at most %zu may wait at once; %llu since the start)",
                  g->name, (unsigned long long)(g->shed - g->logged), bound(g),
                  (unsigned long long)g->shed);
        g->logged = g->shed;
    }
}
