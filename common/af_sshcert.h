/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_sshcert: OpenSSH user certificates and signatures, Ed25519 only, as the
 * EuroHPC Federation Platform's SSH CA issues them (its CA keys are
 * Ed25519): a certificate ("ssh-ed25519-cert-v01@openssh.com", PROTOCOL.certkeys
 * in OpenSSH's source) parsed and its CA signature checked, then checked
 * against the CA keys one trusts, a time, a principal (the user's CUID)
 * and, optionally, the domain-grant extension naming one hosting site;
 * and a signature made by `ssh-keygen -Y sign` (PROTOCOL.sshsig) checked
 * over a message. libsodium does the Ed25519 and SHA-2; nothing else is
 * linked. Every length is checked against what remains before it is used.
 */
#ifndef AF_SSHCERT_H
#define AF_SSHCERT_H

#include "af_error.h"

#include <stddef.h>
#include <stdint.h>

#define AF_SSHCERT_MAX_PRINCIPALS 16
#define AF_SSHCERT_MAX_NAME       256   /* a principal, the key id, the grant */
#define AF_SSHCERT_MAX_TEXT       16384 /* a certificate's line, a signature's armour */
#define AF_SSHCERT_DOMAIN_GRANT   "ssh-domain-grant@core.aai.geant.org"

struct af_sshcert {
    uint8_t key[32]; /* the certified Ed25519 key */
    uint8_t ca[32];  /* the key that signed it */
    uint64_t serial;
    uint32_t type; /* 1: user, 2: host */
    char key_id[AF_SSHCERT_MAX_NAME];
    char principals[AF_SSHCERT_MAX_PRINCIPALS][AF_SSHCERT_MAX_NAME];
    size_t n_principals;
    uint64_t valid_after, valid_before;     /* seconds since the epoch */
    char domain_grant[AF_SSHCERT_MAX_NAME]; /* the extension's value; "" none */
};

/* An OpenSSH Ed25519 public key line ("ssh-ed25519 BASE64 [comment]"),
 * such as a CA's, into key. -1 with err. */
int af_sshkey_parse(const char *line, uint8_t key[32], struct af_error *err);

/* Every Ed25519 key in text, a CA file: OpenSSH public key lines ("#"
 * comments skipped), or the EFP SSH CA's /config JSON, whose keys are the
 * same text in strings. Into cas (at most max); -1 with err when one does
 * not parse, or there is none. */
int af_sshcert_ca_keys(const char *text, uint8_t (*cas)[32], size_t max, size_t *n,
                       struct af_error *err);

/* A certificate line ("ssh-ed25519-cert-v01@openssh.com BASE64 [comment]")
 * parsed, and the signature of the key it names as its CA checked (whether
 * that CA is trusted is af_sshcert_check's). -1 with err. */
int af_sshcert_parse(const char *line, struct af_sshcert *ret, struct af_error *err);

/* Whether c may log in: a user certificate, signed by one of the n_cas
 * keys in cas, valid at now_s, naming principal (NULL: any) and, when
 * domain is not NULL, granted for that domain. -1 with err saying which
 * check failed. */
int af_sshcert_check(const struct af_sshcert *c, const uint8_t (*cas)[32], size_t n_cas,
                     int64_t now_s, const char *principal, const char *domain,
                     struct af_error *err);

/* What an aifed login signs (ssh-keygen -Y sign -n AF_LOGIN_NAMESPACE):
 * "aifed login\n" NONCE "\n" CURVE-KEY "\n", the broker's challenge bound
 * to the connection's own CURVE key. Into buf; its length, or 0 when it
 * does not fit. The broker checks what aifedctl signs with the same text. */
#define AF_LOGIN_NAMESPACE "aifed"
size_t af_login_message(const char *nonce, const char *key_z85, char *buf, size_t size);

/* Whether armored (`ssh-keygen -Y sign -n namespace` output) is key's
 * signature of msg in namespace. -1 with err. */
int af_sshsig_verify(const char *armored, const char *namespace, const void *msg,
                     size_t len, const uint8_t key[32], struct af_error *err);

#endif
