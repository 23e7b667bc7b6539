/* SPDX-License-Identifier: Apache-2.0 */
/*
 * site_file: what a site file says, as the static backend keeps it. A
 * Slurm site's file holds only what the scheduler does not know (country,
 * data, prices, accelerator names and memory per partition), and the Slurm
 * backend reads it back through these.
 */
#ifndef SITE_FILE_H
#define SITE_FILE_H

struct backend;
struct Aifed__Site;
struct Aifed__Pool;

const struct Aifed__Site *backend_static_site(struct backend *b);
const struct Aifed__Pool *backend_static_pool(struct backend *b, const char *name);

#endif
