/* SPDX-License-Identifier: Apache-2.0 */
#include "ctl_endpoints.h"
#include "af_ids.h"
#include "af_time.h"
#include "af_wire.h"
#include "ctl_call.h"
#include "ctl_show.h"
#include "ctl_table.h"
#include "ctl_task.h"

#include "aifed.pb-c.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char *replica_state(int s)
{
    static const char *const names[] = {"UNKNOWN", "QUEUED", "STARTING", "LIVE",
                                        "OFFLINE"};

    return s >= 0 && s <= AIFED__REPLICA_STATE__REPLICA_OFFLINE ? names[s] : "UNKNOWN";
}

/* The endpoint as a whole: its best replica's state; FAILED when it
 * stopped placing (the broker's rule: endpointsvc_state). */
static const char *endpoint_state(const Aifed__Endpoint *ep)
{
    int best = 0;
    static const int rank[] = {0, 2, 3, 4, 1}; /* OFFLINE < QUEUED < STARTING < LIVE */

    for (size_t i = 0; i < ep->n_replicas; i++)
        if (ep->replicas[i]->state <= AIFED__REPLICA_STATE__REPLICA_OFFLINE &&
            rank[ep->replicas[i]->state] > rank[best])
            best = (int)ep->replicas[i]->state;
    if (best)
        return replica_state(best);
    if (ep->failures >= 3)
        return "FAILED";
    return ep->job->service && ep->job->service->replicas_min ? "QUEUED" : "IDLE";
}

static const char *model_of(const Aifed__Endpoint *ep)
{
    for (size_t i = 0; i < ep->job->n_data; i++)
        if (ep->job->data[i]->kind == AIFED__DATA_KIND__DATA_MODEL)
            return ep->job->data[i]->name;
    return "";
}

static json_t *endpoint_json(const Aifed__Endpoint *ep)
{
    const Aifed__Service *sv = ep->job->service;
    json_t *reps = json_array();

    for (size_t i = 0; i < ep->n_replicas; i++) {
        const Aifed__Replica *r = ep->replicas[i];
        json_array_append_new(
            reps, json_pack("{s:s, s:s, s:o, s:s, s:i, s:s, s:s}", "site", r->site,
                            "state", replica_state(r->state), "since",
                            ctl_time_json(r->since_ms), "node", r->node, "port",
                            (int)r->port, "lease", r->lease_id, "job", r->job_id));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:{s:i, s:s, s:i, s:i}, "
                     "s:s, s:i, s:I, s:I, s:o, s:o}",
                     "name", ep->name, "project", ep->project, "owner", ep->principal,
                     "state", endpoint_state(ep), "model", model_of(ep), "accelerator",
                     ep->workload->accelerator, "replicas_min",
                     sv ? (int)sv->replicas_min : 0, "replicas_max",
                     sv ? (int)sv->replicas_max : 0, "service", "port",
                     sv ? (int)sv->port : 0, "readiness_probe",
                     sv && *sv->probe_path ? sv->probe_path : "/",
                     "initial_delay_seconds", sv ? (int)sv->probe_delay_s : 0,
                     "timeout_seconds", sv ? (int)sv->probe_timeout_s : 0, "reason",
                     ep->reason, "failures", (int)ep->failures, "requests",
                     (json_int_t)ep->requests, "errors", (json_int_t)ep->errors,
                     "created", ctl_time_json(ep->created_ms), "replicas", reps);
}

