/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_endpoints: inference endpoints (docs/inference.md). A user makes one
 * for a project of theirs; the project's members see it; its owner or an
 * admin scales and deletes it. Whatever is shown of its job is what a
 * member who is not the job's owner sees of a job: no scripts, no
 * variables' values, no files' bytes.
 *
 * Its keys: a member of the project makes one (for the project, or one
 * endpoint of it), with an expiry and a rate; the broker keeps its record,
 * the key itself only its maker (the broker can make it again: Ed25519
 * signatures are deterministic, so a retried create answers the same key).
 * Gateways relay requests (proxy.h); sites answer them.
 */
#include "af_ids.h"
#include "af_log.h"
#include "af_token.h"
#include "af_wire.h"
#include "endpointsvc.h"
#include "placement.h"
#include "proxy.h"
#include "rpc.h"
#include "store_endpoints.h"
#include "store_records.h"
#include "svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a reply shows of ep's job: its name, image, models and service. */
static void strip(Aifed__JobSpec *js, Aifed__JobSpec *keep)
{
    aifed__job_spec__init(keep);
    keep->name = js->name;
    keep->image = js->image;
    keep->run = "-";
    keep->data = js->data;
    keep->n_data = js->n_data;
    keep->service = js->service;
}

static void reply_endpoint(struct svc *s, const struct rpc_msg *m, Aifed__Endpoint *ep)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__EndpointReply r = AIFED__ENDPOINT_REPLY__INIT;
    Aifed__JobSpec *was = ep->job, shown;

    strip(was, &shown);
    ep->job = &shown;
    r.endpoint = ep;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_ENDPOINT_REPLY, &r);
    rpc_reply(s, m, &env);
    ep->job = was;
}

/* The stored endpoint of that name, for m's sender: NULL (NOT_FOUND sent)
 * when there is none or it is not of a project of theirs. */
static Aifed__Endpoint *endpoint_get(struct svc *s, const struct rpc_msg *m,
                                     const char *name)
{
    Aifed__Endpoint *ep = NULL;

    if (store_endpoint_get(s->store, name, &ep) < 0 ||
        !auth_may_use_project(m->who, ep->project)) {
        store_endpoint_free(ep);
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no endpoint %s", name);
        return NULL;
    }
    return ep;
}

/* Whether m's sender may change ep: its owner or an admin (refused, said,
 * otherwise). */
static bool may_change(struct svc *s, const struct rpc_msg *m, const Aifed__Endpoint *ep)
{
    if (m->who->kind == AUTH_ADMIN || !strcmp(m->who->id, ep->principal))
        return true;
    rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
              "endpoint %s is %s's: only its owner or an admin changes it", ep->name,
              ep->principal);
    return false;
}

static void on_create_endpoint(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__CreateEndpoint *c = m->env->create_endpoint;
    struct endpointsvc_refusal why;
    Aifed__Endpoint *ep;
    char text[AF_WIRE_MAX_TEXT];
    int rc;

    if (!auth_may_use_project(m->who, c->workload->project)) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "%s is not a member of project %s", m->who->id, c->workload->project);
        return;
    }
    if (placement_names_known(s, c->workload, text, sizeof(text)) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_BAD_REQUEST, "%s", text);
        return;
    }
    rc = endpointsvc_create(s, m->who->id, c, &ep, &why);
    if (rc > 0)
        rpc_error_stored(s, m, why.code, "%s", why.text);
    else if (rc < 0)
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL,
                  "could not record the endpoint");
    else
        reply_endpoint(s, m, ep);
    store_endpoint_free(ep);
}

static void on_get_endpoint(struct svc *s, const struct rpc_msg *m)
{
    Aifed__Endpoint *ep = endpoint_get(s, m, m->env->get_endpoint->name);

    if (ep)
        reply_endpoint(s, m, ep);
    store_endpoint_free(ep);
}

struct list {
    const struct rpc_msg *m;
    const char *project;
    Aifed__Endpoint *v[AF_WIRE_MAX_ENDPOINTS];
    Aifed__JobSpec shown[AF_WIRE_MAX_ENDPOINTS];
    Aifed__JobSpec *was[AF_WIRE_MAX_ENDPOINTS]; /* each one's own, while shown */
    size_t n;
};

