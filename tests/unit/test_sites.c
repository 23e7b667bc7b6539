/* SPDX-License-Identifier: Apache-2.0 */
/* sites: promises count until the site reports them; silence means DOWN. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sites.h"
#include "unit_adv.h"

#include "aifed.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static Aifed__Advertisement *adv(uint32_t free_gpus, const char *held)
{
    return unit_adv("mimer", "SE", free_gpus, held);
}

static uint32_t available(struct sites *s)
{
    struct match_site *v;
    size_t n;

    assert_int_equal(sites_views(s, "llm-eu", NULL, &v, &n), 0);
    assert_int_equal(n, 1);
    return v[0].n_pools ? v[0].pools[0].gpus_available : 0;
}

static void promises_count_until_reported(void **state)
{
    struct sites *s = sites_create(1000, 3, 1);
    Aifed__Advertisement *a = adv(64, NULL);

    (void)state;
    assert_int_equal(sites_add(s, "mimer"), 0);
    assert_int_equal(sites_add(s, "mimer"), -1);
    assert_false(sites_is_up(s, "mimer"));
    sites_advertise(s, "mimer", &a, 1000, 1000);
    assert_null(a);
    assert_true(sites_is_up(s, "mimer"));
    assert_int_equal(available(s), 64);
    assert_int_equal(sites_promise(s, "mimer", "gpu", "lease-1", "llm-eu", 16, 1000), 0);
    assert_int_equal(available(s), 48);
    /* The site holds it but its report does not list it yet: still counted. */
    a = adv(48, NULL);
    sites_advertise(s, "mimer", &a, 1100, 1100);
    assert_int_equal(available(s), 32);
    /* Now it lists the hold: its own figure accounts for it. */
    a = adv(48, "lease-1");
    sites_advertise(s, "mimer", &a, 1200, 1200);
    assert_int_equal(available(s), 48);
    sites_unpromise(s, "mimer", "lease-1");
    assert_int_equal(available(s), 48);
    assert_int_equal(sites_promise(s, "nowhere", "gpu", "lease-2", "llm-eu", 1, 0), -1);
    sites_destroy(s);
}

static void project_gpus_are_counted_per_project(void **state)
{
    struct sites *s = sites_create(1000, 3, 1);
    Aifed__Advertisement *a = adv(64, NULL);
    struct match_site *v;
    size_t n;

    (void)state;
    sites_add(s, "mimer");
    sites_advertise(s, "mimer", &a, 0, 0);
    sites_promise(s, "mimer", "gpu", "lease-1", "llm-eu", 8, 0);
    sites_promise(s, "mimer", "gpu", "lease-2", "bio-x", 4, 0);
    sites_promise(s, "mimer", "gpu", "lease-3", "llm-eu", 2, 0);
    assert_int_equal(sites_views(s, "llm-eu", NULL, &v, &n), 0);
    assert_int_equal(v[0].project_gpus_open, 10);
    assert_int_equal(sites_views(s, "bio-x", NULL, &v, &n), 0);
    assert_int_equal(v[0].project_gpus_open, 4);
    assert_int_equal(v[0].pools[0].gpus_available, 64 - 14);
    /* Models are interned without case; an unknown one matches no pool. */
    assert_int_equal(sites_accel_id(s, "h100"), v[0].pools[0].accel_id);
    assert_int_equal(sites_accel_id(s, ""), 0);
    assert_int_not_equal(sites_accel_id(s, "B200"), v[0].pools[0].accel_id);
    assert_int_not_equal(sites_accel_id(s, "B200"), 0);
    sites_destroy(s);
}

/* The list, malloc'd as protobuf-c's unpacking would, for free_unpacked. */
static char **names(size_t n, const char *first)
{
    char **v = calloc(n, sizeof(*v));

    assert_non_null(v);
    v[0] = strdup(first);
    return v;
}

/* A site that runs work in its users' own accounts is no candidate for a
 * principal and project its user map has neither of. */
static void sites_without_an_account_are_marked(void **state)
{
    struct sites *s = sites_create(1000, 3, 1);
    Aifed__Advertisement *a = adv(64, NULL);
    struct match_site *v;
    size_t n;

    (void)state;
    a->site->maps_accounts = true;
    a->site->mapped_users = names(1, "alice");
    a->site->n_mapped_users = 1;
    a->site->mapped_projects = names(1, "bio-x");
    a->site->n_mapped_projects = 1;
    sites_add(s, "mimer");
    sites_advertise(s, "mimer", &a, 0, 0);
    assert_int_equal(sites_views(s, "llm-eu", "user:alice", &v, &n), 0);
    assert_false(v[0].no_account); /* the user has one */
    assert_int_equal(sites_views(s, "bio-x", "user:zed", &v, &n), 0);
    assert_false(v[0].no_account); /* the project has one */
    assert_int_equal(sites_views(s, "llm-eu", "user:zed", &v, &n), 0);
    assert_true(v[0].no_account);
    assert_int_equal(sites_views(s, NULL, NULL, &v, &n), 0);
    assert_false(v[0].no_account); /* no request: nothing to say */
    /* A site that does not map accounts takes anyone's leases. */
    a = adv(64, NULL);
    sites_advertise(s, "mimer", &a, 10, 10);
    assert_int_equal(sites_views(s, "llm-eu", "user:zed", &v, &n), 0);
    assert_false(v[0].no_account);
    sites_destroy(s);
}

