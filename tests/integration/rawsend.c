/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rawsend: a test peer that speaks CURVE but not aifed. It sends one
 * malformed message of the named kind to the broker's client socket and
 * prints the reply as "CODE message", or "no reply". Exit 0 when an Error
 * came back, 1 otherwise.
 *
 *   rawsend ENDPOINT BROKER_PUB KEY garbage|truncated|oversized|version|
 *                                   wrongtype|multipart|emptybody|advert-other
 *   rawsend ENDPOINT BROKER_PUB KEY held-other LEASE_ID
 *   rawsend ENDPOINT BROKER_PUB KEY job-status JOB_ID (says it COMPLETED)
 *   rawsend ENDPOINT BROKER_PUB KEY flood N     (prints "ok=N limited=N")
 *   rawsend ENDPOINT BROKER_PUB KEY twice FILE  (ListSites on one connection,
 *           again once FILE exists: prints each answer, "ok" or "CODE message")
 *   rawsend ENDPOINT - - plaintext              (a peer without CURVE)
 *   rawsend ENDPOINT - - idle N FILE            (N TCP connections that send
 *           nothing, each opened again when the broker closes it, until FILE
 *           exists or 60 s: prints "opened=N" once they are open, then
 *           "closed=N", how many the broker closed)
 */
#include "af_keys.h"
#include "af_wire.h"
#include "af_zsock.h"

#include "aifed.pb-c.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
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

static size_t advert_for(uint8_t *buf, const char *site_id)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__Advertisement a = AIFED__ADVERTISEMENT__INIT;
    Aifed__Site site = AIFED__SITE__INIT;

    site.id = (char *)site_id;
    site.country = "GR";
    a.site = &site;
    env.version = AF_WIRE_VERSION;
    env.corr_id = 8;
    env.body_case = AIFED__ENVELOPE__BODY_ADVERTISEMENT;
    env.advertisement = &a;
    return aifed__envelope__pack(&env, buf);
}

static size_t held_for(uint8_t *buf, const char *lease_id)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__LeaseHeld held = AIFED__LEASE_HELD__INIT;

    held.lease_id = (char *)lease_id;
    env.version = AF_WIRE_VERSION;
    env.corr_id = 9;
    env.body_case = AIFED__ENVELOPE__BODY_LEASE_HELD;
    env.lease_held = &held;
    return aifed__envelope__pack(&env, buf);
}

/* A site's word on a job: that it completed. */
static size_t job_status_for(uint8_t *buf, const char *job_id)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__JobStatus st = AIFED__JOB_STATUS__INIT;

    st.job_id = (char *)job_id;
    st.state = AIFED__JOB_STATE__JOB_COMPLETED;
    env.version = AF_WIRE_VERSION;
    env.corr_id = 9;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_JOB_STATUS, &st);
    return aifed__envelope__pack(&env, buf);
}

/* n ListSites at once; count the answers: served, or refused by the limit. */
static int flood(void *s, int n)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__ListSites ls = AIFED__LIST_SITES__INIT;
    uint8_t buf[1 << 16];
    int ok = 0, limited = 0, other = 0;

    env.version = AF_WIRE_VERSION;
    env.body_case = AIFED__ENVELOPE__BODY_LIST_SITES;
    env.list_sites = &ls;
    for (int i = 0; i < n; i++) {
        size_t len = aifed__envelope__pack(&env, buf);
        zmq_send(s, buf, len, 0);
    }
    for (int i = 0; i < n; i++) {
        Aifed__Envelope *r = NULL;
        struct af_error err;
        int got = zmq_recv(s, buf, sizeof(buf), 0);

        if (got < 0)
            break; /* the 5 s receive timeout bounds the wait */
        if (af_wire_unpack(buf, (size_t)got, sizeof(buf), &r, &err) < 0) {
            other++;
            continue;
        }
        if (r->body_case == AIFED__ENVELOPE__BODY_SITE_LIST)
            ok++;
        else if (r->body_case == AIFED__ENVELOPE__BODY_ERROR &&
                 r->error->code == AIFED__ERROR_CODE__ERROR_LIMITED)
            limited++;
        else
            other++;
        af_wire_free(r);
    }
    printf("ok=%d limited=%d other=%d\n", ok, limited, other);
    return ok + limited == n ? 0 : 1;
}

