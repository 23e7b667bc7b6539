/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jobsvc: the job services, the one way a job changes state, as leasesvc
 * is for leases; the rules are core/job's. A job is made QUEUED in an
 * ACTIVE or SCHEDULED lease (within the lease's open jobs, its time left
 * and its owner's stored jobs and bytes), started at its site after the
 * commit, moved on by its site's reports, and ended once: by its site, a
 * cancel, or its lease's end. An ended job keeps its variables' names and
 * its files' names and sizes, not their values and bytes; it is deleted
 * after the retention period, or sooner when its owner needs the room.
 * Every write goes into the store's open batch.
 */
#ifndef JOBSVC_H
#define JOBSVC_H

#include "af_ids.h"
#include "af_wire.h"

#include "aifed.pb-c.h"

#include <stdint.h>

struct svc;

/* Why a submit was refused: the code and words for the client. */
struct jobsvc_refusal {
    Aifed__ErrorCode code;
    char text[AF_WIRE_MAX_TEXT];
};

/* A job as a service made it: the message and the buffers it points into
 * (its other strings are borrowed from what it was made of). */
struct jobsvc_job {
    Aifed__Job job;
    Aifed__JobSpec spec;
    char id[AF_ID_MAX + 1];
};

/* A new job of principal's (sj: its request id, spec and, when the user
 * signed it, the signature passed on to the site) in lease l: stored
 * QUEUED into out, and asked of the site after the commit when l is
 * ACTIVE. 0 when stored; 1 when refused (why says why; nothing stored);
 * -1 when the store failed (the batch is failed, said once). */
int jobsvc_submit(struct svc *s, const Aifed__Lease *l, const char *principal,
                  const Aifed__SubmitJob *sj, struct jobsvc_job *out,
                  struct jobsvc_refusal *why);

/* Cancel j (as stored, unpacked: it changes in place, reason borrowed
 * from buf) for by, and tell its site to stop it. 0 when done; 1 when it
 * has already ended; -1 when the store failed. */
int jobsvc_cancel(struct svc *s, Aifed__Job *j, const char *by, char *buf, size_t size);

/* j's site says how it is doing (st); j as stored, unpacked. What does not
 * change j (core/job: job_report_changes) writes nothing. 0, or -1 when
 * the store failed. */
int jobsvc_report(struct svc *s, Aifed__Job *j, const Aifed__JobStatus *st);

/* Lease l became ACTIVE after being SCHEDULED: its queued jobs go to its
 * site (after the commit). */
void jobsvc_lease_started(struct svc *s, const Aifed__Lease *l);

/* Lease l ended: its open jobs end CANCELLED with it, in its batch (the
 * site, told to let go of the hold, stops them). How many into *ended; -1
 * when the store failed. */
int jobsvc_lease_ended(struct svc *s, const Aifed__Lease *l, uint32_t *ended);

/* A site's agent said Hello or advertised: if that came on a new
 * connection, ask it once more to start each job the broker has queued or
 * running there (a site answers for a job it has with how it is now, and
 * starts only one it never had), at most once per JOBSVC_RESUME_GAP_MS per
 * site; one held back goes from the tick when the gap has passed. */
#define JOBSVC_RESUME_GAP_MS 5000
void jobsvc_site_heard(struct svc *s, const char *site);

/* Once a second: ended jobs past the retention period deleted (a bounded
 * number), and the resumes held back sent. */
void jobsvc_tick(struct svc *s);

#endif
