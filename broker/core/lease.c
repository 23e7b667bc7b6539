/* SPDX-License-Identifier: Apache-2.0 */
/* lease: the transition table. Anything not in it is refused. */
#include "lease.h"

#include <errno.h>
#include <strings.h>

static const struct {
    int from;
    enum lease_event ev;
    int to;
} transitions[] = {
    {LEASE_PENDING, LEASE_EV_HELD, LEASE_ACTIVE},
    {LEASE_PENDING, LEASE_EV_BOOKED, LEASE_SCHEDULED},
    {LEASE_PENDING, LEASE_EV_RELEASE, LEASE_RELEASED},
    {LEASE_PENDING, LEASE_EV_FAIL, LEASE_FAILED},
    {LEASE_PENDING, LEASE_EV_EXPIRE, LEASE_EXPIRED},
    {LEASE_PENDING, LEASE_EV_REVOKE, LEASE_REVOKED},
    {LEASE_ACTIVE, LEASE_EV_RELEASE, LEASE_RELEASED},
    {LEASE_ACTIVE, LEASE_EV_ENDED, LEASE_RELEASED},
    {LEASE_ACTIVE, LEASE_EV_EXPIRE, LEASE_EXPIRED},
    {LEASE_ACTIVE, LEASE_EV_RENEW, LEASE_ACTIVE},
    {LEASE_ACTIVE, LEASE_EV_REVOKE, LEASE_REVOKED},
    {LEASE_ACTIVE, LEASE_EV_LOST, LEASE_LOST},
    {LEASE_SCHEDULED, LEASE_EV_START, LEASE_ACTIVE},
    {LEASE_SCHEDULED, LEASE_EV_RELEASE, LEASE_RELEASED},
    {LEASE_SCHEDULED, LEASE_EV_ENDED, LEASE_RELEASED},
    {LEASE_SCHEDULED, LEASE_EV_EXPIRE, LEASE_EXPIRED},
    {LEASE_SCHEDULED, LEASE_EV_RENEW, LEASE_SCHEDULED},
    {LEASE_SCHEDULED, LEASE_EV_REVOKE, LEASE_REVOKED},
    {LEASE_SCHEDULED, LEASE_EV_LOST, LEASE_LOST},
};

int lease_next(int state, enum lease_event ev)
{
    for (size_t i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++)
        if (transitions[i].from == state && transitions[i].ev == ev)
            return transitions[i].to;
    errno = EINVAL;
    return -1;
}

uint64_t lease_usage(uint32_t gpus, uint32_t walltime_s, int64_t activated_ms,
                     int64_t end_ms)
{
    int64_t s;

    if (activated_ms <= 0 || end_ms <= activated_ms)
        return 0;
    s = (end_ms - activated_ms) / 1000;
    if (s > walltime_s)
        s = walltime_s;
    return (uint64_t)gpus * (uint64_t)s;
}

int lease_end(const struct lease_facts *f, enum lease_event ev, int64_t now_ms,
              uint64_t site_used_gpu_s, struct lease_ending *ret)
{
    int next = lease_next(f->state, ev);
    uint64_t cap = (uint64_t)f->gpus * f->walltime_s;

    if (next < 0 || lease_is_open(next)) {
        errno = EINVAL;
        return -1;
    }
    ret->state = next;
    if (ev == LEASE_EV_ENDED)
        ret->used_gpu_s = site_used_gpu_s < cap ? site_used_gpu_s : cap;
    else if (ev == LEASE_EV_FAIL)
        ret->used_gpu_s = 0;
    else
        ret->used_gpu_s = lease_usage(f->gpus, f->walltime_s, f->activated_ms, now_ms);
    return 0;
}

int64_t lease_start_ms(int64_t not_before_ms, int64_t now_ms)
{
    return not_before_ms > now_ms ? not_before_ms : now_ms;
}

bool lease_is_open(int state)
{
    return state == LEASE_PENDING || state == LEASE_ACTIVE || state == LEASE_SCHEDULED;
}

static const char *const names[] = {
    [LEASE_PENDING] = "PENDING",   [LEASE_ACTIVE] = "ACTIVE",
    [LEASE_RELEASED] = "RELEASED", [LEASE_EXPIRED] = "EXPIRED",
    [LEASE_FAILED] = "FAILED",     [LEASE_REVOKED] = "REVOKED",
    [LEASE_LOST] = "LOST",         [LEASE_SCHEDULED] = "SCHEDULED",
};

const char *lease_state_name(int state)
{
    if (state < LEASE_PENDING || state > LEASE_STATE_MAX)
        return "UNKNOWN";
    return names[state];
}

int lease_state_parse(const char *name)
{
    for (int s = LEASE_PENDING; s <= LEASE_STATE_MAX; s++)
        if (!strcasecmp(name, names[s]))
            return s;
    return -1;
}
