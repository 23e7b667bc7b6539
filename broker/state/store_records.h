/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_records: what the broker keeps per request, and its bounds: the
 * idem entries (a principal's request id -> the lease or job it made, so a
 * retry is answered without acting again) and the request records (the
 * explanation kept with every submit), indexed by age (record_age) and by
 * owner (request_owner) so that retention and the per-principal bound
 * delete the oldest without a walk.
 */
#ifndef STORE_RECORDS_H
#define STORE_RECORDS_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct MDB_txn;
struct Aifed__RequestRecord;

/* The lease id a principal's request id made, into buf (AF_ID_MAX + 1).
 * -1/ENOENT when that request id is new. */
int store_idem_get(struct store *st, const char *principal, const char *request_id,
                   char *buf, size_t size);

/* Record that a principal's request id acted on lease_id (into the batch):
 * a retry of a change finds it, and is answered without acting again, until
 * store_records_prune() deletes it. now_ms is when (the lease clock). */
int store_idem_put(struct store *st, const char *principal, const char *request_id,
                   const char *lease_id, int64_t now_ms);

/* What the broker decided for a request, by (principal, request id); a
 * later put for the same request replaces it. The principal keeps at most
 * keep records (at least 1): its oldest beyond that are deleted in the same
 * batch. Into the batch. */
int store_request_put(struct store *st, const struct Aifed__RequestRecord *r,
                      size_t keep);
/* -1/ENOENT when there is none. Free with store_request_free(). */
int store_request_get(struct store *st, const char *principal, const char *request_id,
                      struct Aifed__RequestRecord **ret);
void store_request_free(struct Aifed__RequestRecord *r);
/* How many request records a principal has. */
size_t store_request_count(struct store *st, const char *principal);

/* Delete up to max idem entries and request records made before before_ms,
 * oldest first (into the batch): the retention period ends there. The
 * number deleted, or -1 with errno. */
int store_records_prune(struct store *st, int64_t before_ms, size_t max);

/* Index every request record and idem entry of a schema 1 store by age
 * (idem entries as of now_ms: schema 1 kept no time for them). In txn. */
int store_records_upgrade(struct store *st, struct MDB_txn *txn, int64_t now_ms);

#endif
