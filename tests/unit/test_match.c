/* SPDX-License-Identifier: Apache-2.0 */
/* match: each constraint and its reason, the ranking, and properties over
 * random fixtures (never an infeasible choice, deterministic, best score). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct match_pool h100 = {.name = "gpu",
                                       .accelerator = "H100",
                                       .gpu_memory_gb = 80,
                                       .gpus_per_node = 4,
                                       .nodes_total = 10,
                                       .gpus_total = 40,
                                       .gpus_available = 16,
                                       .max_walltime_s = 86400,
                                       .queue_wait_s = 600};

static struct match_result run1(const struct match_workload *w,
                                const struct match_pool *p, const char *country, bool up)
{
    struct match_site s = {
        .id = "site", .country = country, .up = up, .pools = p, .n_pools = 1};
    struct match_result r;

    assert_int_equal(match_run(w, &s, 1, &r), 0);
    assert_int_equal(r.n, 1);
    return r;
}

static void expect_reject(const struct match_workload *w, const struct match_pool *p,
                          const char *country, bool up, const char *reason)
{
    struct match_result r = run1(w, p, country, up);

    assert_int_equal(r.chosen, MATCH_NONE);
    assert_int_equal(r.candidates[0].verdict, MATCH_REJECTED);
    assert_int_equal(r.candidates[0].rank, 0);
    assert_string_equal(r.candidates[0].reason, reason);
    match_result_free(&r);
}

static void each_constraint_says_why(void **state)
{
    struct match_workload w = {.gpus = 8, .walltime_s = 3600};
    const char *lu[] = {"LU"};
    struct match_pool p = h100;

    (void)state;
    expect_reject(&w, &h100, "DE", false, "site is DOWN (no recent advertisement)");
    w.countries = lu;
    w.n_countries = 1;
    expect_reject(&w, &h100, "DE", true, "site is in DE, workload allows only LU");
    w.n_countries = 0;
    w.accelerator = "MI250X";
    expect_reject(&w, &h100, "DE", true, "pool gpu has H100, needs MI250X");
    w.accelerator = "h100"; /* models compare without case */
    w.gpu_memory_gb = 96;
    expect_reject(&w, &h100, "DE", true, "pool gpu has 80 GB per GPU, needs 96 GB");
    w.gpu_memory_gb = 0;
    w.nodes = 11;
    expect_reject(&w, &h100, "DE", true, "needs 11 nodes, pool gpu has 10");
    w.nodes = 1;
    expect_reject(&w, &h100, "DE", true,
                  "8 GPUs do not fit on 1 nodes of 4 GPUs in pool gpu");
    w.nodes = 0;
    w.walltime_s = 2 * 86400;
    expect_reject(&w, &h100, "DE", true, "walltime 2d exceeds pool gpu limit of 1d");
    w.walltime_s = 3600;
    w.gpus = 17;
    expect_reject(&w, &h100, "DE", true, "needs 17 x H100, pool gpu has 16 available");
    p.gpus_available = 0;
    w.gpus = 1;
    expect_reject(&w, &p, "DE", true, "needs 1 x H100, pool gpu has 0 available");
}

static void feasible_is_chosen_with_its_nodes(void **state)
{
    struct match_workload w = {.gpus = 16, .walltime_s = 3600, .accelerator = "H100"};
    struct match_result r = run1(&w, &h100, "SE", true);

    (void)state;
    assert_int_equal(r.chosen, 0);
    assert_int_equal(r.candidates[0].verdict, MATCH_CHOSEN);
    assert_int_equal(r.candidates[0].rank, 1);
    assert_int_equal(r.candidates[0].pool, 0);
    assert_int_equal(r.candidates[0].nodes, 4);
    assert_string_equal(r.candidates[0].reason,
                        "expected wait 10m; 16 of 40 H100 available in pool gpu");
    match_result_free(&r);
}

static void nearest_miss_is_reported(void **state)
{
    /* Pool a fails on the model, pool b only on capacity: b is the reason. */
    struct match_pool pools[2] = {h100, h100};
    struct match_site s = {
        .id = "s", .country = "FI", .up = true, .pools = pools, .n_pools = 2};
    struct match_workload w = {.gpus = 20, .walltime_s = 60, .accelerator = "H100"};
    struct match_result r;

    (void)state;
    pools[0].name = "a";
    pools[0].accelerator = "A100";
    pools[1].name = "b";
    assert_int_equal(match_run(&w, &s, 1, &r), 0);
    assert_int_equal(r.candidates[0].pool, 1);
    assert_string_equal(r.candidates[0].reason,
                        "needs 20 x H100, pool b has 16 available");
    match_result_free(&r);
}

