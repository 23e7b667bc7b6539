/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_time: clocks and durations. Stored times are wall-clock epoch ms, because
 * they must mean the same thing after a restart and to every site.
 */
#include "af_time.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t af_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t af_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct {
    const char *suffix;
    uint64_t ms;
} units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1000},
};

int af_duration_parse(const char *s, uint64_t *ret_ms)
{
    uint64_t n = 0;
    const char *p = s;

    if (!s || *p < '0' || *p > '9') {
        errno = EINVAL;
        return -1;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (UINT64_MAX - 9) / 10) {
            errno = ERANGE;
            return -1;
        }
        n = n * 10 + (uint64_t)(*p - '0');
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].suffix) != 0)
            continue;
        if (n > UINT64_MAX / units[i].ms) {
            errno = ERANGE;
            return -1;
        }
        *ret_ms = n * units[i].ms;
        return 0;
    }
    errno = EINVAL;
    return -1;
}

void af_duration_format(uint64_t ms, char *buf, size_t size)
{
    /* Largest unit that divides exactly, so the output parses back the same. */
    static const struct {
        const char *suffix;
        uint64_t ms;
    } out[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};

    for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
        if (ms != 0 && ms % out[i].ms == 0) {
            snprintf(buf, size, "%llu%s", (unsigned long long)(ms / out[i].ms),
                     out[i].suffix);
            return;
        }
    }
    snprintf(buf, size, "%llums", (unsigned long long)ms);
}

void af_time_format(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0 || !gmtime_r(&t, &tm)) {
        snprintf(buf, size, "-");
        return;
    }
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int af_time_parse(const char *s, int64_t *ret_ms)
{
    static const char *const formats[] = {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ",
                                          "%Y-%m-%d"};

    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        struct tm tm;
        const char *end;

        memset(&tm, 0, sizeof(tm));
        end = strptime(s, formats[i], &tm);
        if (end && *end == '\0') {
            time_t t = timegm(&tm);
            if (t < 0)
                break;
            *ret_ms = (int64_t)t * 1000;
            return 0;
        }
    }
    errno = EINVAL;
    return -1;
}
