/* SPDX-License-Identifier: Apache-2.0 */
/* aconf: agent.conf parsing; every setting but the site has a default. */
#include "aconf.h"
#include "af_time.h"

#include <stdlib.h>
#include <string.h>

static int set_str(char **slot, const char *key, const char *value, struct af_error *err)
{
    if (!*value)
        return af_error_set(err, "%s: empty value", key);
    return af_conf_strdup(slot, value) < 0 ? af_error_set(err, "out of memory") : 0;
}

/* "1, 4, 8": GPU counts to ask the scheduler about. */
static int estimate_sizes(struct aconf_slurm *s, const char *key, const char *value,
                          struct af_error *err)
{
    struct af_strv v = {0};
    size_t max = sizeof(s->estimate_sizes) / sizeof(s->estimate_sizes[0]);
    int rc = af_strv_add(&v, key, value, false, max, err);

    for (size_t i = 0; rc == 0 && i < v.n; i++) {
        uint64_t n;
        if ((rc = af_conf_uint(key, v.v[i], 100000, &n, err)) == 0 && n == 0)
            rc = af_error_set(err, "%s: sizes are GPU counts of at least 1", key);
        if (rc == 0 && s->n_estimate_sizes == max)
            rc = af_error_set(err, "%s: more than %zu sizes", key, max);
        if (rc == 0)
            s->estimate_sizes[s->n_estimate_sizes++] = (uint32_t)n;
    }
    af_strv_free(&v);
    return rc;
}

/* job_root: absolute (or under %h), and one per account (%u or %h): a
 * shared directory would let one local user make another's job directory
 * first and rewrite what runs in it. */
static int job_root(struct aconf *c, const char *key, const char *value,
                    struct af_error *err)
{
    if (value[0] != '/' && strncmp(value, "%h/", 3))
        return af_error_set(err, "%s: '%s' is not an absolute path (or %%h/...)", key,
                            value);
    if (!strstr(value, "%u") && !strstr(value, "%h"))
        return af_error_set(err,
                            "%s: '%s' is one directory for every account; it needs %%u "
                            "or %%h, so that each account's jobs live in a directory "
                            "only it can write",
                            key, value);
    free(c->job_root);
    c->job_root = NULL;
    return set_str(&c->job_root, key, value, err);
}

static int bool_value(const char *key, const char *value, bool *ret, struct af_error *err)
{
    if (!strcmp(value, "yes") || !strcmp(value, "true"))
        *ret = true;
    else if (!strcmp(value, "no") || !strcmp(value, "false"))
        *ret = false;
    else
        return af_error_set(err, "%s: '%s' is not yes or no", key, value);
    return 0;
}

/* Who jobs run as, and how the agent becomes them. */
static int jobs_line(struct aconf *c, const char *key, const char *value,
                     struct af_error *err)
{
    uint64_t n;

    if (!strcmp(key, "lab"))
        return set_str(&c->lab, key, value, err);
    if (!strcmp(key, "job_root"))
        return job_root(c, key, value, err);
    if (!strcmp(key, "job_helper") || !strcmp(key, "sudo")) {
        char **slot = key[0] == 'j' ? &c->job_helper : &c->sudo;
        if (value[0] != '/')
            return af_error_set(err, "%s: '%s' is not an absolute path", key, value);
        free(*slot);
        *slot = NULL;
        return set_str(slot, key, value, err);
    }
    if (!strcmp(key, "job_users_group"))
        return set_str(&c->job_users_group, key, value, err);
    if (!strcmp(key, "uid_min")) {
        if (af_conf_uint(key, value, 4000000000u, &n, err) < 0)
            return -1;
        if (n == 0)
            return af_error_set(err, "%s: 0 would let root run jobs", key);
        c->uid_min = (uint32_t)n;
        c->uid_min_set = true;
        return 0;
    }
    if (!strcmp(key, "demo_jobs"))
        return bool_value(key, value, &c->demo_jobs, err);
    if (!strcmp(key, "demo_jobs_account")) {
        free(c->demo_jobs_account);
        c->demo_jobs_account = NULL;
        return set_str(&c->demo_jobs_account, key, value, err);
    }
    if (!strcmp(key, "user_ca_keys") || !strcmp(key, "ssh_domain"))
        return set_str(key[0] == 'u' ? &c->user_ca_keys : &c->ssh_domain, key, value,
                       err);
    if (!strcmp(key, "authorized_principals_file")) {
        if (value[0] != '/' || strstr(value, "%h") || strstr(value, ".."))
            return af_error_set(err,
                                "%s: must be an absolute path of the site's (not %%h: "
                                "a home is its user's)",
                                key);
        return set_str(&c->authorized_principals_file, key, value, err);
    }
    if (!strcmp(key, "authorized_principals_command")) {
        if (value[0] != '/')
            return af_error_set(err, "%s: must start with an absolute path", key);
        return set_str(&c->authorized_principals_command, key, value, err);
    }
    if (!strcmp(key, "require_user_signature"))
        return bool_value(key, value, &c->require_user_signature, err);
    if (!strcmp(key, "max_jobs_per_user")) {
        if (af_conf_uint(key, value, 100000, &n, err) < 0)
            return -1;
        if (n == 0)
            return af_error_set(err, "%s: at least 1", key);
        c->max_jobs_per_user = (uint32_t)n;
        return 0;
    }
    return 1; /* not one of these */
}

