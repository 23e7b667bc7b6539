/* SPDX-License-Identifier: Apache-2.0 */
/* slurm_cmd: argv from bin_dir, SLURM_CONF in the environment, a time limit. */
#include "slurm_cmd.h"
#include "aconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_OUT (32u << 20) /* sinfo/squeue JSON of a large cluster, with room */

int slurm_cmd_init(struct slurm_cmd *c, const struct aconf *conf, struct af_error *err)
{
    memset(c, 0, sizeof(*c));
    c->bin_dir = conf->slurm.bin_dir;
    c->timeout_ms = conf->slurm.command_timeout_ms;
    if (conf->slurm.conf) {
        char *path = aconf_path(conf, conf->slurm.conf);
        if (!path || asprintf(&c->env[0], "SLURM_CONF=%s", path) < 0) {
            c->env[0] = NULL;
            free(path);
            return af_error_set(err, "out of memory");
        }
        free(path);
    }
    return 0;
}

void slurm_cmd_fini(struct slurm_cmd *c)
{
    free(c->env[0]);
    c->env[0] = NULL;
}

int slurm_cmd_path(const struct slurm_cmd *c, const char *name, char *buf, size_t size)
{
    const char *path = getenv("PATH");
    char *copy, *dir, *save = NULL;

    if (c->bin_dir) {
        snprintf(buf, size, "%s/%s", c->bin_dir, name);
        return 0;
    }
    if (!path || !(copy = strdup(path)))
        copy = strdup("/usr/bin:/bin");
    if (!copy)
        return -1;
    for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        snprintf(buf, size, "%s/%s", dir, name);
        if (dir[0] == '/' && access(buf, X_OK) == 0) {
            free(copy);
            return 0;
        }
    }
    free(copy);
    snprintf(buf, size, "/usr/bin/%s", name); /* said when it does not run */
    return 0;
}

const char *slurm_cmd_conf(const struct slurm_cmd *c)
{
    return c->env[0] ? c->env[0] + strlen("SLURM_CONF=") : "-";
}

int slurm_cmd_run(const struct slurm_cmd *c, struct proc_out *o, struct af_error *err,
                  const char *const *args)
{
    char *argv[32], path[512];
    size_t n = 0;
    int rc;

    /* bin_dir is for Slurm's commands, named bare; a path is used as given. */
    if (c->bin_dir && !strchr(args[0], '/'))
        snprintf(path, sizeof(path), "%s/%s", c->bin_dir, args[0]);
    else
        snprintf(path, sizeof(path), "%s", args[0]);
    argv[n++] = path;
    for (size_t i = 1; args[i] && n < sizeof(argv) / sizeof(argv[0]) - 1; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    rc = proc_run(argv, c->env[0] ? c->env : NULL, c->timeout_ms, MAX_OUT, o, err);
    if (rc > 0) {
        char *nl = strchr(o->err, '\n');
        if (nl)
            *nl = '\0';
        return af_error_set(err, "%s %s: %s", args[0], args[1] ? args[1] : "",
                            *o->err ? o->err : "failed");
    }
    return rc;
}
