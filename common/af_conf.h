/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_conf: the helpers every aifed INI file shares (broker.conf, agent.conf,
 * site files). inih does the lexing; this module adds what an admin needs: an
 * error names the file and line and says what is wrong, values are checked
 * (numbers, durations, ids, lists), and relative paths are taken relative to
 * the file that names them, so a config directory can move as a whole.
 */
#ifndef AF_CONF_H
#define AF_CONF_H

#include "af_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A section handler: fill err->text and return -1 to reject the line. */
typedef int (*af_conf_fn)(void *arg, const char *section, const char *key,
                          const char *value, struct af_error *err);

/* Parse path with fn. A value ends before a "#" that follows a space (a
 * comment at the end of the line) or a " ;" (inih's own). On error err
 * reads "path:line: reason" (or "path: reason" when the file cannot be
 * read) and -1 is returned. */
#define AF_CONF_VALUE_MAX 4096
int af_conf_parse(const char *path, af_conf_fn fn, void *arg, struct af_error *err);

/* The whole of path, at most max bytes, NUL-ended (free it); NULL with err
 * ("PATH: No such file or directory", "PATH: longer than MAX bytes"). */
char *af_conf_read_file(const char *path, size_t max, struct af_error *err);

/* Value checkers: 0, or -1 with a reason in err (the caller's line is added
 * by af_conf_parse). */
int af_conf_uint(const char *key, const char *value, uint64_t max, uint64_t *ret,
                 struct af_error *err);
int af_conf_duration(const char *key, const char *value, uint64_t *ret_ms,
                     struct af_error *err);
int af_conf_bool(const char *key, const char *value, bool *ret, struct af_error *err);
int af_conf_id(const char *key, const char *value, char *buf, size_t size,
               struct af_error *err);
/* "120GB", "500MB", "2TB", "4096" (bytes); decimal units; at most 8 PiB. */
int af_conf_bytes(const char *key, const char *value, uint64_t *ret,
                  struct af_error *err);
/* Whether url may be fetched for a secret's sake (an OpenID issuer, its
 * endpoints): https, or http only to this machine (a lab); no space. */
bool af_conf_url_ok(const char *url);
/* A decimal number between 0 and max. */
int af_conf_number(const char *key, const char *value, double max, double *ret,
                   struct af_error *err);

/* A string list: a comma-separated value is split and trimmed, and repeated
 * keys add to it (inih lines are limited to 200 characters). */
struct af_strv {
    char **v;
    size_t n;
};
/* Append the items of value; with check_id each must be a valid id.
 * max bounds the total count. */
int af_strv_add(struct af_strv *sv, const char *key, const char *value, bool check_id,
                size_t max, struct af_error *err);
bool af_strv_has(const struct af_strv *sv, const char *s);
void af_strv_free(struct af_strv *sv);

/* Replace *slot (freed) with a copy of s; -1 (ENOMEM) leaves *slot alone. */
int af_conf_strdup(char **slot, const char *s);

/* path resolved against the directory of base_file unless absolute.
 * Returns a string the caller frees, or NULL (ENOMEM). */
char *af_conf_path(const char *base_file, const char *path);

#endif
