/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lease: the lease state machine, pure. It says which events move a lease
 * from which state to which; the server applies the answer to the store.
 *
 *   PENDING --held--> ACTIVE --release/ended--> RELEASED
 *      |              | ^ \--expire-----------> EXPIRED
 *      |              | | \--revoke (admin)---> REVOKED
 *      |              \-/ renew  \--lost-----> LOST (the site no longer holds it)
 *      |--booked--> SCHEDULED --start (its time came)--> ACTIVE
 *      |               (a hold that starts later, --not-before; until then it
 *      |                renews and ends as ACTIVE does)
 *      |--refused/timeout (no other site)--> FAILED
 *      |--revoke (admin)--------------------> REVOKED
 *      \--release-----------------------------> RELEASED (hold withdrawn)
 *
 * States are the wire's LeaseState numbers, so no translation table exists.
 */
#ifndef LEASE_H
#define LEASE_H

#include <stdbool.h>
#include <stdint.h>

/* The wire's LeaseState values (test_lease checks they stay equal). Plain
 * constants, so they compare with the generated enum without casts. */
#define LEASE_PENDING   1
#define LEASE_ACTIVE    2
#define LEASE_RELEASED  3
#define LEASE_EXPIRED   4
#define LEASE_FAILED    5
#define LEASE_REVOKED   6
#define LEASE_LOST      7
#define LEASE_SCHEDULED 8
#define LEASE_STATE_MAX LEASE_SCHEDULED

enum lease_event {
    LEASE_EV_HELD,    /* the site confirmed the hold */
    LEASE_EV_RELEASE, /* the user released it */
    LEASE_EV_ENDED,   /* the site reports the work ended */
    LEASE_EV_EXPIRE,  /* walltime passed */
    LEASE_EV_FAIL,    /* no site would hold it */
    LEASE_EV_RENEW,   /* the user extended it */
    LEASE_EV_REVOKE,  /* an admin took it back */
    LEASE_EV_LOST,    /* the site reports it no longer holds it */
    LEASE_EV_BOOKED,  /* the site confirmed a hold that starts later */
    LEASE_EV_START,   /* a booked hold's start came */
};

/* The state event ev leads to from state, or -1 with errno EINVAL when ev is
 * not allowed in that state. */
int lease_next(int state, enum lease_event ev);

/* The facts of a lease its ending depends on. */
struct lease_facts {
    int state;
    uint32_t gpus;
    uint32_t walltime_s;
    int64_t activated_ms; /* 0: it never became ACTIVE */
};

/* What an ending gives: the final state and the GPU-seconds used. */
struct lease_ending {
    int state;
    uint64_t used_gpu_s;
};

/* End a lease (f) by ev at now_ms. The state is lease_next's; the usage is
 * the site's own measure (site_used_gpu_s, at most gpus x walltime) for
 * LEASE_EV_ENDED, none for LEASE_EV_FAIL, and the time held otherwise. -1
 * with errno EINVAL when ev does not end a lease in that state (HELD and
 * RENEW never do). Usage runs from activated_ms, which for a SCHEDULED
 * lease is when it starts: ended before then, it used nothing. */
int lease_end(const struct lease_facts *f, enum lease_event ev, int64_t now_ms,
              uint64_t site_used_gpu_s, struct lease_ending *ret);

/* GPU-seconds a lease used: from activation to end, at most its walltime;
 * 0 if it never became ACTIVE (activated_ms 0). */
uint64_t lease_usage(uint32_t gpus, uint32_t walltime_s, int64_t activated_ms,
                     int64_t end_ms);

/* When a lease asked at now_ms with not_before_ms (0: none) starts: the
 * later of the two. Its walltime runs from there. */
int64_t lease_start_ms(int64_t not_before_ms, int64_t now_ms);

/* PENDING, SCHEDULED and ACTIVE leases hold (or are about to hold)
 * capacity. */
bool lease_is_open(int state);

/* "PENDING", "ACTIVE", ...; "UNKNOWN" for anything else. */
const char *lease_state_name(int state);

/* Parse a state name (any case); -1 when unknown. */
int lease_state_parse(const char *name);

#endif
