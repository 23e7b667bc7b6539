/* SPDX-License-Identifier: Apache-2.0 */
#include "ctl_session.h"
#include "af_conf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ctl_session_path(const char *key, char *buf, size_t size)
{
    size_t n = strlen(key);

    if (n > 4 && !strcmp(key + n - 4, ".key"))
        n -= 4;
    return snprintf(buf, size, "%.*s.login", (int)n, key) < (int)size ? 0 : -1;
}

static int copy(char *dst, size_t size, const char *key, const char *value,
                struct af_error *err)
{
    if (strlen(value) >= size)
        return af_error_set(err, "%s is too long", key);
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

static int on_line(void *arg, const char *section, const char *key, const char *value,
                   struct af_error *err)
{
    struct ctl_session *s = arg;
    static const struct {
        const char *key;
        size_t off, size;
    } fields[] = {
#define F(name)                                                                          \
    {#name, offsetof(struct ctl_session, name), sizeof(((struct ctl_session *)0)->name)}
        F(ssh_cert), F(ssh_key), F(issuer), F(client_id), F(refresh_token),
#undef F
    };
    char *end;

    (void)section;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (!strcmp(key, fields[i].key))
            return copy((char *)s + fields[i].off, fields[i].size, key, value, err);
    if (!strcmp(key, "until_ms")) {
        s->until_ms = strtoll(value, &end, 10);
        return *end ? af_error_set(err, "until_ms: '%s' is not a number", value) : 0;
    }
    return 0; /* a newer aifedctl's: ignored */
}

int ctl_session_load(const char *key, struct ctl_session *s, struct af_error *err)
{
    char path[CTL_SESSION_PATH + 16];

    memset(s, 0, sizeof(*s));
    if (ctl_session_path(key, path, sizeof(path)) < 0)
        return af_error_set(err, "%s: too long a path", key);
    if (access(path, F_OK) < 0 && errno == ENOENT)
        return 0;
    return af_conf_parse(path, on_line, s, err) < 0 ? -1 : 1;
}

int ctl_session_save(const char *key, const struct ctl_session *s, struct af_error *err)
{
    char path[CTL_SESSION_PATH + 16], tmp[CTL_SESSION_PATH + 32];
    FILE *f;
    int fd, bad;

    if (ctl_session_path(key, path, sizeof(path)) < 0)
        return af_error_set(err, "%s: too long a path", key);
    snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) <
            0 ||
        !(f = fdopen(fd, "w"))) {
        if (fd >= 0)
            close(fd);
        return af_error_set(err, "%s: %s", tmp, strerror(errno));
    }
    fprintf(f, "# aifedctl's login (aifedctl logout deletes it)\n");
    if (*s->ssh_cert)
        fprintf(f, "ssh_cert = %s\nssh_key = %s\n", s->ssh_cert, s->ssh_key);
    if (*s->issuer)
        fprintf(f, "issuer = %s\nclient_id = %s\nrefresh_token = %s\n", s->issuer,
                s->client_id, s->refresh_token);
    fprintf(f, "until_ms = %" PRId64 "\n", s->until_ms);
    bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) < 0) {
        af_error_set(err, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int ctl_session_forget(const char *key)
{
    char path[CTL_SESSION_PATH + 16];

    if (ctl_session_path(key, path, sizeof(path)) < 0)
        return -1;
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}
