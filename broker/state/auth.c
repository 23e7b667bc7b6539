/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth: the principal registry in memory. Principals are allocated one by one
 * and never move, so handlers may keep pointers to them; a revoked one stays,
 * refused. A linear scan finds them: the registry is what operators and
 * admins configure, not what the wire grows.
 */
#include "auth.h"
#include "af_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct auth {
    struct auth_principal **v; /* each allocated apart: handlers keep pointers */
    size_t n;
    bool login; /* keys nobody registered are admitted as AUTH_ANON_ID */
};

struct auth *auth_create(void)
{
    return calloc(1, sizeof(struct auth));
}

void auth_destroy(struct auth *a)
{
    int saved = errno;

    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        for (size_t j = 0; j < a->v[i]->n_projects; j++)
            free(a->v[i]->projects[j]);
        free(a->v[i]->projects);
        free(a->v[i]);
    }
    free(a->v);
    free(a);
    errno = saved;
}

static const char *const kind_prefix[] = {"site", "user", "admin", "gateway", "anon"};

/* A key registered to p, or enrolled for it by a login (one that expired
 * goes at the next auth_expire(), within the broker's tick). */
static bool owns_key(const struct auth_principal *p, const char *z85)
{
    for (size_t k = 0; k < p->n_keys; k++)
        if (!strcmp(p->keys[k], z85))
            return true;
    for (size_t k = 0; k < p->n_enrolled; k++)
        if (!strcmp(p->enrolled[k].key, z85))
            return true;
    return false;
}

/* Another principal than p that has z85, or NULL. */
static const struct auth_principal *
other_owner(const struct auth *a, const struct auth_principal *p, const char *z85)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i] != p && owns_key(a->v[i], z85))
            return a->v[i];
    return NULL;
}

static int set_projects(struct auth_principal *p, char *const *projects, size_t n)
{
    char **v = calloc(n ? n : 1, sizeof(*v));

    if (!v)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!(v[i] = strdup(projects[i]))) {
            while (i--)
                free(v[i]);
            free(v);
            errno = ENOMEM;
            return -1;
        }
    for (size_t i = 0; i < p->n_projects; i++)
        free(p->projects[i]);
    free(p->projects);
    p->projects = v;
    p->n_projects = n;
    return 0;
}

/* A new principal kind:name with projects and no key, appended (its
 * index the next). NULL with errno EEXIST, ENOMEM. */
static struct auth_principal *new_principal(struct auth *a, enum auth_kind kind,
                                            const char *name, char *const *projects,
                                            size_t n_projects)
{
    struct auth_principal *p, **grown;
    char id[sizeof(p->id)];

    snprintf(id, sizeof(id), "%s:%s", kind_prefix[kind], name);
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->v[i]->id, id)) {
            errno = EEXIST;
            return NULL;
        }
    grown = realloc(a->v, (a->n + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    a->v = grown;
    if (!(p = calloc(1, sizeof(*p))))
        return NULL;
    p->index = a->n;
    p->kind = kind;
    snprintf(p->id, sizeof(p->id), "%s", id);
    p->name = strchr(p->id, ':') + 1;
    if (n_projects && set_projects(p, projects, n_projects) < 0) {
        free(p);
        return NULL;
    }
    a->v[a->n++] = p;
    return p;
}

int auth_add(struct auth *a, enum auth_kind kind, const char *name,
             const char *public_z85, char *const *projects, size_t n_projects)
{
    struct auth_principal *p;

    if (other_owner(a, NULL, public_z85)) {
        errno = EEXIST;
        return -1;
    }
    if (!(p = new_principal(a, kind, name, projects, n_projects)))
        return -1;
    snprintf(p->keys[0], sizeof(p->keys[0]), "%s", public_z85);
    snprintf(p->origin[0].by, sizeof(p->origin[0].by), "broker.conf");
    p->n_keys = 1;
    p->from_config = true;
    return 0;
}

static struct auth_principal *find_mut(struct auth *a, const char *id)
{
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->v[i]->id, id))
            return a->v[i];
    return NULL;
}

static int parse_id(const char *id, enum auth_kind *kind, const char **name)
{
    for (int k = 0; k < AUTH_ANON; k++) { /* no one registers anon: */
        size_t n = strlen(kind_prefix[k]);
        if (!strncmp(id, kind_prefix[k], n) && id[n] == ':' && af_id_valid(id + n + 1)) {
            *kind = (enum auth_kind)k;
            *name = id + n + 1;
            return 0;
        }
    }
    errno = EINVAL;
    return -1;
}

