/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_admin: what only admins do (the dispatch refuses anyone else: see
 * rpc_admin_specs). Revoke a lease; drain a site or confirm that silent
 * sites are DOWN (the isolation guard); set allocations; read the audit
 * log; and the principal registry: add principals (or a second key for a
 * change-over), remove a key, revoke, and list. A registry change reaches
 * open connections at once: every message is checked against its key's
 * current state.
 */
#include "af_log.h"
#include "af_time.h"
#include "af_wire.h"
#include "alloc.h"
#include "bconf.h"
#include "lease.h"
#include "leasesvc.h"
#include "ledger.h"
#include "principals.h"
#include "rpc.h"
#include "sites.h"
#include "store.h"
#include "store_audit.h"
#include "svc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The registry as a PrincipalList page: every principal, or only one. */
struct principal_page {
    const char *only;
    struct rpc_page page;
};

static void plist_add(const struct auth_principal *p, void *arg)
{
    struct principal_page *l = arg;
    struct principals_msg msg;

    if (l->only && strcmp(l->only, p->id))
        return;
    principals_to_msg(p, &msg);
    rpc_page_add(&l->page, &msg.msg);
}

static void reply_principals(struct svc *s, const struct rpc_msg *m, const char *only)
{
    Aifed__PrincipalList list = AIFED__PRINCIPAL_LIST__INIT;
    struct principal_page l = {.only = only};

    if (rpc_page_init(&l.page, (uint32_t)auth_count(s->auth) + 1) == 0)
        auth_each(s->auth, plist_add, &l);
    list.principals = (Aifed__Principal **)l.page.v;
    list.n_principals = l.page.n;
    rpc_reply_page(s, m, AIFED__ENVELOPE__BODY_PRINCIPAL_LIST, &list, &l.page);
}

static void on_revoke(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__Revoke *r = m->env->revoke;
    Aifed__Lease *stored;
    struct leasesvc_lease revoked;
    char reason[AF_WIRE_MAX_TEXT];

    if (rpc_retried(s, m, r->request_id) || !(stored = rpc_lease_get(s, m, r->lease_id)))
        return;
    snprintf(reason, sizeof(reason), "revoked by %s%s%.400s", m->who->id,
             *r->reason ? ": " : "", r->reason);
    /* Ending it sends the site its LeaseRelease. */
    if (leasesvc_end(s, stored, LEASE_EV_REVOKE, reason, 0, &revoked) == 0) {
        rpc_remember(s, m, r->request_id, r->lease_id);
        rpc_reply_ended(s, m, &revoked.lease, revoked.jobs_ended);
    } else if (errno == EINVAL)
        rpc_error_stored(s, m, AIFED__ERROR_CODE__ERROR_CONFLICT,
                         "lease %s is already %s", stored->id,
                         lease_state_name(stored->state));
    else
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "could not record the revoke");
    store_lease_free(s->store, stored);
}

/* The entries of a ListAudit page: those from since_ms on. */
struct audit_page {
    int64_t since_ms;
    struct rpc_page page;
};

static int audit_add(const Aifed__AuditEntry *e, void *arg)
{
    struct audit_page *p = arg;

    /* Borrowed for this call only: the page keeps a copy. */
    return e->time_ms < p->since_ms ? 0 : rpc_page_add(&p->page, e);
}

/* A health check: a write in the batch, answered after its commit, so an
 * answer proves the loop runs and the store takes writes. */
struct health_count {
    uint32_t up, all;
};

static int count_site(const char *id, const Aifed__Advertisement *adv, bool up, void *arg)
{
    struct health_count *c = arg;

    (void)id;
    (void)adv;
    c->all++;
    c->up += up;
    return 0;
}

static void on_health(struct svc *s, const struct rpc_msg *m)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__HealthReply r = AIFED__HEALTH_REPLY__INIT;
    struct health_count c = {0, 0};
    char node[256] = "";

    if (store_health_put(s->store, svc_wall_ms(s)) < 0) {
        outbox_store_failed(s->outbox, "the health check's write");
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "the store takes no writes");
        return;
    }
    gethostname(node, sizeof(node) - 1);
    sites_each(s->sites, count_site, &c);
    r.node = node;
    r.active_since_ms = s->active_since_ms;
    r.sites_up = c.up;
    r.sites = c.all;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_HEALTH_REPLY, &r);
    rpc_reply(s, m, &env);
}

