/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_yaml: YAML that someone else wrote (a template from a site or an
 * admin, a user's task file), checked as a stream of events before it is
 * loaded into a document. Anchors and aliases are refused: an alias cycle
 * makes the loaded graph a loop (a walker never ends, or overflows its
 * stack), and a few hundred bytes of nested aliases expand into billions
 * of nodes. Nesting and the number of events are bounded, so that what is
 * loaded has a size the text's length bounds. A value holding a NUL byte
 * ("\0") is refused: C would cut it there.
 */
#ifndef AF_YAML_H
#define AF_YAML_H

#include "af_error.h"

#include <stddef.h>

#define AF_YAML_MAX_DEPTH  32     /* mappings and sequences inside each other */
#define AF_YAML_MAX_EVENTS 100000 /* scalars, mappings and sequences in all */

/* 0 when text (len bytes) is YAML without anchors or aliases, within the
 * bounds; -1 with err ("line 4: an alias (*t): ...", or the parser's own
 * complaint with its line). */
int af_yaml_plain(const char *text, size_t len, struct af_error *err);

#endif
