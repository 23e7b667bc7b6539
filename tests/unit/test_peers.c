/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peers, with a send function that takes what a test lets it: replies
 * wait in order while libzmq's queue is full and leave as it empties; a
 * connection over its budget is not served until it reads; a principal
 * is served on a bounded number of connections; a closed connection's
 * queue goes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "peers.h"

#include <errno.h>
#include <string.h>

/* How many more sends libzmq takes (-1: the peer is gone), and what it
 * took, in order: the first byte of each. */
static int room;
static uint8_t took[64];
static size_t n_took;

static int fake_send(int side, const uint8_t *rid, size_t rid_len, const void *buf,
                     size_t len, void *arg)
{
    (void)side, (void)rid, (void)rid_len, (void)len, (void)arg;
    if (room < 0) {
        errno = EHOSTUNREACH;
        return -1;
    }
    if (room == 0) {
        errno = EAGAIN;
        return -1;
    }
    room--;
    if (n_took < sizeof(took))
        took[n_took++] = *(const uint8_t *)buf;
    return 0;
}

static const uint8_t rid_a[] = {0, 1, 2, 3, 4}, rid_b[] = {0, 1, 2, 3, 5};

static void replies_wait_in_order_within_a_budget(void **state)
{
    struct peers *p = peers_create(fake_send, NULL);
    static uint8_t big[1 << 20];
    uint8_t one[1];

    (void)state;
    room = 1;
    n_took = 0;
    assert_int_equal(peers_admit(p, 0, 7, rid_a, sizeof(rid_a), 10, 0, 8), 0);
    for (uint8_t i = 1; i <= 3; i++) {
        one[0] = i;
        assert_int_equal(peers_send(p, 0, rid_a, sizeof(rid_a), one, 1), i == 1 ? 0 : 1);
    }
    assert_true(peers_waiting(p));
    assert_int_equal(peers_waiting_bytes(p), 2);
    room = 10;
    peers_flush(p);
    assert_false(peers_waiting(p));
    assert_int_equal(n_took, 3);
    assert_memory_equal(took, ((uint8_t[]){1, 2, 3}), 3);
    /* Past its budget it is not served until it reads. */
    room = 0;
    for (int i = 0; i < 5; i++)
        peers_send(p, 0, rid_a, sizeof(rid_a), big, sizeof(big));
    assert_int_equal(peers_admit(p, 0, 7, rid_a, sizeof(rid_a), 10, 1, 8), -1);
    assert_int_equal(errno, EAGAIN);
    room = 100;
    peers_flush(p);
    assert_int_equal(peers_admit(p, 0, 7, rid_a, sizeof(rid_a), 10, 2, 8), 0);
    /* Gone: what waits for it is dropped. */
    room = 0;
    peers_send(p, 0, rid_a, sizeof(rid_a), big, 10);
    room = -1;
    peers_flush(p);
    assert_false(peers_waiting(p));
    assert_int_equal(peers_waiting_bytes(p), 0);
    peers_destroy(p);
}

static void connections_per_principal(void **state)
{
    struct peers *p = peers_create(fake_send, NULL);
    uint8_t rid[5] = {0, 9, 9, 9, 0};

    (void)state;
    for (uint8_t i = 0; i < 3; i++) {
        rid[4] = i;
        assert_int_equal(peers_admit(p, 0, 7, rid, sizeof(rid), 20 + i, 0, 3), 0);
    }
    rid[4] = 3;
    assert_int_equal(peers_admit(p, 0, 7, rid, sizeof(rid), 23, 0, 3), -1);
    assert_int_equal(errno, EMLINK);
    /* Another principal is counted apart; the other socket is not. */
    assert_int_equal(peers_admit(p, 0, 8, rid_b, sizeof(rid_b), 30, 0, 3), 0);
    assert_int_equal(peers_admit(p, 1, 7, rid_b, sizeof(rid_b), 31, 0, 3), -1);
    /* One closes: the next is served. */
    peers_closed(p, 0, 21);
    assert_int_equal(peers_admit(p, 0, 7, rid, sizeof(rid), 23, 0, 3), 0);
    assert_int_equal(peers_count(p), 4);
    /* Idle ones are forgotten. */
    peers_sweep(p, PEERS_IDLE_MS + 1);
    assert_int_equal(peers_count(p), 0);
    peers_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replies_wait_in_order_within_a_budget),
        cmocka_unit_test(connections_per_principal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
