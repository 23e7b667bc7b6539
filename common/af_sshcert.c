/* SPDX-License-Identifier: Apache-2.0 */
#include "af_sshcert.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CERT_TYPE "ssh-ed25519-cert-v01@openssh.com"
#define KEY_TYPE  "ssh-ed25519"

/* What is left of an SSH wire buffer (RFC 4251 types). */
struct rd {
    const uint8_t *p;
    size_t n;
};

static bool get_u32(struct rd *r, uint32_t *v)
{
    if (r->n < 4)
        return false;
    *v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 |
         r->p[3];
    r->p += 4;
    r->n -= 4;
    return true;
}

static bool get_u64(struct rd *r, uint64_t *v)
{
    uint32_t hi, lo;

    if (!get_u32(r, &hi) || !get_u32(r, &lo))
        return false;
    *v = (uint64_t)hi << 32 | lo;
    return true;
}

/* A string: its bytes, borrowed, as a reader of their own. */
static bool get_str(struct rd *r, struct rd *s)
{
    uint32_t len;

    if (!get_u32(r, &len) || len > r->n)
        return false;
    s->p = r->p;
    s->n = len;
    r->p += len;
    r->n -= len;
    return true;
}

/* A string that must be text: copied into buf (NUL-terminated), refused
 * when it holds a control character (a key id or principal is logged and
 * shown: it must not forge a line) or does not fit. */
static bool get_text(struct rd *r, char *buf, size_t size)
{
    struct rd s;

    if (!get_str(r, &s) || s.n >= size)
        return false;
    for (size_t i = 0; i < s.n; i++)
        if (s.p[i] < ' ' || s.p[i] == 0x7f)
            return false;
    memcpy(buf, s.p, s.n);
    buf[s.n] = '\0';
    return true;
}

static bool str_is(const struct rd *s, const char *want)
{
    return s->n == strlen(want) && !memcmp(s->p, want, s->n);
}

/* An Ed25519 key blob (string "ssh-ed25519", string key) into key. */
static bool get_ed25519(struct rd blob, uint8_t key[32])
{
    struct rd type, k;

    if (!get_str(&blob, &type) || !str_is(&type, KEY_TYPE) || !get_str(&blob, &k) ||
        k.n != 32 || blob.n)
        return false;
    memcpy(key, k.p, 32);
    return true;
}

/* "TYPE BASE64 [comment]": the blob, into bin (size), if TYPE is type. */
static int line_blob(const char *line, const char *type, uint8_t *bin, size_t size,
                     size_t *len, struct af_error *err)
{
    size_t tl = strlen(type), bl;
    const char *b64;

    if (strnlen(line, AF_SSHCERT_MAX_TEXT + 1) > AF_SSHCERT_MAX_TEXT)
        return af_error_set(err, "longer than %d bytes", AF_SSHCERT_MAX_TEXT);
    if (strncmp(line, type, tl) || (line[tl] != ' ' && line[tl] != '\t'))
        return af_error_set(err, "not an OpenSSH %s line", type);
    b64 = line + tl + strspn(line + tl, " \t");
    bl = strcspn(b64, " \t\r\n");
    if (sodium_base642bin(bin, size, b64, bl, NULL, len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) < 0)
        return af_error_set(err, "its base64 does not decode");
    return 0;
}

int af_sshkey_parse(const char *line, uint8_t key[32], struct af_error *err)
{
    uint8_t bin[128];
    size_t len;

    if (line_blob(line, KEY_TYPE, bin, sizeof(bin), &len, err) < 0)
        return -1;
    if (!get_ed25519((struct rd){bin, len}, key))
        return af_error_set(err, "not an Ed25519 public key");
    return 0;
}

int af_sshcert_ca_keys(const char *text, uint8_t (*cas)[32], size_t max, size_t *n,
                       struct af_error *err)
{
    const char *at = text;

    *n = 0;
    while ((at = strstr(at, KEY_TYPE " "))) {
        const char *line = at;
        char one[512];
        size_t len;

        while (line > text && line[-1] != '\n')
            line--;
        len = strcspn(at, "\"\r\n");
        at += len;
        if (*line == '#')
            continue;
        if (len >= sizeof(one))
            return af_error_set(err, "a key line longer than %zu bytes", sizeof(one));
        if (*n == max)
            return af_error_set(err, "more than %zu CA keys", max);
        memcpy(one, at - len, len);
        one[len] = '\0';
        if (af_sshkey_parse(one, cas[*n], err) < 0)
            return -1;
        ++*n;
    }
    return *n ? 0 : af_error_set(err, "no ssh-ed25519 key in it");
}

