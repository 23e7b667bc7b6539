/* SPDX-License-Identifier: Apache-2.0 */
/*
 * principals: the file gives each principal a kind and a name; the registry
 * speaks of ids ("kind:name"). The store keeps whole entries (keys,
 * projects, revoked), so loading one replaces what the file said of it.
 */
#include "principals.h"
#include "af_log.h"
#include "af_time.h"
#include "auth.h"
#include "bconf.h"
#include "outbox.h"
#include "sites.h"
#include "store.h"
#include "store_audit.h"
#include "svc.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static enum auth_kind kind_of(enum bconf_kind k)
{
    static const enum auth_kind kinds[] = {[BCONF_SITE] = AUTH_SITE,
                                           [BCONF_USER] = AUTH_USER,
                                           [BCONF_ADMIN] = AUTH_ADMIN,
                                           [BCONF_GATEWAY] = AUTH_GATEWAY};

    return kinds[k];
}

static void id_of(const struct bconf_principal *p, char *buf, size_t size)
{
    snprintf(buf, size, "%s:%s", bconf_kind_name(p->kind), p->name);
}

int principals_site(struct svc *s, const char *id)
{
    if (strncmp(id, "site:", 5) || sites_add(s->sites, id + 5) == 0 || errno == EEXIST)
        return 0;
    return -1;
}

void principals_to_msg(const struct auth_principal *p, struct principals_msg *m)
{
    Aifed__Principal *out = &m->msg;

    aifed__principal__init(out);
    out->id = (char *)p->id;
    for (size_t k = 0; k < p->n_keys; k++) {
        m->keys[k] = (char *)p->keys[k];
        aifed__key_record__init(&m->recs[k]);
        m->recs[k].public_key = (char *)p->keys[k];
        m->recs[k].added_ms = p->origin[k].added_ms;
        m->recs[k].added_by =
            (char *)(*p->origin[k].by ? p->origin[k].by : "broker.conf");
        m->rec_ptrs[k] = &m->recs[k];
    }
    out->public_keys = m->keys;
    out->n_public_keys = p->n_keys;
    out->keys = m->rec_ptrs;
    out->n_keys = p->n_keys;
    out->projects = p->projects;
    out->n_projects = p->n_projects;
    out->revoked = p->revoked;
    out->from_config = p->from_config;
    out->notice = (char *)p->notice;
    for (size_t k = 0; k < p->n_enrolled; k++) {
        aifed__enrolment__init(&m->enrols[k]);
        m->enrols[k].public_key = (char *)p->enrolled[k].key;
        m->enrols[k].expires_ms = p->enrolled[k].expires_ms;
        m->enrols[k].how = (char *)p->enrolled[k].how;
        m->enrol_ptrs[k] = &m->enrols[k];
    }
    out->enrolments = m->enrol_ptrs;
    out->n_enrolments = p->n_enrolled;
    out->updated_ms = af_now_ms();
}

void principals_key_added(struct svc *s, const char *by, const char *id, const char *key,
                          bool tell)
{
    const struct auth_principal *p = auth_find(s->auth, id);
    char when[64], text[AUTH_NOTICE_MAX];

    auth_key_origin(s->auth, id, key, by, svc_now_ms(s));
    if (!tell || !p || !strcmp(by, id) || !strncmp(id, "site:", 5))
        return;
    af_time_format(svc_now_ms(s), when, sizeof(when));
    snprintf(text, sizeof(text),
             "%s added a key (%.8s...) to %s at %s: whoever holds it acts as you. If "
             "you did not ask for it, tell your site's security contact; `aifedctl "
             "whoami --ack` says you read this",
             by, key, id, when);
    auth_set_notice(s->auth, id, text);
}

int principals_save(struct svc *s, const char *by, const struct auth_principal *p,
                    const char *change)
{
    struct principals_msg msg;
    char text[128];

    auth_set_registry(s->auth, p->id);
    principals_to_msg(p, &msg);
    snprintf(text, sizeof(text), "by %s: %zu key%s", by, p->n_keys,
             p->n_keys == 1 ? "" : "s");
    if (store_principal_put(s->store, &msg.msg) < 0 ||
        store_audit_append(s->store, p->id, p->id, change, text) < 0) {
        outbox_store_failed(s->outbox, "storing principal %s", p->id);
        return -1;
    }
    return 0;
}

static int from_config(struct svc *s, struct af_error *err)
{
    for (size_t i = 0; i < s->conf->n_principals; i++) {
        const struct bconf_principal *p = &s->conf->principals[i];

        if (auth_add(s->auth, kind_of(p->kind), p->name, p->public_z85, p->projects.v,
                     p->projects.n) < 0)
            return af_error_set(err, "principal %s:%s: %s", bconf_kind_name(p->kind),
                                p->name, strerror(errno));
        if (p->kind == BCONF_SITE && sites_add(s->sites, p->name) < 0)
            return af_error_set(err, "site %s: %s", p->name, strerror(errno));
    }
    return 0;
}