static int slurm_line(struct aconf *c, const char *key, const char *value,
                      struct af_error *err)
{
    struct aconf_slurm *s = &c->slurm;

    if (!strcmp(key, "job_root")) /* where it was first documented */
        return job_root(c, key, value, err);
    if (!strcmp(key, "conf"))
        return set_str(&s->conf, key, value, err);
    if (!strcmp(key, "bin_dir"))
        return set_str(&s->bin_dir, key, value, err);
    if (!strcmp(key, "user_map"))
        return set_str(&s->user_map, key, value, err);
    if (!strcmp(key, "partitions"))
        return af_strv_add(&s->partitions, key, value, true, 64, err);
    if (!strcmp(key, "estimate_sizes"))
        return estimate_sizes(s, key, value, err);
    if (!strcmp(key, "command_timeout") || !strcmp(key, "estimate_interval")) {
        uint64_t *slot =
            key[0] == 'c' ? &s->command_timeout_ms : &s->estimate_interval_ms;
        if (af_conf_duration(key, value, slot, err) < 0)
            return -1;
        if (*slot < 100 || *slot > 3600000)
            return af_error_set(err, "%s: must be between 100ms and 1h", key);
        return 0;
    }
    return af_error_set(err, "unknown setting '%s' in [slurm]", key);
}

static int on_line(void *arg, const char *section, const char *key, const char *value,
                   struct af_error *err)
{
    struct aconf *c = arg;

    int rc;

    if (!strcmp(section, "slurm"))
        return slurm_line(c, key, value, err);
    if (strcmp(section, "agent"))
        return af_error_set(err, "unknown section [%s] (want [agent] or [slurm])",
                            section);
    if (!strcmp(key, "site"))
        return af_conf_id(key, value, c->site, sizeof(c->site), err);
    if (!strcmp(key, "broker"))
        return set_str(&c->broker, key, value, err);
    if (!strcmp(key, "broker_public_key"))
        return set_str(&c->broker_public_key, key, value, err);
    if (!strcmp(key, "secret_key"))
        return set_str(&c->secret_key, key, value, err);
    if (!strcmp(key, "site_file"))
        return set_str(&c->site_file, key, value, err);
    if (!strcmp(key, "signing_key"))
        return set_str(&c->signing_key, key, value, err);
    if (!strcmp(key, "jobs_dir")) {
        free(c->jobs_dir);
        c->jobs_dir = NULL;
        return set_str(&c->jobs_dir, key, value, err);
    }
    if (!strcmp(key, "metrics_listen")) {
        free(c->metrics_listen);
        c->metrics_listen = NULL;
        return set_str(&c->metrics_listen, key, value, err);
    }
    if (!strcmp(key, "backend")) {
        if (strcmp(value, "static") && strcmp(value, "slurm"))
            return af_error_set(
                err, "backend: '%s' is not known (this build has: static, slurm)", value);
        return set_str(&c->backend, key, value, err);
    }
    if (!strcmp(key, "advertise_interval")) {
        if (af_conf_duration(key, value, &c->advertise_interval_ms, err) < 0)
            return -1;
        if (c->advertise_interval_ms < 100 || c->advertise_interval_ms > 3600000)
            return af_error_set(err, "%s: must be between 100ms and 1h", key);
        return 0;
    }
    if (!strcmp(key, "max_message"))
        return af_conf_uint(key, value, 64 * 1024 * 1024, &c->max_message, err);
    if ((rc = jobs_line(c, key, value, err)) <= 0)
        return rc;
    return af_error_set(err, "unknown setting '%s' in [agent]", key);
}

