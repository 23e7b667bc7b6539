/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aifed-agent: one per site, on a login node. Parse, read the site through
 * its backend, connect to the broker, run, tear down in reverse order.
 */
#include "aconf.h"
#include "af_log.h"
#include "agent.h"
#include "backend.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: aifed-agent [-fnv] [-c FILE]\n"
            "\n"
            "The aifed site agent: advertises this site's capacity to the broker and\n"
            "holds capacity for the leases the broker grants here.\n"
            "\n"
            "  -c, --config FILE  configuration (default /etc/aifed/agent.conf)\n"
            "  -f, --foreground   log to stderr instead of syslog\n"
            "  -n, --check        check the configuration and site and exit\n"
            "                     (with -v, print them as understood)\n"
            "  -v, --verbose      more detail (debug logs)\n"
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
    const char *path = "/etc/aifed/agent.conf";
    bool foreground = false, check = false;
    int verbose = 0, opt, rc = 1;
    struct aconf *conf = NULL;
    const struct backend_ops *ops = NULL;
    struct backend *b = NULL;
    struct agent *a = NULL;
    struct af_error err;

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
            printf("aifed-agent %s\n", AIFED_VERSION);
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
    af_log_init("aifed-agent", foreground || check, verbose);
    if (sodium_init() < 0)
        fatalx("libsodium failed to initialise");
    if (!(conf = aconf_load(path, &err))) {
        log_errx("%s", err.text);
        goto cleanup;
    }
    ops = backend_find(conf->backend);
    if (!(b = ops->create(conf, &err))) {
        log_errx("%s", err.text);
        goto cleanup;
    }
    if (check) {
        if (verbose) {
            aconf_print(conf, stdout);
            ops->print(b, stdout);
        } else {
            fprintf(stderr, "configuration OK\n");
        }
        rc = 0;
        goto cleanup;
    }
    if (!(a = agent_create(conf, ops, b, &err))) {
        log_errx("%s", err.text);
        goto cleanup;
    }
    rc = agent_run(a);
cleanup:
    agent_destroy(a);
    if (ops)
        ops->destroy(b);
    aconf_destroy(conf);
    return rc;
}
