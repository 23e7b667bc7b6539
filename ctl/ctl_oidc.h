/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_oidc: aifedctl as an OpenID client with no browser of its own
 * (a public client, as dstack's and oidc-agent's): the device
 * authorization grant (RFC 8628) for a login, and the refresh-token grant
 * to renew one. The issuer's discovery document names its endpoints.
 * libcurl speaks HTTP (https; http only to this machine, for a lab), with a
 * time and size bound on each answer; jansson reads them.
 */
#ifndef CTL_OIDC_H
#define CTL_OIDC_H

#include "af_error.h"

#include <stdbool.h>
#include <stdint.h>

#define CTL_OIDC_TOKEN 8192

struct ctl_oidc_tokens {
    char id_token[CTL_OIDC_TOKEN];
    char refresh_token[CTL_OIDC_TOKEN]; /* "" when the issuer gave none */
};

/* The device flow: ask the issuer for a code, tell the user where to
 * enter it (stderr), and wait for the approval, with a status line, until
 * the code expires (at most 30 minutes). 0 with t filled; -1 with err. */
int ctl_oidc_device_login(const char *issuer, const char *client_id, const char *scopes,
                          struct ctl_oidc_tokens *t, struct af_error *err);

/* New tokens for refresh_token. 0; -1 with err. */
int ctl_oidc_refresh(const char *issuer, const char *client_id, const char *refresh_token,
                     struct ctl_oidc_tokens *t, struct af_error *err);

#endif
