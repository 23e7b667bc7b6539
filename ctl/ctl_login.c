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
#include "af_keys.h"
#include "af_sshcert.h"
#include "af_time.h"
#include "af_wire.h"
#include "ctl_call.h"
#include "ctl_opts.h"
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

/* msg signed by ssh-keygen -Y sign with key, into sig (armoured). */
static int ssh_sign(const char *key, const char *msg, char *sig, size_t size)
{
    char dir[] = "/tmp/aifedctl-login.XXXXXX", file[64], sigfile[80];
    char *argv[] = {"ssh-keygen", "-q", "-Y",        "sign", "-n",
                    "aifed",      "-f", (char *)key, file,   NULL};
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
    if (ssh_sign(key, msg, sig, sizeof(sig)) == 0) {
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

int ctl_cmd_login(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    const char *cert = NULL, *key = NULL;
    char keybuf[4096], pub[AF_KEY_Z85_LEN + 1], until[64];
    Aifed__Envelope *rep;
    int opt, rc;

    while ((opt = ctl_getopt(argc, argv, &ctl_opts_login)) != -1)
        if (opt == 'c')
            cert = optarg;
        else if (opt == 'k')
            key = optarg;
        else if ((rc = ctl_opt_common(cmd, ctl, opt)) >= 0)
            return rc;
    if (optind != argc || !cert)
        return ctl_usage_error(cmd, "give --ssh-cert FILE (your EuroHPC SSH certificate)",
                               NULL);
    if (!ctl->key)
        return ctl_usage_error(cmd,
                               "say where your CURVE key is (or is to be made): --key "
                               "FILE.key, AIFED_KEY or key in your config",
                               NULL);
    if (!key) { /* id_ed25519-cert.pub -> id_ed25519 */
        size_t n = strlen(cert);
        snprintf(keybuf, sizeof(keybuf), "%.*s",
                 n > 9 && !strcmp(cert + n - 9, "-cert.pub") ? (int)(n - 9) : (int)n,
                 cert);
        key = keybuf;
    }
    if (!(rep = login(ctl, cert, key, &rc)))
        return rc;
    if (af_keys_load_public(ctl->key, pub, &(struct af_error){{0}}) < 0)
        pub[0] = '\0';
    ctl_show_time(enrolled_until(rep->identity, pub), until, sizeof(until));
    if (ctl->json)
        ctl_print_json(json_pack("{s:s, s:o}", "principal", rep->identity->principal,
                                 "until",
                                 ctl_time_json(enrolled_until(rep->identity, pub))));
    else
        printf("logged in as %s until %s: this key (%s) acts as you until then\n",
               rep->identity->principal, until, ctl->key);
    af_wire_free(rep);
    return 0;
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
    if (!ctl->json)
        printf("logged out: this key no longer acts as %s\n", rep->identity->principal);
    else
        ctl_print_json(json_pack("{s:s}", "logged_out", rep->identity->principal));
    af_wire_free(rep);
    return 0;
}
