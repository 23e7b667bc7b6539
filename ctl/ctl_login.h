/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_login: aifedctl login (an EuroHPC SSH certificate, or an OpenID
 * provider's device flow or ID token) and logout; what a login signs and
 * renews. */
#ifndef CTL_LOGIN_H
#define CTL_LOGIN_H

#include "ctl.h"

#include <stdbool.h>

struct Aifed__SubmitJob;

int ctl_cmd_login(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);
int ctl_cmd_logout(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);

/* When this key's login was by OpenID and its enrolment ends within 15
 * minutes: renewed with the refresh token (a new ID token sent). Said on
 * stderr when it fails; the command goes on either way. */
void ctl_login_renew(struct ctl *ctl);

/* Whether this key's login was by SSH certificate: its jobs are signed. */
bool ctl_login_signs(const struct ctl *ctl);

/* When this key's login was by SSH certificate: sj (its spec, lease and
 * request id) signed for site, and sj->user_signature set to the
 * signature (static: good until the next call): 1. 0 when there is no
 * such login (nothing signs); -1 when signing failed (said). */
int ctl_login_sign_job(struct ctl *ctl, struct Aifed__SubmitJob *sj, const char *site);

#endif
