/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_admin: what only admins do. Revoke a lease; drain a site or confirm
 * that silent sites are DOWN (the isolation guard); and the principal
 * registry: add principals (or a second key for a change-over), remove a
 * key, revoke, and list. broker.conf's
 * principals are the bootstrap set; what admins change here is stored in
 * LMDB and applied over it at every start. A change reaches open connections
 * at once: every message is checked against its key's current state.
 */
#include "af_log.h"
#include "af_time.h"
#include "af_wire.h"
#include "bconf.h"
#include "lease.h"
#include "limit.h"
#include "rpc.h"
#include "sites.h"
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The registry entry as stored and listed; strings borrowed from p. */
static void to_msg(const struct auth_principal *p, Aifed__Principal *out, char **keys)
{
    aifed__principal__init(out);
    out->id = (char *)p->id;
    for (size_t k = 0; k < p->n_keys; k++)
        keys[k] = (char *)p->keys[k];
    out->public_keys = keys;
    out->n_public_keys = p->n_keys;
    out->projects = p->projects;
    out->n_projects = p->n_projects;
    out->revoked = p->revoked;
    out->from_config = p->from_config;
    out->updated_ms = af_now_ms();
}

/* Store p as changed by m, and say so in the audit log. */
static int save(struct server *srv, const struct rpc_msg *m,
                const struct auth_principal *p, const char *change)
{
    Aifed__Principal msg;
    char *keys[AUTH_MAX_KEYS];
    char text[128];

    auth_set_registry(srv->auth, p->id);
    to_msg(p, &msg, keys);
    snprintf(text, sizeof(text), "by %s: %zu key%s", m->who->id, p->n_keys,
             p->n_keys == 1 ? "" : "s");
    if (store_principal_put(srv->store, &msg) < 0 ||
        store_audit_append(srv->store, p->id, p->id, change, text) < 0) {
        rpc_store_failed(srv, "storing principal %s", p->id);
        return -1;
    }
    return 0;
}

/* Per-principal state (rate buckets) follows the registry's growth. */
static int grow_buckets(struct server *srv)
{
    size_t n = auth_count(srv->auth) + 1;
    struct limit_bucket *b = realloc(srv->buckets, n * sizeof(*b));

    if (!b)
        return -1;
    memset(b + srv->n_buckets, 0, (n - srv->n_buckets) * sizeof(*b));
    srv->buckets = b;
    srv->n_buckets = n;
    return 0;
}

struct plist {
    Aifed__Principal *v;
    Aifed__Principal **ptrs;
    char *(*keys)[AUTH_MAX_KEYS];
    size_t n;
    const char *only;
};

static void plist_add(const struct auth_principal *p, void *arg)
{
    struct plist *l = arg;

    if (l->only && strcmp(l->only, p->id))
        return;
    to_msg(p, &l->v[l->n], l->keys[l->n]);
    l->ptrs[l->n] = &l->v[l->n];
    l->n++;
}

static void reply_principals(struct server *srv, const struct rpc_msg *m,
                             const char *only)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__PrincipalList list = AIFED__PRINCIPAL_LIST__INIT;
    size_t n = auth_count(srv->auth);
    struct plist l = {.only = only};

    l.v = calloc(n ? n : 1, sizeof(*l.v));
    l.ptrs = calloc(n ? n : 1, sizeof(*l.ptrs));
    l.keys = calloc(n ? n : 1, sizeof(*l.keys));
    if (!l.v || !l.ptrs || !l.keys) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
    } else {
        auth_each(srv->auth, plist_add, &l);
        list.principals = l.ptrs;
        list.n_principals = l.n;
        env.body_case = AIFED__ENVELOPE__BODY_PRINCIPAL_LIST;
        env.principal_list = &list;
        rpc_reply(srv, m, &env);
    }
    free(l.v);
    free(l.ptrs);
    free(l.keys);
}

static bool admin_only(struct server *srv, const struct rpc_msg *m, const char *what)
{
    if (m->who->kind == AUTH_ADMIN)
        return true;
    rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN, "only admins %s", what);
    return false;
}

