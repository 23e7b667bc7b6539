/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unit_adv: an advertisement as the broker's sites module takes it (an
 * unpacked message, which sites_advertise frees as one), for the unit tests
 * that drive sites: one pool "gpu" of 8 nodes x 8 H100, free_gpus of them
 * free, a day's maximum walltime, and held (if not NULL) among its holds.
 */
#ifndef UNIT_ADV_H
#define UNIT_ADV_H

#include "aifed.pb-c.h"

#include <stdint.h>

static inline Aifed__Advertisement *unit_adv(const char *site, const char *country,
                                             uint32_t free_gpus, const char *held)
{
    Aifed__Advertisement a = AIFED__ADVERTISEMENT__INIT;
    Aifed__Site s = AIFED__SITE__INIT;
    Aifed__Pool p = AIFED__POOL__INIT, *pp = &p;
    char *ids[1] = {(char *)held};
    uint8_t buf[1024];
    size_t len;

    s.id = (char *)site;
    s.country = (char *)country;
    p.name = "gpu";
    p.accelerator = "H100";
    p.gpus_per_node = 8;
    p.nodes_total = 8;
    p.gpus_total = 64;
    p.gpus_free = free_gpus;
    p.max_walltime_s = 86400;
    a.site = &s;
    a.pools = &pp;
    a.n_pools = 1;
    a.held_lease_ids = ids;
    a.n_held_lease_ids = held ? 1 : 0;
    len = aifed__advertisement__pack(&a, buf);
    return aifed__advertisement__unpack(NULL, len, buf);
}

#endif
