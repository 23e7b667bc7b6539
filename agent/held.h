/* SPDX-License-Identifier: Apache-2.0 */
/*
 * held: what the agent countersigned for each hold it has, so that a hold
 * asked again for the same lease (a renewal, a re-ask after a restart) can
 * change only its end, never its size: the agent never signs for more than
 * it holds. Hashed by lease id; as many entries as holds (the advertisement
 * bounds those: AF_WIRE_MAX_HELD).
 */
#ifndef HELD_H
#define HELD_H

#include "af_token.h"

#include <stdbool.h>

struct held;

struct held *held_create(void);
void held_destroy(struct held *h);

/* The claims countersigned for lease_id, or NULL. Borrowed. */
const struct af_token_claims *held_find(const struct held *h, const char *lease_id);
/* Record c (copied) for its lease id, replacing what was there. -1/ENOMEM. */
int held_put(struct held *h, const struct af_token_claims *c);
/* Forget lease_id (nothing when unknown). */
void held_drop(struct held *h, const char *lease_id);

/* Whether c asks for the same hold as was (only the times may differ). */
bool held_same(const struct af_token_claims *was, const struct af_token_claims *c);

#endif
