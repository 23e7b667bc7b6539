/* SPDX-License-Identifier: Apache-2.0 */
#include "af_jobsig.h"

#include "aifed.pb-c.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void part(crypto_hash_sha256_state *h, const char *tag, const void *data,
                 size_t len)
{
    uint8_t n[8];

    for (int i = 0; i < 8; i++)
        n[i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    crypto_hash_sha256_update(h, (const uint8_t *)tag, strlen(tag) + 1);
    crypto_hash_sha256_update(h, n, sizeof(n));
    if (len)
        crypto_hash_sha256_update(h, data, len);
}

static void text(crypto_hash_sha256_state *h, const char *tag, const char *s)
{
    part(h, tag, s ? s : "", s ? strlen(s) : 0);
}

void af_jobsig_spec_digest(const Aifed__JobSpec *spec, char hex[65])
{
    crypto_hash_sha256_state h;
    uint8_t out[crypto_hash_sha256_BYTES];
    char num[24];

    crypto_hash_sha256_init(&h);
    text(&h, "aifed-job-spec-v1", "");
    text(&h, "name", spec->name);
    text(&h, "image", spec->image);
    text(&h, "setup", spec->setup);
    text(&h, "run", spec->run);
    for (size_t i = 0; i < spec->n_env; i++) {
        text(&h, "env", spec->env[i]->name);
        text(&h, "value", spec->env[i]->value);
    }
    for (size_t i = 0; i < spec->n_files; i++) {
        text(&h, "file", spec->files[i]->name);
        text(&h, "executable", spec->files[i]->executable ? "1" : "0");
        part(&h, "bytes", spec->files[i]->data.data, spec->files[i]->data.len);
    }
    for (size_t i = 0; i < spec->n_data; i++) {
        snprintf(num, sizeof(num), "%d", (int)spec->data[i]->kind);
        text(&h, "data", num);
        text(&h, "data.name", spec->data[i]->name);
        text(&h, "data.version", spec->data[i]->version);
    }
    crypto_hash_sha256_final(&h, out);
    sodium_bin2hex(hex, 65, out, sizeof(out));
}

size_t af_jobsig_message(const Aifed__JobSpec *spec, const char *lease_id,
                         const char *site, const char *request_id, int64_t signed_ms,
                         char *buf, size_t size)
{
    char digest[65];
    int n;

    af_jobsig_spec_digest(spec, digest);
    n = snprintf(buf, size,
                 "aifed job\nlease %s\nsite %s\nrequest %s\nsigned %" PRId64
                 "\nspec %s\n",
                 lease_id, site, request_id, signed_ms, digest);
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}