static void overcommit_floor_is_zero(void **state)
{
    struct sites *s = sites_create(1000, 3, 1);
    Aifed__Advertisement *a = adv(8, NULL);

    (void)state;
    sites_add(s, "mimer");
    sites_advertise(s, "mimer", &a, 0, 0);
    sites_promise(s, "mimer", "gpu", "lease-1", "llm-eu", 16, 0);
    assert_int_equal(available(s), 0);
    sites_destroy(s);
}

/* A lease has one promise however often it is made: the end of the lease,
 * which removes one, leaves none behind (slurm.sh once saw 0 available on a
 * site that said 4 were free). */
static void one_promise_per_lease(void **state)
{
    struct sites *s = sites_create(1000, 3, 1);
    Aifed__Advertisement *a = adv(64, NULL);

    (void)state;
    sites_add(s, "mimer");
    sites_advertise(s, "mimer", &a, 0, 0);
    assert_int_equal(sites_promise(s, "mimer", "gpu", "lease-1", "llm-eu", 8, 0), 0);
    assert_int_equal(sites_promise(s, "mimer", "gpu", "lease-1", "llm-eu", 8, 10), 0);
    assert_int_equal(available(s), 56);
    sites_unpromise(s, "mimer", "lease-1");
    assert_int_equal(available(s), 64);
    sites_destroy(s);
}

static int downs;

static void count_down(const char *site, bool up, void *arg)
{
    (void)arg;
    assert_string_equal(site, "mimer");
    assert_false(up);
    downs++;
}

static void silence_means_down(void **state)
{
    struct sites *s = sites_create(1000, 3, 1);
    Aifed__Advertisement *a = adv(64, NULL);
    struct match_site *v;
    size_t n;

    (void)state;
    sites_add(s, "mimer");
    sites_advertise(s, "mimer", &a, 10000, 10000);
    sites_sweep(s, 13000, count_down, NULL);
    assert_int_equal(downs, 0);
    sites_sweep(s, 13001, count_down, NULL);
    assert_int_equal(downs, 1);
    sites_sweep(s, 20000, count_down, NULL);
    assert_int_equal(downs, 1); /* told once */
    assert_int_equal(sites_views(s, NULL, NULL, &v, &n), 0);
    assert_false(v[0].up);
    a = adv(64, NULL);
    sites_advertise(s, "mimer", &a, 21000, 21000);
    assert_true(sites_is_up(s, "mimer"));
    sites_destroy(s);
}

static int overdue;

static void on_overdue(const char *site, const char *lease_id, void *arg)
{
    struct sites *s = arg;

    overdue++;
    sites_unpromise(s, site, lease_id);
}

static void unconfirmed_holds_become_overdue(void **state)
{
    struct sites *s = sites_create(1000, 3, 1);

    (void)state;
    sites_add(s, "mimer");
    sites_promise(s, "mimer", "gpu", "lease-1", "llm-eu", 1, 1000);
    sites_promise(s, "mimer", "gpu", "lease-2", "llm-eu", 1, 1000);
    sites_promise(s, "mimer", "gpu", "lease-3", "llm-eu", 1, 5000);
    sites_promise_confirm(s, "mimer", "lease-2");
    sites_overdue(s, 2000, on_overdue, s);
    assert_int_equal(overdue, 1);
    sites_overdue(s, 2000, on_overdue, s);
    assert_int_equal(overdue, 1); /* lease-1 was taken back */
    sites_destroy(s);
}

static void advertise(struct sites *s, const char *site, const char *held, int64_t now)
{
    Aifed__Advertisement *a = unit_adv(site, "SE", 64, held);

    sites_advertise(s, site, &a, now, now);
    assert_null(a);
}

