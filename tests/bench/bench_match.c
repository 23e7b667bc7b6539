/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_match: the matching engine on a large federation, on one core.
 * 1,000 sites x 8 pools, 10,000 random workloads. Prints the median and p99
 * microseconds per match and matches per second, twice: the engine alone
 * (its explanation is always complete: every site's verdict, failed
 * constraint and numbers), and again with every site's reason worded as
 * text, as `aifedctl explain` gets it. Figures only: it never fails on time.
 *
 *   bench_match [SITES [POOLS [WORKLOADS]]]
 */
#include "match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *models[] = {"H100", "A100", "MI250X", "MI300X", "GH200", "L40S"};
static char *certs[] = {"iso27001", "health-data", "ens-high", "tisax"};
static const char *countries[] = {"LU", "DE", "FI", "GR", "IT",
                                  "ES", "SE", "FR", "NL", "PL"};
static const char *datasets[] = {"eurlex",     "finnish-nlp", "industrial-vision",
                                 "llama3-70b", "italian-web", "genomes"};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

struct fed {
    struct match_site *sites;
    struct match_pool *pools;
    struct match_data *data;
    char (*ids)[32];
    size_t n_sites;
};

static void make_federation(struct fed *f, size_t n_sites, size_t n_pools)
{
    f->n_sites = n_sites;
    f->sites = calloc(n_sites, sizeof(*f->sites));
    f->pools = calloc(n_sites * n_pools, sizeof(*f->pools));
    f->data = calloc(n_sites * 6, sizeof(*f->data));
    f->ids = calloc(n_sites, sizeof(*f->ids));
    for (size_t i = 0; i < n_sites; i++) {
        struct match_site *s = &f->sites[i];
        size_t nd = (size_t)(rand() % 6);

        for (size_t j = 0; j < n_pools; j++) {
            struct match_pool *p = &f->pools[i * n_pools + j];
            uint32_t m = (uint32_t)(rand() % 6);

            p->name = "pool";
            p->accelerator = models[m];
            p->accel_id = m + 1;
            p->gpu_memory_gb = 40u * (1 + (uint32_t)(rand() % 3));
            p->gpus_per_node = 4u * (1 + (uint32_t)(rand() % 2));
            p->nodes_total = 8 + (uint32_t)(rand() % 500);
            p->gpus_total = p->gpus_per_node * p->nodes_total;
            p->gpus_available = (uint32_t)rand() % (p->gpus_total + 1);
            p->cpus_per_node = 32u * (1 + (uint32_t)(rand() % 4));
            p->memory_per_node_gb = 256u * (1 + (uint32_t)(rand() % 4));
            p->max_walltime_s = 3600u * (12 + (uint32_t)(rand() % 60));
            p->queue_wait_s = (uint32_t)(rand() % 7200);
        }
        for (size_t d = 0; d < nd; d++)
            f->data[i * 6 + d] =
                (struct match_data){rand() % 3, datasets[rand() % 6],
                                    (uint64_t)(rand() % 1000) * 1000000000ULL};
        snprintf(f->ids[i], sizeof(f->ids[i]), "site-%04zu", i);
        *s = (struct match_site){
            .id = f->ids[i],
            .country = match_country(countries[rand() % 10]),
            .up = rand() % 20 != 0,
            .drained = rand() % 50 == 0,
            .certifications = &certs[rand() % 3],
            .n_certifications = (size_t)(rand() % 2),
            .price_per_gpu_hour = 1.0 + (rand() % 300) / 100.0,
            .carbon_g_per_kwh = (uint32_t)(rand() % 500),
            .data = &f->data[i * 6],
            .n_data = nd,
            .pools = &f->pools[i * n_pools],
            .n_pools = n_pools,
            .project_share = 1.0,
        };
    }
}

/* A random workload; its arrays live in the statics of this function. */
static struct match_workload random_workload(void)
{
    static uint16_t allow[3];
    static char *need_cert[1];
    static struct match_data need[2];
    struct match_workload w = {
        .gpus = 1 + (uint32_t)(rand() % 64),
        .walltime_s = 600u * (1 + (uint32_t)(rand() % 144)),
        .now_ms = 1800000000000LL,
        .fair_share_floor = 0.25,
        .weights = match_weights_for(rand() % 5),
    };

    if (rand() % 2) {
        uint32_t m = (uint32_t)(rand() % 6);
        w.accel_id = m + 1;
        w.accelerator = models[m];
    }
    if (rand() % 3 == 0)
        w.gpu_memory_gb = 80;
    if (rand() % 10 < 3) {
        for (int i = 0; i < 3; i++)
            allow[i] = match_country(countries[rand() % 10]);
        w.countries = allow;
        w.n_countries = 3;
    }
    if (rand() % 5 == 0) {
        need_cert[0] = certs[rand() % 3];
        w.certifications = need_cert;
        w.n_certifications = 1;
    }
    if (rand() % 5 == 0) {
        need[0] = (struct match_data){rand() % 3, datasets[rand() % 6], 0};
        need[1] = (struct match_data){0, "private-set", 50000000000ULL};
        w.data = need;
        w.n_data = 2;
    }
    return w;
}

static void run(const struct fed *f, size_t n, bool word, unsigned seed)
{
    uint64_t *t = calloc(n, sizeof(*t)), total = 0;
    size_t chosen = 0;
    char reason[256];

    srand(seed); /* the same workloads for both runs */
    for (size_t i = 0; i < n; i++) {
        struct match_workload w = random_workload();
        struct match_result r;
        uint64_t t0 = now_ns();

        if (match_run(&w, f->sites, f->n_sites, &r) < 0) {
            perror("match_run");
            exit(1);
        }
        if (word)
            for (size_t k = 0; k < r.n; k++)
                match_reason(&w, f->sites, &r.candidates[k], reason, sizeof(reason));
        t[i] = now_ns() - t0;
        total += t[i];
        chosen += r.chosen != MATCH_NONE;
        match_result_free(&r);
    }
    qsort(t, n, sizeof(*t), cmp_u64);
    printf(
        "%-34s median %7.1f us   p99 %7.1f us   %8.0f matches/s   (%zu of %zu placed)\n",
        word ? "engine + every reason worded:" : "engine, full structured explanation:",
        t[n / 2] / 1000.0, t[n * 99 / 100] / 1000.0, n / (total / 1e9), chosen, n);
    free(t);
}

int main(int argc, char **argv)
{
    size_t sites = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    size_t pools = argc > 2 ? strtoul(argv[2], NULL, 10) : 8;
    size_t n = argc > 3 ? strtoul(argv[3], NULL, 10) : 10000;
    struct fed f;

    if (!sites || !pools || !n) {
        fprintf(stderr, "usage: bench_match [SITES [POOLS [WORKLOADS]]]\n");
        return 2;
    }
    srand(42);
    make_federation(&f, sites, pools);
    printf("match: %zu sites x %zu pools, %zu random workloads, one core\n", sites, pools,
           n);
    run(&f, n, false, 7);
    run(&f, n, true, 7);
    printf("target (issue 3): median <= 50 us and >= 20,000 matches/s\n");
    free(f.sites);
    free(f.pools);
    free(f.data);
    free(f.ids);
    return 0;
}