/* The valid principals: a string of strings. */
static bool get_principals(struct rd s, struct af_sshcert *c)
{
    while (s.n) {
        if (c->n_principals == AF_SSHCERT_MAX_PRINCIPALS ||
            !get_text(&s, c->principals[c->n_principals], sizeof(c->principals[0])))
            return false;
        c->n_principals++;
    }
    return true;
}

/* The extensions: (name, data) pairs; the domain grant's data is a string
 * holding the domain. Others (permit-pty, ...) say nothing to the broker. */
static bool get_extensions(struct rd s, struct af_sshcert *c)
{
    while (s.n) {
        char name[AF_SSHCERT_MAX_NAME];
        struct rd data;

        if (!get_text(&s, name, sizeof(name)) || !get_str(&s, &data))
            return false;
        if (!strcmp(name, AF_SSHCERT_DOMAIN_GRANT)) {
            struct rd inner = data;
            if (!get_text(&inner, c->domain_grant, sizeof(c->domain_grant)) || inner.n)
                return false;
        }
    }
    return true;
}

/* The certificate's fields, up to and with the signature key. */
static int cert_fields(struct rd *r, struct af_sshcert *c, struct af_error *err)
{
    struct rd type, nonce, key, principals, critical, exts, reserved, ca;

    if (!get_str(r, &type) || !str_is(&type, CERT_TYPE) || !get_str(r, &nonce) ||
        !get_str(r, &key) || key.n != 32 || !get_u64(r, &c->serial) ||
        !get_u32(r, &c->type) || !get_text(r, c->key_id, sizeof(c->key_id)) ||
        !get_str(r, &principals) || !get_u64(r, &c->valid_after) ||
        !get_u64(r, &c->valid_before) || !get_str(r, &critical) || !get_str(r, &exts) ||
        !get_str(r, &reserved) || !get_str(r, &ca))
        return af_error_set(err, "a certificate cut short or malformed");
    memcpy(c->key, key.p, 32);
    if (!get_principals(principals, c))
        return af_error_set(err, "its principals are malformed, or more than %d",
                            AF_SSHCERT_MAX_PRINCIPALS);
    /* A critical option the broker cannot honour (force-command,
     * source-address) must not be ignored: refused. */
    if (critical.n)
        return af_error_set(err, "it has critical options, which aifed cannot honour");
    if (!get_extensions(exts, c))
        return af_error_set(err, "its extensions are malformed");
    if (!get_ed25519(ca, c->ca))
        return af_error_set(err, "it is not signed by an Ed25519 key");
    return 0;
}

int af_sshcert_parse(const char *line, struct af_sshcert *ret, struct af_error *err)
{
    static uint8_t bin[AF_SSHCERT_MAX_TEXT];
    struct rd r, sig, sigtype, sigbytes;
    size_t len, signed_len;

    memset(ret, 0, sizeof(*ret));
    if (line_blob(line, CERT_TYPE, bin, sizeof(bin), &len, err) < 0)
        return -1;
    r = (struct rd){bin, len};
    if (cert_fields(&r, ret, err) < 0)
        return -1;
    signed_len = len - r.n;
    if (!get_str(&r, &sig) || r.n || !get_str(&sig, &sigtype) ||
        !str_is(&sigtype, KEY_TYPE) || !get_str(&sig, &sigbytes) || sigbytes.n != 64 ||
        sig.n)
        return af_error_set(err, "its signature is malformed");
    if (crypto_sign_verify_detached(sigbytes.p, bin, signed_len, ret->ca) != 0)
        return af_error_set(err, "its signature does not verify: altered, or forged");
    return 0;
}

int af_sshcert_check(const struct af_sshcert *c, const uint8_t (*cas)[32], size_t n_cas,
                     int64_t now_s, const char *principal, const char *domain,
                     struct af_error *err)
{
    bool trusted = false, named = !principal;

    for (size_t i = 0; i < n_cas && !trusted; i++)
        trusted = sodium_memcmp(cas[i], c->ca, 32) == 0;
    if (!trusted)
        return af_error_set(err, "signed by a CA this broker does not trust");
    if (c->type != 1)
        return af_error_set(err, "a host certificate, not a user's");
    if (now_s < 0 || (uint64_t)now_s < c->valid_after)
        return af_error_set(err, "not valid yet");
    if ((uint64_t)now_s >= c->valid_before)
        return af_error_set(err, "expired");
    for (size_t i = 0; i < c->n_principals && !named; i++)
        named = !strcmp(c->principals[i], principal);
    if (!named)
        return af_error_set(err, "not issued for %.200s", principal);
    if (domain && strcmp(c->domain_grant, domain))
        return af_error_set(err, "granted for %.100s, not for %.100s",
                            *c->domain_grant ? c->domain_grant : "no domain", domain);
    return 0;
}

