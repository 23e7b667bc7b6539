/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_log: daemon logging in the OpenBSD manner. In the foreground (-f) lines go
 * to stderr; otherwise to syslog, which journald collects with priorities.
 * Library code in common/ logs nothing above debug; daemons log a failure
 * once, where they handle it. Never pass key material to these functions.
 */
#ifndef AF_LOG_H
#define AF_LOG_H

#include <stdbool.h>

#define AF_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* verbose: 0 = info and above, 1 = debug too. */
void af_log_init(const char *ident, bool foreground, int verbose);

void log_err(const char *fmt, ...) AF_PRINTF(1, 2);  /* appends strerror(errno) */
void log_errx(const char *fmt, ...) AF_PRINTF(1, 2); /* no errno */
void log_warnx(const char *fmt, ...) AF_PRINTF(1, 2);
void log_info(const char *fmt, ...) AF_PRINTF(1, 2);
void log_debug(const char *fmt, ...) AF_PRINTF(1, 2);
void fatal(const char *fmt, ...) AF_PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) AF_PRINTF(1, 2) __attribute__((noreturn));

#endif
