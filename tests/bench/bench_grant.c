/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_grant: the load side of tests/bench/grant.sh, which starts the real
 * broker and agents. It prints figures and never judges them.
 *
 *   bench_grant bare                        bare CURVE echo msgs/s, LMDB puts/s,
 *                                           a grant's four signature operations
 *   bench_grant load EP BROKER_PUB KEY SECS p50/p99 at 1,000 offered grants/s,
 *                                           then closed-loop grants/s
 *   bench_grant open EP BROKER_PUB KEY SECS [release]
 *                                           p50/p99 at 1,000 offered grants/s only,
 *                                           each lease released once granted
 *                                           (tests/bench/jobs.sh, with followers)
 *   bench_grant fill STATE_DIR N SITES      N leases into a (stopped) store
 *   bench_grant page EP BROKER_PUB KEY SITE first page of SITE's active leases
 *
 * Every loop is bounded by a count and a deadline.
 */
#include "af_ids.h"
#include "af_keys.h"
#include "af_token.h"
#include "af_wire.h"
#include "af_zsock.h"
#include "store.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_INFLIGHT 4096
#define OPEN_RATE    1000 /* offered grants a second, for the latency run */

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof(*v), cmp_u64);
    return v[(size_t)(p * (double)(n - 1))];
}

/* ------------------------------------------------------------------ bare */

struct echo_server {
    void *zctx;
    char pub[AF_KEY_Z85_LEN + 1], sec[AF_KEY_Z85_LEN + 1];
    char endpoint[64];
    volatile int stop;
};

static void *echo_thread(void *arg)
{
    struct echo_server *e = arg;
    void *s = zmq_socket(e->zctx, ZMQ_ROUTER);
    int one = 1, timeout = 100;
    size_t len = sizeof(e->endpoint);
    char buf[4096], rid[256];

    zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof(one));
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, e->sec, 40);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    zmq_bind(s, "tcp://127.0.0.1:*");
    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, e->endpoint, &len);
    while (!e->stop) {
        int r = zmq_recv(s, rid, sizeof(rid), 0), n;
        if (r < 0)
            continue;
        n = zmq_recv(s, buf, sizeof(buf), 0);
        if (n < 0)
            continue;
        zmq_send(s, rid, (size_t)r, ZMQ_SNDMORE);
        zmq_send(s, buf, (size_t)n, 0);
    }
    zmq_close(s);
    return NULL;
}

/* Round trips a second through a CURVE ROUTER that only echoes: the ceiling
 * for any request-reply over the same transport. Each round trip is two
 * messages, one each way, as a grant's four are (submit, hold, held, reply). */
static double bare_echo(double secs)
{
    struct echo_server e = {.zctx = zmq_ctx_new()};
    char cpub[41], csec[41], msg[300];
    pthread_t t;
    void *c;
    uint64_t start, deadline, done = 0, sent = 0;
    int window = 64;

    zmq_curve_keypair(e.pub, e.sec);
    zmq_curve_keypair(cpub, csec);
    pthread_create(&t, NULL, echo_thread, &e);
    while (!e.endpoint[0])
        usleep(1000);
    c = zmq_socket(e.zctx, ZMQ_DEALER);
    zmq_setsockopt(c, ZMQ_CURVE_SERVERKEY, e.pub, 40);
    zmq_setsockopt(c, ZMQ_CURVE_PUBLICKEY, cpub, 40);
    zmq_setsockopt(c, ZMQ_CURVE_SECRETKEY, csec, 40);
    zmq_connect(c, e.endpoint);
    memset(msg, 'x', sizeof(msg));
    start = now_us();
    deadline = start + (uint64_t)(secs * 1e6);
    while (now_us() < deadline) {
        while (sent - done < (uint64_t)window) {
            zmq_send(c, msg, sizeof(msg), 0);
            sent++;
        }
        if (zmq_recv(c, msg, sizeof(msg), 0) >= 0)
            done++;
    }
    double rate = (double)done / ((double)(now_us() - start) / 1e6);
    e.stop = 1;
    pthread_join(t, NULL);
    zmq_close(c);
    zmq_ctx_term(e.zctx);
    return rate;
}

