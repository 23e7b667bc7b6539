/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Config golden tests: a configuration file and the normalized form the
 * daemon must print for it (`-n -v`), and bad files whose first line says
 * the exact error, with its line, that an admin must see.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "aconf.h"
#include "backend.h"
#include "bconf.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *golden; /* tests/unit/golden, from argv[1] */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

static void broker_golden(void **state)
{
    char path[1024], *want, *got = NULL;
    size_t len;
    struct af_error err = {{0}};
    struct bconf *c;
    FILE *out = open_memstream(&got, &len);

    (void)state;
    snprintf(path, sizeof(path), "%s/broker.conf", golden);
    c = bconf_load(path, &err);
    if (!c)
        fail_msg("%s", err.text);
    bconf_print(c, out);
    fclose(out);
    snprintf(path, sizeof(path), "%s/broker.expected", golden);
    want = slurp(path);
    assert_string_equal(got, want);
    bconf_destroy(c);
    free(got);
    free(want);
}

static void agent_golden_named(const char *name)
{
    char path[1024], *want, *got = NULL;
    size_t len;
    struct af_error err = {{0}};
    struct aconf *c;
    const struct backend_ops *ops;
    struct backend *b;
    FILE *out = open_memstream(&got, &len);

    snprintf(path, sizeof(path), "%s/%s.conf", golden, name);
    c = aconf_load(path, &err);
    if (!c)
        fail_msg("%s", err.text);
    ops = backend_find(c->backend);
    assert_non_null(ops);
    b = ops->create(c, &err);
    if (!b)
        fail_msg("%s", err.text);
    aconf_print(c, out);
    ops->print(b, out);
    fclose(out);
    snprintf(path, sizeof(path), "%s/%s.expected", golden, name);
    want = slurp(path);
    assert_string_equal(got, want);
    ops->destroy(b);
    aconf_destroy(c);
    free(got);
    free(want);
}

static void agent_golden(void **state)
{
    (void)state;
    agent_golden_named("agent");
}

/* A Slurm site: [slurm], a site file without pool figures, a user map. */
static void agent_slurm_golden(void **state)
{
    (void)state;
    agent_golden_named("agent-slurm");
}

/* A Slurm site's file may not give what Slurm reports. */
static void slurm_site_file_refuses_pool_figures(void **state)
{
    char path[1024];
    struct af_error err = {{0}};
    struct aconf *c;

    (void)state;
    snprintf(path, sizeof(path), "%s/agent-slurm.conf", golden);
    c = aconf_load(path, &err);
    assert_non_null(c);
    free(c->site_file);
    c->site_file = strdup("slurm-bad.site");
    assert_null(backend_slurm_ops.create(c, &err));
    assert_non_null(strstr(err.text,
                           "slurm-bad.site:5: nodes in [pool:gpu]: a Slurm "
                           "site's pools take only accelerator and gpu_memory_gb"));
    aconf_destroy(c);
}

/* "# error: TEXT" on line 1, with @DIR@ standing for the file's directory. */
static void expected_error(const char *path, const char *dir, char *out, size_t size)
{
    char *text = slurp(path), *nl = strchr(text, '\n'), *at;
    const char *prefix = "# error: ";

    assert_non_null(nl);
    *nl = '\0';
    assert_int_equal(strncmp(text, prefix, strlen(prefix)), 0);
    at = strstr(text, "@DIR@");
    if (at) {
        *at = '\0';
        snprintf(out, size, "%s%s%s", text + strlen(prefix), dir, at + 5);
    } else {
        snprintf(out, size, "%s", text + strlen(prefix));
    }
    free(text);
}

static void bad_broker_configs(void **state)
{
    char dir[256], path[512], want[1024], full_line[2048], full_file[2048];
    struct dirent *de;
    DIR *d;
    int n = 0;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/bad", golden);
    d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d))) {
        struct af_error err = {{0}};
        struct bconf *c;

        if (!strstr(de->d_name, ".conf"))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        expected_error(path, dir, want, sizeof(want));
        c = bconf_load(path, &err);
        if (c)
            fail_msg("%s loaded, want error: %s", de->d_name, want);
        /* "path:LINE: reason" for a line's fault, "path: reason" otherwise. */
        snprintf(full_line, sizeof(full_line), "%s:%s", path, want);
        snprintf(full_file, sizeof(full_file), "%s: %s", path, want);
        if (strcmp(err.text, full_line) && strcmp(err.text, full_file))
            fail_msg("%s:\n  got:  %s\n  want: %s", de->d_name, err.text, want);
        n++;
    }
    closedir(d);
    assert_true(n >= 10);
}

static void missing_file_names_it(void **state)
{
    struct af_error err;

    (void)state;
    assert_null(bconf_load("/nonexistent/broker.conf", &err));
    assert_string_equal(err.text, "/nonexistent/broker.conf: No such file or directory");
    assert_null(aconf_load("/nonexistent/agent.conf", &err));
    assert_string_equal(err.text, "/nonexistent/agent.conf: No such file or directory");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(broker_golden),
        cmocka_unit_test(agent_golden),
        cmocka_unit_test(agent_slurm_golden),
        cmocka_unit_test(slurm_site_file_refuses_pool_figures),
        cmocka_unit_test(bad_broker_configs),
        cmocka_unit_test(missing_file_names_it),
    };
    if (argc != 2) {
        fprintf(stderr, "usage: test_conf GOLDEN_DIR\n");
        return 2;
    }
    golden = argv[1];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
