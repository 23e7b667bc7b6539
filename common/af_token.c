/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_token: see af_token.h. The body is built and parsed here only, so the
 * signer and every verifier read the same bytes.
 */
#include "af_token.h"
#include "af_keys.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOKEN_PREFIX "aifed1."
#define BODY_VERSION "aifed-lease-token-v1"
#define KEY_PREFIX   "aifed-k1."
#define KEY_VERSION  "aifed-endpoint-key-v1"
#define BODY_MAX     1024
#define B64_URL      sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define B64_STD      sodium_base64_VARIANT_ORIGINAL

void af_signer_generate(struct af_signer *s)
{
    crypto_sign_keypair(s->pk, s->sk);
}

void af_signer_wipe(struct af_signer *s)
{
    sodium_memzero(s, sizeof(*s));
}

void af_sign_pub_encode(const uint8_t pk[32], char out[AF_SIGN_PK_B64])
{
    sodium_bin2base64(out, AF_SIGN_PK_B64, pk, 32, B64_STD);
}

/* Decode exactly want bytes of base64 (surrounding blanks ignored). */
static int b64_exact(const char *b64, int variant, uint8_t *out, size_t want)
{
    size_t len;
    const char *end;

    while (*b64 == ' ' || *b64 == '\t' || *b64 == '\n')
        b64++;
    for (end = b64 + strlen(b64);
         end > b64 && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'); end--)
        ;
    if (sodium_base642bin(out, want, b64, (size_t)(end - b64), NULL, &len, NULL,
                          variant) != 0 ||
        len != want) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int af_sign_pub_decode(const char *b64, uint8_t pk[32])
{
    return b64_exact(b64, B64_STD, pk, 32);
}

int af_sign_pub_load(const char *file_or_key, uint8_t pk[32], struct af_error *err)
{
    char text[256];

    if (af_sign_pub_decode(file_or_key, pk) == 0)
        return 0;
    if (af_keys_read_file(file_or_key, false, text, sizeof(text), err) < 0)
        return -1;
    if (af_sign_pub_decode(text, pk) < 0)
        return af_error_set(err, "%s: not a signing public key (one base64 line)",
                            file_or_key);
    return 0;
}

static int create_keys(const char *path, struct af_signer *s, struct af_error *err)
{
    char text[128], pubpath[4096];

    af_signer_generate(s);
    sodium_bin2base64(text, sizeof(text) - 1, s->sk, sizeof(s->sk), B64_STD);
    memcpy(text + strlen(text), "\n", 2); /* room was kept for it */
    if (af_keys_write_file(path, 0600, text, err) < 0) {
        sodium_memzero(text, sizeof(text));
        return -1;
    }
    sodium_memzero(text, sizeof(text));
    if (snprintf(pubpath, sizeof(pubpath), "%s.pub", path) >= (int)sizeof(pubpath))
        return af_error_set(err, "%s: path too long", path);
    af_sign_pub_encode(s->pk, text);
    memcpy(text + strlen(text), "\n", 2); /* a key is far shorter than text */
    unlink(pubpath); /* a stale .pub from an older key must not survive */
    return af_keys_write_file(pubpath, 0644, text, err);
}

int af_signer_load_or_create(const char *path, struct af_signer *s, struct af_error *err)
{
    char text[256];
    int rc;

    if (access(path, F_OK) != 0 && errno == ENOENT)
        return create_keys(path, s, err);
    if (af_keys_read_file(path, true, text, sizeof(text), err) < 0)
        return -1;
    rc = b64_exact(text, B64_STD, s->sk, sizeof(s->sk));
    sodium_memzero(text, sizeof(text));
    if (rc < 0)
        return af_error_set(err, "%s: not a signing key (one base64 line)", path);
    crypto_sign_ed25519_sk_to_pk(s->pk, s->sk);
    return 0;
}

static int has_newline(const struct af_token_claims *c)
{
    const char *v[] = {c->id, c->site, c->pool, c->project, c->principal, c->accelerator};

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        if (strchr(v[i], '\n'))
            return 1;
    return 0;
}

int af_token_claims_format(const struct af_token_claims *c, char *buf, size_t size)
{
    int n;

    if (has_newline(c)) {
        errno = EINVAL;
        return -1;
    }
    n = snprintf(buf, size,
                 BODY_VERSION "\nid=%s\nsite=%s\npool=%s\nproject=%s\nprincipal=%s\n"
                              "accelerator=%s\ngpus=%" PRIu32 "\nnodes=%" PRIu32
                              "\nnot_before=%" PRId64 "\nnot_after=%" PRId64 "\n",
                 c->id, c->site, c->pool, c->project, c->principal, c->accelerator,
                 c->gpus, c->nodes, c->not_before_ms, c->not_after_ms);
    if (n < 0 || (size_t)n >= size) {
        errno = EINVAL;
        return -1;
    }
    return n;
}

/* prefix, then body and its signature by s, base64url: into out. */
static int sign_body(const char *prefix, const char *body, size_t n,
                     const struct af_signer *s, char *out, size_t size)
{
    uint8_t sig[crypto_sign_BYTES];
    size_t used;

    crypto_sign_detached(sig, NULL, (const uint8_t *)body, n, s->sk);
    used = strlen(prefix) + sodium_base64_ENCODED_LEN(n, B64_URL) +
           sodium_base64_ENCODED_LEN(sizeof(sig), B64_URL);
    if (used > size) {
        errno = EINVAL;
        return -1;
    }
    memcpy(out, prefix, strlen(prefix) + 1); /* fits: checked above */
    used = strlen(out);
    sodium_bin2base64(out + used, size - used, (const uint8_t *)body, n, B64_URL);
    used = strlen(out);
    out[used++] = '.';
    sodium_bin2base64(out + used, size - used, sig, sizeof(sig), B64_URL);
    return 0;
}

int af_token_make(const struct af_token_claims *c, const struct af_signer *s, char *out,
                  size_t size)
{
    char body[BODY_MAX];
    int n = af_token_claims_format(c, body, sizeof(body));

    return n < 0 ? -1 : sign_body(TOKEN_PREFIX, body, (size_t)n, s, out, size);
}

/* Split a token (prefix, what: words for errors) into its body (decoded,
 * NUL-ended) and signature. */
static int split(const char *token, const char *prefix, const char *what, char *body,
                 size_t size, size_t *body_len, uint8_t sig[crypto_sign_BYTES],
                 struct af_error *err)
{
    const char *b, *dot;
    size_t len;

    if (strncmp(token, prefix, strlen(prefix)))
        return af_error_set(err, "not an aifed %s (it must start with %s)", what, prefix);
    b = token + strlen(prefix);
    if (!(dot = strchr(b, '.')))
        return af_error_set(err, "the %s has no signature part", what);
    if (sodium_base642bin((uint8_t *)body, size - 1, b, (size_t)(dot - b), NULL, &len,
                          NULL, B64_URL) != 0)
        return af_error_set(err, "the %s's body is not base64url", what);
    body[len] = '\0';
    *body_len = len;
    if (b64_exact(dot + 1, B64_URL, sig, crypto_sign_BYTES) < 0)
        return af_error_set(err, "the %s's signature is not base64url of 64 bytes", what);
    return 0;
}

/* token's body, into body, when its signature is pk's. */
static int verify_body(const char *token, const char *prefix, const char *what,
                       const uint8_t pk[32], char *body, size_t size,
                       struct af_error *err)
{
    uint8_t sig[crypto_sign_BYTES];
    size_t len = 0;

    if (split(token, prefix, what, body, size, &len, sig, err) < 0)
        return -1;
    if (crypto_sign_verify_detached(sig, (const uint8_t *)body, len, pk) != 0)
        return af_error_set(
            err,
            "the signature does not match: the %s was altered or not made "
            "with this broker key",
            what);
    return 0;
}

static int field(const char **p, const char *key, char *out, size_t size)
{
    size_t klen = strlen(key);
    const char *nl;

    if (strncmp(*p, key, klen) || (*p)[klen] != '=' || !(nl = strchr(*p, '\n')))
        return -1;
    *p += klen + 1;
    if ((size_t)(nl - *p) >= size)
        return -1;
    memcpy(out, *p, (size_t)(nl - *p));
    out[nl - *p] = '\0';
    *p = nl + 1;
    return 0;
}

static int number(const char **p, const char *key, int64_t min, int64_t max, int64_t *ret)
{
    char text[32], *end;
    long long v;

    if (field(p, key, text, sizeof(text)) < 0 || !*text)
        return -1;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *ret = v;
    return 0;
}

int af_token_claims_parse(const char *body, struct af_token_claims *c)
{
    const char *p = body;
    int64_t gpus, nodes;

    if (strncmp(p, BODY_VERSION "\n", strlen(BODY_VERSION) + 1))
        return -1;
    p += strlen(BODY_VERSION) + 1;
    if (field(&p, "id", c->id, sizeof(c->id)) ||
        field(&p, "site", c->site, sizeof(c->site)) ||
        field(&p, "pool", c->pool, sizeof(c->pool)) ||
        field(&p, "project", c->project, sizeof(c->project)) ||
        field(&p, "principal", c->principal, sizeof(c->principal)) ||
        field(&p, "accelerator", c->accelerator, sizeof(c->accelerator)) ||
        number(&p, "gpus", 0, UINT32_MAX, &gpus) ||
        number(&p, "nodes", 0, UINT32_MAX, &nodes) ||
        number(&p, "not_before", 0, INT64_MAX, &c->not_before_ms) ||
        number(&p, "not_after", 0, INT64_MAX, &c->not_after_ms) || *p)
        return -1;
    c->gpus = (uint32_t)gpus;
    c->nodes = (uint32_t)nodes;
    return 0;
}

int af_token_verify(const char *token, const uint8_t pk[32], struct af_token_claims *ret,
                    struct af_error *err)
{
    char body[BODY_MAX];

    if (verify_body(token, TOKEN_PREFIX, "lease token", pk, body, sizeof(body), err) < 0)
        return -1;
    if (af_token_claims_parse(body, ret) < 0)
        return af_error_set(err, "the token's body is not a lease token body");
    return 0;
}

int af_key_claims_format(const struct af_key_claims *c, char *buf, size_t size)
{
    int n;

    if (strchr(c->id, '\n') || strchr(c->project, '\n') || strchr(c->endpoint, '\n')) {
        errno = EINVAL;
        return -1;
    }
    n = snprintf(buf, size,
                 KEY_VERSION "\nid=%s\nproject=%s\nendpoint=%s\nnot_after=%" PRId64
                             "\nrate=%" PRIu32 "\n",
                 c->id, c->project, c->endpoint, c->not_after_ms, c->rate_per_s);
    if (n < 0 || (size_t)n >= size) {
        errno = EINVAL;
        return -1;
    }
    return n;
}

int af_key_claims_parse(const char *body, struct af_key_claims *c)
{
    const char *p = body;
    int64_t rate;

    if (strncmp(p, KEY_VERSION "\n", strlen(KEY_VERSION) + 1))
        return -1;
    p += strlen(KEY_VERSION) + 1;
    if (field(&p, "id", c->id, sizeof(c->id)) ||
        field(&p, "project", c->project, sizeof(c->project)) ||
        field(&p, "endpoint", c->endpoint, sizeof(c->endpoint)) ||
        number(&p, "not_after", 0, INT64_MAX, &c->not_after_ms) ||
        number(&p, "rate", 0, UINT32_MAX, &rate) || *p)
        return -1;
    c->rate_per_s = (uint32_t)rate;
    return 0;
}

int af_key_make(const struct af_key_claims *c, const struct af_signer *s, char *out,
                size_t size)
{
    char body[BODY_MAX];
    int n = af_key_claims_format(c, body, sizeof(body));

    return n < 0 ? -1 : sign_body(KEY_PREFIX, body, (size_t)n, s, out, size);
}

int af_key_verify(const char *key, const uint8_t pk[32], struct af_key_claims *ret,
                  struct af_error *err)
{
    char body[BODY_MAX];

    if (strlen(key) >= AF_KEY_MAX)
        return af_error_set(err, "the key is too long");
    if (verify_body(key, KEY_PREFIX, "endpoint key", pk, body, sizeof(body), err) < 0)
        return -1;
    if (af_key_claims_parse(body, ret) < 0)
        return af_error_set(err, "the key's body is not an endpoint key's");
    return 0;
}

int af_token_countersign(const char *token, const struct af_signer *s, char *sig_out,
                         size_t size)
{
    char body[BODY_MAX];
    uint8_t sig[crypto_sign_BYTES], ignored[crypto_sign_BYTES];
    size_t len = 0;
    struct af_error err;

    if (split(token, TOKEN_PREFIX, "lease token", body, sizeof(body), &len, ignored,
              &err) < 0 ||
        size < sodium_base64_ENCODED_LEN(sizeof(sig), B64_STD)) {
        errno = EINVAL;
        return -1;
    }
    crypto_sign_detached(sig, NULL, (const uint8_t *)body, len, s->sk);
    sodium_bin2base64(sig_out, size, sig, sizeof(sig), B64_STD);
    return 0;
}

int af_token_check_countersign(const char *token, const char *sig_b64, const char *pk_b64)
{
    char body[BODY_MAX];
    uint8_t sig[crypto_sign_BYTES], ignored[crypto_sign_BYTES], pk[32];
    size_t len = 0;
    struct af_error err;

    if (split(token, TOKEN_PREFIX, "lease token", body, sizeof(body), &len, ignored,
              &err) < 0 ||
        b64_exact(sig_b64, B64_STD, sig, sizeof(sig)) < 0 ||
        af_sign_pub_decode(pk_b64, pk) < 0 ||
        crypto_sign_verify_detached(sig, (const uint8_t *)body, len, pk) != 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}
