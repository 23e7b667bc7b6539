/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_endpoints: inference endpoints in LMDB, one Endpoint under its name
 * in endpoints (a name is the federation's: it is in the gateway's URLs),
 * and the records of their bearer keys in keys.
 * The endpoint service keeps them few (bconf's bounds), so a list is a walk
 * of the whole table. Making and deleting one is an audit entry; its
 * replicas' leases and jobs have their own.
 */
#ifndef STORE_ENDPOINTS_H
#define STORE_ENDPOINTS_H

#include <stddef.h>

struct store;
struct Aifed__Endpoint;

/* Store ep, replacing the stored one of its name (into the batch); with
 * change (e.g. "endpoint created"), an audit entry too. */
int store_endpoint_put(struct store *st, const struct Aifed__Endpoint *ep,
                       const char *change);
/* Delete it, with an audit entry saying by whom (into the batch);
 * -1/ENOENT when there is none. */
int store_endpoint_delete(struct store *st, const char *name, const char *principal,
                          const char *by);
/* -1/ENOENT when there is none. Free with store_endpoint_free(). */
int store_endpoint_get(struct store *st, const char *name, struct Aifed__Endpoint **ret);
void store_endpoint_free(struct Aifed__Endpoint *ep);

/* Endpoint keys' records (the keys themselves the broker never keeps),
 * by id: stored (with change, an audit entry), read, visited in id order. */
struct Aifed__EndpointKey;
int store_key_put(struct store *st, const struct Aifed__EndpointKey *k,
                  const char *change);
int store_key_get(struct store *st, const char *id, struct Aifed__EndpointKey **ret);
void store_key_free(struct Aifed__EndpointKey *k);
typedef int (*store_key_fn)(const struct Aifed__EndpointKey *k, void *arg);
int store_key_each(struct store *st, store_key_fn fn, void *arg);

/* Visit every endpoint in name order; ep is lent for the call; fn's 1
 * stops, -1 fails. */
typedef int (*store_endpoint_fn)(const struct Aifed__Endpoint *ep, void *arg);
int store_endpoint_each(struct store *st, store_endpoint_fn fn, void *arg);

#endif
