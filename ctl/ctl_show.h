/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_show: how aifedctl prints what the broker said: aligned tables for
 * people, JSON (jansson) for scripts. The JSON field names are part of the
 * command line interface and documented in docs/protocol.md.
 */
#ifndef CTL_SHOW_H
#define CTL_SHOW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct Aifed__Lease;
struct Aifed__SiteList;
struct Aifed__ExplainReply;
struct Aifed__RequestRecord;
struct Aifed__AllocationList;
struct Aifed__PrincipalList;

/* A time for people: on a terminal the local time and how far it is
 * ("2026-12-02 20:28 CET (in 1h58m)"), else UTC ISO-8601, for scripts. */
void ctl_show_time(int64_t ms, char *buf, size_t size);
/* Always with how far it is: "2026-12-02T19:28:00Z (in 58s)" for scripts. */
void ctl_show_time_far(int64_t ms, char *buf, size_t size);
/* The same for a table's column: how far only ("in 1h58m") on a terminal. */
void ctl_show_time_short(int64_t ms, char *buf, size_t size);

void ctl_show_lease(const struct Aifed__Lease *l, bool json);
struct Aifed__LeaseReply;
struct Aifed__JobList;
/* The lease, what the site's own word says of its hold, and its jobs
 * (NULL: not asked for). */
void ctl_show_lease_reply(const struct Aifed__LeaseReply *r,
                          const struct Aifed__JobList *jobs, bool json);
/* Leases, as a table (ctl_table) or a JSON array. */
void ctl_show_leases(struct Aifed__Lease *const *v, size_t n, bool json);
void ctl_show_sites(const struct Aifed__SiteList *list, bool json);
void ctl_show_explain(const struct Aifed__ExplainReply *r, bool json);
/* A request, what was decided and the explanation kept with it. */
void ctl_show_request(const struct Aifed__RequestRecord *r, bool json);
struct ctl_task;
struct Aifed__Workload;
struct Aifed__Job;
/* A job in full; one line for run's progress (on stderr); a table. */
void ctl_show_job(const struct Aifed__Job *j, bool json);
void ctl_show_job_line(const struct Aifed__Job *j);
void ctl_show_jobs(const struct Aifed__JobList *l, bool json);
/* Lease lease_id ends within CTL_NEAR_END_S, with n_open jobs still open
 * in it: say how long is left and how to renew (1), else nothing (0). */
#define CTL_NEAR_END_S (15 * 60)
int ctl_show_lease_left(FILE *out, const char *lease_id, int64_t expires_ms,
                        size_t n_open);
/* A task file as understood: what it asks of a site, and what it runs. */
void ctl_show_task(const struct ctl_task *t, const struct Aifed__Workload *w, bool json);
void ctl_show_allocations(const struct Aifed__AllocationList *l, bool json);
void ctl_show_principals(const struct Aifed__PrincipalList *l, bool json);
struct af_token_claims;
struct Aifed__AuditEntry;
struct ctl_table;
/* The audit table (ctl_table), and one entry as its row, or as JSON. */
struct ctl_table *ctl_show_audit_table(void);
void ctl_show_audit_entry(struct ctl_table *t, const struct Aifed__AuditEntry *e);
json_t *ctl_audit_json(const struct Aifed__AuditEntry *e);
/* Print j (and release it). */
void ctl_print_json(json_t *j);
/* A time for JSON: UTC ISO-8601, or null when unset (0). */
json_t *ctl_time_json(int64_t ms);
/* A token whose signature verified; expired when its end has passed. */
void ctl_show_token(const struct af_token_claims *c, bool expired, bool json);
/* What the broker said of a token (verify-token --online). */
/* Every key of a principal and who added it when (whoami). */
struct Aifed__KeyRecord;
json_t *ctl_key_records_json(struct Aifed__KeyRecord *const *v, size_t n);
void ctl_show_key_records(struct Aifed__KeyRecord *const *v, size_t n);
/* The keys logins enrolled, and until when (whoami). */
struct Aifed__Enrolment;
json_t *ctl_enrolments_json(struct Aifed__Enrolment *const *v, size_t n);
void ctl_show_enrolments(struct Aifed__Enrolment *const *v, size_t n);
struct Aifed__TokenStatus;
void ctl_show_token_status(const struct Aifed__TokenStatus *t, bool json);

/* The same, of a whole reply (ctl_show_fn, for ctl_call_show): 0. */
struct Aifed__Envelope;
int ctl_reply_sites(const struct Aifed__Envelope *rep, bool json);
int ctl_reply_explain(const struct Aifed__Envelope *rep, bool json);
int ctl_reply_request(const struct Aifed__Envelope *rep, bool json);
int ctl_reply_allocations(const struct Aifed__Envelope *rep, bool json);
int ctl_reply_principals(const struct Aifed__Envelope *rep, bool json);

#endif
