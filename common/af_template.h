/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_template: task templates, a task file with named parameters
 * (docs/task-file.md, "Templates"). A template is YAML:
 *
 *     template: lora-finetune          # its name (optional: the catalogue's)
 *     description: one line
 *     parameters:
 *       model: {type: model, default: llama-3-8b, help: the model to tune}
 *       epochs: {type: int, default: 3}
 *       precision: {type: choice, allowed: [bf16, fp16], default: bf16}
 *     task:                            # a task file, with {{name}} in it
 *       name: lora-{{model}}
 *       models: ["{{model}}"]
 *
 * Expanding it checks every value against its parameter (type, allowed
 * values; a parameter without a default must be set), puts the values into
 * the task's scalars, and gives the task file's YAML. The agent checks a
 * site's templates with it, the broker an admin's, aifedctl expands them.
 */
#ifndef AF_TEMPLATE_H
#define AF_TEMPLATE_H

#include "af_error.h"

#include <stdbool.h>
#include <stddef.h>

#define AF_TEMPLATE_MAX_PARAMS  32
#define AF_TEMPLATE_MAX_ALLOWED 32
#define AF_TEMPLATE_MAX_VALUE   256 /* a parameter's value, and a default */
#define AF_TEMPLATE_MAX_OUTPUT  (256 * 1024)

enum af_tparam_type {
    AF_TP_STRING,
    AF_TP_INT,
    AF_TP_BOOL,
    AF_TP_DURATION,
    AF_TP_CHOICE,
    AF_TP_MODEL, /* catalogue entries: the caller checks that a site holds it */
    AF_TP_DATASET,
    AF_TP_IMAGE,
};

struct af_tparam {
    char *name;
    enum af_tparam_type type;
    char *def; /* NULL: the parameter must be set */
    char *allowed[AF_TEMPLATE_MAX_ALLOWED];
    size_t n_allowed;
    char *help;
};

struct af_template {
    char *name, *description; /* NULL when the file says none */
    struct af_tparam params[AF_TEMPLATE_MAX_PARAMS];
    size_t n_params;
    void *doc; /* the parsed YAML (a yaml_document_t) */
};

/* Parse text into t (af_template_free it, whatever the answer). -1 with
 * err: the first thing wrong, with its line where YAML gives one. */
int af_template_parse(const char *text, struct af_template *t, struct af_error *err);
void af_template_free(struct af_template *t);

/* Whether text is a template whose defaults expand: what a site's or an
 * admin's template must be before it is offered. */
int af_template_check(const char *text, struct af_error *err);

/* The task file's YAML (free it) with each "name=value" of sets applied and
 * the defaults for the rest; NULL with err naming the parameter at fault. */
char *af_template_expand(const struct af_template *t, const char *const *sets,
                         size_t n_sets, struct af_error *err);

/* The parameter called name, or NULL. */
const struct af_tparam *af_template_param(const struct af_template *t, const char *name);
/* "int", "model", ... */
const char *af_tparam_type_name(enum af_tparam_type type);

#endif
