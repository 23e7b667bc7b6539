/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_login: `aifedctl login --ssh-cert FILE` and `logout`. A login asks the
 * broker for a challenge, has ssh-keygen sign it with the certificate's key
 * (so the private key may stay in ssh-agent, or behind its passphrase), and
 * sends the certificate and the signature: the broker enrols this
 * aifedctl's CURVE key (made here when the configured key file does not
 * exist yet) as the certificate's user, until the certificate expires.
 */
#include "ctl_login.h"
#include "af_ids.h"
#include "af_keys.h"
#include "af_sshcert.h"
#include "af_time.h"
#include "af_wire.h"
#include "ctl_call.h"
#include "ctl_config.h"
#include "ctl_opts.h"
#include "ctl_oidc.h"
#include "ctl_session.h"
#include "af_jobsig.h"
#include "ctl_show.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <libgen.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The CURVE key at path, made there first when there is none. */
static int own_key(const char *path, char pub[AF_KEY_Z85_LEN + 1])
{
    struct af_keypair kp;
    struct af_error err;
    char dir[4096], name[256], *dot;

    if (access(path, F_OK) < 0 && errno == ENOENT) {
        snprintf(dir, sizeof(dir), "%s", path);
        snprintf(name, sizeof(name), "%s", basename(dir));
        snprintf(dir, sizeof(dir), "%s", path);
        if (!(dot = strrchr(name, '.')) || strcmp(dot, ".key"))
            return fprintf(stderr, "aifedctl: %s: a new key's file must end in .key\n",
                           path),
                   -1;
        *dot = '\0';
        if (af_keys_generate(&kp) < 0 || af_keys_write(dirname(dir), name, &kp, &err) < 0)
            return fprintf(stderr, "aifedctl: making %s: %s\n", path,
                           errno == ENOTSUP ? "no CURVE in libzmq" : err.text),
                   -1;
        fprintf(stderr, "aifedctl: made a CURVE key of yours: %s\n", path);
    }
    if (af_keys_load_public(path, pub, &err) < 0)
        return fprintf(stderr, "aifedctl: %s\n", err.text), -1;
    return 0;
}

