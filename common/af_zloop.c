/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_zloop: see the header for why there are four handles. The poll handle
 * only wakes the loop; the prepare handle decides, just before the loop would
 * block, whether it may (idle running means "do not block"); the check handle
 * reads, right after the loop wakes.
 */
#include "af_zloop.h"

#include <errno.h>
#include <stdlib.h>
#include <zmq.h>

#define ZLOOP_BATCH 256

struct af_zloop {
    void *sock;
    af_zloop_fn on_readable;
    af_zloop_fn on_batch_end;
    void *arg;
    uv_poll_t poll;
    uv_prepare_t prepare;
    uv_check_t check;
    uv_idle_t idle;
    int open_handles;
};

static int zloop_readable(struct af_zloop *zl)
{
    int events = 0;
    size_t len = sizeof(events);

    if (zmq_getsockopt(zl->sock, ZMQ_EVENTS, &events, &len) != 0)
        return 0;
    return events & ZMQ_POLLIN;
}

static void zloop_drain(struct af_zloop *zl)
{
    int n = 0;

    while (n < ZLOOP_BATCH && zloop_readable(zl)) {
        zl->on_readable(zl->sock, zl->arg);
        n++;
    }
    if (n > 0 && zl->on_batch_end)
        zl->on_batch_end(zl->sock, zl->arg);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    zloop_drain(h->data);
}

/* Running at all is the point: an active idle handle makes the loop poll
 * with a zero timeout, so the check handle gets to read. */
static void on_idle(uv_idle_t *h)
{
    (void)h;
}

static void on_prepare(uv_prepare_t *h)
{
    struct af_zloop *zl = h->data;

    if (zloop_readable(zl))
        uv_idle_start(&zl->idle, on_idle);
    else
        uv_idle_stop(&zl->idle);
}

static void on_check(uv_check_t *h)
{
    zloop_drain(h->data);
}

static void on_close(uv_handle_t *h)
{
    struct af_zloop *zl = h->data;

    if (--zl->open_handles == 0)
        free(zl);
}

struct af_zloop *af_zloop_create(uv_loop_t *loop, void *sock, af_zloop_fn on_readable,
                                 af_zloop_fn on_batch_end, void *arg)
{
    struct af_zloop *zl = calloc(1, sizeof(*zl));
    int fd;
    size_t len = sizeof(fd);

    if (!zl)
        return NULL;
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) != 0) {
        free(zl);
        return NULL;
    }
    zl->sock = sock;
    zl->on_readable = on_readable;
    zl->on_batch_end = on_batch_end;
    zl->arg = arg;
    if (uv_poll_init(loop, &zl->poll, fd) != 0) {
        free(zl);
        errno = EINVAL;
        return NULL;
    }
    uv_prepare_init(loop, &zl->prepare);
    uv_check_init(loop, &zl->check);
    uv_idle_init(loop, &zl->idle);
    zl->poll.data = zl->prepare.data = zl->check.data = zl->idle.data = zl;
    zl->open_handles = 4;
    uv_poll_start(&zl->poll, UV_READABLE, on_poll);
    uv_prepare_start(&zl->prepare, on_prepare);
    uv_check_start(&zl->check, on_check);
    return zl;
}

void af_zloop_destroy(struct af_zloop *zl)
{
    if (!zl)
        return;
    uv_close((uv_handle_t *)&zl->poll, on_close);
    uv_close((uv_handle_t *)&zl->prepare, on_close);
    uv_close((uv_handle_t *)&zl->check, on_close);
    uv_close((uv_handle_t *)&zl->idle, on_close);
}
