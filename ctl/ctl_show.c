/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_show: tables and JSON. Each object has one *_json builder; the tables
 * read the same protobuf fields, so a field added to the protocol is added in
 * both places in this file and nowhere else.
 */
#include "ctl_show.h"

#include "ctl_table.h"
#include "ctl_task.h"
#include "job.h"
#include "lease.h"
#include "af_sshcert.h"
#include "af_token.h"
#include "af_wire.h"
#include "af_time.h"

#include "aifed.pb-c.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

json_t *ctl_time_json(int64_t ms)
{
    char buf[32];

    if (ms <= 0)
        return json_null();
    af_time_format(ms, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *strv_json(char **v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

void ctl_print_json(json_t *j)
{
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(j);
}

static json_t *lease_json(const Aifed__Lease *l)
{
    const Aifed__Workload *w = l->workload;

    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:i, s:o, s:s, s:s, s:o, "
        "s:o, s:o, s:o, s:s, s:o, s:s, s:s, s:s, s:i, s:b, s:s}",
        "id", l->id, "state", lease_state_name(l->state), "project", w->project, "site",
        l->site, "pool", l->pool, "gpus", (json_int_t)l->gpus, "nodes",
        (json_int_t)l->nodes, "accelerator", *w->accelerator ? w->accelerator : "any",
        "walltime_s", (json_int_t)w->walltime_s, "countries",
        strv_json(w->countries, w->n_countries), "principal", l->principal, "request_id",
        l->request_id, "created", ctl_time_json(l->created_ms), "updated",
        ctl_time_json(l->updated_ms), "expires", ctl_time_json(l->expires_ms),
        "activated", ctl_time_json(l->activated_ms), "reason", l->reason, "tried_sites",
        strv_json(l->tried_sites, l->n_tried_sites), "token", l->token, "site_signature",
        l->site_signature, "site_signing_key", l->site_signing_key, "gpu_seconds_used",
        (json_int_t)l->gpu_seconds_used, "usage_from_site", l->usage_from_site,
        "accelerator_held", l->accelerator);
}

static bool on_terminal(void)
{
    static int tty = -1;

    if (tty < 0)
        tty = isatty(STDOUT_FILENO);
    return tty == 1;
}

void ctl_show_time(int64_t ms, char *buf, size_t size)
{
    if (on_terminal())
        af_time_format_local(ms, af_now_ms(), buf, size);
    else
        af_time_format(ms, buf, size);
}

void ctl_show_time_far(int64_t ms, char *buf, size_t size)
{
    char at[48], rel[48];

    if (on_terminal()) {
        af_time_format_local(ms, af_now_ms(), buf, size);
        return;
    }
    af_time_format(ms, at, sizeof(at));
    af_time_relative(ms, af_now_ms(), rel, sizeof(rel));
    snprintf(buf, size, "%s (%s)", at, rel);
}

void ctl_show_time_short(int64_t ms, char *buf, size_t size)
{
    if (on_terminal() && ms > 0)
        af_time_relative(ms, af_now_ms(), buf, size);
    else
        af_time_format(ms, buf, size);
}

/* When an open lease ends, or when an ended one did. */
static int64_t lease_end_ms(const Aifed__Lease *l)
{
    return lease_is_open((int)l->state) ? l->expires_ms : l->updated_ms;
}

/* The model the lease holds, else the one it asked for, else "any". */
static const char *held_model(const Aifed__Lease *l)
{
    return *l->accelerator             ? l->accelerator
           : *l->workload->accelerator ? l->workload->accelerator
                                       : "any";
}

void ctl_show_lease(const Aifed__Lease *l, bool json)
{
    char created[64], expires[64], wall[24];

    if (json) {
        ctl_print_json(lease_json(l));
        return;
    }
    af_duration_format((uint64_t)l->workload->walltime_s * 1000, wall, sizeof(wall));
    ctl_show_time(l->created_ms, created, sizeof(created));
    ctl_show_time(lease_end_ms(l), expires, sizeof(expires));
    printf("lease:       %s\n"
           "state:       %s\n"
           "project:     %s\n"
           "site/pool:   %s/%s\n"
           "resources:   %u x %s GPU%s on %u node%s, walltime %s\n"
           "created:     %s\n"
           "%s     %s\n",
           l->id, lease_state_name(l->state), l->workload->project, l->site, l->pool,
           l->gpus, held_model(l), l->gpus == 1 ? "" : "s", l->nodes,
           l->nodes == 1 ? "" : "s", wall, created,
           lease_is_open((int)l->state) ? "expires:" : "ended:  ", expires);
    if (!*l->workload->accelerator && *l->accelerator)
        printf("model:       %s, the broker's choice: no --accelerator was given (code "
               "built for one vendor's GPUs, CUDA or ROCm, needs --accelerator MODEL)\n",
               l->accelerator);
    if (*l->reason)
        printf("reason:      %s\n", l->reason);
    if (l->n_tried_sites) {
        printf("tried:      ");
        for (size_t i = 0; i < l->n_tried_sites; i++)
            printf(" %s", l->tried_sites[i]);
        printf("\n");
    }
    if (l->state == AIFED__LEASE_STATE__LEASE_SCHEDULED) {
        ctl_show_time(l->activated_ms, created, sizeof(created));
        printf("starts:      %s (booked with --not-before: ACTIVE then, and charged "
               "from then)\n",
               created);
    }
    if (l->activated_ms && !lease_is_open((int)l->state))
        printf("used:        %.2f GPU-hours (%s)\n", (double)l->gpu_seconds_used / 3600.0,
               l->usage_from_site ? "measured by the site's scheduler"
                                  : "time held, as the broker saw it");
    printf("requested:   %s by %s\n", l->request_id, l->principal);
    if (*l->site_signature)
        printf("signed:      by the broker, and by site %s (`aifedctl lease token %s`)\n",
               l->site, l->id);
    else if (*l->token && lease_is_open((int)l->state))
        /* Pending, or just renewed: the site's answer to the hold brings it. */
        printf("signed:      by the broker; site %s has not countersigned it yet "
               "(`aifedctl lease token %s`)\n",
               l->site, l->id);
}

/* What the site's own word says of the hold, against the lease's state. */
static const char *at_site(const Aifed__Lease *l, bool holds)
{
    if (lease_is_open((int)l->state))
        return holds ? "held (the site's advertisements list the hold)"
                     : "not yet in the site's advertisements";
    return holds
               ? "still held: the site's last advertisement lists the hold, and it lets "
                 "go within seconds (the capacity counts as held until then)"
               : "let go";
}

static json_t *job_json(const Aifed__Job *j);
static json_t *job_json_base(const Aifed__Job *j);
static size_t open_jobs(const Aifed__JobList *l);

void ctl_show_lease_reply(const Aifed__LeaseReply *r, const Aifed__JobList *jobs,
                          bool json)
{
    const Aifed__Lease *l = r->lease;

    if (json) {
        json_t *o = lease_json(l);
        json_object_set_new(o, "site_holds", json_boolean(r->site_holds));
        json_object_set_new(o, "jobs_cancelled", json_integer(r->jobs_cancelled));
        if (jobs) {
            json_t *a = json_array();
            for (size_t i = 0; i < jobs->n_jobs; i++)
                json_array_append_new(a, job_json(jobs->jobs[i]));
            json_object_set_new(o, "jobs", a);
        }
        if (l->access)
            json_object_set_new(
                o, "access",
                json_pack("{s:s, s:s, s:s, s:s}", "scheduler", l->access->scheduler,
                          "reservation", l->access->reservation, "partition",
                          l->access->partition, "account", l->access->account));
        ctl_print_json(o);
        return;
    }
    ctl_show_lease(l, false);
    if (*l->site && l->state != AIFED__LEASE_STATE__LEASE_FAILED)
        printf("at site:     %s\n", at_site(l, r->site_holds));
    if (l->access && !strcmp(l->access->scheduler, "slurm") &&
        (l->state == AIFED__LEASE_STATE__LEASE_ACTIVE ||
         l->state == AIFED__LEASE_STATE__LEASE_SCHEDULED))
        printf("by hand:     on %s's login node%s%s, sbatch --reservation=%s "
               "--partition=%s\n",
               l->site, *l->access->account ? ", as " : "", l->access->account,
               l->access->reservation, l->access->partition);
    if (r->jobs_cancelled)
        printf("cancelled:   %u job%s that ran in it\n", r->jobs_cancelled,
               r->jobs_cancelled == 1 ? "" : "s");
    if (jobs && jobs->n_jobs) {
        printf("jobs:\n");
        for (size_t i = 0; i < jobs->n_jobs; i++) {
            const Aifed__Job *j = jobs->jobs[i];
            printf("  %-32s %-10s%s%s\n", j->id, job_state_name(j->state),
                   *j->spec->name ? " " : "", j->spec->name);
        }
    }
    if (jobs && l->state == AIFED__LEASE_STATE__LEASE_ACTIVE)
        ctl_show_lease_left(stdout, l->id, l->expires_ms, open_jobs(jobs));
}

void ctl_show_leases(Aifed__Lease *const *v, size_t n, bool json)
{
    static const struct ctl_col cols[] = {
        {"LEASE", 0},
        {"STATE", 0},
        {"PROJECT", CTL_COL_TRUNC},
        {"SITE", 0},
        {"POOL", 0},
        {"GPUS", CTL_COL_RIGHT},
        {"ENDS", 0},
        {"ACCELERATOR", CTL_COL_EXTRA},
        {"PRINCIPAL", CTL_COL_EXTRA},
    };
    struct ctl_table *t;

    if (json) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, lease_json(v[i]));
        ctl_print_json(a);
        return;
    }
    t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
    for (size_t i = 0; i < n; i++) {
        char ends[64], gpus[16];

        ctl_show_time_short(lease_end_ms(v[i]), ends, sizeof(ends));
        snprintf(gpus, sizeof(gpus), "%u", v[i]->gpus);
        CTL_TABLE_ROW(t, v[i]->id, lease_state_name(v[i]->state), v[i]->workload->project,
                      v[i]->site, v[i]->pool, gpus, ends, v[i]->workload->accelerator,
                      v[i]->principal);
    }
    ctl_table_print(t);
}

