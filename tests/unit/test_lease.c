/* SPDX-License-Identifier: Apache-2.0 */
/* lease: the state machine allows exactly the transitions of the design. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lease.h"

#include "aifed.pb-c.h"

#include <errno.h>

static void states_match_the_wire(void **state)
{
    (void)state;
    assert_int_equal(LEASE_PENDING, AIFED__LEASE_STATE__LEASE_PENDING);
    assert_int_equal(LEASE_ACTIVE, AIFED__LEASE_STATE__LEASE_ACTIVE);
    assert_int_equal(LEASE_RELEASED, AIFED__LEASE_STATE__LEASE_RELEASED);
    assert_int_equal(LEASE_EXPIRED, AIFED__LEASE_STATE__LEASE_EXPIRED);
    assert_int_equal(LEASE_FAILED, AIFED__LEASE_STATE__LEASE_FAILED);
    assert_int_equal(LEASE_REVOKED, AIFED__LEASE_STATE__LEASE_REVOKED);
    assert_int_equal(LEASE_LOST, AIFED__LEASE_STATE__LEASE_LOST);
    assert_int_equal(LEASE_SCHEDULED, AIFED__LEASE_STATE__LEASE_SCHEDULED);
}

static void transitions(void **state)
{
    (void)state;
    assert_int_equal(lease_next(LEASE_PENDING, LEASE_EV_HELD), LEASE_ACTIVE);
    assert_int_equal(lease_next(LEASE_PENDING, LEASE_EV_RELEASE), LEASE_RELEASED);
    assert_int_equal(lease_next(LEASE_PENDING, LEASE_EV_FAIL), LEASE_FAILED);
    assert_int_equal(lease_next(LEASE_ACTIVE, LEASE_EV_RELEASE), LEASE_RELEASED);
    assert_int_equal(lease_next(LEASE_ACTIVE, LEASE_EV_ENDED), LEASE_RELEASED);
    assert_int_equal(lease_next(LEASE_ACTIVE, LEASE_EV_EXPIRE), LEASE_EXPIRED);
    assert_int_equal(lease_next(LEASE_ACTIVE, LEASE_EV_RENEW), LEASE_ACTIVE);
    assert_int_equal(lease_next(LEASE_ACTIVE, LEASE_EV_REVOKE), LEASE_REVOKED);
    assert_int_equal(lease_next(LEASE_PENDING, LEASE_EV_REVOKE), LEASE_REVOKED);
    assert_int_equal(lease_next(LEASE_ACTIVE, LEASE_EV_LOST), LEASE_LOST);
    /* A hold not yet confirmed cannot be lost or renewed: the hold timeout
     * decides it. */
    assert_int_equal(lease_next(LEASE_PENDING, LEASE_EV_LOST), -1);
    assert_int_equal(lease_next(LEASE_PENDING, LEASE_EV_RENEW), -1);
    /* Nothing leaves a final state, and an ACTIVE lease cannot fail. */
    for (int s = LEASE_RELEASED; s <= LEASE_LOST; s++)
        for (int ev = LEASE_EV_HELD; ev <= LEASE_EV_START; ev++) {
            errno = 0;
            assert_int_equal(lease_next(s, (enum lease_event)ev), -1);
            assert_int_equal(errno, EINVAL);
        }
    assert_int_equal(lease_next(LEASE_ACTIVE, LEASE_EV_HELD), -1);
    assert_int_equal(lease_next(LEASE_ACTIVE, LEASE_EV_FAIL), -1);
    assert_int_equal(lease_next(0, LEASE_EV_HELD), -1);
}

/* A hold that starts later (--not-before): SCHEDULED until its time, then
 * ACTIVE; until then it ends, renews and is lost as an ACTIVE lease is, and
 * it is never held twice or started from anywhere else. */