static int list_add(const Aifed__Endpoint *ep, void *arg)
{
    struct list *l = arg;

    if (!auth_may_use_project(l->m->who, ep->project) ||
        (*l->project && strcmp(l->project, ep->project)))
        return 0;
    if (l->n == AF_WIRE_MAX_ENDPOINTS)
        return 1;
    if (!(l->v[l->n] = af_wire_copy(ep)))
        return -1;
    strip(l->v[l->n]->job, &l->shown[l->n]);
    l->n++;
    return 0;
}

static void on_list_endpoints(struct svc *s, const struct rpc_msg *m)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__EndpointList list = AIFED__ENDPOINT_LIST__INIT;
    struct list *l = calloc(1, sizeof(*l));

    if (!l) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    l->m = m;
    l->project = m->env->list_endpoints->project;
    if (store_endpoint_each(s->store, list_add, l) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "reading the endpoints");
    } else {
        for (size_t i = 0; i < l->n; i++) {
            l->was[i] = l->v[i]->job;
            l->v[i]->job = &l->shown[i];
        }
        list.endpoints = l->v;
        list.n_endpoints = l->n;
        af_wire_set_body(&env, AIFED__ENVELOPE__BODY_ENDPOINT_LIST, &list);
        rpc_reply(s, m, &env);
        for (size_t i = 0; i < l->n; i++)
            l->v[i]->job = l->was[i];
    }
    for (size_t i = 0; i < l->n; i++)
        aifed__endpoint__free_unpacked(l->v[i], NULL);
    free(l);
}

static void on_scale_endpoint(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__ScaleEndpoint *sc = m->env->scale_endpoint;
    Aifed__Endpoint *ep = endpoint_get(s, m, sc->name), *now = NULL;

    if (!ep || !may_change(s, m, ep))
        goto out;
    if (!sc->replicas_max)
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_BAD_REQUEST,
                  "an endpoint keeps at most 1 replica or more: delete it instead");
    else if (endpointsvc_scale(s, ep, sc->replicas_min, sc->replicas_max, &now) < 0)
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "could not record the change");
    else
        reply_endpoint(s, m, now);
out:
    store_endpoint_free(now);
    store_endpoint_free(ep);
}

static void on_delete_endpoint(struct svc *s, const struct rpc_msg *m)
{
    Aifed__Endpoint *ep = endpoint_get(s, m, m->env->delete_endpoint->name);

    if (!ep || !may_change(s, m, ep))
        goto out;
    if (endpointsvc_delete(s, ep, m->who->id) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "could not record the delete");
    } else {
        /* The endpoint as it was, its replicas ending. */
        log_info("endpoint %s deleted by %s", ep->name, m->who->id);
        reply_endpoint(s, m, ep);
    }
out:
    store_endpoint_free(ep);
}

/* Keys: at most this many a principal has made that are in force. */
#define KEYS_PER_PRINCIPAL 64
#define KEY_DEFAULT_MS     (90LL * 24 * 3600 * 1000)
#define KEY_MAX_MS         (366LL * 24 * 3600 * 1000)

static void key_claims(const Aifed__EndpointKey *k, struct af_key_claims *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "%s", k->id);
    snprintf(c->project, sizeof(c->project), "%s", k->project);
    snprintf(c->endpoint, sizeof(c->endpoint), "%s", k->endpoint);
    c->not_after_ms = k->expires_ms;
    c->rate_per_s = k->rate_per_s;
}

/* The record and, for its maker, the key itself (made again: the same). */
static void reply_key(struct svc *s, const struct rpc_msg *m, Aifed__EndpointKey *k,
                      bool secret)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__KeyReply r = AIFED__KEY_REPLY__INIT;
    struct af_key_claims c;
    char key[AF_KEY_MAX];

    r.key = k;
    if (secret) {
        key_claims(k, &c);
        if (af_key_make(&c, &s->signer, key, sizeof(key)) < 0) {
            rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "could not sign the key");
            return;
        }
        r.secret = key;
    }
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_KEY_REPLY, &r);
    rpc_reply(s, m, &env);
}

