/* SPDX-License-Identifier: Apache-2.0 */
/* common/: durations, ids, key files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "af_ids.h"
#include "af_keys.h"
#include "af_time.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    assert_int_equal(strlen(id), 6 + 16);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(durations),
        cmocka_unit_test(ids),
        cmocka_unit_test(keys),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
