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
struct relays;
struct login;
struct oidc;
struct proxy;

struct svc {
    const struct bconf *conf; /* in force (a reload replaces it) */
    struct store *store;
    struct sites *sites;
    struct allocs *allocs; /* rebuilt from the store by leasesvc_reload() */
    struct auth *auth;
    struct outbox *outbox;
    struct waiters *waiters;
    struct relays *relays; /* clients waiting for a site's answer passed on */
    struct login *login;   /* the challenges logins sign */
    struct oidc *oidc;     /* the OpenID issuer's keys, and tokens taken */
    struct proxy *proxy;   /* requests to served models in flight */
    struct bmetrics *metrics;
    struct af_signer signer; /* signs lease tokens */
    char signing_pub[AF_SIGN_PK_B64];
    int64_t started_ms;        /* when this broker started (monotonic) */
    int64_t active_since_ms;   /* ... on the wall clock: when it took the store */
    int64_t (*clock_ms)(void); /* the wall clock; NULL: af_now_ms (tests set theirs) */
    int64_t (*mono_ms)(void);  /* the monotonic clock; NULL: af_mono_ms */
    int64_t anchor_wall_ms;    /* the lease clock: the wall clock at svc_anchor() */
    int64_t anchor_mono_ms;    /* ... plus the monotonic time since */
};

/*
 * Three clocks. Durations (hold timeouts, DOWN detection, hysteresis,
 * waiters, the start-up grace) are monotonic: a step of the wall clock must
 * not fail holds in flight or blind DOWN detection. Lease times (created,
 * expires, the expiry sweep) are on the lease clock: the wall clock as it
 * was when the broker started, carried on by the monotonic clock, so that a
 * step while the broker runs never ends a lease early or extends one (the
 * server logs and counts steps; a restart takes the wall clock anew). The
 * wall clock itself is read only to anchor the lease clock and to see steps.
 */
static inline int64_t svc_wall_ms(const struct svc *s)
{
    return s->clock_ms ? s->clock_ms() : af_now_ms();
}

static inline int64_t svc_mono_ms(const struct svc *s)
{
    return s->mono_ms ? s->mono_ms() : af_mono_ms();
}

/* Set the lease clock to the wall clock now. */
static inline void svc_anchor(struct svc *s)
{
    s->anchor_wall_ms = svc_wall_ms(s);
    s->anchor_mono_ms = svc_mono_ms(s);
}

/* The lease clock, in ms since the epoch. */
static inline int64_t svc_now_ms(const struct svc *s)
{
    return s->anchor_wall_ms + (svc_mono_ms(s) - s->anchor_mono_ms);
}

#endif
