/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fakebroker: a broker that lies, for testing the agent. It listens with the
 * real broker's CURVE key (so the agent connects), welcomes the agent with a
 * signing key, and once the site advertises sends one LeaseHold whose token
 * is of the named kind:
 *
 *   valid    signed with the key it announced, for the lease it sends
 *   forged   signed with another key
 *   altered  signed with the announced key, but for 1 GPU while the lease says 8
 *
 * It prints the endpoint first (for the agent's config), then the agent's
 * answer ("held" or "refused: REASON") and the pool's free GPUs in the next
 * advertisement ("free=N"). Bounded: it gives up after 20 s.
 *
 *   fakebroker BROKER_KEY_FILE KIND
 */
#include "af_keys.h"
#include "af_token.h"
#include "af_wire.h"
#include "af_zsock.h"

#include "aifed.pb-c.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static struct af_signer announced, other;
static char announced_pub[AF_SIGN_PK_B64];

static void reply(void *s, const struct af_zmsg *z, Aifed__Envelope *env)
{
    env->version = AF_WIRE_VERSION;
    af_zsock_send(s, z->rid, z->rid_len, env);
}

static void welcome(void *s, const struct af_zmsg *z)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__Welcome w = AIFED__WELCOME__INIT;

    w.advertise_interval_ms = 200;
    w.principal = "site:mimer";
    w.signing_key = announced_pub;
    env.corr_id = z->env->corr_id;
    env.body_case = AIFED__ENVELOPE__BODY_WELCOME;
    env.welcome = &w;
    reply(s, z, &env);
}

/* A hold of the lease the test knows, signed as kind says: valid (as the
 * broker would), forged (another key), altered (the token for 1 GPU, the
 * lease for 8), nodes (the token for 1 node, the lease for 2), principal
 * (the token for bob, the lease alice's), expired (both ended an hour ago),
 * regrow (valid: 16 GPUs for the same lease id, once 8 are held). */
static void hold(void *s, const struct af_zmsg *z, const char *kind)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__LeaseHold h = AIFED__LEASE_HOLD__INIT;
    Aifed__Lease l = AIFED__LEASE__INIT;
    Aifed__Workload w = AIFED__WORKLOAD__INIT;
    struct af_token_claims c = {
        .gpus = 8, .nodes = 1, .not_before_ms = 1, .not_after_ms = 4102444800000};
    char token[AF_TOKEN_MAX];

    strcpy(c.id, "lease-00000000000000aa");
    strcpy(c.site, "mimer");
    strcpy(c.pool, "gpu");
    strcpy(c.project, "llm-eu");
    strcpy(c.principal, "user:alice");
    if (!strcmp(kind, "altered"))
        c.gpus = 1;
    if (!strcmp(kind, "principal"))
        strcpy(c.principal, "user:bob");
    if (!strcmp(kind, "expired"))
        c.not_after_ms = (int64_t)time(NULL) * 1000 - 3600 * 1000;
    if (!strcmp(kind, "regrow"))
        c.gpus = 16;
    af_token_make(&c, !strcmp(kind, "forged") ? &other : &announced, token,
                  sizeof(token));
    w.project = "llm-eu";
    w.gpus = 8;
    w.walltime_s = 3600;
    l.id = "lease-00000000000000aa";
    l.request_id = "req-1";
    l.principal = "user:alice";
    l.workload = &w;
    l.state = AIFED__LEASE_STATE__LEASE_PENDING;
    l.site = "mimer";
    l.pool = "gpu";
    l.gpus = c.gpus == 1 ? 8 : c.gpus;
    w.gpus = l.gpus;
    l.nodes = !strcmp(kind, "nodes") ? 2 : 1;
    l.created_ms = 1;
    l.expires_ms = c.not_after_ms;
    l.token = token;
    h.lease = &l;
    env.body_case = AIFED__ENVELOPE__BODY_LEASE_HOLD;
    env.lease_hold = &h;
    reply(s, z, &env);
}

int main(int argc, char **argv)
{
    struct af_keypair kp;
    struct af_error err;
    char ep[256];
    void *zctx, *s;
    int stage = 0; /* 0 wait hello, 1 wait advert, 2 wait answer, 3 wait advert */
    int regrown = 0;
    time_t deadline = time(NULL) + 20;

    if (argc != 3 || sodium_init() < 0) {
        fprintf(stderr, "usage: fakebroker BROKER_KEY_FILE "
                        "valid|forged|altered|nodes|principal|expired|regrow\n");
        return 2;
    }
    if (af_keys_load_secret(argv[1], &kp, &err) < 0) {
        fprintf(stderr, "fakebroker: %s\n", err.text);
        return 2;
    }
    af_signer_generate(&announced);
    af_signer_generate(&other);
    af_sign_pub_encode(announced.pk, announced_pub);
    zctx = zmq_ctx_new();
    if (!(s = af_zsock_server(zctx, "tcp://127.0.0.1:*", &kp, "agent", 1 << 20, 1000, ep,
                              sizeof(ep), &err))) {
        fprintf(stderr, "fakebroker: %s\n", err.text);
        return 2;
    }
    printf("%s\n", ep);
    fflush(stdout);
    while (stage < 4 && time(NULL) < deadline) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        struct af_zmsg z;

        if (zmq_poll(&it, 1, 200) <= 0 || af_zsock_recv(s, true, 1 << 20, &z) < 0)
            continue;
        if (!z.env) {
            af_zmsg_clear(&z);
            continue;
        }
        switch (z.env->body_case) {
        case AIFED__ENVELOPE__BODY_HELLO:
            welcome(s, &z);
            stage = stage ? stage : 1;
            break;
        case AIFED__ENVELOPE__BODY_ADVERTISEMENT:
            if (stage == 1) {
                hold(s, &z, strcmp(argv[2], "regrow") ? argv[2] : "valid");
                stage = 2;
            } else if (stage == 3) {
                printf("free=%u\n", z.env->advertisement->pools[0]->gpus_free);
                stage = 4;
            }
            break;
        case AIFED__ENVELOPE__BODY_LEASE_HELD:
            printf("held\n");
            /* regrow: 8 GPUs held; now the same lease for 16. */
            if (!strcmp(argv[2], "regrow") && !regrown++)
                hold(s, &z, "regrow");
            else
                stage = 3;
            break;
        case AIFED__ENVELOPE__BODY_LEASE_REFUSED:
            printf("refused: %s\n", z.env->lease_refused->reason);
            stage = 3;
            break;
        default:
            break;
        }
        fflush(stdout);
        af_zmsg_clear(&z);
    }
    af_zsock_close(s);
    zmq_ctx_term(zctx);
    return stage == 4 ? 0 : 1;
}
