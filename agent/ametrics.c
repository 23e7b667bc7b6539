/* SPDX-License-Identifier: Apache-2.0 */
/* ametrics: see ametrics.h. */
#include "ametrics.h"
#include "af_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double backend_bounds[] = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05,
                                        0.1,    0.5,    1,     5,     10,   30};

struct ametrics {
    struct af_metrics *http; /* NULL when off */
    struct af_hist backend;
    unsigned long long backend_errors, holds, refused, advertisements;
    int64_t last_adv_ms;
};

struct ametrics *ametrics_create(const char *listen, char *ret_url, size_t size,
                                 struct af_error *err)
{
    struct ametrics *m = calloc(1, sizeof(*m));

    if (!m) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    m->backend = (struct af_hist){.bounds = backend_bounds,
                                  .n_bounds = sizeof(backend_bounds) / sizeof(double)};
    if (af_metrics_open(listen, &m->http, ret_url, size, err) < 0) {
        free(m);
        return NULL;
    }
    return m;
}

void ametrics_destroy(struct ametrics *m)
{
    if (!m)
        return;
    af_metrics_stop(m->http);
    free(m);
}

void ametrics_backend(struct ametrics *m, double seconds, bool ok)
{
    af_hist_observe(&m->backend, seconds);
    m->backend_errors += !ok;
}

void ametrics_advertised(struct ametrics *m, int64_t now_ms)
{
    m->last_adv_ms = now_ms;
    m->advertisements++;
}

void ametrics_hold(struct ametrics *m, bool held)
{
    if (held)
        m->holds++;
    else
        m->refused++;
}

void ametrics_publish(struct ametrics *m, const char *site, bool connected,
                      int64_t now_ms)
{
    char *text = NULL, labels[96];
    size_t len = 0;
    FILE *f;

    if (!m->http || !(f = open_memstream(&text, &len)))
        return;
    snprintf(labels, sizeof(labels), "site=\"%s\"", site);
    fprintf(f,
            "# HELP aifed_agent_backend_seconds Time to read the site from the backend.\n"
            "# TYPE aifed_agent_backend_seconds histogram\n");
    af_hist_write(&m->backend, f, "aifed_agent_backend_seconds", labels);
    fprintf(
        f,
        "# HELP aifed_agent_backend_errors_total Reads of the site that failed.\n"
        "# TYPE aifed_agent_backend_errors_total counter\n"
        "aifed_agent_backend_errors_total{%s} %llu\n"
        "# HELP aifed_agent_advertisements_total Advertisements sent.\n"
        "# TYPE aifed_agent_advertisements_total counter\n"
        "aifed_agent_advertisements_total{%s} %llu\n"
        "# HELP aifed_agent_last_advertisement_age_seconds Since the last one was sent "
        "(-1: none yet).\n"
        "# TYPE aifed_agent_last_advertisement_age_seconds gauge\n"
        "aifed_agent_last_advertisement_age_seconds{%s} %.3f\n"
        "# HELP aifed_agent_holds_total Holds asked by the broker, by outcome.\n"
        "# TYPE aifed_agent_holds_total counter\n"
        "aifed_agent_holds_total{%s,outcome=\"held\"} %llu\n"
        "aifed_agent_holds_total{%s,outcome=\"refused\"} %llu\n"
        "# HELP aifed_agent_connected 1 once the broker has welcomed the agent.\n"
        "# TYPE aifed_agent_connected gauge\naifed_agent_connected{%s} %d\n",
        labels, m->backend_errors, labels, m->advertisements, labels,
        m->last_adv_ms ? (double)(now_ms - m->last_adv_ms) / 1000.0 : -1.0, labels,
        m->holds, labels, m->refused, labels, connected);
    af_metrics_write_process(m->http, f, "aifed-agent");
    if (fclose(f) == 0)
        af_metrics_publish(m->http, text, len);
    free(text);
}
