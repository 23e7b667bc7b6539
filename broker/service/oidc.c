/* SPDX-License-Identifier: Apache-2.0 */
#include "oidc.h"

#include <cjose/cjose.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KID_MAX 128

/* A token taken: its hash and the key's that took it, until it expires. */
struct used {
    uint8_t hash[16];
    uint8_t by[8];
    int64_t expires_s; /* 0: a free slot */
};

struct oidc {
    struct oidc_conf conf; /* borrowed from the config in force */
    char issuer[512];      /* the issuer the keys are of */
    cjose_jwk_t *keys[OIDC_MAX_KEYS];
    char kids[OIDC_MAX_KEYS][KID_MAX];
    size_t n_keys;
    bool fetched;       /* keys were fetched at least once */
    int64_t fetched_ms; /* the last good fetch (monotonic) */
    int64_t tried_ms;   /* the last fetch started */
    bool in_flight;
    bool want; /* a token named a key not cached */
    char failed[160];
    struct used used[OIDC_USED_MAX];
};

struct oidc *oidc_create(void)
{
    return calloc(1, sizeof(struct oidc));
}

static void drop_keys(struct oidc *o)
{
    for (size_t i = 0; i < o->n_keys; i++)
        cjose_jwk_release(o->keys[i]);
    o->n_keys = 0;
    o->fetched = false;
}

void oidc_destroy(struct oidc *o)
{
    if (!o)
        return;
    drop_keys(o);
    free(o);
}

void oidc_set_conf(struct oidc *o, const struct oidc_conf *c)
{
    const char *issuer = c && c->issuer ? c->issuer : "";

    if (strcmp(o->issuer, issuer)) {
        drop_keys(o);
        snprintf(o->issuer, sizeof(o->issuer), "%s", issuer);
        o->tried_ms = 0;
    }
    if (c)
        o->conf = *c;
    else
        memset(&o->conf, 0, sizeof(o->conf));
}

const char *oidc_issuer(const struct oidc *o)
{
    return o->conf.issuer;
}

bool oidc_fetch_due(const struct oidc *o, int64_t now_ms)
{
    if (!o->conf.issuer || o->in_flight)
        return false;
    if (!o->fetched || o->want) /* at once, but not more than every REFETCH */
        return !o->tried_ms || now_ms - o->tried_ms >= OIDC_REFETCH_MS;
    return now_ms - o->fetched_ms >= (int64_t)o->conf.refresh_ms;
}

void oidc_fetch_started(struct oidc *o, int64_t now_ms)
{
    o->in_flight = true;
    o->tried_ms = now_ms;
    o->want = false;
}

void oidc_fetch_failed(struct oidc *o, const char *why)
{
    o->in_flight = false;
    snprintf(o->failed, sizeof(o->failed), "%s", why);
}

/* A signing key of the set, or NULL (skipped: another use, no key id
 * when there are others, one cjose does not take). */
static cjose_jwk_t *import_key(json_t *k, const char **kid)
{
    const char *use = json_string_value(json_object_get(k, "use"));

    *kid = json_string_value(json_object_get(k, "kid"));
    if (use && strcmp(use, "sig"))
        return NULL;
    return cjose_jwk_import_json((cjose_header_t *)k, NULL);
}

int oidc_set_keys(struct oidc *o, const char *jwks, int64_t now_ms, struct af_error *err)
{
    json_t *doc = json_loads(jwks, 0, NULL), *list = json_object_get(doc, "keys"), *k;
    cjose_jwk_t *keys[OIDC_MAX_KEYS];
    char kids[OIDC_MAX_KEYS][KID_MAX];
    size_t n = 0, i;

    o->in_flight = false;
    if (!json_is_array(list)) {
        json_decref(doc);
        snprintf(o->failed, sizeof(o->failed), "the JWKS is not {\"keys\": [...]}");
        return af_error_set(err, "%s", o->failed);
    }
    json_array_foreach(list, i, k)
    {
        const char *kid;
        cjose_jwk_t *key;

        if (n == OIDC_MAX_KEYS || !(key = import_key(k, &kid)))
            continue;
        snprintf(kids[n], KID_MAX, "%s", kid ? kid : "");
        keys[n++] = key;
    }
    json_decref(doc);
    if (!n) {
        snprintf(o->failed, sizeof(o->failed), "the JWKS has no signing key");
        return af_error_set(err, "%s", o->failed);
    }
    drop_keys(o);
    memcpy(o->keys, keys, n * sizeof(keys[0]));
    memcpy(o->kids, kids, sizeof(kids));
    o->n_keys = n;
    o->fetched = true;
    o->fetched_ms = now_ms;
    o->failed[0] = '\0';
    return 0;
}

/* ---- a token ---- */