#define PRINCIPALS "manage principals"

void rpc_revoke(struct server *srv, const struct rpc_msg *m)
{
    const Aifed__Revoke *r = m->env->revoke;
    Aifed__Lease *stored, l;
    char reason[AF_WIRE_MAX_TEXT];

    if (!admin_only(srv, m, "revoke leases"))
        return;
    if (store_lease_get(srv->store, r->lease_id, &stored) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no lease %s", r->lease_id);
        return;
    }
    l = *stored;
    l.state = lease_next(stored->state, LEASE_EV_REVOKE);
    if ((int)l.state < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_CONFLICT, "lease %s is already %s",
                  l.id, lease_state_name(stored->state));
    } else {
        l.updated_ms = af_now_ms();
        l.gpu_seconds_used =
            lease_usage(l.gpus, l.workload->walltime_s, l.activated_ms, l.updated_ms);
        snprintf(reason, sizeof(reason), "revoked by %s%s%.400s", m->who->id,
                 *r->reason ? ": " : "", r->reason);
        l.reason = reason;
        if (rpc_put(srv, &l, NULL) == 0) {
            log_warnx("lease %s %s; site %s told to drop the hold", l.id, reason, l.site);
            rpc_lease_closed(srv, &l); /* sends the site its LeaseRelease */
            rpc_reply_lease(srv, m, &l);
        }
    }
    store_lease_free(srv->store, stored);
}

struct audit_page {
    Aifed__AuditEntry **v;
    size_t n, limit;
    int64_t since_ms;
    uint64_t last_seq;
    bool more;
};

static int audit_add(const Aifed__AuditEntry *e, void *arg)
{
    struct audit_page *p = arg;
    size_t len = aifed__audit_entry__get_packed_size(e);
    uint8_t *buf;

    p->last_seq = e->seq;
    if (e->time_ms < p->since_ms)
        return 0;
    if (p->n == p->limit) {
        p->more = true;
        return 1;
    }
    /* Borrowed for this call only: keep a copy for the reply. */
    if (!(buf = malloc(len ? len : 1)))
        return -1;
    aifed__audit_entry__pack(e, buf);
    p->v[p->n] = aifed__audit_entry__unpack(NULL, len, buf);
    free(buf);
    return p->v[p->n] ? (p->n++, 0) : -1;
}

void rpc_list_audit(struct server *srv, const struct rpc_msg *m)
{
    const Aifed__ListAudit *q = m->env->list_audit;
    struct audit_page p = {.limit = q->limit ? q->limit : 100, .since_ms = q->since_ms};
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__AuditList list = AIFED__AUDIT_LIST__INIT;

    if (!admin_only(srv, m, "read the audit log"))
        return;
    if (!(p.v = calloc(p.limit, sizeof(*p.v)))) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    if (store_audit_list(srv->store, q->after_seq, audit_add, &p) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL,
                  "reading the audit log failed");
    } else {
        list.entries = p.v;
        list.n_entries = p.n;
        /* Where the next page starts: after the last entry returned. */
        list.next_seq = p.more && p.n ? p.v[p.n - 1]->seq : 0;
        env.body_case = AIFED__ENVELOPE__BODY_AUDIT_LIST;
        env.audit_list = &list;
        rpc_reply(srv, m, &env);
    }
    for (size_t i = 0; i < p.n; i++)
        aifed__audit_entry__free_unpacked(p.v[i], NULL);
    free(p.v);
}

static void on_site_down(const char *site, bool up, void *arg)
{
    (void)up;
    (void)arg;
    log_warnx("site %s is DOWN: an admin confirmed its silence", site);
}