/* One line of file into buf. */
static int read_line(const char *file, char *buf, size_t size)
{
    FILE *f = fopen(file, "r");

    if (!f)
        return fprintf(stderr, "aifedctl: %s: %s\n", file, strerror(errno)), -1;
    if (!fgets(buf, (int)size, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* msg signed by ssh-keygen -Y sign -n ns with key, into sig (armoured). */
static int ssh_sign(const char *key, const char *ns, const char *msg, char *sig,
                    size_t size)
{
    char dir[] = "/tmp/aifedctl-login.XXXXXX", file[64], sigfile[80];
    char *argv[] = {"ssh-keygen", "-q", "-Y",        "sign", "-n",
                    (char *)ns,   "-f", (char *)key, file,   NULL};
    size_t n = 0;
    int status, rc = -1;
    pid_t pid;
    FILE *f;

    if (!mkdtemp(dir))
        return fprintf(stderr, "aifedctl: %s\n", strerror(errno)), -1;
    snprintf(file, sizeof(file), "%s/challenge", dir);
    snprintf(sigfile, sizeof(sigfile), "%s.sig", file);
    if ((f = fopen(file, "w"))) {
        fputs(msg, f);
        fclose(f);
        if (posix_spawnp(&pid, "ssh-keygen", NULL, NULL, argv, environ) != 0)
            fprintf(stderr, "aifedctl: ssh-keygen: %s (install openssh-client)\n",
                    strerror(errno));
        else if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
                 WEXITSTATUS(status))
            fprintf(stderr, "aifedctl: ssh-keygen -Y sign with %s failed\n", key);
        else if ((f = fopen(sigfile, "r"))) {
            n = fread(sig, 1, size - 1, f);
            fclose(f);
            sig[n] = '\0';
            rc = n ? 0 : -1;
        }
    }
    unlink(sigfile);
    unlink(file);
    rmdir(dir);
    return rc;
}

/* path made absolute (a session is read from anywhere), into buf. */
static void absolute(const char *path, char *buf, size_t size)
{
    char cwd[CTL_SESSION_PATH];

    if (realpath(path, buf) && strlen(buf) < size)
        return;
    if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
        cwd[0] = '\0';
    if (snprintf(buf, size, "%s%s%s", cwd, *cwd ? "/" : "", path) >= (int)size)
        buf[0] = '\0'; /* too long: the key's own path, at signing, says so */
}

/* An SSH login's session: its certificate and key sign the user's jobs. */
static void keep_ssh_session(struct ctl *ctl, const char *cert, const char *key,
                             int64_t until_ms)
{
    static struct ctl_session s;
    struct af_error err;

    memset(&s, 0, sizeof(s));
    absolute(cert, s.ssh_cert, sizeof(s.ssh_cert));
    absolute(key, s.ssh_key, sizeof(s.ssh_key));
    s.until_ms = until_ms;
    if (ctl_session_save(ctl->key, &s, &err) < 0)
        fprintf(stderr, "aifedctl: %s: your jobs will not be signed\n", err.text);
}

/* A job's signature: its certificate's line and its armour. */
static struct {
    Aifed__UserSignature sig;
    char cert[AF_SSHCERT_MAX_TEXT];
    char text[8192];
} job_sig;

int ctl_login_sign_job(struct ctl *ctl, Aifed__SubmitJob *sj, ctl_login_site_fn site_of)
{
    static struct ctl_session s;
    struct af_error err;
    char msg[AF_JOBSIG_MAX_TEXT], site[AF_ID_MAX + 1];
    int rc;

    if (!ctl->key)
        return 0;
    if ((rc = ctl_session_load(ctl->key, &s, &err)) < 0)
        return fprintf(stderr, "aifedctl: %s\n", err.text), -1;
    if (rc == 0 || !*s.ssh_cert)
        return 0; /* not an SSH login: nothing signs */
    if (site_of(ctl, sj->lease_id, site, sizeof(site)) < 0)
        return -1;
    aifed__user_signature__init(&job_sig.sig);
    job_sig.sig.signed_ms = af_now_ms();
    if (read_line(s.ssh_cert, job_sig.cert, sizeof(job_sig.cert)) < 0 ||
        !af_jobsig_message(sj->spec, sj->lease_id, site, sj->request_id,
                           job_sig.sig.signed_ms, msg, sizeof(msg)) ||
        ssh_sign(s.ssh_key, AF_JOBSIG_NAMESPACE, msg, job_sig.text,
                 sizeof(job_sig.text)) < 0)
        return -1;
    job_sig.sig.certificate = job_sig.cert;
    job_sig.sig.signature = job_sig.text;
    sj->user_signature = &job_sig.sig;
    return 1;
}

/* Ask for a challenge and send the login; the reply, or NULL (said). */
static Aifed__Envelope *login(struct ctl *ctl, const char *cert_file, const char *key,
                              int *rc)
{
    static char cert[16384], sig[8192];
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *ch, *rep;
    Aifed__LoginChallenge lc = AIFED__LOGIN_CHALLENGE__INIT;
    Aifed__Login l = AIFED__LOGIN__INIT;
    char pub[AF_KEY_Z85_LEN + 1], msg[256];

    *rc = 1;
    if (read_line(cert_file, cert, sizeof(cert)) < 0 || own_key(ctl->key, pub) < 0)
        return NULL;
    af_wire_set_body(&req, AIFED__ENVELOPE__BODY_LOGIN_CHALLENGE, &lc);
    if (!(ch = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_CHALLENGE, 20000, rc)))
        return NULL;
    af_login_message(ch->challenge->nonce, pub, msg, sizeof(msg));
    l.nonce = ch->challenge->nonce;
    l.certificate = cert;
    l.signature = sig;
    rep = NULL;
    if (ssh_sign(key, AF_LOGIN_NAMESPACE, msg, sig, sizeof(sig)) == 0) {
        af_wire_set_body(&req, AIFED__ENVELOPE__BODY_LOGIN, &l);
        rep = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_IDENTITY, 20000, rc);
    }
    af_wire_free(ch);
    return rep;
}

/* The enrolment the reply names for pub: until when. */
static int64_t enrolled_until(const Aifed__Identity *w, const char *pub)
{
    for (size_t i = 0; i < w->n_enrolments; i++)
        if (!strcmp(w->enrolments[i]->public_key, pub))
            return w->enrolments[i]->expires_ms;
    return 0;
}

/* Send an ID token; the Identity reply, or NULL (said, rc set). Asked
 * again while the broker fetches the issuer's keys (ctl_retry: a token is
 * taken by one key, so the same login sent twice is the same login). */
