/* SPDX-License-Identifier: Apache-2.0 */
/* relays: a fixed table of RELAYS_MAX slots, scanned (it is small). */
#include "relays.h"
#include "af_ids.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    uint64_t id; /* 0: free */
    size_t principal;
    struct outbox_peer peer;
    char site[AF_ID_MAX + 1];
    int64_t since_ms;
};

struct relays {
    struct slot v[RELAYS_MAX];
    uint64_t next_id;
};

struct relays *relays_create(void)
{
    return calloc(1, sizeof(struct relays));
}

void relays_destroy(struct relays *r)
{
    free(r);
}

uint64_t relays_add(struct relays *r, size_t principal, const struct outbox_peer *peer,
                    const char *site, int64_t now_ms)
{
    struct slot *free_slot = NULL;
    size_t mine = 0;

    for (size_t i = 0; i < RELAYS_MAX; i++) {
        if (!r->v[i].id)
            free_slot = free_slot ? free_slot : &r->v[i];
        else
            mine += r->v[i].principal == principal;
    }
    if (mine >= RELAYS_PER_PRINCIPAL || !free_slot) {
        errno = free_slot ? EMLINK : ENOSPC;
        return 0;
    }
    free_slot->id = ++r->next_id;
    free_slot->principal = principal;
    free_slot->peer = *peer;
    snprintf(free_slot->site, sizeof(free_slot->site), "%s", site);
    free_slot->since_ms = now_ms;
    return free_slot->id;
}

bool relays_take(struct relays *r, uint64_t id, const char *site,
                 struct outbox_peer *peer)
{
    for (size_t i = 0; id && i < RELAYS_MAX; i++) {
        if (r->v[i].id != id)
            continue;
        if (strcmp(r->v[i].site, site))
            return false; /* another site's to answer */
        *peer = r->v[i].peer;
        r->v[i].id = 0;
        return true;
    }
    return false;
}

void relays_expire(struct relays *r, struct outbox *ob, int64_t now_ms)
{
    char text[128];

    for (size_t i = 0; i < RELAYS_MAX; i++) {
        if (!r->v[i].id || now_ms - r->v[i].since_ms < RELAYS_TTL_MS)
            continue;
        snprintf(text, sizeof(text), "site %s did not answer in time; ask again",
                 r->v[i].site);
        outbox_error(ob, &r->v[i].peer, AIFED__ERROR_CODE__ERROR_TIMEOUT, text);
        r->v[i].id = 0;
    }
}
