/* SPDX-License-Identifier: Apache-2.0 */
/* runas: account checks (getpwnam, getgrouplist) and the helper's argv. */
#include "runas.h"
#include "aconf.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_GROUPS 256

/* A number of /etc/login.defs, or def. */
static uid_t login_defs(const char *want, uid_t def)
{
    FILE *f = fopen("/etc/login.defs", "r");
    char line[256], key[32];
    unsigned long n, v = def;

    if (!f)
        return def;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, " %31s %lu", key, &n) == 2 && !strcmp(key, want))
            v = n;
    fclose(f);
    return (uid_t)v;
}

uid_t runas_uid_min_default(void)
{
    return login_defs("UID_MIN", 1000);
}

int runas_init(struct runas *ra, const struct aconf *conf, struct af_error *err)
{
    memset(ra, 0, sizeof(*ra));
    ra->sudo = conf->sudo;
    ra->helper = conf->job_helper;
    ra->uid_min = conf->uid_min_set ? conf->uid_min : runas_uid_min_default();
    ra->uid_max = login_defs("UID_MAX", 60000);
    ra->self = geteuid();
    if (conf->job_users_group) {
        struct group *g = getgrnam(conf->job_users_group);
        if (!g)
            return af_error_set(err, "job_users_group: no group %s on this machine",
                                conf->job_users_group);
        ra->have_group = true;
        ra->group = g->gr_gid;
        snprintf(ra->group_name, sizeof(ra->group_name), "%s", conf->job_users_group);
    }
    return 0;
}

static bool in_group(const struct passwd *pw, gid_t want)
{
    gid_t groups[MAX_GROUPS];
    int n = MAX_GROUPS;

    if (pw->pw_gid == want)
        return true;
    if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
        return false;
    for (int i = 0; i < n; i++)
        if (groups[i] == want)
            return true;
    return false;
}

int runas_check(const struct runas *ra, const char *name, uid_t *ret_uid, char *home,
                size_t home_size, struct af_error *why)
{
    struct passwd *pw = getpwnam(name);

    if (!pw)
        return af_error_set(why, "no local account %s on this login node", name);
    if (pw->pw_uid == 0)
        return af_error_set(why, "account %s is root: a job never runs as root", name);
    if (pw->pw_uid == ra->self)
        return af_error_set(why,
                            "account %s is the agent's own: a job never runs as the "
                            "agent, which holds the site's keys",
                            name);
    if (pw->pw_uid < ra->uid_min)
        return af_error_set(why,
                            "account %s has uid %u, below uid_min %u: a system account "
                            "never runs jobs",
                            name, (unsigned)pw->pw_uid, (unsigned)ra->uid_min);
    if (pw->pw_uid > ra->uid_max)
        return af_error_set(why,
                            "account %s has uid %u, above UID_MAX %u of /etc/login.defs "
                            "(nobody and the like): it never runs jobs",
                            name, (unsigned)pw->pw_uid, (unsigned)ra->uid_max);
    if (ra->have_group && !in_group(pw, ra->group))
        return af_error_set(why, "account %s is not in job_users_group %s", name,
                            ra->group_name);
    if (ret_uid)
        *ret_uid = pw->pw_uid;
    if (home)
        snprintf(home, home_size, "%s", pw->pw_dir);
    return 0;
}

size_t runas_argv(const struct runas *ra, const char *name, const char *verb, char **argv)
{
    size_t n = 0;

    argv[n++] = (char *)ra->sudo;
    argv[n++] = "-n";
    argv[n++] = "-u";
    argv[n++] = (char *)name;
    argv[n++] = "--";
    argv[n++] = (char *)ra->helper;
    argv[n++] = (char *)verb;
    return n;
}

bool runas_job_root_ok(const char *job_root)
{
    return strstr(job_root, "%u") || strstr(job_root, "%h");
}

int runas_job_root(const char *job_root, const char *user, const char *home, char *buf,
                   size_t size, struct af_error *why)
{
    size_t n = 0;

    for (const char *p = job_root; *p; p++) {
        const char *put = NULL;
        int w;
        if (p[0] == '%' && p[1] == 'u')
            put = user;
        else if (p[0] == '%' && p[1] == 'h')
            put = home;
        if (put) {
            w = snprintf(buf + n, size - n, "%s", put);
            p++;
        } else {
            w = snprintf(buf + n, size - n, "%c", *p);
        }
        if (w < 0 || (size_t)w >= size - n)
            return af_error_set(why, "job_root: the path is too long");
        n += (size_t)w;
    }
    if (buf[0] != '/')
        return af_error_set(why, "job_root: '%s' is not an absolute path", buf);
    return 0;
}