int auth_key_add(struct auth *a, const char *id, const char *public_z85,
                 char *const *projects, size_t n_projects, bool set)
{
    struct auth_principal *p = find_mut(a, id);
    enum auth_kind kind;
    const char *name;

    if (parse_id(id, &kind, &name) < 0)
        return -1;
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i] != p && owns_key(a->v[i], public_z85)) {
            errno = EEXIST;
            return -1;
        }
    if (!p) {
        if (auth_add(a, kind, name, public_z85, projects, n_projects) < 0)
            return -1;
        a->v[a->n - 1]->from_config = false;
        return 0;
    }
    if (p->revoked) { /* back, with the new key only */
        p->n_keys = 0;
        p->revoked = false;
    }
    if (owns_key(p, public_z85) && !set) {
        errno = EEXIST;
        return -1;
    }
    if (!owns_key(p, public_z85)) {
        if (p->n_keys == AUTH_MAX_KEYS) {
            errno = E2BIG;
            return -1;
        }
        snprintf(p->keys[p->n_keys], sizeof(p->keys[0]), "%s", public_z85);
        p->origin[p->n_keys] = (struct auth_key_origin){0};
        p->n_keys++;
    }
    if (set && set_projects(p, projects, n_projects) < 0)
        return -1;
    return 0;
}

int auth_key_remove(struct auth *a, const char *id, const char *public_z85)
{
    struct auth_principal *p = find_mut(a, id);

    if (!p || p->revoked || !owns_key(p, public_z85)) {
        errno = ENOENT;
        return -1;
    }
    if (p->n_keys == 1) {
        errno = EMLINK;
        return -1;
    }
    if (!strcmp(p->keys[0], public_z85)) {
        memcpy(p->keys[0], p->keys[1], sizeof(p->keys[0]));
        p->origin[0] = p->origin[1];
    }
    p->n_keys = 1;
    return 0;
}

void auth_key_origin(struct auth *a, const char *id, const char *public_z85,
                     const char *by, int64_t added_ms)
{
    struct auth_principal *p = find_mut(a, id);

    for (size_t k = 0; p && k < p->n_keys; k++)
        if (!strcmp(p->keys[k], public_z85)) {
            p->origin[k].added_ms = added_ms;
            snprintf(p->origin[k].by, sizeof(p->origin[k].by), "%s", by);
        }
}

void auth_set_notice(struct auth *a, const char *id, const char *text)
{
    struct auth_principal *p = find_mut(a, id);

    if (p)
        snprintf(p->notice, sizeof(p->notice), "%s", text ? text : "");
}

int auth_revoke(struct auth *a, const char *id)
{
    struct auth_principal *p = find_mut(a, id);

    if (!p) {
        errno = ENOENT;
        return -1;
    }
    p->revoked = true;
    return 0;
}

void auth_reset(struct auth *a)
{
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i]->kind == AUTH_ANON)
            continue;
        a->v[i]->revoked = true;
        a->v[i]->n_keys = 0;
        a->v[i]->n_enrolled = 0;
        a->v[i]->in_registry = false;
    }
}

int auth_set_login(struct auth *a, bool open)
{
    a->login = open;
    if (open && !auth_find(a, AUTH_ANON_ID) &&
        !new_principal(a, AUTH_ANON, strchr(AUTH_ANON_ID, ':') + 1, NULL, 0))
        return -1;
    return 0;
}

/* Where key goes among p's enrolments: its own, a free one, or the one
 * that expires first. */
static struct auth_enrolment *enrol_slot(struct auth_principal *p, const char *key)
{
    size_t first = 0;

    for (size_t k = 0; k < p->n_enrolled; k++) {
        if (!strcmp(p->enrolled[k].key, key))
            return &p->enrolled[k];
        if (p->enrolled[k].expires_ms < p->enrolled[first].expires_ms)
            first = k;
    }
    if (p->n_enrolled < AUTH_MAX_ENROLLED)
        return &p->enrolled[p->n_enrolled++];
    return &p->enrolled[first];
}

int auth_enrol(struct auth *a, const char *id, const char *key, int64_t expires_ms,
               const char *how, char *const *projects, size_t n_projects)
{
    struct auth_principal *p = find_mut(a, id);
    struct auth_enrolment *e;
    enum auth_kind kind;
    const char *name;

    if (parse_id(id, &kind, &name) < 0)
        return -1;
    if (kind != AUTH_USER || (p && p->revoked)) {
        errno = EPERM;
        return -1;
    }
    if (other_owner(a, p, key)) {
        errno = EEXIST;
        return -1;
    }
    if (!p) {
        if (!(p = new_principal(a, kind, name, projects, n_projects)))
            return -1;
        p->from_config = false;
    }
    e = enrol_slot(p, key);
    snprintf(e->key, sizeof(e->key), "%s", key);
    snprintf(e->how, sizeof(e->how), "%s", how);
    e->expires_ms = expires_ms;
    return 0;
}

