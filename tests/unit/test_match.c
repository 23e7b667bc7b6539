/* SPDX-License-Identifier: Apache-2.0 */
/*
 * match: each constraint and its reason, each score part, the preference
 * weights, and properties over random fixtures (never an infeasible choice,
 * deterministic, the chosen site has the best score, ranks follow scores).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "af_wire.h"
#include "match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW    1800000000000LL /* a fixed "now", so times in reasons are stable */
#define H100   1
#define A100   2
#define MI250X 3

static const struct match_pool h100 = {.name = "gpu",
                                       .accelerator = "H100",
                                       .accel_id = H100,
                                       .gpu_memory_gb = 80,
                                       .gpus_per_node = 4,
                                       .nodes_total = 10,
                                       .gpus_total = 40,
                                       .gpus_available = 16,
                                       .cpus_per_node = 64,
                                       .memory_per_node_gb = 512,
                                       .max_walltime_s = 86400,
                                       .queue_wait_s = 600};

static struct match_site site1(const struct match_pool *p)
{
    return (struct match_site){.id = "site",
                               .country = match_country("DE"),
                               .up = true,
                               .pools = p,
                               .n_pools = 1,
                               .price_per_gpu_hour = 2.0,
                               .carbon_g_per_kwh = 300};
}

static struct match_workload wl(uint32_t gpus)
{
    return (struct match_workload){.gpus = gpus,
                                   .walltime_s = 3600,
                                   .now_ms = NOW,
                                   .fair_share_floor = 0.25,
                                   .weights = match_weights_for(0)};
}

/* Run one site; it must be rejected with exactly this reason. */
static void expect_reject(const struct match_workload *w, const struct match_site *s,
                          enum match_check check, const char *reason)
{
    struct match_result r;
    char buf[256];

    assert_int_equal(match_run(w, s, 1, &r), 0);
    assert_int_equal(r.chosen, MATCH_NONE);
    assert_int_equal(r.candidates[0].verdict, MATCH_REJECTED);
    assert_int_equal(r.candidates[0].rank, 0);
    assert_int_equal(r.candidates[0].failed, check);
    match_reason(w, s, &r.candidates[0], buf, sizeof(buf));
    assert_string_equal(buf, reason);
    match_result_free(&r);
}

static void site_constraints(void **state)
{
    struct match_workload w = wl(8);
    struct match_site s = site1(&h100);
    uint16_t lu[] = {match_country("LU")};
    char *certs[] = {"health-data"};
    char *have[] = {"iso27001"};
    const char *tried[] = {"site"};
    struct match_alloc little = {.remaining_gpu_s = 7200};

    (void)state;
    s.up = false;
    expect_reject(&w, &s, MATCH_DOWN, "site is DOWN (no recent advertisement)");
    s.unheard = true;
    expect_reject(&w, &s, MATCH_DOWN, "site not heard from yet since the broker started");
    s.unheard = false;
    s.up = true;
    s.drained = true;
    expect_reject(&w, &s, MATCH_DRAINED, "site is drained: it takes no new work");
    s.drained = false;
    w.countries = lu;
    w.n_countries = 1;
    expect_reject(&w, &s, MATCH_COUNTRY, "site is in DE, workload allows only LU");
    w.n_countries = 0;
    w.certifications = certs;
    w.n_certifications = 1;
    s.certifications = have;
    s.n_certifications = 1;
    expect_reject(&w, &s, MATCH_CERTIFICATION,
                  "site lacks the health-data certification");
    w.n_certifications = 0;
    w.exclude = tried;
    w.n_exclude = 1;
    expect_reject(&w, &s, MATCH_TRIED, "site already refused this lease");
    w.n_exclude = 0;
    s.no_account = true;
    expect_reject(&w, &s, MATCH_NO_ACCOUNT,
                  "no account here for you or the project (the site's user map has "
                  "neither: its admins add one)");
    s.no_account = false;
    w.require_allocation = true;
    expect_reject(&w, &s, MATCH_NO_ALLOCATION, "project has no allocation at this site");
    s.alloc = &little;
    expect_reject(&w, &s, MATCH_ALLOCATION_LOW,
                  "needs 8.0 GPU-hours, the project has 2.0 left here");
}

