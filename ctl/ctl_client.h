/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_client: aifedctl's connection to the broker. A call never hangs: it
 * waits at most the given time, and when no answer comes it says which of the
 * usual causes it saw (broker unreachable, key not registered, wrong broker
 * key, broker silent), read from the socket's connection events.
 */
#ifndef CTL_CLIENT_H
#define CTL_CLIENT_H

#include "af_error.h"

#include <stdint.h>

struct ctl_client;
struct Aifed__Envelope;

/* Exit status for "could not talk to the broker" (scripts can tell it from
 * an error the broker answered, which is 1). */
#define CTL_EXIT_UNREACHABLE 3

struct ctl_client *ctl_client_create(const char *endpoint, const char *broker_pub_file,
                                     const char *key_file, struct af_error *err);
void ctl_client_destroy(struct ctl_client *c);

/* Send req (version and corr id are filled in) and wait up to timeout_ms for
 * its reply, which the caller frees with af_wire_free(). With resend_ms, the
 * request is sent again every resend_ms until answered: only for requests
 * that are safe to repeat (reads, and a submit, which its request id makes
 * idempotent). NULL with err set when no valid reply came; errno is
 * ETIMEDOUT, ECONNREFUSED or EACCES (key refused) for the connection
 * failures. */
struct Aifed__Envelope *ctl_client_call(struct ctl_client *c, struct Aifed__Envelope *req,
                                        uint64_t timeout_ms, uint64_t resend_ms,
                                        struct af_error *err);

#endif
