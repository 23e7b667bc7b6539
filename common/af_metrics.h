/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_metrics: a Prometheus endpoint (GET /metrics, text format 0.0.4) served
 * by libmicrohttpd in its own thread. The daemon's loop renders the text
 * (every second, and whenever it likes) and publishes it; a scrape returns
 * the last text published. Nothing the loop owns is read from the HTTP
 * thread, so no daemon state needs a lock.
 */
#ifndef AF_METRICS_H
#define AF_METRICS_H

#include "af_error.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct af_metrics;

/* Listen on listen ("127.0.0.1:9464"; port 0 picks one), or not at all for
 * "off" (*ret NULL, ret_url ""). The URL scraped is written to ret_url.
 * -1 with err set when it cannot listen. */
int af_metrics_open(const char *listen, struct af_metrics **ret, char *ret_url,
                    size_t size, struct af_error *err);
/* Replace what scrapes return (copied). m may be NULL (off). */
void af_metrics_publish(struct af_metrics *m, const char *text, size_t len);
void af_metrics_stop(struct af_metrics *m);

/* What every aifed daemon exports about itself: aifed_build_info{program,
 * version} 1 and process_start_time_seconds (when m was opened, by the
 * wall clock). */
void af_metrics_write_process(const struct af_metrics *m, FILE *f, const char *program);

/* A histogram with fixed upper bounds (ascending; +Inf is implicit). */
#define AF_HIST_MAX 16
struct af_hist {
    const double *bounds;
    size_t n_bounds;
    uint64_t counts[AF_HIST_MAX + 1];
    double sum;
    uint64_t n;
};
void af_hist_observe(struct af_hist *h, double v);
/* Write h as NAME_bucket/_sum/_count lines; labels is "" or `a="b"`. */
void af_hist_write(const struct af_hist *h, FILE *f, const char *name,
                   const char *labels);

#endif