/* One ListSites on s; prints "ok", "CODE message" or "no reply". */
static int ask_sites(void *s)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT, *r = NULL;
    Aifed__ListSites ls = AIFED__LIST_SITES__INIT;
    uint8_t buf[1 << 16];
    struct af_error err;
    int got;

    env.version = AF_WIRE_VERSION;
    env.body_case = AIFED__ENVELOPE__BODY_LIST_SITES;
    env.list_sites = &ls;
    zmq_send(s, buf, aifed__envelope__pack(&env, buf), 0);
    if ((got = zmq_recv(s, buf, sizeof(buf), 0)) < 0) {
        printf("no reply\n");
    } else if (af_wire_unpack(buf, (size_t)got, sizeof(buf), &r, &err) < 0) {
        printf("unexpected reply\n");
    } else if (r->body_case == AIFED__ENVELOPE__BODY_ERROR) {
        printf("%d %s\n", r->error->code, r->error->message);
    } else {
        printf("%s\n", r->body_case == AIFED__ENVELOPE__BODY_SITE_LIST
                           ? "ok"
                           : "unexpected reply");
    }
    fflush(stdout);
    af_wire_free(r);
    return 0;
}

/* Ask, wait (at most 20 s) until the test creates FILE, ask again on the
 * same connection: what changed in between must reach an open connection. */
static int twice(void *s, const char *file)
{
    const struct timespec tick = {0, 50 * 1000 * 1000};

    ask_sites(s);
    for (int i = 0; i < 400 && access(file, F_OK) != 0; i++)
        nanosleep(&tick, NULL);
    return ask_sites(s);
}

/* A peer that does not speak CURVE: it must get nothing at all. */
static int plaintext(const char *endpoint)
{
    void *zctx = zmq_ctx_new(), *s = zmq_socket(zctx, ZMQ_DEALER);
    int timeout = 2000, linger = 0, n;
    uint8_t buf[256];
    size_t len = valid_submit(buf, AF_WIRE_VERSION, AIFED__ENVELOPE__BODY_SUBMIT);

    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_connect(s, endpoint);
    zmq_send(s, buf, len, 0);
    n = zmq_recv(s, buf, sizeof(buf), 0);
    printf("%s\n", n < 0 ? "no reply" : "unexpected reply");
    zmq_close(s);
    zmq_ctx_term(zctx);
    return n < 0 ? 0 : 1;
}

/* One TCP connection to tcp://A.B.C.D:PORT, or -1. */
static int tcp_open(const char *endpoint)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct timeval tv = {0, 100 * 1000}; /* beyond the backlog, give up soon */
    char host[64];
    unsigned port;
    int fd;

    if (sscanf(endpoint, "tcp://%63[0-9.]:%u", host, &port) != 2 ||
        inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    sa.sin_port = htons((uint16_t)port);
    if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Whether the broker closed fd: read its greeting, if any, to EOF or empty. */
static bool tcp_closed(int fd)
{
    char buf[256];
    ssize_t got;

    while ((got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        ;
    return got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Connections that never start a handshake, as an attacker holds them: each
 * one the broker closes is opened again, until FILE exists (at most 60 s). */
static int idle(const char *endpoint, int n, const char *file)
{
    struct timespec start, now;
    struct rlimit rl;
    int *fds = calloc((size_t)n, sizeof(*fds));
    int opened = 0, closed = 0;

    if (!fds || getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    for (int i = 0; i < n; i++)
        if ((fds[opened] = tcp_open(endpoint)) >= 0)
            opened++;
    printf("opened=%d\n", opened);
    fflush(stdout);
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        const struct timespec tick = {0, 50 * 1000 * 1000};
        for (int i = 0; i < opened; i++) {
            if (fds[i] < 0 || tcp_closed(fds[i])) {
                if (fds[i] >= 0) {
                    close(fds[i]);
                    closed++;
                }
                fds[i] = tcp_open(endpoint);
            }
        }
        nanosleep(&tick, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (access(file, F_OK) != 0 && now.tv_sec - start.tv_sec < 60);
    for (int i = 0; i < opened; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    printf("closed=%d\n", closed);
    free(fds);
    return 0;
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

    if (argc == 7 && !strcmp(argv[4], "idle"))
        return idle(argv[1], (int)strtol(argv[5], NULL, 10), argv[6]);
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: rawsend ENDPOINT BROKER_PUB KEY KIND [ARG]\n");
        return 2;
    }
    kind = argv[4];
    if (!strcmp(kind, "plaintext"))
        return plaintext(argv[1]);
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
    } else if (!strcmp(kind, "advert-other")) {
        len = advert_for(buf, "pharos");
        zmq_send(s, buf, len, 0);
    } else if (!strcmp(kind, "held-other") && argc == 6) {
        len = held_for(buf, argv[5]);
        zmq_send(s, buf, len, 0);
    } else if (!strcmp(kind, "job-status") && argc == 6) {
        len = job_status_for(buf, argv[5]);
        zmq_send(s, buf, len, 0);
    } else if ((!strcmp(kind, "flood") || !strcmp(kind, "twice")) && argc == 6) {
        rc =
            kind[0] == 'f' ? flood(s, (int)strtol(argv[5], NULL, 10)) : twice(s, argv[5]);
        af_zsock_close(s);
        zmq_ctx_term(zctx);
        return rc;
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
