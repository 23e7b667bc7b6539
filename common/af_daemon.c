/* SPDX-License-Identifier: Apache-2.0 */
/* af_daemon: shared daemon options, parsed with getopt_long. */
#include "af_daemon.h"

#include <getopt.h>
#include <stdio.h>

static void usage(FILE *out, const char *name, const char *about,
                  const char *default_config)
{
    fprintf(out,
            "usage: %s [-fnv] [-c FILE]\n"
            "\n"
            "%s\n"
            "\n"
            "  -c, --config FILE  configuration (default %s)\n"
            "  -f, --foreground   log to stderr instead of syslog\n"
            "  -n, --check        check the configuration and exit (with -v, print it\n"
            "                     as understood)\n"
            "  -v, --verbose      more detail (debug logs)\n"
            "  -h, --help         this text\n"
            "  -V, --version      print the version\n",
            name, about, default_config);
}

int af_daemon_parse(int argc, char **argv, const char *name, const char *about,
                    const char *default_config, struct af_daemon_opts *ret)
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
    struct af_daemon_opts o = {.config = default_config};
    int opt;

    while ((opt = getopt_long(argc, argv, "c:fnvhV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            o.config = optarg;
            break;
        case 'f':
            o.foreground = true;
            break;
        case 'n':
            o.check = true;
            break;
        case 'v':
            o.verbose++;
            break;
        case 'h':
            usage(stdout, name, about, default_config);
            return 0;
        case 'V':
            printf("%s %s\n", name, AIFED_VERSION);
            return 0;
        default:
            usage(stderr, name, about, default_config);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", name, argv[optind]);
        usage(stderr, name, about, default_config);
        return 2;
    }
    *ret = o;
    return -1;
}