struct aconf *aconf_load(const char *path, struct af_error *err)
{
    struct aconf *c = calloc(1, sizeof(*c));

    if (!c || !(c->path = strdup(path)) || !(c->backend = strdup("static")) ||
        !(c->broker = strdup("tcp://127.0.0.1:7700")) ||
        !(c->broker_public_key = strdup("/etc/aifed/broker.pub")) ||
        !(c->secret_key = strdup("/etc/aifed/agent.key")) ||
        !(c->metrics_listen = strdup("127.0.0.1:9465")) ||
        !(c->jobs_dir = strdup("/var/lib/aifed-agent/jobs")) ||
        !(c->job_root = strdup("%h/.aifed/jobs")) ||
        !(c->job_helper = strdup(AIFED_LIBEXECDIR "/aifed-jobhelper")) ||
        !(c->sudo = strdup("/usr/bin/sudo")) ||
        !(c->demo_jobs_account = strdup("aifed-demo"))) {
        af_error_set(err, "out of memory");
        aconf_destroy(c);
        return NULL;
    }
    c->advertise_interval_ms = 5000;
    c->max_message = 1024 * 1024;
    c->slurm.command_timeout_ms = 10000;
    c->slurm.estimate_interval_ms = 60000;
    c->max_jobs_per_user = 256;
    if (af_conf_parse(path, on_line, c, err) < 0)
        goto fail;
    if (!c->site[0]) {
        af_error_set(err, "%s: [agent] needs site = ID (this site's id at the broker)",
                     path);
        goto fail;
    }
    if (!c->site_file) {
        af_error_set(err, "%s: the %s backend needs site_file = FILE", path, c->backend);
        goto fail;
    }
    if (c->authorized_principals_file && c->authorized_principals_command) {
        af_error_set(err,
                     "%s: authorized_principals_file or authorized_principals_command, "
                     "not both",
                     path);
        goto fail;
    }
    if (c->require_user_signature && !c->user_ca_keys) {
        af_error_set(err,
                     "%s: require_user_signature = yes needs user_ca_keys = FILE (the "
                     "CA keys your sshd trusts: TrustedUserCAKeys)",
                     path);
        goto fail;
    }
    if (!strcmp(c->backend, "slurm") && !c->slurm.user_map) {
        af_error_set(err,
                     "%s: the slurm backend needs user_map = FILE in [slurm] (whose "
                     "Slurm account holds each user's reservations)",
                     path);
        goto fail;
    }
    return c;
fail:
    aconf_destroy(c);
    return NULL;
}

void aconf_destroy(struct aconf *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->broker);
    free(c->broker_public_key);
    free(c->secret_key);
    free(c->backend);
    free(c->site_file);
    free(c->signing_key);
    free(c->metrics_listen);
    free(c->jobs_dir);
    free(c->slurm.conf);
    free(c->slurm.bin_dir);
    free(c->slurm.user_map);
    free(c->job_root);
    free(c->lab);
    free(c->job_helper);
    free(c->sudo);
    free(c->job_users_group);
    free(c->demo_jobs_account);
    free(c->user_ca_keys);
    free(c->authorized_principals_file);
    free(c->authorized_principals_command);
    free(c->ssh_domain);
    af_strv_free(&c->slurm.partitions);
    free(c);
}

char *aconf_path(const struct aconf *c, const char *path)
{
    return af_conf_path(c->path, path);
}