struct key_count {
    const char *principal;
    int64_t now;
    size_t n;
};

static int count_key(const Aifed__EndpointKey *k, void *arg)
{
    struct key_count *c = arg;

    c->n += !strcmp(k->principal, c->principal) && !k->revoked && k->expires_ms > c->now;
    return 0;
}

/* Why c may not be made by m's sender, into why; NULL when it may. */
static const char *key_refused(struct svc *s, const struct rpc_msg *m,
                               const Aifed__CreateKey *c, int64_t now, char *why,
                               size_t size)
{
    struct key_count n = {m->who->id, now, 0};
    Aifed__Endpoint *ep = NULL;

    if (!auth_may_use_project(m->who, c->project))
        snprintf(why, size, "%s is not a member of project %s", m->who->id, c->project);
    else if (c->expires_ms && (c->expires_ms <= now || c->expires_ms > now + KEY_MAX_MS))
        snprintf(why, size, "a key expires within a year from now");
    else if (*c->endpoint && (store_endpoint_get(s->store, c->endpoint, &ep) < 0 ||
                              strcmp(ep->project, c->project)))
        snprintf(why, size, "project %s has no endpoint %s", c->project, c->endpoint);
    else if (store_key_each(s->store, count_key, &n) < 0 || n.n >= KEYS_PER_PRINCIPAL)
        snprintf(why, size, "you have %d keys in force already: revoke one",
                 KEYS_PER_PRINCIPAL);
    else
        why = NULL;
    store_endpoint_free(ep);
    return why;
}

static void on_create_key(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__CreateKey *c = m->env->create_key;
    Aifed__EndpointKey k = AIFED__ENDPOINT_KEY__INIT, *done = NULL;
    char id[AF_ID_MAX + 1], text[AF_WIRE_MAX_TEXT];
    int64_t now = svc_now_ms(s);

    /* A retry (same principal and request id) is the same key. */
    if (store_idem_get(s->store, m->who->id, c->request_id, id, sizeof(id)) == 0 &&
        store_key_get(s->store, id, &done) == 0) {
        reply_key(s, m, done, true);
        store_key_free(done);
        return;
    }
    if (key_refused(s, m, c, now, text, sizeof(text))) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN, "%s", text);
        return;
    }
    af_id_new("key", id, sizeof(id));
    k.id = id;
    k.project = c->project;
    k.endpoint = c->endpoint;
    k.principal = (char *)m->who->id;
    k.name = c->name;
    k.created_ms = now;
    k.expires_ms = c->expires_ms ? c->expires_ms : now + KEY_DEFAULT_MS;
    k.rate_per_s = c->rate_per_s;
    if (store_key_put(s->store, &k, "key created") < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "could not record the key");
        return;
    }
    rpc_remember(s, m, c->request_id, id);
    reply_key(s, m, &k, true);
}

struct key_page {
    const struct rpc_msg *m;
    const char *project;
    Aifed__EndpointKey *v[AF_WIRE_MAX_KEYS_LISTED];
    size_t n;
};

static int key_add(const Aifed__EndpointKey *k, void *arg)
{
    struct key_page *p = arg;

    if (!auth_may_use_project(p->m->who, k->project) ||
        (*p->project && strcmp(p->project, k->project)))
        return 0;
    if (p->n == AF_WIRE_MAX_KEYS_LISTED)
        return 1;
    if (!(p->v[p->n] = af_wire_copy(k)))
        return -1;
    p->n++;
    return 0;
}

static void on_list_keys(struct svc *s, const struct rpc_msg *m)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__KeyList list = AIFED__KEY_LIST__INIT;
    struct key_page *p = calloc(1, sizeof(*p));

    if (!p) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        return;
    }
    p->m = m;
    p->project = m->env->list_keys->project;
    if (store_key_each(s->store, key_add, p) < 0) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "reading the keys");
    } else {
        list.keys = p->v;
        list.n_keys = p->n;
        af_wire_set_body(&env, AIFED__ENVELOPE__BODY_KEY_LIST, &list);
        rpc_reply(s, m, &env);
    }
    for (size_t i = 0; i < p->n; i++)
        aifed__endpoint_key__free_unpacked(p->v[i], NULL);
    free(p);
}

