/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aifed-broker: the central EuroHPC brokering service. Parse, configure, open
 * the store, serve, tear down in reverse order.
 */
#include "af_daemon.h"
#include "af_log.h"
#include "bconf.h"
#include "server.h"
#include "store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

int main(int argc, char **argv)
{
    struct af_daemon_opts o;
    int rc;
    struct bconf *conf = NULL;
    struct store *st = NULL;
    struct server *srv = NULL;
    struct af_error err;
    char *state_dir = NULL;

    rc = af_daemon_parse(argc, argv, "aifed-broker",
                         "The aifed federation broker: matches workloads to AI Factory "
                         "sites and\nrecords every lease in LMDB before it answers.",
                         "/etc/aifed/broker.conf", &o);
    if (rc >= 0)
        return rc;
    rc = 1;
    af_log_init("aifed-broker", o.foreground || o.check, o.verbose);
    if (sodium_init() < 0)
        fatalx("libsodium failed to initialise");
    if (!(conf = bconf_load(o.config, &err))) {
        log_errx("%s", err.text);
        goto cleanup;
    }
    if (o.check) {
        if (o.verbose)
            bconf_print(conf, stdout);
        else
            fprintf(stderr, "configuration OK\n");
        rc = 0;
        goto cleanup;
    }
    /* As root, any mistake in the broker is root's; a lab may say why. */
    if (geteuid() == 0 && !conf->lab) {
        log_errx("%s: refusing to run as root: run the broker as its own account "
                 "(aifed-broker), or set lab = WHY in [broker] for a test machine",
                 o.config);
        goto cleanup;
    }
    if (geteuid() == 0)
        log_warnx("running as root, because lab = %s", conf->lab);
    if (!(state_dir = bconf_path(conf, conf->state_dir)))
        fatalx("out of memory");
    if (!(st = store_open(state_dir, conf->map_size_mb, false, &err))) {
        log_errx("state: %s", err.text);
        goto cleanup;
    }
    {
        char node[256] = "?";
        gethostname(node, sizeof(node) - 1);
        log_info("active on node %s: the store at %s is this broker's", node, state_dir);
    }
    if (!(srv = server_create(conf, st, &err))) {
        log_errx("%s", err.text);
        goto cleanup;
    }
    rc = server_run(srv) == 0 ? 0 : 1;
cleanup:
    server_destroy(srv);
    store_close(st);
    free(state_dir);
    bconf_destroy(conf);
    return rc;
}
