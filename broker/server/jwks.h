/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jwks: the OpenID issuer's signing keys fetched for service/oidc, off the
 * loop: its discovery document ({issuer}/.well-known/openid-configuration)
 * names jwks_uri, whose JSON the cache takes. libcurl runs in libuv's
 * thread pool; the loop only starts a fetch and applies its answer. Each
 * fetch is bounded: 10 s, 256 KiB, https (http to loopback only, for a
 * lab), no redirect to elsewhere.
 */
#ifndef JWKS_H
#define JWKS_H

#include <uv.h>

struct oidc;
struct jwks;

/* NULL/ENOMEM. The loop and the cache are borrowed and outlive it. */
struct jwks *jwks_create(uv_loop_t *loop, struct oidc *cache);
/* A fetch under way is let finish; its answer is dropped. */
void jwks_destroy(struct jwks *j);

/* Start a fetch when the cache says one is due (each tick). */
void jwks_tick(struct jwks *j, int64_t now_ms);

#endif