static void ranking_prefers_short_wait_then_fit_then_order(void **state)
{
    struct match_pool slow = h100, fast = h100, tight = h100, loose = h100;
    struct match_site s[4];
    struct match_workload w = {.gpus = 8, .walltime_s = 60};
    struct match_result r;

    (void)state;
    slow.queue_wait_s = 7200;
    fast.queue_wait_s = 60;
    tight.queue_wait_s = 60;
    loose.queue_wait_s = 60;
    fast.gpus_available = 16;  /* 8 of 16 left */
    tight.gpus_available = 8;  /* none stranded: best fit */
    loose.gpus_available = 16; /* same as fast: input order decides */
    s[0] = (struct match_site){"slow", "DE", true, &slow, 1};
    s[1] = (struct match_site){"fast", "DE", true, &fast, 1};
    s[2] = (struct match_site){"tight", "DE", true, &tight, 1};
    s[3] = (struct match_site){"loose", "DE", true, &loose, 1};
    assert_int_equal(match_run(&w, s, 4, &r), 0);
    assert_int_equal(r.chosen, 2);
    assert_int_equal(r.candidates[2].rank, 1);
    assert_int_equal(r.candidates[1].rank, 2);
    assert_int_equal(r.candidates[3].rank, 3);
    assert_int_equal(r.candidates[0].rank, 4);
    assert_int_equal(r.candidates[1].verdict, MATCH_RANKED);
    match_result_free(&r);
}

static void excluded_sites_are_skipped(void **state)
{
    const char *tried[] = {"site"};
    struct match_workload w = {
        .gpus = 1, .walltime_s = 60, .exclude = tried, .n_exclude = 1};

    (void)state;
    expect_reject(&w, &h100, "DE", true, "site already refused this lease");
}

static bool feasible(const struct match_workload *w, const struct match_site *s,
                     const struct match_pool *p, uint32_t nodes)
{
    bool country = w->n_countries == 0;

    for (size_t i = 0; i < w->n_countries; i++)
        country |= !strcmp(w->countries[i], s->country);
    return s->up && country &&
           (!w->accelerator || !strcmp(w->accelerator, p->accelerator)) &&
           p->gpu_memory_gb >= w->gpu_memory_gb && nodes <= p->nodes_total &&
           (uint64_t)nodes * p->gpus_per_node >= w->gpus &&
           w->walltime_s <= p->max_walltime_s && p->gpus_available >= w->gpus;
}

static void random_fixtures_hold_the_properties(void **state)
{
    static const char *models[] = {"H100", "A100", "MI250X"};
    static const char *countries[] = {"LU", "DE", "FI", "SE"};
    enum { SITES = 12, POOLS = 3, ROUNDS = 2000 };
    struct match_pool pools[SITES][POOLS];
    struct match_site sites[SITES];
    char ids[SITES][8];

    (void)state;
    srand(2026);
    for (int round = 0; round < ROUNDS; round++) {
        struct match_workload w = {.gpus = 1 + (uint32_t)(rand() % 32),
                                   .walltime_s = 60 * (1 + (uint32_t)(rand() % 3000)),
                                   .gpu_memory_gb = (uint32_t)(rand() % 2) * 64};
        const char *allow[1] = {countries[rand() % 4]};
        struct match_result r1, r2;

        if (rand() % 2)
            w.accelerator = models[rand() % 3];
        if (rand() % 3 == 0) {
            w.countries = allow;
            w.n_countries = 1;
        }
        for (int i = 0; i < SITES; i++) {
            for (int j = 0; j < POOLS; j++) {
                struct match_pool *p = &pools[i][j];
                p->name = "p";
                p->accelerator = models[rand() % 3];
                p->gpu_memory_gb = (uint32_t)(rand() % 3) * 40;
                p->gpus_per_node = 4 * (1 + (uint32_t)(rand() % 2));
                p->nodes_total = 1 + (uint32_t)(rand() % 16);
                p->gpus_total = p->gpus_per_node * p->nodes_total;
                p->gpus_available = (uint32_t)rand() % (p->gpus_total + 1);
                p->max_walltime_s = 3600 * (1 + (uint32_t)(rand() % 72));
                p->queue_wait_s = (uint32_t)(rand() % 4) * 600;
            }
            snprintf(ids[i], sizeof(ids[i]), "s%d", i);
            sites[i] = (struct match_site){ids[i], countries[rand() % 4], rand() % 5 != 0,
                                           pools[i], POOLS};
        }
        assert_int_equal(match_run(&w, sites, SITES, &r1), 0);
        assert_int_equal(match_run(&w, sites, SITES, &r2), 0);
        assert_int_equal(r1.chosen, r2.chosen);
        for (int i = 0; i < SITES; i++) {
            const struct match_candidate *c = &r1.candidates[i];
            bool any = false;

            assert_int_equal(c->verdict, r2.candidates[i].verdict);
            assert_int_equal(c->rank, r2.candidates[i].rank);
            for (int j = 0; j < POOLS; j++) {
                uint32_t per = pools[i][j].gpus_per_node;
                any |= feasible(&w, &sites[i], &pools[i][j], (w.gpus + per - 1) / per);
            }
            /* Ranked exactly when some pool is feasible, and the pool named is. */
            assert_int_equal(c->verdict != MATCH_REJECTED, any);
            if (c->verdict != MATCH_REJECTED) {
                assert_true(feasible(&w, &sites[i], &pools[i][c->pool], c->nodes));
                assert_true(c->score >= r1.candidates[r1.chosen].score);
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
        cmocka_unit_test(each_constraint_says_why),
        cmocka_unit_test(feasible_is_chosen_with_its_nodes),
        cmocka_unit_test(nearest_miss_is_reported),
        cmocka_unit_test(ranking_prefers_short_wait_then_fit_then_order),
        cmocka_unit_test(excluded_sites_are_skipped),
        cmocka_unit_test(random_fixtures_hold_the_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
