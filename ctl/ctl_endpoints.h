/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_endpoints: served models (docs/inference.md): endpoints, endpoint
 * show|scale|delete, and how an endpoint is shown (serve's answer too).
 */
#ifndef CTL_ENDPOINTS_H
#define CTL_ENDPOINTS_H

#include "ctl.h"

#include <stdbool.h>

struct Aifed__Envelope;

/* An EndpointReply, as a block for people or as JSON: 0. */
int ctl_endpoints_show(const struct Aifed__Envelope *rep, bool json);

int ctl_cmd_endpoints(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                      char **argv);
int ctl_cmd_endpoint(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                     char **argv);

#endif
