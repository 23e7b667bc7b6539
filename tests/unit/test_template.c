/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_template: a template's parameters (types, defaults, allowed values),
 * its expansion into a task file, and every way a user's --set or an
 * author's template goes wrong, with the words they see.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "af_template.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static const char *const good =
    "template: tune\n"
    "description: a test\n"
    "parameters:\n"
    "  project: {type: string, help: whose GPU-hours}\n"
    "  gpus: {type: int, default: \"4\"}\n"
    "  precision: {type: choice, allowed: [bf16, fp16], default: bf16}\n"
    "  long: {type: duration, default: 2h}\n"
    "  debug: {type: bool, default: \"false\"}\n"
    "  model: {type: model, default: llama-3-8b}\n"
    "task:\n"
    "  name: tune-{{model}}\n"
    "  project: \"{{project}}\"\n"
    "  resources: {gpus: \"{{ gpus }}\", walltime: \"{{long}}\"}\n"
    "  models: [\"{{model}}\"]\n"
    "  env: {PRECISION: \"{{precision}}\", DEBUG: \"{{debug}}\"}\n"
    "  run: |\n"
    "    echo {{model}} at {{gpus}} GPUs\n";

static char *expand(const char *text, const char *const *sets, size_t n, char *why)
{
    struct af_template t;
    struct af_error err = {{0}};
    char *yaml = NULL;

    if (af_template_parse(text, &t, &err) == 0)
        yaml = af_template_expand(&t, sets, n, &err);
    af_template_free(&t);
    strcpy(why, err.text);
    return yaml;
}

static void parameters_are_read(void **state)
{
    struct af_template t;
    struct af_error err;

    (void)state;
    assert_int_equal(af_template_parse(good, &t, &err), 0);
    assert_string_equal(t.name, "tune");
    assert_int_equal(t.n_params, 6);
    assert_null(af_template_param(&t, "project")->def); /* required */
    assert_int_equal(af_template_param(&t, "gpus")->type, AF_TP_INT);
    assert_int_equal(af_template_param(&t, "precision")->n_allowed, 2);
    assert_string_equal(af_template_param(&t, "model")->def, "llama-3-8b");
    assert_string_equal(af_tparam_type_name(af_template_param(&t, "model")->type),
                        "model");
    af_template_free(&t);
}

static void defaults_and_sets_expand(void **state)
{
    const char *sets[] = {"project=llm-eu", "gpus=8", "precision=fp16"};
    char why[512], *yaml;

    (void)state;
    yaml = expand(good, sets, 3, why);
    assert_non_null(yaml);
    assert_non_null(strstr(yaml, "name: tune-llama-3-8b\n"));
    assert_non_null(strstr(yaml, "project: llm-eu\n"));
    assert_non_null(strstr(yaml, "gpus: 8"));
    assert_non_null(strstr(yaml, "walltime: 2h"));
    assert_non_null(strstr(yaml, "PRECISION: fp16"));
    assert_non_null(strstr(yaml, "echo llama-3-8b at 8 GPUs"));
    assert_null(strstr(yaml, "{{"));
    free(yaml);
}

static void bad_values_are_named(void **state)
{
    static const struct {
        const char *set, *why;
    } cases[] = {
        {"gpus=four", "gpus: 'four' is not a whole number"},
        {"precision=fp8", "precision: 'fp8' is not one of bf16, fp16"},
        {"long=soon", "long: 'soon' is not a duration (like 90m or 2h)"},
        {"debug=maybe", "debug: 'maybe' is not true or false"},
        {"model=../etc", "model: '../etc' is not a model name"},
        {"nope=1", "nope: the template has no such parameter"},
        {"gpus", "'gpus' is not NAME=VALUE"},
    };
    char why[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *sets[] = {"project=p", cases[i].set};
        assert_null(expand(good, sets, 2, why));
        assert_string_equal(why, cases[i].why);
    }
    assert_null(expand(good, NULL, 0, why)); /* project has no default */
    assert_string_equal(why, "project: required (string, whose GPU-hours): --set "
                             "project=VALUE");
}

static void bad_templates_are_refused(void **state)
{
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"task: {name: x}\nfoo: 1\n",
         "line 2: unknown field 'foo' (template, description, parameters, task)"},
        {"parameters: {}\n", "a template needs task: (a task file's fields)"},
        {"task: {name: \"{{who}}\"}\n", "line 1: {{who}} is not one of the parameters"},
        {"parameters: {n: {type: float}}\ntask: {name: x}\n",
         "line 1: n: type must be string, int, bool, duration, choice, model, dataset or "
         "image"},
        {"parameters: {c: {type: choice}}\ntask: {name: x}\n",
         "c: a choice needs allowed: [A, B, ...]"},
        {"parameters: {n: {type: int, default: x}}\ntask: {name: x}\n",
         "n: 'x' is not a whole number"},
        {"parameters: {n: {typo: int}}\ntask: {name: x}\n",
         "line 1: n: unknown field 'typo' (type, default, allowed, help)"},
        {"task: [1, 2\n", "line 2: did not find expected ',' or ']'"},
        {"- a\n", "a template is a mapping with parameters and task"},
        {"task: {name: x, files: {k: /home/u/.ssh/id_rsa}}\n",
         "line 1: a template cannot send local files (files:): the user's machine is not "
         "the "
         "template's to read"},
        /* An alias cycle (was SIGSEGV) and a key a value chooses (was files:
         * once expanded, reading the user's machine). */
        {"task: &t {name: x, loop: *t}\n",
         "line 1: an anchor (&t): anchors and aliases are not allowed here; write the "
         "value out"},
        {"parameters: {f: {default: files}}\ntask: {name: x, \"{{f}}\": {k: "
         "/etc/passwd}}\n",
         "line 2: a key is a field's name, not a parameter's value: write it out"},
        /* "\0" would cut the value where C reads it. */
        {"task: {name: x, run: \"echo ok\\0rm -rf ~\"}\n",
         "line 1: a NUL byte in a value is refused"},
    };
    struct af_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(af_template_check(cases[i].text, &err), -1);
        assert_string_equal(err.text, cases[i].why);
    }
    assert_int_equal(af_template_check(good, &err), 0); /* project gets a stand-in */
}

/* A 600-byte alias bomb (nine levels of nine aliases: 9^9 nodes once
 * loaded) and nesting past the bound are refused at once, before loading. */
static void bombs_are_refused_before_loading(void **state)
{
    char bomb[2048], deep[512];
    struct af_error err;
    size_t n = 0;

    (void)state;
    n += (size_t)snprintf(bomb + n, sizeof(bomb) - n,
                          "a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 9; i++)
        n += (size_t)snprintf(
            bomb + n, sizeof(bomb) - n,
            "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i,
            i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    snprintf(bomb + n, sizeof(bomb) - n, "task: {name: x, env: {B: *a8}}\n");
    assert_int_equal(af_template_check(bomb, &err), -1);
    assert_non_null(strstr(err.text, "anchors and aliases are not allowed"));
    n = (size_t)snprintf(deep, sizeof(deep), "task: ");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{a: ");
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "x");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "}");
    snprintf(deep + n, sizeof(deep) - n, "\n");
    assert_int_equal(af_template_check(deep, &err), -1);
    assert_non_null(strstr(err.text, "nested more than 32 deep"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parameters_are_read),
        cmocka_unit_test(defaults_and_sets_expand),
        cmocka_unit_test(bad_values_are_named),
        cmocka_unit_test(bad_templates_are_refused),
        cmocka_unit_test(bombs_are_refused_before_loading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
