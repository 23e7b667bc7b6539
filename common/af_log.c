/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_log: stderr in the foreground, syslog otherwise. errno is read before
 * anything else runs, so log_err reports the failure the caller saw.
 */
#include "af_log.h"
#include "af_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static bool log_foreground = true;
static int log_verbose;
static const char *log_ident = "aifed";

void af_log_init(const char *ident, bool foreground, int verbose)
{
    log_ident = ident;
    log_foreground = foreground;
    log_verbose = verbose;
    if (!foreground)
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void log_vwrite(int pri, int errnum, const char *fmt, va_list ap)
{
    char msg[1024];

    if (pri == LOG_DEBUG && log_verbose < 1)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (log_foreground) {
        static const char *names[] = {"emerg",   "alert",  "crit", "error",
                                      "warning", "notice", "info", "debug"};
        struct timespec ts;
        struct tm tm;
        char when[32];

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        if (errnum)
            fprintf(stderr, "%s.%03ldZ %s %s: %s: %s\n", when, ts.tv_nsec / 1000000,
                    log_ident, names[pri], msg, strerror(errnum));
        else
            fprintf(stderr, "%s.%03ldZ %s %s: %s\n", when, ts.tv_nsec / 1000000,
                    log_ident, names[pri], msg);
        fflush(stderr);
    } else if (errnum) {
        syslog(pri, "%s: %s", msg, strerror(errnum));
    } else {
        syslog(pri, "%s", msg);
    }
}

#define LOG_BODY(pri, errnum)                                                            \
    do {                                                                                 \
        int saved = errno;                                                               \
        va_list ap;                                                                      \
        va_start(ap, fmt);                                                               \
        log_vwrite(pri, errnum, fmt, ap);                                                \
        va_end(ap);                                                                      \
        errno = saved;                                                                   \
    } while (0)

void log_err(const char *fmt, ...)
{
    LOG_BODY(LOG_ERR, errno);
}

void log_errx(const char *fmt, ...)
{
    LOG_BODY(LOG_ERR, 0);
}

void log_warnx(const char *fmt, ...)
{
    LOG_BODY(LOG_WARNING, 0);
}

void log_info(const char *fmt, ...)
{
    LOG_BODY(LOG_INFO, 0);
}

void log_debug(const char *fmt, ...)
{
    LOG_BODY(LOG_DEBUG, 0);
}

void fatal(const char *fmt, ...)
{
    LOG_BODY(LOG_CRIT, errno);
    exit(1);
}

void fatalx(const char *fmt, ...)
{
    LOG_BODY(LOG_CRIT, 0);
    exit(1);
}

void af_error_fill(struct af_error *err, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    if (err) {
        va_start(ap, fmt);
        vsnprintf(err->text, sizeof(err->text), fmt, ap);
        va_end(ap);
    }
    errno = saved;
}
