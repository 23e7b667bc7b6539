/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_error: an error a person must read (config lines, decoding, ctl replies).
 * Filled and returned in one step, so a failing call reads
 *     return af_error_set(err, "%s:%d: unknown key '%s'", file, line, key);
 */
#ifndef AF_ERROR_H
#define AF_ERROR_H

struct af_error {
    char text[160];
};

/* Format into err (if not NULL). errno is preserved. */
void af_error_fill(struct af_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* af_error_fill, then -1: a macro, so that every caller (and the static
 * analyzer) sees the -1 without looking into another file. */
#define af_error_set(err, ...)                                                           \
    __extension__({                                                                      \
        af_error_fill((err), __VA_ARGS__);                                               \
        -1;                                                                              \
    })

#endif