static json_t *pool_json(const Aifed__PoolStatus *ps)
{
    const Aifed__Pool *p = ps->pool;
    json_t *starts = json_array();

    for (size_t k = 0; k < p->n_starts; k++)
        json_array_append_new(starts, json_pack("{s:i, s:i}", "gpus",
                                                (json_int_t)p->starts[k]->gpus, "wait_s",
                                                (json_int_t)p->starts[k]->wait_s));
    return json_pack(
        "{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:o}", "name",
        p->name, "accelerator", p->accelerator, "gpu_memory_gb",
        (json_int_t)p->gpu_memory_gb, "gpus_per_node", (json_int_t)p->gpus_per_node,
        "nodes", (json_int_t)p->nodes_total, "gpus_total", (json_int_t)p->gpus_total,
        "gpus_free", (json_int_t)p->gpus_free, "gpus_promised",
        (json_int_t)ps->gpus_promised, "gpus_available", (json_int_t)ps->gpus_available,
        "max_walltime_s", (json_int_t)p->max_walltime_s, "queue_wait_s",
        (json_int_t)p->queue_wait_s, "cpus_per_node", (json_int_t)p->cpus_per_node,
        "memory_per_node_gb", (json_int_t)p->memory_per_node_gb, "starts", starts);
}

static const char *data_kind(int k)
{
    return k == AIFED__DATA_KIND__DATA_MODEL   ? "model"
           : k == AIFED__DATA_KIND__DATA_IMAGE ? "image"
                                               : "dataset";
}

