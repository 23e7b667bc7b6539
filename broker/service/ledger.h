/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger: the allocation accounting of leases, kept in core/alloc's table in
 * memory and written into the store's batch with the lease change that
 * caused it. A lease reserves gpus x walltime when it is granted (and more
 * when renewed), and settles what it used when it ends or moves away. A
 * project with no allocation at the lease's site has nothing to account.
 */
#ifndef LEDGER_H
#define LEDGER_H

#include "aifed.pb-c.h"

#include <stdint.h>

struct svc;
struct store;
struct allocs;
struct alloc_entry;

/* Reserve gpu_s for lease l at its site. */
void ledger_reserve(struct svc *s, const Aifed__Lease *l, uint64_t gpu_s);
/* l ended (or moved away, used 0): free its reservation, add what it used. */
void ledger_settle(struct svc *s, const Aifed__Lease *l, uint64_t used_gpu_s);
/* A closed lease's usage was corrected from was_gpu_s to now_gpu_s. */
void ledger_adjust(struct svc *s, const Aifed__Lease *l, uint64_t was_gpu_s,
                   uint64_t now_gpu_s);

/* Write e into the batch. -1 when the store refused (the batch is failed). */
int ledger_save(struct svc *s, const struct alloc_entry *e);

/* e as the wire and the store carry it; strings borrowed from e. */
void ledger_to_msg(const struct alloc_entry *e, Aifed__Allocation *out);

/* The allocation table as stored. NULL with errno. */
struct allocs *ledger_load(struct store *st);

#endif
