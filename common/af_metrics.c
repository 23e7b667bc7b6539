/* SPDX-License-Identifier: Apache-2.0 */
/* af_metrics: see af_metrics.h. */
#include "af_metrics.h"
#include "af_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct af_metrics {
    struct MHD_Daemon *d;
    pthread_mutex_t lock;
    char *text;
    size_t len;
    double start_s; /* when it was opened (Unix seconds) */
};

void af_metrics_write_process(const struct af_metrics *m, FILE *f, const char *program)
{
    fprintf(f,
            "# HELP aifed_build_info The running program and its version (always 1).\n"
            "# TYPE aifed_build_info gauge\n"
            "aifed_build_info{program=\"%s\",version=\"%s\"} 1\n"
            "# HELP process_start_time_seconds Start time of the process since the Unix "
            "epoch, in seconds.\n"
            "# TYPE process_start_time_seconds gauge\n"
            "process_start_time_seconds %.3f\n",
            program, AIFED_VERSION, m ? m->start_s : 0.0);
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_size, void **state)
{
    struct af_metrics *m = cls;
    struct MHD_Response *r;
    enum MHD_Result rc;
    unsigned status = MHD_HTTP_OK;

    (void)version;
    (void)upload;
    (void)upload_size;
    (void)state;
    if (strcmp(method, "GET") || strcmp(url, "/metrics")) {
        static const char nf[] = "not found: scrape /metrics\n";
        r = MHD_create_response_from_buffer(sizeof(nf) - 1, (void *)nf,
                                            MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_NOT_FOUND;
    } else {
        pthread_mutex_lock(&m->lock);
        r = MHD_create_response_from_buffer(m->len, m->text ? m->text : "",
                                            MHD_RESPMEM_MUST_COPY);
        pthread_mutex_unlock(&m->lock);
        if (r)
            MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
    }
    if (!r)
        return MHD_NO;
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* "HOST:PORT" (IPv4) into addr. */
static int parse_listen(const char *listen, struct sockaddr_in *addr)
{
    const char *colon = strrchr(listen, ':');
    char host[64];
    char *end;
    long port;

    if (!colon || (size_t)(colon - listen) >= sizeof(host))
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535)
        return -1;
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &addr->sin_addr) == 1 ? 0 : -1;
}

int af_metrics_open(const char *listen, struct af_metrics **ret, char *ret_url,
                    size_t size, struct af_error *err)
{
    struct af_metrics *m;
    struct sockaddr_in addr;
    const union MHD_DaemonInfo *info;
    char host[INET_ADDRSTRLEN];

    *ret = NULL;
    ret_url[0] = '\0';
    if (!strcmp(listen, "off"))
        return 0;
    if (parse_listen(listen, &addr) < 0)
        return af_error_set(err, "metrics_listen: '%s' is not an IPv4 HOST:PORT", listen);
    if (!(m = calloc(1, sizeof(*m))))
        return af_error_set(err, "out of memory");
    pthread_mutex_init(&m->lock, NULL);
    m->start_s = (double)af_now_ms() / 1000.0;
    m->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL,
                            serve, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!m->d) {
        af_metrics_stop(m);
        return af_error_set(err, "metrics_listen %s: cannot listen there", listen);
    }
    info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
    inet_ntop(AF_INET, &addr.sin_addr, host, sizeof(host));
    snprintf(ret_url, size, "http://%s:%u/metrics", host, info ? info->port : 0);
    *ret = m;
    return 0;
}

void af_metrics_publish(struct af_metrics *m, const char *text, size_t len)
{
    char *copy;

    if (!m || !(copy = malloc(len ? len : 1)))
        return; /* scrapes keep the last text */
    memcpy(copy, text, len);
    pthread_mutex_lock(&m->lock);
    free(m->text);
    m->text = copy;
    m->len = len;
    pthread_mutex_unlock(&m->lock);
}

void af_metrics_stop(struct af_metrics *m)
{
    if (!m)
        return;
    if (m->d)
        MHD_stop_daemon(m->d);
    pthread_mutex_destroy(&m->lock);
    free(m->text);
    free(m);
}

void af_hist_observe(struct af_hist *h, double v)
{
    size_t i = 0;

    while (i < h->n_bounds && v > h->bounds[i])
        i++;
    h->counts[i]++;
    h->sum += v;
    h->n++;
}

void af_hist_write(const struct af_hist *h, FILE *f, const char *name, const char *labels)
{
    const char *sep = *labels ? "," : "";
    uint64_t cum = 0;

    for (size_t i = 0; i < h->n_bounds; i++) {
        cum += h->counts[i];
        fprintf(f, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, h->bounds[i],
                (unsigned long long)cum);
    }
    fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
            (unsigned long long)h->n);
    if (*labels)
        fprintf(f, "%s_sum{%s} %g\n%s_count{%s} %llu\n", name, labels, h->sum, name,
                labels, (unsigned long long)h->n);
    else
        fprintf(f, "%s_sum %g\n%s_count %llu\n", name, h->sum, name,
                (unsigned long long)h->n);
}
