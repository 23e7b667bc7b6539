/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pressure: a test peer that speaks aifed over CURVE and misbehaves in
 * ways that cost the broker memory, each bounded in count and time.
 *
 *   pressure EP BROKER_PUB KEY noread CONNS JOB_ID SECONDS RATE
 *       CONNS connections that each take one message at most (RCVHWM 1)
 *       and never read, sending GetJob JOB_ID at RATE a second in all for
 *       SECONDS: prints "sent=N"
 *   pressure EP BROKER_PUB KEY conns N
 *       N connections open at once, one ListSites on each (a 5 s wait for
 *       each answer): prints "ok=N limited=N none=N"
 *   pressure EP BROKER_PUB SITE_KEY hello N NEW
 *       N Hellos, ten a second, on one connection (NEW 0) or each on a
 *       new one (NEW 1), reading everything: prints "startjobs=N", the
 *       StartJobs the broker sent
 */
#include "af_keys.h"
#include "af_wire.h"
#include "af_zsock.h"

#include "aifed.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define MAX_CONNS 64

static char pub[AF_KEY_Z85_LEN + 1];
static struct af_keypair kp;
static const char *endpoint;

static void *connect_one(void *zctx, int rcvhwm)
{
    struct af_error err;
    void *s = af_zsock_client(zctx, endpoint, pub, &kp, 64 << 20, NULL, &err);
    int timeout = 5000;

    if (!s) {
        fprintf(stderr, "pressure: %s\n", err.text);
        exit(2);
    }
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    if (rcvhwm)
        zmq_setsockopt(s, ZMQ_RCVHWM, &rcvhwm, sizeof(rcvhwm));
    return s;
}

static void send_env(void *s, Aifed__Envelope *env)
{
    void *buf;
    size_t len;

    env->version = AF_WIRE_VERSION;
    if (af_wire_pack(env, &buf, &len) == 0) {
        zmq_send(s, buf, len, ZMQ_DONTWAIT);
        free(buf);
    }
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

    nanosleep(&ts, NULL);
}

static int noread(void *zctx, int conns, const char *job, double seconds, double rate)
{
    void *s[MAX_CONNS];
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__GetJob g = AIFED__GET_JOB__INIT;
    double start = now_s();
    long sent = 0;

    if (conns < 1 || conns > MAX_CONNS || rate <= 0)
        return 2;
    for (int i = 0; i < conns; i++)
        s[i] = connect_one(zctx, 1);
    g.job_id = (char *)job;
    env.body_case = AIFED__ENVELOPE__BODY_GET_JOB;
    env.get_job = &g;
    while (now_s() - start < seconds) {
        env.corr_id = (uint64_t)sent + 1;
        send_env(s[sent % conns], &env);
        sent++;
        pause_s(1.0 / rate);
    }
    printf("sent=%ld\n", sent);
    for (int i = 0; i < conns; i++)
        af_zsock_close(s[i]);
    return 0;
}

/* The body of one reply on s, or 0 when none came in 5 s (ERROR's code in
 * *code). */
static int reply_on(void *s, int *code)
{
    static uint8_t buf[1 << 20];
    Aifed__Envelope *r = NULL;
    struct af_error err;
    int got = zmq_recv(s, buf, sizeof(buf), 0), body = 0;

    if (got < 0 || af_wire_unpack(buf, (size_t)got, sizeof(buf), &r, &err) < 0)
        return 0;
    body = r->body_case;
    if (body == AIFED__ENVELOPE__BODY_ERROR)
        *code = r->error->code;
    af_wire_free(r);
    return body;
}

static int conns_at_once(void *zctx, int n)
{
    void *s[MAX_CONNS];
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__ListSites ls = AIFED__LIST_SITES__INIT;
    int ok = 0, limited = 0, none = 0;

    if (n < 1 || n > MAX_CONNS)
        return 2;
    env.body_case = AIFED__ENVELOPE__BODY_LIST_SITES;
    env.list_sites = &ls;
    for (int i = 0; i < n; i++) {
        int code = 0, body;

        s[i] = connect_one(zctx, 0);
        send_env(s[i], &env);
        body = reply_on(s[i], &code);
        ok += body == AIFED__ENVELOPE__BODY_SITE_LIST;
        limited += body == AIFED__ENVELOPE__BODY_ERROR &&
                   code == AIFED__ERROR_CODE__ERROR_LIMITED;
        none += body == 0;
    }
    printf("ok=%d limited=%d none=%d\n", ok, limited, none);
    for (int i = 0; i < n; i++)
        af_zsock_close(s[i]);
    return 0;
}

/* Count what s has for us now: StartJobs. */
static int drain_startjobs(void *s)
{
    static uint8_t buf[1 << 22];
    int n = 0, got;

    while ((got = zmq_recv(s, buf, sizeof(buf), ZMQ_DONTWAIT)) >= 0) {
        Aifed__Envelope *r = NULL;
        struct af_error err;

        if (af_wire_unpack(buf, (size_t)got, sizeof(buf), &r, &err) == 0)
            n += r->body_case == AIFED__ENVELOPE__BODY_START_JOB;
        af_wire_free(r);
    }
    return n;
}

static int hellos(void *zctx, int n, int fresh)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__Hello h = AIFED__HELLO__INIT;
    void *s = connect_one(zctx, 0);
    int startjobs = 0;

    h.agent_version = "pressure";
    env.body_case = AIFED__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    for (int i = 0; i < n; i++) {
        if (fresh && i > 0) {
            startjobs += drain_startjobs(s);
            af_zsock_close(s);
            s = connect_one(zctx, 0);
        }
        send_env(s, &env);
        pause_s(0.1);
        startjobs += drain_startjobs(s);
    }
    pause_s(1.0);
    startjobs += drain_startjobs(s);
    af_zsock_close(s);
    printf("startjobs=%d\n", startjobs);
    return 0;
}

int main(int argc, char **argv)
{
    struct af_error err;
    void *zctx;
    int rc = 2;

    if (argc < 6) {
        fprintf(stderr, "usage: pressure EP BROKER_PUB KEY noread|conns|hello ARG...\n");
        return 2;
    }
    endpoint = argv[1];
    if (af_keys_load_public(argv[2], pub, &err) < 0 ||
        af_keys_load_secret(argv[3], &kp, &err) < 0) {
        fprintf(stderr, "pressure: %s\n", err.text);
        return 2;
    }
    zctx = zmq_ctx_new();
    if (!strcmp(argv[4], "noread") && argc == 9)
        rc = noread(zctx, atoi(argv[5]), argv[6], atof(argv[7]), atof(argv[8]));
    else if (!strcmp(argv[4], "conns") && argc == 6)
        rc = conns_at_once(zctx, atoi(argv[5]));
    else if (!strcmp(argv[4], "hello") && argc == 7)
        rc = hellos(zctx, atoi(argv[5]), atoi(argv[6]));
    else
        fprintf(stderr, "pressure: unknown kind or arguments\n");
    zmq_ctx_term(zctx);
    return rc;
}