static void show_one(const Aifed__Endpoint *ep)
{
    static const struct ctl_col cols[] = {
        {"SITE", 0},    {"STATE", 0}, {"SINCE", 0},
        {"ADDRESS", 0}, {"LEASE", 0}, {"JOB", CTL_COL_EXTRA},
    };
    const Aifed__Service *sv = ep->job->service;
    char created[64], since[64], addr[AF_WIRE_MAX_TEXT + 16];
    size_t live = 0;
    struct ctl_table *t;

    for (size_t i = 0; i < ep->n_replicas; i++)
        live += ep->replicas[i]->state == AIFED__REPLICA_STATE__REPLICA_LIVE;
    ctl_show_time(ep->created_ms, created, sizeof(created));
    printf("endpoint:    %s (project %s, %s's)\n"
           "state:       %s\n"
           "model:       %s\n"
           "replicas:    %zu LIVE of %zu; wants %u..%u\n"
           "probe:       GET %s after %us, %us each\n"
           "created:     %s\n",
           ep->name, ep->project, ep->principal, endpoint_state(ep),
           *model_of(ep) ? model_of(ep) : "(none named)", live, ep->n_replicas,
           sv ? sv->replicas_min : 0, sv ? sv->replicas_max : 0,
           sv && *sv->probe_path ? sv->probe_path : "/", sv ? sv->probe_delay_s : 0,
           sv && sv->probe_timeout_s ? sv->probe_timeout_s : 5, created);
    printf("requests:    %llu through gateways, %llu of them failed\n",
           (unsigned long long)ep->requests, (unsigned long long)ep->errors);
    if (*ep->reason)
        printf("why:         %s\n", ep->reason);
    if (!ep->n_replicas)
        return;
    t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
    for (size_t i = 0; i < ep->n_replicas; i++) {
        const Aifed__Replica *r = ep->replicas[i];
        ctl_show_time_short(r->since_ms, since, sizeof(since));
        snprintf(addr, sizeof(addr), "%s:%u", r->node, r->port);
        CTL_TABLE_ROW(t, r->site, replica_state(r->state), since, *r->node ? addr : "-",
                      r->lease_id, *r->job_id ? r->job_id : "-");
    }
    ctl_table_print(t);
}

int ctl_endpoints_show(const Aifed__Envelope *rep, bool json)
{
    if (json)
        ctl_print_json(endpoint_json(rep->endpoint_reply->endpoint));
    else
        show_one(rep->endpoint_reply->endpoint);
    return 0;
}

static int show_list(const Aifed__Envelope *rep, bool json)
{
    static const struct ctl_col cols[] = {
        {"NAME", 0},
        {"STATE", 0},
        {"LIVE", CTL_COL_RIGHT},
        {"WANTS", 0},
        {"MODEL", CTL_COL_TRUNC},
        {"SITES", CTL_COL_WRAP},
        {"PROJECT", CTL_COL_EXTRA},
    };
    const Aifed__EndpointList *l = rep->endpoint_list;
    struct ctl_table *t;

    if (json) {
        json_t *a = json_array();
        for (size_t i = 0; i < l->n_endpoints; i++)
            json_array_append_new(a, endpoint_json(l->endpoints[i]));
        ctl_print_json(a);
        return 0;
    }
    if (!l->n_endpoints) {
        printf("no endpoints\n");
        return 0;
    }
    t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
    for (size_t i = 0; i < l->n_endpoints; i++) {
        const Aifed__Endpoint *ep = l->endpoints[i];
        const Aifed__Service *sv = ep->job->service;
        char live[16], wants[32], sites[512] = "";
        size_t n = 0;
        for (size_t k = 0; k < ep->n_replicas; k++) {
            n += ep->replicas[k]->state == AIFED__REPLICA_STATE__REPLICA_LIVE;
            snprintf(sites + strlen(sites), sizeof(sites) - strlen(sites), "%s%s",
                     k ? "," : "", ep->replicas[k]->site);
        }
        snprintf(live, sizeof(live), "%zu", n);
        snprintf(wants, sizeof(wants), "%u..%u", sv ? sv->replicas_min : 0,
                 sv ? sv->replicas_max : 0);
        CTL_TABLE_ROW(t, ep->name, endpoint_state(ep), live, wants, model_of(ep),
                      *sites ? sites : "-", ep->project);
    }
    ctl_table_print(t);
    return 0;
}

int ctl_cmd_endpoints(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                      char **argv)
{
    Aifed__ListEndpoints l = AIFED__LIST_ENDPOINTS__INIT;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--project") && i + 1 < argc)
            l.project = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            ctl->json = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return ctl_command_help(cmd), 0;
        else
            return ctl_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    }
    return ctl_ask(ctl, AIFED__ENVELOPE__BODY_LIST_ENDPOINTS, &l,
                   AIFED__ENVELOPE__BODY_ENDPOINT_LIST, show_list);
}

static json_t *key_json(const Aifed__EndpointKey *k)
{
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:i, s:b, s:o, s:I, s:I, s:I, s:I, s:I}",
        "id", k->id, "name", k->name, "project", k->project, "endpoint", k->endpoint,
        "owner", k->principal, "created", ctl_time_json(k->created_ms), "expires",
        ctl_time_json(k->expires_ms), "rate_per_s", (int)k->rate_per_s, "revoked",
        (int)k->revoked, "revoked_at", ctl_time_json(k->revoked_ms), "requests",
        (json_int_t)k->requests, "bytes_in", (json_int_t)k->bytes_in, "bytes_out",
        (json_int_t)k->bytes_out, "errors", (json_int_t)k->errors, "tokens",
        (json_int_t)k->tokens);
}

