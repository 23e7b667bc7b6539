/* SPDX-License-Identifier: Apache-2.0 */
#include "peers.h"
#include "af_zsock.h"

#include "uthash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* A connection: its key is the side and the routing id. */
struct conn_key {
    int side;
    size_t rid_len;
    uint8_t rid[AF_ZSOCK_RID_MAX];
};

/* A message waiting for its connection. */
struct waiting {
    struct waiting *next;
    size_t len;
    uint8_t data[];
};

struct conn {
    struct conn_key key;
    size_t principal;
    int fd;
    int64_t heard_ms;
    struct waiting *head, *tail;
    uint64_t queued; /* bytes */
    UT_hash_handle hh;
};

/* How many connections a principal is served on. */
struct principal_count {
    size_t principal;
    size_t n;
    UT_hash_handle hh;
};

struct peers {
    struct conn *conns;
    struct principal_count *counts;
    size_t n;
    size_t n_waiting; /* connections with something queued */
    uint64_t bytes;   /* queued in all */
    peers_send_fn send;
    void *arg;
};

static const uint64_t budget[2] = {PEERS_BUDGET_CLIENT, PEERS_BUDGET_AGENT};

struct peers *peers_create(peers_send_fn send, void *arg)
{
    struct peers *p = calloc(1, sizeof(*p));

    if (p) {
        p->send = send;
        p->arg = arg;
    }
    return p;
}

static void count_add(struct peers *p, size_t principal, int by)
{
    struct principal_count *c;

    HASH_FIND(hh, p->counts, &principal, sizeof(principal), c);
    if (!c && by > 0) {
        if (!(c = calloc(1, sizeof(*c))))
            return; /* uncounted: the other bounds still hold */
        c->principal = principal;
        HASH_ADD(hh, p->counts, principal, sizeof(c->principal), c);
    }
    if (!c)
        return;
    c->n = by < 0 && c->n == 0 ? 0 : c->n + (size_t)(ssize_t)by;
    if (c->n == 0) {
        HASH_DEL(p->counts, c);
        free(c);
    }
}

static size_t count_of(const struct peers *p, size_t principal)
{
    struct principal_count *c;

    HASH_FIND(hh, p->counts, &principal, sizeof(principal), c);
    return c ? c->n : 0;
}

/* Drop what waits for c. */
static void unqueue(struct peers *p, struct conn *c)
{
    while (c->head) {
        struct waiting *w = c->head;

        c->head = w->next;
        free(w);
    }
    if (c->queued)
        p->n_waiting--;
    p->bytes -= c->queued;
    c->tail = NULL;
    c->queued = 0;
}

static void forget(struct peers *p, struct conn *c)
{
    unqueue(p, c);
    count_add(p, c->principal, -1);
    HASH_DEL(p->conns, c);
    free(c);
    p->n--;
}

void peers_destroy(struct peers *p)
{
    struct conn *c, *tc;

    if (!p)
        return;
    /* Each count goes with its principal's last connection. (NOLINT: the
     * analyzer does not follow uthash's bookkeeping, as in af_zguard.) */
    HASH_ITER(hh, p->conns, c, tc) // NOLINT(clang-analyzer-unix.Malloc)
    {
        forget(p, c); // NOLINT(clang-analyzer-unix.Malloc)
    }
    free(p);
}

static struct conn *find(const struct peers *p, int side, const uint8_t *rid,
                         size_t rid_len)
{
    struct conn_key key;
    struct conn *c;

    if (rid_len > sizeof(key.rid))
        return NULL;
    memset(&key, 0, sizeof(key));
    key.side = side;
    key.rid_len = rid_len;
    memcpy(key.rid, rid, rid_len);
    HASH_FIND(hh, p->conns, &key, sizeof(key), c);
    return c;
}

/* A connection not known yet, of principal, counted; NULL when the table
 * is full or memory is short. */
