/* SPDX-License-Identifier: Apache-2.0 */
/* proc: output and status come back; a command that hangs is killed on time;
 * one that does not exist says so. */
#include "proc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void output_and_status(void **state)
{
    char *argv[] = {"sh", "-c", "echo out; echo err >&2; echo $AIFED_T; exit 3", NULL};
    char *env[] = {"AIFED_T=extra", NULL};
    struct proc_out o;
    struct af_error err;

    (void)state;
    assert_int_equal(proc_run(argv, env, 5000, 1024, &o, &err), 3);
    assert_string_equal(o.text, "out\nextra\n");
    assert_string_equal(o.err, "err\n");
    proc_out_free(&o);
}

static void output_is_bounded(void **state)
{
    char *argv[] = {"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x", NULL};
    struct proc_out o;
    struct af_error err;

    (void)state;
    assert_int_equal(proc_run(argv, NULL, 5000, 1000, &o, &err), 0);
    assert_int_equal(o.len, 1000);
    assert_int_equal(strlen(o.text), 1000);
    proc_out_free(&o);
}

/* The child and what it started (its process group) go at the limit. */
static void a_hang_is_killed(void **state)
{
    char *argv[] = {"sh", "-c", "sleep 30 & sleep 30", NULL};
    struct proc_out o;
    struct af_error err;
    double t0 = now_s();

    (void)state;
    assert_int_equal(proc_run(argv, NULL, 300, 1024, &o, &err), -1);
    assert_true(now_s() - t0 < 10);
    assert_string_equal(err.text, "sh: no answer within 300 ms (killed)");
    proc_out_free(&o);
}

static void missing_command(void **state)
{
    char *argv[] = {"/nonexistent/sinfo", "--json", NULL};
    struct proc_out o;
    struct af_error err;

    (void)state;
    assert_int_equal(proc_run(argv, NULL, 1000, 1024, &o, &err), -1);
    assert_string_equal(err.text,
                        "/nonexistent/sinfo: cannot run: No such file or directory");
    proc_out_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(output_and_status),
        cmocka_unit_test(output_is_bounded),
        cmocka_unit_test(a_hang_is_killed),
        cmocka_unit_test(missing_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