static void pool_constraints(void **state)
{
    struct match_workload w = wl(8);
    struct match_pool p = h100;
    struct match_site s = site1(&p);
    struct match_window maint = {NOW + 1800 * 1000, NOW + 7200 * 1000};
    struct match_alloc ends = {.remaining_gpu_s = 1000000, .end_ms = NOW + 3600 * 1000};

    (void)state;
    w.accel_id = MI250X;
    w.accelerator = "MI250X";
    expect_reject(&w, &s, MATCH_ACCELERATOR, "pool gpu has H100, needs MI250X");
    w.accel_id = H100;
    w.gpu_memory_gb = 96;
    expect_reject(&w, &s, MATCH_GPU_MEMORY, "pool gpu has 80 GB per GPU, needs 96 GB");
    w.gpu_memory_gb = 0;
    w.cpus_per_node = 128;
    expect_reject(&w, &s, MATCH_CPUS, "pool gpu has 64 CPUs per node, needs 128");
    w.cpus_per_node = 0;
    w.memory_per_node_gb = 1024;
    expect_reject(&w, &s, MATCH_NODE_MEMORY,
                  "pool gpu has 512 GB per node, needs 1024 GB");
    w.memory_per_node_gb = 0;
    w.nodes = 11;
    expect_reject(&w, &s, MATCH_NODES, "needs 11 nodes, pool gpu has 10");
    w.nodes = 1;
    expect_reject(&w, &s, MATCH_SHAPE,
                  "8 GPUs do not fit on 1 nodes of pool gpu (4 GPUs)");
    w.nodes = 0;
    w.walltime_s = 2 * 86400;
    expect_reject(&w, &s, MATCH_WALLTIME, "walltime 2d exceeds pool gpu limit of 1d");
    w.walltime_s = 3600;
    w.gpus = 17;
    expect_reject(&w, &s, MATCH_CAPACITY, "needs 17 x H100, pool gpu has 16 available");
    w.gpus = 8;
    w.start_by_ms = NOW + 300 * 1000;
    expect_reject(&w, &s, MATCH_DEADLINE,
                  "pool gpu starts in 10m, the workload must start within 5m");
    w.start_by_ms = 0;
    s.maintenance = &maint;
    s.n_maintenance = 1;
    expect_reject(
        &w, &s, MATCH_MAINTENANCE,
        "maintenance from 2027-01-15T08:30:00Z to 2027-01-15T10:00:00Z overlaps "
        "the run");
    s.n_maintenance = 0;
    s.alloc = &ends;
    expect_reject(
        &w, &s, MATCH_ALLOCATION_ENDS,
        "the project's allocation here ends 2027-01-15T09:00:00Z, before the run "
        "would");
    /* The latest start the wire lets through: its sums do not wrap (UBSan
     * would say so), and the allocation still ends before the run. */
    w.not_before_ms = AF_WIRE_MAX_TIME_MS;
    expect_reject(
        &w, &s, MATCH_ALLOCATION_ENDS,
        "the project's allocation here ends 2027-01-15T09:00:00Z, before the run "
        "would");
}

static void start_estimates_by_size(void **state)
{
    struct match_start starts[] = {{8, 60}, {32, 7200}};
    struct match_pool p = h100;
    struct match_site s = site1(&p);
    struct match_workload w = wl(8);
    struct match_result r;

    (void)state;
    p.starts = starts;
    p.n_starts = 2;
    assert_int_equal(match_run(&w, &s, 1, &r), 0);
    assert_int_equal(r.candidates[0].parts.start_in_s, 60);
    match_result_free(&r);
    w.gpus = 16; /* larger than the first estimate: the 32-GPU one applies */
    assert_int_equal(match_run(&w, &s, 1, &r), 0);
    assert_int_equal(r.candidates[0].parts.start_in_s, 7200);
    match_result_free(&r);
    /* not_before later than the wait: the start is not_before. */
    w.gpus = 8;
    w.not_before_ms = NOW + 3600 * 1000;
    assert_int_equal(match_run(&w, &s, 1, &r), 0);
    assert_int_equal(r.candidates[0].parts.start_in_s, 3600);
    match_result_free(&r);
}

/* Any of several accelerators: a pool of one of them passes, another
 * does not. */
