/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend: where an agent's numbers come from and where its holds go. The
 * static backend reads a site file (demos, tests); the Slurm backend will read
 * the scheduler and hold capacity as reservations. The agent loop knows only
 * this interface.
 *
 * The advertisement a backend returns is borrowed and valid until the next
 * call on that backend; its gpus_free figures already subtract the holds it
 * lists in held_lease_ids.
 */
#ifndef BACKEND_H
#define BACKEND_H

#include "af_error.h"

#include <stdio.h>

struct backend;
struct aconf;
struct Aifed__Advertisement;
struct Aifed__Lease;

struct backend_ops {
    const char *name;
    /* Read the site; err says why not (file and line where there is one). */
    struct backend *(*create)(const struct aconf *conf, struct af_error *err);
    void (*destroy)(struct backend *b);
    /* The site as it is now. NULL with err set when it cannot be read. */
    const struct Aifed__Advertisement *(*advertisement)(struct backend *b,
                                                        struct af_error *err);
    /* Hold capacity for lease. -1 with the reason in why when it cannot. */
    int (*hold)(struct backend *b, const struct Aifed__Lease *lease,
                struct af_error *why);
    /* Let go of a hold. -1/ENOENT when there is none by that id. */
    int (*release)(struct backend *b, const char *lease_id);
    /* Read the site again (SIGHUP): a new backend with old's holds carried
     * over, pool by pool name (a hold whose pool is gone is dropped, and the
     * broker learns it is LOST), or NULL with err set and old unchanged. */
    struct backend *(*reload)(struct backend *old, const struct aconf *conf,
                              struct af_error *err);
    /* Print the site as understood (for -n -v). */
    void (*print)(struct backend *b, FILE *out);
};

extern const struct backend_ops backend_static_ops;

/* The backend called name, or NULL. */
const struct backend_ops *backend_find(const char *name);

#endif