/* Defaults print as comments, so the output reads back as the same file. */
static void slurm_print(const struct aconf_slurm *s, FILE *out)
{
    char t[32], e[32];

    af_duration_format(s->command_timeout_ms, t, sizeof(t));
    af_duration_format(s->estimate_interval_ms, e, sizeof(e));
    fprintf(out, "\n[slurm]\n");
    fprintf(out, s->conf ? "conf = %s\n" : "# conf: none, Slurm's own default\n",
            s->conf);
    fprintf(out, s->bin_dir ? "bin_dir = %s\n" : "# bin_dir: none, commands from PATH\n",
            s->bin_dir);
    fprintf(out, "user_map = %s\n", s->user_map);
    fprintf(out, s->partitions.n ? "partitions = " : "# partitions: every one with GPUs");
    for (size_t i = 0; i < s->partitions.n; i++)
        fprintf(out, "%s%s", i ? ", " : "", s->partitions.v[i]);
    fprintf(out, s->n_estimate_sizes ? "\nestimate_sizes = "
                                     : "\n# estimate_sizes: 1 and a full node");
    for (size_t i = 0; i < s->n_estimate_sizes; i++)
        fprintf(out, "%s%u", i ? ", " : "", s->estimate_sizes[i]);
    fprintf(out, "\ncommand_timeout = %s\nestimate_interval = %s\n", t, e);
}

static void usersig_print(const struct aconf *c, FILE *out)
{
    fprintf(out,
            c->user_ca_keys
                ? "user_ca_keys = %s\n"
                : "# user_ca_keys: none, users' job signatures not checked%s\n",
            c->user_ca_keys ? c->user_ca_keys : "");
    fprintf(out,
            c->authorized_principals_file
                ? "authorized_principals_file = %s\n"
                : "# authorized_principals_file: none, a principal names its account%s\n",
            c->authorized_principals_file ? c->authorized_principals_file : "");
    if (c->authorized_principals_command)
        fprintf(out, "authorized_principals_command = %s\n",
                c->authorized_principals_command);
    fprintf(out, c->ssh_domain ? "ssh_domain = %s\n" : "# ssh_domain: none%s\n",
            c->ssh_domain ? c->ssh_domain : "");
    fprintf(out, "require_user_signature = %s\n",
            c->require_user_signature ? "yes" : "no");
}

void aconf_print(const struct aconf *c, FILE *out)
{
    char ivl[32];

    af_duration_format(c->advertise_interval_ms, ivl, sizeof(ivl));
    fprintf(out,
            "[agent]\nsite = %s\nbroker = %s\nbroker_public_key = %s\nsecret_key = %s\n"
            "backend = %s\nsite_file = %s\nadvertise_interval = %s\nmax_message = %llu\n",
            c->site, c->broker, c->broker_public_key, c->secret_key, c->backend,
            c->site_file, ivl, (unsigned long long)c->max_message);
    fprintf(out, "metrics_listen = %s\n", c->metrics_listen);
    fprintf(out, "jobs_dir = %s\n", c->jobs_dir);
    if (c->signing_key)
        fprintf(out, "signing_key = %s\n", c->signing_key);
    else
        fprintf(out, "# signing_key: none, a new key at every start\n");
    fprintf(out,
            c->lab ? "lab = %s\n" : "# lab: none, the agent refuses to run as root\n",
            c->lab);
    fprintf(out, "job_root = %s\njob_helper = %s\nsudo = %s\n", c->job_root,
            c->job_helper, c->sudo);
    if (c->uid_min_set)
        fprintf(out, "uid_min = %u\n", c->uid_min);
    else
        fprintf(out, "# uid_min: UID_MIN of /etc/login.defs\n");
    fprintf(out,
            c->job_users_group ? "job_users_group = %s\n"
                               : "# job_users_group: none, any account the user map "
                                 "names%s\n",
            c->job_users_group ? c->job_users_group : "");
    fprintf(out, "max_jobs_per_user = %u\n", c->max_jobs_per_user);
    fprintf(out, "demo_jobs = %s\ndemo_jobs_account = %s\n", c->demo_jobs ? "yes" : "no",
            c->demo_jobs_account);
    usersig_print(c, out);
    if (!strcmp(c->backend, "slurm"))
        slurm_print(&c->slurm, out);
}
