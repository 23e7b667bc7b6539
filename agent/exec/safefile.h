/* SPDX-License-Identifier: Apache-2.0 */
/*
 * safefile: paths a less-trusted party controls, opened without trusting
 * them. A path is walked from "/" one component at a time with openat and
 * O_NOFOLLOW, so no symlink anywhere on it is followed; each directory on
 * the way must belong to root or to the account that owns the job, and must
 * not be writable by anyone else (a root-owned sticky directory such as
 * /tmp excepted: others may add names there but not replace ours). A file
 * is opened O_NONBLOCK (a FIFO cannot block the opener) and kept only when
 * fstat says it is a regular file owned by that account.
 *
 * The job helper uses this as the job's user; nothing here needs privilege.
 */
#ifndef SAFEFILE_H
#define SAFEFILE_H

#include "af_error.h"

#include <stdbool.h>
#include <sys/types.h>

/* The directory at absolute path, as an O_DIRECTORY fd, walked as above
 * for owner uid; with create, missing components are made 0700. -1 with
 * err saying which component and why. */
int safefile_dir(const char *path, uid_t uid, bool create, struct af_error *err);

/* A new directory name in dirfd (0700), opened; EEXIST is an error (a job's
 * directory is always made fresh). -1 with err. */
int safefile_mkdir_new(int dirfd, const char *name, struct af_error *err);

/* The regular file name in dirfd, owned by uid, opened read-only without
 * following a symlink or blocking on a FIFO. -1 with err (errno ENOENT when
 * it is not there). */
int safefile_open_read(int dirfd, const char *name, uid_t uid, struct af_error *err);

/* A new regular file name in dirfd (O_EXCL, O_NOFOLLOW), mode. -1 with err. */
int safefile_create(int dirfd, const char *name, mode_t mode, struct af_error *err);

/* Whether name is one plain path component (no '/', not "." or ".."). */
bool safefile_name_ok(const char *name);

#endif
