/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aifed-agent: one per site, on a login node. Parse, read the site through
 * its backend, connect to the broker, run, tear down in reverse order.
 */
#include "aconf.h"
#include "af_daemon.h"
#include "af_log.h"
#include "agent.h"
#include "backend.h"
#include "usersig.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct af_daemon_opts o;
    int rc;
    struct aconf *conf = NULL;
    const struct backend_ops *ops = NULL;
    struct backend *b = NULL;
    struct agent *a = NULL;
    struct af_error err;

    rc = af_daemon_parse(
        argc, argv, "aifed-agent",
        "The aifed site agent: advertises this site\'s capacity to the broker and\nholds "
        "capacity for the leases the broker grants here.",
        "/etc/aifed/agent.conf", &o);
    if (rc >= 0)
        return rc;
    rc = 1;
    af_log_init("aifed-agent", o.foreground || o.check, o.verbose);
    if (sodium_init() < 0)
        fatalx("libsodium failed to initialise");
    if (!(conf = aconf_load(o.config, &err))) {
        log_errx("%s", err.text);
        goto cleanup;
    }
    /* As root, a mistake anywhere in the job path is the site's; a lab may
     * say why it needs it, in one line the log repeats. */
    if (geteuid() == 0 && !conf->lab && !o.check) {
        log_errx("%s: refusing to run as root: the agent needs no privilege (jobs run as "
                 "their users through the job helper's sudo rule); run it as its own "
                 "account (aifed-agent), or set lab = WHY in [agent] for a test machine",
                 o.config);
        goto cleanup;
    }
    if (geteuid() == 0 && conf->lab)
        log_warnx("running as root, because lab = %s", conf->lab);
    else if (geteuid() == 0) /* -n: the check goes on; a start would not */
        log_warnx(
            "as root, this agent would refuse to start: set lab = WHY, or run it as "
            "its own account");
    if (!(ops = backend_find(conf->backend))) { /* aconf allows only known ones */
        log_errx("backend %s is not in this build", conf->backend);
        goto cleanup;
    }
    if (!(b = ops->create(conf, &err)) || usersig_ready(conf, &err) < 0) {
        log_errx("%s", err.text);
        goto cleanup;
    }
    if (o.check && agent_keys_check(conf, &err) < 0) {
        log_errx("%s", err.text);
        goto cleanup;
    }
    if (o.check) {
        if (o.verbose) {
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
    if (a)
        b = agent_backend(a); /* a reload (SIGHUP) may have replaced it */
    agent_destroy(a);
    if (ops)
        ops->destroy(b);
    aconf_destroy(conf);
    return rc;
}
