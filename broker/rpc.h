/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc: what the broker's message handlers share with the server (internal to
 * broker/). Handlers never send: they queue into the outbox with rpc_reply(),
 * rpc_error() and rpc_to_site(), and the server commits the batch's writes
 * before any of it leaves, so no reply ever promises what is not on disk.
 */
#ifndef RPC_H
#define RPC_H

#include "af_token.h"
#include "af_zsock.h"
#include "auth.h"
#include "match.h"

#include "aifed.pb-c.h"

#include <stdint.h>
#include <uv.h>

struct bconf;
struct store;
struct sites;
struct af_zloop;
struct allocs;
struct limit_bucket;
struct bmetrics;

struct outmsg {
    void *sock;
    uint8_t rid[AF_ZSOCK_RID_MAX];
    size_t rid_len;
    void *buf;
    size_t len;
    uint64_t corr_id;
    bool client_reply; /* turned into an error if the commit fails */
};

/* A client waiting for its PENDING lease to be decided. */
struct waiter {
    char lease_id[AF_ID_MAX + 1];
    size_t principal; /* auth_principal index */
    uint8_t rid[AF_ZSOCK_RID_MAX];
    size_t rid_len;
    uint64_t corr_id;
    int64_t since_ms;
};

#define RPC_MAX_WAITERS  4096
#define RPC_DEFAULT_PAGE 100

struct server {
    const struct bconf *conf;
    struct bconf *conf_owned; /* the latest reload's; main() owns the first */
    struct store *store;
    struct sites *sites;
    struct allocs *allocs;
    struct auth *auth;
    void *zctx;
    void *agent_sock;
    void *client_sock;
    struct af_zloop *zl_agent, *zl_client, *zl_zap;
    uv_loop_t loop;
    uv_timer_t tick;
    uv_timer_t watchdog; /* systemd's, when it asked for one */
    uv_signal_t sigterm, sigint, sighup;
    struct outmsg *out;
    size_t n_out, cap_out;
    struct waiter *waiters;
    size_t n_waiters;
    int64_t waiter_ttl_ms;
    struct limit_bucket *buckets; /* one per principal (auth index) */
    size_t n_buckets;
    bool batch_failed;    /* a write failed: the batch must not commit */
    bool isolated;        /* every site silent at once: grant nothing */
    int64_t started_ms;   /* when this broker started: see starting() */
    int64_t full_told_ms; /* when the log last said how to grow a full store */
    struct bmetrics *metrics;
    char metrics_url[128];   /* "" when metrics are off */
    struct af_signer signer; /* signs lease tokens */
    char signing_pub[AF_SIGN_PK_B64];
};

/* The message being handled, with the principal ZAP gave its sender. */
struct rpc_msg {
    void *sock; /* the socket it came in on; NULL: the client socket */
    struct af_zmsg *z;
    const Aifed__Envelope *env;
    const struct auth_principal *who;
};

typedef void (*rpc_fn)(struct server *srv, const struct rpc_msg *m);

struct rpc_spec {
    Aifed__Envelope__BodyCase body;
    rpc_fn fn;
};

/* The principal registry (rpc_admin.c). */
void rpc_principal_add(struct server *srv, const struct rpc_msg *m);
void rpc_principal_remove_key(struct server *srv, const struct rpc_msg *m);
void rpc_principal_revoke(struct server *srv, const struct rpc_msg *m);
void rpc_list_principals(struct server *srv, const struct rpc_msg *m);
/* Apply the stored registry over broker.conf's principals (at start). */
int rpc_load_principals(struct server *srv);
/* SIGHUP: apply broker.conf's principals again (from old to c): new ones
 * added, changed keys or projects taken, removed ones revoked; those an
 * admin changed at run time follow the registry instead. */
void rpc_reload_principals(struct server *srv, const struct bconf *old,
                           const struct bconf *c);

/* Handler tables, ended by a { 0, NULL } row. */
extern const struct rpc_spec rpc_agent_specs[];
extern const struct rpc_spec rpc_client_specs[];

