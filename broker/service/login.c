/* SPDX-License-Identifier: Apache-2.0 */
#include "login.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct challenge {
    char nonce[LOGIN_NONCE_B64]; /* "" when the slot is free */
    int64_t expires_ms;
};

struct login {
    struct challenge v[LOGIN_MAX];
};

struct login *login_create(void)
{
    return calloc(1, sizeof(struct login));
}

void login_destroy(struct login *l)
{
    free(l);
}

int login_challenge(struct login *l, int64_t now_ms, char nonce[LOGIN_NONCE_B64],
                    int64_t *expires_ms)
{
    uint8_t bytes[32];

    for (size_t i = 0; i < LOGIN_MAX; i++) {
        struct challenge *c = &l->v[i];

        if (*c->nonce && c->expires_ms > now_ms)
            continue;
        randombytes_buf(bytes, sizeof(bytes));
        sodium_bin2base64(c->nonce, sizeof(c->nonce), bytes, sizeof(bytes),
                          sodium_base64_VARIANT_ORIGINAL);
        c->expires_ms = *expires_ms = now_ms + LOGIN_CHALLENGE_MS;
        memcpy(nonce, c->nonce, LOGIN_NONCE_B64);
        return 0;
    }
    errno = ENOSPC;
    return -1;
}

int login_take(struct login *l, const char *nonce, int64_t now_ms)
{
    for (size_t i = 0; *nonce && i < LOGIN_MAX; i++) {
        struct challenge *c = &l->v[i];

        if (strcmp(c->nonce, nonce))
            continue;
        c->nonce[0] = '\0';
        if (c->expires_ms <= now_ms) {
            errno = ETIMEDOUT;
            return -1;
        }
        return 0;
    }
    errno = ENOENT;
    return -1;
}
