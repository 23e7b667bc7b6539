/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aifed-gateway: the HTTPS front door of served models. Parse, read the
 * certificate, connect to the broker, serve, tear down in reverse order.
 */
#include "af_conf.h"
#include "af_daemon.h"
#include "af_log.h"
#include "gconf.h"
#include "gw.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The TLS certificate and key, as PEM text (MHD takes them in memory). */
static int read_tls(struct gw *g, struct af_error *err)
{
    char *cert = gconf_path(g->conf, g->conf->tls_cert);
    char *key = gconf_path(g->conf, g->conf->tls_key);
    int rc = -1;

    if (!cert || !key)
        af_error_set(err, "out of memory");
    else if ((g->tls_cert = af_conf_read_file(cert, 1024 * 1024, err)) &&
             (g->tls_key = af_conf_read_file(key, 1024 * 1024, err)))
        rc = 0;
    free(cert);
    free(key);
    return rc;
}

int main(int argc, char **argv)
{
    struct af_daemon_opts o;
    struct gconf *conf = NULL;
    struct gw g = {0};
    struct af_error err;
    int rc;

    rc = af_daemon_parse(argc, argv, "aifed-gateway",
                         "The aifed gateway: the HTTPS, OpenAI-compatible front door of "
                         "served models;\nit checks keys and passes requests on through "
                         "the broker to the replicas.",
                         "/etc/aifed/gateway.conf", &o);
    if (rc >= 0)
        return rc;
    rc = 1;
    af_log_init("aifed-gateway", o.foreground || o.check, o.verbose);
    if (sodium_init() < 0)
        fatalx("libsodium failed to initialise");
    if (!(conf = gconf_load(o.config, &err))) {
        log_errx("%s", err.text);
        return 1;
    }
    g.conf = conf;
    pthread_mutex_init(&g.mu, NULL);
    if (geteuid() == 0 && !conf->lab && !o.check) {
        log_errx("%s: refusing to run as root: the gateway needs no privilege; run it as "
                 "its own account (aifed-gateway), or set lab = WHY for a test machine",
                 o.config);
        goto out;
    }
    if (read_tls(&g, &err) < 0) {
        log_errx("%s", err.text);
        goto out;
    }
    if (o.check) {
        if (o.verbose)
            gconf_print(conf, stdout);
        else
            fprintf(stderr, "configuration OK\n");
        rc = 0;
        goto out;
    }
    if (gw_link_start(&g, &err) < 0 || gw_http_start(&g, &err) < 0) {
        log_errx("%s", err.text);
        goto stop;
    }
    rc = gw_run(&g);
stop:
    gw_http_stop(&g); /* its connections end first: nothing more is handed over */
    gw_link_stop(&g);
out:
    free(g.tls_cert);
    free(g.tls_key);
    pthread_mutex_destroy(&g.mu);
    gconf_destroy(conf);
    return rc;
}