/* Queue body (of the given case) as the reply to m. */
void rpc_reply(struct server *srv, const struct rpc_msg *m, Aifed__Envelope *reply);
/* Queue a LeaseReply with l, or the SiteList, as the reply to m. */
void rpc_reply_lease(struct server *srv, const struct rpc_msg *m, const Aifed__Lease *l);
void rpc_reply_sites(struct server *srv, const struct rpc_msg *m);
/* A write to the store failed (errno says why): log it, saying what to do
 * when the store is full, and fail the batch. */
void rpc_store_failed(struct server *srv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Queue an Error reply to m. */
void rpc_error(struct server *srv, const struct rpc_msg *m, Aifed__ErrorCode code,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Queue env to a site's agent; dropped (with a debug line) when the site
 * has no route yet: the hold then times out, which is the same recovery. */
void rpc_to_site(struct server *srv, const char *site, Aifed__Envelope *env);
/* Queue a LeaseReply with lease to whoever waits for it, and forget them. */
void rpc_wake_waiters(struct server *srv, const Aifed__Lease *lease);
/* Queue a LeaseRelease for lease_id to site. */
void rpc_release_at_site(struct server *srv, const char *site, const char *lease_id);

/* A PENDING lease whose hold failed at its site (refused or timed out):
 * try the next-best site, or mark it FAILED and wake its waiters. Writes
 * the lease to the batch. lease is modified. */
void rpc_hold_failed(struct server *srv, const Aifed__Lease *lease, const char *why);

/* One match and what it needs to be explained: the engine's workload (with
 * the buffers it points into), the site views and the result. */
struct rpc_matching {
    struct match_workload w;
    struct match_site *views;
    size_t n;
    struct match_result r;
    uint16_t *countries;
    struct match_data *data;
    struct match_alloc *allocs;
};

/* Match w, excluding the sites lease (if not NULL) already tried. 0 with
 * ret filled (free with rpc_matching_free), or -1/ENOMEM. */
int rpc_match(struct server *srv, const Aifed__Workload *w, const Aifed__Lease *lease,
              struct rpc_matching *ret);
void rpc_matching_free(struct rpc_matching *m);

/* The candidates of m as protobuf, with their reasons in words, in one
 * block the caller frees with free(*ret_ptrs) (strings included). */
int rpc_candidates(const struct rpc_matching *m, Aifed__Candidate ***ret_ptrs);

/* Allocation accounting for lease at its site, written into the batch:
 * reserve gpus x walltime when granted; release the reservation and add
 * what was used when it ends (or moves away: used 0). No allocation there:
 * nothing to do. */
void rpc_alloc_reserve(struct server *srv, const Aifed__Lease *lease);
void rpc_alloc_settle(struct server *srv, const Aifed__Lease *lease, uint64_t used_gpu_s);
/* A closed lease's usage was corrected from was_gpu_s to now_gpu_s. */
void rpc_alloc_adjust(struct server *srv, const Aifed__Lease *lease, uint64_t was_gpu_s,
                      uint64_t now_gpu_s);
/* Write an allocation entry changed in memory into the batch. */
struct alloc_entry;
void rpc_alloc_save(struct server *srv, const struct alloc_entry *e);

/* A lease reached a final state (l as stored): take back the promise, settle
 * the allocation, tell the site to let go, and wake its waiters. */
void rpc_lease_closed(struct server *srv, const Aifed__Lease *l);

/* Store a lease (into the batch); logs and returns -1 on failure, after
 * which the batch is aborted at flush and requesters get ERROR_INTERNAL. */
int rpc_put(struct server *srv, const Aifed__Lease *lease, const char *idem_principal);

/* Send a hold request for lease to its site and promise the capacity. */
int rpc_ask_hold(struct server *srv, const Aifed__Lease *lease);
/* Send lease to its site again (a renewal: the same hold, a new token). */
void rpc_to_site_hold(struct server *srv, const Aifed__Lease *lease);

/* Sign lease's token over its current fields (valid from created_ms to
 * expires_ms) into buf, and point lease->token at it. */
int rpc_sign(struct server *srv, Aifed__Lease *lease, char *buf, size_t size);

/* Site and lease administration (rpc_admin.c). */
void rpc_site_admin(struct server *srv, const struct rpc_msg *m);
void rpc_revoke(struct server *srv, const struct rpc_msg *m);
void rpc_list_audit(struct server *srv, const struct rpc_msg *m);

#endif
