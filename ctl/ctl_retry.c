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
    /* An ID token is taken by one key: sent again, the same login. */
    case AIFED__ENVELOPE__BODY_LOGIN:
        return *req->login->id_token;
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
    case AIFED__ENVELOPE__BODY_WHO_AM_I:
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
 * ERROR_STARTING: ask again, with the same request, after STARTING_RETRY_MS
 * (said once). One over its sender's request rate says when the request
 * will be taken: ask again then (said never: it is pacing, not a fault).
 * How long to wait, or 0 when rep is an answer to keep. */
static uint32_t again_in(const Aifed__Envelope *rep, bool *say)
{
    *say = false;
    if (rep->body_case != AIFED__ENVELOPE__BODY_ERROR)
        return 0;
    if (rep->error->code == AIFED__ERROR_CODE__ERROR_STARTING) {
        *say = true;
        return STARTING_RETRY_MS;
    }
    return rep->error->code == AIFED__ERROR_CODE__ERROR_LIMITED
               ? rep->error->retry_after_ms
               : 0;
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
        uint32_t wait_ms;
        bool say;

        if (!rep || !safe || !(wait_ms = again_in(rep, &say)) ||
            af_now_ms() + wait_ms >= deadline)
            return rep;
        if (say && !said && !quiet)
            fprintf(stderr, "aifedctl: %s (asking again every %u ms)\n",
                    rep->error->message, wait_ms);
        said = said || say;
        af_wire_free(rep);
        usleep(wait_ms * 1000);
    }
}
