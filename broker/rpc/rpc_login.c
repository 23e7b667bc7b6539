/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_login: a CURVE key enrolled by an SSH certificate from a CA the
 * broker trusts (ssh_ca_keys), for as long as the certificate is valid and
 * at most login_lifetime; or by an ID token of the OpenID issuer it trusts
 * (oidc_issuer: service/oidc.h checks it), until the token expires. Whoever asks gets a
 * challenge; the login signs it, with the connection's own key, using the certificate's
 * key (ssh-keygen -Y sign -n aifed), so that neither a signature nor a certificate seen
 * once can enrol another key. The certificate's principal, less ssh_principal_suffix,
 * names the user; a user not registered yet gets login_projects. Logout ends the
 * connection key's enrolment.
 */
#include "af_ids.h"
#include "af_log.h"
#include "af_sshcert.h"
#include "af_time.h"
#include "af_wire.h"
#include "auth.h"
#include "bconf.h"
#include "login.h"
#include "oidc.h"
#include "outbox.h"
#include "principals.h"
#include "rpc.h"
#include "svc.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The old projects of p, copied (to put back when the store fails). */
struct saved_projects {
    char *v[OIDC_MAX_PROJECTS * 2];
    size_t n;
};

static void save_projects(const struct auth_principal *p, struct saved_projects *o)
{
    o->n = 0;
    for (size_t i = 0; p && i < p->n_projects && o->n < sizeof(o->v) / sizeof(o->v[0]);
         i++)
        if ((o->v[o->n] = strdup(p->projects[i])))
            o->n++;
}

static void free_projects(struct saved_projects *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->v[i]);
}

/* Enrol the connection's key as id until until (lease clock, ms), and
 * answer. A user the login registers gets projects; with replace, a
 * registered one's are replaced by them too (an OpenID provider's claims). */
static void enrol(struct svc *s, const struct rpc_msg *m, const char *id, int64_t until,
                  const char *how, char *const *projects, size_t n, bool replace)
{
    const struct auth_principal *p = auth_find(s->auth, id);
    struct saved_projects old = {0};
    bool replaced = false;

    if ((!p || p->revoked) && !n) {
        rpc_error(
            s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
            "%s is not registered here, and this broker gives new users no projects "
            "(login_projects): ask its admins to register you",
            id);
        return;
    }
    if (auth_enrol(s->auth, id, m->key, until, how, projects, n) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN, "%s",
                  errno == EEXIST  ? "this CURVE key belongs to another principal"
                  : errno == EPERM ? "that principal is revoked here, or not a user"
                                   : "cannot enrol it");
        return;
    }
    if (replace && p) {
        save_projects(p, &old);
        replaced = auth_set_projects(s->auth, id, projects, n) == 0;
    }
    p = auth_find(s->auth, id);
    if (principals_save(s, id, p, "login enrolled a key") < 0) {
        auth_unenrol(s->auth, id, m->key);
        if (replaced && old.n)
            auth_set_projects(s->auth, id, old.v, old.n);
        free_projects(&old);
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL,
                  "the broker could not store this change; nothing was changed");
        return;
    }
    free_projects(&old);
    log_info("%s logged in with %s, until %lld", id, how, (long long)until);
    rpc_reply_identity(s, m, p, p->notice);
}

static void ssh_login(struct svc *s, const struct rpc_msg *m)
{
    const struct bconf *conf = s->conf;
    struct af_sshcert c;
    char id[AF_ID_MAX + 8], how[AUTH_ENROL_HOW], ca[80];
    int64_t until, now = svc_now_ms(s);

    if (check_login(s, m, &c, id, sizeof(id)) < 0)
        return;
    /* A certificate without an end (ssh-keygen's default) says 2^64 - 1:
     * the lifetime bounds it, and no product overflows. */
    until = now + (int64_t)conf->login_lifetime_ms;
    if (c.valid_before < (uint64_t)until / 1000)
        until = (int64_t)c.valid_before * 1000;
    sodium_bin2base64(ca, sizeof(ca), c.ca, 12,
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    snprintf(how, sizeof(how), "ssh certificate %.60s (CA %.20s...)", c.key_id, ca);
    enrol(s, m, id, until, how, conf->login_projects_v.v, conf->login_projects_v.n,
          false);
}

/* An ID token of the issuer the broker trusts. Its projects claim, when
 * one is configured, gives the user's projects (and replaces those it had:
 * the provider's groups are the truth); else a new user gets
 * login_projects. Until the token expires, at most login_lifetime. */
static void oidc_login(struct svc *s, const struct rpc_msg *m)
{
    const struct bconf *conf = s->conf;
    static struct oidc_claims c;
    struct af_error err;
    char how[AUTH_ENROL_HOW];
    int64_t until, now = svc_now_ms(s);
    int rc = oidc_verify(s->oidc, m->env->login->id_token, m->key, now / 1000,
                         svc_mono_ms(s), &c, &err);

    if (rc > 0) { /* a key not cached: fetched within a tick or two */
        outbox_error_retry(s->outbox, &m->from, AIFED__ERROR_CODE__ERROR_LIMITED,
                           "the issuer's signing keys are being fetched; ask again in "
                           "a second (aifedctl does)",
                           1000);
        return;
    }
    if (rc < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN, "%s", err.text);
        return;
    }
    if (conf->oidc_projects_claim && !c.n_projects) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "your token's %s names no project of this broker's%s%s%s: ask "
                  "your project's manager to add you",
                  conf->oidc_projects_claim,
                  conf->oidc_project_prefix ? " (values starting " : "",
                  conf->oidc_project_prefix ? conf->oidc_project_prefix : "",
                  conf->oidc_project_prefix ? ")" : "");
        return;
    }
    until = now + (int64_t)conf->login_lifetime_ms;
    if (c.expires_s < until / 1000)
        until = c.expires_s * 1000;
    snprintf(how, sizeof(how), "OpenID token of %.100s", conf->oidc_issuer);
    if (conf->oidc_projects_claim)
        enrol(s, m, c.user, until, how, c.projects, c.n_projects, true);
    else
        enrol(s, m, c.user, until, how, conf->login_projects_v.v,
              conf->login_projects_v.n, false);
}

static void on_login(struct svc *s, const struct rpc_msg *m)
{
    if (*m->env->login->id_token)
        oidc_login(s, m);
    else
        ssh_login(s, m);
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