/* A site that went DOWN needs up_after advertisements in a row to be UP. */
static void flapping_site_comes_back_slowly(void **state)
{
    struct sites *s = sites_create(1000, 3, 3);

    (void)state;
    assert_int_equal(sites_add(s, "mimer"), 0);
    advertise(s, "mimer", NULL, 1000); /* never DOWN before: UP at once */
    assert_true(sites_is_up(s, "mimer"));
    assert_false(sites_sweep(s, 5000, NULL, NULL));
    assert_false(sites_is_up(s, "mimer"));
    advertise(s, "mimer", NULL, 5100);
    assert_false(sites_is_up(s, "mimer"));
    advertise(s, "mimer", NULL, 6100);
    assert_false(sites_is_up(s, "mimer"));
    /* Silent again in between: the count starts over. */
    advertise(s, "mimer", NULL, 10000);
    advertise(s, "mimer", NULL, 11000);
    assert_false(sites_is_up(s, "mimer"));
    advertise(s, "mimer", NULL, 12000);
    assert_true(sites_is_up(s, "mimer"));
    sites_destroy(s);
}

/* Advertisements queued while a site was cut off arrive together after the
 * heal: they count as one, and UP takes up_after intervals of being heard. */
static void hysteresis_counts_time(void **state)
{
    struct sites *s = sites_create(1000, 3, 3);

    (void)state;
    assert_int_equal(sites_add(s, "mimer"), 0);
    advertise(s, "mimer", NULL, 1000);
    assert_false(sites_sweep(s, 5000, NULL, NULL));
    assert_false(sites_is_up(s, "mimer"));
    for (int i = 0; i < 10; i++) /* ten at once, as TCP delivers them */
        advertise(s, "mimer", NULL, 5100 + i);
    assert_false(sites_is_up(s, "mimer"));
    advertise(s, "mimer", NULL, 5600); /* half an interval on: not yet */
    assert_false(sites_is_up(s, "mimer"));
    advertise(s, "mimer", NULL, 6100);
    assert_false(sites_is_up(s, "mimer"));
    advertise(s, "mimer", NULL, 6950); /* an interval on, a little early */
    assert_true(sites_is_up(s, "mimer"));
    sites_destroy(s);
}

/* A site that names a new accelerator in every advertisement does not grow
 * the broker's name table: names no current view uses are forgotten. */
static void accelerator_names_are_bounded(void **state)
{
    struct sites *s = sites_create(1000, 3, 1);
    char name[32];

    (void)state;
    assert_int_equal(sites_add(s, "mimer"), 0);
    assert_int_equal(sites_add(s, "pharos"), 0);
    advertise(s, "pharos", NULL, 1000); /* H100 */
    for (int i = 0; i < 10000; i++) {
        Aifed__Advertisement *a = unit_adv("mimer", "SE", 64, NULL);

        snprintf(name, sizeof(name), "X%d", i);
        free(a->pools[0]->accelerator); /* the message's own (malloc'd) string */
        a->pools[0]->accelerator = strdup(name);
        sites_advertise(s, "mimer", &a, 1000 + i, 1000 + i);
    }
    assert_int_equal(sites_accel_count(s), 2); /* H100 and X9999 */
    assert_int_not_equal(sites_accel_id(s, "x9999"), UINT32_MAX);
    assert_int_equal(sites_accel_id(s, "X42"), UINT32_MAX); /* no pool has it now */
    assert_int_not_equal(sites_accel_id(s, "h100"), UINT32_MAX);
    advertise(s, "mimer", NULL, 20000); /* H100 again: one name for both */
    assert_int_equal(sites_accel_count(s), 1);
    assert_int_equal(sites_accel_id(s, "X9999"), UINT32_MAX);
    sites_destroy(s);
}

static int changes;

static void count_change(const char *site, bool up, void *arg)
{
    (void)site;
    (void)up;
    (void)arg;
    changes++;
}

/* mimer and pharos UP, last heard at the times given; interval 1 s, DOWN
 * after 3. */
static struct sites *two_up(int64_t mimer_ms, int64_t pharos_ms)
{
    struct sites *s = sites_create(1000, 3, 1);

    assert_int_equal(sites_add(s, "mimer"), 0);
    assert_int_equal(sites_add(s, "pharos"), 0);
    advertise(s, "mimer", NULL, mimer_ms);
    advertise(s, "pharos", NULL, pharos_ms);
    changes = 0;
    return s;
}

/* All UP sites silent at once: the broker is the one cut off. */
static void isolation_guard(void **state)
{
    struct sites *s = two_up(1000, 1000);

    (void)state;
    assert_true(sites_sweep(s, 9000, count_change, NULL));
    assert_int_equal(changes, 0);
    assert_true(sites_is_up(s, "mimer"));
    assert_true(sites_is_up(s, "pharos"));
    /* One returns: the other's silence is real now. */
    advertise(s, "mimer", NULL, 9500);
    assert_false(sites_sweep(s, 9600, count_change, NULL));
    assert_int_equal(changes, 1);
    assert_false(sites_is_up(s, "pharos"));
    /* Or an admin confirms. */
    advertise(s, "pharos", NULL, 9700);
    assert_true(sites_sweep(s, 20000, count_change, NULL));
    sites_confirm_down(s, 20000, count_change, NULL);
    assert_false(sites_is_up(s, "mimer"));
    assert_false(sites_is_up(s, "pharos"));
    assert_false(sites_sweep(s, 20001, count_change, NULL));
    sites_destroy(s);
}