static void on_list_audit(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__ListAudit *q = m->env->list_audit;
    struct audit_page p = {.since_ms = q->since_ms};
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__AuditList list = AIFED__AUDIT_LIST__INIT;

    if (rpc_page_init(&p.page, q->limit) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    if (store_audit_list(s->store, q->after_seq, audit_add, &p) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL,
                  "reading the audit log failed");
    } else {
        list.entries = (Aifed__AuditEntry **)p.page.v;
        list.n_entries = p.page.n;
        /* Where the next page starts: after the last entry returned. */
        list.next_seq = p.page.more && p.page.n ? list.entries[p.page.n - 1]->seq : 0;
        af_wire_set_body(&env, AIFED__ENVELOPE__BODY_AUDIT_LIST, &list);
        rpc_reply(s, m, &env);
    }
    rpc_page_free(&p.page);
}

static void on_site_down(const char *site, bool up, void *arg)
{
    (void)up;
    (void)arg;
    log_warnx("site %s is DOWN: an admin confirmed its silence", site);
}

/* A drain outlives a restart: stored, with its audit entry, in the batch
 * that answers it (a failed commit reloads the drains from the store). */
static int store_drain(struct svc *s, const struct rpc_msg *m, const char *site,
                       bool drained)
{
    char text[128];

    snprintf(text, sizeof(text), "by %s", m->who->id);
    if (store_drained_put(s->store, site, drained) < 0 ||
        store_audit_append(s->store, site, "",
                           drained ? "site drained" : "site undrained", text) < 0) {
        outbox_store_failed(s->outbox, "storing the drain of site %s", site);
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "could not store it");
        return -1;
    }
    return 0;
}

static void on_site_admin(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__SiteAdmin *a = m->env->site_admin;
    bool drain = a->action == AIFED__SITE_ACTION__SITE_DRAIN;

    if (a->action == AIFED__SITE_ACTION__SITE_CONFIRM_DOWN) {
        sites_confirm_down(s->sites, svc_mono_ms(s), on_site_down, NULL);
    } else if (!sites_known(s->sites, a->site)) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no site %s", a->site);
        return;
    } else if (store_drain(s, m, a->site, drain) < 0) {
        return;
    } else {
        sites_drain(s->sites, a->site, drain);
        log_info("%s %s site %s", m->who->id, drain ? "drained" : "undrained", a->site);
    }
    rpc_reply_sites(s, m);
}

/* Store the change an admin made to principal id (change: its audit entry's
 * words), and answer with the entry as it is now. -1 when the store
 * refused it (the batch then answers with an error). */
static int save_and_reply(struct svc *s, const struct rpc_msg *m, const char *id,
                          const char *change)
{
    if (principals_save(s, m->who->id, auth_find(s->auth, id), change) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL,
                  "the broker could not store this change; nothing was changed");
        return -1;
    }
    reply_principals(s, m, id);
    return 0;
}

/* Apply an add to auth (and sites); 0, or -1 with the error sent. */
static int apply_add(struct svc *s, const struct rpc_msg *m, const char *id,
                     const char *key, char *const *projects, size_t n_projects)
{
    const struct auth_principal *before = auth_find(s->auth, id);

    if (!strncmp(id, "user:", 5) && n_projects == 0 && (!before || before->revoked)) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_BAD_REQUEST,
                  "a user needs the projects it may act for");
        return -1;
    }
    if (auth_key_add(s->auth, id, key, projects, n_projects, n_projects > 0) < 0) {
        rpc_error(s, m,
                  errno == EEXIST || errno == E2BIG
                      ? AIFED__ERROR_CODE__ERROR_CONFLICT
                      : AIFED__ERROR_CODE__ERROR_BAD_REQUEST,
                  "%s",
                  errno == EEXIST  ? "that key is already registered"
                  : errno == E2BIG ? "it has two keys already: remove one first"
                                   : "cannot register it");
        return -1;
    }
    if (principals_site(s, id) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return -1;
    }
    return 0;
}

/* Whether an add asks for what the registry already says: p in force with
 * key, and (when projects are given) exactly those projects. A retried add
 * (its answer was lost) is then answered as it was the first time. */
static bool add_done(const struct auth_principal *p, const Aifed__PrincipalAdd *a)
{
    bool has_key = false;

    if (!p || p->revoked)
        return false;
    for (size_t i = 0; i < p->n_keys; i++)
        has_key |= !strcmp(p->keys[i], a->public_key);
    if (!has_key || (a->n_projects && a->n_projects != p->n_projects))
        return false;
    for (size_t i = 0; i < a->n_projects; i++)
        if (!auth_may_use_project(p, a->projects[i]))
            return false;
    return true;
}

/* Whether p is in force with key. */
static bool has_key(const struct auth_principal *p, const char *key)
{
    for (size_t k = 0; p && !p->revoked && k < p->n_keys; k++)
        if (!strcmp(p->keys[k], key))
            return true;
    return false;
}

