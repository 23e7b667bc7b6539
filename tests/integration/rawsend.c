/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rawsend: a test peer that speaks CURVE but not aifed. It sends one
 * malformed message of the named kind to the broker's client socket and
 * prints the reply as "CODE message", or "no reply". Exit 0 when an Error
 * came back, 1 otherwise.
 *
 *   rawsend ENDPOINT BROKER_PUB KEY garbage|truncated|oversized|version|
 *                                   wrongtype|multipart|emptybody
 */
#include "af_keys.h"
#include "af_wire.h"
#include "af_zsock.h"

#include "aifed.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static size_t valid_submit(uint8_t *buf, uint32_t version, int body)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__Submit s = AIFED__SUBMIT__INIT;
    Aifed__Workload w = AIFED__WORKLOAD__INIT;
    Aifed__LeaseHeld held = AIFED__LEASE_HELD__INIT;

    w.project = "llm-eu";
    w.gpus = 1;
    w.walltime_s = 60;
    s.request_id = "raw-1";
    s.workload = &w;
    env.version = version;
    env.corr_id = 7;
    if (body == AIFED__ENVELOPE__BODY_LEASE_HELD) {
        held.lease_id = "lease-0000000000000000";
        env.body_case = AIFED__ENVELOPE__BODY_LEASE_HELD;
        env.lease_held = &held;
    } else if (body == AIFED__ENVELOPE__BODY_SUBMIT) {
        env.body_case = AIFED__ENVELOPE__BODY_SUBMIT;
        env.submit = &s;
    }
    return aifed__envelope__pack(&env, buf);
}

int main(int argc, char **argv)
{
    static uint8_t big[2 * 1024 * 1024];
    uint8_t buf[4096];
    size_t len = 0;
    char pub[AF_KEY_Z85_LEN + 1];
    struct af_keypair kp;
    struct af_error err;
    void *zctx, *s;
    const char *kind;
    int rc = 1, timeout = 5000;

    if (argc != 5) {
        fprintf(stderr, "usage: rawsend ENDPOINT BROKER_PUB KEY KIND\n");
        return 2;
    }
    kind = argv[4];
    if (af_keys_load_public(argv[2], pub, &err) < 0 ||
        af_keys_load_secret(argv[3], &kp, &err) < 0) {
        fprintf(stderr, "rawsend: %s\n", err.text);
        return 2;
    }
    zctx = zmq_ctx_new();
    s = af_zsock_client(zctx, argv[1], pub, &kp, sizeof(big) * 2, NULL, &err);
    if (!s) {
        fprintf(stderr, "rawsend: %s\n", err.text);
        return 2;
    }
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    if (!strcmp(kind, "garbage")) {
        for (size_t i = 0; i < 200; i++)
            buf[i] = (uint8_t)(i * 37 + 11);
        zmq_send(s, buf, 200, 0);
    } else if (!strcmp(kind, "truncated")) {
        len = valid_submit(buf, AF_WIRE_VERSION, AIFED__ENVELOPE__BODY_SUBMIT);
        zmq_send(s, buf, len - 5, 0);
    } else if (!strcmp(kind, "oversized")) {
        memset(big, 0x0a, sizeof(big)); /* larger than the broker's 1 MiB limit */
        zmq_send(s, big, sizeof(big), 0);
    } else if (!strcmp(kind, "version")) {
        len = valid_submit(buf, 9, AIFED__ENVELOPE__BODY_SUBMIT);
        zmq_send(s, buf, len, 0);
    } else if (!strcmp(kind, "wrongtype")) {
        /* A site's message on the client socket. */
        len = valid_submit(buf, AF_WIRE_VERSION, AIFED__ENVELOPE__BODY_LEASE_HELD);
        zmq_send(s, buf, len, 0);
    } else if (!strcmp(kind, "multipart")) {
        len = valid_submit(buf, AF_WIRE_VERSION, AIFED__ENVELOPE__BODY_SUBMIT);
        zmq_send(s, buf, len, ZMQ_SNDMORE);
        zmq_send(s, buf, len, 0);
    } else if (!strcmp(kind, "emptybody")) {
        len = valid_submit(buf, AF_WIRE_VERSION, 0);
        zmq_send(s, buf, len, 0);
    } else {
        fprintf(stderr, "rawsend: unknown kind %s\n", kind);
        return 2;
    }
    int n = zmq_recv(s, buf, sizeof(buf), 0);
    if (n < 0) {
        printf("no reply\n");
    } else {
        Aifed__Envelope *env = NULL;
        if (af_wire_unpack(buf, (size_t)n, sizeof(buf), &env, &err) == 0 &&
            env->body_case == AIFED__ENVELOPE__BODY_ERROR) {
            printf("%d %s\n", env->error->code, env->error->message);
            rc = 0;
        } else {
            printf("unexpected reply\n");
        }
        af_wire_free(env);
    }
    af_zsock_close(s);
    zmq_ctx_term(zctx);
    return rc;
}
