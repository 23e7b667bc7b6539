/* SPDX-License-Identifier: Apache-2.0 */
/*
 * slurm_parse: what the Slurm backend reads, turned into plain structs. Pure
 * functions over the commands' output, so the tests can feed them recorded
 * answers. Slurm 22.05 (Debian 12) prints nodes and jobs as JSON
 * (`sinfo --json`, `squeue --json`); partitions and reservations only as
 * `scontrol --oneliner` KEY=VALUE records, its machine-readable form there.
 */
#ifndef SLURM_PARSE_H
#define SLURM_PARSE_H

#include "af_error.h"
#include "af_ids.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLURM_NAME_MAX   64
#define SLURM_NODE_PARTS 8

struct slurm_node {
    char name[SLURM_NAME_MAX + 1];
    char addr[SLURM_NAME_MAX + 1]; /* its NodeAddr, where a replica is reached */
    char partitions[SLURM_NODE_PARTS][SLURM_NAME_MAX + 1];
    size_t n_partitions;
    char gpu_type[SLURM_NAME_MAX + 1]; /* "a100", or "" for untyped GRES */
    uint32_t gpus, gpus_used;
    uint32_t cpus;
    uint64_t memory_mb;
    bool usable;    /* up, not drained, down, failing or in maintenance */
    bool reserved;  /* in a reservation that is active now */
    char state[64]; /* "idle+DRAIN", for the log */
};

struct slurm_job {
    uint32_t id;
    char state[24];                /* "RUNNING", "COMPLETED", ... */
    char resv[SLURM_NAME_MAX + 1]; /* the reservation it runs in, or "" */
    int64_t start_s, end_s;        /* epoch seconds; 0 when not known */
    uint32_t gpus;                 /* for the whole job */
    char name[SLURM_NAME_MAX + 1]; /* aifed's jobs: "aifed-<job id>" */
    char user[SLURM_NAME_MAX + 1];
    char node[SLURM_NAME_MAX + 1]; /* the first node it runs on, or "" */
    int exit_code;                 /* its script's, once ended */
    int signal;                    /* what killed it, or 0 */
};

struct slurm_part {
    char name[SLURM_NAME_MAX + 1];
    uint32_t max_time_s; /* 0: unlimited */
    bool up;
};

struct slurm_resv {
    char name[SLURM_NAME_MAX + 1];
    char partition[SLURM_NAME_MAX + 1];
    int64_t start_ms, end_ms;
    uint32_t nodes;
    bool maint;  /* Flags include MAINT */
    bool active; /* State=ACTIVE */
};

/* `sinfo --json`: the nodes, in *nodes (caller frees). */
int slurm_parse_nodes(const char *json, struct slurm_node **nodes, size_t *n,
                      struct af_error *err);

/* `squeue --json`: every job slurmctld still remembers, in *jobs. */
int slurm_parse_jobs(const char *json, struct slurm_job **jobs, size_t *n,
                     struct af_error *err);

/* The first host of a Slurm host list ("gpu[03-04],cpu1" is gpu03) into
 * buf, "" when there is none. */
void slurm_first_host(const char *list, char *buf, size_t size);

/* `scontrol --oneliner show partition`, one record per line. */
int slurm_parse_partitions(const char *text, struct slurm_part **parts, size_t *n,
                           struct af_error *err);

/* `scontrol --oneliner show reservation`; "No reservations" gives none. */
int slurm_parse_reservations(const char *text, struct slurm_resv **resv, size_t *n,
                             struct af_error *err);

/* A GRES string "gpu:a100:4(S:0),nic:1": the GPUs in it and their type (the
 * first type named). Used counts read the same ("gpu:a100:2(IDX:0-1)"). */
uint32_t slurm_gres_gpus(const char *gres, char *type, size_t type_size);

/* "2-00:00:00", "1:30:00", "30:00", "45" (minutes), "UNLIMITED" -> seconds
 * (0 for unlimited); -1 when it is none of them. */
int64_t slurm_duration_s(const char *s);

/* "2026-11-24T21:47:02" in the local time zone, as Slurm prints it. */
int slurm_time_ms(const char *s, int64_t *ms);

/* `sbatch --test-only` says "... to start at 2026-11-24T21:47:02 using ...". */
int slurm_test_only_start(const char *text, int64_t *ms);

#endif
