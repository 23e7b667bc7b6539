/* SPDX-License-Identifier: Apache-2.0 */
#include "usersig.h"
#include "aconf.h"
#include "af_jobsig.h"
#include "af_sshcert.h"
#include "af_time.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CA_FILE_MAX         (64 * 1024)
#define PRINCIPALS_FILE_MAX (64 * 1024)
#define MAX_CAS             16
#define FUTURE_SKEW_MS      (5 * 60 * 1000) /* a user's clock ahead of the site's */

bool usersig_checks(const struct aconf *c)
{
    return c->user_ca_keys != NULL;
}

bool usersig_required(const struct aconf *c)
{
    return c->require_user_signature;
}

/* Whether path is a regular file root or this process owns, writable by
 * no one else (what sshd asks of its principals command). */
static bool trusted_file(const char *path, struct af_error *err)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return af_error_set(err, "%s: %s", path, strerror(errno)), false;
    if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
        (st.st_mode & 022))
        return af_error_set(err, "%s: not a file root owns and only it may change", path),
               false;
    return true;
}

char *usersig_read_trusted(const char *path, size_t max, struct af_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    ssize_t n = 0;

    if (fd < 0) {
        af_error_set(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        af_error_set(err, "%s: not a regular file", path);
    else if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022))
        af_error_set(err, "%s: owned by uid %u or writable by others: not trusted", path,
                     (unsigned)st.st_uid);
    else if ((size_t)st.st_size > max)
        af_error_set(err, "%s: longer than %zu bytes", path, max);
    else if (!(buf = malloc((size_t)st.st_size + 1)))
        af_error_set(err, "out of memory");
    else if ((n = read(fd, buf, (size_t)st.st_size)) < 0 || n != st.st_size) {
        af_error_set(err, "%s: short read", path);
        free(buf);
        buf = NULL;
    } else
        buf[n] = '\0';
    close(fd);
    return buf;
}

/* The authorized principals file for account: the setting with %u as the
 * account (%% a percent). 0, or -1 when it does not fit. */
static int principals_path(const char *pattern, const char *account, char *buf,
                           size_t size)
{
    size_t n = 0;

    for (const char *p = pattern; *p; p++) {
        const char *add = p[0] == '%' && p[1] == 'u'   ? account
                          : p[0] == '%' && p[1] == '%' ? "%"
                                                       : NULL;
        size_t len = add ? strlen(add) : 1;

        if (n + len >= size)
            return -1;
        memcpy(buf + n, add ? add : p, len);
        n += len;
        p += add != NULL;
    }
    buf[n] = '\0';
    return 0;
}

/* Whether one of c's principals is listed in text: sshd's principals file,
 * a principal per line (after any options), "#" comments. */
static bool listed(char *text, const struct af_sshcert *c)
{
    char *save = NULL;

    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *end = line + strcspn(line, "\r"), *last;

        *end = '\0';
        while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        line += strspn(line, " \t");
        if (!*line || *line == '#')
            continue;
        for (last = end; last > line && last[-1] != ' ' && last[-1] != '\t'; last--)
            ; /* the last word: what follows any options */
        for (size_t i = 0; i < c->n_principals; i++)
            if (!strcmp(c->principals[i], last))
                return true;
    }
    return false;
}

/* Whether a principal of c may act as account here. */
static int allowed(const struct aconf *conf, const struct af_sshcert *c,
                   const char *account, struct af_error *why)
{
    char path[4096], *text;
    struct af_error err;
    bool ok;

    if (!conf->authorized_principals_file) {
        for (size_t i = 0; i < c->n_principals; i++)
            if (!strcmp(c->principals[i], account))
                return 0;
        return af_error_set(why,
                            "no principal of your certificate is %s, the account "
                            "the job would run as here",
                            account);
    }
    if (principals_path(conf->authorized_principals_file, account, path, sizeof(path)) <
        0)
        return af_error_set(why, "the site's principals file for %s is too long a path",
                            account);
    if (!(text = usersig_read_trusted(path, PRINCIPALS_FILE_MAX, &err)))
        return af_error_set(why, "the site cannot read its principals for %s: %s",
                            account, err.text);
    ok = listed(text, c);
    free(text);
    return ok ? 0
              : af_error_set(why,
                             "no principal of your certificate (%s) may act as %s here",
                             c->n_principals ? c->principals[0] : "none", account);
}

