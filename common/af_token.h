/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_token: signed lease tokens. The broker signs a lease's canonical fields
 * with its Ed25519 key; anyone with the broker's public signing key can check
 * a token offline. The site answers with its own signature over the same
 * body (a countersignature), which the broker stores with the lease.
 *
 * A token is "aifed1.BODY.SIG": BODY the canonical text below and SIG the
 * Ed25519 signature over it, each base64url without padding. The body is one
 * "key=value" line per field, in this order, under a version line:
 *
 *   aifed-lease-token-v1
 *   id= site= pool= project= principal= accelerator=
 *   gpus= nodes= not_before= not_after=   (Unix milliseconds)
 *
 * Values never hold a newline, so the text has one reading only.
 *
 * Signing keys live in files of one base64 line: NAME (the 64-byte secret,
 * mode 0600) and NAME.pub (the 32-byte public key).
 */
#ifndef AF_TOKEN_H
#define AF_TOKEN_H

#include "af_error.h"
#include "af_ids.h"

#include <stddef.h>
#include <stdint.h>

#define AF_TOKEN_MAX    2048 /* a token, with its NUL */
#define AF_SIGN_PK_B64  64   /* a public key or signature, base64, with NUL; ample */
#define AF_SIGN_SIG_B64 128

struct af_signer {
    uint8_t pk[32];
    uint8_t sk[64];
};

struct af_token_claims {
    char id[AF_ID_MAX + 1];
    char site[AF_ID_MAX + 1];
    char pool[AF_ID_MAX + 1];
    char project[AF_ID_MAX + 1];
    char principal[AF_ID_MAX + 8];
    char accelerator[AF_ID_MAX + 1];
    uint32_t gpus;
    uint32_t nodes;
    int64_t not_before_ms;
    int64_t not_after_ms;
};

/* A fresh key pair, in memory only. */
void af_signer_generate(struct af_signer *s);
/* Load the secret key file at path; when it does not exist, create it (0600)
 * and path.pub. Refuses a secret file group or others may read. */
int af_signer_load_or_create(const char *path, struct af_signer *s, struct af_error *err);
void af_signer_wipe(struct af_signer *s);

/* The public key as base64 text (standard alphabet), and back. */
void af_sign_pub_encode(const uint8_t pk[32], char out[AF_SIGN_PK_B64]);
int af_sign_pub_decode(const char *b64, uint8_t pk[32]);
/* A public key from a .pub file, or given as its base64 text. */
int af_sign_pub_load(const char *file_or_key, uint8_t pk[32], struct af_error *err);

/* Sign claims into out ("aifed1...."). -1/EINVAL when a value holds a newline
 * or the token would not fit. */
int af_token_make(const struct af_token_claims *c, const struct af_signer *s, char *out,
                  size_t size);
/* Check token against the broker's public key; fill *ret with its claims.
 * -1 with err saying what is wrong (format, signature). */
int af_token_verify(const char *token, const uint8_t pk[32], struct af_token_claims *ret,
                    struct af_error *err);

/* The canonical body of claims, and back (0, or -1 when it is not a body
 * with every field in order). Exposed for tests and the fuzzer; tokens are
 * made and checked with the functions above. */
int af_token_claims_format(const struct af_token_claims *c, char *buf, size_t size);
int af_token_claims_parse(const char *body, struct af_token_claims *c);

/* Endpoint keys (docs/inference.md): bearer keys for served models, made
 * the same way: "aifed-k1.BODY.SIG", the body
 *
 *   aifed-endpoint-key-v1
 *   id= project= endpoint= not_after= rate=
 *
 * endpoint "" is any endpoint of the project; rate is requests a second
 * (0: no limit). A gateway checks one offline with the broker's public
 * key; whether it was revoked, the broker says when it relays. */
#define AF_KEY_MAX 512
struct af_key_claims {
    char id[AF_ID_MAX + 1];
    char project[AF_ID_MAX + 1];
    char endpoint[AF_ID_MAX + 1];
    int64_t not_after_ms;
    uint32_t rate_per_s;
};

int af_key_make(const struct af_key_claims *c, const struct af_signer *s, char *out,
                size_t size);
int af_key_verify(const char *key, const uint8_t pk[32], struct af_key_claims *ret,
                  struct af_error *err);
int af_key_claims_format(const struct af_key_claims *c, char *buf, size_t size);
int af_key_claims_parse(const char *body, struct af_key_claims *c);

/* The site's countersignature over token's body (base64), and its check
 * against the site's public key (base64). 0 when valid. */
int af_token_countersign(const char *token, const struct af_signer *s, char *sig_out,
                         size_t size);
int af_token_check_countersign(const char *token, const char *sig_b64,
                               const char *pk_b64);

#endif
