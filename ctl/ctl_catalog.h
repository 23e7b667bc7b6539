/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_catalog: catalog, gpus, templates, template show, admin template. */
#ifndef CTL_CATALOG_H
#define CTL_CATALOG_H

#include "ctl.h"

struct Aifed__Envelope;

int ctl_cmd_catalog(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                    char **argv);
int ctl_cmd_gpus(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);
int ctl_cmd_templates(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                      char **argv);
int ctl_cmd_template(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                     char **argv);
/* admin template add FILE | remove NAME | list (argv[0] is "template"). */
int ctl_admin_template(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                       char **argv);

/* The template called name, in full (af_wire_free the reply), or NULL after
 * saying why, with *ret_exit. */
struct Aifed__Envelope *ctl_template_get(const struct ctl *ctl, const char *name,
                                         int *ret_exit);

#endif
