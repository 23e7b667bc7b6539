/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gw: aifed-gateway's two halves and what they share. The HTTPS side
 * (gw_http.c) runs in libmicrohttpd's thread: it takes a request to
 * /e/NAME/..., checks its key offline (the broker's signature, expiry,
 * scope, the key's rate), reads its body (bounded) and hands it over; it
 * answers with what comes back, streamed, suspending the connection while
 * nothing is there to write. The broker side (gw_link.c) runs in a libuv
 * loop with the CURVE DEALER to the broker: it sends what was handed over
 * (woken by a uv_async) and puts each piece of the answer into its stream,
 * resuming the connection. A stream is shared under one mutex and freed
 * when both halves let go of it.
 */
#ifndef GW_H
#define GW_H

#include "af_ids.h"
#include "af_token.h"
#include "af_wire.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>
#include <uv.h>

struct gconf;
struct MHD_Connection;
struct MHD_Daemon;
struct af_zloop;

struct gw_header {
    char *name, *value;
};

struct gw;

struct gw_stream {
    uint64_t id;
    struct gw *g;
    struct MHD_Connection *conn;
    /* the request, filled by the HTTPS side before it is handed over */
    char endpoint[AF_WIRE_MAX_ENDPOINT_NAME + 1];
    char key[AF_KEY_MAX];
    char method[17];
    char *path;
    struct gw_header req[AF_WIRE_MAX_HEADERS];
    size_t n_req;
    uint8_t *body;
    size_t body_len;
    bool too_big;
    bool begun;  /* the access handler has seen it */
    bool handed; /* given to the broker side */
    /* the answer, filled by the broker side */
    uint32_t status, retry_after_s;
    struct gw_header resp[AF_WIRE_MAX_HEADERS];
    size_t n_resp;
    char error[AF_WIRE_MAX_TEXT + 1];
    char site[AF_ID_MAX + 1];
    bool head;     /* status and headers are here */
    bool ended;    /* the last piece is here */
    bool failed;   /* it ended with an error after the head */
    uint8_t *data; /* the body's bytes not written yet */
    size_t len, off, cap;
    bool suspended; /* the HTTPS side waits for more */
    bool gone;      /* the client went away */
    int64_t handed_ms;
    int refs;
    UT_hash_handle hh;
};

struct gw_rate {
    char key[AF_ID_MAX + 1];
    double tokens;
    int64_t at_ms;
    UT_hash_handle hh;
};

struct gw {
    const struct gconf *conf;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t tick;
    uv_signal_t sigterm, sigint;
    void *zctx, *sock;
    struct af_zloop *zl;
    struct MHD_Daemon *mhd;
    char *tls_cert, *tls_key; /* PEM, read at start */
    pthread_mutex_t mu;       /* everything below */
    struct gw_stream *by_id;
    struct gw_stream *out[1024]; /* handed over, not sent yet */
    size_t n_out;
    uint64_t cancels[1024]; /* streams the clients left */
    size_t n_cancels;
    uint64_t next_id;
    size_t n_streams;
    uint8_t signing_pk[32];
    bool have_pk; /* the broker said its signing key */
    struct gw_rate *rates;
    size_t n_rates;
    bool stopping;
    char last_error[AF_WIRE_MAX_TEXT + 1]; /* the broker's, said once */
};

/* The HTTPS side (gw_http.c). gw_route: a request's URI ("/e/NAME/REST?Q")
 * into s's endpoint and path (REST and its query, "/" when none; s->path is
 * the caller's to free); -1 when it is not an endpoint's. */
int gw_route(struct gw_stream *s, const char *uri);
int gw_http_start(struct gw *g, struct af_error *err);
void gw_http_stop(struct gw *g);

/* Shared (gw_link.c): under g->mu. A stream handed over, or left by its
 * client: the broker side is woken. 0, or -1 when its queue is full. */
int gw_hand_over(struct gw *g, struct gw_stream *s);
void gw_client_left(struct gw *g, struct gw_stream *s);
/* One half lets go of s (under g->mu); the last frees it. */
void gw_stream_unref(struct gw *g, struct gw_stream *s);

/* The broker side (gw_link.c). */
int gw_link_start(struct gw *g, struct af_error *err);
int gw_run(struct gw *g);
void gw_link_stop(struct gw *g);

#endif
