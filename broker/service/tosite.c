/* SPDX-License-Identifier: Apache-2.0 */
#include "tosite.h"
#include "af_log.h"
#include "af_wire.h"
#include "outbox.h"
#include "sites.h"
#include "svc.h"

#include <string.h>

void tosite_send(struct svc *s, const char *site, Aifed__Envelope *env)
{
    struct outbox_peer to = {.side = OUTBOX_AGENT};
    const uint8_t *rid = sites_route(s->sites, site, &to.rid_len);

    if (!rid) {
        log_debug("no route to site %s yet; %s not sent", site,
                  af_wire_body_name(env->body_case));
        return;
    }
    memcpy(to.rid, rid, to.rid_len);
    /* A hold may leave before its lease is committed (see outbox.h); a
     * release may not: the site must never let go of what disk still says
     * it holds. A request to a served model promises nothing stored. */
    if (outbox_push(s->outbox, &to, env,
                    env->body_case != AIFED__ENVELOPE__BODY_LEASE_HOLD &&
                        env->body_case != AIFED__ENVELOPE__BODY_REPLICA_REQUEST &&
                        env->body_case != AIFED__ENVELOPE__BODY_REPLICA_CANCEL) < 0)
        log_err("message to site %s dropped", site);
}
