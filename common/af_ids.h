/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_ids: the names that travel between sites, broker and users (site ids,
 * pool names, project names, lease and request ids). One rule for all of them,
 * so any of them is safe in a file name, a log line, an LMDB key and a Slurm
 * reservation name: 1..64 of [A-Za-z0-9._-], starting with a letter or digit.
 */
#ifndef AF_IDS_H
#define AF_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define AF_ID_MAX 64

bool af_id_valid(const char *s);

/* A new id "<prefix>-<12 hex: ms since 1970><16 hex: random>" in buf (at
 * least AF_ID_MAX + 1 bytes). Ids made later sort later, so LMDB inserts them
 * at the right edge of each tree: a commit of many new leases writes a few
 * pages, not one page per lease scattered across the file (each costs the
 * sync). The 64 random bits keep ids made in the same millisecond apart.
 * Uses libsodium's CSPRNG; call sodium_init() first. */
void af_id_new(const char *prefix, char *buf, size_t size);
/* How long af_id_new()'s ids are: the prefix, "-" and 28 hex digits. */
#define AF_ID_NEW_LEN(prefix) (sizeof(prefix) - 1 + 29)

#endif
