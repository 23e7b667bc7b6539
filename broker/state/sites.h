/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sites: the broker's live view of every registered site. It keeps each
 * site's latest advertisement, the route to its agent, whether it is UP, and
 * the capacity the broker has promised to open leases there.
 *
 * No over-commit: a promise counts against the site's advertised free GPUs
 * until an advertisement lists the lease among the holds it has already
 * subtracted; from then on the site's own figure accounts for it. A site is
 * DOWN when it has not advertised for down_after; a DOWN site gets no new
 * leases, and its leases stay as they are. A site that was DOWN is UP again
 * only after up_after advertisements in a row (hysteresis: a flapping site
 * does not take new leases at every blink). When every UP site goes silent
 * at once, the broker is the likelier one cut off (isolation guard): the
 * sweep marks none of them DOWN until one returns or an admin confirms.
 *
 * Times given to it (now_ms, cutoff_ms) are monotonic, as every duration
 * must be; only last_seen, for people to read, is on the wall clock.
 *
 * Ownership: advertisements passed in are taken (the pointer is cleared);
 * views and lists returned are borrowed until the next call that changes
 * the registry, except sites_list(), whose result the caller frees.
 */
#ifndef SITES_H
#define SITES_H

#include "match.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sites;
struct Aifed__Advertisement;
struct Aifed__SiteList;

/* Sites advertise every interval_ms; one silent for down_after of them is
 * DOWN, and one DOWN is UP again after up_after advertisements in a row,
 * at most one counted per interval (so about up_after intervals). */
struct sites *sites_create(int64_t interval_ms, unsigned down_after, unsigned up_after);
/* New timing (a reload of broker.conf). */
void sites_set_timing(struct sites *s, int64_t interval_ms, unsigned down_after,
                      unsigned up_after);
void sites_destroy(struct sites *s);

/* Register a site id (from the configuration). -1/EEXIST or ENOMEM. */
int sites_add(struct sites *s, const char *id);
bool sites_known(const struct sites *s, const char *id);
/* UP: advertised within down_after. */
bool sites_is_up(const struct sites *s, const char *id);
/* Whether site's last advertisement lists a hold for lease_id: the site's
 * own word that it holds the capacity. */
bool sites_holds(const struct sites *s, const char *site, const char *lease_id);
/* How many configured sites have not advertised since this broker started;
 * their ids, comma-separated, into buf (cut short to fit). */
size_t sites_unheard(const struct sites *s, char *buf, size_t size);

/* The site's Ed25519 public key (base64) from its Hello; "" when unknown. */
void sites_set_signing_key(struct sites *s, const char *id, const char *b64);
const char *sites_signing_key(const struct sites *s, const char *id);

/* Remember how to reach the site's agent (its last ROUTER routing id). A
 * route not seen before is a new connection: its open jobs are due to be
 * sent again (sites_resume_take), as they are when it is UP again. */
void sites_route_set(struct sites *s, const char *id, const uint8_t *rid, size_t len);
/* Whether the site's open jobs are to be sent again now: due since a new
 * connection, and not sent again within gap_ms (monotonic) before now_ms;
 * true takes it (until the next new connection). A site that reconnects
 * as fast as it can makes the broker send them at most once per gap. */
bool sites_resume_take(struct sites *s, const char *id, int64_t now_ms, int64_t gap_ms);
/* The routing id, or NULL when the agent was never heard from. */
const uint8_t *sites_route(const struct sites *s, const char *id, size_t *ret_len);

/* Take a new advertisement (which must be for a known site) seen at now.
 * *adv is left alone for an unknown site. */
void sites_advertise(struct sites *s, const char *id, struct Aifed__Advertisement **adv,
                     int64_t now_ms, int64_t wall_ms);

/* Promise gpus of pool at site to lease_id of project (asked at now_ms).
 * -1/ENOENT for an unknown site, ENOMEM. */
int sites_promise(struct sites *s, const char *site, const char *pool,
                  const char *lease_id, const char *project, uint32_t gpus,
                  int64_t now_ms);
/* The site confirmed the hold: it no longer counts as overdue. */
void sites_promise_confirm(struct sites *s, const char *site, const char *lease_id);
void sites_unpromise(struct sites *s, const char *site, const char *lease_id);
void sites_unpromise_all(struct sites *s);

/* Unconfirmed promises asked at or before cutoff_ms; fn may unpromise. */
typedef void (*sites_overdue_fn)(const char *site, const char *lease_id, void *arg);
void sites_overdue(struct sites *s, int64_t cutoff_ms, sites_overdue_fn fn, void *arg);

/* Mark sites silent since before now - down_after as DOWN. fn (may be NULL)
 * is told of each site that changed. Returns true while the isolation guard
 * holds: two or more sites UP, one of them silent for down_after and every
 * one past its last expected advertisement (they went silent at once, if not
 * in the same tick). Then nothing is marked. */
typedef void (*sites_change_fn)(const char *site, bool up, void *arg);
bool sites_sweep(struct sites *s, int64_t now_ms, sites_change_fn fn, void *arg);
/* The admin says the silence is real: mark every silent site DOWN now,
 * and lift the guard. */
void sites_confirm_down(struct sites *s, int64_t now_ms, sites_change_fn fn, void *arg);
/* Whether the last sweep found the guard holding (and no admin lifted it). */
bool sites_isolated(const struct sites *s);

/* Drained by an admin: no new leases there; its leases stay. -1/ENOENT. */
int sites_drain(struct sites *s, const char *id, bool drained);
/* Undrain every site (before the store's drains are applied again). */
void sites_undrain_all(struct sites *s);

/* After an advertisement: lost_fn for each lease the site had confirmed
 * but no longer lists; unknown_fn for each hold it lists that the broker
 * has no open lease for at that site; reask_fn (once per lease) for a hold
 * it lists that it never confirmed. lost_fn may change the promises. */
typedef void (*sites_lease_fn)(const char *site, const char *lease_id, void *arg);
void sites_reconcile(struct sites *s, const char *id, sites_lease_fn lost_fn,
                     sites_lease_fn unknown_fn, sites_lease_fn reask_fn, void *arg);

/* The pool's maximum walltime in seconds as last advertised; 0 when not
 * known or not limited. */
uint32_t sites_pool_max_walltime(const struct sites *s, const char *site,
                                 const char *pool);

/* The sites as the matching engine sees them, sorted by id, for a workload
 * of project by principal (both NULL: none). Each view's project_gpus_open
 * and no_account are filled; the other per-request fields (alloc,
 * project_share, shared) are the caller's to fill. Borrowed until the next
 * call. */
int sites_views(struct sites *s, const char *project, const char *principal,
                struct match_site **ret, size_t *ret_n);

/* The id the views use for an accelerator model (any case); a model no site
 * advertises gets an id no pool has. NULL or "" gives 0 (any). */
uint32_t sites_accel_id(const struct sites *s, const char *model);

/* How many accelerator names are interned (those current views use). */
size_t sites_accel_count(const struct sites *s);

/* A SiteList for ListSites; the caller frees it with sites_list_free(). */
struct Aifed__Advertisement;
/* Each site heard from since the broker started, in id order, with its last
 * advertisement (borrowed until the next), for the catalogue and the names
 * the federation knows. fn's non-zero stops the walk. */
typedef int (*sites_site_fn)(const char *id, const struct Aifed__Advertisement *adv,
                             bool up, void *arg);
void sites_each(const struct sites *s, sites_site_fn fn, void *arg);

int sites_list(struct sites *s, struct Aifed__SiteList **ret);
void sites_list_free(struct Aifed__SiteList *list);

#endif
