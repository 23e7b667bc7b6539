/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: what aifed-gateway reads of a request itself (libmicrohttpd
 * parses the HTTP): the URI's route to an endpoint and the path passed on,
 * and the bearer key, checked against a fixed broker key and its body
 * parsed. A route taken must name a valid endpoint and give an absolute
 * path; anything else aborts.
 */
#include "af_token.h"
#include "af_wire.h"
#include "gw.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct af_signer key;
    static int ready;
    struct gw_stream s;
    struct af_key_claims c;
    struct af_error err;
    char text[16384];

    if (!ready++) {
        uint8_t seed[crypto_sign_SEEDBYTES];
        if (sodium_init() < 0)
            abort();
        memset(seed, 0x5a, sizeof(seed));
        crypto_sign_seed_keypair(key.pk, key.sk, seed);
    }
    if (size >= sizeof(text))
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    memset(&s, 0, sizeof(s));
    if (gw_route(&s, text) == 0 &&
        (!af_wire_endpoint_name_ok(s.endpoint) || !s.path || s.path[0] != '/'))
        abort();
    free(s.path);
    af_key_verify(text, key.pk, &c, &err);
    af_key_claims_parse(text, &c);
    return 0;
}
