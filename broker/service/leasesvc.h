/* SPDX-License-Identifier: Apache-2.0 */
/*
 * leasesvc: the lease services. Everything that changes a lease goes
 * through here, in the store's open batch: grant (sign, reserve, store, ask
 * the site to hold), activate when the site holds it, renew, move to the
 * next site when a hold fails, and end. A lease ends one way only,
 * leasesvc_end(), whatever ended it (release, expiry, revoke, LOST, FAILED,
 * the site's own end): core/lease says the final state and the usage, and
 * this applies it (store, promise, allocation, site told, waiters woken).
 * The lease timing lives here too: holds overdue, the expiry sweep, waiters
 * given up.
 *
 * Leases read from the store are protobuf-c unpacked messages; a changed
 * lease is a shallow copy in a struct leasesvc_lease, whose buffers hold its
 * new strings, never written into the unpacked message (its free would free
 * them).
 */
#ifndef LEASESVC_H
#define LEASESVC_H

#include "af_token.h"
#include "af_wire.h"
#include "lease.h"

#include "aifed.pb-c.h"

#include <stdint.h>

struct svc;

/* A lease as a service changed it, with the buffers its new fields point
 * into: valid while this lives, and only as long as the lease it was made
 * from (its other strings are borrowed from that one). */
struct leasesvc_lease {
    Aifed__Lease lease;
    Aifed__Workload workload; /* a renewal's own copy */
    char reason[AF_WIRE_MAX_TEXT];
    char token[AF_TOKEN_MAX];
    uint32_t jobs_ended; /* an end's: the open jobs it cancelled */
};

/* Sign l's token over its current fields (valid from created_ms to
 * expires_ms) into buf, point l->token at it, and clear the site's
 * countersignature (the site signs the new token). */
int leasesvc_sign(struct svc *s, Aifed__Lease *l, char *buf, size_t size);

/* Store l (into the batch); idem_principal, if not NULL, records its
 * request id for that principal. Logs and returns -1 on failure, after
 * which the batch is failed and its requesters get ERROR_INTERNAL. */
int leasesvc_put(struct svc *s, const Aifed__Lease *l, const char *idem_principal);

/* Grant a new PENDING lease l (filled in by the caller): sign it (into
 * token), reserve its allocation, store it and ask its site to hold. */
int leasesvc_grant(struct svc *s, Aifed__Lease *l, const char *idem_principal,
                   char token[AF_TOKEN_MAX]);

/* The site holds PENDING lease stored and signed its token (signature,
 * with its key site_key): ACTIVE (SCHEDULED when its not_before is still
 * to come), stored with how to work in it there (access, the site's word;
 * may be NULL), and its waiters woken. */
int leasesvc_activate(struct svc *s, const Aifed__Lease *stored, const char *signature,
                      const char *site_key, const Aifed__SiteAccess *access);

/* Why lease l may not grow by extend_s, into buf (and returned), or NULL:
 * the pool's maximum walltime, the project's GPU-hours left at the site and
 * the end date of its allocation there bound it, as they bound a submit. */
const char *leasesvc_renew_refusal(struct svc *s, const Aifed__Lease *l,
                                   uint32_t extend_s, char *buf, size_t size);

/* ACTIVE lease stored grows by extend_s: allocation reserved, a new token
 * signed, stored, and the site asked to hold it again (into ret). */
int leasesvc_renew(struct svc *s, const Aifed__Lease *stored, uint32_t extend_s,
                   struct leasesvc_lease *ret);

/* End lease l (as stored, or as the caller changed it) by ev, with reason
 * (copied). The one way a lease ends: the final state and usage from
 * lease_end(), the lease stored, the site's promise taken back, the
 * allocation settled, the site told to let go and the waiters woken. ret
 * (NULL: not wanted) gets the lease as stored, for a reply. -1 with errno
 * EINVAL when ev does not end a lease in its state (nothing is done), or
 * with the store's errno (the batch is failed, nothing else is done). */
int leasesvc_end(struct svc *s, const Aifed__Lease *l, enum lease_event ev,
                 const char *reason, uint64_t site_used_gpu_s,
                 struct leasesvc_lease *ret);

/* A PENDING lease's hold failed at its site (refused, timed out, or a bad
 * countersignature): move it to the next-best site not tried yet, or end
 * it FAILED. */
void leasesvc_hold_failed(struct svc *s, const Aifed__Lease *lease, const char *why);

/* Ask l's site to hold it (again: a renewal, or a hold never confirmed). */
void leasesvc_hold_again(struct svc *s, const Aifed__Lease *l);
/* Tell site to let go of lease_id. */
void leasesvc_release_at_site(struct svc *s, const char *site, const char *lease_id);

/* Once a second: holds overdue fail over (by the monotonic clock; not
 * while the isolation guard holds), open leases past their end expire and
 * SCHEDULED ones past their start become ACTIVE, their queued jobs sent to
 * the site (by the lease clock), waiters who gave up are forgotten. With
 * judge_timeouts false (the loop was away, and what came meanwhile is not
 * read yet) neither holds nor waiters are judged. Writes into the batch. */
void leasesvc_tick(struct svc *s, bool judge_timeouts);

/* Rebuild what memory holds of the store: the promises, the allocation
 * table and which sites are drained (at start, and after a failed commit,
 * when memory may be ahead of disk). All of it is read (compactly: what
 * each open lease's promise needs) before anything in memory changes: -1,
 * the view left as it was, when the store cannot be read. */
int leasesvc_reload(struct svc *s);

/* A clean stop: answer everyone still waiting with their lease as it
 * stands (PENDING), so they have its id and can look again. */
void leasesvc_answer_waiters(struct svc *s);

#endif
