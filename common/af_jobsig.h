/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_jobsig: what a user signs for a job, so that a site can check that the
 * job came from the user and not from the broker or an admin's key. The
 * text names the lease, the site, the request id and the time, and a digest
 * of what the job runs: its name, image, variables, scripts, files and the
 * catalogue items it names. Not its time limit (the broker fills a missing
 * one from the lease, and the lease bounds it anyway) nor whether it is
 * shared (the broker's matter). aifedctl signs this text with
 * `ssh-keygen -Y sign -n AF_JOBSIG_NAMESPACE`; the agent checks the same.
 */
#ifndef AF_JOBSIG_H
#define AF_JOBSIG_H

#include <stddef.h>
#include <stdint.h>

struct Aifed__JobSpec;

#define AF_JOBSIG_NAMESPACE "aifed-job"
#define AF_JOBSIG_MAX_TEXT  512

/* SHA-256 of what spec runs, in hex. Each part is a tag, its length and
 * its bytes, so that no two different specs give the same stream. */
void af_jobsig_spec_digest(const struct Aifed__JobSpec *spec, char hex[65]);

/* "aifed job\nlease L\nsite S\nrequest R\nsigned MS\nspec DIGEST\n" into buf:
 * its length, or 0 when it does not fit. */
size_t af_jobsig_message(const struct Aifed__JobSpec *spec, const char *lease_id,
                         const char *site, const char *request_id, int64_t signed_ms,
                         char *buf, size_t size);

#endif
