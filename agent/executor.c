/* SPDX-License-Identifier: Apache-2.0 */
/* executor: which one a site uses. */
#include "executor.h"
#include "aconf.h"
#include "backend.h"

#include <string.h>

const struct executor_ops *executor_find(const struct aconf *conf,
                                         const struct backend_ops *bops)
{
    if (bops->executor && !strcmp(bops->executor, "slurm"))
        return &executor_slurm_ops;
    if (conf->demo_jobs)
        return &executor_local_ops;
    return NULL;
}
