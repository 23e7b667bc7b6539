/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_time: clocks and durations. Stored times are wall-clock epoch ms, because
 * they must mean the same thing after a restart and to every site.
 */
#include "af_time.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A run of digits at *p into *n (advancing *p): false when there is none,
 * or errno ERANGE when it does not fit. */
static bool digits(const char **p, uint64_t *n)
{
    const char *q = *p;

    *n = 0;
    for (; *q >= '0' && *q <= '9'; q++) {
        if (*n > (UINT64_MAX - 9) / 10) {
            errno = ERANGE;
            return false;
        }
        *n = *n * 10 + (uint64_t)(*q - '0');
    }
    if (q == *p)
        return false;
    *p = q;
    return true;
}

/* *acc += n * unit, or false with errno ERANGE. */
static bool add_scaled(uint64_t *acc, uint64_t n, uint64_t unit)
{
    if (n > (UINT64_MAX - *acc) / unit) {
        errno = ERANGE;
        return false;
    }
    *acc += n * unit;
    return true;
}

/* Slurm's clock forms, as sbatch --time takes them: MM:SS, HH:MM:SS, D-HH,
 * D-HH:MM, D-HH:MM:SS (minutes and seconds below 60 after the first field,
 * hours below 24 after a day count). */
static int parse_clock(const char *s, uint64_t *ret_ms)
{
    uint64_t days = 0, f[3] = {0}, h = 0, m = 0, sec = 0, ms = 0;
    const char *p = s;
    bool with_days = strchr(s, '-') != NULL;
    size_t n = 0;

    if (with_days && (!digits(&p, &days) || *p++ != '-'))
        return -1;
    do {
        if (n == 3 || !digits(&p, &f[n++]))
            return -1;
    } while (*p == ':' && *++p);
    if (*p || (!with_days && n == 1))
        return -1;
    if (with_days) {
        h = f[0], m = f[1], sec = f[2];
        if (h >= 24)
            return -1;
    } else if (n == 2) {
        m = f[0], sec = f[1];
    } else {
        h = f[0], m = f[1], sec = f[2];
    }
    if ((n == 3 || (with_days && n == 2)) && m >= 60)
        return -1;
    if (sec >= 60)
        return -1;
    if (!add_scaled(&ms, days, 86400000) || !add_scaled(&ms, h, 3600000) ||
        !add_scaled(&ms, m, 60000) || !add_scaled(&ms, sec, 1000))
        return -1;
    *ret_ms = ms;
    return 0;
}

/* The units of a compound duration; rank is the order it must give them
 * in ("2d4h", "1h30m"). "ms" before "m", so that the longer one matches. */
static const struct {
    const char *suffix;
    uint64_t ms;
    int rank;
} units[] = {
    {"d", 86400000, 0}, {"h", 3600000, 1}, {"ms", 1, 4}, {"m", 60000, 2}, {"s", 1000, 3},
};

/* "90s", "1h30m", "2d4h", "500ms"; a bare number alone is bare_ms each. */
static int parse_compound(const char *s, uint64_t bare_ms, uint64_t *ret_ms)
{
    const char *p = s;
    uint64_t ms = 0, n;
    int last = -1;

    while (*p) {
        const char *start = p;
        size_t i;
        if (!digits(&p, &n))
            return -1;
        if (!*p) /* a bare number: alone it is bare_ms each, after a unit wrong */
            return start == s && add_scaled(&ms, n, bare_ms) ? (*ret_ms = ms, 0) : -1;
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (!strncmp(p, units[i].suffix, strlen(units[i].suffix)) &&
                (p[strlen(units[i].suffix)] < 'a' || p[strlen(units[i].suffix)] > 'z'))
                break;
        if (i == sizeof(units) / sizeof(units[0]) ||
            units[i].rank <= last) /* unknown, or out of order */
            return -1;
        last = units[i].rank;
        if (!add_scaled(&ms, n, units[i].ms))
            return -1;
        p += strlen(units[i].suffix);
    }
    *ret_ms = ms;
    return 0;
}

int af_duration_parse_bare(const char *s, enum af_bare bare, uint64_t *ret_ms)
{
    int rc;

    errno = 0;
    if (!s || *s < '0' || *s > '9' || s[strlen(s) - 1] == ':')
        rc = -1;
    else if (strchr(s, ':') || strchr(s, '-'))
        rc = parse_clock(s, ret_ms);
    else
        rc = parse_compound(s, bare == AF_BARE_MINUTES ? 60000 : 1000, ret_ms);
    if (rc < 0 && errno != ERANGE)
        errno = EINVAL;
    return rc;
}

int af_duration_parse(const char *s, uint64_t *ret_ms)
{
    return af_duration_parse_bare(s, AF_BARE_SECONDS, ret_ms);
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

/* "+02:00", "-0500", "+02" after a time: its offset east of UTC in seconds. */
static int parse_offset(const char *p, long *ret_s)
{
    int sign = *p == '+' ? 1 : *p == '-' ? -1 : 0;
    int hh, mm = 0, n = 0;

    if (!sign)
        return -1;
    if (!(sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) == 2 && !p[1 + n]) &&
        !(n = 0, sscanf(p + 1, "%2d%2d%n", &hh, &mm, &n) == 2 && !p[1 + n]) &&
        !(n = 0, mm = 0, sscanf(p + 1, "%2d%n", &hh, &n) == 1 && !p[1 + n]))
        return -1;
    if (hh > 14 || mm > 59)
        return -1;
    *ret_s = sign * (hh * 3600L + mm * 60L);
    return 0;
}

