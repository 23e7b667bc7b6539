/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oidc: ID tokens from the one OpenID provider the broker trusts
 * (oidc_issuer; MyAccessID for EuroHPC), checked for a login: the issuer,
 * a signature by a key the issuer publishes (its JWKS), the audience
 * (oidc_audience, aifedctl's client id), the expiry; then the user a claim
 * names and the projects another claim gives. cjose does the JOSE parts.
 *
 * The keys are cached here and fetched by the server (server/jwks.c, off
 * the loop): at start, every oidc_jwks_refresh, and when a token names a
 * key not cached (a rotation), at most every OIDC_REFETCH_MS. A token is
 * taken by one key: the hash of each one used, and of the key, is kept
 * until it expires (at most OIDC_USED_MAX), so one seen in passing after
 * its use enrols no other key.
 */
#ifndef OIDC_H
#define OIDC_H

#include "af_error.h"
#include "af_ids.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OIDC_MAX_KEYS     16
#define OIDC_MAX_PROJECTS 32
#define OIDC_USED_MAX     65536
#define OIDC_REFETCH_MS   5000
#define OIDC_JWKS_MAX     (256 * 1024)
#define OIDC_TOKEN_MAX    8192
#define OIDC_FUTURE_S     60 /* iat or nbf ahead of our clock, at most */

struct oidc;

/* How tokens are checked: borrowed, from broker.conf. */
struct oidc_conf {
    const char *issuer;
    const char *audience;
    const char *user_claim;     /* its value names the user */
    const char *user_suffix;    /* ... less this ending ("" none) */
    const char *projects_claim; /* NULL: none; a list of strings, or one */
    const char *project_prefix; /* values that start so, less it, to '#' */
    uint64_t refresh_ms;        /* the JWKS fetched again this often */
};

/* What a good token says. */
struct oidc_claims {
    char user[AF_ID_MAX + 8]; /* "user:NAME" */
    char *projects[OIDC_MAX_PROJECTS];
    char project_buf[OIDC_MAX_PROJECTS][AF_ID_MAX + 1];
    size_t n_projects;
    int64_t expires_s;
};

struct oidc *oidc_create(void);
void oidc_destroy(struct oidc *o);
/* The config in force (a reload sets it again; an issuer changed drops the
 * keys). */
void oidc_set_conf(struct oidc *o, const struct oidc_conf *c);
/* The issuer tokens are checked against, or NULL: OpenID logins are off. */
const char *oidc_issuer(const struct oidc *o);

/* Whether the keys should be fetched now (now_ms monotonic): none yet, the
 * refresh period passed, or a token asked for an unknown key. The server
 * then fetches and calls oidc_set_keys or oidc_fetch_failed. */
bool oidc_fetch_due(const struct oidc *o, int64_t now_ms);
void oidc_fetch_started(struct oidc *o, int64_t now_ms);
/* The issuer's JWKS (its JSON text) replaces the cached keys: 0, or -1
 * with err (the old keys stay). */
int oidc_set_keys(struct oidc *o, const char *jwks, int64_t now_ms, struct af_error *err);
void oidc_fetch_failed(struct oidc *o, const char *why);

/* Check token, sent to enrol key (Z85), at now_s (the lease clock's
 * seconds; mono_ms the monotonic clock): 0 with claims filled and the
 * token taken by key; -1 with err saying which check failed; 1 when it
 * names a key not cached (a fetch is asked: ask again in a moment). */
int oidc_verify(struct oidc *o, const char *token, const char *key, int64_t now_s,
                int64_t mono_ms, struct oidc_claims *claims, struct af_error *err);

#endif