/* Puts a second into LMDB, 64 to a transaction, each commit synced: the
 * ceiling for durable writes on this disk. */
static double bare_lmdb(double secs)
{
    char dir[] = "/tmp/aifed-bench-lmdb-XXXXXX", key[32], path[128];
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    uint8_t val[400] = {0};
    uint64_t start, deadline, n = 0;

    if (!mkdtemp(dir))
        return 0;
    mdb_env_create(&env);
    mdb_env_set_mapsize(env, (size_t)1 << 30);
    mdb_env_open(env, dir, MDB_NOTLS, 0600);
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, NULL, 0, &dbi);
    mdb_txn_commit(txn);
    start = now_us();
    deadline = start + (uint64_t)(secs * 1e6);
    while (now_us() < deadline && n < 10000000) {
        mdb_txn_begin(env, NULL, 0, &txn);
        for (int i = 0; i < 64; i++, n++) {
            MDB_val k = {(size_t)snprintf(key, sizeof(key), "k%016" PRIu64, n), key};
            MDB_val v = {sizeof(val), val};
            mdb_put(txn, dbi, &k, &v, 0);
        }
        mdb_txn_commit(txn);
    }
    double rate = (double)n / ((double)(now_us() - start) / 1e6);
    mdb_env_close(env);
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
    return rate;
}

/* The four signature operations of one grant, as the grant path does them
 * (the broker signs the token, the agent verifies and countersigns it, the
 * broker checks the countersignature), timed one after another on one core.
 * Fills us[4] with microseconds per operation; returns grants/s per core. */
static double bare_tokens(double secs, double us[4])
{
    struct af_signer broker, site;
    struct af_token_claims c = {.gpus = 1,
                                .nodes = 1,
                                .not_before_ms = 1790000000000,
                                .not_after_ms = 1790003600000};
    struct af_token_claims back;
    struct af_error err;
    char token[AF_TOKEN_MAX], sig[AF_SIGN_SIG_B64], pub[AF_SIGN_PK_B64];
    uint64_t spent[4] = {0}, start = now_us(), deadline = start + (uint64_t)(secs * 1e6);
    long n = 0;

    af_signer_generate(&broker);
    af_signer_generate(&site);
    af_sign_pub_encode(site.pk, pub);
    snprintf(c.site, sizeof(c.site), "simA");
    snprintf(c.pool, sizeof(c.pool), "gpu");
    snprintf(c.project, sizeof(c.project), "llm-eu");
    snprintf(c.principal, sizeof(c.principal), "user:alice");
    snprintf(c.accelerator, sizeof(c.accelerator), "H100");
    for (; now_us() < deadline && n < 1000000; n++) {
        uint64_t t0, t1, t2, t3, t4;
        int bad;

        snprintf(c.id, sizeof(c.id), "lease-%016lx", (unsigned long)n);
        t0 = now_us();
        bad = af_token_make(&c, &broker, token, sizeof(token)) < 0;
        t1 = now_us();
        bad |= af_token_verify(token, broker.pk, &back, &err) < 0;
        t2 = now_us();
        bad |= af_token_countersign(token, &site, sig, sizeof(sig)) < 0;
        t3 = now_us();
        bad |= af_token_check_countersign(token, sig, pub) < 0;
        t4 = now_us();
        if (bad) {
            fprintf(stderr, "bench_grant: a token operation failed\n");
            return 0;
        }
        spent[0] += t1 - t0;
        spent[1] += t2 - t1;
        spent[2] += t3 - t2;
        spent[3] += t4 - t3;
    }
    for (int i = 0; i < 4; i++)
        us[i] = n ? (double)spent[i] / (double)n : 0;
    return n ? 1e6 / (us[0] + us[1] + us[2] + us[3]) : 0;
}

/* ------------------------------------------------------------------ load */

/* Releases are told from grants by this bit of their correlation id. */
#define RELEASE_CORR (UINT64_C(1) << 62)

