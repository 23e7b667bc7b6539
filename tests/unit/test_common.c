/* SPDX-License-Identifier: Apache-2.0 */
/* common/: durations, ids, key files, lease tokens. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "af_conf.h"
#include "af_ids.h"
#include "af_keys.h"
#include "af_time.h"
#include "af_token.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void durations(void **state)
{
    uint64_t ms;
    char buf[32];

    (void)state;
    assert_int_equal(af_duration_parse("500ms", &ms), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(af_duration_parse("30", &ms), 0);
    assert_int_equal(ms, 30000);
    assert_int_equal(af_duration_parse("48h", &ms), 0);
    assert_int_equal(ms, 48ULL * 3600 * 1000);
    assert_int_equal(af_duration_parse("2d", &ms), 0);
    assert_int_equal(ms, 2ULL * 86400 * 1000);
    assert_int_equal(af_duration_parse("5 m", &ms), -1);
    assert_int_equal(af_duration_parse("m", &ms), -1);
    assert_int_equal(af_duration_parse("", &ms), -1);
    assert_int_equal(af_duration_parse("99999999999999999999s", &ms), -1);
    assert_int_equal(errno, ERANGE);
    af_duration_format(90000, buf, sizeof(buf));
    assert_string_equal(buf, "90s");
    af_duration_format(7200000, buf, sizeof(buf));
    assert_string_equal(buf, "2h");
    af_duration_format(1500, buf, sizeof(buf));
    assert_string_equal(buf, "1500ms");
    /* What is printed parses back to the same value. */
    for (uint64_t v = 1; v < 100000000ULL; v = v * 7 + 3) {
        af_duration_format(v, buf, sizeof(buf));
        assert_int_equal(af_duration_parse(buf, &ms), 0);
        assert_int_equal(ms, v);
    }
}

static void ids(void **state)
{
    char id[AF_ID_MAX + 1];
    char long_id[AF_ID_MAX + 2];

    (void)state;
    assert_true(af_id_valid("meluxina"));
    assert_true(af_id_valid("lumi-ai"));
    assert_true(af_id_valid("a.b_c-1"));
    assert_false(af_id_valid(""));
    assert_false(af_id_valid("-lead"));
    assert_false(af_id_valid("has space"));
    assert_false(af_id_valid("../up"));
    assert_false(af_id_valid("semi;colon"));
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_false(af_id_valid(long_id));
    long_id[AF_ID_MAX] = '\0';
    assert_true(af_id_valid(long_id));
    af_id_new("lease", id, sizeof(id));
    assert_true(af_id_valid(id));
    assert_int_equal(strncmp(id, "lease-", 6), 0);
    assert_int_equal(strlen(id), 6 + 12 + 16);
}

/* Ids sort in the order they were made (a millisecond apart or more), and
 * two made in the same millisecond still differ. */
static void ids_sort_by_time(void **state)
{
    char a[AF_ID_MAX + 1], b[AF_ID_MAX + 1], c[AF_ID_MAX + 1];
    struct timespec ms = {0, 2000000};

    (void)state;
    af_id_new("lease", a, sizeof(a));
    af_id_new("lease", b, sizeof(b));
    nanosleep(&ms, NULL);
    af_id_new("lease", c, sizeof(c));
    assert_string_not_equal(a, b);
    assert_true(strcmp(a, c) < 0);
    assert_true(strcmp(b, c) < 0);
}

static void keys(void **state)
{
    char dir[] = "/tmp/aifed-keys-XXXXXX";
    char path[256], pub[AF_KEY_Z85_LEN + 1];
    struct af_keypair kp, back;
    struct af_error err;
    struct stat st;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(af_keys_generate(&kp), 0);
    assert_int_equal(af_keys_write(dir, "alice", &kp, &err), 0);
    snprintf(path, sizeof(path), "%s/alice.key", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(af_keys_load_secret(path, &back, &err), 0);
    assert_string_equal(back.public_z85, kp.public_z85);
    assert_string_equal(back.secret_z85, kp.secret_z85);
    /* Never overwrite a key. */
    assert_int_equal(af_keys_write(dir, "alice", &kp, &err), -1);
    /* A secret others can read is refused, and the message says how to fix it. */
    chmod(path, 0644);
    assert_int_equal(af_keys_load_secret(path, &back, &err), -1);
    assert_non_null(strstr(err.text, "chmod 600"));
    /* Another user's secret is refused too (root can make one to try). */
    chmod(path, 0600);
    if (geteuid() == 0) {
        assert_int_equal(chown(path, 65534, 65534), 0);
        assert_int_equal(af_keys_load_secret(path, &back, &err), -1);
        assert_non_null(strstr(err.text, "belongs to uid 65534"));
    }
    snprintf(path, sizeof(path), "%s/alice.pub", dir);
    assert_int_equal(af_keys_load_public(path, pub, &err), 0);
    assert_string_equal(pub, kp.public_z85);
    /* The public file holds no secret. */
    assert_int_equal(af_keys_load_secret(path, &back, &err), -1);
    snprintf(path, sizeof(path), "%s/alice.key", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/alice.pub", dir);
    unlink(path);
    rmdir(dir);
}

static void token_claims(struct af_token_claims *c)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->id, "lease-0123456789abcdef");
    strcpy(c->site, "mimer");
    strcpy(c->pool, "gpu");
    strcpy(c->project, "llm-eu");
    strcpy(c->principal, "user:alice");
    strcpy(c->accelerator, "H100");
    c->gpus = 8;
    c->nodes = 1;
    c->not_before_ms = 1795000000000;
    c->not_after_ms = 1795003600000;
}