static Aifed__Envelope *token_login(struct ctl *ctl, const char *id_token, int *rc)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__Login l = AIFED__LOGIN__INIT;

    l.id_token = (char *)id_token;
    af_wire_set_body(&req, AIFED__ENVELOPE__BODY_LOGIN, &l);
    return ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_IDENTITY, 20000, rc);
}

/* The enrolment's end and who, as login prints them. */
static void say_logged_in(struct ctl *ctl, const Aifed__Envelope *rep, const char *how)
{
    char pub[AF_KEY_Z85_LEN + 1], until[64];
    int64_t end;

    if (af_keys_load_public(ctl->key, pub, &(struct af_error){{0}}) < 0)
        pub[0] = '\0';
    end = enrolled_until(rep->identity, pub);
    ctl_show_time(end, until, sizeof(until));
    if (ctl->json)
        ctl_print_json(json_pack("{s:s, s:o}", "principal", rep->identity->principal,
                                 "until", ctl_time_json(end)));
    else
        printf("logged in as %s until %s: this key (%s) acts as you until then%s\n",
               rep->identity->principal, until, ctl->key, how);
}

/* What an OpenID login leaves: the issuer and the refresh token, to renew
 * it; the enrolment's end, to know when. */
static void keep_oidc_session(struct ctl *ctl, const char *issuer, const char *client_id,
                              const char *refresh_token, const Aifed__Envelope *rep)
{
    static struct ctl_session s;
    char pub[AF_KEY_Z85_LEN + 1];
    struct af_error err;

    memset(&s, 0, sizeof(s));
    snprintf(s.issuer, sizeof(s.issuer), "%s", issuer);
    snprintf(s.client_id, sizeof(s.client_id), "%s", client_id);
    snprintf(s.refresh_token, sizeof(s.refresh_token), "%s", refresh_token);
    if (af_keys_load_public(ctl->key, pub, &err) == 0)
        s.until_ms = enrolled_until(rep->identity, pub);
    if (ctl_session_save(ctl->key, &s, &err) < 0)
        fprintf(stderr, "aifedctl: %s: the login will not be renewed\n", err.text);
}

/* An ID token from file ("-": stdin), its first line, into buf. */
static int token_file(const char *file, char *buf, size_t size)
{
    if (!strcmp(file, "-")) {
        if (!fgets(buf, (int)size, stdin))
            buf[0] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        return 0;
    }
    return read_line(file, buf, size);
}

struct login_opts {
    const char *cert, *key, *issuer, *client_id, *id_token;
};

static int oidc_login(struct ctl *ctl, const struct login_opts *o)
{
    static struct ctl_oidc_tokens t;
    const struct ctl_config *cfg = ctl->config;
    const char *issuer = o->issuer ? o->issuer : cfg ? cfg->oidc_issuer : "";
    const char *client = o->client_id                  ? o->client_id
                         : cfg && *cfg->oidc_client_id ? cfg->oidc_client_id
                                                       : "aifedctl";
    const char *scopes =
        cfg && *cfg->oidc_scopes ? cfg->oidc_scopes : "openid offline_access";
    char pub[AF_KEY_Z85_LEN + 1];
    struct af_error err;
    Aifed__Envelope *rep;
    int rc = 1;

    memset(&t, 0, sizeof(t));
    if (own_key(ctl->key, pub) < 0)
        return 1;
    if (o->id_token) {
        if (token_file(o->id_token, t.id_token, sizeof(t.id_token)) < 0)
            return 1;
    } else if (ctl_oidc_device_login(issuer, client, scopes, &t, &err) < 0) {
        fprintf(stderr, "aifedctl: login: %s\n", err.text);
        return 1;
    }
    if (!(rep = token_login(ctl, t.id_token, &rc)))
        return rc;
    if (*t.refresh_token)
        keep_oidc_session(ctl, issuer, client, t.refresh_token, rep);
    else
        ctl_session_forget(ctl->key);
    say_logged_in(ctl, rep, *t.refresh_token ? "; aifedctl renews it as you use it" : "");
    af_wire_free(rep);
    return 0;
}