static void any_of_accelerators(void **state)
{
    static const uint32_t ids[] = {A100, H100};
    struct match_pool p = h100;
    struct match_site s = site1(&p);
    struct match_workload w = wl(8);
    struct match_result r;

    (void)state;
    w.accel_ids = ids;
    w.n_accel_ids = 2;
    assert_int_equal(match_run(&w, &s, 1, &r), 0);
    assert_int_equal(r.chosen, 0);
    match_result_free(&r);
    p.accel_id = MI250X;
    p.accelerator = "MI250X";
    assert_int_equal(match_run(&w, &s, 1, &r), 0);
    assert_int_equal(r.chosen, MATCH_NONE);
    assert_int_equal(r.candidates[0].failed, MATCH_ACCELERATOR);
    match_result_free(&r);
}

/* may_queue: a pool without the GPUs free now is feasible when it says
 * when a workload of this size would start; the start is that estimate and
 * it strands nothing. Without an estimate, or without may_queue, it is
 * refused for capacity, as the broker does. */
static void a_workload_may_queue_where_a_start_is_estimated(void **state)
{
    struct match_start starts[] = {{32, 900}};
    struct match_pool p = h100;
    struct match_site s = site1(&p);
    struct match_workload w = wl(24); /* 16 available */
    struct match_result r;

    (void)state;
    p.starts = starts;
    p.n_starts = 1;
    assert_int_equal(match_run(&w, &s, 1, &r), 0);
    assert_int_equal(r.candidates[0].failed, MATCH_CAPACITY);
    match_result_free(&r);
    w.may_queue = true;
    assert_int_equal(match_run(&w, &s, 1, &r), 0);
    assert_int_equal(r.chosen, 0);
    assert_int_equal(r.candidates[0].parts.start_in_s, 900);
    assert_true(r.candidates[0].parts.stranded == 0);
    match_result_free(&r);
    p.n_starts = 0;
    assert_int_equal(match_run(&w, &s, 1, &r), 0);
    assert_int_equal(r.candidates[0].failed, MATCH_CAPACITY);
    match_result_free(&r);
}

/* A start now wins over a queue, however much cheaper and greener the
 * queue's site: the queues are asked only when nothing is free. */
static void a_start_now_comes_before_any_queue(void **state)
{
    struct match_start soon[] = {{32, 60}};
    struct match_pool busy = h100, free_now = h100;
    struct match_site sites[2] = {site1(&busy), site1(&free_now)};
    struct match_workload w = wl(24);
    struct match_result r;

    (void)state;
    busy.gpus_available = 0;
    busy.starts = soon;
    busy.n_starts = 1;
    free_now.gpus_available = 32;
    sites[0].id = "cheap-green";
    sites[0].price_per_gpu_hour = 0.5;
    sites[0].carbon_g_per_kwh = 10;
    sites[1].id = "dear";
    sites[1].price_per_gpu_hour = 9;
    sites[1].carbon_g_per_kwh = 900;
    w.may_queue = true;
    assert_int_equal(match_run(&w, sites, 2, &r), 0);
    assert_int_equal(r.chosen, 1);
    assert_int_equal(r.candidates[0].failed, MATCH_CAPACITY);
    match_result_free(&r);
    free_now.gpus_available = 8; /* nothing free for 24 anywhere: the queue */
    assert_int_equal(match_run(&w, sites, 2, &r), 0);
    assert_int_equal(r.chosen, 0);
    assert_int_equal(r.candidates[0].parts.start_in_s, 60);
    match_result_free(&r);
}

