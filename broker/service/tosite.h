/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tosite: a message to a site's agent, by the route its last message came
 * on. Below the lease and job services, which both send. A hold and a
 * request to a served model leave at once (they promise nothing stored);
 * everything else after the commit.
 */
#ifndef TOSITE_H
#define TOSITE_H

#include "aifed.pb-c.h"

struct svc;

/* Queue env to site's agent; dropped (with a debug line) when the site
 * has no route yet: a hold then times out, a StartJob is sent again when
 * the site connects, which is the same recovery. */
void tosite_send(struct svc *s, const char *site, Aifed__Envelope *env);

#endif
