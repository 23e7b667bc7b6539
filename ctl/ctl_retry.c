/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_retry: the resend interval and the starting broker's retry loop. */
#include "ctl_retry.h"
#include "af_time.h"
#include "af_wire.h"

#include <stdio.h>
#include <unistd.h>

/* Sent again when no answer came in this time (a broker restarting). */
#define RESEND_MS 3000

/* How long to wait before asking a broker that is still starting again. */
#define STARTING_RETRY_MS 500

bool ctl_retry_safe(const Aifed__Envelope *req)
{
    switch (req->body_case) {
    /* Changes that carry a request id: the broker makes them once. */
    case AIFED__ENVELOPE__BODY_RELEASE:
        return *req->release->request_id;
    case AIFED__ENVELOPE__BODY_RENEW:
        return *req->renew->request_id;
    case AIFED__ENVELOPE__BODY_REVOKE:
        return *req->revoke->request_id;
    case AIFED__ENVELOPE__BODY_SUBMIT_JOB:
        return *req->submit_job->request_id;
    case AIFED__ENVELOPE__BODY_GET_JOB:
    case AIFED__ENVELOPE__BODY_LIST_JOBS:
    case AIFED__ENVELOPE__BODY_GET_JOB_LOG:
        return true;
    /* Changes that set a state: made again, they leave it as it is (an add
     * of a key already in force is answered as the first was). */
    case AIFED__ENVELOPE__BODY_ALLOCATION_SET:
    case AIFED__ENVELOPE__BODY_SITE_ADMIN:
    case AIFED__ENVELOPE__BODY_PRINCIPAL_ADD:
    case AIFED__ENVELOPE__BODY_PRINCIPAL_REVOKE:
    case AIFED__ENVELOPE__BODY_SUBMIT:
    case AIFED__ENVELOPE__BODY_EXPLAIN:
    case AIFED__ENVELOPE__BODY_GET_LEASE:
    case AIFED__ENVELOPE__BODY_LIST_LEASES:
    case AIFED__ENVELOPE__BODY_LIST_SITES:
    case AIFED__ENVELOPE__BODY_GET_REQUEST:
    case AIFED__ENVELOPE__BODY_LIST_ALLOCATIONS:
    case AIFED__ENVELOPE__BODY_LIST_PRINCIPALS:
    case AIFED__ENVELOPE__BODY_LIST_AUDIT:
        return true;
    default:
        return false;
    }
}

/* A broker that has just started and not heard every site yet answers
 * ERROR_STARTING: ask again, with the same request. */
static bool starting(const Aifed__Envelope *rep)
{
    return rep->body_case == AIFED__ENVELOPE__BODY_ERROR &&
           rep->error->code == AIFED__ERROR_CODE__ERROR_STARTING;
}

Aifed__Envelope *ctl_retry_call(struct ctl_client *c, Aifed__Envelope *req,
                                uint64_t timeout_ms, bool quiet, struct af_error *err)
{
    bool safe = ctl_retry_safe(req), said = false;
    int64_t deadline = af_now_ms() + (int64_t)timeout_ms;

    for (;;) {
        int64_t left = deadline - af_now_ms();
        Aifed__Envelope *rep = ctl_client_call(c, req, left > 0 ? (uint64_t)left : 1,
                                               safe ? RESEND_MS : 0, err);

        if (!rep || !safe || !starting(rep) ||
            af_now_ms() + STARTING_RETRY_MS >= deadline)
            return rep;
        if (!said && !quiet)
            fprintf(stderr, "aifedctl: %s (asking again every %d ms)\n",
                    rep->error->message, STARTING_RETRY_MS);
        said = true;
        af_wire_free(rep);
        usleep(STARTING_RETRY_MS * 1000);
    }
}