static void on_principal_add(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__PrincipalAdd *a = m->env->principal_add;
    const struct auth_principal *was = auth_find(s->auth, a->id);
    bool new_key = !has_key(was, a->public_key);
    /* A key beside one in force is news to its holder; a first key (or a
     * revoked principal's new one) is how it is registered. */
    bool tell = was && !was->revoked && was->n_keys > 0;

    if (add_done(auth_find(s->auth, a->id), a)) {
        reply_principals(s, m, a->id);
        return;
    }
    if (apply_add(s, m, a->id, a->public_key, a->projects, a->n_projects) < 0)
        return;
    if (new_key)
        principals_key_added(s, m->who->id, a->id, a->public_key, tell);
    if (save_and_reply(s, m, a->id, "principal key added") == 0)
        log_info("%s registered a key for %s", m->who->id, a->id);
}

static void on_principal_remove_key(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__PrincipalRemoveKey *r = m->env->principal_remove_key;

    if (auth_key_remove(s->auth, r->id, r->public_key) < 0) {
        if (errno == EMLINK)
            rpc_error(s, m, AIFED__ERROR_CODE__ERROR_CONFLICT,
                      "that is the only key of %s: revoke it instead", r->id);
        else
            rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "%s has no such key",
                      r->id);
        return;
    }
    if (save_and_reply(s, m, r->id, "principal key removed") == 0)
        log_info("%s removed a key of %s", m->who->id, r->id);
}

static void on_principal_revoke(struct svc *s, const struct rpc_msg *m)
{
    const char *id = m->env->principal_revoke->id;

    if (!strcmp(id, m->who->id)) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_CONFLICT,
                  "admins cannot revoke themselves (ask another admin)");
        return;
    }
    if (auth_revoke(s->auth, id) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no principal %s", id);
        return;
    }
    if (save_and_reply(s, m, id, "principal revoked") == 0)
        log_warnx("%s revoked %s: its keys are refused from now on", m->who->id, id);
}

static void on_list_principals(struct svc *s, const struct rpc_msg *m)
{
    reply_principals(s, m, NULL);
}

static void on_allocation_set(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__Allocation *a = m->env->allocation_set->allocation;
    struct alloc_entry *e;
    char subject[2 * AF_ID_MAX + 2], text[128];

    if (!sites_known(s->sites, a->site)) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no site %s", a->site);
        return;
    }
    if (!(e = alloc_get(s->allocs, a->project, a->site))) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    e->granted_gpu_s = a->granted_gpu_s;
    e->end_ms = a->end_ms;
    snprintf(subject, sizeof(subject), "%s@%s", e->project, e->site);
    snprintf(text, sizeof(text), "by %s: %.1f GPU-hours", m->who->id,
             (double)e->granted_gpu_s / 3600.0);
    if (ledger_save(s, e) < 0 ||
        store_audit_append(s->store, subject, "", "allocation set", text) < 0) {
        outbox_store_failed(s->outbox, "storing the allocation of %s", subject);
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "could not store it");
        return;
    }
    log_info("%s set the allocation of %s at %s to %.1f GPU-hours", m->who->id,
             e->project, e->site, (double)e->granted_gpu_s / 3600.0);
    rpc_reply_allocations(s, m, e->project, e->site);
}

#define PRINCIPALS "manage principals"

const struct rpc_spec rpc_admin_specs[] = {
    {AIFED__ENVELOPE__BODY_REVOKE, RPC_ADMIN, on_revoke, "revoke leases", 0},
    {AIFED__ENVELOPE__BODY_SITE_ADMIN, RPC_ADMIN, on_site_admin, "act on sites", 0},
    {AIFED__ENVELOPE__BODY_HEALTH, RPC_ADMIN, on_health, "ask the broker's health", 0},
    {AIFED__ENVELOPE__BODY_LIST_AUDIT, RPC_ADMIN, on_list_audit, "read the audit log",
     RPC_READS},
    {AIFED__ENVELOPE__BODY_ALLOCATION_SET, RPC_ADMIN, on_allocation_set,
     "set allocations", 0},
    {AIFED__ENVELOPE__BODY_PRINCIPAL_ADD, RPC_ADMIN, on_principal_add, PRINCIPALS, 0},
    {AIFED__ENVELOPE__BODY_PRINCIPAL_REMOVE_KEY, RPC_ADMIN, on_principal_remove_key,
     PRINCIPALS, 0},
    {AIFED__ENVELOPE__BODY_PRINCIPAL_REVOKE, RPC_ADMIN, on_principal_revoke, PRINCIPALS,
     0},
    {AIFED__ENVELOPE__BODY_LIST_PRINCIPALS, RPC_ADMIN, on_list_principals, PRINCIPALS,
     RPC_READS},
    {0, 0, NULL, NULL, 0},
};
