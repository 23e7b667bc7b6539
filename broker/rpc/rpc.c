/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc: replies and refusals as every handler gives them, and the role check
 * the dispatch tables carry.
 */
#include "rpc.h"
#include "principals.h"
#include "af_wire.h"
#include "af_log.h"
#include "sites.h"
#include "store.h"
#include "store_records.h"
#include "svc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if ((spec->roles & (1u << m->who->kind)) && (spec->flags & RPC_READS)) {
        struct rpc_msg r = *m;

        r.reads = true;
        store_reads_committed(s->store, true);
        spec->fn(s, &r);
        store_reads_committed(s->store, false);
    } else if (spec->roles & (1u << m->who->kind))
        spec->fn(s, m);
    else if (m->who->kind == AUTH_ANON)
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "this key is not registered here: log in first (aifedctl login "
                  "--ssh-cert FILE), or ask an admin to add it");
    else if (spec->roles == RPC_ADMIN)
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN, "only admins %s", spec->what);
    else
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN, "%s may not send %s",
                  m->who->id, af_wire_body_name(spec->body));
}

void rpc_reply(struct svc *s, const struct rpc_msg *m, Aifed__Envelope *reply)
{
    reply->corr_id = m->from.corr_id;
    /* Until its principal reads it: another added a key to it. */
    if (m->who && *m->who->notice)
        reply->notice = (char *)m->who->notice;
    if (outbox_push(s->outbox, &m->from, reply, !m->reads) < 0)
        log_err("reply to %s dropped", m->who ? m->who->id : "peer");
}

void rpc_reply_identity(struct svc *s, const struct rpc_msg *m,
                        const struct auth_principal *p, const char *notice)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__Identity r = AIFED__IDENTITY__INIT;
    struct principals_msg msg;

    principals_to_msg(p, &msg);
    r.principal = (char *)p->id;
    r.projects = p->projects;
    r.n_projects = p->n_projects;
    r.signing_key = s->signing_pub;
    r.keys = msg.msg.keys;
    r.n_keys = msg.msg.n_keys;
    r.enrolments = msg.msg.enrolments;
    r.n_enrolments = msg.msg.n_enrolments;
    r.notice = (char *)notice;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_IDENTITY, &r);
    rpc_reply(s, m, &env);
}

/* An Error to m: now, or (stored) after the batch's commit. */
static void verror(struct svc *s, const struct rpc_msg *m, Aifed__ErrorCode code,
                   bool stored, const char *fmt, va_list ap)
{
    char text[AF_WIRE_MAX_TEXT];

    vsnprintf(text, sizeof(text), fmt, ap);
    if (stored)
        outbox_error_stored(s->outbox, &m->from, code, text);
    else
        outbox_error(s->outbox, &m->from, code, text);
}

void rpc_error(struct svc *s, const struct rpc_msg *m, Aifed__ErrorCode code,
               const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    verror(s, m, code, false, fmt, ap);
    va_end(ap);
}

void rpc_error_stored(struct svc *s, const struct rpc_msg *m, Aifed__ErrorCode code,
                      const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    verror(s, m, code, true, fmt, ap);
    va_end(ap);
}

void rpc_reply_lease(struct svc *s, const struct rpc_msg *m, const Aifed__Lease *l)
{
    rpc_reply_ended(s, m, l, 0);
}

void rpc_reply_ended(struct svc *s, const struct rpc_msg *m, const Aifed__Lease *l,
                     uint32_t jobs_cancelled)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__LeaseReply r = AIFED__LEASE_REPLY__INIT;

    r.lease = (Aifed__Lease *)l;
    r.jobs_cancelled = jobs_cancelled;
    r.site_holds = l->site && *l->site && sites_holds(s->sites, l->site, l->id);
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_LEASE_REPLY, &r);
    rpc_reply(s, m, &env);
}

/* The one site the list is for: a site's own principal sees its own site
 * only, whatever it asked; others see what they asked for (NULL: all). */
static const char *sites_wanted(const struct rpc_msg *m)
{
    const Aifed__ListSites *q =
        m->env && m->env->body_case == AIFED__ENVELOPE__BODY_LIST_SITES
            ? m->env->list_sites
            : NULL;

    if (m->who->kind == AUTH_SITE)
        return m->who->id + strlen("site:");
    return q && q->site && *q->site ? q->site : NULL;
}

void rpc_reply_sites(struct svc *s, const struct rpc_msg *m)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__SiteList *list, view;
    Aifed__SiteStatus *one[1];
    const char *want = sites_wanted(m);

    if (sites_list(s->sites, &list) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    view = *list; /* the list owns its entries; the view only points at one */
    if (want) {
        view.n_sites = 0;
        view.sites = one;
        for (size_t i = 0; i < list->n_sites && !view.n_sites; i++)
            if (!strcmp(list->sites[i]->site->id, want))
                one[view.n_sites++] = list->sites[i];
    }
    if (want && !view.n_sites)
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND,
                  "no site %s in the federation", want);
    else {
        af_wire_set_body(&env, AIFED__ENVELOPE__BODY_SITE_LIST, &view);
        rpc_reply(s, m, &env);
    }
    sites_list_free(list);
}