struct client {
    void *zctx, *sock;
    uint64_t corr;
    uint64_t sent_us[MAX_INFLIGHT]; /* by corr % MAX_INFLIGHT */
    size_t inflight;
    bool release;     /* release each lease once granted (open ... release) */
    size_t releasing; /* releases not answered yet */
};

static int client_open(struct client *c, const char *ep, const char *pubfile,
                       const char *keyfile)
{
    struct af_keypair kp;
    struct af_error err;
    char pub[AF_KEY_Z85_LEN + 1];

    if (af_keys_load_public(pubfile, pub, &err) < 0 ||
        af_keys_load_secret(keyfile, &kp, &err) < 0) {
        fprintf(stderr, "bench_grant: %s\n", err.text);
        return -1;
    }
    c->zctx = zmq_ctx_new();
    c->sock = af_zsock_client(c->zctx, ep, pub, &kp, 64 << 20, NULL, &err);
    if (!c->sock) {
        fprintf(stderr, "bench_grant: %s\n", err.text);
        return -1;
    }
    return 0;
}

static void client_close(struct client *c)
{
    af_zsock_close(c->sock);
    zmq_ctx_term(c->zctx);
}

static void send_submit(struct client *c)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__Submit s = AIFED__SUBMIT__INIT;
    Aifed__Workload w = AIFED__WORKLOAD__INIT;
    char rid[AF_ID_MAX + 1];

    af_id_new("bench", rid, sizeof(rid));
    w.project = "llm-eu";
    w.gpus = 1;
    w.walltime_s = 3600;
    s.request_id = rid;
    s.workload = &w;
    env.version = AF_WIRE_VERSION;
    env.corr_id = ++c->corr;
    env.body_case = AIFED__ENVELOPE__BODY_SUBMIT;
    env.submit = &s;
    c->sent_us[env.corr_id % MAX_INFLIGHT] = now_us();
    af_zsock_send(c->sock, NULL, 0, &env);
    c->inflight++;
}

/* Let go of a lease just granted, so that the open leases (and the holds
 * each advertisement lists) stay few however long the run. */
static void send_release(struct client *c, const char *lease_id)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__Release r = AIFED__RELEASE__INIT;

    r.lease_id = (char *)lease_id;
    env.version = AF_WIRE_VERSION;
    env.corr_id = RELEASE_CORR | ++c->corr;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_RELEASE, &r);
    af_zsock_send(c->sock, NULL, 0, &env);
    c->releasing++;
}

/* One reply (waiting at most wait_ms): 1 granted, 0 anything else, 2 a
 * release answered, -1 none. */
static int recv_reply(struct client *c, int wait_ms, uint64_t *lat_us)
{
    zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLIN, 0};
    struct af_zmsg z;
    int granted;

    if (zmq_poll(&it, 1, wait_ms) <= 0 || af_zsock_recv(c->sock, false, 64 << 20, &z) < 0)
        return -1;
    if (z.env && (z.env->corr_id & RELEASE_CORR)) {
        c->releasing--;
        af_zmsg_clear(&z);
        return 2;
    }
    c->inflight--;
    *lat_us = now_us() - c->sent_us[z.env ? z.env->corr_id % MAX_INFLIGHT : 0];
    granted = z.env && z.env->body_case == AIFED__ENVELOPE__BODY_LEASE_REPLY &&
              z.env->lease_reply->lease->state == AIFED__LEASE_STATE__LEASE_ACTIVE;
    if (z.env && z.env->body_case == AIFED__ENVELOPE__BODY_ERROR && c->corr < 5)
        fprintf(stderr, "bench_grant: %s\n", z.env->error->message);
    if (granted && c->release)
        send_release(c, z.env->lease_reply->lease->id);
    af_zmsg_clear(&z);
    return granted;
}

