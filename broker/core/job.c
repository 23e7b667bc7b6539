/* SPDX-License-Identifier: Apache-2.0 */
#include "job.h"

#include "aifed.pb-c.h"

bool job_ended(int state)
{
    return state >= AIFED__JOB_STATE__JOB_COMPLETED &&
           state <= AIFED__JOB_STATE__JOB_TIMEOUT;
}

const char *job_state_name(int state)
{
    static const char *const names[] = {"NEW",    "QUEUED",    "RUNNING", "COMPLETED",
                                        "FAILED", "CANCELLED", "TIMEOUT"};

    return state >= 0 && state <= AIFED__JOB_STATE__JOB_TIMEOUT ? names[state] : "?";
}
