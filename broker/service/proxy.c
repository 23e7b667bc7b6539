/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy: a request in flight is a struct stream in a uthash by the id the
 * agent echoes (relay_id); usage waiting to be stored is a struct usage in
 * a uthash by key id.
 */
#include "proxy.h"
#include "af_ids.h"
#include "af_log.h"
#include "af_token.h"
#include "af_wire.h"
#include "sites.h"
#include "store_endpoints.h"
#include "svc.h"
#include "tosite.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct stream {
    uint64_t relay_id;
    size_t gateway; /* the gateway's principal index */
    struct outbox_peer peer;
    uint64_t stream_id;
    char site[AF_ID_MAX + 1], job[AF_ID_MAX + 1], key[AF_ID_MAX + 1];
    char endpoint[AF_WIRE_MAX_ENDPOINT_NAME + 1];
    Aifed__ProxyRequest *held; /* waiting for a LIVE replica: the request */
    int64_t since_ms;          /* monotonic: when it came */
    int64_t heard_ms;          /* monotonic: the last piece, or the start */
    bool headed;               /* its first piece went to the gateway */
    UT_hash_handle hh;
};

struct usage {
    char key[AF_ID_MAX + 1];
    uint64_t requests, bytes_in, bytes_out, errors, tokens;
    UT_hash_handle hh;
};

/* An endpoint's load: requests in flight and waiting, and a second's
 * count for each of the last 10. */
#define LOAD_SECONDS 10
#define LOADS_MAX    1024
struct epload {
    char name[AF_WIRE_MAX_ENDPOINT_NAME + 1];
    uint32_t inflight, waiting;
    uint64_t requests, errors; /* not stored yet */
    uint32_t count[LOAD_SECONDS];
    unsigned now; /* the bucket of this second */
    int64_t last_ms;
    UT_hash_handle hh;
};

struct proxy {
    struct stream *by_id;
    size_t n;
    struct epload *loads;
    size_t n_loads, n_waiting;
    uint64_t waiting_bytes;
    uint64_t next_id;
    struct usage *usage;
    size_t turn; /* where the next pick starts among an endpoint's replicas */
};

struct proxy *proxy_create(void)
{
    return calloc(1, sizeof(struct proxy));
}

void proxy_destroy(struct proxy *p)
{
    struct stream *st, *tmp;
    struct usage *u, *utmp;

    if (!p)
        return;
    // NOLINTBEGIN(clang-analyzer-unix.Malloc)
    HASH_ITER(hh, p->by_id, st, tmp)
    {
        HASH_DEL(p->by_id, st);
        if (st->held)
            aifed__proxy_request__free_unpacked(st->held, NULL);
        free(st);
    }
    HASH_ITER(hh, p->usage, u, utmp)
    {
        HASH_DEL(p->usage, u);
        free(u);
    }
    {
        struct epload *l, *ltmp;
        HASH_ITER(hh, p->loads, l, ltmp)
        {
            HASH_DEL(p->loads, l);
            free(l);
        }
    }
    // NOLINTEND(clang-analyzer-unix.Malloc)
    free(p);
}

static struct epload *load_of(struct proxy *p, const char *endpoint)
{
    struct epload *l, *tmp;

    HASH_FIND_STR(p->loads, endpoint, l);
    if (l)
        return l;
    /* Full: forget those with nothing in flight. uthash's own idiom,
     * which the analyzer misreads (as in common/). */
    // NOLINTBEGIN(clang-analyzer-unix.Malloc)
    if (p->n_loads >= LOADS_MAX)
        HASH_ITER(hh, p->loads, l, tmp)
        {
            if (!l->inflight && !l->waiting) {
                HASH_DEL(p->loads, l);
                free(l);
                p->n_loads--;
            }
        }
    // NOLINTEND(clang-analyzer-unix.Malloc)
    if (p->n_loads >= LOADS_MAX || !(l = calloc(1, sizeof(*l))))
        return NULL;
    snprintf(l->name, sizeof(l->name), "%s", endpoint);
    HASH_ADD_STR(p->loads, name, l); // NOLINT(clang-analyzer-unix.Malloc): as above
    p->n_loads++;
    return l;
}

