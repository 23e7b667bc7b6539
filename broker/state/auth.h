/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth: the principal registry, and the policy of the broker's ZAP handler
 * (common/af_zap frames it). Every CURVE handshake on a broker socket is
 * decided here: a public key maps to exactly one principal ("site:ID",
 * "user:NAME", "admin:NAME"), and that principal string becomes the
 * connection's User-Id, which the broker reads from every message. Unknown
 * keys are refused during the handshake; they never reach a handler. The
 * "agent" domain admits only sites and the "client" domain only users and
 * admins, so a site key cannot call user operations and vice versa.
 */
#ifndef AUTH_H
#define AUTH_H

#include "af_ids.h"
#include "af_keys.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_DOMAIN_AGENT  "agent"
#define AUTH_DOMAIN_CLIENT "client"

/* AUTH_ANON: one principal ("anon:login") for every key nobody
 * registered, when the broker takes logins (auth_set_login); it may only
 * log in. */
/* AUTH_GATEWAY: an aifed-gateway, which may only relay requests to served
 * models (docs/inference.md). */
enum auth_kind { AUTH_SITE, AUTH_USER, AUTH_ADMIN, AUTH_GATEWAY, AUTH_ANON };

#define AUTH_ANON_ID "anon:login"

#define AUTH_MAX_KEYS     2 /* two during a key change-over */
#define AUTH_MAX_ENROLLED 8 /* keys logins enrolled: a user's machines */
#define AUTH_ENROL_HOW    160
#define AUTH_NOTICE_MAX   320

/* Where a key came from. */
struct auth_key_origin {
    int64_t added_ms;       /* 0: at start, from broker.conf */
    char by[AF_ID_MAX + 8]; /* "broker.conf", or the admin's id */
};

/* A key a login enrolled, until it expires. */
struct auth_enrolment {
    char key[AF_KEY_Z85_LEN + 1];
    int64_t expires_ms; /* by the lease clock */
    char how[AUTH_ENROL_HOW];
};

struct auth_principal {
    size_t index; /* 0..auth_count()-1, for per-principal state elsewhere */
    enum auth_kind kind;
    char id[AF_ID_MAX + 8]; /* "user:alice" */
    const char *name;       /* points into id, after the colon */
    char keys[AUTH_MAX_KEYS][AF_KEY_Z85_LEN + 1];
    struct auth_key_origin origin[AUTH_MAX_KEYS]; /* of each of keys */
    size_t n_keys;
    char notice[AUTH_NOTICE_MAX]; /* to be told at its next calls; "" none */
    struct auth_enrolment enrolled[AUTH_MAX_ENROLLED];
    size_t n_enrolled;
    char **projects; /* users: the projects they may act for */
    size_t n_projects;
    bool revoked;     /* every key refused, also on open connections */
    bool from_config; /* registered by broker.conf */
    bool in_registry; /* changed by an admin: the registry, not the file, rules */
};

struct auth;

/* An empty registry; NULL/ENOMEM. */
struct auth *auth_create(void);
void auth_destroy(struct auth *a);

/* Register a principal; projects are copied. -1/EEXIST for a key or id
 * already registered, ENOMEM. */
int auth_add(struct auth *a, enum auth_kind kind, const char *name,
             const char *public_z85, char *const *projects, size_t n_projects);

/* Registry changes (admin calls and the principals stored in LMDB). They
 * keep indexes stable: a revoked principal stays, refused.
 *
 * auth_key_add: register id ("kind:name") with key, or give it a second key;
 * a revoked principal comes back with this key only. projects, when
 * set_projects, replace a user's. -1 with errno EINVAL (bad id), EEXIST (the
 * key belongs to another principal, or this one has it already), E2BIG (two
 * keys already), ENOMEM. */
int auth_key_add(struct auth *a, const char *id, const char *public_z85,
                 char *const *projects, size_t n_projects, bool set_projects);
/* -1/ENOENT (no such principal or key), EMLINK (its only key: revoke it). */
int auth_key_remove(struct auth *a, const char *id, const char *public_z85);
/* -1/ENOENT. */
int auth_revoke(struct auth *a, const char *id);
/* Revoke every principal, forget its keys and whether the registry rules
 * it (before broker.conf and the stored registry are applied again). Every
 * principal stays where it is, with its index. */
void auth_reset(struct auth *a);
/* Mark id as ruled by the registry from now on (no effect when unknown). */
void auth_set_registry(struct auth *a, const char *id);
/* Say where id's key came from (no effect when it has no such key). */
void auth_key_origin(struct auth *a, const char *id, const char *public_z85,
                     const char *by, int64_t added_ms);
/* What id is told at its next calls ("" or NULL: nothing). */
void auth_set_notice(struct auth *a, const char *id, const char *text);

/* Whether keys nobody registered are admitted as AUTH_ANON_ID (which may
 * only log in). -1/ENOMEM. */
int auth_set_login(struct auth *a, bool open);
/* Enrol key for user id until expires_ms: the user is registered (with
 * projects) when it is not yet; an enrolment of the same key is replaced;
 * the one that expires first goes when id has AUTH_MAX_ENROLLED. -1 with
 * errno EEXIST (another principal has the key), EPERM (id is revoked, or
 * not a user), EINVAL, ENOMEM. */
int auth_enrol(struct auth *a, const char *id, const char *key, int64_t expires_ms,
               const char *how, char *const *projects, size_t n_projects);
/* A user's projects replaced (an OpenID login's claims give them). -1 with
 * errno ENOENT (no such user), EINVAL (none), ENOMEM. */
int auth_set_projects(struct auth *a, const char *id, char *const *projects,
                      size_t n_projects);
/* End key's enrolment of id. -1/ENOENT. */
int auth_unenrol(struct auth *a, const char *id, const char *key);
/* Drop enrolments that expired by now_ms; how many went. */
size_t auth_expire(struct auth *a, int64_t now_ms);

/* Visit every principal. */
typedef void (*auth_fn)(const struct auth_principal *p, void *arg);
void auth_each(const struct auth *a, auth_fn fn, void *arg);

/* How many principals are registered (indexes run below this). */
size_t auth_count(const struct auth *a);

/* The ZAP policy (an af_zap_fn, arg the struct auth): a key registered for
 * any principal is admitted on either domain ("agent", "client") with the
 * User-Id "id/key", the dispatch deciding what it may do there; any other
 * key is refused, and the refusal logged with the key. */
int auth_decide(const char *domain, const char *address, const char *key_z85, char *user,
                size_t size, void *arg);

/* The principal with this id ("user:alice"), or NULL. Borrowed, and stable
 * for the auth's lifetime: registry changes never move a principal. */
const struct auth_principal *auth_find(const struct auth *a, const char *id);

/* The principal a ZAP User-Id ("id/key") names, if that key is still valid
 * for it (not revoked, not removed); NULL otherwise. Borrowed. */
const struct auth_principal *auth_check(const struct auth *a, const char *user_id);

/* Admins may act for any project; users for their own. */
bool auth_may_use_project(const struct auth_principal *p, const char *project);

#endif
