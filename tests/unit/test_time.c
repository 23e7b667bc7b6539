/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_time: the duration and time parsers against golden tables
 * (tests/unit/golden/{durations,times,relative}.expected): each line is an
 * input and what it must mean, or "refused". A new form is a new line.
 */
#include "af_time.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static const char *golden_dir;

/* Each "INPUT -> EXPECTED" line of name, to fn(input, expected): the number
 * of lines that did not match (each printed). */
static int each_line(const char *name, int (*fn)(const char *in, const char *want))
{
    char path[4096], line[512];
    int bad = 0, n = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", golden_dir, name);
    assert_non_null(f = fopen(path, "r"));
    while (fgets(line, sizeof(line), f)) {
        char *arrow = strstr(line, " -> ");
        if (line[0] == '#' || !arrow)
            continue;
        line[strcspn(line, "\n")] = '\0';
        *arrow = '\0';
        bad += fn(line, arrow + 4);
        n++;
    }
    fclose(f);
    assert_true(n > 0);
    return bad;
}

static void shown(char *buf, size_t size, int rc, uint64_t ms)
{
    if (rc < 0)
        snprintf(buf, size, "refused");
    else
        snprintf(buf, size, "%llu", (unsigned long long)ms);
}

static int one_duration(const char *in, const char *want)
{
    char got[96], m[40], s[40];
    uint64_t ms = 0;
    int rc;

    rc = af_duration_parse_bare(in, AF_BARE_MINUTES, &ms);
    shown(m, sizeof(m), rc, ms);
    if (rc < 0 && errno != EINVAL && errno != ERANGE)
        snprintf(m, sizeof(m), "refused with errno %d", errno);
    rc = af_duration_parse_bare(in, AF_BARE_SECONDS, &ms);
    shown(s, sizeof(s), rc, ms);
    snprintf(got, sizeof(got), "%s | %s", m, s);
    if (!strcmp(got, want))
        return 0;
    printf("duration '%s': got %s, want %s\n", in, got, want);
    return 1;
}

/* 2026-12-02T17:30:00Z */
#define NOW_MS 1796232600000LL

static int one_time(const char *in, const char *want)
{
    char got[64];
    int64_t ms;

    if (af_time_parse_user(in, NOW_MS, &ms) < 0)
        snprintf(got, sizeof(got), "refused");
    else
        af_time_format(ms, got, sizeof(got));
    if (!strcmp(got, want))
        return 0;
    printf("time '%s': got %s, want %s\n", in, got, want);
    return 1;
}

static int one_relative(const char *in, const char *want)
{
    char got[64];

    af_time_relative(NOW_MS + atoll(in) * 1000, NOW_MS, got, sizeof(got));
    if (!strcmp(got, want))
        return 0;
    printf("relative %s s: got %s, want %s\n", in, got, want);
    return 1;
}

static void durations(void **state)
{
    (void)state;
    assert_int_equal(each_line("durations.expected", one_duration), 0);
}

static void times(void **state)
{
    (void)state;
    assert_int_equal(each_line("times.expected", one_time), 0);
}

static void relative(void **state)
{
    (void)state;
    assert_int_equal(each_line("relative.expected", one_relative), 0);
}

/* On a terminal a time reads in the local zone, with how far it is. */
static void local_format(void **state)
{
    char buf[96];

    (void)state;
    af_time_format_local(NOW_MS + 7080 * 1000, NOW_MS, buf, sizeof(buf));
    assert_string_equal(buf, "2026-12-02 20:28 CET (in 1h58m)");
    af_time_format_local(0, NOW_MS, buf, sizeof(buf));
    assert_string_equal(buf, "-");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(durations),
        cmocka_unit_test(times),
        cmocka_unit_test(relative),
        cmocka_unit_test(local_format),
    };

    golden_dir = argc > 1 ? argv[1] : "tests/unit/golden";
    setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
    tzset();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