/* tm (its date and time filled) as local time, or UTC less offset_s. */
static int tm_to_ms(struct tm *tm, bool local, long offset_s, int64_t *ret_ms)
{
    time_t t;

    if (local) {
        tm->tm_isdst = -1;
        t = mktime(tm);
    } else {
        t = timegm(tm) - offset_s;
    }
    if (t < 0)
        return -1;
    *ret_ms = (int64_t)t * 1000;
    return 0;
}

/* YYYY-MM-DD[T ]HH:MM[:SS] and a zone (Z, an offset, or none: local), or a
 * date alone (local midnight). */
static int parse_calendar(const char *s, int64_t *ret_ms)
{
    static const char *const formats[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M",
                                          "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
                                          "%Y-%m-%d"};

    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        struct tm tm;
        const char *end;
        long off = 0;

        memset(&tm, 0, sizeof(tm));
        if (!(end = strptime(s, formats[i], &tm)))
            continue;
        if (!*end)
            return tm_to_ms(&tm, true, 0, ret_ms);
        if (!strcmp(end, "Z") || !strcmp(end, "z"))
            return tm_to_ms(&tm, false, 0, ret_ms);
        if (parse_offset(end, &off) == 0)
            return tm_to_ms(&tm, false, off, ret_ms);
    }
    return -1;
}

/* HH:MM[:SS] on the local day days after now's. */
static int parse_clock_time(const char *s, int64_t now_ms, int days, int64_t *ret_ms)
{
    time_t now = (time_t)(now_ms / 1000);
    struct tm tm, at;
    const char *end;

    if (!localtime_r(&now, &tm))
        return -1;
    memset(&at, 0, sizeof(at));
    if (!(end = strptime(s, "%H:%M:%S", &at)) || *end) {
        memset(&at, 0, sizeof(at));
        if (!(end = strptime(s, "%H:%M", &at)) || *end)
            return -1;
    }
    tm.tm_hour = at.tm_hour;
    tm.tm_min = at.tm_min;
    tm.tm_sec = at.tm_sec;
    tm.tm_mday += days; /* mktime carries it into the month */
    return tm_to_ms(&tm, true, 0, ret_ms);
}

int af_time_parse_user(const char *s, int64_t now_ms, int64_t *ret_ms)
{
    uint64_t d;
    int rc = -1;

    if (!s)
        rc = -1;
    else if (!strcmp(s, "now"))
        rc = (*ret_ms = now_ms, 0);
    else if (!strncmp(s, "now+", 4) || !strncmp(s, "now-", 4)) {
        if (af_duration_parse_bare(s + 4, AF_BARE_SECONDS, &d) == 0 &&
            d < (uint64_t)INT64_MAX / 2) {
            *ret_ms = s[3] == '+' ? now_ms + (int64_t)d : now_ms - (int64_t)d;
            rc = 0;
        }
    } else if (!strncmp(s, "today ", 6))
        rc = parse_clock_time(s + 6, now_ms, 0, ret_ms);
    else if (!strncmp(s, "tomorrow ", 9))
        rc = parse_clock_time(s + 9, now_ms, 1, ret_ms);
    else if (strlen(s) <= 8 && strchr(s, ':') && !strchr(s, '-'))
        rc = parse_clock_time(s, now_ms, 0, ret_ms);
    else
        rc = parse_calendar(s, ret_ms);
    if (rc < 0)
        errno = EINVAL;
    return rc;
}

void af_time_relative(int64_t ms, int64_t now_ms, char *buf, size_t size)
{
    static const struct {
        const char *suffix;
        int64_t s;
    } steps[] = {{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}};
    int64_t d = ms - now_ms, s = (d < 0 ? -d : d) / 1000;
    char text[48] = "";
    size_t used = 0, i, shown = 0;

    if (s == 0) {
        snprintf(buf, size, "now");
        return;
    }
    /* The largest unit, and the next one when it is not 0: "1h58m", "2d". */
    for (i = 0; i < 4 && shown < 2; i++) {
        if (s < steps[i].s) {
            if (shown)
                break;
            continue;
        }
        used += (size_t)snprintf(text + used, sizeof(text) - used, "%lld%s",
                                 (long long)(s / steps[i].s), steps[i].suffix);
        s %= steps[i].s;
        shown++;
    }
    snprintf(buf, size, d > 0 ? "in %s" : "%s ago", text);
}

void af_time_format_local(int64_t ms, int64_t now_ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char when[48], rel[48];

    if (ms <= 0 || !localtime_r(&t, &tm)) {
        snprintf(buf, size, "-");
        return;
    }
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M %Z", &tm);
    af_time_relative(ms, now_ms, rel, sizeof(rel));
    snprintf(buf, size, "%s (%s)", when, rel);
}