static json_t *site_json(const Aifed__SiteStatus *s)
{
    const Aifed__Site *site = s->site;
    json_t *pools = json_array(), *data = json_array(), *maint = json_array();

    for (size_t j = 0; j < s->n_pools; j++)
        json_array_append_new(pools, pool_json(s->pools[j]));
    for (size_t j = 0; j < site->n_data; j++)
        json_array_append_new(data, json_pack("{s:s, s:s, s:I}", "kind",
                                              data_kind(site->data[j]->kind), "name",
                                              site->data[j]->name, "size_bytes",
                                              (json_int_t)site->data[j]->size_bytes));
    for (size_t j = 0; j < site->n_maintenance; j++)
        json_array_append_new(
            maint, json_pack("{s:o, s:o}", "start",
                             ctl_time_json(site->maintenance[j]->start_ms), "end",
                             ctl_time_json(site->maintenance[j]->end_ms)));
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:s, s:o, s:o, s:f, s:i, s:o, s:o, s:o, "
        "s:i, "
        "s:o}",
        "id", site->id, "name", *site->name ? site->name : site->id, "country",
        site->country, "state", s->state == AIFED__SITE_STATE__SITE_UP ? "UP" : "DOWN",
        "illustrative", site->illustrative, "drained", site->drained, "admin_drained",
        s->admin_drained, "degraded", site->degraded ? site->degraded : "",
        "jurisdictions", strv_json(site->jurisdictions, site->n_jurisdictions),
        "certifications", strv_json(site->certifications, site->n_certifications),
        "price_per_gpu_hour", site->price_per_gpu_hour, "carbon_g_per_kwh",
        (json_int_t)site->carbon_g_per_kwh, "data", data, "maintenance", maint,
        "last_seen", ctl_time_json(s->last_seen_ms), "leases_open",
        (json_int_t)s->leases_open, "pools", pools);
}

static void duration(uint32_t s, char *buf, size_t size)
{
    af_duration_format((uint64_t)s * 1000, buf, size);
    if (!s)
        snprintf(buf, size, "0");
}

static const char *site_state(const Aifed__SiteStatus *s)
{
    return s->state != AIFED__SITE_STATE__SITE_UP ? "DOWN"
           : s->site->drained || s->admin_drained ? "DRAIN"
           : *s->site->degraded                   ? "DEGR"
                                                  : "UP";
}

static const struct ctl_col site_cols[] = {
    {"SITE", 0},
    {"NAME", CTL_COL_TRUNC},
    {"CC", 0},
    {"STATE", 0},
    {"POOL", 0},
    {"ACCEL", 0},
    {"MEM", CTL_COL_RIGHT},
    {"GPUS", CTL_COL_RIGHT},
    {"FREE", CTL_COL_RIGHT},
    {"AVAIL", CTL_COL_RIGHT},
    {"WAIT", CTL_COL_RIGHT},
    {"MAXWALL", CTL_COL_RIGHT},
    {"EUR/H", CTL_COL_RIGHT},
    {"GCO2", CTL_COL_RIGHT},
    {"NODES", CTL_COL_RIGHT | CTL_COL_EXTRA},
    {"LEASES", CTL_COL_RIGHT | CTL_COL_EXTRA},
};

/* One pool's row; the site's own cells only on its first pool's. */
static void site_pool_row(struct ctl_table *t, const Aifed__SiteStatus *s, size_t j)
{
    const Aifed__Pool *p = s->pools[j]->pool;
    char wait[16], wall[16], mem[16], gpus[16], free_[16], avail[16], price[16], co2[16],
        nodes[16], leases[16];

    duration(p->queue_wait_s, wait, sizeof(wait));
    duration(p->max_walltime_s, wall, sizeof(wall));
    snprintf(mem, sizeof(mem), "%uG", p->gpu_memory_gb);
    snprintf(gpus, sizeof(gpus), "%u", p->gpus_total);
    snprintf(free_, sizeof(free_), "%u", p->gpus_free);
    snprintf(avail, sizeof(avail), "%u", s->pools[j]->gpus_available);
    snprintf(price, sizeof(price), "%.2f", s->site->price_per_gpu_hour);
    snprintf(co2, sizeof(co2), "%u", s->site->carbon_g_per_kwh);
    snprintf(nodes, sizeof(nodes), "%u", p->nodes_total);
    snprintf(leases, sizeof(leases), "%u", s->leases_open);
    CTL_TABLE_ROW(t, j ? "" : s->site->id,
                  j                ? ""
                  : *s->site->name ? s->site->name
                                   : s->site->id,
                  j ? "" : s->site->country, j ? "" : site_state(s), p->name,
                  p->accelerator, mem, gpus, free_, avail, wait, wall, price, co2, nodes,
                  j ? "" : leases);
}

void ctl_show_sites(const Aifed__SiteList *list, bool json)
{
    bool illustrative = false;
    struct ctl_table *t;

    if (json) {
        json_t *a = json_array();
        for (size_t i = 0; i < list->n_sites; i++)
            json_array_append_new(a, site_json(list->sites[i]));
        ctl_print_json(a);
        return;
    }
    t = ctl_table_new(site_cols, sizeof(site_cols) / sizeof(site_cols[0]));
    for (size_t i = 0; i < list->n_sites; i++) {
        const Aifed__SiteStatus *s = list->sites[i];

        illustrative |= s->site->illustrative;
        if (s->n_pools == 0)
            CTL_TABLE_ROW(t, s->site->id, *s->site->name ? s->site->name : s->site->id,
                          *s->site->country ? s->site->country : "-", site_state(s),
                          "(not heard from yet)");
        for (size_t j = 0; j < s->n_pools; j++)
            site_pool_row(t, s, j);
    }
    ctl_table_print(t);
    for (size_t i = 0; i < list->n_sites; i++)
        if (*list->sites[i]->site->degraded)
            printf("DEGR %s: the agent cannot read its scheduler (%s); no new leases "
                   "there\n",
                   list->sites[i]->site->id, list->sites[i]->site->degraded);
    if (illustrative)
        printf("(capacities marked illustrative by their sites are demo figures)\n");
    if (list->isolated)
        printf(
            "WARNING: every site went silent at once; the broker assumes it is cut off "
            "and grants nothing until they return\n(`aifedctl admin site confirm-down` "
            "if they are really down)\n");
}