void proxy_load(const struct proxy *p, const char *endpoint, struct proxy_load *ret)
{
    struct epload *l;
    uint32_t sum = 0;

    memset(ret, 0, sizeof(*ret));
    HASH_FIND_STR(p->loads, endpoint, l);
    if (!l)
        return;
    for (unsigned i = 0; i < LOAD_SECONDS; i++)
        sum += l->count[i];
    ret->inflight = l->inflight;
    ret->waiting = l->waiting;
    ret->rps = (double)sum / LOAD_SECONDS;
    ret->last_ms = l->last_ms;
}

size_t proxy_streams(const struct proxy *p)
{
    return p ? p->n : 0;
}

/* Usage of key to be stored at the next tick (NULL when out of memory:
 * then it is not counted). */
static struct usage *usage_of(struct proxy *p, const char *key)
{
    struct usage *u;

    HASH_FIND_STR(p->usage, key, u);
    if (u || !(u = calloc(1, sizeof(*u))))
        return u;
    snprintf(u->key, sizeof(u->key), "%s", key);
    HASH_ADD_STR(p->usage, key, u);
    return u;
}

static void send_piece(struct svc *s, const struct outbox_peer *to,
                       Aifed__ProxyResponse *pr)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;

    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_PROXY_RESPONSE, pr);
    env.corr_id = to->corr_id;
    /* It promises nothing stored: it leaves now. */
    if (outbox_push(s->outbox, to, &env, false) < 0)
        log_err("a served model's answer to a gateway dropped");
}

/* An answer of aifed's own (status, why; retry_after_s for a 429 or 503):
 * the stream's last piece. */