static int show_key(const Aifed__Envelope *rep, bool json)
{
    const Aifed__KeyReply *r = rep->key_reply;
    char expires[64], rate[48] = "no limit";

    if (json) {
        json_t *j = key_json(r->key);
        if (*r->secret)
            json_object_set_new(j, "key", json_string(r->secret));
        ctl_print_json(j);
        return 0;
    }
    ctl_show_time(r->key->expires_ms, expires, sizeof(expires));
    if (r->key->rate_per_s)
        snprintf(rate, sizeof(rate), "%u requests a second, per gateway",
                 r->key->rate_per_s);
    printf("key:         %s%s\n"
           "for:         %s%s%s\n"
           "expires:     %s\n"
           "rate:        %s\n",
           r->key->id, r->key->revoked ? " (REVOKED)" : "",
           *r->key->endpoint ? "endpoint " : "project ",
           *r->key->endpoint ? r->key->endpoint : r->key->project,
           *r->key->endpoint ? "" : " (any of its endpoints)", expires, rate);
    if (*r->secret) {
        printf("\n%s\n\n", r->secret);
        fprintf(stderr,
                "This is the key: keep it secret. It is shown once; the broker keeps "
                "only its record.\nSend it as Authorization: Bearer KEY (OpenAI "
                "clients: api_key).\n");
    }
    return 0;
}

static int show_keys(const Aifed__Envelope *rep, bool json)
{
    static const struct ctl_col cols[] = {
        {"KEY", 0},
        {"FOR", 0},
        {"EXPIRES", 0},
        {"RATE", CTL_COL_RIGHT},
        {"REQUESTS", CTL_COL_RIGHT},
        {"TOKENS", CTL_COL_RIGHT},
        {"STATE", 0},
        {"NAME", CTL_COL_TRUNC},
    };
    const Aifed__KeyList *l = rep->key_list;
    struct ctl_table *t;

    if (json) {
        json_t *a = json_array();
        for (size_t i = 0; i < l->n_keys; i++)
            json_array_append_new(a, key_json(l->keys[i]));
        ctl_print_json(a);
        return 0;
    }
    if (!l->n_keys) {
        printf("no keys\n");
        return 0;
    }
    t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
    for (size_t i = 0; i < l->n_keys; i++) {
        const Aifed__EndpointKey *k = l->keys[i];
        char expires[64], rate[16] = "-", reqs[24], toks[24], what[AF_ID_MAX + 16];
        ctl_show_time_short(k->expires_ms, expires, sizeof(expires));
        if (k->rate_per_s)
            snprintf(rate, sizeof(rate), "%u/s", k->rate_per_s);
        snprintf(reqs, sizeof(reqs), "%llu", (unsigned long long)k->requests);
        snprintf(toks, sizeof(toks), "%llu", (unsigned long long)k->tokens);
        snprintf(what, sizeof(what), "%s%s", *k->endpoint ? "" : "project ",
                 *k->endpoint ? k->endpoint : k->project);
        CTL_TABLE_ROW(t, k->id, what, expires, rate, reqs, toks,
                      k->revoked ? "revoked" : "in force", k->name);
    }
    ctl_table_print(t);
    return 0;
}

