/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_audit: the hash chain of the broker's audit log. Each entry's hash is
 * BLAKE2b-256 over the entry before's hash and this entry's fields, each
 * written with its length first, so no two entries hash alike by accident and
 * no entry can be changed, dropped or reordered without breaking every hash
 * after it. The broker computes it when it appends; `aifedctl admin audit
 * --verify` recomputes it from the first entry on.
 */
#ifndef AF_AUDIT_H
#define AF_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

struct Aifed__AuditEntry;

#define AF_AUDIT_HASH_HEX 65 /* 32 bytes as hex, with NUL */

/* The hash entry e must carry (e->hash is not read). */
void af_audit_hash(const struct Aifed__AuditEntry *e, char out[AF_AUDIT_HASH_HEX]);

/* Walk a chain in order: feed each entry; false at the first that does not
 * follow (wrong seq, prev_hash or hash). */
struct af_audit_check {
    uint64_t seq;                 /* last seq seen; 0 at the start */
    char hash[AF_AUDIT_HASH_HEX]; /* its hash; "" at the start */
};
bool af_audit_follows(struct af_audit_check *c, const struct Aifed__AuditEntry *e);

#endif
