/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_zap: a ZAP (RFC 27) handler's framing, answered in the daemon's own
 * loop. libzmq asks it about every CURVE handshake on a socket with a ZAP
 * domain; this module reads the request, asks the caller's decide function
 * (the policy: which key may connect on which domain, as whom) and answers.
 * It must answer every request, or the peer's handshake hangs until its
 * timeout, so a malformed request is answered with 500.
 */
#ifndef AF_ZAP_H
#define AF_ZAP_H

#include "af_error.h"

#include <stddef.h>

struct af_zap;

/* The policy: admit the CURVE key (Z85) connecting from address on domain
 * by writing the connection's User-Id into user (size bytes) and returning
 * 0, or refuse it with -1. Only CURVE handshakes reach it. */
typedef int (*af_zap_fn)(const char *domain, const char *address, const char *key_z85,
                         char *user, size_t size, void *arg);

/* Bind the ZAP endpoint in zctx (before any CURVE server socket binds).
 * NULL with err set. */
struct af_zap *af_zap_create(void *zctx, af_zap_fn decide, void *arg,
                             struct af_error *err);
void af_zap_destroy(struct af_zap *z);

/* The socket to watch for requests (af_zloop); af_zap_handle answers one. */
void *af_zap_socket(struct af_zap *z);
void af_zap_handle(struct af_zap *z);

#endif
