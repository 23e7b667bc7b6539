/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oidc: the checks an ID token passes before a login enrols a key, with
 * tokens cjose signs here: each refusal says which check failed; the
 * algorithms an attacker would pick (none, HMAC keyed with the public
 * key) are refused before any key is used; a token is taken by one key;
 * a key id not cached asks for a fetch, unless the keys were just fetched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "oidc.h"

#include <cjose/cjose.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ISSUER "https://idp.example.eu"
#define KEY_A  "key-of-connection-a"
#define KEY_B  "key-of-connection-b"

static cjose_jwk_t *rsa;
static int64_t now;

static const struct oidc_conf conf = {
    .issuer = ISSUER,
    .audience = "aifedctl",
    .user_claim = "sub",
    .user_suffix = "@myaccessid.org",
    .projects_claim = "groups",
    .project_prefix = "urn:g:",
    .refresh_ms = 3600000,
};

static int setup(void **state)
{
    static const uint8_t e[] = {1, 0, 1};

    (void)state;
    if (sodium_init() < 0 || !(rsa = cjose_jwk_create_RSA_random(2048, e, 3, NULL)) ||
        !cjose_jwk_set_kid(rsa, "k1", 2, NULL))
        return -1;
    now = time(NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cjose_jwk_release(rsa);
    return 0;
}

/* A cache with the RSA key's public half, fetched at mono 1000. */
static struct oidc *cache(void)
{
    struct oidc *o = oidc_create();
    char *pub = cjose_jwk_to_json(rsa, false, NULL), jwks[4096];
    struct af_error err;

    assert_non_null(o);
    oidc_set_conf(o, &conf);
    assert_true(oidc_fetch_due(o, 1000));
    oidc_fetch_started(o, 1000);
    snprintf(jwks, sizeof(jwks), "{\"keys\": [%s]}", pub);
    free(pub);
    assert_int_equal(oidc_set_keys(o, jwks, 1000, &err), 0);
    return o;
}

/* claims (JSON, with %s for the issuer) signed with alg by key. */
static char *token(const cjose_jwk_t *key, const char *alg, const char *kid,
                   const char *claims)
{
    static char out[8192];
    cjose_header_t *h = cjose_header_new(NULL);
    cjose_jws_t *jws;
    const char *ser;

    cjose_header_set(h, CJOSE_HDR_ALG, alg, NULL);
    if (kid)
        cjose_header_set(h, CJOSE_HDR_KID, kid, NULL);
    assert_non_null(
        jws = cjose_jws_sign(key, h, (const uint8_t *)claims, strlen(claims), NULL));
    assert_true(cjose_jws_export(jws, &ser, NULL));
    snprintf(out, sizeof(out), "%s", ser);
    cjose_jws_release(jws);
    cjose_header_release(h);
    return out;
}

/* Standard claims, with extra JSON members appended. */
static char *claims(const char *sub, const char *aud, int64_t exp_in, const char *extra)
{
    static char c[2048];

    snprintf(c, sizeof(c),
             "{\"iss\": \"" ISSUER "\", \"sub\": \"%s\", \"aud\": %s, \"iat\": %lld, "
             "\"exp\": %lld%s%s}",
             sub, aud, (long long)now, (long long)(now + exp_in), *extra ? ", " : "",
             extra);
    return c;
}

/* The refusal of token, or "" when taken (by key). */
static const char *verify(struct oidc *o, const char *tok, const char *key, int64_t mono,
                          struct oidc_claims *c)
{
    static struct af_error err;
    static struct oidc_claims none;
    int rc = oidc_verify(o, tok, key, now, mono, c ? c : &none, &err);

    return rc == 0 ? "" : rc > 0 ? "(fetch)" : err.text;
}

static void a_good_token_names_the_user_and_projects(void **state)
{
    struct oidc *o = cache();
    static struct oidc_claims c;
    const char *t =
        token(rsa, "RS256", "k1",
              claims("alice@myaccessid.org", "\"aifedctl\"", 600,
                     "\"groups\": [\"urn:g:llm-eu#eduteams\", \"urn:g:bio-x\", "
                     "\"other\", \"urn:g:bad name\", \"urn:g:llm-eu\"]"));

    (void)state;
    assert_string_equal(verify(o, t, KEY_A, 2000, &c), "");
    assert_string_equal(c.user, "user:alice");
    assert_int_equal(c.n_projects, 2);
    assert_string_equal(c.projects[0], "llm-eu");
    assert_string_equal(c.projects[1], "bio-x");
    assert_int_equal(c.expires_s, now + 600);
    /* Taken by one key: again by it, yes; by another, no. */
    assert_string_equal(verify(o, t, KEY_A, 2000, NULL), "");
    assert_non_null(strstr(verify(o, t, KEY_B, 2000, NULL), "another key used it"));
    oidc_destroy(o);
}

static void each_bad_claim_says_which(void **state)
{
    struct oidc *o = cache();
    char other_iss[1024];

    (void)state;
    assert_non_null(strstr(
        verify(o, token(rsa, "RS256", "k1", claims("a@myaccessid.org", "\"x\"", 600, "")),
               KEY_A, 2000, NULL),
        "it is not for aifedctl"));
    /* Several audiences: only when it was given to us (azp). */
    assert_non_null(
        strstr(verify(o,
                      token(rsa, "RS256", "k1",
                            claims("a@myaccessid.org", "[\"aifedctl\", \"x\"]", 600, "")),
                      KEY_A, 2000, NULL),
               "not for aifedctl"));
    assert_string_equal(verify(o,
                               token(rsa, "RS256", "k1",
                                     claims("a@myaccessid.org", "[\"aifedctl\", \"x\"]",
                                            600, "\"azp\": \"aifedctl\"")),
                               KEY_A, 2000, NULL),
                        "");
    assert_non_null(
        strstr(verify(o,
                      token(rsa, "RS256", "k1",
                            claims("b@myaccessid.org", "\"aifedctl\"", -5, "")),
                      KEY_A, 2000, NULL),
               "token refused: expired"));
    assert_non_null(strstr(verify(o,
                                  token(rsa, "RS256", "k1",
                                        "{\"iss\": \"" ISSUER "\", \"sub\": "
                                        "\"c@myaccessid.org\", \"aud\": \"aifedctl\"}"),
                                  KEY_A, 2000, NULL),
                           "no exp or iat"));
    assert_non_null(strstr(verify(o,
                                  token(rsa, "RS256", "k1",
                                        claims("d@example.org", "\"aifedctl\"", 600, "")),
                                  KEY_A, 2000, NULL),
                           "not a user ending with @myaccessid.org"));
    snprintf(other_iss, sizeof(other_iss),
             "{\"iss\": \"https://evil.example\", \"sub\": \"e@myaccessid.org\", "
             "\"aud\": \"aifedctl\", \"iat\": %lld, \"exp\": %lld}",
             (long long)now, (long long)now + 600);
    assert_non_null(
        strstr(verify(o, token(rsa, "RS256", "k1", other_iss), KEY_A, 2000, NULL),
               "issued by https://evil.example, not by " ISSUER));
    oidc_destroy(o);
}

static void the_algorithms_an_attacker_picks_are_refused(void **state)
{
    struct oidc *o = cache();
    char *pub = cjose_jwk_to_json(rsa, false, NULL);
    cjose_jwk_t *hmac =
        cjose_jwk_create_oct_spec((const uint8_t *)pub, strlen(pub), NULL);
    char none[4096], *dot;
    const char *c = claims("f@myaccessid.org", "\"aifedctl\"", 600, "");

    (void)state;
    /* HMAC keyed with the public key, as if it were a secret. */
    assert_non_null(strstr(verify(o, token(hmac, "HS256", "k1", c), KEY_A, 2000, NULL),
                           "signed with HS256"));
    /* alg none: the same claims, no signature. */
    snprintf(none, sizeof(none), "%s", token(rsa, "RS256", "k1", c));
    dot = strchr(none, '.');
    memmove(none + strlen("eyJhbGciOiJub25lIn0"), dot, strlen(dot) + 1);
    memcpy(none, "eyJhbGciOiJub25lIn0", strlen("eyJhbGciOiJub25lIn0"));
    *(strrchr(none, '.') + 1) = '\0';
    assert_string_not_equal(verify(o, none, KEY_A, 2000, NULL), "");
    /* A signature changed. */
    snprintf(none, sizeof(none), "%s", token(rsa, "RS256", "k1", c));
    none[strlen(none) - 3] = none[strlen(none) - 3] == 'A' ? 'B' : 'A';
    assert_non_null(strstr(verify(o, none, KEY_A, 2000, NULL), "does not verify"));
    cjose_jwk_release(hmac);
    free(pub);
    oidc_destroy(o);
}

static void a_key_not_cached_is_fetched_at_most_every_few_seconds(void **state)
{
    struct oidc *o = cache();
    const char *t =
        token(rsa, "RS256", "k2", claims("g@myaccessid.org", "\"aifedctl\"", 600, ""));

    (void)state;
    /* The keys were fetched just now: the key is not among them. */
    assert_non_null(strstr(verify(o, t, KEY_A, 2000, NULL), "does not publish"));
    assert_false(oidc_fetch_due(o, 2000));
    /* Later, a fetch is asked; the login asks again meanwhile. */
    assert_string_equal(verify(o, t, KEY_A, 1000 + OIDC_REFETCH_MS + 1, NULL), "(fetch)");
    assert_true(oidc_fetch_due(o, 1000 + OIDC_REFETCH_MS + 1));
    oidc_fetch_started(o, 1000 + OIDC_REFETCH_MS + 1);
    assert_false(oidc_fetch_due(o, 1000 + OIDC_REFETCH_MS + 2));
    oidc_fetch_failed(o, "HTTP 500");
    /* The regular refresh comes due by itself. */
    assert_true(oidc_fetch_due(o, 1000 + 3600000));
    oidc_destroy(o);
}

static void a_jwks_without_keys_keeps_the_old_ones(void **state)
{
    struct oidc *o = cache();
    struct af_error err;

    (void)state;
    assert_int_equal(oidc_set_keys(o, "{\"keys\": []}", 5000, &err), -1);
    assert_int_equal(oidc_set_keys(o, "not json", 5000, &err), -1);
    assert_string_equal(verify(o,
                               token(rsa, "RS256", "k1",
                                     claims("h@myaccessid.org", "\"aifedctl\"", 600, "")),
                               KEY_A, 6000, NULL),
                        "");
    oidc_destroy(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_good_token_names_the_user_and_projects),
        cmocka_unit_test(each_bad_claim_says_which),
        cmocka_unit_test(the_algorithms_an_attacker_picks_are_refused),
        cmocka_unit_test(a_key_not_cached_is_fetched_at_most_every_few_seconds),
        cmocka_unit_test(a_jwks_without_keys_keeps_the_old_ones),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
