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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_rate),
        cmocka_unit_test(clock_backwards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
