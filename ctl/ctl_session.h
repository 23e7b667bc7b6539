/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_session: what a login leaves beside the user's CURVE key, in
 * KEY.login (for me.key, me.login; 0600, as the key): the SSH certificate
 * and key that sign the user's jobs, or the OpenID provider's tokens that
 * renew the login, and until when the broker enrolled the key. An INI file
 * of key = value lines; logout deletes it.
 */
#ifndef CTL_SESSION_H
#define CTL_SESSION_H

#include "af_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_SESSION_PATH  4096
#define CTL_SESSION_TOKEN 8192

struct ctl_session {
    char ssh_cert[CTL_SESSION_PATH]; /* absolute; "" when not an SSH login */
    char ssh_key[CTL_SESSION_PATH];
    char issuer[512]; /* an OpenID login's; "" when not one */
    char client_id[256];
    char refresh_token[CTL_SESSION_TOKEN];
    int64_t until_ms; /* the enrolment's end (Unix ms) */
};

/* key's session file ("x/me.key" -> "x/me.login") into buf; -1 when it
 * does not fit. */
int ctl_session_path(const char *key, char *buf, size_t size);

/* 1 with s filled, 0 when there is none (s cleared), -1 with err. */
int ctl_session_load(const char *key, struct ctl_session *s, struct af_error *err);

/* Written whole (a new file renamed over the old), 0600. -1 with err. */
int ctl_session_save(const char *key, const struct ctl_session *s, struct af_error *err);

/* Deleted; 0 also when there was none. */
int ctl_session_forget(const char *key);

#endif
