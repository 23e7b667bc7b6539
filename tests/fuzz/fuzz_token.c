/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the lease token verifier, which an agent runs on every hold and
 * aifedctl verify-token on any file it is given. Three doors: the whole token
 * against the broker's key, the site's countersignature check, and the body
 * parser behind a valid signature (reached by signing the input as a body,
 * since no fuzzer forges Ed25519).
 *
 * Built a second time with -DMKSEEDS as a program that writes valid seeds
 * made with the same fixed key: a token, and its body.
 */
#include "af_token.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct af_signer key;

static void fixed_key(void)
{
    uint8_t seed[crypto_sign_SEEDBYTES];

    memset(seed, 0x5a, sizeof(seed));
    crypto_sign_seed_keypair(key.pk, key.sk, seed);
}

#ifndef MKSEEDS
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    struct af_token_claims c;
    struct af_error err;
    char text[AF_TOKEN_MAX + 1], pub[AF_SIGN_PK_B64], sig[AF_SIGN_SIG_B64];

    if (!ready++) {
        if (sodium_init() < 0)
            abort();
        fixed_key();
    }
    if (size > AF_TOKEN_MAX)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    af_token_verify(text, key.pk, &c, &err);
    af_sign_pub_encode(key.pk, pub);
    af_token_check_countersign(text, "AAAA", pub);
    if (af_token_countersign(text, &key, sig, sizeof(sig)) == 0 &&
        af_token_check_countersign(text, sig, pub) != 0)
        abort(); /* a countersignature must check against its own key */
    af_token_claims_parse(text, &c);
    return 0;
}
#else
static void write_seed(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!(f = fopen(path, "w")) || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    struct af_token_claims c = {.gpus = 8,
                                .nodes = 1,
                                .not_before_ms = 1795000000000,
                                .not_after_ms = 1795003600000};
    char token[AF_TOKEN_MAX], body[1024];

    if (argc != 2 || sodium_init() < 0)
        return 2;
    fixed_key();
    strcpy(c.id, "lease-0123456789abcdef");
    strcpy(c.site, "mimer");
    strcpy(c.pool, "gpu");
    strcpy(c.project, "llm-eu");
    strcpy(c.principal, "user:alice");
    strcpy(c.accelerator, "H100");
    if (af_token_make(&c, &key, token, sizeof(token)) < 0 ||
        af_token_claims_format(&c, body, sizeof(body)) < 0)
        return 1;
    write_seed(argv[1], "token", token);
    write_seed(argv[1], "body", body);
    return 0;
}
#endif