/* Cut off at once, sites still pass down_after a tick apart (their last
 * advertisements were out of step): still the isolation guard. A site heard
 * within its interval is proof it is not. */
static void isolation_guard_out_of_step(void **state)
{
    struct sites *s = two_up(1000, 1900);

    (void)state;
    /* mimer silent 3,050 ms (past 3,000), pharos 2,150 (past 1,500). */
    assert_true(sites_sweep(s, 4050, count_change, NULL));
    assert_int_equal(changes, 0);
    assert_true(sites_is_up(s, "mimer"));
    /* pharos heard 250 ms ago: mimer's silence is its own. */
    advertise(s, "pharos", NULL, 3800);
    assert_false(sites_sweep(s, 4050, count_change, NULL));
    assert_int_equal(changes, 1);
    assert_false(sites_is_up(s, "mimer"));
    assert_true(sites_is_up(s, "pharos"));
    sites_destroy(s);
}

static char lost[64], unknown[64];

static void on_lost(const char *site, const char *lease_id, void *arg)
{
    struct sites *s = arg;

    snprintf(lost, sizeof(lost), "%s", lease_id);
    sites_unpromise(s, site, lease_id);
}

static void on_unknown(const char *site, const char *lease_id, void *arg)
{
    (void)site;
    (void)arg;
    snprintf(unknown, sizeof(unknown), "%s", lease_id);
}

static char reasked[64];

static void on_reask(const char *site, const char *lease_id, void *arg)
{
    (void)site;
    (void)arg;
    snprintf(reasked, sizeof(reasked), "%s", lease_id);
}

/* Confirmed but no longer listed: lost. Listed but not open here: unknown.
 * Asked but not yet confirmed: neither (the hold timeout decides). */
static void reconcile(void **state)
{
    struct sites *s = sites_create(1000, 3, 1);

    (void)state;
    assert_int_equal(sites_add(s, "mimer"), 0);
    advertise(s, "mimer", NULL, 1000);
    assert_int_equal(sites_promise(s, "mimer", "gpu", "lease-a", "p", 1, 1000), 0);
    assert_int_equal(sites_promise(s, "mimer", "gpu", "lease-b", "p", 1, 1000), 0);
    sites_promise_confirm(s, "mimer", "lease-a");
    advertise(s, "mimer", "lease-a", 1100);
    lost[0] = unknown[0] = reasked[0] = '\0';
    sites_reconcile(s, "mimer", on_lost, on_unknown, on_reask, s);
    assert_string_equal(lost, "");
    assert_string_equal(unknown, "");
    assert_string_equal(reasked, "");
    /* Listed but never confirmed: asked again, once. The confirmed one it
     * no longer lists is lost. */
    advertise(s, "mimer", "lease-b", 1150);
    sites_reconcile(s, "mimer", on_lost, on_unknown, on_reask, s);
    assert_string_equal(reasked, "lease-b");
    assert_string_equal(lost, "lease-a");
    reasked[0] = lost[0] = '\0';
    sites_reconcile(s, "mimer", on_lost, on_unknown, on_reask, s);
    assert_string_equal(reasked, "");
    /* A hold the broker has no lease for; the unconfirmed one is not lost. */
    advertise(s, "mimer", "lease-x", 1200);
    sites_reconcile(s, "mimer", on_lost, on_unknown, on_reask, s);
    assert_string_equal(unknown, "lease-x");
    assert_string_equal(lost, "");
    sites_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(promises_count_until_reported),
        cmocka_unit_test(overcommit_floor_is_zero),
        cmocka_unit_test(one_promise_per_lease),
        cmocka_unit_test(project_gpus_are_counted_per_project),
        cmocka_unit_test(sites_without_an_account_are_marked),
        cmocka_unit_test(silence_means_down),
        cmocka_unit_test(unconfirmed_holds_become_overdue),
        cmocka_unit_test(flapping_site_comes_back_slowly),
        cmocka_unit_test(hysteresis_counts_time),
        cmocka_unit_test(accelerator_names_are_bounded),
        cmocka_unit_test(isolation_guard),
        cmocka_unit_test(isolation_guard_out_of_step),
        cmocka_unit_test(reconcile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