int rpc_page_init(struct rpc_page *p, uint32_t limit)
{
    *p = (struct rpc_page){.limit = limit ? limit : RPC_DEFAULT_PAGE};
    p->v = calloc(p->limit, sizeof(*p->v));
    p->failed = !p->v;
    return p->v ? 0 : -1;
}

int rpc_page_add(struct rpc_page *p, const void *msg)
{
    if (p->n == p->limit) {
        p->more = true;
        return 1;
    }
    if (!(p->v[p->n] = af_wire_copy(msg))) {
        p->failed = true;
        return -1;
    }
    p->n++;
    return 0;
}

void rpc_reply_page(struct svc *s, const struct rpc_msg *m, int body_case, void *list,
                    struct rpc_page *p)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;

    if (p->failed) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
    } else {
        af_wire_set_body(&env, body_case, list);
        rpc_reply(s, m, &env);
    }
    rpc_page_free(p);
}

void rpc_page_free(struct rpc_page *p)
{
    for (size_t i = 0; i < p->n; i++)
        protobuf_c_message_free_unpacked(p->v[i], NULL);
    free(p->v);
}

bool rpc_retried(struct svc *s, const struct rpc_msg *m, const char *rid)
{
    char id[AF_ID_MAX + 1];
    Aifed__Lease *l;

    if (!*rid || store_idem_get(s->store, m->who->id, rid, id, sizeof(id)) < 0)
        return false;
    if ((l = rpc_lease_get(s, m, id))) {
        rpc_reply_lease(s, m, l);
        store_lease_free(s->store, l);
    }
    return true;
}

void rpc_remember(struct svc *s, const struct rpc_msg *m, const char *rid,
                  const char *lease_id)
{
    if (*rid && store_idem_put(s->store, m->who->id, rid, lease_id, svc_now_ms(s)) < 0)
        outbox_store_failed(s->outbox, "storing request %s", rid);
}

bool rpc_may_see(const struct rpc_msg *m, const Aifed__Lease *l)
{
    return auth_may_use_project(m->who, l->workload->project);
}

/* Of the leases an abbreviated id may stand for, those the sender may see:
 * the first one's id, and how many. */
struct abbrev {
    const struct rpc_msg *m;
    char id[AF_ID_MAX + 1];
    size_t seen;
};

static int abbrev_visit(const Aifed__Lease *l, void *arg)
{
    struct abbrev *a = arg;

    if (rpc_may_see(a->m, l) && a->seen++ == 0)
        snprintf(a->id, sizeof(a->id), "%s", l->id);
    return a->seen > 1; /* a second one: it is ambiguous, stop */
}

/* How many of the leases m's sender may see begin with id, or with
 * "lease-" and id (people type the part that differs); the one, if one. */
#define ABBREV_SCAN 256

static size_t abbreviated(struct svc *s, const struct rpc_msg *m, const char *id,
                          char *full, size_t size)
{
    struct abbrev a = {.m = m};
    char with[AF_ID_MAX + 8];

    if (strlen(id) < 4) /* "le" stands for everything */
        return 0;
    store_lease_prefix(s->store, id, ABBREV_SCAN, abbrev_visit, &a);
    if (!a.seen && strncmp(id, "lease-", 6)) {
        snprintf(with, sizeof(with), "lease-%s", id);
        store_lease_prefix(s->store, with, ABBREV_SCAN, abbrev_visit, &a);
    }
    if (a.seen == 1)
        snprintf(full, size, "%s", a.id);
    return a.seen;
}

Aifed__Lease *rpc_lease_get(struct svc *s, const struct rpc_msg *m, const char *id)
{
    char full[AF_ID_MAX + 1];
    Aifed__Lease *l;
    size_t n;

    if (store_lease_get(s->store, id, &l) < 0) {
        if (errno != ENOENT) {
            rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "reading lease %s", id);
            return NULL;
        }
        if ((n = abbreviated(s, m, id, full, sizeof(full))) == 1)
            return rpc_lease_get(s, m, full);
        if (n > 1)
            rpc_error(s, m, AIFED__ERROR_CODE__ERROR_BAD_REQUEST,
                      "'%s' begins more than one of your leases: give more of its id",
                      id);
        else
            rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no lease %s", id);
        return NULL;
    }
    if (!rpc_may_see(m, l)) {
        store_lease_free(s->store, l);
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no lease %s", id);
        return NULL;
    }
    return l;
}
