/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend: where an agent's numbers come from and where its holds go. The
 * static backend reads a site file (demos, tests); the Slurm backend reads
 * the scheduler and holds capacity as reservations. The agent loop knows only
 * this interface.
 *
 * The advertisement a backend returns is borrowed and valid until the next
 * call on that backend; its gpus_free figures already subtract the holds it
 * lists in held_lease_ids.
 */
#ifndef BACKEND_H
#define BACKEND_H

#include "af_error.h"
#include "af_ids.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct backend;
struct aconf;
struct Aifed__Advertisement;
struct Aifed__Lease;
struct Aifed__SiteAccess;
struct aproc_pool;

/* A hold that was answered later (backend_ops.hold returned 1): rc 0, or -1
 * with why. Called exactly once, also when the backend is destroyed first
 * (rc -1). */
typedef void (*backend_hold_fn)(int rc, const struct af_error *why, void *arg);

/* A lease that ended at the site, with what its jobs used there. */
struct backend_ended {
    char lease_id[AF_ID_MAX + 1];
    uint64_t gpu_seconds;
};

struct backend_ops {
    const char *name;
    /* Read the site; err says why not (file and line where there is one). */
    struct backend *(*create)(const struct aconf *conf, struct af_error *err);
    void (*destroy)(struct backend *b);
    /* The site as it is now. NULL with err set when it cannot be read. */
    const struct Aifed__Advertisement *(*advertisement)(struct backend *b,
                                                        struct af_error *err);
    /* Hold capacity for lease: 0 held, -1 with the reason in why when it
     * cannot, 1 when the answer comes later through done (a scheduler that
     * must be asked: the loop never waits for it). */
    int (*hold)(struct backend *b, const struct Aifed__Lease *lease, backend_hold_fn done,
                void *arg, struct af_error *why);
    /* How a user works in lease's hold by hand (for a Slurm site: the
     * reservation, partition and local account), borrowed until the next
     * call; NULL where there is nothing to say. Optional. */
    const struct Aifed__SiteAccess *(*access)(struct backend *b,
                                              const struct Aifed__Lease *lease);
    /* Whether a hold by that id stands (asking again for it changes nothing). */
    bool (*holding)(struct backend *b, const char *lease_id);
    /* Let go of a hold: 0 once it is no longer held here (a scheduler is
     * told in the background, and again until it agrees); -1/ENOENT when
     * there is none by that id. */
    int (*release)(struct backend *b, const char *lease_id);
    /* Leases that ended at the site since the last call (released, expired,
     * or gone), up to max, with their measured usage; NULL for backends that
     * cannot measure it. */
    size_t (*ended)(struct backend *b, struct backend_ended *out, size_t max);
    /* For backends that read their site in the background: how long the
     * read the last advertisement used took, and whether it succeeded; -1
     * when that advertisement used no new read. NULL: the advertisement
     * call itself is the read. */
    double (*read_seconds)(struct backend *b, bool *ok);
    /* Read the site again (SIGHUP): a new backend with old's holds carried
     * over, pool by pool name (a hold whose pool is gone is dropped, and the
     * broker learns it is LOST), or NULL with err set and old unchanged. */
    struct backend *(*reload)(struct backend *old, const struct aconf *conf,
                              struct af_error *err);
    /* Print the site as understood (for -n -v). */
    void (*print)(struct backend *b, FILE *out);
    /* A read of the site that has come in since the last one taken (never
     * waiting), applied as an advertisement's would be, and the next asked
     * for: true when there was one. While a job has just been submitted,
     * the loop takes reads this way between advertisements, so that its
     * start is seen within a read's time. Optional. */
    bool (*refresh)(struct backend *b);
    /* The loop's command pool, for a backend that runs commands on holds
     * (given after create and after every reload). Optional. */
    void (*set_procs)(struct backend *b, struct aproc_pool *procs);
    /* The executor that runs jobs at this kind of site (executor.h), or
     * NULL: the demo executor when demo_jobs allows it, else none. */
    const char *executor;
};

extern const struct backend_ops backend_static_ops;
extern const struct backend_ops backend_slurm_ops;

/* When lease l's hold starts, asked at now_ms: now, or its not_before when
 * that is later (an advance reservation, --not-before). */
int64_t backend_hold_start_ms(const struct Aifed__Lease *l, int64_t now_ms);

/* The backend called name, or NULL. */
const struct backend_ops *backend_find(const char *name);

#endif
