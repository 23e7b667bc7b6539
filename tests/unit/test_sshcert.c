/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_sshcert against what OpenSSH makes: ssh-keygen is the CA (-s), the
 * user's signer (-Y sign), and the source of every bad case. Each refusal
 * says which check failed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "af_sshcert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("failed: %s", cmd);
}

/* The first line of dir/name, into buf. */
static char *slurp(const char *name, char *buf, size_t size)
{
    char path[128];
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_non_null(f = fopen(path, "r"));
    n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* A certificate of a copy of the user's key, signed by ca with args. */
static void certify(const char *name, const char *ca, const char *args)
{
    sh("cp %s/user.pub %s/%s.pub && ssh-keygen -q -s %s/%s -I id-%s %s %s/%s.pub", dir,
       dir, name, dir, ca, name, args, dir, name);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_sshcert.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    sh("cd %s && for k in ca ca2 user; do ssh-keygen -q -t ed25519 -N '' -C $k -f $k; "
       "done",
       dir);
    certify("good", "ca",
            "-n alice@myaccessid.org,alice2 -V -5m:+1h -O "
            "extension:" AF_SSHCERT_DOMAIN_GRANT "=lumi");
    certify("expired", "ca", "-n alice@myaccessid.org -V 20200101:20200102");
    certify("future", "ca", "-n alice@myaccessid.org -V +1d:+2d");
    certify("other", "ca2", "-n alice@myaccessid.org -V -5m:+1h");
    certify("forced", "ca",
            "-n alice@myaccessid.org -V -5m:+1h -O force-command=/bin/true");
    certify("host", "ca", "-h -n alice@myaccessid.org -V -5m:+1h");
    sh("cp %s/user.pub %s/ctrl.pub && ssh-keygen -q -s %s/ca -I \"$(printf 'a\\nFAKE LOG "
       "LINE')\" "
       "-n alice@myaccessid.org -V -5m:+1h %s/ctrl.pub",
       dir, dir, dir, dir);
    sh("cd %s && printf 'challenge-123' >msg && ssh-keygen -q -Y sign -n aifed -f user "
       "msg "
       ">/dev/null 2>&1 && cp msg msg2 && ssh-keygen -q -Y sign -n git -f user msg2 "
       ">/dev/null 2>&1 && cp msg msg3 && ssh-keygen -q -Y sign -n aifed -O "
       "hashalg=sha256 "
       "-f user msg3 >/dev/null 2>&1",
       dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sh("rm -rf %s", dir);
    return 0;
}

static void ca_keys(uint8_t cas[2][32])
{
    char line[1024];
    struct af_error err;

    assert_int_equal(af_sshkey_parse(slurp("ca.pub", line, sizeof(line)), cas[0], &err),
                     0);
    assert_int_equal(af_sshkey_parse(slurp("ca2.pub", line, sizeof(line)), cas[1], &err),
                     0);
}

/* Parse and check name's certificate against the first CA; the refusal's
 * text, or "" when accepted. */
static const char *check(const char *name, const char *principal, const char *domain)
{
    static struct af_error err;
    static char line[8192];
    uint8_t cas[2][32];
    struct af_sshcert c;
    char file[64];

    ca_keys(cas);
    snprintf(file, sizeof(file), "%s-cert.pub", name);
    slurp(file, line, sizeof(line));
    if (af_sshcert_parse(line, &c, &err) < 0 ||
        af_sshcert_check(&c, (const uint8_t(*)[32])cas, 1, time(NULL), principal, domain,
                         &err) < 0)
        return err.text;
    return "";
}

static void a_good_certificate(void **state)
{
    char line[8192], pub[1024];
    struct af_sshcert c;
    struct af_error err;
    uint8_t user[32];

    (void)state;
    assert_string_equal(check("good", "alice@myaccessid.org", NULL), "");
    assert_string_equal(check("good", "alice2", "lumi"), "");
    assert_string_equal(check("good", NULL, NULL), "");
    assert_int_equal(
        af_sshcert_parse(slurp("good-cert.pub", line, sizeof(line)), &c, &err), 0);
    assert_int_equal(c.n_principals, 2);
    assert_string_equal(c.key_id, "id-good");
    assert_string_equal(c.domain_grant, "lumi");
    assert_int_equal(c.type, 1);
    /* It certifies the user's key. */
    assert_int_equal(af_sshkey_parse(slurp("user.pub", pub, sizeof(pub)), user, &err), 0);
    assert_memory_equal(c.key, user, 32);
}

static void bad_certificates_say_why(void **state)
{
    (void)state;
    assert_string_equal(check("expired", NULL, NULL), "expired");
    assert_string_equal(check("future", NULL, NULL), "not valid yet");
    assert_string_equal(check("other", NULL, NULL),
                        "signed by a CA this broker does not trust");
    assert_string_equal(check("good", "bob@myaccessid.org", NULL),
                        "not issued for bob@myaccessid.org");
    assert_string_equal(check("good", NULL, "mimer"), "granted for lumi, not for mimer");
    assert_string_equal(check("expired", NULL, "lumi"), "expired");
    assert_string_equal(check("forced", NULL, NULL),
                        "it has critical options, which aifed cannot honour");
    assert_string_equal(check("host", NULL, NULL), "a host certificate, not a user's");
    /* A key id with a newline would forge a log line where it is logged. */
    assert_string_equal(check("ctrl", NULL, NULL),
                        "a certificate cut short or malformed");
}

static void a_tampered_certificate_is_refused(void **state)
{
    char line[8192];
    struct af_sshcert c;
    struct af_error err;
    size_t at;
    char *b64;

    (void)state;
    slurp("good-cert.pub", line, sizeof(line));
    b64 = strchr(line, ' ') + 1;
    /* A character of the signature itself (the last 64 bytes of the blob,
     * clear of the base64's final, partial group). */
    at = strcspn(b64, " \n") - 20;
    b64[at] = b64[at] == 'A' ? 'B' : 'A';
    assert_int_equal(af_sshcert_parse(line, &c, &err), -1);
    assert_string_equal(err.text, "its signature does not verify: altered, or forged");
    /* One of the signed part, in the principals: altered text is refused
     * as malformed, or its signature fails; never accepted. */
    slurp("good-cert.pub", line, sizeof(line));
    b64 = strchr(line, ' ') + 1;
    b64[200] = b64[200] == 'A' ? 'B' : 'A';
    assert_int_equal(af_sshcert_parse(line, &c, &err), -1);
    assert_int_equal(af_sshcert_parse("ssh-rsa AAAA", &c, &err), -1);
    assert_int_equal(af_sshcert_parse("ssh-ed25519-cert-v01@openssh.com !!!", &c, &err),
                     -1);
    assert_string_equal(err.text, "its base64 does not decode");
}

static void signatures(void **state)
{
    char sig[4096], pub[1024];
    struct af_error err;
    uint8_t user[32], other[32];

    (void)state;
    assert_int_equal(af_sshkey_parse(slurp("user.pub", pub, sizeof(pub)), user, &err), 0);
    assert_int_equal(af_sshkey_parse(slurp("ca.pub", pub, sizeof(pub)), other, &err), 0);
    slurp("msg.sig", sig, sizeof(sig));
    assert_int_equal(af_sshsig_verify(sig, "aifed", "challenge-123", 13, user, &err), 0);
    assert_int_equal(af_sshsig_verify(sig, "aifed", "challenge-124", 13, user, &err), -1);
    assert_string_equal(err.text, "the SSH signature does not verify");
    assert_int_equal(af_sshsig_verify(sig, "aifed", "challenge-123", 13, other, &err),
                     -1);
    assert_string_equal(err.text, "signed by another key than the certificate's");
    slurp("msg2.sig", sig, sizeof(sig));
    assert_int_equal(af_sshsig_verify(sig, "aifed", "challenge-123", 13, user, &err), -1);
    assert_string_equal(
        err.text, "signed for another use than aifed (ssh-keygen -Y sign -n aifed)");
    slurp("msg3.sig", sig, sizeof(sig));
    assert_int_equal(af_sshsig_verify(sig, "aifed", "challenge-123", 13, user, &err), 0);
    assert_int_equal(af_sshsig_verify("hello", "aifed", "x", 1, user, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_good_certificate),
        cmocka_unit_test(bad_certificates_say_why),
        cmocka_unit_test(a_tampered_certificate_is_refused),
        cmocka_unit_test(signatures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
