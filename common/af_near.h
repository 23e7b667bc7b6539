/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_near: the names nearest to one a user mistyped ("did you mean", and
 * "no site offers H200; known: A100, H100, MI250X"): edit distance, without
 * regard to case.
 */
#ifndef AF_NEAR_H
#define AF_NEAR_H

#include <stddef.h>

/* Edits (insert, delete, change a letter) from a to b; SIZE_MAX past 62
 * characters. */
size_t af_near_distance(const char *a, const char *b);

/* Into buf, ", "-separated: at most max of the n names in v, nearest to
 * name first (ties in v's order), each once. */
void af_near_list(const char *name, const char *const *v, size_t n, size_t max, char *buf,
                  size_t size);

/* Into buf: "no site offers WHAT NAME; known: A, B, C", the known the 8
 * nearest of the n in v (or "(no site offers any)"): the one wording the
 * broker and aifedctl give a name nobody has. */
void af_near_unknown(const char *what, const char *name, const char *const *v, size_t n,
                     char *buf, size_t size);

#endif
