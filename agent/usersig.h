/* SPDX-License-Identifier: Apache-2.0 */
/*
 * usersig: whether a job came from its user. aifedctl signs each job with
 * the key of the user's EuroHPC SSH certificate (common/af_jobsig.h); the
 * site checks it the way its sshd checks a login, with its own files and
 * nothing of the broker's: the certificate against the CA keys the site
 * trusts (user_ca_keys: sshd's TrustedUserCAKeys), valid when the user
 * signed, for this site's domain grant (ssh_domain) when set; the
 * signature over this job at this site; and one of the certificate's
 * principals allowed for the local account the job would run as
 * (authorized_principals_file with %u, sshd's AuthorizedPrincipalsFile;
 * without one, as sshd: the principal is the account's name). With
 * require_user_signature = yes, a job without a good signature is refused:
 * a broker or an admin key cannot run code as a user here.
 *
 * The files are read at each check (a CA's key rotates without a reload),
 * and only when root or the agent owns them and no one else may write
 * them, without following a final symlink or blocking on a FIFO.
 */
#ifndef USERSIG_H
#define USERSIG_H

#include "af_error.h"

#include <stdbool.h>
#include <stddef.h>

struct aconf;
struct af_sshcert;
struct Aifed__Job;

/* Whether the site checks signatures at all (user_ca_keys is set), and
 * whether it requires them. */
bool usersig_checks(const struct aconf *c);
bool usersig_required(const struct aconf *c);

/* Whether job (as the broker sent it, before the site fills anything in)
 * may run as account here: 0; -1 with why, in words the user is shown.
 * A job without a signature passes unless one is required. With a
 * principals command, use the two halves below instead. */
int usersig_check(const struct aconf *c, const struct Aifed__Job *job,
                  const char *account, struct af_error *why);

/* The first half: the certificate and the signature, checked: 0 with cert
 * filled; 1 when the job is unsigned and may run so; -1 with why. */
int usersig_verify(const struct aconf *c, const struct Aifed__Job *job,
                   struct af_sshcert *cert, struct af_error *why);

/* Whether the site asks a command whom a principal may act as
 * (authorized_principals_command, sshd's AuthorizedPrincipalsCommand, such
 * as EFP's ssh-cert-authorize), run as the agent's account and not waited
 * for (the agent's command pool). */
bool usersig_by_command(const struct aconf *c);
/* Its argv for account (%u), into argv (at most max, NULL-ended) with the
 * words in buf: 0; -1 with why (too long, or a command root does not own
 * or others may change). */
int usersig_command(const struct aconf *c, const char *account, char *buf, size_t size,
                    char **argv, size_t max, struct af_error *why);
/* The second half: whether one of cert's principals is in the command's
 * output (sshd's principals file form; output is changed). 0; -1 why. */
int usersig_listed(const struct af_sshcert *cert, char *output, const char *account,
                   struct af_error *why);

/* Whether the site's CA keys can be read and parse: at start and at a
 * config check, so that a site learns of a bad file before a job does.
 * 0 (also when none is set), or -1 with err. */
int usersig_ready(const struct aconf *c, struct af_error *err);

/* Whether path may be trusted as the site's own text: a regular file owned
 * by root or by this process, writable by no one else. Its bytes (at most
 * max), NUL-terminated, to free; NULL with err. */
char *usersig_read_trusted(const char *path, size_t max, struct af_error *err);

#endif