/* As many grants as the broker will do, window requests in flight. */
static void closed_loop(struct client *c, double secs, size_t window, size_t max_grants)
{
    uint64_t start = now_us(), deadline = start + (uint64_t)(secs * 1e6), lat;
    uint64_t *lats = calloc(max_grants, sizeof(*lats));
    size_t n = 0, other = 0, sent = 0;

    while (now_us() < deadline && n + other < max_grants) {
        while (c->inflight < window && sent < max_grants) {
            send_submit(c);
            sent++;
        }
        int r = recv_reply(c, 100, &lat);
        if (r == 1)
            lats[n++] = lat;
        else if (r == 0)
            other++;
    }
    double el = (double)(now_us() - start) / 1e6;
    while (c->inflight && recv_reply(c, 2000, &lat) >= 0) /* drain, bounded */
        ;
    printf("grants, closed loop (%zu in flight): %.0f durable grants/s (%zu granted, %zu "
           "not, %.1f s); latency p50 %.2f ms, p99 %.2f ms\n",
           window, (double)n / el, n, other, el, pct(lats, n, 0.5) / 1e3,
           pct(lats, n, 0.99) / 1e3);
    free(lats);
    fflush(stdout);
}

/* Grants offered at a steady rate; latency from send to granted reply. */
static void open_loop(struct client *c, double secs)
{
    size_t total = (size_t)(secs * OPEN_RATE), n = 0, other = 0, sent = 0;
    uint64_t *lats = calloc(total, sizeof(*lats)), start = now_us(), lat;
    uint64_t deadline = start + (uint64_t)(secs * 1e6) + 5000000;

    while ((sent < total || c->inflight || c->releasing) && now_us() < deadline) {
        uint64_t due = start + sent * (1000000 / OPEN_RATE);
        if (sent < total && now_us() >= due) {
            send_submit(c);
            sent++;
            continue;
        }
        /* Rounded up: zmq_poll counts whole milliseconds, and a wait of 0
         * would spin a core the broker and agents need. */
        int wait = sent < total
                       ? (int)((due > now_us() ? due - now_us() + 999 : 0) / 1000)
                       : 100;
        int r = recv_reply(c, wait, &lat);
        if (r == 1)
            lats[n++] = lat;
        else if (r == 0)
            other++;
    }
    printf("grants at %d offered/s: %zu granted, %zu not; latency p50 %.2f ms, p99 %.2f "
           "ms\n",
           OPEN_RATE, n, other, pct(lats, n, 0.5) / 1e3, pct(lats, n, 0.99) / 1e3);
    free(lats);
    fflush(stdout);
}

/* ------------------------------------------------------------------ fill */

static int fill(const char *dir, long n, char **sites, int n_sites)
{
    struct af_error err;
    struct store *st = store_open(dir, 16384, false, &err);
    Aifed__Workload w = AIFED__WORKLOAD__INIT;
    char id[AF_ID_MAX + 1], rid[AF_ID_MAX + 1];
    uint64_t start = now_us();

    if (!st) {
        fprintf(stderr, "bench_grant: %s\n", err.text);
        return 1;
    }
    w.project = "llm-eu";
    w.gpus = 1;
    w.walltime_s = 3600;
    for (long i = 0; i < n; i++) {
        Aifed__Lease l = AIFED__LEASE__INIT;

        snprintf(id, sizeof(id), "lease-%016lx", (unsigned long)i * 2654435761u);
        snprintf(rid, sizeof(rid), "fill-%ld", i);
        l.id = id;
        l.request_id = rid;
        l.principal = "user:alice";
        l.workload = &w;
        /* 2 in 100 still open: the history of a busy federation. */
        l.state = i % 50 == 0 ? AIFED__LEASE_STATE__LEASE_ACTIVE
                              : AIFED__LEASE_STATE__LEASE_RELEASED;
        l.site = sites[i % n_sites];
        l.pool = "gpu";
        l.gpus = 1;
        l.nodes = 1;
        l.created_ms = l.updated_ms = 1790000000000 + i;
        l.expires_ms = l.state == AIFED__LEASE_STATE__LEASE_ACTIVE ? 4102444800000 : 0;
        if (store_lease_put(st, &l, "user:alice") < 0 ||
            ((i + 1) % 20000 == 0 && store_commit(st) < 0)) {
            fprintf(stderr, "bench_grant: fill: %s\n", strerror(errno));
            store_close(st);
            return 1;
        }
        if ((i + 1) % 200000 == 0)
            fprintf(stderr, "filled %ld of %ld leases\n", i + 1, n);
    }
    store_commit(st);
    printf("filled %ld leases (2%% open) in %.1f s\n", n,
           (double)(now_us() - start) / 1e6);
    store_close(st);
    return 0;
}