/* The site's CA keys into cas: 0, or -1 with err. */
static int ca_keys(const struct aconf *conf, uint8_t (*cas)[32], size_t *n,
                   struct af_error *err)
{
    char *path = aconf_path(conf, conf->user_ca_keys), *text;
    struct af_error e = {"out of memory"};
    int rc;

    text = path ? usersig_read_trusted(path, CA_FILE_MAX, &e) : NULL;
    free(path);
    if (!text)
        return af_error_set(err, "cannot read user_ca_keys: %s", e.text);
    rc = af_sshcert_ca_keys(text, cas, MAX_CAS, n, &e);
    free(text);
    return rc < 0 ? af_error_set(err, "user_ca_keys do not parse: %s", e.text) : 0;
}

int usersig_ready(const struct aconf *c, struct af_error *err)
{
    uint8_t cas[MAX_CAS][32];
    size_t n;

    return usersig_checks(c) ? ca_keys(c, cas, &n, err) : 0;
}

/* The certificate, checked against the site's CA keys when the user signed. */
static int certificate(const struct aconf *conf, const Aifed__UserSignature *u,
                       struct af_sshcert *c, struct af_error *why)
{
    uint8_t cas[MAX_CAS][32];
    size_t n_cas;
    struct af_error err;

    if (ca_keys(conf, cas, &n_cas, &err) < 0)
        return af_error_set(why, "the site %s", err.text);
    if (af_sshcert_parse(u->certificate, c, &err) < 0 ||
        af_sshcert_check(c, (const uint8_t(*)[32])cas, n_cas, u->signed_ms / 1000, NULL,
                         conf->ssh_domain, &err) < 0)
        return af_error_set(why, "your certificate is refused here: %s", err.text);
    return 0;
}

int usersig_verify(const struct aconf *conf, const Aifed__Job *job, struct af_sshcert *c,
                   struct af_error *why)
{
    const Aifed__UserSignature *u = job->user_signature;
    struct af_error err;
    char msg[AF_JOBSIG_MAX_TEXT];
    size_t len;

    if (!u || !usersig_checks(conf))
        return !usersig_required(conf)
                   ? 1
                   : af_error_set(why, "this site runs only jobs their users signed: log "
                                       "in with your SSH certificate (aifedctl login "
                                       "--ssh-cert) and submit again");
    if (u->signed_ms > af_now_ms() + FUTURE_SKEW_MS)
        return af_error_set(why,
                            "your signature is dated in the future: check your clock");
    if (certificate(conf, u, c, why) < 0)
        return -1;
    /* This site's id, not the job's: a signature for another site is not
     * good here. */
    len = af_jobsig_message(job->spec, job->lease_id, conf->site, job->request_id,
                            u->signed_ms, msg, sizeof(msg));
    if (!len ||
        af_sshsig_verify(u->signature, AF_JOBSIG_NAMESPACE, msg, len, c->key, &err) < 0)
        return af_error_set(why,
                            "your signature is not of this job at this site: changed "
                            "since you signed it, or signed for another (%s)",
                            len ? err.text : "too long");
    return 0;
}

int usersig_check(const struct aconf *conf, const Aifed__Job *job, const char *account,
                  struct af_error *why)
{
    struct af_sshcert c;
    int rc = usersig_verify(conf, job, &c, why);

    return rc != 0 ? (rc > 0 ? 0 : -1) : allowed(conf, &c, account, why);
}

bool usersig_by_command(const struct aconf *c)
{
    return c->authorized_principals_command != NULL;
}

int usersig_command(const struct aconf *c, const char *account, char *buf, size_t size,
                    char **argv, size_t max, struct af_error *why)
{
    size_t n = 0, at = 0;
    struct af_error err;
    char *save = NULL, words[1024];

    snprintf(words, sizeof(words), "%s", c->authorized_principals_command);
    for (char *w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (n + 1 >= max || principals_path(w, account, buf + at, size - at) < 0)
            return af_error_set(why, "the site's principals command is too long");
        argv[n++] = buf + at;
        at += strlen(buf + at) + 1;
    }
    argv[n] = NULL;
    /* sshd runs only a command root owns and no one else may change. */
    if (!n || !trusted_file(argv[0], &err))
        return af_error_set(why, "the site's principals command is not trusted (%s)",
                            n ? err.text : "empty");
    return 0;
}

int usersig_listed(const struct af_sshcert *c, char *output, const char *account,
                   struct af_error *why)
{
    return listed(output, c)
               ? 0
               : af_error_set(why,
                              "no principal of your certificate (%s) may "
                              "act as %s here",
                              c->n_principals ? c->principals[0] : "none", account);
}
