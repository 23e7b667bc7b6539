/* SPDX-License-Identifier: Apache-2.0 */
/* af_ids: validation and generation of ids (see af_ids.h for the rule). */
#include "af_ids.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static bool id_char(char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return !first && (c == '.' || c == '_' || c == '-');
}

bool af_id_valid(const char *s)
{
    size_t n;

    if (!s)
        return false;
    n = strlen(s);
    if (n == 0 || n > AF_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!id_char(s[i], i == 0))
            return false;
    return true;
}

void af_id_new(const char *prefix, char *buf, size_t size)
{
    unsigned char raw[8];
    char hex[sizeof(raw) * 2 + 1];
    struct timespec ts;
    uint64_t ms;

    clock_gettime(CLOCK_REALTIME, &ts);
    ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    snprintf(buf, size, "%s-%012" PRIx64 "%s", prefix, ms & UINT64_C(0xffffffffffff),
             hex);
}