static void answer(struct svc *s, const struct outbox_peer *to, uint64_t stream_id,
                   uint32_t status, uint32_t retry_after_s, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void answer(struct svc *s, const struct outbox_peer *to, uint64_t stream_id,
                   uint32_t status, uint32_t retry_after_s, const char *fmt, ...)
{
    Aifed__ProxyResponse pr = AIFED__PROXY_RESPONSE__INIT;
    char why[AF_WIRE_MAX_TEXT];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    pr.stream_id = stream_id;
    pr.status = status;
    pr.error = why;
    pr.retry_after_s = retry_after_s;
    pr.end = true;
    send_piece(s, to, &pr);
}

/* Whether key may be used now, for an endpoint of project: its record
 * (revoked, gone) beside its claims. 0, or the HTTP status with why. */
static uint32_t key_refusal(struct svc *s, const char *key, struct af_key_claims *kc,
                            char *why, size_t size)
{
    Aifed__EndpointKey *rec = NULL;
    struct af_error err;
    uint32_t status = 0;

    if (!*key) {
        snprintf(why, size, "no key: send Authorization: Bearer KEY");
        return 401;
    }
    if (af_key_verify(key, s->signer.pk, kc, &err) < 0) {
        snprintf(why, size, "the key is not valid here: %s", err.text);
        return 401;
    }
    if (kc->not_after_ms <= svc_now_ms(s)) {
        snprintf(why, size, "the key %s has expired", kc->id);
        return 401;
    }
    if (store_key_get(s->store, kc->id, &rec) < 0) {
        snprintf(why, size, "the key %s is not known here", kc->id);
        status = 401;
    } else if (rec->revoked) {
        snprintf(why, size, "the key %s was revoked", kc->id);
        status = 401;
    }
    store_key_free(rec);
    return status;
}

/* The LIVE replica at an UP site with the fewest requests in flight, or
 * NULL. */
static const Aifed__Replica *pick(struct svc *s, const Aifed__Endpoint *ep)
{
    const Aifed__Replica *best = NULL;
    size_t best_n = 0, start = ep->n_replicas ? s->proxy->turn++ % ep->n_replicas : 0;

    /* From a turning start, so that equals take turns. */
    for (size_t k = 0; k < ep->n_replicas; k++) {
        const Aifed__Replica *r = ep->replicas[(start + k) % ep->n_replicas];
        struct stream *st, *tmp;
        size_t n = 0;
        if (r->state != AIFED__REPLICA_STATE__REPLICA_LIVE || !*r->job_id ||
            !sites_is_up(s->sites, r->site))
            continue;
        HASH_ITER(hh, s->proxy->by_id, st, tmp)
        {
            n += !strcmp(st->job, r->job_id);
        }
        if (!best || n < best_n) {
            best = r;
            best_n = n;
        }
    }
    return best;
}

static size_t gateway_streams(const struct proxy *p, size_t gateway)
{
    struct stream *st, *tmp;
    size_t n = 0;

    HASH_ITER(hh, p->by_id, st, tmp)
    {
        n += st->gateway == gateway;
    }
    return n;
}

/* A new stream for r (the key's, kc, to endpoint): counted in the key's
 * usage and the endpoint's load. NULL when at a bound (answered). */
static struct stream *stream_new(struct svc *s, size_t gateway,
                                 const struct outbox_peer *peer,
                                 const Aifed__ProxyRequest *r,
                                 const struct af_key_claims *kc)
{
    struct epload *l = load_of(s->proxy, r->endpoint);
    struct stream *st;
    struct usage *u;

    if (s->proxy->n >= PROXY_MAX ||
        gateway_streams(s->proxy, gateway) >= PROXY_PER_GATEWAY) {
        answer(s, peer, r->stream_id, 503, 1, "the broker relays %d requests already",
               s->proxy->n >= PROXY_MAX ? PROXY_MAX : PROXY_PER_GATEWAY);
        return NULL;
    }
    if (!l || !(st = calloc(1, sizeof(*st)))) {
        answer(s, peer, r->stream_id, 503, 1, "the broker is out of memory");
        return NULL;
    }
    st->relay_id = ++s->proxy->next_id;
    st->gateway = gateway;
    st->peer = *peer;
    st->stream_id = r->stream_id;
    snprintf(st->key, sizeof(st->key), "%s", kc->id);
    snprintf(st->endpoint, sizeof(st->endpoint), "%s", r->endpoint);
    st->heard_ms = st->since_ms = svc_mono_ms(s);
    HASH_ADD(hh, s->proxy->by_id, relay_id, sizeof(st->relay_id), st);
    s->proxy->n++;
    if ((u = usage_of(s->proxy, kc->id))) {
        u->requests++;
        u->bytes_in += r->body.len;
    }
    l->count[l->now]++;
    l->requests++;
    l->last_ms = st->since_ms;
    return st;
}

/* Pass r on to replica rep. */
static void stream_send(struct svc *s, struct stream *st, const Aifed__ProxyRequest *r,
                        const Aifed__Replica *rep)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__ReplicaRequest rq = AIFED__REPLICA_REQUEST__INIT;
    struct epload *l = load_of(s->proxy, st->endpoint);

    snprintf(st->site, sizeof(st->site), "%s", rep->site);
    snprintf(st->job, sizeof(st->job), "%s", rep->job_id);
    st->heard_ms = svc_mono_ms(s);
    if (l)
        l->inflight++;
    rq.relay_id = st->relay_id;
    rq.job_id = st->job;
    rq.method = r->method;
    rq.path = r->path;
    rq.headers = r->headers;
    rq.n_headers = r->n_headers;
    rq.body = r->body;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_REPLICA_REQUEST, &rq);
    tosite_send(s, st->site, &env);
}

static void stream_end(struct proxy *p, struct stream *st)
{
    struct epload *l;

    HASH_FIND_STR(p->loads, st->endpoint, l);
    if (l && st->held && l->waiting)
        l->waiting--;
    else if (l && !st->held && *st->job && l->inflight)
        l->inflight--;
    if (st->held) {
        p->n_waiting--;
        p->waiting_bytes -= st->held->body.len;
        aifed__proxy_request__free_unpacked(st->held, NULL);
    }
    HASH_DEL(p->by_id, st);
    p->n--;
    free(st);
}

/* No LIVE replica yet: st keeps a copy of r and waits for one (the
 * endpoint's load asks for it). At the bound: answered 503. */
static void stream_hold(struct svc *s, struct stream *st, const Aifed__ProxyRequest *r)
{
    struct epload *l = load_of(s->proxy, st->endpoint);

    if (s->proxy->n_waiting >= PROXY_WAITING ||
        s->proxy->waiting_bytes + r->body.len > PROXY_WAITING_BYTES || !l ||
        !(st->held = af_wire_copy(r))) {
        answer(s, &st->peer, st->stream_id, 503, 10,
               "endpoint %s has no LIVE replica, and the broker holds as many waiting "
               "requests as it takes",
               st->endpoint);
        stream_end(s->proxy, st);
        return;
    }
    s->proxy->n_waiting++;
    s->proxy->waiting_bytes += r->body.len;
    l->waiting++;
}

