/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc: replies and refusals as every handler gives them, and the role check
 * the dispatch tables carry.
 */
#include "rpc.h"
#include "af_wire.h"
#include "af_log.h"
#include "sites.h"
#include "store.h"
#include "svc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

const struct rpc_spec *rpc_spec_find(const struct rpc_spec *const *tables, int body)
{
    for (; *tables; tables++)
        for (const struct rpc_spec *t = *tables; t->fn; t++)
            if ((int)t->body == body)
                return t;
    return NULL;
}

void rpc_call(struct svc *s, const struct rpc_spec *spec, const struct rpc_msg *m)
{
    if (spec->roles & (1u << m->who->kind))
        spec->fn(s, m);
    else if (spec->roles == RPC_ADMIN)
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN, "only admins %s", spec->what);
    else
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN, "%s may not send %s",
                  m->who->id, af_wire_body_name(spec->body));
}

void rpc_reply(struct svc *s, const struct rpc_msg *m, Aifed__Envelope *reply)
{
    reply->corr_id = m->from.corr_id;
    if (outbox_push(s->outbox, &m->from, reply, true) < 0)
        log_err("reply to %s dropped", m->who ? m->who->id : "peer");
}

void rpc_error(struct svc *s, const struct rpc_msg *m, Aifed__ErrorCode code,
               const char *fmt, ...)
{
    char text[AF_WIRE_MAX_TEXT];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    outbox_error(s->outbox, &m->from, code, text);
}

void rpc_reply_lease(struct svc *s, const struct rpc_msg *m, const Aifed__Lease *l)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__LeaseReply r = AIFED__LEASE_REPLY__INIT;

    r.lease = (Aifed__Lease *)l;
    env.body_case = AIFED__ENVELOPE__BODY_LEASE_REPLY;
    env.lease_reply = &r;
    rpc_reply(s, m, &env);
}

void rpc_reply_sites(struct svc *s, const struct rpc_msg *m)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__SiteList *list;

    if (sites_list(s->sites, &list) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    env.body_case = AIFED__ENVELOPE__BODY_SITE_LIST;
    env.site_list = list;
    rpc_reply(s, m, &env);
    sites_list_free(list);
}

bool rpc_may_see(const struct rpc_msg *m, const Aifed__Lease *l)
{
    return auth_may_use_project(m->who, l->workload->project);
}

Aifed__Lease *rpc_lease_get(struct svc *s, const struct rpc_msg *m, const char *id)
{
    Aifed__Lease *l;

    if (store_lease_get(s->store, id, &l) < 0) {
        if (errno == ENOENT)
            rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no lease %s", id);
        else
            rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "reading lease %s", id);
        return NULL;
    }
    if (!rpc_may_see(m, l)) {
        store_lease_free(s->store, l);
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no lease %s", id);
        return NULL;
    }
    return l;
}
