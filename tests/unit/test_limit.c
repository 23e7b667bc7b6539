/* SPDX-License-Identifier: Apache-2.0 */
/* limit: a burst, then the rate; a clock going backwards refills nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "limit.h"

static void burst_then_rate(void **state)
{
    struct limit_bucket b = {0};
    int taken = 0;

    (void)state;
    for (int i = 0; i < 100; i++)
        taken += limit_take(&b, 1000, 10, 20);
    assert_int_equal(taken, 20);                /* the burst, all at once */
    assert_false(limit_take(&b, 1050, 10, 20)); /* 50 ms at 10/s: half a token */
    assert_true(limit_take(&b, 1100, 10, 20));  /* 100 ms: one */
    assert_false(limit_take(&b, 1100, 10, 20));
    taken = 0;
    for (int64_t t = 2000; t < 12000; t += 10) /* 10 s at 100 tries a second */
        taken += limit_take(&b, t, 10, 20);
    assert_true(taken >= 100 &&
                taken <= 121); /* about the rate, plus the refilled burst */
}

static void clock_backwards(void **state)
{
    struct limit_bucket b = {0};

    (void)state;
    assert_true(limit_take(&b, 5000, 1, 1));
    assert_false(limit_take(&b, 1000, 1, 1));
    assert_false(limit_take(&b, 4900, 1, 1)); /* still before the last take */
    assert_true(limit_take(&b, 6000, 1, 1));  /* a second after it */
}

/* A refusal says when asking again is taken: after that wait, a token. */
static void wait_is_when_a_token_is_back(void **state)
{
    struct limit_bucket b = {0};
    uint32_t w;

    (void)state;
    assert_true(limit_take(&b, 1000, 10, 1));
    assert_false(limit_take(&b, 1020, 10, 1));
    w = limit_wait_ms(&b, 10); /* 0.2 of a token: 80 ms more at 10/s */
    assert_true(w >= 80 && w <= 82);
    assert_false(limit_take(&b, 1020 + w - 2, 10, 1));
    assert_true(limit_take(&b, 1020 + (int64_t)w, 10, 1));
    assert_int_equal(limit_wait_ms(&(struct limit_bucket){.tokens = 0}, 0.001), 60000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_rate),
        cmocka_unit_test(clock_backwards),
        cmocka_unit_test(wait_is_when_a_token_is_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
