/* SPDX-License-Identifier: Apache-2.0 */
/* bmetrics: see bmetrics.h. Metric names follow Prometheus conventions. */
#include "bmetrics.h"
#include "af_time.h"
#include "af_metrics.h"
#include "af_wire.h"
#include "lease.h"
#include "aifed.pb-c.h"
#include "sites.h"
#include "store.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_BODIES 128 /* envelope field numbers stay below this (the jobs use 60-72) */
#define N_CODES  16

static const double grant_bounds[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                      0.1,   0.2,   0.5,   1,    2,    5};
static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

struct bmetrics {
    struct af_metrics *http; /* NULL when off */
    unsigned long long requests[N_BODIES];
    unsigned long long errors[N_CODES];
    unsigned long long commits_failed;
    unsigned long long clock_steps;
    unsigned long long shed;
    unsigned long long replies_held;        /* a peer that does not read (yet) */
    unsigned long long waiting_bytes;       /* ... what waits for such peers now */
    unsigned long long requests_unread;     /* ... whose requests were dropped */
    unsigned long long connections_refused; /* over a principal's connections */
    struct af_hist grant, batch;
    char node[256];      /* the host this broker runs on */
    double active_since; /* when it took the store (Unix seconds) */
};

struct bmetrics *bmetrics_create(const char *listen, char *ret_url, size_t size,
                                 struct af_error *err)
{
    struct bmetrics *m = calloc(1, sizeof(*m));

    if (!m) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    gethostname(m->node, sizeof(m->node) - 1);
    m->active_since = (double)af_now_ms() / 1000.0;
    m->grant = (struct af_hist){.bounds = grant_bounds,
                                .n_bounds = sizeof(grant_bounds) / sizeof(double)};
    m->batch = (struct af_hist){.bounds = batch_bounds,
                                .n_bounds = sizeof(batch_bounds) / sizeof(double)};
    if (af_metrics_open(listen, &m->http, ret_url, size, err) < 0) {
        free(m);
        return NULL;
    }
    return m;
}

void bmetrics_destroy(struct bmetrics *m)
{
    if (!m)
        return;
    af_metrics_stop(m->http);
    free(m);
}

void bmetrics_request(struct bmetrics *m, int body_case)
{
    if (body_case > 0 && body_case < N_BODIES)
        m->requests[body_case]++;
}

void bmetrics_error(struct bmetrics *m, int code)
{
    if (code > 0 && code < N_CODES)
        m->errors[code]++;
}

void bmetrics_grant(struct bmetrics *m, double seconds)
{
    af_hist_observe(&m->grant, seconds);
}

void bmetrics_clock_step(struct bmetrics *m)
{
    m->clock_steps++;
}

void bmetrics_connections_shed(struct bmetrics *m, uint64_t total)
{
    m->shed = total;
}

void bmetrics_backpressure(struct bmetrics *m, enum bmetrics_pressure what)
{
    if (what == BMETRICS_REPLY_HELD)
        m->replies_held++;
    else if (what == BMETRICS_REQUEST_UNREAD)
        m->requests_unread++;
    else
        m->connections_refused++;
}

void bmetrics_replies_waiting(struct bmetrics *m, uint64_t bytes)
{
    m->waiting_bytes = bytes;
}

void bmetrics_commit_failed(struct bmetrics *m)
{
    m->commits_failed++;
}

void bmetrics_commit(struct bmetrics *m, size_t messages)
{
    af_hist_observe(&m->batch, (double)messages);
}

static void write_sites(FILE *f, const Aifed__SiteList *list)
{
    size_t up = 0, down = 0, drained = 0;

    fprintf(f, "# HELP aifed_site_up 1 when the site is UP (advertising in time).\n"
               "# TYPE aifed_site_up gauge\n");
    for (size_t i = 0; i < list->n_sites; i++) {
        const Aifed__SiteStatus *s = list->sites[i];
        bool is_up = s->state == AIFED__SITE_STATE__SITE_UP;
        fprintf(f, "aifed_site_up{site=\"%s\"} %d\n", s->site->id, is_up);
        up += is_up;
        down += !is_up;
        drained += s->admin_drained || s->site->drained;
    }
    fprintf(
        f,
        "# HELP aifed_sites Sites by state.\n# TYPE aifed_sites gauge\n"
        "aifed_sites{state=\"up\"} %zu\naifed_sites{state=\"down\"} %zu\n"
        "aifed_sites{state=\"drained\"} %zu\n"
        "# HELP aifed_isolated 1 while every site is silent at once (isolation guard).\n"
        "# TYPE aifed_isolated gauge\naifed_isolated %d\n",
        up, down, drained, list->isolated);
    fprintf(f, "# HELP aifed_gpus_free GPUs the site reports free.\n"
               "# TYPE aifed_gpus_free gauge\n"
               "# HELP aifed_gpus_available GPUs the broker will still grant.\n"
               "# TYPE aifed_gpus_available gauge\n");
    for (size_t i = 0; i < list->n_sites; i++)
        for (size_t j = 0; j < list->sites[i]->n_pools; j++) {
            const Aifed__PoolStatus *p = list->sites[i]->pools[j];
            const char *site = list->sites[i]->site->id;
            fprintf(
                f,
                "aifed_gpus_free{site=\"%s\",pool=\"%s\",accelerator=\"%s\"} %u\n"
                "aifed_gpus_available{site=\"%s\",pool=\"%s\",accelerator=\"%s\"} %u\n",
                site, p->pool->name, p->pool->accelerator, p->pool->gpus_free, site,
                p->pool->name, p->pool->accelerator, p->gpus_available);
        }
}