static const char *verdict(int v)
{
    return v == AIFED__VERDICT__VERDICT_CHOSEN   ? "chosen"
           : v == AIFED__VERDICT__VERDICT_RANKED ? "ranked"
                                                 : "rejected";
}

/* No --accelerator: when more than one model was ranked, say that any
 * would do and how to keep to one (CUDA code does not run on AMD's GPUs). */
static void say_models(const Aifed__ExplainReply *r)
{
    char models[256] = "";
    size_t n = 0, at = 0;

    for (size_t i = 0; i < r->n_candidates; i++) {
        const char *m = r->candidates[i]->accelerator;
        size_t k;

        for (k = 0; k < i && strcmp(r->candidates[k]->accelerator, m); k++)
            ;
        if (!*m || k < i || at >= sizeof(models))
            continue;
        at += (size_t)snprintf(models + at, sizeof(models) - at, "%s%s", n++ ? ", " : "",
                               m);
    }
    if (n > 1)
        printf("(any model was ranked: %s; code built for one vendor's GPUs, CUDA or "
               "ROCm, needs --accelerator MODEL)\n",
               models);
}

static void candidate_row(struct ctl_table *t, const Aifed__Candidate *c)
{
    char rank[16] = "-", score[32] = "-";

    if (c->rank) {
        snprintf(rank, sizeof(rank), "%u", c->rank);
        snprintf(score, sizeof(score), "%.3f", c->score);
    }
    CTL_TABLE_ROW(t, rank, c->site, *c->pool ? c->pool : "-",
                  *c->accelerator ? c->accelerator : "-",
                  c->rank ? verdict(c->verdict) : "rejected", c->reason, score);
}

void ctl_show_explain(const Aifed__ExplainReply *r, bool json)
{
    static const struct ctl_col cols[] = {
        {"RANK", CTL_COL_RIGHT},
        {"SITE", 0},
        {"POOL", 0},
        {"ACCEL", 0},
        {"VERDICT", 0},
        {"WHY", CTL_COL_WRAP},
        {"SCORE", CTL_COL_RIGHT | CTL_COL_EXTRA},
    };
    struct ctl_table *t;

    if (json) {
        json_t *a = json_array();
        for (size_t i = 0; i < r->n_candidates; i++) {
            const Aifed__Candidate *c = r->candidates[i];
            json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:f, s:s, s:s}", "site", c->site,
                                  "pool", c->pool, "verdict", verdict(c->verdict), "rank",
                                  (json_int_t)c->rank, "score", c->score, "reason",
                                  c->reason, "accelerator", c->accelerator);
            if (c->parts)
                json_object_set_new(o, "parts",
                                    json_pack("{s:i, s:f, s:f, s:I, s:f}", "start_in_s",
                                              (json_int_t)c->parts->start_in_s,
                                              "cost_eur", c->parts->cost_eur, "carbon_kg",
                                              c->parts->carbon_kg, "bytes_to_move",
                                              (json_int_t)c->parts->bytes_to_move,
                                              "stranded", c->parts->stranded));
            json_array_append_new(a, o);
        }
        ctl_print_json(a);
        return;
    }
    t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
    /* Ranked sites first, in rank order, then the rejected ones. */
    for (unsigned rank = 1; rank <= r->n_candidates; rank++)
        for (size_t i = 0; i < r->n_candidates; i++)
            if (r->candidates[i]->rank == rank)
                candidate_row(t, r->candidates[i]);
    for (size_t i = 0; i < r->n_candidates; i++)
        if (r->candidates[i]->rank == 0)
            candidate_row(t, r->candidates[i]);
    ctl_table_print(t);
    say_models(r);
}

void ctl_show_request(const Aifed__RequestRecord *r, bool json)
{
    Aifed__ExplainReply er = AIFED__EXPLAIN_REPLY__INIT;
    char when[64];

    er.candidates = r->candidates;
    er.n_candidates = r->n_candidates;
    if (json) {
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:o, s:s, s:s}", "request_id", r->request_id, "principal",
            r->principal, "project", r->workload->project, "created",
            ctl_time_json(r->created_ms), "lease_id", r->lease_id, "refusal", r->refusal);
        json_t *c = json_array();
        for (size_t i = 0; i < r->n_candidates; i++)
            json_array_append_new(c, json_pack("{s:s, s:s, s:s, s:i, s:s}", "site",
                                               r->candidates[i]->site, "pool",
                                               r->candidates[i]->pool, "verdict",
                                               verdict(r->candidates[i]->verdict), "rank",
                                               (json_int_t)r->candidates[i]->rank,
                                               "reason", r->candidates[i]->reason));
        json_object_set_new(o, "candidates", c);
        json_object_set_new(o, "omitted", json_integer(r->omitted));
        ctl_print_json(o);
        return;
    }
    ctl_show_time(r->created_ms, when, sizeof(when));
    printf("request:  %s by %s for %s, %s\n", r->request_id, r->principal,
           r->workload->project, when);
    if (*r->lease_id)
        printf("lease:    %s\n", r->lease_id);
    else
        printf("refused:  %s\n", r->refusal);
    if (r->omitted)
        printf("kept:     the first entries of the workload's lists (%u not kept)\n",
               r->omitted);
    printf("\n");
    ctl_show_explain(&er, false);
}

static json_t *alloc_json(const Aifed__Allocation *a)
{
    uint64_t spent = a->used_gpu_s + a->reserved_gpu_s;
    uint64_t left = a->granted_gpu_s > spent ? a->granted_gpu_s - spent : 0;

    return json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:o}", "project", a->project, "site",
                     a->site, "granted_gpu_hours", a->granted_gpu_s / 3600.0,
                     "used_gpu_hours", a->used_gpu_s / 3600.0, "reserved_gpu_hours",
                     a->reserved_gpu_s / 3600.0, "remaining_gpu_hours", left / 3600.0,
                     "ends", ctl_time_json(a->end_ms));
}

