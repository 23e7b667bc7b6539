/* SPDX-License-Identifier: Apache-2.0 */
/* safefile: openat walks with O_NOFOLLOW, and fstat before trust. */
#include "safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool safefile_name_ok(const char *name)
{
    return *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..") &&
           strlen(name) < NAME_MAX;
}

/* A directory on the way may be trusted: root's or uid's, and writable by
 * nobody else unless it is root's and sticky. */
static int dir_trusted(const struct stat *st, uid_t uid, const char *at,
                       struct af_error *err)
{
    if (!S_ISDIR(st->st_mode))
        return af_error_set(err, "%s: not a directory", at);
    if (st->st_uid != 0 && st->st_uid != uid)
        return af_error_set(err,
                            "%s: belongs to uid %u, not to the job's account or root", at,
                            (unsigned)st->st_uid);
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) &&
        !(st->st_uid == 0 && (st->st_mode & S_ISVTX)))
        return af_error_set(err, "%s: others may write it (mode %o)", at,
                            (unsigned)(st->st_mode & 07777));
    return 0;
}

static int open_dir_at(int at, const char *name)
{
    return openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int safefile_dir(const char *path, uid_t uid, bool create, struct af_error *err)
{
    char buf[PATH_MAX], walked[PATH_MAX] = "";
    struct stat st;
    char *save = NULL, *part;
    int fd, next;

    if (path[0] != '/' || strlen(path) >= sizeof(buf))
        return af_error_set(err, "%s: not an absolute path", path);
    snprintf(buf, sizeof(buf), "%s", path);
    if ((fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return af_error_set(err, "/: %s", strerror(errno));
    for (part = strtok_r(buf, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        if (!safefile_name_ok(part)) {
            close(fd);
            return af_error_set(err, "%s: '%s' is not a plain path component", path,
                                part);
        }
        snprintf(walked + strlen(walked), sizeof(walked) - strlen(walked), "/%s", part);
        next = open_dir_at(fd, part);
        if (next < 0 && errno == ENOENT && create) {
            if (mkdirat(fd, part, 0700) < 0 && errno != EEXIST) {
                af_error_set(err, "%s: cannot make it: %s", walked, strerror(errno));
                close(fd);
                return -1;
            }
            next = open_dir_at(fd, part);
        }
        close(fd);
        if (next < 0)
            return af_error_set(err, "%s: %s", walked,
                                errno == ELOOP || errno == ENOTDIR
                                    ? "a symlink or not a directory"
                                    : strerror(errno));
        if (fstat(next, &st) < 0) {
            af_error_set(err, "%s: %s", walked, strerror(errno));
            close(next);
            return -1;
        }
        if (dir_trusted(&st, uid, walked, err) < 0) {
            close(next);
            return -1;
        }
        fd = next;
    }
    return fd;
}

int safefile_mkdir_new(int dirfd, const char *name, struct af_error *err)
{
    int fd;

    if (!safefile_name_ok(name))
        return af_error_set(err, "'%s' is not a plain name", name);
    if (mkdirat(dirfd, name, 0700) < 0)
        return af_error_set(err, "%s: %s", name,
                            errno == EEXIST ? "exists already (a job's directory is "
                                              "always made fresh)"
                                            : strerror(errno));
    if ((fd = open_dir_at(dirfd, name)) < 0)
        return af_error_set(err, "%s: %s", name, strerror(errno));
    return fd;
}

int safefile_open_read(int dirfd, const char *name, uid_t uid, struct af_error *err)
{
    struct stat st;
    int fd, e;

    if (!safefile_name_ok(name))
        return af_error_set(err, "'%s' is not a plain name", name);
    fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        af_error_set(err, "%s: %s", name,
                     e == ELOOP ? "a symlink, not followed" : strerror(e));
        errno = e;
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != uid) {
        af_error_set(err, "%s: %s", name,
                     !S_ISREG(st.st_mode) ? "not a regular file (a FIFO, device or "
                                            "directory is never read)"
                                          : "owned by another account");
        close(fd);
        errno = EPERM;
        return -1;
    }
    /* Reads from here on are of a regular file: blocking is fine. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

int safefile_create(int dirfd, const char *name, mode_t mode, struct af_error *err)
{
    int fd;

    if (!safefile_name_ok(name))
        return af_error_set(err, "'%s' is not a plain name", name);
    fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return af_error_set(err, "%s: %s", name, strerror(errno));
    return fd;
}