static void scheduled(void **state)
{
    (void)state;
    assert_int_equal(lease_next(LEASE_PENDING, LEASE_EV_BOOKED), LEASE_SCHEDULED);
    assert_int_equal(lease_next(LEASE_SCHEDULED, LEASE_EV_START), LEASE_ACTIVE);
    assert_int_equal(lease_next(LEASE_SCHEDULED, LEASE_EV_RELEASE), LEASE_RELEASED);
    assert_int_equal(lease_next(LEASE_SCHEDULED, LEASE_EV_ENDED), LEASE_RELEASED);
    assert_int_equal(lease_next(LEASE_SCHEDULED, LEASE_EV_EXPIRE), LEASE_EXPIRED);
    assert_int_equal(lease_next(LEASE_SCHEDULED, LEASE_EV_RENEW), LEASE_SCHEDULED);
    assert_int_equal(lease_next(LEASE_SCHEDULED, LEASE_EV_REVOKE), LEASE_REVOKED);
    assert_int_equal(lease_next(LEASE_SCHEDULED, LEASE_EV_LOST), LEASE_LOST);
    assert_int_equal(lease_next(LEASE_SCHEDULED, LEASE_EV_HELD), -1);
    assert_int_equal(lease_next(LEASE_SCHEDULED, LEASE_EV_BOOKED), -1);
    assert_int_equal(lease_next(LEASE_SCHEDULED, LEASE_EV_FAIL), -1);
    assert_int_equal(lease_next(LEASE_ACTIVE, LEASE_EV_START), -1);
    assert_int_equal(lease_next(LEASE_PENDING, LEASE_EV_START), -1);
    assert_int_equal(lease_next(LEASE_ACTIVE, LEASE_EV_BOOKED), -1);
    assert_true(lease_is_open(LEASE_SCHEDULED));
    assert_string_equal(lease_state_name(LEASE_SCHEDULED), "SCHEDULED");
    assert_int_equal(lease_state_parse("scheduled"), LEASE_SCHEDULED);
    /* Released before it started: nothing used (activated_ms is the start). */
    assert_int_equal(lease_usage(4, 3600, 2000000, 1000000), 0);
    assert_int_equal(lease_usage(4, 3600, 2000000, 2010000), 40);
}

static void names(void **state)
{
    (void)state;
    assert_true(lease_is_open(LEASE_PENDING));
    assert_true(lease_is_open(LEASE_ACTIVE));
    assert_false(lease_is_open(LEASE_RELEASED));
    assert_string_equal(lease_state_name(LEASE_EXPIRED), "EXPIRED");
    assert_string_equal(lease_state_name(42), "UNKNOWN");
    assert_int_equal(lease_state_parse("active"), LEASE_ACTIVE);
    assert_int_equal(lease_state_parse("LOST"), LEASE_LOST);
    assert_string_equal(lease_state_name(LEASE_REVOKED), "REVOKED");
    assert_int_equal(lease_state_parse("nope"), -1);
}

/* Every ending: its final state and its usage; what does not end a lease
 * is refused. */
static void endings(void **state)
{
    struct lease_facts active = {LEASE_ACTIVE, 4, 3600, 1000000};
    struct lease_facts pending = {LEASE_PENDING, 4, 3600, 0};
    struct lease_ending e;

    (void)state;
    assert_int_equal(lease_end(&active, LEASE_EV_RELEASE, 1010000, 0, &e), 0);
    assert_int_equal(e.state, LEASE_RELEASED);
    assert_int_equal(e.used_gpu_s, 40);
    assert_int_equal(lease_end(&active, LEASE_EV_EXPIRE, 9000000, 0, &e), 0);
    assert_int_equal(e.state, LEASE_EXPIRED);
    assert_int_equal(e.used_gpu_s, 4 * 3600); /* never past the walltime */
    assert_int_equal(lease_end(&active, LEASE_EV_REVOKE, 1001000, 0, &e), 0);
    assert_int_equal(e.state, LEASE_REVOKED);
    assert_int_equal(e.used_gpu_s, 4);
    assert_int_equal(lease_end(&active, LEASE_EV_LOST, 1002000, 0, &e), 0);
    assert_int_equal(e.state, LEASE_LOST);
    assert_int_equal(e.used_gpu_s, 8);
    /* The site's own figure, capped at what the lease allowed. */
    assert_int_equal(lease_end(&active, LEASE_EV_ENDED, 1002000, 77, &e), 0);
    assert_int_equal(e.state, LEASE_RELEASED);
    assert_int_equal(e.used_gpu_s, 77);
    assert_int_equal(lease_end(&active, LEASE_EV_ENDED, 1002000, 1u << 30, &e), 0);
    assert_int_equal(e.used_gpu_s, 4 * 3600);
    /* Never held: nothing used. */
    assert_int_equal(lease_end(&pending, LEASE_EV_FAIL, 1002000, 0, &e), 0);
    assert_int_equal(e.state, LEASE_FAILED);
    assert_int_equal(e.used_gpu_s, 0);
    assert_int_equal(lease_end(&pending, LEASE_EV_RELEASE, 1002000, 0, &e), 0);
    assert_int_equal(e.used_gpu_s, 0);
    /* Not endings, or not from that state. */
    assert_int_equal(lease_end(&active, LEASE_EV_RENEW, 1002000, 0, &e), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(lease_end(&pending, LEASE_EV_HELD, 1002000, 0, &e), -1);
    assert_int_equal(lease_end(&pending, LEASE_EV_LOST, 1002000, 0, &e), -1);
    assert_int_equal(lease_end(&active, LEASE_EV_FAIL, 1002000, 0, &e), -1);
    active.state = LEASE_RELEASED;
    assert_int_equal(lease_end(&active, LEASE_EV_RELEASE, 1002000, 0, &e), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(states_match_the_wire),
        cmocka_unit_test(transitions),
        cmocka_unit_test(names),
        cmocka_unit_test(scheduled),
        cmocka_unit_test(endings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
