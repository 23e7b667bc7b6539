/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_task: a task file (YAML, docs/task-file.md): what a job needs, where
 * it may run, and what it runs. What it asks of a site goes through the
 * setter it is handed, which for aifedctl is submit's flags' own
 * (ctl_workload_set), so every flag has its field, a field says what its
 * flag says, and a flag given as well wins. The parser knows nothing of the
 * options beyond that setter.
 * Errors name the file, line and column, and the field.
 *
 * What the job runs (image, env, setup, run, files) is kept for the job
 * commands and checked here against the bounds a broker will hold it to.
 */
#ifndef CTL_TASK_H
#define CTL_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a field reaches the workload: set(arg, option, value) as the
 * option's flag would (ctl_opts' ids), 0 or -1 with why. */
struct ctl_task_setter {
    int (*set)(void *arg, int opt, const char *value, char *why, size_t size);
    void *arg;
};

/* Bounds on what a task may carry along (and a broker will be asked to). */
#define CTL_TASK_MAX_BYTES       (256 * 1024) /* the task file itself */
#define CTL_TASK_MAX_SCRIPT      (64 * 1024)  /* setup, run */
#define CTL_TASK_MAX_ENV         64
#define CTL_TASK_MAX_VALUE       4096         /* one env value */
#define CTL_TASK_MAX_FILES       16           /* AF_WIRE_MAX_FILES */
#define CTL_TASK_MAX_FILES_BYTES (256 * 1024) /* all together: AF_WIRE_MAX_FILES_SIZE */

struct ctl_task_env {
    char *key, *value;
    bool secret; /* from secrets: its value is never shown back */
};

struct ctl_task_file {
    char *name; /* in the job's directory: relative, no "..", no "//" */
    char *path; /* here: as found from the task file's directory */
    uint64_t bytes;
};

/* A served model's service: section (docs/inference.md): how its replicas
 * are reached, checked and scaled. given: the task has one. */
struct ctl_task_service {
    bool given;
    uint32_t port;    /* 0: the site picks one (AIFED_PORT) */
    char *probe_path; /* NULL: "/" */
    uint32_t probe_delay_s, probe_timeout_s;
    uint32_t min, max; /* replicas */
    int metric;        /* Aifed__ScaleMetric */
    double target;
    uint32_t scale_down_delay_s;
};

struct ctl_task {
    char *path;
    struct ctl_task_service service;
    char *name, *image, *setup, *run; /* NULL when not given */
    struct ctl_task_env env[CTL_TASK_MAX_ENV];
    size_t n_env;
    struct ctl_task_file files[CTL_TASK_MAX_FILES];
    size_t n_files;
    uint64_t files_bytes;
    char **strs; /* every string the workload borrows, freed with the task */
    size_t n_strs, cap_strs;
};

/* Read path through setter and into a new task. NULL with why
 * ("task.yaml:4:10: resources.gpus: '0' is not a count of 1 or more"). */
struct ctl_task *ctl_task_load(const char *path, const struct ctl_task_setter *setter,
                               char *why, size_t size);

/* The same from a buffer (path names it in errors; files are looked for
 * relative to its directory). */
struct ctl_task *ctl_task_parse(const char *path, const char *buf, size_t len,
                                const struct ctl_task_setter *setter, char *why,
                                size_t size);

void ctl_task_free(struct ctl_task *t);

/* A replica count as a user writes it: "2" (exactly), "1..4" or "0..2"
 * (dstack's form), at most AF_WIRE_MAX_REPLICAS. 0, or -1 with why. */
int ctl_task_replicas(const char *s, uint32_t *min, uint32_t *max, char *why,
                      size_t size);

#endif