void ctl_show_allocations(const Aifed__AllocationList *l, bool json)
{
    static const struct ctl_col cols[] = {
        {"PROJECT", CTL_COL_TRUNC},
        {"SITE", 0},
        {"GRANTED", CTL_COL_RIGHT},
        {"USED", CTL_COL_RIGHT},
        {"RESERVED", CTL_COL_RIGHT},
        {"LEFT", CTL_COL_RIGHT},
        {"ENDS", 0},
    };
    struct ctl_table *t;

    if (json) {
        json_t *a = json_array();
        for (size_t i = 0; i < l->n_allocations; i++)
            json_array_append_new(a, alloc_json(l->allocations[i]));
        ctl_print_json(a);
        return;
    }
    if (l->n_allocations == 0) {
        printf("no allocations\n");
        return;
    }
    t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
    for (size_t i = 0; i < l->n_allocations; i++) {
        const Aifed__Allocation *a = l->allocations[i];
        uint64_t spent = a->used_gpu_s + a->reserved_gpu_s;
        uint64_t left = a->granted_gpu_s > spent ? a->granted_gpu_s - spent : 0;
        char ends[64], granted[32], used[32], reserved[32], rest[32];

        ctl_show_time(a->end_ms, ends, sizeof(ends));
        snprintf(granted, sizeof(granted), "%.1f", a->granted_gpu_s / 3600.0);
        snprintf(used, sizeof(used), "%.1f", a->used_gpu_s / 3600.0);
        snprintf(reserved, sizeof(reserved), "%.1f", a->reserved_gpu_s / 3600.0);
        snprintf(rest, sizeof(rest), "%.1f", left / 3600.0);
        CTL_TABLE_ROW(t, a->project, a->site, granted, used, reserved, rest, ends);
    }
    ctl_table_print(t);
    printf("(GRANTED, USED, RESERVED and LEFT are GPU-hours)\n");
}

static json_t *principal_json(const Aifed__Principal *p)
{
    return json_pack("{s:s, s:o, s:o, s:b, s:b}", "id", p->id, "public_keys",
                     strv_json(p->public_keys, p->n_public_keys), "projects",
                     strv_json(p->projects, p->n_projects), "revoked", p->revoked,
                     "from_config", p->from_config);
}

void ctl_show_principals(const Aifed__PrincipalList *l, bool json)
{
    static const struct ctl_col cols[] = {
        {"PRINCIPAL", 0},           {"STATE", 0}, {"KEYS", CTL_COL_RIGHT}, {"SOURCE", 0},
        {"PROJECTS", CTL_COL_WRAP},
    };
    struct ctl_table *t;

    if (json) {
        json_t *a = json_array();
        for (size_t i = 0; i < l->n_principals; i++)
            json_array_append_new(a, principal_json(l->principals[i]));
        ctl_print_json(a);
        return;
    }
    t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
    for (size_t i = 0; i < l->n_principals; i++) {
        const Aifed__Principal *p = l->principals[i];
        char keys[16], projects[1024] = "-";
        size_t at = 0;

        snprintf(keys, sizeof(keys), "%zu", p->revoked ? 0 : p->n_public_keys);
        for (size_t j = 0; j < p->n_projects && at < sizeof(projects); j++)
            at += (size_t)snprintf(projects + at, sizeof(projects) - at, "%s%s",
                                   j ? "," : "", p->projects[j]);
        CTL_TABLE_ROW(t, p->id, p->revoked ? "revoked" : "active", keys,
                      p->from_config ? "broker.conf" : "registry", projects);
    }
    ctl_table_print(t);
}

void ctl_show_token(const struct af_token_claims *c, bool expired, bool json)
{
    char from[64], until[64];

    if (json) {
        json_t *o = json_pack(
            "{s:b, s:b, s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:o, s:o}", "valid",
            !expired, "signature_valid", 1, "expired", expired, "lease", c->id, "site",
            c->site, "pool", c->pool, "project", c->project, "principal", c->principal,
            "accelerator", c->accelerator, "gpus", (json_int_t)c->gpus, "nodes",
            (json_int_t)c->nodes, "not_before", ctl_time_json(c->not_before_ms),
            "not_after", ctl_time_json(c->not_after_ms));

        /* What "valid" cannot mean offline, said where a script reads it. */
        if (o) {
            json_object_set_new(o, "checked", json_string("offline"));
            json_object_set_new(o, "revocation_checked", json_false());
            json_object_set_new(
                o, "note",
                json_string("a release, revoke or end of the lease since the token was "
                            "signed cannot be seen offline: verify-token --online asks "
                            "the broker"));
        }
        ctl_print_json(o);
        return;
    }
    ctl_show_time(c->not_before_ms, from, sizeof(from));
    ctl_show_time(c->not_after_ms, until, sizeof(until));
    printf(
        "%s\n"
        "lease:       %s\n"
        "site/pool:   %s/%s\n"
        "project:     %s (for %s)\n"
        "resources:   %u x %s GPU%s on %u node%s\n"
        "valid:       %s to %s\n"
        "The signature proves the broker granted this lease these resources for\n"
        "this time; it cannot show whether the lease was released or revoked\n"
        "since (`aifedctl verify-token --online` or `lease show %s` ask the broker).\n",
        expired ? "EXPIRED token: signed by the broker, but its time has passed"
                : "valid token, signed by the broker",
        c->id, c->site, c->pool, c->project, c->principal, c->gpus,
        *c->accelerator ? c->accelerator : "any", c->gpus == 1 ? "" : "s", c->nodes,
        c->nodes == 1 ? "" : "s", from, until, c->id);
}

json_t *ctl_key_records_json(Aifed__KeyRecord *const *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:o}", "public_key",
                                           v[i]->public_key, "added_by", v[i]->added_by,
                                           "added", ctl_time_json(v[i]->added_ms)));
    return a;
}