static void score_parts(void **state)
{
    struct match_pool p = h100;
    struct match_site s = site1(&p);
    struct match_data held[] = {{0, "eurlex", 100}};
    struct match_data need[] = {{0, "eurlex", 0}, {1, "llama", 5000000000ULL}};
    struct match_workload w = wl(8);
    struct match_result r;
    char buf[256];

    (void)state;
    s.data = held;
    s.n_data = 1;
    w.data = need;
    w.n_data = 2;
    w.walltime_s = 7200;
    assert_int_equal(match_run(&w, &s, 1, &r), 0);
    assert_int_equal(r.chosen, 0);
    assert_int_equal(r.candidates[0].parts.start_in_s, 600);
    assert_true(r.candidates[0].parts.cost_eur == 2.0 * 8 * 2); /* EUR/GPU-h */
    assert_true(r.candidates[0].parts.carbon_kg == 300 * 8 * 0.7 * 2 / 1000.0);
    assert_int_equal(r.candidates[0].parts.bytes_to_move, 5000000000ULL); /* only llama */
    assert_true(r.candidates[0].parts.stranded == 0.5); /* 8 of 16 left */
    match_reason(&w, &s, &r.candidates[0], buf, sizeof(buf));
    assert_string_equal(buf,
                        "pool gpu: starts in 10m; 16 of 40 H100 available; EUR 32; 3 "
                        "kg CO2; holds eurlex (100 B); moves 5.0 GB");
    /* Held whole, it says so: nothing moves. */
    s.data = need;
    s.n_data = 2;
    match_result_free(&r);
    assert_int_equal(match_run(&w, &s, 1, &r), 0);
    match_reason(&w, &s, &r.candidates[0], buf, sizeof(buf));
    assert_non_null(strstr(buf, "holds eurlex, llama (5.0 GB); moves nothing"));
    match_result_free(&r);
    /* Sizes whose sum passes 64 bits: the sum saturates, and a site that
     * holds neither never "moves nothing". */
    need[0].size_bytes = need[1].size_bytes = 1ULL << 63;
    s.n_data = 0;
    assert_int_equal(match_run(&w, &s, 1, &r), 0);
    assert_true(r.candidates[0].parts.bytes_to_move == UINT64_MAX);
    match_reason(&w, &s, &r.candidates[0], buf, sizeof(buf));
    assert_null(strstr(buf, "moves nothing"));
    match_result_free(&r);
}

/* Four sites that each win on exactly one part: the preference decides. */
static void preference_picks_the_part(void **state)
{
    struct match_pool p[4] = {h100, h100, h100, h100};
    struct match_site s[4];
    struct match_data held[] = {{0, "corpus", 0}};
    struct match_data need[] = {{0, "corpus", 900000000000ULL}};
    struct match_workload w = wl(8);
    /* balanced (a four-way tie: input order), time, cost, green, local */
    const char *want[] = {"fast", "fast", "cheap", "green", "local"};

    (void)state;
    for (int i = 0; i < 4; i++) {
        s[i] = site1(&p[i]);
        p[i].queue_wait_s = 3600;
        s[i].price_per_gpu_hour = 3.0;
        s[i].carbon_g_per_kwh = 400;
    }
    s[0].id = "fast";
    p[0].queue_wait_s = 0;
    s[1].id = "cheap";
    s[1].price_per_gpu_hour = 1.0;
    s[2].id = "green";
    s[2].carbon_g_per_kwh = 20;
    s[3].id = "local";
    s[3].data = held;
    s[3].n_data = 1;
    w.data = need;
    w.n_data = 1;
    for (int prefer = 0; prefer <= 4; prefer++) {
        struct match_result r;

        w.weights = match_weights_for(prefer);
        assert_int_equal(match_run(&w, s, 4, &r), 0);
        assert_string_equal(s[r.chosen].id, want[prefer]);
        match_result_free(&r);
    }
    /* Explicit weights replace the preference's. */
    {
        struct match_result r;
        w.weights = (struct match_weights){0, 0, 0, 1, 0};
        assert_int_equal(match_run(&w, s, 4, &r), 0);
        assert_string_equal(s[r.chosen].id, "local");
        match_result_free(&r);
    }
}

static void fair_share_on_contended_sites(void **state)
{
    struct match_pool p = h100; /* 40 GPUs, 16 available */
    struct match_site s = site1(&p);
    struct match_workload w = wl(8);
    struct match_result r;

    (void)state;
    s.shared = true;
    s.project_share = 0.25; /* 10 of 40 GPUs */
    s.project_gpus_open = 4;
    /* 16 - 8 = 8 free after: below 25% of 40, so contended; 4 + 8 > 10. */
    expect_reject(
        &w, &s, MATCH_FAIR_SHARE,
        "site is contended and the project holds 4 GPUs here; its fair share is 10");
    /* Within its share it may. */
    w.gpus = 6;
    assert_int_equal(match_run(&w, &s, 1, &r), 0);
    assert_int_equal(r.chosen, 0);
    match_result_free(&r);
    /* On an idle site a project may use more than its share. */
    p.gpus_available = 40;
    w.gpus = 16;
    assert_int_equal(match_run(&w, &s, 1, &r), 0);
    assert_int_equal(r.chosen, 0);
    match_result_free(&r);
}

