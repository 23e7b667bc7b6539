/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_notify: systemd's service notifications (Type=notify) through
 * libsystemd's sd_notify: READY=1 once a daemon serves, STOPPING=1 when it
 * begins to stop, and watchdog pings from the daemon's own event loop, so a
 * loop that hangs stops pinging and systemd restarts the daemon. Without a
 * NOTIFY_SOCKET (not started by systemd) every call does nothing.
 */
#ifndef AF_NOTIFY_H
#define AF_NOTIFY_H

#include <stdint.h>
#include <uv.h>

void af_notify_ready(const char *status);
void af_notify_stopping(void);
/* RELOADING=1; say af_notify_ready() when done. */
void af_notify_reloading(void);

/* Initialise t on loop (the caller closes it) and, when systemd asked for a
 * watchdog, ping it from t at half its interval. Returns that interval in
 * ms, or 0 when there is none. */
uint64_t af_notify_watchdog_start(uv_loop_t *loop, uv_timer_t *t);

#endif