void ctl_show_key_records(Aifed__KeyRecord *const *v, size_t n)
{
    char when[64];

    for (size_t i = 0; i < n; i++) {
        if (v[i]->added_ms)
            ctl_show_time(v[i]->added_ms, when, sizeof(when));
        printf("%s %s, added by %s%s%s\n",
               i ? "            " : "keys:       ", v[i]->public_key, v[i]->added_by,
               v[i]->added_ms ? " at " : "", v[i]->added_ms ? when : "");
    }
}

json_t *ctl_enrolments_json(Aifed__Enrolment *const *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:o, s:s}", "public_key", v[i]->public_key, "expires",
                         ctl_time_json(v[i]->expires_ms), "how", v[i]->how));
    return a;
}

void ctl_show_enrolments(Aifed__Enrolment *const *v, size_t n)
{
    char when[64];

    for (size_t i = 0; i < n; i++) {
        ctl_show_time(v[i]->expires_ms, when, sizeof(when));
        printf("%s %s, by a login (%s), until %s\n",
               i ? "            " : "logins:     ", v[i]->public_key, v[i]->how, when);
    }
}

void ctl_show_token_status(const Aifed__TokenStatus *t, bool json)
{
    char until[64];

    if (json) {
        ctl_print_json(json_pack("{s:b, s:b, s:s, s:s, s:s, s:s, s:o, s:b}", "valid",
                                 t->valid, "signature_valid", t->signature_valid,
                                 "checked", "broker", "lease", t->lease_id, "state",
                                 t->state ? lease_state_name(t->state) : "", "reason",
                                 t->reason, "expires", ctl_time_json(t->expires_ms),
                                 "revocation_checked", t->signature_valid));
        return;
    }
    ctl_show_time(t->expires_ms, until, sizeof(until));
    if (t->valid)
        printf("valid token: %s, until %s (the broker says so now)\n", t->reason, until);
    else
        printf("NOT VALID: %s (the broker says so now)\n", t->reason);
}

json_t *ctl_audit_json(const Aifed__AuditEntry *e)
{
    return json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:s}", "seq",
                     (json_int_t)e->seq, "time", ctl_time_json(e->time_ms), "subject",
                     e->subject, "principal", e->principal, "change", e->change, "text",
                     e->text, "prev_hash", e->prev_hash, "hash", e->hash);
}

struct ctl_table *ctl_show_audit_table(void)
{
    static const struct ctl_col cols[] = {
        {"SEQ", CTL_COL_RIGHT},   {"TIME", 0},
        {"SUBJECT", 0},           {"CHANGE", 0},
        {"DETAIL", CTL_COL_WRAP}, {"PRINCIPAL", CTL_COL_EXTRA},
    };

    return ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
}

void ctl_show_audit_entry(struct ctl_table *t, const Aifed__AuditEntry *e)
{
    char when[64], seq[32];

    ctl_show_time(e->time_ms, when, sizeof(when));
    snprintf(seq, sizeof(seq), "%llu", (unsigned long long)e->seq);
    CTL_TABLE_ROW(t, seq, when, e->subject, e->change, e->text, e->principal);
}

int ctl_reply_sites(const struct Aifed__Envelope *rep, bool json)
{
    ctl_show_sites(rep->site_list, json);
    return 0;
}

int ctl_reply_explain(const struct Aifed__Envelope *rep, bool json)
{
    ctl_show_explain(rep->explain_reply, json);
    return 0;
}

int ctl_reply_request(const struct Aifed__Envelope *rep, bool json)
{
    ctl_show_request(rep->request_reply->request, json);
    return 0;
}

int ctl_reply_allocations(const struct Aifed__Envelope *rep, bool json)
{
    ctl_show_allocations(rep->allocation_list, json);
    return 0;
}

int ctl_reply_principals(const struct Aifed__Envelope *rep, bool json)
{
    ctl_show_principals(rep->principal_list, json);
    return 0;
}

/* A task's workload, as the broker will get it. */
static json_t *workload_json(const Aifed__Workload *w)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i}", "project", w->project, "accelerator",
        *w->accelerator ? w->accelerator : "any", "gpus", (json_int_t)w->gpus,
        "gpu_memory_gb", (json_int_t)w->gpu_memory_gb, "nodes", (json_int_t)w->nodes,
        "cpus_per_node", (json_int_t)w->cpus_per_node, "memory_per_node_gb",
        (json_int_t)w->memory_per_node_gb, "walltime_s", (json_int_t)w->walltime_s);
    json_t *c = json_array(), *t = json_array(), *d = json_array();
    static const char *const kinds[] = {"dataset", "model", "image"};

    for (size_t i = 0; i < w->n_countries; i++)
        json_array_append_new(c, json_string(w->countries[i]));
    for (size_t i = 0; i < w->n_certifications; i++)
        json_array_append_new(t, json_string(w->certifications[i]));
    for (size_t i = 0; i < w->n_data; i++)
        json_array_append_new(d, json_pack("{s:s, s:s, s:I}", "kind",
                                           kinds[w->data[i]->kind % 3], "name",
                                           w->data[i]->name, "size_bytes",
                                           (json_int_t)w->data[i]->size_bytes));
    json_object_set_new(o, "countries", c);
    json_object_set_new(o, "certifications", t);
    json_object_set_new(o, "data", d);
    json_object_set_new(o, "not_before", ctl_time_json(w->not_before_ms));
    json_object_set_new(o, "start_by", ctl_time_json(w->start_by_ms));
    return o;
}

static json_t *opt_string(const char *s)
{
    return s ? json_string(s) : json_null();
}

