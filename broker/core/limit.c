/* SPDX-License-Identifier: Apache-2.0 */
/* limit: token bucket refill and take. */
#include "limit.h"

bool limit_take(struct limit_bucket *b, int64_t now_ms, double rate, double burst)
{
    if (b->last_ms == 0) {
        b->tokens = burst;
        b->last_ms = now_ms;
    } else if (now_ms > b->last_ms) {
        /* Never moves back: a clock that steps backwards refills nothing. */
        b->tokens += (double)(now_ms - b->last_ms) * rate / 1000.0;
        if (b->tokens > burst)
            b->tokens = burst;
        b->last_ms = now_ms;
    }
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

uint32_t limit_wait_ms(const struct limit_bucket *b, double rate)
{
    double ms = b->tokens >= 1.0 || rate <= 0 ? 0 : (1.0 - b->tokens) * 1000.0 / rate;

    return ms < 1 ? 1 : ms > 60000 ? 60000 : (uint32_t)ms + 1;
}