/* endpoint key create|list|revoke */
static int key_cmd(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv)
{
    const char *verb = argc > 2 ? argv[2] : "";
    Aifed__CreateKey c = AIFED__CREATE_KEY__INIT;
    Aifed__ListKeys l = AIFED__LIST_KEYS__INIT;
    Aifed__RevokeKey r = AIFED__REVOKE_KEY__INIT;
    bool create = !strcmp(verb, "create");
    char rid[AF_ID_MAX + 1];
    uint64_t ms;
    uint32_t rate;
    int i = 3;

    if (!strcmp(verb, "revoke") && argc > 3 && argv[3][0] != '-')
        r.id = argv[i++];
    for (; i < argc; i++) {
        bool more = i + 1 < argc;
        if (!strcmp(argv[i], "--json"))
            ctl->json = true;
        else if (!strcmp(argv[i], "--project") && more)
            c.project = l.project = argv[++i];
        else if (create && !strcmp(argv[i], "--endpoint") && more)
            c.endpoint = argv[++i];
        else if (create && !strcmp(argv[i], "--name") && more)
            c.name = argv[++i];
        else if (create && !strcmp(argv[i], "--expires") && more) {
            if (af_duration_parse_bare(argv[++i], AF_BARE_MINUTES, &ms) < 0 || !ms)
                return ctl_usage_error(
                    cmd, "--expires: '%s' is not a duration (like 30d)", argv[i]);
            c.expires_ms = af_now_ms() + (int64_t)ms;
        } else if (create && !strcmp(argv[i], "--rate") && more) {
            if (ctl_parse_u32(argv[++i], &rate) < 0)
                return ctl_usage_error(cmd, "--rate: '%s' is not requests a second",
                                       argv[i]);
            c.rate_per_s = rate;
        } else
            return ctl_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    }
    if (create) {
        if (!*c.project)
            return ctl_usage_error(cmd, "key create: give --project P", NULL);
        af_id_new("req", rid, sizeof(rid));
        c.request_id = rid;
        return ctl_ask(ctl, AIFED__ENVELOPE__BODY_CREATE_KEY, &c,
                       AIFED__ENVELOPE__BODY_KEY_REPLY, show_key);
    }
    if (!strcmp(verb, "list"))
        return ctl_ask(ctl, AIFED__ENVELOPE__BODY_LIST_KEYS, &l,
                       AIFED__ENVELOPE__BODY_KEY_LIST, show_keys);
    if (!strcmp(verb, "revoke") && af_id_valid(r.id))
        return ctl_ask(ctl, AIFED__ENVELOPE__BODY_REVOKE_KEY, &r,
                       AIFED__ENVELOPE__BODY_KEY_REPLY, show_key);
    return ctl_usage_error(cmd, "key: give create --project P, list, or revoke ID", NULL);
}

int ctl_cmd_endpoint(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                     char **argv)
{
    const char *verb = argc > 1 ? argv[1] : "", *name = argc > 2 ? argv[2] : "";
    const char *count = NULL;
    char why[160];

    if (!strcmp(verb, "--help") || !strcmp(verb, "-h"))
        return ctl_command_help(cmd), 0;
    if (!strcmp(verb, "key"))
        return key_cmd(ctl, cmd, argc, argv);
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            ctl->json = true;
        else if (!strcmp(verb, "scale") && !count && argv[i][0] != '-')
            count = argv[i];
        else
            return ctl_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    }
    if (!af_wire_endpoint_name_ok(name))
        return ctl_usage_error(cmd,
                               "give show, scale or delete and an endpoint's name (1-40 "
                               "of a-z, 0-9 and '-')",
                               NULL);
    if (!strcmp(verb, "show")) {
        Aifed__GetEndpoint g = AIFED__GET_ENDPOINT__INIT;
        g.name = (char *)name;
        return ctl_ask(ctl, AIFED__ENVELOPE__BODY_GET_ENDPOINT, &g,
                       AIFED__ENVELOPE__BODY_ENDPOINT_REPLY, ctl_endpoints_show);
    }
    if (!strcmp(verb, "scale")) {
        Aifed__ScaleEndpoint sc = AIFED__SCALE_ENDPOINT__INIT;
        if (!count)
            return ctl_usage_error(cmd, "scale: give the replicas, N or MIN..MAX", NULL);
        if (ctl_task_replicas(count, &sc.replicas_min, &sc.replicas_max, why,
                              sizeof(why)) < 0)
            return ctl_usage_error(cmd, "scale: %s", why);
        sc.name = (char *)name;
        return ctl_ask(ctl, AIFED__ENVELOPE__BODY_SCALE_ENDPOINT, &sc,
                       AIFED__ENVELOPE__BODY_ENDPOINT_REPLY, ctl_endpoints_show);
    }
    if (!strcmp(verb, "delete")) {
        Aifed__DeleteEndpoint d = AIFED__DELETE_ENDPOINT__INIT;
        d.name = (char *)name;
        return ctl_ask(ctl, AIFED__ENVELOPE__BODY_DELETE_ENDPOINT, &d,
                       AIFED__ENVELOPE__BODY_ENDPOINT_REPLY, ctl_endpoints_show);
    }
    return ctl_usage_error(cmd, "'%s' is not show, scale or delete", verb);
}
