/* SPDX-License-Identifier: Apache-2.0 */
/*
 * login: the challenges a login signs. Each is 32 random bytes, given to
 * whoever asks (a key nobody registered may: it is how it logs in), taken
 * once, and good for LOGIN_CHALLENGE_MS; at most LOGIN_MAX wait at once, so
 * asking costs the broker a bounded table. What a login signs
 * (af_login_message) binds the challenge to the connection's own CURVE key: a signature
 * seen once can enrol no other key, and not that one twice.
 */
#ifndef LOGIN_H
#define LOGIN_H

#include <stddef.h>
#include <stdint.h>

#define LOGIN_MAX          1024
#define LOGIN_CHALLENGE_MS 60000
#define LOGIN_NONCE_B64    45 /* 32 bytes in base64, with its NUL */

struct login;

struct login *login_create(void);
void login_destroy(struct login *l);

/* A fresh challenge at now_ms (monotonic): its nonce into nonce, its end
 * into *expires_ms. -1/ENOSPC when LOGIN_MAX wait already. */
int login_challenge(struct login *l, int64_t now_ms, char nonce[LOGIN_NONCE_B64],
                    int64_t *expires_ms);

/* Take the challenge nonce, once: 0; -1 with errno ENOENT (never given,
 * or taken already) or ETIMEDOUT (its time passed). */
int login_take(struct login *l, const char *nonce, int64_t now_ms);

#endif
