/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_keys: CURVE key files in ZeroMQ's certificate format (ZPL text with Z85
 * keys, as CZMQ's zcert writes them). NAME.key holds the public and secret key
 * and is written 0600; NAME.pub holds the public key only and may be shared.
 * A secret key file that group or others can read is refused, as OpenSSH
 * refuses such an identity file: someone may already have copied it.
 */
#ifndef AF_KEYS_H
#define AF_KEYS_H

#include "af_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define AF_KEY_Z85_LEN 40

struct af_keypair {
    char public_z85[AF_KEY_Z85_LEN + 1];
    char secret_z85[AF_KEY_Z85_LEN + 1];
};

/* A fresh CURVE key pair. -1 with errno ENOTSUP when libzmq lacks CURVE. */
int af_keys_generate(struct af_keypair *ret);

/* Write dir/NAME.key (0600, refuses to overwrite) and dir/NAME.pub. */
int af_keys_write(const char *dir, const char *name, const struct af_keypair *kp,
                  struct af_error *err);

/* Read a secret key file (NAME.key). Refuses group/other-readable files. */
int af_keys_load_secret(const char *path, struct af_keypair *ret, struct af_error *err);

/* Read the public key of a .pub or .key file into ret (41 bytes). */
int af_keys_load_public(const char *path, char *ret, struct af_error *err);

/* Key files of any kind (also af_token's signing keys). write: create with
 * mode, never overwrite, fsync. read: at most size - 1 bytes, NUL-ended; a
 * secret file that group or others may read is refused, saying so. */
int af_keys_write_file(const char *path, mode_t mode, const char *text,
                       struct af_error *err);
int af_keys_read_file(const char *path, bool secret, char *buf, size_t size,
                      struct af_error *err);

#endif
