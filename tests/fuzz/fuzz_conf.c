/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the configuration parsers, on files an admin (or a mistake)
 * writes: broker.conf, agent.conf and a static backend's site file. Each
 * input is written to one temporary file and parsed as all three.
 */
#include "aconf.h"
#include "backend.h"
#include "bconf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/aifed-fuzz-XXXXXX";
static char input[64], agent_conf[64];

/* Once: a directory, and an agent.conf whose site file is the input. */
static int setup(void)
{
    FILE *f;

    if (!mkdtemp(dir))
        return -1;
    snprintf(input, sizeof(input), "%s/input", dir);
    snprintf(agent_conf, sizeof(agent_conf), "%s/agent.conf", dir);
    f = fopen(agent_conf, "w");
    if (!f)
        return -1;
    fprintf(f, "[agent]\nsite = fuzz\nsite_file = input\n");
    return fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready = -2;
    struct af_error err;
    struct bconf *b;
    struct aconf *a;
    FILE *f;

    if (ready == -2)
        ready = setup();
    if (ready < 0)
        abort();
    f = fopen(input, "w");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    if ((b = bconf_load(input, &err)))
        bconf_destroy(b);
    if ((a = aconf_load(input, &err)))
        aconf_destroy(a);
    if ((a = aconf_load(agent_conf, &err))) {
        struct backend *site = backend_static_ops.create(a, &err);

        if (site) {
            const void *adv = backend_static_ops.advertisement(site, &err);
            (void)adv;
            backend_static_ops.destroy(site);
        }
        aconf_destroy(a);
    }
    return 0;
}
