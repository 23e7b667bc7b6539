/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the SSH certificate and signature parsers, which the broker
 * runs on what anyone logging in sends. The first byte chooses: even, the
 * rest is a certificate's blob (as af_sshcert_parse gets it, base64 in a
 * line); odd, an SSHSIG blob (armoured) checked over a fixed message. The
 * seeds (tests/fuzz/seeds/sshcert) are a real certificate and signature
 * from ssh-keygen, so mutations start inside the format.
 */
#include "af_sshcert.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[AF_SSHCERT_MAX_TEXT];
    static const uint8_t key[32] = {1};
    char b64[AF_SSHCERT_MAX_TEXT / 2];
    struct af_sshcert c;
    struct af_error err;

    if (size < 1 || size > 4096 || sodium_init() < 0)
        return 0;
    sodium_bin2base64(b64, sizeof(b64), data + 1, size - 1,
                      sodium_base64_VARIANT_ORIGINAL);
    if (data[0] % 2 == 0) {
        snprintf(text, sizeof(text), "ssh-ed25519-cert-v01@openssh.com %s comment", b64);
        if (af_sshcert_parse(text, &c, &err) == 0)
            af_sshcert_check(&c, &c.ca, 1, 1700000000, "alice", "lumi", &err);
    } else {
        snprintf(text, sizeof(text),
                 "-----BEGIN SSH SIGNATURE-----\n%s\n-----END SSH SIGNATURE-----\n", b64);
        af_sshsig_verify(text, "aifed", "m", 1, key, &err);
    }
    return 0;
}