static int ssh_cert_login(struct ctl *ctl, const struct login_opts *o)
{
    char keybuf[4096], pub[AF_KEY_Z85_LEN + 1], how[4200];
    const char *key = o->key;
    Aifed__Envelope *rep;
    int rc;

    if (!key) { /* id_ed25519-cert.pub -> id_ed25519 */
        size_t n = strlen(o->cert);
        snprintf(keybuf, sizeof(keybuf), "%.*s",
                 n > 9 && !strcmp(o->cert + n - 9, "-cert.pub") ? (int)(n - 9) : (int)n,
                 o->cert);
        key = keybuf;
    }
    if (!(rep = login(ctl, o->cert, key, &rc)))
        return rc;
    if (af_keys_load_public(ctl->key, pub, &(struct af_error){{0}}) < 0)
        pub[0] = '\0';
    keep_ssh_session(ctl, o->cert, key, enrolled_until(rep->identity, pub));
    snprintf(how, sizeof(how), ", and your jobs are signed with %s", key);
    say_logged_in(ctl, rep, how);
    af_wire_free(rep);
    return 0;
}

int ctl_cmd_login(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    struct login_opts o = {0};
    int opt, rc;

    while ((opt = ctl_getopt(argc, argv, &ctl_opts_login)) != -1)
        if (opt == 'c')
            o.cert = optarg;
        else if (opt == 'k')
            o.key = optarg;
        else if (opt == 'i')
            o.issuer = optarg;
        else if (opt == 'C')
            o.client_id = optarg;
        else if (opt == 't')
            o.id_token = optarg;
        else if ((rc = ctl_opt_common(cmd, ctl, opt)) >= 0)
            return rc;
    if (optind != argc)
        return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!ctl->key)
        return ctl_usage_error(cmd,
                               "say where your CURVE key is (or is to be made): --key "
                               "FILE.key, AIFED_KEY or key in your config",
                               NULL);
    if (o.cert && (o.issuer || o.id_token))
        return ctl_usage_error(cmd, "log in with --ssh-cert or with OpenID, not both",
                               NULL);
    if (o.cert)
        return ssh_cert_login(ctl, &o);
    if (!o.id_token && !o.issuer && !(ctl->config && *ctl->config->oidc_issuer))
        return ctl_usage_error(cmd,
                               "give --ssh-cert FILE (your EuroHPC SSH certificate), or "
                               "an OpenID issuer: --issuer URL or oidc_issuer in your "
                               "config",
                               NULL);
    return oidc_login(ctl, &o);
}

/* Less than this left of an OpenID login's enrolment: renewed first. */
#define RENEW_BEFORE_MS (15 * 60 * 1000)

void ctl_login_renew(struct ctl *ctl)
{
    static struct ctl_session s;
    static struct ctl_oidc_tokens t;
    struct af_error err;
    Aifed__Envelope *rep;
    char until[64];
    int rc;

    if (!ctl->key || ctl_session_load(ctl->key, &s, &err) <= 0 || !*s.issuer ||
        !*s.refresh_token || s.until_ms - af_now_ms() > RENEW_BEFORE_MS)
        return;
    memset(&t, 0, sizeof(t));
    if (ctl_oidc_refresh(s.issuer, s.client_id, s.refresh_token, &t, &err) < 0) {
        ctl_show_time(s.until_ms, until, sizeof(until));
        fprintf(stderr,
                "aifedctl: your login (until %s) could not be renewed: %s; "
                "aifedctl login\n",
                until, err.text);
        return;
    }
    if (!(rep = token_login(ctl, t.id_token, &rc)))
        return; /* said */
    keep_oidc_session(ctl, s.issuer, s.client_id,
                      *t.refresh_token ? t.refresh_token : s.refresh_token, rep);
    af_wire_free(rep);
}

int ctl_cmd_logout(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT, *rep;
    Aifed__Logout lo = AIFED__LOGOUT__INIT;
    int rc;

    if ((rc = ctl_parse_json_only(cmd, ctl, argc, argv)) >= 0)
        return rc;
    if (optind != argc)
        return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    af_wire_set_body(&req, AIFED__ENVELOPE__BODY_LOGOUT, &lo);
    if (!(rep = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_IDENTITY, 20000, &rc)))
        return rc;
    if (ctl_session_forget(ctl->key) < 0)
        fprintf(stderr, "aifedctl: cannot delete this key's login file: %s\n",
                strerror(errno));
    if (!ctl->json)
        printf("logged out: this key no longer acts as %s\n", rep->identity->principal);
    else
        ctl_print_json(json_pack("{s:s}", "logged_out", rep->identity->principal));
    af_wire_free(rep);
    return 0;
}
