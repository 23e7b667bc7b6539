/* SPDX-License-Identifier: Apache-2.0 */
/*
 * catalog: the sites' entries merged into the federation's, each once with
 * every site that holds it and its path there; the filters by kind, site
 * and word; and the templates, the federation's first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "catalog.h"

#include <string.h>

static Aifed__DataItem item(int kind, const char *name, const char *version,
                            uint64_t size, const char *path)
{
    Aifed__DataItem d = AIFED__DATA_ITEM__INIT;

    d.kind = (Aifed__DataKind)kind;
    d.name = (char *)name;
    d.version = (char *)version;
    d.size_bytes = size;
    d.path = (char *)path;
    return d;
}

static void entries_merge_across_sites(void **state)
{
    Aifed__DataItem m1 = item(1, "llama-3-8b", "3.1", 16000000000ULL, "/models/llama"),
                    m2 = item(1, "llama-3-8b", "3.1", 0, "/store/llama"),
                    m3 = item(1, "llama-3-8b", "3.0", 0, "/old/llama"),
                    d1 = item(0, "eurlex", "", 120, "/data/eurlex");
    Aifed__DataItem *mimer[] = {&m1, &d1}, *pharos[] = {&m2, &m3};
    struct catalog_query q = {.all = true};
    struct catalog *c = catalog_new(&q);
    const Aifed__CatalogList *l;

    (void)state;
    assert_int_equal(catalog_add_site(c, "mimer", mimer, 2, NULL, 0), 0);
    assert_int_equal(catalog_add_site(c, "pharos", pharos, 2, NULL, 0), 0);
    assert_non_null(l = catalog_list(c));
    assert_int_equal(l->n_entries, 3); /* eurlex; llama 3.0; llama 3.1 */
    assert_string_equal(l->entries[0]->item->name, "eurlex");
    assert_string_equal(l->entries[1]->item->version, "3.0");
    assert_int_equal(l->entries[2]->n_sites, 2);
    assert_string_equal(l->entries[2]->sites[0]->site, "mimer");
    assert_string_equal(l->entries[2]->sites[0]->path, "/models/llama");
    assert_string_equal(l->entries[2]->sites[1]->path, "/store/llama");
    assert_int_equal(l->entries[2]->item->size_bytes, 16000000000ULL); /* mimer's size */
    assert_string_equal(l->entries[2]->item->path, "");                /* per site only */
    assert_false(l->truncated);
    catalog_free(c);
}

static void filters_and_templates(void **state)
{
    Aifed__DataItem m1 = item(1, "llama-3-8b", "", 0, ""),
                    d1 = item(0, "eurlex", "", 0, "");
    Aifed__DataItem *mimer[] = {&m1, &d1};
    Aifed__Template site_t = AIFED__TEMPLATE__INIT, fed_t = AIFED__TEMPLATE__INIT;
    Aifed__Template *mimer_t[] = {&site_t};
    struct catalog_query models = {.kind = 1}, word = {.all = true, .search = "LEX"},
                         tmpl = {.templates = true};
    struct catalog *c;
    const Aifed__CatalogList *l;

    (void)state;
    site_t.name = fed_t.name = "jupyter";
    site_t.text = fed_t.text = "task: {}";
    c = catalog_new(&models);
    catalog_add_site(c, "mimer", mimer, 2, mimer_t, 1);
    l = catalog_list(c);
    assert_int_equal(l->n_entries, 1);
    assert_string_equal(l->entries[0]->item->name, "llama-3-8b");
    assert_int_equal(l->n_templates, 0);
    catalog_free(c);
    c = catalog_new(&word); /* without regard to case */
    catalog_add_site(c, "mimer", mimer, 2, NULL, 0);
    l = catalog_list(c);
    assert_int_equal(l->n_entries, 1);
    assert_string_equal(l->entries[0]->item->name, "eurlex");
    catalog_free(c);
    c = catalog_new(&tmpl);
    catalog_add_site(c, "mimer", mimer, 2, mimer_t, 1);
    catalog_add_template(c, &fed_t);
    l = catalog_list(c);
    assert_int_equal(l->n_entries, 0);
    assert_int_equal(l->n_templates, 2);
    assert_string_equal(l->templates[0]->site, ""); /* the federation's first */
    assert_string_equal(l->templates[1]->site, "mimer");
    assert_string_equal(l->templates[1]->text, ""); /* lists leave the text out */
    catalog_free(c);
    assert_true(catalog_holds(mimer, 2, 0, "eurlex"));
    assert_false(catalog_holds(mimer, 2, 2, "eurlex"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(entries_merge_across_sites),
        cmocka_unit_test(filters_and_templates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
