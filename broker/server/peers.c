/* SPDX-License-Identifier: Apache-2.0 */
#include "peers.h"
#include "af_zsock.h"

#include "uthash.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A connection: its key is the side and the routing id. */
struct conn_key {
    int side;
    size_t rid_len;
    uint8_t rid[AF_ZSOCK_RID_MAX];
};

struct conn {
    struct conn_key key;
    size_t principal;
    int fd;
    int64_t heard_ms, stalled_until_ms;
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
};

struct peers *peers_create(void)
{
    return calloc(1, sizeof(struct peers));
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

static void forget(struct peers *p, struct conn *c)
{
    count_add(p, c->principal, -1);
    HASH_DEL(p->conns, c);
    free(c);
    p->n--;
}

void peers_destroy(struct peers *p)
{
    struct conn *c, *tc;
    struct principal_count *k, *tk;

    if (!p)
        return;
    HASH_ITER(hh, p->conns, c, tc)
    {
        HASH_DEL(p->conns, c);
        free(c);
    }
    HASH_ITER(hh, p->counts, k, tk)
    {
        HASH_DEL(p->counts, k);
        free(k);
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

/* A connection not known yet, counted for principal; NULL when the table
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
    if (c->stalled_until_ms > now_ms) {
        errno = EAGAIN;
        return -1;
    }
    return 0;
}

void peers_stalled(struct peers *p, int side, const uint8_t *rid, size_t rid_len,
                   int64_t now_ms)
{
    struct conn *c = find(p, side, rid, rid_len);

    if (c)
        c->stalled_until_ms = now_ms + PEERS_STALL_MS;
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
        if (now_ms - c->heard_ms > PEERS_IDLE_MS)
            forget(p, c);
    }
}

size_t peers_count(const struct peers *p)
{
    return p->n;
}