static void nearest_miss_is_reported(void **state)
{
    /* Pool a fails on the model, pool b only on capacity: b is the reason. */
    struct match_pool pools[2] = {h100, h100};
    struct match_site s = site1(pools);
    struct match_workload w = wl(20);
    struct match_result r;
    char buf[256];

    (void)state;
    s.n_pools = 2;
    pools[0].name = "a";
    pools[0].accel_id = A100;
    pools[1].name = "b";
    w.accel_id = H100;
    assert_int_equal(match_run(&w, &s, 1, &r), 0);
    assert_int_equal(r.candidates[0].pool, 1);
    match_reason(&w, &s, &r.candidates[0], buf, sizeof(buf));
    assert_string_equal(buf, "needs 20 x H100, pool b has 16 available");
    match_result_free(&r);
}

static void ties_break_by_input_order(void **state)
{
    struct match_site s[3] = {site1(&h100), site1(&h100), site1(&h100)};
    struct match_workload w = wl(4);
    struct match_result r;

    (void)state;
    s[0].id = "a";
    s[1].id = "b";
    s[2].id = "c";
    assert_int_equal(match_run(&w, s, 3, &r), 0);
    assert_int_equal(r.chosen, 0);
    assert_int_equal(r.candidates[1].rank, 2);
    assert_int_equal(r.candidates[2].rank, 3);
    match_result_free(&r);
}

/* Scores that agree in their first 32 bits still rank by their exact value:
 * the sort orders by the top bits first and settles such runs after. */
static void near_scores_rank_exactly(void **state)
{
    struct match_site s[4] = {site1(&h100), site1(&h100), site1(&h100), site1(&h100)};
    struct match_workload w = wl(4);
    struct match_result r;

    (void)state;
    w.weights = (struct match_weights){.cost = 1};
    s[0].price_per_gpu_hour = 2.0 + 2e-12; /* cost part 0.5 + 1e-12 */
    s[1].price_per_gpu_hour = 2.0 + 1e-12; /* cost part 0.5 + 0.5e-12 */
    s[2].price_per_gpu_hour = 1.0;         /* the cheapest: 0 */
    s[3].price_per_gpu_hour = 3.0;         /* the dearest: 1 */
    assert_int_equal(match_run(&w, s, 4, &r), 0);
    assert_true(r.candidates[1].score < r.candidates[0].score);
    assert_int_equal(r.chosen, 2);
    assert_int_equal(r.candidates[1].rank, 2);
    assert_int_equal(r.candidates[0].rank, 3);
    assert_int_equal(r.candidates[3].rank, 4);
    match_result_free(&r);
}

static bool feasible(const struct match_workload *w, const struct match_site *s,
                     const struct match_pool *p)
{
    uint32_t per = p->gpus_per_node;
    uint32_t nodes = (w->gpus + per - 1) / per;
    bool country = w->n_countries == 0;

    for (size_t i = 0; i < w->n_countries; i++)
        country |= w->countries[i] == s->country;
    return s->up && !s->drained && country &&
           (!w->accel_id || w->accel_id == p->accel_id) &&
           p->gpu_memory_gb >= w->gpu_memory_gb && nodes <= p->nodes_total &&
           (uint64_t)nodes * per >= w->gpus && w->walltime_s <= p->max_walltime_s &&
           p->gpus_available >= w->gpus;
}