void rpc_site_admin(struct server *srv, const struct rpc_msg *m)
{
    const Aifed__SiteAdmin *a = m->env->site_admin;

    if (!admin_only(srv, m, "act on sites"))
        return;
    if (a->action == AIFED__SITE_ACTION__SITE_CONFIRM_DOWN) {
        sites_confirm_down(srv->sites, af_now_ms(), on_site_down, srv);
        srv->isolated = false;
    } else if (sites_drain(srv->sites, a->site,
                           a->action == AIFED__SITE_ACTION__SITE_DRAIN) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no site %s", a->site);
        return;
    } else {
        log_info("%s %s site %s", m->who->id,
                 a->action == AIFED__SITE_ACTION__SITE_DRAIN ? "drained" : "undrained",
                 a->site);
    }
    rpc_reply_sites(srv, m);
}

/* Apply an add to auth (and sites); 0, or -1 with the error sent. */
static int apply_add(struct server *srv, const struct rpc_msg *m, const char *id,
                     const char *key, char *const *projects, size_t n_projects)
{
    const struct auth_principal *before = auth_find(srv->auth, id);

    if (!strncmp(id, "user:", 5) && n_projects == 0 && (!before || before->revoked)) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_BAD_REQUEST,
                  "a user needs the projects it may act for");
        return -1;
    }
    if (auth_key_add(srv->auth, id, key, projects, n_projects, n_projects > 0) < 0) {
        rpc_error(srv, m,
                  errno == EEXIST || errno == E2BIG
                      ? AIFED__ERROR_CODE__ERROR_CONFLICT
                      : AIFED__ERROR_CODE__ERROR_BAD_REQUEST,
                  "%s",
                  errno == EEXIST  ? "that key is already registered"
                  : errno == E2BIG ? "it has two keys already: remove one first"
                                   : "cannot register it");
        return -1;
    }
    if (!strncmp(id, "site:", 5) && sites_add(srv->sites, id + 5) < 0 &&
        errno != EEXIST) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return -1;
    }
    return grow_buckets(srv);
}

void rpc_principal_add(struct server *srv, const struct rpc_msg *m)
{
    const Aifed__PrincipalAdd *a = m->env->principal_add;

    if (!admin_only(srv, m, PRINCIPALS) ||
        apply_add(srv, m, a->id, a->public_key, a->projects, a->n_projects) < 0)
        return;
    if (save(srv, m, auth_find(srv->auth, a->id), "principal key added") == 0) {
        log_info("%s registered a key for %s", m->who->id, a->id);
        reply_principals(srv, m, a->id);
    }
}

void rpc_principal_remove_key(struct server *srv, const struct rpc_msg *m)
{
    const Aifed__PrincipalRemoveKey *r = m->env->principal_remove_key;

    if (!admin_only(srv, m, PRINCIPALS))
        return;
    if (auth_key_remove(srv->auth, r->id, r->public_key) < 0) {
        if (errno == EMLINK)
            rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_CONFLICT,
                      "that is the only key of %s: revoke it instead", r->id);
        else
            rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "%s has no such key",
                      r->id);
        return;
    }
    if (save(srv, m, auth_find(srv->auth, r->id), "principal key removed") == 0) {
        log_info("%s removed a key of %s", m->who->id, r->id);
        reply_principals(srv, m, r->id);
    }
}

void rpc_principal_revoke(struct server *srv, const struct rpc_msg *m)
{
    const char *id = m->env->principal_revoke->id;

    if (!admin_only(srv, m, PRINCIPALS))
        return;
    if (!strcmp(id, m->who->id)) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_CONFLICT,
                  "admins cannot revoke themselves (ask another admin)");
        return;
    }
    if (auth_revoke(srv->auth, id) < 0) {
        rpc_error(srv, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no principal %s", id);
        return;
    }
    if (save(srv, m, auth_find(srv->auth, id), "principal revoked") == 0) {
        log_warnx("%s revoked %s: its keys are refused from now on", m->who->id, id);
        reply_principals(srv, m, id);
    }
}

void rpc_list_principals(struct server *srv, const struct rpc_msg *m)
{
    if (admin_only(srv, m, PRINCIPALS))
        reply_principals(srv, m, NULL);
}