/* ------------------------------------------------------------------ page */

static int page(struct client *c, const char *site)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__ListLeases q = AIFED__LIST_LEASES__INIT;
    uint64_t t[5];

    q.site = (char *)site;
    q.state = AIFED__LEASE_STATE__LEASE_ACTIVE;
    q.limit = 100;
    env.version = AF_WIRE_VERSION;
    env.body_case = AIFED__ENVELOPE__BODY_LIST_LEASES;
    env.list_leases = &q;
    for (int i = 0; i < 5; i++) {
        struct af_zmsg z;
        zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLIN, 0};
        uint64_t s = now_us();
        size_t got = 0;

        env.corr_id = ++c->corr;
        af_zsock_send(c->sock, NULL, 0, &env);
        if (zmq_poll(&it, 1, 10000) <= 0 ||
            af_zsock_recv(c->sock, false, 64 << 20, &z) < 0) {
            fprintf(stderr, "bench_grant: no answer to ListLeases\n");
            return 1;
        }
        t[i] = now_us() - s;
        if (z.env && z.env->body_case == AIFED__ENVELOPE__BODY_LEASE_LIST)
            got = z.env->lease_list->n_leases;
        af_zmsg_clear(&z);
        if (i == 0)
            printf("first page of %s's active leases: %zu leases in %.2f ms", site, got,
                   t[0] / 1e3);
    }
    printf(" (then median %.2f ms over 4 more)\n", (double)pct(t + 1, 4, 0.5) / 1e3);
    return 0;
}

int main(int argc, char **argv)
{
    struct client c = {0};

    if (argc >= 2 && !strcmp(argv[1], "bare")) {
        double rt = bare_echo(3);
        printf(
            "bare CURVE DEALER/ROUTER echo: %.0f msgs/s, one way (%.0f round trips/s of "
            "300 bytes, 64 in flight)\n",
            2 * rt, rt);
        printf("bare LMDB batched commit: %.0f puts/s (64 puts of 400 bytes per synced "
               "commit)\n",
               bare_lmdb(3));
        double us[4], per_core = bare_tokens(2, us);
        printf(
            "bare token signatures: sign %.1f us, verify %.1f us, countersign %.1f us, "
            "check countersignature %.1f us: %.0f grants/s per core for these alone\n",
            us[0], us[1], us[2], us[3], per_core);
        return 0;
    }
    if (argc == 6 && !strcmp(argv[1], "load")) {
        double secs = atof(argv[5]);
        if (client_open(&c, argv[2], argv[3], argv[4]) < 0)
            return 1;
        /* Latency first, on a federation with nothing open yet; then the most
         * it will do. */
        open_loop(&c, secs);
        closed_loop(&c, secs, 128, 60000);
        client_close(&c);
        return 0;
    }
    if ((argc == 6 || argc == 7) && !strcmp(argv[1], "open")) {
        if (client_open(&c, argv[2], argv[3], argv[4]) < 0)
            return 1;
        c.release = argc == 7 && !strcmp(argv[6], "release");
        open_loop(&c, atof(argv[5]));
        client_close(&c);
        return 0;
    }
    if (argc >= 5 && !strcmp(argv[1], "fill"))
        return fill(argv[2], atol(argv[3]), argv + 4, argc - 4);
    if (argc == 6 && !strcmp(argv[1], "page")) {
        if (client_open(&c, argv[2], argv[3], argv[4]) < 0)
            return 1;
        int rc = page(&c, argv[5]);
        client_close(&c);
        return rc;
    }
    fprintf(stderr, "usage: bench_grant bare | load EP PUB KEY SECS | open EP PUB KEY "
                    "SECS [release] | "
                    "fill DIR N SITE... | "
                    "page EP PUB KEY SITE\n");
    return 2;
}
