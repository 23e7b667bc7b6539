/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc: the broker's state and services as the handlers and the server hold
 * them. The server fills it and owns what it points to; everything below the
 * server borrows it. Each module keeps its own state behind its own API:
 * the waiters in waiters, the batch and its replies in outbox, the live view
 * of sites (and the isolation guard) in sites, the registry in auth.
 */
#ifndef SVC_H
#define SVC_H

#include "af_time.h"
#include "af_token.h"

#include <stdint.h>

struct bconf;
struct store;
struct sites;
struct allocs;
struct auth;
struct outbox;
struct waiters;
struct bmetrics;

struct svc {
    const struct bconf *conf; /* in force (a reload replaces it) */
    struct store *store;
    struct sites *sites;
    struct allocs *allocs; /* rebuilt from the store by leasesvc_reload() */
    struct auth *auth;
    struct outbox *outbox;
    struct waiters *waiters;
    struct bmetrics *metrics;
    struct af_signer signer; /* signs lease tokens */
    char signing_pub[AF_SIGN_PK_B64];
    int64_t started_ms;        /* when this broker started (wall clock) */
    int64_t (*clock_ms)(void); /* NULL: af_now_ms; tests set their own */
};

/* The time every service reads, in ms since the epoch. */
static inline int64_t svc_now_ms(const struct svc *s)
{
    return s->clock_ms ? s->clock_ms() : af_now_ms();
}

#endif
