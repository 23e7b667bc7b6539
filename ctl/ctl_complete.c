/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_complete: `aifedctl complete WHAT`, the values shell completion offers
 * where a flag wants one (deploy/bash-completion/aifedctl caches them for a
 * minute): the broker's sites and accelerator models, the caller's projects
 * and open leases, one per line. Quick (2 s unless --timeout) and quiet: a
 * completion that cannot ask prints nothing rather than an error on the
 * user's command line.
 */
#include "ctl.h"
#include "ctl_call.h"
#include "lease.h"

#include "aifed.pb-c.h"
#include "af_wire.h"

#include <stdio.h>
#include <string.h>

#define COMPLETE_TIMEOUT_MS 2000

static Aifed__Envelope *ask(const struct ctl *ctl, int body_case, void *body,
                            Aifed__Envelope__BodyCase want)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    int rc;

    af_wire_set_body(&req, body_case, body);
    return ctl_call(ctl, &req, want, COMPLETE_TIMEOUT_MS, &rc);
}

/* Whether name is among the n seen (a short list: a scan). */
static bool seen_in(char *const *seen, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(seen[i], name))
            return true;
    return false;
}

static int sites_or_models(const struct ctl *ctl, bool models)
{
    Aifed__ListSites q = AIFED__LIST_SITES__INIT;
    Aifed__Envelope *rep =
        ask(ctl, AIFED__ENVELOPE__BODY_LIST_SITES, &q, AIFED__ENVELOPE__BODY_SITE_LIST);
    char *seen[AF_WIRE_MAX_POOLS * 16];
    size_t n = 0;

    if (!rep)
        return 1;
    for (size_t i = 0; i < rep->site_list->n_sites; i++) {
        const Aifed__SiteStatus *s = rep->site_list->sites[i];

        if (!models)
            printf("%s\n", s->site->id);
        for (size_t j = 0; models && j < s->n_pools; j++) {
            char *model = s->pools[j]->pool->accelerator;

            if (seen_in(seen, n, model))
                continue;
            printf("%s\n", model);
            if (n < sizeof(seen) / sizeof(seen[0]))
                seen[n++] = model;
        }
    }
    af_wire_free(rep);
    return 0;
}

static int projects(const struct ctl *ctl)
{
    Aifed__WhoAmI q = AIFED__WHO_AM_I__INIT;
    Aifed__Envelope *rep =
        ask(ctl, AIFED__ENVELOPE__BODY_WHO_AM_I, &q, AIFED__ENVELOPE__BODY_IDENTITY);

    if (!rep)
        return 1;
    for (size_t i = 0; i < rep->identity->n_projects; i++)
        printf("%s\n", rep->identity->projects[i]);
    af_wire_free(rep);
    return 0;
}

/* The caller's open leases, from one page: what a command on a lease takes. */
static int leases(const struct ctl *ctl)
{
    Aifed__ListLeases q = AIFED__LIST_LEASES__INIT;
    Aifed__Envelope *rep;

    q.limit = AF_WIRE_MAX_PAGE;
    if (!(rep = ask(ctl, AIFED__ENVELOPE__BODY_LIST_LEASES, &q,
                    AIFED__ENVELOPE__BODY_LEASE_LIST)))
        return 1;
    for (size_t i = 0; i < rep->lease_list->n_leases; i++)
        if (lease_is_open((int)rep->lease_list->leases[i]->state))
            printf("%s\n", rep->lease_list->leases[i]->id);
    af_wire_free(rep);
    return 0;
}

int ctl_cmd_complete(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                     char **argv)
{
    const char *what = argc == 2 ? argv[1] : "";

    if (!strcmp(what, "--help") || !strcmp(what, "-h")) {
        ctl_command_help(cmd);
        return 0;
    }
    if (!ctl->timeout_set) {
        ctl->timeout_ms = COMPLETE_TIMEOUT_MS;
        ctl->timeout_set = true;
    }
    if (!strcmp(what, "sites"))
        return sites_or_models(ctl, false);
    if (!strcmp(what, "accelerators"))
        return sites_or_models(ctl, true);
    if (!strcmp(what, "projects"))
        return projects(ctl);
    if (!strcmp(what, "leases"))
        return leases(ctl);
    return ctl_usage_error(cmd, "want sites, accelerators, projects or leases, not '%s'",
                           what);
}