int auth_set_projects(struct auth *a, const char *id, char *const *projects,
                      size_t n_projects)
{
    struct auth_principal *p = find_mut(a, id);

    if (!p || p->kind != AUTH_USER) {
        errno = ENOENT;
        return -1;
    }
    if (!n_projects) {
        errno = EINVAL;
        return -1;
    }
    return set_projects(p, projects, n_projects);
}

int auth_unenrol(struct auth *a, const char *id, const char *key)
{
    struct auth_principal *p = find_mut(a, id);

    for (size_t k = 0; p && k < p->n_enrolled; k++)
        if (!strcmp(p->enrolled[k].key, key)) {
            p->enrolled[k] = p->enrolled[--p->n_enrolled];
            return 0;
        }
    errno = ENOENT;
    return -1;
}

size_t auth_expire(struct auth *a, int64_t now_ms)
{
    size_t gone = 0;

    for (size_t i = 0; i < a->n; i++) {
        struct auth_principal *p = a->v[i];

        for (size_t k = 0; k < p->n_enrolled;)
            if (p->enrolled[k].expires_ms <= now_ms) {
                p->enrolled[k] = p->enrolled[--p->n_enrolled];
                gone++;
            } else {
                k++;
            }
    }
    return gone;
}

void auth_set_registry(struct auth *a, const char *id)
{
    struct auth_principal *p = find_mut(a, id);

    if (p)
        p->in_registry = true;
}

void auth_each(const struct auth *a, auth_fn fn, void *arg)
{
    for (size_t i = 0; i < a->n; i++)
        fn(a->v[i], arg);
}

size_t auth_count(const struct auth *a)
{
    return a->n;
}

const struct auth_principal *auth_find(const struct auth *a, const char *id)
{
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->v[i]->id, id))
            return a->v[i];
    return NULL;
}

const struct auth_principal *auth_check(const struct auth *a, const char *user_id)
{
    /* Ids cannot hold '/', Z85 keys can: the first '/' is the separator. */
    const char *slash = strchr(user_id, '/');
    char id[AF_ID_MAX + 8];
    const struct auth_principal *p;

    if (!slash || (size_t)(slash - user_id) >= sizeof(id))
        return NULL;
    memcpy(id, user_id, (size_t)(slash - user_id));
    id[slash - user_id] = '\0';
    p = auth_find(a, id);
    if (p && p->kind == AUTH_ANON) /* while logins are taken, for keys of no one */
        return a->login && !other_owner(a, p, slash + 1) ? p : NULL;
    return p && !p->revoked && owns_key(p, slash + 1) ? p : NULL;
}

bool auth_may_use_project(const struct auth_principal *p, const char *project)
{
    if (p->kind == AUTH_ADMIN)
        return true;
    if (p->kind != AUTH_USER)
        return false;
    for (size_t i = 0; i < p->n_projects; i++)
        if (!strcmp(p->projects[i], project))
            return true;
    return false;
}

/* Which principal, if any, may use this key on this domain. Any registered
 * key is admitted on either endpoint: what each principal may do there is
 * the dispatch's to say (a site reads its own view on the clients'; a user
 * on the agents' is told where it should be), which a refusal here could
 * not (libzmq gives the peer a bare status code). */
static const struct auth_principal *decide(const struct auth *a, const char *domain,
                                           const char *z85)
{
    if (strcmp(domain, AUTH_DOMAIN_AGENT) && strcmp(domain, AUTH_DOMAIN_CLIENT))
        return NULL;
    for (size_t i = 0; i < a->n; i++)
        if (!a->v[i]->revoked && owns_key(a->v[i], z85))
            return a->v[i];
    /* A key of no one may log in, on the clients' socket only. */
    return a->login && !strcmp(domain, AUTH_DOMAIN_CLIENT) ? auth_find(a, AUTH_ANON_ID)
                                                           : NULL;
}

int auth_decide(const char *domain, const char *address, const char *key_z85, char *user,
                size_t size, void *arg)
{
    const struct auth_principal *p = decide(arg, domain, key_z85);

    if (!p) {
        /* Which key, so that an operator can tell a user's new key that was
         * never added from a wrong socket (public keys: nothing secret). */
        log_info("refused a connection from %s on the %s socket: public key %s is not "
                 "registered",
                 address, domain, key_z85);
        return -1;
    }
    /* The key goes with the id, so that every message can be checked against
     * the key's state now, not at the handshake (revocation, the end of a key
     * change-over). */
    if (snprintf(user, size, "%s/%s", p->id, key_z85) >= (int)size)
        return -1;
    log_debug("ZAP: %s from %s on %s accepted", p->id, address, domain);
    return 0;
}