/* Label values in one casing across every series, as Prometheus's own:
 * lower case ("active", "not_found"), a name's ERROR_ left out. */
static const char *lower(const char *name, char buf[64])
{
    size_t i;

    if (!strncmp(name, "ERROR_", 6))
        name += 6;
    for (i = 0; name[i] && i < 63; i++)
        buf[i] = (char)tolower((unsigned char)name[i]);
    buf[i] = '\0';
    return buf;
}

static void write_counts(FILE *f, const struct bmetrics *m, struct store *st)
{
    char lc[64];

    fprintf(f,
            "# HELP aifed_leases Leases stored, by state.\n# TYPE aifed_leases gauge\n");
    for (int s = LEASE_PENDING; s <= LEASE_STATE_MAX; s++)
        fprintf(f, "aifed_leases{state=\"%s\"} %zu\n", lower(lease_state_name(s), lc),
                store_lease_count_state(st, s));
    fprintf(f, "# HELP aifed_requests_total Messages handled, by type.\n"
               "# TYPE aifed_requests_total counter\n");
    for (int b = 1; b < N_BODIES; b++)
        if (m->requests[b])
            fprintf(f, "aifed_requests_total{type=\"%s\"} %llu\n", af_wire_body_name(b),
                    m->requests[b]);
    fprintf(f,
            "# HELP aifed_commit_failures_total Batches whose commit failed (each "
            "answered with errors, nothing changed).\n"
            "# TYPE aifed_commit_failures_total counter\n"
            "aifed_commit_failures_total %llu\n",
            m->commits_failed);
    fprintf(f,
            "# HELP aifed_clock_steps_total Steps of the wall clock seen (leases keep "
            "to the clock the broker started with).\n"
            "# TYPE aifed_clock_steps_total counter\n"
            "aifed_clock_steps_total %llu\n",
            m->clock_steps);
    fprintf(f,
            "# HELP aifed_connections_shed_total Connections shut down before they "
            "finished a CURVE handshake, to keep descriptors for those that do.\n"
            "# TYPE aifed_connections_shed_total counter\n"
            "aifed_connections_shed_total %llu\n",
            m->shed);
    fprintf(f,
            "# HELP aifed_replies_held_total Replies that waited in the broker: their "
            "connection had SNDHWM replies in libzmq that its peer had not read.\n"
            "# TYPE aifed_replies_held_total counter\n"
            "aifed_replies_held_total %llu\n"
            "# HELP aifed_reply_bytes_waiting Bytes of replies waiting in the broker "
            "for peers to read.\n"
            "# TYPE aifed_reply_bytes_waiting gauge\n"
            "aifed_reply_bytes_waiting %llu\n"
            "# HELP aifed_requests_unread_total Requests dropped unread from a "
            "connection with more than its budget of replies waiting.\n"
            "# TYPE aifed_requests_unread_total counter\n"
            "aifed_requests_unread_total %llu\n"
            "# HELP aifed_connections_refused_total Messages refused because their "
            "principal was served on max_connections_per_principal others.\n"
            "# TYPE aifed_connections_refused_total counter\n"
            "aifed_connections_refused_total %llu\n",
            m->replies_held, m->waiting_bytes, m->requests_unread,
            m->connections_refused);
    fprintf(f, "# HELP aifed_errors_total Error replies, by code.\n"
               "# TYPE aifed_errors_total counter\n");
    for (int c = 1; c < N_CODES; c++)
        if (m->errors[c])
            fprintf(f, "aifed_errors_total{code=\"%s\"} %llu\n",
                    lower(protobuf_c_enum_descriptor_get_value(
                              &aifed__error_code__descriptor, c)
                              ? protobuf_c_enum_descriptor_get_value(
                                    &aifed__error_code__descriptor, c)
                                    ->name
                              : "unknown",
                          lc),
                    m->errors[c]);
}

/* Which node is active, and since when: after a failover, the new node's
 * series begins (a node label a cluster's dashboards can follow). */
static void write_active(FILE *f, const struct bmetrics *m)
{
    fprintf(
        f,
        "# HELP aifed_broker_active_since_seconds When this broker took the store and "
        "became the active one, by node.\n"
        "# TYPE aifed_broker_active_since_seconds gauge\n"
        "aifed_broker_active_since_seconds{node=\"%s\"} %.3f\n",
        m->node, m->active_since);
}

void bmetrics_publish(struct bmetrics *m, struct sites *sites, struct store *st)
{
    Aifed__SiteList *list;
    char *text = NULL;
    size_t len = 0;
    FILE *f;

    if (!m->http || !(f = open_memstream(&text, &len)))
        return;
    if (sites_list(sites, &list) == 0) {
        write_sites(f, list);
        sites_list_free(list);
    }
    write_counts(f, m, st);
    fprintf(f, "# HELP aifed_grant_seconds From submit to ACTIVE, as the broker saw it.\n"
               "# TYPE aifed_grant_seconds histogram\n");
    af_hist_write(&m->grant, f, "aifed_grant_seconds", "");
    fprintf(f, "# HELP aifed_commit_batch_messages Messages answered per commit.\n"
               "# TYPE aifed_commit_batch_messages histogram\n");
    af_hist_write(&m->batch, f, "aifed_commit_batch_messages", "");
    af_metrics_write_process(m->http, f, "aifed-broker");
    write_active(f, m);
    if (fclose(f) == 0)
        af_metrics_publish(m->http, text, len);
    free(text);
}
