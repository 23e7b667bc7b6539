/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aifed-broker: the central EuroHPC brokering service. Parse, configure, open
 * the store, serve, tear down in reverse order.
 */
#include "af_log.h"
#include "bconf.h"
#include "server.h"
#include "store.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: aifed-broker [-fnv] [-c FILE]\n"
            "\n"
            "The aifed federation broker: matches workloads to AI Factory sites and\n"
            "records every lease in LMDB before it answers.\n"
            "\n"
            "  -c, --config FILE  configuration (default /etc/aifed/broker.conf)\n"
            "  -f, --foreground   log to stderr instead of syslog\n"
            "  -n, --check        check the configuration and exit (with -v, print it)\n"
            "  -v, --verbose      more detail (debug logs; with -n, the configuration)\n"
            "  -h, --help         this text\n"
            "  -V, --version      print the version\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"foreground", no_argument, NULL, 'f'},
        {"check", no_argument, NULL, 'n'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *path = "/etc/aifed/broker.conf";
    bool foreground = false, check = false;
    int verbose = 0, opt, rc = 1;
    struct bconf *conf = NULL;
    struct store *st = NULL;
    struct server *srv = NULL;
    struct af_error err;
    char *state_dir = NULL;

    while ((opt = getopt_long(argc, argv, "c:fnvhV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'f':
            foreground = true;
            break;
        case 'n':
            check = true;
            break;
        case 'v':
            verbose++;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("aifed-broker %s\n", AIFED_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    af_log_init("aifed-broker", foreground || check, verbose);
    if (sodium_init() < 0)
        fatalx("libsodium failed to initialise");
    if (!(conf = bconf_load(path, &err))) {
        log_errx("%s", err.text);
        goto cleanup;
    }
    if (check) {
        if (verbose)
            bconf_print(conf, stdout);
        else
            fprintf(stderr, "configuration OK\n");
        rc = 0;
        goto cleanup;
    }
    if (!(state_dir = bconf_path(conf, conf->state_dir)))
        fatalx("out of memory");
    if (!(st = store_open(state_dir, conf->map_size_mb, false, &err))) {
        log_errx("state: %s", err.text);
        goto cleanup;
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
