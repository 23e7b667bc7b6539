/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_daemon: the command line both daemons share (-c FILE, -f, -n, -v, -h,
 * -V), so that aifed-broker and aifed-agent behave alike for an admin.
 */
#ifndef AF_DAEMON_H
#define AF_DAEMON_H

#include <stdbool.h>

struct af_daemon_opts {
    const char *config; /* -c, or the default given */
    bool foreground;    /* -f: log to stderr */
    bool check;         /* -n: check the configuration and exit */
    int verbose;        /* -v, repeatable */
};

/* Parse argv for the daemon called name, whose default configuration is
 * default_config and which does what `about` says (one or two lines).
 * Returns -1 to go on, or the status to exit with: 0 after --help or
 * --version, 2 after a usage error (usage printed to stderr). */
int af_daemon_parse(int argc, char **argv, const char *name, const char *about,
                    const char *default_config, struct af_daemon_opts *ret);

#endif
