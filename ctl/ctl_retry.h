/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_retry: when aifedctl asks again. A request that is safe to repeat
 * (a read, or a submit, whose request id makes its repeats one lease) is
 * sent again while no answer comes (a broker restarting), and again while a
 * broker that has just started answers that it has not heard every site yet.
 * Release, renew and revoke carry a request id, which makes them safe too;
 * the other admin calls are sent once.
 */
#ifndef CTL_RETRY_H
#define CTL_RETRY_H

#include "ctl.h"
#include "ctl_client.h"

#include "aifed.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

/* Whether req may be sent again: a read, or a change with a request id. */
bool ctl_retry_safe(const Aifed__Envelope *req);

/* The reply to req within timeout_ms in all, asked again as above (quiet
 * says nothing of the waiting; otherwise it is said once). NULL with err
 * set when none came. */
Aifed__Envelope *ctl_retry_call(struct ctl_client *c, Aifed__Envelope *req,
                                uint64_t timeout_ms, bool quiet, struct af_error *err);

#endif
