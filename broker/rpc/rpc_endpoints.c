/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_endpoints: inference endpoints (docs/inference.md). A user makes one
 * for a project of theirs; the project's members see it; its owner or an
 * admin scales and deletes it. Whatever is shown of its job is what a
 * member who is not the job's owner sees of a job: no scripts, no
 * variables' values, no files' bytes.
 */
#include "af_log.h"
#include "af_wire.h"
#include "endpointsvc.h"
#include "placement.h"
#include "rpc.h"
#include "store_endpoints.h"
#include "svc.h"

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

#define ANYONE (RPC_USER | RPC_ADMIN)

const struct rpc_spec rpc_endpoint_specs[] = {
    {AIFED__ENVELOPE__BODY_CREATE_ENDPOINT, ANYONE, on_create_endpoint, NULL, 0},
    {AIFED__ENVELOPE__BODY_GET_ENDPOINT, ANYONE, on_get_endpoint, NULL, RPC_READS},
    {AIFED__ENVELOPE__BODY_LIST_ENDPOINTS, ANYONE, on_list_endpoints, NULL, RPC_READS},
    {AIFED__ENVELOPE__BODY_SCALE_ENDPOINT, ANYONE, on_scale_endpoint, NULL, 0},
    {AIFED__ENVELOPE__BODY_DELETE_ENDPOINT, ANYONE, on_delete_endpoint, NULL, 0},
    {0, 0, NULL, NULL, 0},
};
