/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_workload: the workload options submit and explain share (--project,
 * --gpus, --accelerator, placement, data, preferences), into a protobuf
 * Workload whose strings and arrays live in struct ctl_workload.
 */
#ifndef CTL_WORKLOAD_H
#define CTL_WORKLOAD_H

#include "af_ids.h"
#include "ctl.h"
#include "ctl_task.h"

#include "aifed.pb-c.h"

#include <stdbool.h>

#define CTL_MAX_ITEMS 64

struct ctl_workload {
    Aifed__Workload w;
    char *countries[CTL_MAX_ITEMS];
    char country_buf[CTL_MAX_ITEMS][3];
    char *certs[CTL_MAX_ITEMS];
    char *sites[CTL_MAX_ITEMS]; /* --site, borrowed from the arguments */
    char site_buf[CTL_MAX_ITEMS][AF_ID_MAX + 1];
    Aifed__DataItem data[CTL_MAX_ITEMS];
    Aifed__DataItem *data_ptrs[CTL_MAX_ITEMS];
    char data_names[CTL_MAX_ITEMS][AF_ID_MAX + 1];
    Aifed__Weights weights;
    const char *request_id; /* --request-id (submit only) */
    struct ctl_task *task;  /* --task FILE, which the strings may point into */
};

/* An empty workload: 1h of walltime, nothing else asked. */
void ctl_workload_init(struct ctl_workload *a);

/* Set what the workload option opt (its short name: 'g' for --gpus) says
 * arg is; arg is borrowed and must outlive a. -1 with why (words without
 * the option's name: "'0' is not a count of 1 or more") when it is wrong. */
int ctl_workload_set(struct ctl_workload *a, int opt, const char *arg, char *why,
                     size_t size);
/* ctl_workload_set on a, as a task file's setter. */
struct ctl_task_setter ctl_workload_setter(struct ctl_workload *a);

/* What ctl_workload_parse() allows. */
#define CTL_WL_REQUEST_ID 1u /* --request-id (submit, run) */
#define CTL_WL_OPTIONAL   2u /* project and GPUs may be missing (a job in a lease) */

/* Parse argv into a. 0 to go on, -1 when --help was printed (exit 0), or
 * the exit status of bad usage. */
int ctl_workload_parse(const struct ctl_command *cmd, struct ctl *ctl, int argc,
                       char **argv, unsigned flags, struct ctl_workload *a);

#endif
