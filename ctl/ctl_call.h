/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_call: one request to the broker and its reply, the scaffold every
 * command shares: connect with the global options, send, wait (asking again
 * when that is safe: ctl_retry), print what went wrong in words, and check
 * that the reply is the kind the request expects.
 */
#ifndef CTL_CALL_H
#define CTL_CALL_H

#include "ctl.h"

#include "aifed.pb-c.h"

#include <stdint.h>

/* What a command prints of a reply it was given; returns the exit status. */
typedef int (*ctl_show_fn)(const Aifed__Envelope *rep, bool json);

/* Send req and wait up to timeout_ms (the global --timeout overrides it)
 * for a reply of body want. The reply (af_wire_free it), or NULL after
 * printing why, with *ret_exit 1 (refused) or 3 (unreachable). */
/* A notice the broker sent with a reply (another principal added a key
 * to you): said on stderr, once per run. ctl_call does it. */
void ctl_call_notice(const Aifed__Envelope *rep);

Aifed__Envelope *ctl_call(const struct ctl *ctl, Aifed__Envelope *req,
                          Aifed__Envelope__BodyCase want, uint64_t timeout_ms,
                          int *ret_exit);

/* Send body (of case body_case) as the request, wait for a reply of body
 * want (10 s, unless --timeout), and show it: the exit status. */
int ctl_ask(const struct ctl *ctl, int body_case, void *body,
            Aifed__Envelope__BodyCase want, ctl_show_fn show);

/* ctl_call, then show the reply: the exit status. */
int ctl_call_show(const struct ctl *ctl, Aifed__Envelope *req,
                  Aifed__Envelope__BodyCase want, uint64_t timeout_ms, ctl_show_fn show);

#endif