void proxy_request(struct svc *s, size_t gateway, const struct outbox_peer *peer,
                   const Aifed__ProxyRequest *r)
{
    struct af_key_claims kc;
    Aifed__Endpoint *ep = NULL;
    const Aifed__Replica *rep;
    struct stream *st;
    char why[AF_WIRE_MAX_TEXT];
    uint32_t status;

    if ((status = key_refusal(s, r->key, &kc, why, sizeof(why)))) {
        answer(s, peer, r->stream_id, status, 0, "%s", why);
        return;
    }
    if (store_endpoint_get(s->store, r->endpoint, &ep) < 0) {
        answer(s, peer, r->stream_id, 404, 0, "no endpoint %s", r->endpoint);
    } else if (strcmp(kc.project, ep->project) ||
               (*kc.endpoint && strcmp(kc.endpoint, ep->name))) {
        answer(s, peer, r->stream_id, 403, 0, "the key %s is for %s %s, not endpoint %s",
               kc.id, *kc.endpoint ? "endpoint" : "project",
               *kc.endpoint ? kc.endpoint : kc.project, ep->name);
    } else if (!ep->n_replicas && ep->stuck) {
        /* It cannot have one now (no site takes it, or it failed): say why. */
        answer(s, peer, r->stream_id, 503, 30, "endpoint %s has no replica: %s", ep->name,
               ep->reason);
    } else if ((st = stream_new(s, gateway, peer, r, &kc))) {
        if ((rep = pick(s, ep)))
            stream_send(s, st, r, rep);
        else
            stream_hold(s, st, r);
    }
    store_endpoint_free(ep);
}

/* End st with aifed's own answer: a status when the gateway has had none
 * yet, else the end of what it has (an error said). */
/* A request of st's ended badly: counted for its key and endpoint. */
static void count_error(struct proxy *p, const struct stream *st)
{
    struct usage *u = usage_of(p, st->key);
    struct epload *l;

    HASH_FIND_STR(p->loads, st->endpoint, l);
    if (u)
        u->errors++;
    if (l)
        l->errors++;
}

static void stream_fail(struct svc *s, struct stream *st, uint32_t status,
                        const char *why)
{
    count_error(s->proxy, st);
    if (st->headed) {
        Aifed__ProxyResponse pr = AIFED__PROXY_RESPONSE__INIT;
        pr.stream_id = st->stream_id;
        pr.error = (char *)why;
        pr.end = true;
        send_piece(s, &st->peer, &pr);
    } else {
        answer(s, &st->peer, st->stream_id, status, 0, "%s", why);
    }
    stream_end(s->proxy, st);
}

void proxy_response(struct svc *s, const char *site, const Aifed__ReplicaResponse *rr)
{
    Aifed__ProxyResponse pr = AIFED__PROXY_RESPONSE__INIT;
    struct stream *st;
    struct usage *u;

    HASH_FIND(hh, s->proxy->by_id, &rr->relay_id, sizeof(rr->relay_id), st);
    if (!st || strcmp(st->site, site))
        return; /* ended meanwhile (the client went, the site was DOWN), or not its */
    st->heard_ms = svc_mono_ms(s);
    if ((u = usage_of(s->proxy, st->key))) {
        u->bytes_out += rr->data.len;
        u->tokens += rr->tokens;
    }
    if (*rr->error || rr->status >= 500)
        count_error(s->proxy, st);
    pr.stream_id = st->stream_id;
    pr.status = rr->status;
    pr.headers = rr->headers;
    pr.n_headers = rr->n_headers;
    pr.data = rr->data;
    pr.end = rr->end;
    pr.error = rr->error;
    if (!st->headed)
        pr.site = st->site;
    st->headed = true;
    send_piece(s, &st->peer, &pr);
    if (rr->end)
        stream_end(s->proxy, st);
}

