/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_login: aifedctl login (an EuroHPC SSH certificate, or an OpenID
 * provider's device flow or ID token) and logout; what a login signs and
 * renews. */
#ifndef CTL_LOGIN_H
#define CTL_LOGIN_H

#include "ctl.h"

#include <stddef.h>

struct Aifed__SubmitJob;

int ctl_cmd_login(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);
int ctl_cmd_logout(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);

/* When this key's login was by OpenID and its enrolment ends within 15
 * minutes: renewed with the refresh token (a new ID token sent). Said on
 * stderr when it fails; the command goes on either way. */
void ctl_login_renew(struct ctl *ctl);

/* The site a job's lease is at, for its signature: into buf; -1 (said)
 * when it cannot be learnt. */
typedef int (*ctl_login_site_fn)(struct ctl *ctl, const char *lease_id, char *buf,
                                 size_t size);

/* When this key's login was by SSH certificate: sj (its spec, lease and
 * request id) signed for its lease's site (asked of site_of only then),
 * and sj->user_signature set to the signature (static: good until the next
 * call): 1. 0 when there is no such login (nothing signs); -1 when signing
 * failed (said). */
int ctl_login_sign_job(struct ctl *ctl, struct Aifed__SubmitJob *sj,
                       ctl_login_site_fn site_of);

#endif
