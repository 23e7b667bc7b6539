/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent: one site's link to the broker. It connects with the site's CURVE
 * key, says hello, advertises the backend's view of the site on a timer and
 * after every change, and holds or releases capacity when the broker asks.
 * ZeroMQ reconnects by itself when the broker restarts; the next
 * advertisement tells the new broker where the site is.
 */
#ifndef AGENT_H
#define AGENT_H

#include "af_error.h"

struct agent;
struct aconf;
struct backend_ops;
struct backend;

/* conf and b are borrowed. NULL with err set. */
struct agent *agent_create(const struct aconf *conf, const struct backend_ops *ops,
                           struct backend *b, struct af_error *err);

/* Run until SIGTERM or SIGINT; 0 after a clean stop. */
int agent_run(struct agent *a);

void agent_destroy(struct agent *a);
/* The backend in use now (the caller's, or the one a reload made). */
struct backend *agent_backend(const struct agent *a);

/* Whether the keys conf names can be read (aifed-agent -n): -1 with err
 * saying which and why. */
int agent_keys_check(const struct aconf *conf, struct af_error *err);

#endif