static void show_task_json(const struct ctl_task *t, const Aifed__Workload *w)
{
    json_t *o = json_object(), *env = json_object(), *files = json_array();

    for (size_t i = 0; i < t->n_env; i++)
        json_object_set_new(env, t->env[i].key, json_string(t->env[i].value));
    for (size_t i = 0; i < t->n_files; i++)
        json_array_append_new(files, json_pack("{s:s, s:s, s:I}", "name",
                                               t->files[i].name, "path", t->files[i].path,
                                               "bytes", (json_int_t)t->files[i].bytes));
    json_object_set_new(o, "name", opt_string(t->name));
    json_object_set_new(o, "workload", workload_json(w));
    json_object_set_new(o, "image", opt_string(t->image));
    json_object_set_new(o, "env", env);
    json_object_set_new(o, "setup", opt_string(t->setup));
    json_object_set_new(o, "run", opt_string(t->run));
    json_object_set_new(o, "files", files);
    ctl_print_json(o);
}

static size_t lines(const char *s)
{
    size_t n = 0;

    for (; s && *s; s++)
        n += *s == '\n' || !s[1];
    return n;
}

void ctl_show_task(const struct ctl_task *t, const Aifed__Workload *w, bool json)
{
    static const char *const kinds[] = {"dataset", "model", "image"};
    static const char *const prefs[] = {"balanced", "time", "cost", "green", "local"};
    char wall[32];

    if (json) {
        show_task_json(t, w);
        return;
    }
    af_duration_format((uint64_t)w->walltime_s * 1000, wall, sizeof(wall));
    printf("task:       %s (%s)\n", t->name ? t->name : "-", t->path);
    printf("project:    %s\n", *w->project ? w->project : "- (give --project)");
    printf("resources:  %u x %s", w->gpus, *w->accelerator ? w->accelerator : "any GPU");
    if (w->gpu_memory_gb)
        printf(", %u GB each", w->gpu_memory_gb);
    if (w->nodes)
        printf(", on %u node%s", w->nodes, w->nodes == 1 ? "" : "s");
    printf(", walltime %s\n", wall);
    if (w->n_countries) {
        printf("countries:  ");
        for (size_t i = 0; i < w->n_countries; i++)
            printf("%s%s", i ? "," : "", w->countries[i]);
        printf("\n");
    }
    for (size_t i = 0; i < w->n_certifications; i++)
        printf("needs:      certification %s\n", w->certifications[i]);
    for (size_t i = 0; i < w->n_data; i++)
        printf("data:       %s %s\n", kinds[w->data[i]->kind % 3], w->data[i]->name);
    if (w->prefer || w->weights)
        printf("prefer:     %s\n",
               w->weights ? "the weights given" : prefs[w->prefer % 5]);
    if (t->image)
        printf("image:      %s (run inside apptainer exec)\n", t->image);
    for (size_t i = 0; i < t->n_env; i++)
        printf("env:        %s=%s\n", t->env[i].key, t->env[i].value);
    if (t->setup)
        printf("setup:      %zu line%s\n", lines(t->setup),
               lines(t->setup) == 1 ? "" : "s");
    if (t->run)
        printf("run:        %zu line%s\n", lines(t->run), lines(t->run) == 1 ? "" : "s");
    for (size_t i = 0; i < t->n_files; i++)
        printf("file:       %s <- %s (%llu bytes)\n", t->files[i].name, t->files[i].path,
               (unsigned long long)t->files[i].bytes);
}

/* ---- jobs ---- */

/* A job's variables as the broker shows them to the caller: a value it
 * withholds (a secret, or another member's unshared job) or no longer
 * keeps (the job ended) is null; its files' names; and, once it ended, the
 * digest of what the broker dropped. */
static json_t *job_spec_json(const Aifed__JobSpec *sp)
{
    json_t *env = json_object(), *files = json_array(), *o;

    for (size_t i = 0; sp && i < sp->n_env; i++)
        json_object_set_new(env, sp->env[i]->name,
                            sp->env[i]->secret || !*sp->env[i]->value
                                ? json_null()
                                : json_string(sp->env[i]->value));
    for (size_t i = 0; sp && i < sp->n_files; i++)
        json_array_append_new(files, json_string(sp->files[i]->name));
    o = json_pack("{s:o, s:o, s:b, s:b}", "env", env, "files", files, "shared",
                  sp && sp->shared, "scripts",
                  sp && *sp->run && strcmp(sp->run, "-")); /* "-": withheld */
    if (o && sp && *sp->dropped_sha256)
        json_object_set_new(o, "dropped_sha256", json_string(sp->dropped_sha256));
    return o;
}

/* Who signed j, as its certificate says (the site checks it; this only
 * shows it): 0 with c filled, -1 when unsigned or unreadable. */
static int job_signer(const Aifed__Job *j, struct af_sshcert *c)
{
    struct af_error err;

    return j->user_signature &&
                   af_sshcert_parse(j->user_signature->certificate, c, &err) == 0 &&
                   c->n_principals
               ? 0
               : -1;
}

static json_t *job_json(const Aifed__Job *j)
{
    json_t *o = job_json_base(j), *sp;
    static struct af_sshcert c;

    if (o)
        json_object_set_new(o, "signed_by",
                            job_signer(j, &c) < 0
                                ? json_null()
                                : json_pack("{s:s, s:s, s:o}", "principal",
                                            c.principals[0], "key_id", c.key_id, "signed",
                                            ctl_time_json(j->user_signature->signed_ms)));

    if (o && j->spec && (sp = job_spec_json(j->spec))) {
        json_object_update(o, sp);
        json_decref(sp);
    }
    return o;
}

static json_t *job_json_base(const Aifed__Job *j)
{
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:i, s:s, "
        "s:s, s:s, s:i, s:I, s:o}",
        "id", j->id, "name", j->spec ? j->spec->name : "", "state",
        job_state_name(j->state), "lease_id", j->lease_id, "site", j->site, "project",
        j->project, "principal", j->principal, "time_limit_s",
        (json_int_t)(j->spec ? j->spec->time_limit_s : 0), "created",
        ctl_time_json(j->created_ms), "started", ctl_time_json(j->started_ms), "ended",
        ctl_time_json(j->ended_ms), "exit_code", (json_int_t)j->exit_code, "reason",
        j->reason, "site_job_id", j->site_job_id, "local_account", j->local_account,
        "gpus", (json_int_t)j->gpus, "gpu_seconds", (json_int_t)j->gpu_seconds,
        "lease_expires", ctl_time_json(j->lease_expires_ms));
}

