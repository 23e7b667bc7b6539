/* SPDX-License-Identifier: Apache-2.0 */
/* af_notify: see af_notify.h. */
#include "af_notify.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>

void af_notify_ready(const char *status)
{
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void af_notify_stopping(void)
{
    sd_notify(0, "STOPPING=1");
}

void af_notify_reloading(void)
{
    sd_notify(0, "RELOADING=1");
}

static void ping(uv_timer_t *t)
{
    (void)t;
    sd_notify(0, "WATCHDOG=1");
}

uint64_t af_notify_watchdog_start(uv_loop_t *loop, uv_timer_t *t)
{
    uint64_t usec = 0;

    uv_timer_init(loop, t);
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec < 2000)
        return 0;
    uv_timer_start(t, ping, 0, usec / 2000);
    return usec / 1000;
}
