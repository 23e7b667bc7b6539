/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc: the broker's message handlers, and what they share. A handler gets
 * the services (struct svc) and one decoded message with the principal ZAP
 * gave its sender; it answers with rpc_reply() or rpc_error() and changes
 * leases only through the lease services. Handlers never send: replies are
 * queued in the outbox and leave after the batch's commit.
 *
 * Each table says, per message, which roles may send it; the server's
 * dispatch checks that before a handler runs, so no handler checks roles
 * by hand and a new one cannot forget to.
 */
#ifndef RPC_H
#define RPC_H

#include "af_zsock.h"
#include "auth.h"
#include "outbox.h"

#include "aifed.pb-c.h"

#include <stdbool.h>

struct svc;

/* Leases a ListLeases page holds when the client names no limit. */
#define RPC_DEFAULT_PAGE 100

/* The message being handled. */
struct rpc_msg {
    struct outbox_peer from; /* whom a reply goes to */
    const Aifed__Envelope *env;
    const struct auth_principal *who;
    const char *key; /* the connection's CURVE public key (Z85), as ZAP gave it */
    bool reads;      /* set by rpc_call for an RPC_READS row */
};

/* Roles, as a mask of auth kinds. */
#define RPC_SITE    (1u << AUTH_SITE)
#define RPC_USER    (1u << AUTH_USER)
#define RPC_ADMIN   (1u << AUTH_ADMIN)
#define RPC_ANON    (1u << AUTH_ANON)    /* a key of no one, while logins are taken */
#define RPC_GATEWAY (1u << AUTH_GATEWAY) /* an aifed-gateway: served models' requests */

typedef void (*rpc_fn)(struct svc *s, const struct rpc_msg *m);

/* A row that only reads: its handler sees the store as last committed (not
 * the open batch), and its reply leaves at once. So a read never waits for
 * another's commit, and is never answered as a failed write when that
 * commit fails. */
#define RPC_READS 1u

struct rpc_spec {
    Aifed__Envelope__BodyCase body;
    unsigned roles; /* who may send it */
    rpc_fn fn;
    const char *what; /* for the refusal: "only admins <what>" */
    unsigned flags;   /* RPC_READS */
};

/* Handler tables, each ended by a { 0, NULL } row: what sites say (the
 * agent socket), what users and admins ask (the client socket), and what
 * only admins do (the client socket too). */
extern const struct rpc_spec rpc_agent_specs[];
extern const struct rpc_spec rpc_client_specs[];
extern const struct rpc_spec rpc_admin_specs[];
extern const struct rpc_spec rpc_catalog_specs[];
/* Logins (rpc_login.c): a challenge, a login with an SSH certificate, a logout. */
extern const struct rpc_spec rpc_login_specs[];
/* Jobs (rpc_jobs.c): what users ask of them, and what sites say. */
extern const struct rpc_spec rpc_job_client_specs[];
extern const struct rpc_spec rpc_job_agent_specs[];
/* Inference endpoints (rpc_endpoints.c): make, show, list, scale, delete;
 * their keys; gateways' requests, and sites' answers to them. */
extern const struct rpc_spec rpc_endpoint_specs[];
extern const struct rpc_spec rpc_endpoint_agent_specs[];

/* The row for body in tables (a NULL-ended list of tables), or NULL. */
const struct rpc_spec *rpc_spec_find(const struct rpc_spec *const *tables, int body);

/* Run spec's handler for m if m's sender has one of its roles; else refuse
 * with ERROR_FORBIDDEN. */
void rpc_call(struct svc *s, const struct rpc_spec *spec, const struct rpc_msg *m);

/* Queue reply (its corr id set to m's) for after the commit; a read's
 * leaves now. */
void rpc_reply(struct svc *s, const struct rpc_msg *m, Aifed__Envelope *reply);
/* Queue a LeaseReply with l, or the SiteList, as the reply to m. */
void rpc_reply_lease(struct svc *s, const struct rpc_msg *m, const Aifed__Lease *l);
/* The same, for the end of l by this call, which cancelled that many jobs. */
void rpc_reply_ended(struct svc *s, const struct rpc_msg *m, const Aifed__Lease *l,
                     uint32_t jobs_cancelled);
void rpc_reply_sites(struct svc *s, const struct rpc_msg *m);
/* Identity for p (WhoAmI's answer, and a login's or logout's): its
 * projects, keys, enrolments and notice. */
void rpc_reply_identity(struct svc *s, const struct rpc_msg *m,
                        const struct auth_principal *p, const char *notice);
/* Queue the allocations of project at site (either "" for any) that m's
 * sender may see, as the reply to m. */
void rpc_reply_allocations(struct svc *s, const struct rpc_msg *m, const char *project,
                           const char *site);
/* Send an Error reply to m now. */
void rpc_error(struct svc *s, const struct rpc_msg *m, Aifed__ErrorCode code,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The same, queued for after the commit: for a refusal that rests on
 * what the batch holds (a lease "already RELEASED" by a change not yet
 * stored, a refused submit's explanation). */
void rpc_error_stored(struct svc *s, const struct rpc_msg *m, Aifed__ErrorCode code,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A page of a listing: copies of the borrowed messages a store walk
 * visits, at most limit of them. */
struct rpc_page {
    void **v;
    size_t n, limit;
    bool more;   /* one more was offered than the page holds */
    bool failed; /* out of memory: the page is not whole */
};

/* Room for limit messages (0: RPC_DEFAULT_PAGE). -1/ENOMEM. */
int rpc_page_init(struct rpc_page *p, uint32_t limit);
/* Keep a copy of msg: 0; 1 when the page is full (more is set: stop the
 * walk); -1/ENOMEM. As a store walk's callbacks return. */
int rpc_page_add(struct rpc_page *p, const void *msg);
void rpc_page_free(struct rpc_page *p);
/* Queue list (of body_case, holding p's messages) as the reply to m, or
 * ERROR_INTERNAL if p is not whole; then free p. */
void rpc_reply_page(struct svc *s, const struct rpc_msg *m, int body_case, void *list,
                    struct rpc_page *p);

/* Whether m's sender may see l (its project is theirs, or an admin). */
bool rpc_may_see(const struct rpc_msg *m, const Aifed__Lease *l);

/* A change retried with its request id (rid, "" when none): true, with the
 * lease as it stands now sent, when that request id already acted; the
 * change must then not be made again. */
bool rpc_retried(struct svc *s, const struct rpc_msg *m, const char *rid);
/* Record that request id rid (if not "") acted on lease_id (into the batch). */
void rpc_remember(struct svc *s, const struct rpc_msg *m, const char *rid,
                  const char *lease_id);

/* The stored lease id names, for m's sender: NULL (with NOT_FOUND sent)
 * when there is none or the sender may not see it, so that users cannot
 * probe which lease ids exist. id may be abbreviated: the start of one
 * lease id the sender may see (4 characters at least, "lease-" may be left
 * out); the start of several is refused (BAD_REQUEST). Free with
 * store_lease_free(). */
Aifed__Lease *rpc_lease_get(struct svc *s, const struct rpc_msg *m, const char *id);

#endif