/* At start: what admins changed, over broker.conf's bootstrap set. */
static int load_one(const Aifed__Principal *p, void *arg)
{
    struct server *srv = arg;

    if (p->n_public_keys == 0)
        return 0;
    /* Revoke first: auth_key_add then starts from the stored keys only. */
    auth_revoke(srv->auth, p->id);
    auth_set_registry(srv->auth, p->id);
    for (size_t k = 0; k < p->n_public_keys; k++)
        if (auth_key_add(srv->auth, p->id, p->public_keys[k], p->projects, p->n_projects,
                         true) < 0)
            log_warnx("stored principal %s: key %zu not applied: %s", p->id, k,
                      strerror(errno));
    if (p->revoked)
        auth_revoke(srv->auth, p->id);
    if (!strncmp(p->id, "site:", 5) && sites_add(srv->sites, p->id + 5) < 0 &&
        errno != EEXIST)
        return -1;
    return 0;
}

int rpc_load_principals(struct server *srv)
{
    if (store_principal_list(srv->store, load_one, srv) < 0)
        return -1;
    return grow_buckets(srv);
}

/* ------------------------------------------------------ SIGHUP: principals */

static bool same_projects(const struct auth_principal *p, const struct af_strv *v)
{
    if (p->n_projects != v->n)
        return false;
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(p->projects[i], v->v[i]))
            return false;
    return true;
}

static void principal_id(const struct bconf_principal *p, char *buf, size_t size)
{
    snprintf(buf, size, "%s:%s", bconf_kind_name(p->kind), p->name);
}

/* Whether the file governs id (it came from the file and no admin changed it). */
static const struct auth_principal *from_file(struct server *srv, const char *id)
{
    const struct auth_principal *p = auth_find(srv->auth, id);

    return p && p->from_config && !p->in_registry ? p : NULL;
}

static bool listed(const struct bconf *c, const char *id)
{
    char other[AF_ID_MAX + 8];

    for (size_t i = 0; i < c->n_principals; i++) {
        principal_id(&c->principals[i], other, sizeof(other));
        if (!strcmp(other, id))
            return true;
    }
    return false;
}

void rpc_reload_principals(struct server *srv, const struct bconf *old,
                           const struct bconf *c)
{
    static const enum auth_kind kinds[] = {AUTH_SITE, AUTH_USER, AUTH_ADMIN};
    size_t added = 0, changed = 0, revoked = 0;
    char id[AF_ID_MAX + 8];

    for (size_t i = 0; i < c->n_principals; i++) {
        const struct bconf_principal *p = &c->principals[i];
        const struct auth_principal *cur;

        principal_id(p, id, sizeof(id));
        if (!(cur = auth_find(srv->auth, id))) {
            if (auth_add(srv->auth, kinds[p->kind], p->name, p->public_z85, p->projects.v,
                         p->projects.n) < 0 ||
                (p->kind == BCONF_SITE && sites_add(srv->sites, p->name) < 0 &&
                 errno != EEXIST))
                log_warnx("reload: %s not added: %s", id, strerror(errno));
            else
                added++;
        } else if ((cur = from_file(srv, id)) && (cur->revoked || cur->n_keys != 1 ||
                                                  strcmp(cur->keys[0], p->public_z85) ||
                                                  !same_projects(cur, &p->projects))) {
            auth_revoke(srv->auth, id); /* then back with the file's key only */
            if (auth_key_add(srv->auth, id, p->public_z85, p->projects.v, p->projects.n,
                             true) < 0)
                log_warnx("reload: %s not changed: %s", id, strerror(errno));
            else
                changed++;
        }
    }
    for (size_t i = 0; i < old->n_principals; i++) {
        const struct auth_principal *cur;

        principal_id(&old->principals[i], id, sizeof(id));
        if (!listed(c, id) && (cur = from_file(srv, id)) && !cur->revoked) {
            auth_revoke(srv->auth, id);
            revoked++;
        }
    }
    if (grow_buckets(srv) < 0)
        log_err("reload: growing the rate limits' table");
    log_info("reload: principals from %s: %zu added, %zu changed, %zu revoked", c->path,
             added, changed, revoked);
}