static struct conn *add(struct peers *p, int side, size_t principal, const uint8_t *rid,
                        size_t rid_len, int fd, int64_t now_ms)
{
    struct conn *c;

    if (p->n >= PEERS_MAX || rid_len > sizeof(c->key.rid) || !(c = calloc(1, sizeof(*c))))
        return NULL;
    c->key.side = side;
    c->key.rid_len = rid_len;
    memcpy(c->key.rid, rid, rid_len);
    c->principal = principal;
    c->fd = fd;
    c->heard_ms = now_ms;
    HASH_ADD(hh, p->conns, key, sizeof(c->key), c);
    p->n++;
    count_add(p, principal, 1);
    return c;
}

int peers_admit(struct peers *p, int side, size_t principal, const uint8_t *rid,
                size_t rid_len, int fd, int64_t now_ms, size_t max_per_principal)
{
    struct conn *c = find(p, side, rid, rid_len);

    if (!c) {
        if (count_of(p, principal) >= max_per_principal) {
            errno = EMLINK;
            return -1;
        }
        add(p, side, principal, rid, rid_len, fd, now_ms);
        return 0;
    }
    c->heard_ms = now_ms;
    if (fd >= 0)
        c->fd = fd;
    if (c->queued > budget[side & 1]) {
        errno = EAGAIN;
        return -1;
    }
    return 0;
}

/* Send what waits for c, in order, as far as libzmq takes it: 0 when all
 * left or it filled up; -1 when the peer is gone (all dropped). */
static int drain(struct peers *p, struct conn *c)
{
    while (c->head) {
        struct waiting *w = c->head;

        if (p->send(c->key.side, c->key.rid, c->key.rid_len, w->data, w->len, p->arg) <
            0) {
            if (errno == EAGAIN)
                return 0;
            unqueue(p, c);
            return -1;
        }
        c->head = w->next;
        if (!c->head)
            c->tail = NULL;
        c->queued -= w->len;
        p->bytes -= w->len;
        if (!c->queued)
            p->n_waiting--;
        free(w);
    }
    return 0;
}

static int enqueue(struct peers *p, struct conn *c, const void *buf, size_t len)
{
    struct waiting *w = malloc(sizeof(*w) + len);

    if (!w)
        return -1;
    w->next = NULL;
    w->len = len;
    memcpy(w->data, buf, len);
    if (c->tail)
        c->tail->next = w;
    else
        c->head = w;
    c->tail = w;
    if (!c->queued)
        p->n_waiting++;
    c->queued += len;
    p->bytes += len;
    return 1;
}

int peers_send(struct peers *p, int side, const uint8_t *rid, size_t rid_len,
               const void *buf, size_t len)
{
    struct conn *c = find(p, side, rid, rid_len);

    if (c && c->head && drain(p, c) < 0)
        return -1;
    if (c && c->head) /* still waiting: this one goes after them */
        return enqueue(p, c, buf, len);
    if (p->send(side, rid, rid_len, buf, len, p->arg) == 0)
        return 0;
    /* A connection never heard from (the table was full) cannot wait. */
    return errno == EAGAIN && c ? enqueue(p, c, buf, len) : -1;
}

void peers_flush(struct peers *p)
{
    struct conn *c, *tc;

    if (!p->n_waiting)
        return;
    HASH_ITER(hh, p->conns, c, tc)
    {
        if (c->head)
            drain(p, c);
    }
}

bool peers_waiting(const struct peers *p)
{
    return p->n_waiting > 0;
}

uint64_t peers_waiting_bytes(const struct peers *p)
{
    return p->bytes;
}

void peers_closed(struct peers *p, int side, int fd)
{
    struct conn *c, *tc;

    if (fd < 0)
        return;
    HASH_ITER(hh, p->conns, c, tc)
    {
        if (c->key.side == side && c->fd == fd)
            forget(p, c);
    }
}

void peers_sweep(struct peers *p, int64_t now_ms)
{
    struct conn *c, *tc;

    HASH_ITER(hh, p->conns, c, tc)
    {
        if (!c->head && now_ms - c->heard_ms > PEERS_IDLE_MS)
            forget(p, c);
    }
}

size_t peers_count(const struct peers *p)
{
    return p->n;
}