/* One stored principal, over what the file said of it. */
static int load_one(const Aifed__Principal *p, void *arg)
{
    struct svc *s = arg;

    if (p->n_public_keys == 0 && p->n_enrolments == 0)
        return 0;
    /* Revoke first: auth_key_add then starts from the stored keys only
     * (one a login made has none: its enrolments make it). */
    if (p->n_public_keys)
        auth_revoke(s->auth, p->id);
    auth_set_registry(s->auth, p->id);
    for (size_t k = 0; k < p->n_public_keys; k++)
        if (auth_key_add(s->auth, p->id, p->public_keys[k], p->projects, p->n_projects,
                         true) < 0)
            log_warnx("stored principal %s: key %zu not applied: %s", p->id, k,
                      strerror(errno));
    /* Where each key came from (a store of before: not known, so none). */
    for (size_t k = 0; k < p->n_keys; k++)
        auth_key_origin(s->auth, p->id, p->keys[k]->public_key, p->keys[k]->added_by,
                        p->keys[k]->added_ms);
    for (size_t k = 0; k < p->n_enrolments; k++)
        if (p->enrolments[k]->expires_ms > svc_now_ms(s) &&
            auth_enrol(s->auth, p->id, p->enrolments[k]->public_key,
                       p->enrolments[k]->expires_ms, p->enrolments[k]->how, p->projects,
                       p->n_projects) < 0)
            log_warnx("stored principal %s: an enrolment not applied: %s", p->id,
                      strerror(errno));
    auth_set_notice(s->auth, p->id, p->notice);
    if (p->revoked)
        auth_revoke(s->auth, p->id);
    return principals_site(s, p->id);
}

int principals_bootstrap(struct svc *s, struct af_error *err)
{
    if (from_config(s, err) < 0)
        return -1;
    if (store_principal_list(s->store, load_one, s) < 0)
        return af_error_set(err, "loading the principal registry: %s", strerror(errno));
    return 0;
}

int principals_restore(struct svc *s)
{
    char id[AF_ID_MAX + 8];

    auth_reset(s->auth);
    for (size_t i = 0; i < s->conf->n_principals; i++) {
        const struct bconf_principal *p = &s->conf->principals[i];

        id_of(p, id, sizeof(id));
        if (auth_key_add(s->auth, id, p->public_z85, p->projects.v, p->projects.n, true) <
            0)
            log_warnx("restoring %s from %s: %s", id, s->conf->path, strerror(errno));
    }
    return store_principal_list(s->store, load_one, s);
}

static bool same_projects(const struct auth_principal *p, const struct af_strv *v)
{
    if (p->n_projects != v->n)
        return false;
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(p->projects[i], v->v[i]))
            return false;
    return true;
}

/* Whether the file governs id (it came from the file and no admin changed it). */
static const struct auth_principal *file_governs(struct svc *s, const char *id)
{
    const struct auth_principal *p = auth_find(s->auth, id);

    return p && p->from_config && !p->in_registry ? p : NULL;
}

static bool listed(const struct bconf *c, const char *id)
{
    char other[AF_ID_MAX + 8];

    for (size_t i = 0; i < c->n_principals; i++) {
        id_of(&c->principals[i], other, sizeof(other));
        if (!strcmp(other, id))
            return true;
    }
    return false;
}

static bool differs(const struct auth_principal *cur, const struct bconf_principal *p)
{
    return cur->revoked || cur->n_keys != 1 || strcmp(cur->keys[0], p->public_z85) ||
           !same_projects(cur, &p->projects);
}

void principals_reload(struct svc *s, const struct bconf *old, const struct bconf *c)
{
    size_t added = 0, changed = 0, revoked = 0;
    char id[AF_ID_MAX + 8];

    for (size_t i = 0; i < c->n_principals; i++) {
        const struct bconf_principal *p = &c->principals[i];
        const struct auth_principal *cur;

        id_of(p, id, sizeof(id));
        if (!(cur = auth_find(s->auth, id))) {
            if (auth_add(s->auth, kind_of(p->kind), p->name, p->public_z85, p->projects.v,
                         p->projects.n) < 0 ||
                principals_site(s, id) < 0)
                log_warnx("reload: %s not added: %s", id, strerror(errno));
            else
                added++;
        } else if (file_governs(s, id) && differs(cur, p)) {
            auth_revoke(s->auth, id); /* then back with the file's key only */
            if (auth_key_add(s->auth, id, p->public_z85, p->projects.v, p->projects.n,
                             true) < 0)
                log_warnx("reload: %s not changed: %s", id, strerror(errno));
            else
                changed++;
        }
    }
    for (size_t i = 0; i < old->n_principals; i++) {
        const struct auth_principal *cur;

        id_of(&old->principals[i], id, sizeof(id));
        if (!listed(c, id) && (cur = file_governs(s, id)) && !cur->revoked) {
            auth_revoke(s->auth, id);
            revoked++;
        }
    }
    log_info("reload: principals from %s: %zu added, %zu changed, %zu revoked", c->path,
             added, changed, revoked);
}
