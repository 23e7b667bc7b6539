/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limit: a token bucket, pure. Each principal may send `rate` requests a
 * second on average and `burst` at once; the server keeps one bucket per
 * principal and answers ERROR_LIMITED when it is empty, so one busy or
 * hostile peer cannot take the broker from everyone else.
 */
#ifndef LIMIT_H
#define LIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct limit_bucket {
    double tokens;
    int64_t last_ms; /* 0: never used (starts full) */
};

/* Take one token at now_ms, refilling at rate per second up to burst.
 * false when the bucket is empty (nothing is taken then). */
bool limit_take(struct limit_bucket *b, int64_t now_ms, double rate, double burst);

/* After a refusal: how long until the bucket holds a token again (at
 * least 1 ms, so that an asker that waits it is taken). */
uint32_t limit_wait_ms(const struct limit_bucket *b, double rate);

#endif