static size_t open_jobs(const Aifed__JobList *l)
{
    size_t n = 0;

    for (size_t i = 0; i < l->n_jobs; i++)
        n += !job_ended(l->jobs[i]->state);
    return n;
}

int ctl_show_lease_left(FILE *out, const char *lease_id, int64_t expires_ms,
                        size_t n_open)
{
    int64_t left_ms = expires_ms - af_now_ms();
    char left[32];

    if (!n_open || !expires_ms || left_ms > (int64_t)CTL_NEAR_END_S * 1000)
        return 0;
    af_duration_format(left_ms > 0 ? (uint64_t)left_ms / 1000 * 1000 : 0, left,
                       sizeof(left));
    fprintf(out,
            "lease %s ends in %s, with %zu job%s still open, which end with it: "
            "`aifedctl lease renew %s --by 1h` for more time\n",
            lease_id, left, n_open, n_open == 1 ? "" : "s", lease_id);
    return 1;
}

void ctl_show_job_line(const Aifed__Job *j)
{
    switch (j->state) {
    case AIFED__JOB_STATE__JOB_QUEUED:
        fprintf(stderr, "job %s queued at %s: waiting for the site to start it\n", j->id,
                j->site);
        break;
    case AIFED__JOB_STATE__JOB_RUNNING:
        fprintf(stderr, "job %s RUNNING at %s%s%s (%s)\n", j->id, j->site,
                *j->local_account ? " as " : "", j->local_account, j->site_job_id);
        break;
    default:
        fprintf(stderr, "job %s %s: %s\n", j->id, job_state_name(j->state), j->reason);
    }
}

void ctl_show_job(const Aifed__Job *j, bool json)
{
    char created[64], started[64], ended[64], limit[32];
    static struct af_sshcert c;

    if (json) {
        ctl_print_json(job_json(j));
        return;
    }
    ctl_show_time(j->created_ms, created, sizeof(created));
    ctl_show_time(j->started_ms, started, sizeof(started));
    ctl_show_time(j->ended_ms, ended, sizeof(ended));
    af_duration_format((uint64_t)(j->spec ? j->spec->time_limit_s : 0) * 1000, limit,
                       sizeof(limit));
    printf("job:         %s%s%s%s\n"
           "state:       %s%s%s\n"
           "lease:       %s at %s (project %s)\n"
           "time limit:  %s\n"
           "created:     %s\n"
           "started:     %s\n"
           "ended:       %s\n",
           j->id, j->spec && *j->spec->name ? " (" : "", j->spec ? j->spec->name : "",
           j->spec && *j->spec->name ? ")" : "", job_state_name(j->state),
           *j->reason ? ": " : "", j->reason, j->lease_id, j->site, j->project, limit,
           created, started, ended);
    if (*j->site_job_id)
        printf("at site:     %s, as %s\n", j->site_job_id,
               *j->local_account ? j->local_account : "?");
    if (job_ended(j->state))
        printf("exit code:   %d\n"
               "used:        %.2f GPU-hours (%u GPU%s while it ran)\n",
               j->exit_code, (double)j->gpu_seconds / 3600.0, j->gpus,
               j->gpus == 1 ? "" : "s");
    if (job_signer(j, &c) == 0) {
        ctl_show_time(j->user_signature->signed_ms, started, sizeof(started));
        printf("signed:      by %s (certificate %s), %s\n", c.principals[0], c.key_id,
               started);
    }
    if (j->spec && *j->spec->dropped_sha256)
        printf("contents:    its variables' values and files' bytes were dropped when it "
               "ended (sha256 %.16s...)\n",
               j->spec->dropped_sha256);
    if (!job_ended(j->state))
        ctl_show_lease_left(stdout, j->lease_id, j->lease_expires_ms, 1);
}

void ctl_show_jobs(const Aifed__JobList *l, bool json)
{
    static const struct ctl_col cols[] = {
        {"JOB", 0},
        {"STATE", 0},
        {"SITE", 0},
        {"EXIT", CTL_COL_RIGHT},
        {"NAME", CTL_COL_TRUNC},
        {"LEASE", CTL_COL_EXTRA},
    };
    struct ctl_table *t;

    if (json) {
        json_t *a = json_array();
        for (size_t i = 0; i < l->n_jobs; i++)
            json_array_append_new(a, job_json(l->jobs[i]));
        ctl_print_json(a);
        return;
    }
    if (!l->n_jobs) {
        printf("no jobs\n");
        return;
    }
    t = ctl_table_new(cols, sizeof(cols) / sizeof(cols[0]));
    for (size_t i = 0; i < l->n_jobs; i++) {
        const Aifed__Job *j = l->jobs[i];
        char code[8] = "-";
        if (job_ended(j->state))
            snprintf(code, sizeof(code), "%d", j->exit_code);
        CTL_TABLE_ROW(t, j->id, job_state_name(j->state), j->site, code,
                      j->spec ? j->spec->name : "", j->lease_id);
    }
    ctl_table_print(t);
    /* A lease near its end, once, with how many of its jobs are open. */
    for (size_t i = 0; i < l->n_jobs; i++) {
        const Aifed__Job *j = l->jobs[i];
        size_t n = 0, k;
        for (k = 0; k < i && strcmp(l->jobs[k]->lease_id, j->lease_id); k++)
            ;
        if (k < i)
            continue; /* said with its first job */
        for (k = i; k < l->n_jobs; k++)
            n += !strcmp(l->jobs[k]->lease_id, j->lease_id) &&
                 !job_ended(l->jobs[k]->state);
        ctl_show_lease_left(stdout, j->lease_id, j->lease_expires_ms, n);
    }
}
