/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_login: aifedctl login (an EuroHPC SSH certificate) and logout. */
#ifndef CTL_LOGIN_H
#define CTL_LOGIN_H

#include "ctl.h"

int ctl_cmd_login(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);
int ctl_cmd_logout(struct ctl *ctl, const struct ctl_command *cmd, int argc, char **argv);

#endif
