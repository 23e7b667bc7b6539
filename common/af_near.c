/* SPDX-License-Identifier: Apache-2.0 */
/* af_near: nearest names, by edit distance. */
#include "af_near.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

size_t af_near_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[64];

    if (la >= 63 || lb >= 63)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (tolower((unsigned char)a[i - 1]) !=
                                               tolower((unsigned char)b[j - 1]));
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

void af_near_list(const char *name, const char *const *v, size_t n, size_t max, char *buf,
                  size_t size)
{
    size_t shown = 0, at = 0;

    buf[0] = '\0';
    /* Distances are small: pass over them in rising order. */
    for (size_t d = 0; d <= 64 && shown < max; d++)
        for (size_t i = 0; i < n && shown < max; i++) {
            size_t k = 0, di = af_near_distance(name, v[i]);

            if ((d < 64 ? di != d : di < 64) || at >= size)
                continue;
            while (k < i && strcasecmp(v[k], v[i]))
                k++;
            if (k < i)
                continue; /* said already */
            at += (size_t)snprintf(buf + at, size - at, "%s%s", shown ? ", " : "", v[i]);
            shown++;
        }
}

void af_near_unknown(const char *what, const char *name, const char *const *v, size_t n,
                     char *buf, size_t size)
{
    char near[512];

    af_near_list(name, v, n, 8, near, sizeof(near));
    snprintf(buf, size, "no site offers %s %s%s%s", what, name,
             n ? "; known: " : " (no site offers any)", near);
}
