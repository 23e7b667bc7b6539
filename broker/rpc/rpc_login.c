/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_login: a CURVE key enrolled by an SSH certificate from a CA the
 * broker trusts (ssh_ca_keys), for as long as the certificate is valid and
 * at most login_lifetime. Whoever asks gets a challenge; the login signs
 * it, with the connection's own key, using the certificate's key
 * (ssh-keygen -Y sign -n aifed), so that neither a signature nor a
 * certificate seen once can enrol another key. The certificate's
 * principal, less ssh_principal_suffix, names the user; a user not
 * registered yet gets login_projects. Logout ends the connection key's
 * enrolment.
 */
#include "af_ids.h"
#include "af_log.h"
#include "af_sshcert.h"
#include "af_time.h"
#include "af_wire.h"
#include "auth.h"
#include "bconf.h"
#include "login.h"
#include "principals.h"
#include "rpc.h"
#include "svc.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void on_login_challenge(struct svc *s, const struct rpc_msg *m)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__Challenge c = AIFED__CHALLENGE__INIT;
    char nonce[LOGIN_NONCE_B64];
    int64_t expires;

    if (!s->conf->n_ssh_cas) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_UNSUPPORTED,
                  "this broker takes no logins (no ssh_ca_keys)");
        return;
    }
    if (login_challenge(s->login, svc_mono_ms(s), nonce, &expires) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_LIMITED,
                  "%d logins are under way; ask again in a minute", LOGIN_MAX);
        return;
    }
    c.nonce = nonce;
    c.expires_ms = svc_now_ms(s) + (expires - svc_mono_ms(s));
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_CHALLENGE, &c);
    rpc_reply(s, m, &env);
}

/* The user the certificate names: its first principal ending with the
 * suffix, less it, as "user:NAME" into id. false when none does. */
static bool user_of(const struct svc *s, const struct af_sshcert *c, char *id,
                    size_t size)
{
    const char *suffix =
        s->conf->ssh_principal_suffix ? s->conf->ssh_principal_suffix : "";
    size_t sl = strlen(suffix);

    for (size_t i = 0; i < c->n_principals; i++) {
        const char *p = c->principals[i];
        size_t pl = strlen(p);
        char name[AF_SSHCERT_MAX_NAME];

        if (pl <= sl || strcmp(p + pl - sl, suffix))
            continue;
        snprintf(name, sizeof(name), "%.*s", (int)(pl - sl), p);
        if (af_id_valid(name) && snprintf(id, size, "user:%s", name) < (int)size)
            return true;
    }
    return false;
}

/* The certificate and the signature, checked: 0 with c and the user's id
 * filled, or -1 with the refusal sent. */
static int check_login(struct svc *s, const struct rpc_msg *m, struct af_sshcert *c,
                       char *id, size_t size)
{
    const Aifed__Login *l = m->env->login;
    char msg[256];
    size_t len = af_login_message(l->nonce, m->key, msg, sizeof(msg));
    struct af_error err;

    if (login_take(s->login, l->nonce, svc_mono_ms(s)) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "that challenge was %s: ask for a new one (aifedctl login does)",
                  errno == ETIMEDOUT ? "too old" : "never given or used already");
        return -1;
    }
    if (af_sshcert_parse(l->certificate, c, &err) < 0 ||
        af_sshcert_check(c, (const uint8_t(*)[32])s->conf->ssh_cas, s->conf->n_ssh_cas,
                         svc_now_ms(s) / 1000, NULL, s->conf->ssh_domain, &err) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN, "certificate refused: %s",
                  err.text);
        return -1;
    }
    if (!user_of(s, c, id, size)) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "certificate refused: none of its principals is a user%s%s",
                  *s->conf->ssh_principal_suffix ? " ending with " : "",
                  s->conf->ssh_principal_suffix);
        return -1;
    }
    if (!len ||
        af_sshsig_verify(l->signature, AF_LOGIN_NAMESPACE, msg, len, c->key, &err) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN, "signature refused: %s",
                  err.text);
        return -1;
    }
    return 0;
}

static void on_login(struct svc *s, const struct rpc_msg *m)
{
    const struct bconf *conf = s->conf;
    struct af_sshcert c;
    char id[AF_ID_MAX + 8], how[AUTH_ENROL_HOW], ca[80];
    const struct auth_principal *p;
    int64_t until, now = svc_now_ms(s);

    if (check_login(s, m, &c, id, sizeof(id)) < 0)
        return;
    p = auth_find(s->auth, id);
    if ((!p || p->revoked) && !conf->login_projects_v.n) {
        rpc_error(
            s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
            "%s is not registered here, and this broker gives new users no projects "
            "(login_projects): ask its admins to register you",
            id);
        return;
    }
    /* A certificate without an end (ssh-keygen's default) says 2^64 - 1:
     * the lifetime bounds it, and no product overflows. */
    until = now + (int64_t)conf->login_lifetime_ms;
    if (c.valid_before < (uint64_t)until / 1000)
        until = (int64_t)c.valid_before * 1000;
    sodium_bin2base64(ca, sizeof(ca), c.ca, 12,
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    snprintf(how, sizeof(how), "ssh certificate %.60s (CA %.20s...)", c.key_id, ca);
    if (auth_enrol(s->auth, id, m->key, until, how, conf->login_projects_v.v,
                   conf->login_projects_v.n) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN, "%s",
                  errno == EEXIST  ? "this CURVE key belongs to another principal"
                  : errno == EPERM ? "that principal is revoked here, or not a user"
                                   : "cannot enrol it");
        return;
    }
    p = auth_find(s->auth, id);
    if (principals_save(s, id, p, "login enrolled a key") < 0) {
        auth_unenrol(s->auth, id, m->key);
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL,
                  "the broker could not store this change; nothing was changed");
        return;
    }
    log_info("%s logged in with %s, until %lld", id, how, (long long)until);
    rpc_reply_identity(s, m, p, p->notice);
}

static void on_logout(struct svc *s, const struct rpc_msg *m)
{
    if (auth_unenrol(s->auth, m->who->id, m->key) < 0) {
        rpc_error(
            s, m, AIFED__ERROR_CODE__ERROR_CONFLICT,
            "this key was not enrolled by a login: nothing to end (an admin removes "
            "a registered key)");
        return;
    }
    if (principals_save(s, m->who->id, m->who, "logout ended an enrolment") < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL,
                  "the broker could not store this change");
        return;
    }
    log_info("%s logged out a key", m->who->id);
    rpc_reply_identity(s, m, m->who, m->who->notice);
}

#define ANYONE (RPC_USER | RPC_ADMIN | RPC_ANON)

const struct rpc_spec rpc_login_specs[] = {
    {AIFED__ENVELOPE__BODY_LOGIN_CHALLENGE, ANYONE, on_login_challenge, NULL, RPC_READS},
    {AIFED__ENVELOPE__BODY_LOGIN, ANYONE, on_login, NULL, 0},
    {AIFED__ENVELOPE__BODY_LOGOUT, RPC_USER, on_logout, NULL, 0},
    {0, 0, NULL, NULL, 0},
};