static void on_revoke_key(struct svc *s, const struct rpc_msg *m)
{
    const char *id = m->env->revoke_key->id;
    Aifed__EndpointKey *k = NULL;

    if (store_key_get(s->store, id, &k) < 0 ||
        !auth_may_use_project(m->who, k->project)) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no key %s", id);
    } else if (m->who->kind != AUTH_ADMIN && strcmp(m->who->id, k->principal)) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_FORBIDDEN,
                  "key %s is %s's: only its maker or an admin revokes it", id,
                  k->principal);
    } else {
        if (!k->revoked) {
            k->revoked = true;
            k->revoked_ms = svc_now_ms(s);
            if (store_key_put(s->store, k, "key revoked") < 0) {
                rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "could not record it");
                goto out;
            }
        }
        reply_key(s, m, k, false);
    }
out:
    store_key_free(k);
}

static void on_proxy_request(struct svc *s, const struct rpc_msg *m)
{
    proxy_request(s, m->who->index, &m->from, m->env->proxy_request);
}

static void on_proxy_cancel(struct svc *s, const struct rpc_msg *m)
{
    proxy_cancel(s, m->who->index, m->env->proxy_cancel->stream_id);
}

static void on_replica_response(struct svc *s, const struct rpc_msg *m)
{
    proxy_response(s, m->who->name, m->env->replica_response);
}

/* A gateway learns who it is and the broker's signing key (it checks keys
 * with it). */
static void on_gateway_who_am_i(struct svc *s, const struct rpc_msg *m)
{
    rpc_reply_identity(s, m, m->who, NULL);
}

#define ANYONE (RPC_USER | RPC_ADMIN)

/* The daemons' socket: sites answer requests; gateways (which connect
 * there, as agents do) make them. */
const struct rpc_spec rpc_endpoint_agent_specs[] = {
    {AIFED__ENVELOPE__BODY_REPLICA_RESPONSE, RPC_SITE, on_replica_response, NULL, 0},
    /* Read the store as committed; the answers leave at once. */
    {AIFED__ENVELOPE__BODY_PROXY_REQUEST, RPC_GATEWAY, on_proxy_request, NULL, RPC_READS},
    {AIFED__ENVELOPE__BODY_PROXY_CANCEL, RPC_GATEWAY, on_proxy_cancel, NULL, RPC_READS},
    {AIFED__ENVELOPE__BODY_WHO_AM_I, RPC_GATEWAY, on_gateway_who_am_i, NULL, RPC_READS},
    {0, 0, NULL, NULL, 0},
};

const struct rpc_spec rpc_endpoint_specs[] = {
    {AIFED__ENVELOPE__BODY_CREATE_KEY, ANYONE, on_create_key, NULL, 0},
    {AIFED__ENVELOPE__BODY_LIST_KEYS, ANYONE, on_list_keys, NULL, RPC_READS},
    {AIFED__ENVELOPE__BODY_REVOKE_KEY, ANYONE, on_revoke_key, NULL, 0},
    {AIFED__ENVELOPE__BODY_CREATE_ENDPOINT, ANYONE, on_create_endpoint, NULL, 0},
    {AIFED__ENVELOPE__BODY_GET_ENDPOINT, ANYONE, on_get_endpoint, NULL, RPC_READS},
    {AIFED__ENVELOPE__BODY_LIST_ENDPOINTS, ANYONE, on_list_endpoints, NULL, RPC_READS},
    {AIFED__ENVELOPE__BODY_SCALE_ENDPOINT, ANYONE, on_scale_endpoint, NULL, 0},
    {AIFED__ENVELOPE__BODY_DELETE_ENDPOINT, ANYONE, on_delete_endpoint, NULL, 0},
    {0, 0, NULL, NULL, 0},
};
