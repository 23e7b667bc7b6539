/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ametrics: the agent's Prometheus metrics: how long the backend takes to
 * read the site and how often it fails, holds made and refused, and how old
 * the last advertisement is. Rendered by the agent's loop once a second and
 * served by af_metrics.
 */
#ifndef AMETRICS_H
#define AMETRICS_H

#include "af_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ametrics;

/* listen "off" gives an ametrics that counts but serves nothing. */
struct ametrics *ametrics_create(const char *listen, char *ret_url, size_t size,
                                 struct af_error *err);
void ametrics_destroy(struct ametrics *m);

void ametrics_backend(struct ametrics *m, double seconds, bool ok);
void ametrics_advertised(struct ametrics *m, int64_t now_ms);
void ametrics_hold(struct ametrics *m, bool held);
void ametrics_publish(struct ametrics *m, const char *site, bool connected,
                      int64_t now_ms);

#endif
