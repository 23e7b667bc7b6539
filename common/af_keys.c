/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_keys: reading and writing CURVE certificates. Only the two key lines are
 * interpreted; other ZPL lines (metadata) are ignored, so certificates made by
 * CZMQ's zcert tools load too. Secrets are wiped from stack buffers.
 */
#include "af_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

int af_keys_generate(struct af_keypair *ret)
{
    struct af_keypair kp;

    if (!zmq_has("curve")) {
        errno = ENOTSUP;
        return -1;
    }
    if (zmq_curve_keypair(kp.public_z85, kp.secret_z85) != 0)
        return -1;
    *ret = kp;
    sodium_memzero(&kp, sizeof(kp));
    return 0;
}

int af_keys_write_file(const char *path, mode_t mode, const char *text,
                       struct af_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    size_t len = strlen(text);
    ssize_t n;

    if (fd < 0)
        return af_error_set(err, "%s: %s", path, strerror(errno));
    n = write(fd, text, len);
    if (n != (ssize_t)len || fsync(fd) != 0) {
        af_error_set(err, "%s: %s", path, n < 0 ? strerror(errno) : "short write");
        close(fd);
        unlink(path);
        return -1;
    }
    if (close(fd) != 0)
        return af_error_set(err, "%s: %s", path, strerror(errno));
    return 0;
}

int af_keys_write(const char *dir, const char *name, const struct af_keypair *kp,
                  struct af_error *err)
{
    char keypath[4096], pubpath[4096], text[512], when[32];
    time_t now = time(NULL);
    struct tm tm;
    int rc;

    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (snprintf(keypath, sizeof(keypath), "%s/%s.key", dir, name) >=
            (int)sizeof(keypath) ||
        snprintf(pubpath, sizeof(pubpath), "%s/%s.pub", dir, name) >=
            (int)sizeof(pubpath))
        return af_error_set(err, "%s: path too long", dir);

    snprintf(text, sizeof(text),
             "#   ****  aifed CURVE secret key for %s, made %s  ****\n"
             "#   Keep this file secret: whoever holds it is %s.\n"
             "metadata\n    name = \"%s\"\ncurve\n"
             "    public-key = \"%s\"\n    secret-key = \"%s\"\n",
             name, when, name, name, kp->public_z85, kp->secret_z85);
    rc = af_keys_write_file(keypath, 0600, text, err);
    sodium_memzero(text, sizeof(text));
    if (rc < 0)
        return -1;
    snprintf(text, sizeof(text),
             "#   ****  aifed CURVE public key for %s, made %s  ****\n"
             "metadata\n    name = \"%s\"\ncurve\n    public-key = \"%s\"\n",
             name, when, name, kp->public_z85);
    if (af_keys_write_file(pubpath, 0644, text, err) < 0) {
        unlink(keypath);
        return -1;
    }
    return 0;
}

/* Find `field = "<40 z85 chars>"` in text. */
static int find_key(const char *text, const char *field, char *out)
{
    const char *p = text;
    size_t flen = strlen(field);

    while ((p = strstr(p, field)) != NULL) {
        const char *q = p + flen;

        p = q;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q++ != '=')
            continue;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q++ != '"')
            continue;
        if (strlen(q) < AF_KEY_Z85_LEN + 1 || q[AF_KEY_Z85_LEN] != '"')
            return -1;
        memcpy(out, q, AF_KEY_Z85_LEN);
        out[AF_KEY_Z85_LEN] = '\0';
        /* A valid Z85 key decodes to 32 bytes; anything else is not a key. */
        uint8_t bin[32];
        if (!zmq_z85_decode(bin, out))
            return -1;
        sodium_memzero(bin, sizeof(bin));
        return 0;
    }
    return -1;
}

int af_keys_read_file(const char *path, bool secret, char *buf, size_t size,
                      struct af_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    ssize_t n;

    if (fd < 0)
        return af_error_set(err, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        close(fd);
        return af_error_set(err, "%s: %s", path, strerror(errno));
    }
    if (secret && (st.st_mode & 077)) {
        close(fd);
        return af_error_set(err,
                            "%s: secret key is readable by group or others (mode %04o); "
                            "run chmod 600 on it",
                            path, (unsigned)(st.st_mode & 07777));
    }
    /* Another user's key is not this program's to use, even where it may
     * read it (root): the file says whose it is. */
    if (secret && st.st_uid != geteuid()) {
        close(fd);
        return af_error_set(
            err,
            "%s: secret key belongs to uid %u, not to this user (uid %u); "
            "chown it to the user that runs this",
            path, (unsigned)st.st_uid, (unsigned)geteuid());
    }
    n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return af_error_set(err, "%s: %s", path, strerror(errno));
    buf[n] = '\0';
    return 0;
}

int af_keys_load_secret(const char *path, struct af_keypair *ret, struct af_error *err)
{
    char text[2048];
    struct af_keypair kp;
    int rc = -1;

    if (af_keys_read_file(path, true, text, sizeof(text), err) < 0)
        return -1;
    if (find_key(text, "public-key", kp.public_z85) < 0 ||
        find_key(text, "secret-key", kp.secret_z85) < 0) {
        af_error_set(err,
                     "%s: not a CURVE secret key file (want public-key and secret-key)",
                     path);
        goto out;
    }
    *ret = kp;
    rc = 0;
out:
    sodium_memzero(text, sizeof(text));
    sodium_memzero(&kp, sizeof(kp));
    return rc;
}

int af_keys_load_public(const char *path, char *ret, struct af_error *err)
{
    char text[2048];
    char key[AF_KEY_Z85_LEN + 1];
    int rc = -1;

    if (af_keys_read_file(path, false, text, sizeof(text), err) < 0)
        return -1;
    if (find_key(text, "public-key", key) < 0) {
        af_error_set(err, "%s: no valid public-key line", path);
        goto out;
    }
    memcpy(ret, key, sizeof(key));
    rc = 0;
out:
    sodium_memzero(text, sizeof(text));
    return rc;
}
