/* SPDX-License-Identifier: Apache-2.0 */
/* af_audit: see af_audit.h. */
#include "af_audit.h"

#include "aifed.pb-c.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void feed(crypto_generichash_state *h, const char *s)
{
    char len[24];
    size_t n = s ? strlen(s) : 0;

    snprintf(len, sizeof(len), "%zu:", n);
    crypto_generichash_update(h, (const uint8_t *)len, strlen(len));
    crypto_generichash_update(h, (const uint8_t *)(s ? s : ""), n);
}

void af_audit_hash(const Aifed__AuditEntry *e, char out[AF_AUDIT_HASH_HEX])
{
    crypto_generichash_state h;
    uint8_t digest[32];
    char num[48];

    crypto_generichash_init(&h, NULL, 0, sizeof(digest));
    feed(&h, "aifed-audit-v1");
    feed(&h, e->prev_hash);
    snprintf(num, sizeof(num), "%" PRIu64 " %" PRId64, e->seq, e->time_ms);
    feed(&h, num);
    feed(&h, e->subject);
    feed(&h, e->principal);
    feed(&h, e->change);
    feed(&h, e->text);
    crypto_generichash_final(&h, digest, sizeof(digest));
    sodium_bin2hex(out, AF_AUDIT_HASH_HEX, digest, sizeof(digest));
}

bool af_audit_follows(struct af_audit_check *c, const Aifed__AuditEntry *e)
{
    char want[AF_AUDIT_HASH_HEX];

    if (e->seq != c->seq + 1 || strcmp(e->prev_hash, c->hash))
        return false;
    af_audit_hash(e, want);
    if (strcmp(want, e->hash))
        return false;
    c->seq = e->seq;
    snprintf(c->hash, sizeof(c->hash), "%s", e->hash);
    return true;
}
