/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_zloop: every message sent is read even though ZMQ_FD is edge-triggered
 * (the failure mode is a loop that sleeps with messages waiting), batches
 * end with on_batch_end, and destroy leaves no handle open.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "af_zloop.h"

#include <string.h>
#include <zmq.h>

#define N_MSGS 5000

struct ctx {
    uv_loop_t *loop;
    void *rx;
    struct af_zloop *zl;
    int received;
    int batches;
    uv_timer_t guard;
};

static void on_readable(void *sock, void *arg)
{
    struct ctx *c = arg;
    char buf[16];

    if (zmq_recv(sock, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0)
        c->received++;
}

static void on_batch_end(void *sock, void *arg)
{
    struct ctx *c = arg;

    (void)sock;
    c->batches++;
    if (c->received == N_MSGS) {
        af_zloop_destroy(c->zl);
        c->zl = NULL;
        uv_close((uv_handle_t *)&c->guard, NULL);
    }
}

/* A bound on the test, not a sleep: if messages were missed the loop would
 * otherwise wait for ever. */
static void on_guard(uv_timer_t *t)
{
    struct ctx *c = t->data;

    af_zloop_destroy(c->zl);
    c->zl = NULL;
    uv_close((uv_handle_t *)&c->guard, NULL);
}

static void every_message_is_read(void **state)
{
    void *zctx = zmq_ctx_new();
    void *rx = zmq_socket(zctx, ZMQ_PAIR), *tx = zmq_socket(zctx, ZMQ_PAIR);
    uv_loop_t loop;
    struct ctx c = {.loop = &loop, .rx = rx};
    int hwm = 0;

    (void)state;
    zmq_setsockopt(rx, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(tx, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    assert_int_equal(zmq_bind(rx, "inproc://zloop-test"), 0);
    assert_int_equal(zmq_connect(tx, "inproc://zloop-test"), 0);
    assert_int_equal(uv_loop_init(&loop), 0);
    c.zl = af_zloop_create(&loop, rx, on_readable, on_batch_end, &c);
    assert_non_null(c.zl);
    /* Everything is queued before the loop first runs: one edge at most. */
    for (int i = 0; i < N_MSGS; i++)
        assert_int_equal(zmq_send(tx, "x", 1, 0), 1);
    uv_timer_init(&loop, &c.guard);
    c.guard.data = &c;
    uv_timer_start(&c.guard, on_guard, 10000, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(c.received, N_MSGS);
    assert_true(c.batches >= N_MSGS / 256);
    assert_int_equal(uv_loop_close(&loop), 0);
    zmq_close(tx);
    zmq_close(rx);
    zmq_ctx_term(zctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_message_is_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