/* The armour's base64, between its lines, into bin. */
static int unarmor(const char *armored, uint8_t *bin, size_t size, size_t *len,
                   struct af_error *err)
{
    static const char begin[] = "-----BEGIN SSH SIGNATURE-----",
                      end[] = "-----END SSH SIGNATURE-----";
    const char *from = strstr(armored, begin), *to;

    if (strnlen(armored, AF_SSHCERT_MAX_TEXT + 1) > AF_SSHCERT_MAX_TEXT)
        return af_error_set(err, "a signature longer than %d bytes", AF_SSHCERT_MAX_TEXT);
    if (!from || !(to = strstr(from, end)))
        return af_error_set(err, "not an SSH signature (ssh-keygen -Y sign)");
    from += sizeof(begin) - 1;
    if (sodium_base642bin(bin, size, from, (size_t)(to - from), " \t\r\n", len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) < 0)
        return af_error_set(err, "the signature's base64 does not decode");
    return 0;
}

/* The signer's key in an SSHSIG: a key blob, or a certificate's. */
static bool signer_key(struct rd blob, uint8_t key[32])
{
    struct rd type = blob, t, nonce, k;

    if (!get_str(&type, &t))
        return false;
    if (str_is(&t, KEY_TYPE))
        return get_ed25519(blob, key);
    if (!str_is(&t, CERT_TYPE) || !get_str(&type, &nonce) || !get_str(&type, &k) ||
        k.n != 32)
        return false;
    memcpy(key, k.p, 32);
    return true;
}

/* An SSH string (length, then bytes) at data + *n. */
static void put_string(uint8_t *data, size_t *n, const void *p, size_t len)
{
    data[(*n)++] = (uint8_t)(len >> 24);
    data[(*n)++] = (uint8_t)(len >> 16);
    data[(*n)++] = (uint8_t)(len >> 8);
    data[(*n)++] = (uint8_t)len;
    memcpy(data + *n, p, len);
    *n += len;
}

int af_sshsig_verify(const char *armored, const char *namespace, const void *msg,
                     size_t len, const uint8_t key[32], struct af_error *err)
{
    static uint8_t bin[AF_SSHCERT_MAX_TEXT];
    struct rd r, pub, ns, reserved, alg, sig, sigtype, sigbytes;
    uint8_t signer[32], digest[64], *data;
    size_t n, hash_len, data_len;
    uint32_t version;
    int rc;

    if (unarmor(armored, bin, sizeof(bin), &n, err) < 0)
        return -1;
    r = (struct rd){bin, n};
    if (r.n < 6 || memcmp(r.p, "SSHSIG", 6))
        return af_error_set(err, "not an SSH signature (no SSHSIG magic)");
    r.p += 6;
    r.n -= 6;
    if (!get_u32(&r, &version) || version != 1 || !get_str(&r, &pub) ||
        !get_str(&r, &ns) || !get_str(&r, &reserved) || !get_str(&r, &alg) ||
        !get_str(&r, &sig) || r.n || !get_str(&sig, &sigtype) ||
        !str_is(&sigtype, KEY_TYPE) || !get_str(&sig, &sigbytes) || sigbytes.n != 64)
        return af_error_set(err, "a malformed SSH signature");
    if (!signer_key(pub, signer) || sodium_memcmp(signer, key, 32) != 0)
        return af_error_set(err, "signed by another key than the certificate's");
    if (!str_is(&ns, namespace))
        return af_error_set(err,
                            "signed for another use than %s (ssh-keygen -Y sign -n %s)",
                            namespace, namespace);
    if (str_is(&alg, "sha512")) {
        crypto_hash_sha512(digest, msg, len);
        hash_len = 64;
    } else if (str_is(&alg, "sha256")) {
        crypto_hash_sha256(digest, msg, len);
        hash_len = 32;
    } else {
        return af_error_set(err, "an SSH signature's hash is neither sha512 nor sha256");
    }
    /* What was signed: the magic, then namespace, reserved, algorithm and
     * the message's hash, each as a string. */
    data_len = 6 + 4 + ns.n + 4 + reserved.n + 4 + alg.n + 4 + hash_len;
    if (!(data = malloc(data_len)))
        return af_error_set(err, "out of memory");
    memcpy(data, "SSHSIG", 6);
    n = 6;
    put_string(data, &n, ns.p, ns.n);
    put_string(data, &n, reserved.p, reserved.n);
    put_string(data, &n, alg.p, alg.n);
    put_string(data, &n, digest, hash_len);
    rc = crypto_sign_verify_detached(sigbytes.p, data, data_len, key);
    free(data);
    return rc == 0 ? 0 : af_error_set(err, "the SSH signature does not verify");
}

size_t af_login_message(const char *nonce, const char *key_z85, char *buf, size_t size)
{
    int n = snprintf(buf, size, "aifed login\n%s\n%s\n", nonce, key_z85);

    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}
