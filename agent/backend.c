/* SPDX-License-Identifier: Apache-2.0 */
/* backend: the table of backends this build has. */
#include "backend.h"

#include "aifed.pb-c.h"

#include <string.h>

int64_t backend_hold_start_ms(const Aifed__Lease *l, int64_t now_ms)
{
    return l->workload->not_before_ms > now_ms ? l->workload->not_before_ms : now_ms;
}

const struct backend_ops *backend_find(const char *name)
{
    static const struct backend_ops *const all[] = {&backend_static_ops,
                                                    &backend_slurm_ops};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (!strcmp(all[i]->name, name))
            return all[i];
    return NULL;
}