static bool alg_ok(const char *alg)
{
    static const char *const good[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                       "PS512", "ES256", "ES384", "ES512"};

    for (size_t i = 0; alg && i < sizeof(good) / sizeof(good[0]); i++)
        if (!strcmp(alg, good[i]))
            return true;
    return false;
}

/* The cached key kid names (none: the only one), or NULL. */
static cjose_jwk_t *key_of(const struct oidc *o, const char *kid)
{
    if (!kid || !*kid)
        return o->n_keys == 1 ? o->keys[0] : NULL;
    for (size_t i = 0; i < o->n_keys; i++)
        if (!strcmp(o->kids[i], kid))
            return o->keys[i];
    return NULL;
}

static bool aud_ok(const json_t *claims, const char *audience)
{
    const json_t *aud = json_object_get(claims, "aud"), *v;
    const char *azp = json_string_value(json_object_get(claims, "azp"));
    bool found = false;
    size_t i;

    if (json_is_string(aud))
        return !strcmp(json_string_value(aud), audience);
    json_array_foreach(aud, i, v) found |=
        json_is_string(v) && !strcmp(json_string_value(v), audience);
    /* Several audiences: the token must have been given to us (OIDC Core 3.1.3.7). */
    return found && (json_array_size(aud) == 1 || (azp && !strcmp(azp, audience)));
}

/* The times: 0, or -1 with err. */
static int times_ok(const json_t *claims, int64_t now_s, struct af_error *err)
{
    const json_t *exp = json_object_get(claims, "exp"),
                 *iat = json_object_get(claims, "iat");
    const json_t *nbf = json_object_get(claims, "nbf");

    if (!json_is_integer(exp) || !json_is_integer(iat))
        return af_error_set(err, "token refused: it has no exp or iat");
    if (json_integer_value(exp) <= now_s)
        return af_error_set(err, "token refused: expired %lld s ago: log in again",
                            (long long)(now_s - json_integer_value(exp)));
    if (json_integer_value(iat) > now_s + OIDC_FUTURE_S ||
        (json_is_integer(nbf) && json_integer_value(nbf) > now_s + OIDC_FUTURE_S))
        return af_error_set(err, "token refused: not valid yet (a clock is wrong)");
    return 0;
}

static int user_of(const struct oidc *o, const json_t *claims, struct oidc_claims *out,
                   struct af_error *err)
{
    const char *v = json_string_value(json_object_get(claims, o->conf.user_claim));
    const char *suffix = o->conf.user_suffix ? o->conf.user_suffix : "";
    size_t vl = v ? strlen(v) : 0, sl = strlen(suffix);
    char name[AF_ID_MAX + 1];

    if (!v)
        return af_error_set(err, "token refused: it has no %s claim", o->conf.user_claim);
    if (vl <= sl || strcmp(v + vl - sl, suffix) || vl - sl > AF_ID_MAX)
        return af_error_set(err, "token refused: its %s is not a user ending with %s",
                            o->conf.user_claim, suffix);
    snprintf(name, sizeof(name), "%.*s", (int)(vl - sl), v);
    if (!af_id_valid(name))
        return af_error_set(err, "token refused: its %s is not a valid aifed name",
                            o->conf.user_claim);
    snprintf(out->user, sizeof(out->user), "user:%s", name);
    return 0;
}

/* One value of the projects claim: kept when it starts with the prefix,
 * less it, up to a '#'. */
static void add_project(const struct oidc *o, const char *v, struct oidc_claims *out)
{
    const char *prefix = o->conf.project_prefix ? o->conf.project_prefix : "";
    size_t pl = strlen(prefix);
    char name[AF_ID_MAX + 1];

    if (!v || strncmp(v, prefix, pl) || out->n_projects == OIDC_MAX_PROJECTS)
        return;
    v += pl;
    if (strcspn(v, "#") > AF_ID_MAX)
        return;
    snprintf(name, sizeof(name), "%.*s", (int)strcspn(v, "#"), v);
    if (!af_id_valid(name))
        return;
    for (size_t i = 0; i < out->n_projects; i++)
        if (!strcmp(out->projects[i], name))
            return;
    snprintf(out->project_buf[out->n_projects], AF_ID_MAX + 1, "%s", name);
    out->projects[out->n_projects] = out->project_buf[out->n_projects];
    out->n_projects++;
}

static void projects_of(const struct oidc *o, const json_t *claims,
                        struct oidc_claims *out)
{
    const json_t *c, *v;
    size_t i;

    out->n_projects = 0;
    if (!o->conf.projects_claim || !(c = json_object_get(claims, o->conf.projects_claim)))
        return;
    if (json_is_string(c))
        add_project(o, json_string_value(c), out);
    json_array_foreach(c, i, v) add_project(o, json_string_value(v), out);
}

