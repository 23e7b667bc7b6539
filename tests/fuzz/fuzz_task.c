/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the task file parser (ctl/ctl_task.c), on what a user writes.
 * Each input is parsed from memory as a task file in a scratch directory,
 * so that its files: entries look for files there and find none.
 */
#include "ctl_task.h"
#include "ctl_workload.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ctl_workload a = {0};
    struct ctl_task *t;
    char why[1024];

    struct ctl_task_setter setter;

    ctl_workload_init(&a);
    setter = ctl_workload_setter(&a);
    t = ctl_task_parse("/nonexistent/task.yaml", (const char *)data, size, &setter, why,
                       sizeof(why));
    if (t) {
        /* What it kept must be whole strings within their bounds. */
        for (size_t i = 0; i < t->n_env; i++)
            if (!t->env[i].key[0])
                __builtin_trap();
        if (t->files_bytes > CTL_TASK_MAX_FILES_BYTES)
            __builtin_trap();
    } else if (!why[0]) {
        __builtin_trap(); /* a refusal always says why */
    }
    ctl_task_free(t);
    return 0;
}