static void tell_site(struct svc *s, const struct stream *st)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__ReplicaCancel c = AIFED__REPLICA_CANCEL__INIT;

    c.relay_id = st->relay_id;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_REPLICA_CANCEL, &c);
    tosite_send(s, st->site, &env);
}

void proxy_cancel(struct svc *s, size_t gateway, uint64_t stream_id)
{
    struct stream *st, *tmp;

    HASH_ITER(hh, s->proxy->by_id, st, tmp)
    {
        if (st->gateway == gateway && st->stream_id == stream_id) {
            if (!st->held)
                tell_site(s, st);
            stream_end(s->proxy, st);
            return;
        }
    }
}

/* The keys' usage added to their records (into the batch). */
static void store_usage(struct svc *s)
{
    struct usage *u, *tmp;

    // NOLINTBEGIN(clang-analyzer-unix.Malloc,clang-analyzer-core.NullDereference)
    HASH_ITER(hh, s->proxy->usage, u, tmp)
    {
        Aifed__EndpointKey *k = NULL;
        if (store_key_get(s->store, u->key, &k) == 0) {
            k->requests += u->requests;
            k->bytes_in += u->bytes_in;
            k->bytes_out += u->bytes_out;
            k->errors += u->errors;
            k->tokens += u->tokens;
            if (store_key_put(s->store, k, NULL) < 0)
                log_err("the usage of key %s: not stored", u->key);
        }
        store_key_free(k);
        HASH_DEL(s->proxy->usage, u);
        free(u);
    }
    // NOLINTEND(clang-analyzer-unix.Malloc,clang-analyzer-core.NullDereference)
}

/* The endpoints' counts added to their records (into the batch). */
static void store_counts(struct svc *s)
{
    struct epload *l, *tmp;

    HASH_ITER(hh, s->proxy->loads, l, tmp)
    {
        Aifed__Endpoint *ep = NULL;
        if (!l->requests && !l->errors)
            continue;
        if (store_endpoint_get(s->store, l->name, &ep) == 0) {
            ep->requests += l->requests;
            ep->errors += l->errors;
            if (store_endpoint_put(s->store, ep, NULL) < 0)
                log_err("the counts of endpoint %s: not stored", l->name);
        }
        store_endpoint_free(ep);
        l->requests = l->errors = 0;
    }
}

/* A waiting stream: sent when its endpoint has a LIVE replica, answered
 * 503 when it waited too long or 404 when the endpoint went. */
static void retry_held(struct svc *s, struct stream *st, int64_t now)
{
    Aifed__Endpoint *ep = NULL;
    const Aifed__Replica *rep;
    Aifed__ProxyRequest *r = st->held;
    struct epload *l;

    if (store_endpoint_get(s->store, st->endpoint, &ep) < 0) {
        stream_fail(s, st, 404, "the endpoint was deleted");
    } else if ((rep = pick(s, ep))) {
        HASH_FIND_STR(s->proxy->loads, st->endpoint, l);
        if (l && l->waiting)
            l->waiting--;
        st->held = NULL;
        s->proxy->n_waiting--;
        s->proxy->waiting_bytes -= r->body.len;
        stream_send(s, st, r, rep);
        aifed__proxy_request__free_unpacked(r, NULL);
    } else if (now - st->since_ms > PROXY_WAIT_MS) {
        stream_fail(s, st, 503,
                    "no replica of the endpoint became LIVE in time; ask again");
    }
    store_endpoint_free(ep);
}

void proxy_tick(struct svc *s)
{
    int64_t now = svc_mono_ms(s);
    struct stream *st, *tmp;
    struct epload *l, *ltmp;

    HASH_ITER(hh, s->proxy->loads, l, ltmp)
    {
        l->now = (l->now + 1) % LOAD_SECONDS;
        l->count[l->now] = 0;
    }
    HASH_ITER(hh, s->proxy->by_id, st, tmp)
    {
        if (st->held) {
            retry_held(s, st, now);
        } else if (!sites_is_up(s->sites, st->site)) {
            tell_site(s, st);
            stream_fail(s, st, 502, "the replica's site went away mid-request");
        } else if (now - st->heard_ms > PROXY_IDLE_MS) {
            tell_site(s, st);
            stream_fail(s, st, 504, "the replica said nothing for 120 s");
        }
    }
    store_usage(s);
    store_counts(s);
}