static void random_fixtures_hold_the_properties(void **state)
{
    static const char *cc[] = {"LU", "DE", "FI", "SE"};
    enum { SITES = 12, POOLS = 3, ROUNDS = 2000 };
    struct match_pool pools[SITES][POOLS];
    struct match_site sites[SITES];
    char ids[SITES][8];

    (void)state;
    srand(2026);
    for (int round = 0; round < ROUNDS; round++) {
        struct match_workload w = wl(1 + (uint32_t)(rand() % 32));
        uint16_t allow[1] = {match_country(cc[rand() % 4])};
        struct match_result r1, r2;
        double best = 0;

        w.walltime_s = 60 * (1 + (uint32_t)(rand() % 3000));
        w.gpu_memory_gb = (uint32_t)(rand() % 2) * 64;
        w.weights = match_weights_for(rand() % 5);
        if (rand() % 2)
            w.accel_id = 1 + (uint32_t)(rand() % 3);
        if (rand() % 3 == 0) {
            w.countries = allow;
            w.n_countries = 1;
        }
        for (int i = 0; i < SITES; i++) {
            for (int j = 0; j < POOLS; j++) {
                struct match_pool *p = &pools[i][j];
                *p = h100;
                p->accel_id = 1 + (uint32_t)(rand() % 3);
                p->gpu_memory_gb = (uint32_t)(rand() % 3) * 40;
                p->gpus_per_node = 4 * (1 + (uint32_t)(rand() % 2));
                p->nodes_total = 1 + (uint32_t)(rand() % 16);
                p->gpus_total = p->gpus_per_node * p->nodes_total;
                p->gpus_available = (uint32_t)rand() % (p->gpus_total + 1);
                p->max_walltime_s = 3600 * (1 + (uint32_t)(rand() % 72));
                p->queue_wait_s = (uint32_t)(rand() % 4) * 600;
            }
            snprintf(ids[i], sizeof(ids[i]), "s%d", i);
            sites[i] = site1(pools[i]);
            sites[i].id = ids[i];
            sites[i].n_pools = POOLS;
            sites[i].country = match_country(cc[rand() % 4]);
            sites[i].up = rand() % 5 != 0;
            sites[i].price_per_gpu_hour = (rand() % 40) / 10.0;
            sites[i].carbon_g_per_kwh = (uint32_t)(rand() % 500);
        }
        assert_int_equal(match_run(&w, sites, SITES, &r1), 0);
        assert_int_equal(match_run(&w, sites, SITES, &r2), 0);
        assert_int_equal(r1.chosen, r2.chosen);
        if (r1.chosen != MATCH_NONE)
            best = r1.candidates[r1.chosen].score;
        for (int i = 0; i < SITES; i++) {
            const struct match_candidate *c = &r1.candidates[i];
            bool any = false;

            assert_int_equal(c->verdict, r2.candidates[i].verdict);
            assert_int_equal(c->rank, r2.candidates[i].rank);
            assert_true(c->score == r2.candidates[i].score);
            for (int j = 0; j < POOLS; j++)
                any |= feasible(&w, &sites[i], &pools[i][j]);
            /* Ranked exactly when some pool is feasible; the pool named is. */
            assert_int_equal(c->verdict != MATCH_REJECTED, any);
            if (c->verdict != MATCH_REJECTED) {
                assert_true(feasible(&w, &sites[i], &pools[i][c->pool]));
                assert_true(c->score >= best);
                /* Ranks follow scores, equal scores in input order. */
                for (int j = 0; j < i; j++)
                    if (r1.candidates[j].verdict != MATCH_REJECTED)
                        assert_true((r1.candidates[j].score <= c->score) ==
                                    (r1.candidates[j].rank < c->rank));
            }
        }
        assert_true(r1.chosen == MATCH_NONE ||
                    r1.candidates[r1.chosen].verdict == MATCH_CHOSEN);
        match_result_free(&r1);
        match_result_free(&r2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(site_constraints),
        cmocka_unit_test(pool_constraints),
        cmocka_unit_test(start_estimates_by_size),
        cmocka_unit_test(any_of_accelerators),
        cmocka_unit_test(a_workload_may_queue_where_a_start_is_estimated),
        cmocka_unit_test(a_start_now_comes_before_any_queue),
        cmocka_unit_test(score_parts),
        cmocka_unit_test(preference_picks_the_part),
        cmocka_unit_test(fair_share_on_contended_sites),
        cmocka_unit_test(nearest_miss_is_reported),
        cmocka_unit_test(ties_break_by_input_order),
        cmocka_unit_test(near_scores_rank_exactly),
        cmocka_unit_test(random_fixtures_hold_the_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
