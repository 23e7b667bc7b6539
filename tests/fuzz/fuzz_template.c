/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the template parser and expander (common/af_template.c), on
 * what a site or an admin offers. A template that parses is expanded with
 * its defaults and with a value for each parameter; what comes out must be
 * bounded, and a refusal must say why.
 */
#include "af_template.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct af_template t;
    struct af_error err = {{0}};
    char *text = malloc(size + 1), *yaml;
    char sets[AF_TEMPLATE_MAX_PARAMS][80];
    const char *ptrs[AF_TEMPLATE_MAX_PARAMS];

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* the wire's strings end at their first NUL */
    if (af_template_parse(text, &t, &err) == 0) {
        for (size_t i = 0; i < t.n_params; i++) {
            snprintf(sets[i], sizeof(sets[i]), "%.40s=1", t.params[i].name);
            ptrs[i] = sets[i];
        }
        for (int pass = 0; pass < 2; pass++) {
            err.text[0] = '\0';
            yaml = af_template_expand(&t, ptrs, pass ? t.n_params : 0, &err);
            if (yaml && strlen(yaml) > AF_TEMPLATE_MAX_OUTPUT)
                __builtin_trap();
            if (!yaml && !err.text[0])
                __builtin_trap();
            free(yaml);
        }
    } else if (!err.text[0]) {
        __builtin_trap();
    }
    af_template_free(&t);
    free(text);
    return 0;
}
