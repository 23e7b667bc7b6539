/* SPDX-License-Identifier: Apache-2.0 */
/* auth: keys per principal, change-over, revocation, and the per-message
 * check of "id/key" (Z85 keys may contain '/'). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

/* Two valid-looking Z85 keys, one with '/' in it. */
static const char *k1 = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
static const char *k2 = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
static const char *k3 = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";

static const char *user_id(const char *id, const char *key)
{
    static char buf[160];

    snprintf(buf, sizeof(buf), "%s/%s", id, key);
    return buf;
}

static void keys_and_revocation(void **state)
{
    struct auth *a = auth_create();
    char *projects[] = {"llm-eu"};
    const struct auth_principal *p;

    (void)state;
    assert_non_null(a);
    assert_int_equal(auth_add(a, AUTH_USER, "alice", k1, projects, 1), 0);
    p = auth_check(a, user_id("user:alice", k1));
    assert_non_null(p);
    assert_string_equal(p->id, "user:alice");
    assert_true(p->from_config);
    assert_null(auth_check(a, user_id("user:alice", k2)));
    assert_null(auth_check(a, "user:alice"));
    /* Change-over: a second key, then the first removed. */
    assert_int_equal(auth_key_add(a, "user:alice", k2, NULL, 0, false), 0);
    assert_non_null(auth_check(a, user_id("user:alice", k1)));
    assert_non_null(auth_check(a, user_id("user:alice", k2)));
    assert_int_equal(auth_key_add(a, "user:alice", k3, NULL, 0, false), -1);
    assert_int_equal(errno, E2BIG);
    assert_int_equal(auth_key_remove(a, "user:alice", k1), 0);
    assert_null(auth_check(a, user_id("user:alice", k1)));
    assert_non_null(auth_check(a, user_id("user:alice", k2)));
    assert_int_equal(auth_key_remove(a, "user:alice", k2), -1);
    assert_int_equal(errno, EMLINK);
    /* A key belongs to one principal only. */
    assert_int_equal(auth_key_add(a, "site:mimer", k2, NULL, 0, false), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(auth_key_add(a, "site:mimer", k3, NULL, 0, false), 0);
    assert_non_null(auth_check(a, user_id("site:mimer", k3)));
    /* Revoked: refused at once; back only with a new key. */
    assert_int_equal(auth_revoke(a, "user:alice"), 0);
    assert_null(auth_check(a, user_id("user:alice", k2)));
    assert_int_equal(auth_key_add(a, "user:alice", k1, NULL, 0, false), 0);
    assert_non_null(auth_check(a, user_id("user:alice", k1)));
    assert_null(auth_check(a, user_id("user:alice", k2)));
    assert_int_equal(auth_key_add(a, "bogus:x", k3, NULL, 0, false), -1);
    assert_int_equal(errno, EINVAL);
    auth_destroy(a);
}

/* Where each key came from follows the key through a change-over; a
 * notice is set and cleared. */
static void key_origins_follow_their_keys(void **state)
{
    struct auth *a = auth_create();
    char *projects[] = {"llm-eu"};
    const struct auth_principal *p;

    (void)state;
    assert_int_equal(auth_add(a, AUTH_USER, "alice", k1, projects, 1), 0);
    p = auth_find(a, "user:alice");
    assert_string_equal(p->origin[0].by, "broker.conf");
    assert_int_equal(auth_key_add(a, "user:alice", k2, NULL, 0, false), 0);
    auth_key_origin(a, "user:alice", k2, "admin:ops", 1234);
    assert_string_equal(p->origin[1].by, "admin:ops");
    assert_int_equal(p->origin[1].added_ms, 1234);
    auth_set_notice(a, "user:alice", "admin:ops added a key");
    assert_string_equal(p->notice, "admin:ops added a key");
    /* The first key removed: the second, and its origin, move up. */
    assert_int_equal(auth_key_remove(a, "user:alice", k1), 0);
    assert_string_equal(p->keys[0], k2);
    assert_string_equal(p->origin[0].by, "admin:ops");
    assert_int_equal(p->origin[0].added_ms, 1234);
    auth_set_notice(a, "user:alice", "");
    assert_string_equal(p->notice, "");
    auth_key_origin(a, "user:nobody", k3, "admin:ops", 1); /* no such: nothing */
    auth_destroy(a);
}

/* A login's enrolment: a user registered by it, its key admitted until it
 * expires, another principal's key refused; a key of no one admitted as
 * anon:login only while logins are taken, and only on the clients' socket. */
static void enrolments_and_logins(void **state)
{
    struct auth *a = auth_create();
    char *projects[] = {"llm-eu"}, user[160];
    const struct auth_principal *p;

    (void)state;
    assert_int_equal(auth_add(a, AUTH_USER, "alice", k1, projects, 1), 0);
    assert_int_equal(
        auth_decide(AUTH_DOMAIN_CLIENT, "127.0.0.1", k2, user, sizeof(user), a), -1);
    assert_int_equal(auth_set_login(a, true), 0);
    assert_int_equal(
        auth_decide(AUTH_DOMAIN_CLIENT, "127.0.0.1", k2, user, sizeof(user), a), 0);
    assert_non_null(strstr(user, AUTH_ANON_ID "/"));
    assert_int_equal(auth_check(a, user)->kind, AUTH_ANON);
    assert_int_equal(
        auth_decide(AUTH_DOMAIN_AGENT, "127.0.0.1", k2, user, sizeof(user), a), -1);
    /* newbie, registered by its login, with k2 until 5000. */
    assert_int_equal(auth_enrol(a, "user:newbie", k2, 5000, "ssh", projects, 1), 0);
    assert_non_null(p = auth_check(a, user_id("user:newbie", k2)));
    assert_int_equal(p->n_projects, 1);
    assert_null(auth_check(a, user_id(AUTH_ANON_ID, k2))); /* no longer anyone's */
    /* alice's key cannot be enrolled for another, nor a site. */
    assert_int_equal(auth_enrol(a, "user:newbie", k1, 5000, "ssh", NULL, 0), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(auth_enrol(a, "site:mimer", k3, 5000, "ssh", NULL, 0), -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(auth_expire(a, 4999), 0);
    assert_int_equal(auth_expire(a, 5000), 1);
    assert_null(auth_check(a, user_id("user:newbie", k2)));
    assert_int_equal(auth_enrol(a, "user:newbie", k2, 9000, "ssh", NULL, 0), 0);
    assert_int_equal(auth_unenrol(a, "user:newbie", k2), 0);
    assert_int_equal(auth_unenrol(a, "user:newbie", k2), -1);
    assert_null(auth_check(a, user_id("user:newbie", k2)));
    /* Logins closed: a key of no one is refused again. */
    assert_int_equal(auth_set_login(a, false), 0);
    assert_null(auth_check(a, user_id(AUTH_ANON_ID, k3)));
    auth_destroy(a);
}

/* Handlers keep the principal of the message they serve while an admin call
 * registers others: a principal never moves. */
static void principals_stay_put(void **state)
{
    struct auth *a = auth_create();
    const struct auth_principal *first;
    unsigned char raw[32];
    char key[41], id[32];

    (void)state;
    assert_int_equal(auth_add(a, AUTH_ADMIN, "ops", k1, NULL, 0), 0);
    first = auth_find(a, "admin:ops");
    for (int i = 0; i < 200; i++) {
        memset(raw, 0, sizeof(raw));
        raw[0] = (unsigned char)i;
        raw[1] = 0x5a;
        assert_non_null(zmq_z85_encode(key, raw, sizeof(raw)));
        snprintf(id, sizeof(id), "site:s%d", i);
        assert_int_equal(auth_key_add(a, id, key, NULL, 0, false), 0);
    }
    assert_int_equal(auth_count(a), 201);
    assert_ptr_equal(auth_find(a, "admin:ops"), first);
    assert_string_equal(first->id, "admin:ops");
    assert_string_equal(first->name, "ops");
    assert_false(auth_find(a, "site:s7")->from_config);
    auth_destroy(a);
}

/* The ZAP policy: a registered key is admitted as "id/key" on either
 * domain, and refused once revoked. */
static void zap_policy(void **state)
{
    struct auth *a = auth_create();
    char *projects[] = {"llm-eu"};
    char user[160];

    (void)state;
    assert_int_equal(auth_add(a, AUTH_SITE, "mimer", k1, NULL, 0), 0);
    assert_int_equal(auth_add(a, AUTH_USER, "alice", k2, projects, 1), 0);
    assert_int_equal(
        auth_decide(AUTH_DOMAIN_AGENT, "127.0.0.1", k1, user, sizeof(user), a), 0);
    assert_string_equal(user, user_id("site:mimer", k1));
    assert_int_equal(
        auth_decide(AUTH_DOMAIN_CLIENT, "127.0.0.1", k2, user, sizeof(user), a), 0);
    assert_string_equal(user, user_id("user:alice", k2));
    /* Each kind on the other's socket is admitted (the dispatch says what it
     * may do there); an unknown key, an unknown domain are not. */
    assert_int_equal(
        auth_decide(AUTH_DOMAIN_CLIENT, "127.0.0.1", k1, user, sizeof(user), a), 0);
    assert_string_equal(user, user_id("site:mimer", k1));
    assert_int_equal(
        auth_decide(AUTH_DOMAIN_AGENT, "127.0.0.1", k2, user, sizeof(user), a), 0);
    assert_string_equal(user, user_id("user:alice", k2));
    assert_int_equal(
        auth_decide(AUTH_DOMAIN_AGENT, "127.0.0.1", k3, user, sizeof(user), a), -1);
    assert_int_equal(auth_decide("other", "127.0.0.1", k1, user, sizeof(user), a), -1);
    /* A User-Id that would not fit is refused, not cut short. */
    assert_int_equal(auth_decide(AUTH_DOMAIN_AGENT, "127.0.0.1", k1, user, 20, a), -1);
    assert_int_equal(auth_revoke(a, "site:mimer"), 0);
    assert_int_equal(
        auth_decide(AUTH_DOMAIN_AGENT, "127.0.0.1", k1, user, sizeof(user), a), -1);
    auth_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_and_revocation),
        cmocka_unit_test(key_origins_follow_their_keys),
        cmocka_unit_test(enrolments_and_logins),
        cmocka_unit_test(principals_stay_put),
        cmocka_unit_test(zap_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