/* A token verifies with the broker's key only, says what was signed, and
 * any change to it is caught. */
static void tokens(void **state)
{
    struct af_signer broker, site, other;
    struct af_token_claims c, back;
    struct af_error err;
    char token[AF_TOKEN_MAX], sig[AF_SIGN_SIG_B64], pub[AF_SIGN_PK_B64];

    (void)state;
    af_signer_generate(&broker);
    af_signer_generate(&site);
    af_signer_generate(&other);
    token_claims(&c);
    assert_int_equal(af_token_make(&c, &broker, token, sizeof(token)), 0);
    memset(&back, 0, sizeof(back)); /* compared whole, padding included */
    assert_int_equal(af_token_verify(token, broker.pk, &back, &err), 0);
    assert_memory_equal(&back, &c, sizeof(c));
    assert_int_equal(af_token_verify(token, other.pk, &back, &err), -1);
    assert_non_null(strstr(err.text, "does not match"));
    /* Flip one character in the body, then in the signature. */
    for (size_t at = 10; at < strlen(token); at += 37) {
        char t[AF_TOKEN_MAX];
        strcpy(t, token);
        t[at] = t[at] == 'A' ? 'B' : 'A';
        assert_int_equal(af_token_verify(t, broker.pk, &back, &err), -1);
    }
    assert_int_equal(af_token_verify("aifed1.nonsense", broker.pk, &back, &err), -1);
    assert_int_equal(af_token_verify("", broker.pk, &back, &err), -1);
    /* A value with a newline could smuggle a field in: refused. */
    strcpy(c.accelerator, "H100\ngpus=999");
    assert_int_equal(af_token_make(&c, &broker, token, sizeof(token)), -1);
    token_claims(&c);
    assert_int_equal(af_token_make(&c, &broker, token, 64), -1); /* too small */
    /* The site's countersignature checks against the site's key only. */
    assert_int_equal(af_token_make(&c, &broker, token, sizeof(token)), 0);
    assert_int_equal(af_token_countersign(token, &site, sig, sizeof(sig)), 0);
    af_sign_pub_encode(site.pk, pub);
    assert_int_equal(af_token_check_countersign(token, sig, pub), 0);
    af_sign_pub_encode(other.pk, pub);
    assert_int_equal(af_token_check_countersign(token, sig, pub), -1);
    assert_int_equal(af_token_check_countersign(token, "", pub), -1);
}

/* Signing keys: made on first use (0600, with .pub), the same on reload. */
static void signing_keys(void **state)
{
    char dir[] = "/tmp/aifed-test-XXXXXX", path[256], pubpath[300];
    struct af_signer a, b;
    struct af_error err;
    uint8_t pk[32];
    struct stat st;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/signing.key", dir);
    snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
    assert_int_equal(af_signer_load_or_create(path, &a, &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(af_signer_load_or_create(path, &b, &err), 0);
    assert_memory_equal(a.pk, b.pk, 32);
    assert_int_equal(af_sign_pub_load(pubpath, pk, &err), 0);
    assert_memory_equal(pk, a.pk, 32);
    chmod(path, 0640);
    assert_int_equal(af_signer_load_or_create(path, &b, &err), -1);
    assert_non_null(strstr(err.text, "chmod 600"));
    unlink(path);
    unlink(pubpath);
    rmdir(dir);
}

/* What may be fetched for a login's sake: https, or http to loopback. */
static void urls(void **state)
{
    (void)state;
    assert_true(af_conf_url_ok("https://proxy.myaccessid.org"));
    assert_true(af_conf_url_ok("http://127.0.0.1:8080/jwks"));
    assert_true(af_conf_url_ok("http://localhost/"));
    assert_true(af_conf_url_ok("http://[::1]:9/x"));
    assert_false(af_conf_url_ok("http://idp.example.org"));
    assert_false(af_conf_url_ok("http://127.0.0.1.evil.example/"));
    assert_false(af_conf_url_ok("http://localhost.evil.example/"));
    assert_false(af_conf_url_ok("https:///path"));
    assert_false(af_conf_url_ok("file:///etc/shadow"));
    assert_false(af_conf_url_ok("https://idp.example.org/ x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(urls),         cmocka_unit_test(durations),
        cmocka_unit_test(ids),          cmocka_unit_test(ids_sort_by_time),
        cmocka_unit_test(keys),         cmocka_unit_test(tokens),
        cmocka_unit_test(signing_keys),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
