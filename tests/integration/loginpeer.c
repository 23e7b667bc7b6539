/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loginpeer: a test client that logs in as aifedctl does, and then does
 * what aifedctl never does, printing the broker's answer to each step as
 * "ok PRINCIPAL" or "CODE message":
 *
 *   loginpeer EP BROKER_PUB KEY CERT SSHKEY replay   (a login, a logout on a new
 *       connection, then the same login again on a third)
 *   loginpeer EP BROKER_PUB KEY CERT SSHKEY tamper   (a signature's byte changed)
 *   loginpeer EP BROKER_PUB KEY CERT SSHKEY stolen OTHER_KEY
 *       (a login signed for this connection's key, sent on OTHER_KEY's)
 */
#include "af_keys.h"
#include "af_wire.h"
#include "af_zsock.h"

#include "aifed.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static char pub[AF_KEY_Z85_LEN + 1];
static const char *ep;

static void *connect_as(void *zctx, const char *key, struct af_keypair *kp)
{
    struct af_error err;
    int timeout = 10000;
    void *s;

    if (af_keys_load_secret(key, kp, &err) < 0 ||
        !(s = af_zsock_client(zctx, ep, pub, kp, 1 << 20, NULL, &err))) {
        fprintf(stderr, "loginpeer: %s\n", err.text);
        exit(2);
    }
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    return s;
}

/* Send env on s and print the answer; the reply (free it) or NULL. */
static Aifed__Envelope *ask(void *s, Aifed__Envelope *env)
{
    static uint8_t buf[1 << 16];
    Aifed__Envelope *r = NULL;
    struct af_error err;
    void *out;
    size_t len;
    int got;

    env->version = AF_WIRE_VERSION;
    if (af_wire_pack(env, &out, &len) < 0)
        exit(2);
    zmq_send(s, out, len, 0);
    free(out);
    if ((got = zmq_recv(s, buf, sizeof(buf), 0)) < 0 ||
        af_wire_unpack(buf, (size_t)got, sizeof(buf), &r, &err) < 0) {
        printf("no reply\n");
        return NULL;
    }
    if (r->body_case == AIFED__ENVELOPE__BODY_ERROR)
        printf("%d %s\n", r->error->code, r->error->message);
    else if (r->body_case == AIFED__ENVELOPE__BODY_IDENTITY)
        printf("ok %s\n", r->identity->principal);
    return r;
}

/* path into buf; only its first line when one_line. */
static void read_all(const char *path, char *buf, size_t size, int one_line)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;

    if (f)
        fclose(f);
    buf[n] = '\0';
    if (one_line)
        buf[strcspn(buf, "\n")] = '\0';
}

int main(int argc, char **argv)
{
    static char cert[16384], sig[8192], cmd[4096];
    Aifed__Envelope env = AIFED__ENVELOPE__INIT, *ch;
    Aifed__LoginChallenge lc = AIFED__LOGIN_CHALLENGE__INIT;
    Aifed__Login l = AIFED__LOGIN__INIT;
    struct af_keypair kp, other;
    struct af_error err;
    void *zctx = zmq_ctx_new(), *s;
    FILE *f;

    if (argc < 7 || af_keys_load_public(argv[2], pub, &err) < 0)
        return fprintf(stderr, "usage: see loginpeer.c\n"), 2;
    ep = argv[1];
    read_all(argv[4], cert, sizeof(cert), 1);
    s = connect_as(zctx, argv[3], &kp);
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_LOGIN_CHALLENGE, &lc);
    if (!(ch = ask(s, &env)) || ch->body_case != AIFED__ENVELOPE__BODY_CHALLENGE)
        return 1;
    if (!(f = fopen("/tmp/loginpeer.msg", "w")))
        return 2;
    fprintf(f, "aifed login\n%s\n%s\n", ch->challenge->nonce, kp.public_z85);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "rm -f /tmp/loginpeer.msg.sig && ssh-keygen -q -Y sign -n aifed -f %s "
             "/tmp/loginpeer.msg >/dev/null 2>&1",
             argv[5]);
    if (system(cmd) != 0)
        return 2;
    read_all("/tmp/loginpeer.msg.sig", sig, sizeof(sig), 0);
    l.nonce = ch->challenge->nonce;
    l.certificate = cert;
    l.signature = sig;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_LOGIN, &l);
    if (!strcmp(argv[6], "tamper")) {
        char *b = strstr(sig, "\n") + 40; /* inside the base64 */
        *b = *b == 'A' ? 'B' : 'A';
    } else if (!strcmp(argv[6], "stolen") && argc == 8) {
        af_zsock_close(s);
        s = connect_as(zctx, argv[7], &other);
    }
    af_wire_free(ask(s, &env));
    if (!strcmp(argv[6], "replay")) {
        Aifed__Envelope out = AIFED__ENVELOPE__INIT;
        Aifed__Logout lo = AIFED__LOGOUT__INIT;

        af_zsock_close(s); /* its principal was anon:login: the next is the user */
        s = connect_as(zctx, argv[3], &kp);
        af_wire_set_body(&out, AIFED__ENVELOPE__BODY_LOGOUT, &lo);
        af_wire_free(ask(s, &out));
        af_zsock_close(s);
        s = connect_as(zctx, argv[3], &kp);
        af_wire_free(ask(s, &env));
    }
    af_wire_free(ch);
    af_zsock_close(s);
    zmq_ctx_term(zctx);
    return 0;
}
