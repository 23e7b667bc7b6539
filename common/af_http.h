/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_http: one bounded HTTP request for a login's sake (an OpenID issuer's
 * discovery document, its keys, its device and token endpoints), for the
 * broker's key fetch and aifedctl alike. libcurl does it: https, or http
 * only to this machine (af_conf_url_ok), no redirects, a time limit, and an
 * answer of at most max bytes. Blocking: the broker calls it off its loop.
 */
#ifndef AF_HTTP_H
#define AF_HTTP_H

#include "af_error.h"

#include <stddef.h>

/* Once, before any thread fetches (libcurl's global state). */
void af_http_init(void);

/* GET url, or POST form (application/x-www-form-urlencoded) when not NULL:
 * the answer's body, NUL-ended (free it), and its status into *status;
 * NULL with err when the URL is not allowed, the request failed, or the
 * answer is empty or longer than max. */
char *af_http_fetch(const char *url, const char *form, size_t max, long timeout_ms,
                    long *status, struct af_error *err);

#endif