/* Take the token, for key: 0; -1 with err when another key took it, or
 * the table is full of tokens not yet expired. The same key may take it
 * again (a login sent twice). */
static int take(struct oidc *o, const char *token, const char *key, int64_t exp_s,
                int64_t now_s, struct af_error *err)
{
    uint8_t h[16], by[8];
    struct used *free_slot = NULL;

    crypto_generichash(h, sizeof(h), (const uint8_t *)token, strlen(token), NULL, 0);
    crypto_generichash(by, sizeof(by), (const uint8_t *)key, strlen(key), NULL, 0);
    for (size_t i = 0; i < OIDC_USED_MAX; i++) {
        struct used *u = &o->used[i];

        if (u->expires_s <= now_s) {
            u->expires_s = 0;
            free_slot = free_slot ? free_slot : u;
        } else if (!memcmp(u->hash, h, sizeof(h))) {
            return memcmp(u->by, by, sizeof(by))
                       ? af_error_set(err, "token refused: another key used it "
                                           "already; aifedctl login gets a new one")
                       : 0;
        }
    }
    if (!free_slot)
        return af_error_set(err, "too many logins within a token's life; try later");
    memcpy(free_slot->hash, h, sizeof(h));
    memcpy(free_slot->by, by, sizeof(by));
    free_slot->expires_s = exp_s;
    return 0;
}

/* The key that signed jws: 0 with *key; 1 when it is not cached and the
 * cache is older than OIDC_REFETCH_MS (a fetch is asked); -1 with err. */
static int signer(struct oidc *o, cjose_jws_t *jws, int64_t mono_ms, cjose_jwk_t **key,
                  struct af_error *err)
{
    cjose_header_t *h = cjose_jws_get_protected(jws);
    const char *alg = cjose_header_get(h, "alg", NULL);
    const char *kid = cjose_header_get(h, "kid", NULL);

    if (!alg_ok(alg))
        return af_error_set(err, "token refused: signed with %s (want RS, PS or ES)",
                            alg ? alg : "nothing");
    if ((*key = key_of(o, kid)))
        return 0;
    o->want = true;
    if (!o->fetched && !o->in_flight && *o->failed)
        return af_error_set(err, "the broker cannot fetch the issuer's keys: %s",
                            o->failed);
    if (o->fetched && mono_ms - o->fetched_ms < OIDC_REFETCH_MS) {
        o->want = false; /* the keys are fresh: it is not among them */
        return af_error_set(err,
                            "token refused: signed by a key the issuer does not "
                            "publish (key id %.40s)",
                            kid ? kid : "none");
    }
    return 1;
}

int oidc_verify(struct oidc *o, const char *token, const char *key, int64_t now_s,
                int64_t mono_ms, struct oidc_claims *out, struct af_error *err)
{
    cjose_jws_t *jws;
    cjose_jwk_t *jwk;
    json_t *claims = NULL;
    uint8_t *payload;
    size_t len;
    const char *iss;
    int rc = -1;

    if (!o->conf.issuer)
        return af_error_set(err, "this broker takes no OpenID logins (no oidc_issuer)");
    if (strlen(token) > OIDC_TOKEN_MAX ||
        !(jws = cjose_jws_import(token, strlen(token), NULL)))
        return af_error_set(err, "token refused: not a signed JWT");
    /* The issuer first, unverified: only to refuse with the right words. */
    if (!cjose_jws_get_plaintext(jws, &payload, &len, NULL) ||
        !(claims = json_loadb((const char *)payload, len, 0, NULL)) ||
        !json_is_object(claims))
        af_error_set(err, "token refused: its claims are not a JSON object");
    else if (!(iss = json_string_value(json_object_get(claims, "iss"))) ||
             strcmp(iss, o->conf.issuer))
        af_error_set(err, "token refused: issued by %.100s, not by %.100s",
                     iss ? iss : "no one", o->conf.issuer);
    else if ((rc = signer(o, jws, mono_ms, &jwk, err)) != 0)
        ; /* rc 1: ask again once the keys are fetched */
    else if ((rc = -1, !cjose_jws_verify(jws, jwk, NULL)))
        af_error_set(err, "token refused: its signature does not verify");
    else if (!aud_ok(claims, o->conf.audience))
        af_error_set(err, "token refused: it is not for %s (its aud)", o->conf.audience);
    else if (times_ok(claims, now_s, err) == 0 && user_of(o, claims, out, err) == 0) {
        out->expires_s = json_integer_value(json_object_get(claims, "exp"));
        projects_of(o, claims, out);
        rc = take(o, token, key, out->expires_s, now_s, err);
    }
    json_decref(claims);
    cjose_jws_release(jws);
    return rc;
}
