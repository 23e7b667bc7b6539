/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_wire: Envelope decode and validation. The validators are a table indexed
 * by body case, so adding a message means adding its row; a body with no row
 * is refused as unsupported rather than passed through unchecked.
 */
#include "af_wire.h"
#include "af_pbwalk.h"
#include "af_template.h"
#include "af_ids.h"
#include "af_keys.h"
#include "af_token.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef Aifed__Envelope Env;

static int bad(struct af_error *err, const char *fmt, const char *what)
{
    af_error_set(err, fmt, what);
    errno = EBADMSG;
    return -1;
}

/* An id field: required ids must be valid; optional ones valid when set. */
static int check_id(const char *s, bool required, const char *what, struct af_error *err)
{
    if ((!s || !*s) && !required)
        return 0;
    if (!s || !*s)
        return bad(err, "%s is required", what);
    if (!af_id_valid(s))
        return bad(err, "%s is not a valid id", what);
    return 0;
}

/* Free text from a peer: bounded, one line, and no control character, so
 * that nothing it carries can forge a log line or move a terminal's cursor
 * wherever it is printed (UTF-8 beyond ASCII is let through). */
static int check_text(const char *s, const char *what, struct af_error *err)
{
    if (!s)
        return 0;
    if (strlen(s) > AF_WIRE_MAX_TEXT)
        return bad(err, "%s is too long", what);
    for (; *s; s++)
        if ((unsigned char)*s < ' ' || *s == 0x7f)
            return bad(err, "%s holds a control character", what);
    return 0;
}

/* A token, signature or key: bounded and printable, never free text. */
static int check_blob(const char *s, size_t max, const char *what, struct af_error *err)
{
    if (!s)
        return 0;
    if (strlen(s) >= max)
        return bad(err, "%s is too long", what);
    for (; *s; s++)
        if (*s <= ' ' || *s > '~')
            return bad(err, "%s holds a character it cannot", what);
    return 0;
}

static int check_list_max(size_t n, char **v, bool ids, size_t max, const char *what,
                          struct af_error *err)
{
    if (n > max)
        return bad(err, "%s has too many items", what);
    for (size_t i = 0; i < n; i++) {
        if (ids ? check_id(v[i], true, what, err) : check_text(v[i], what, err))
            return -1;
    }
    return 0;
}

static int check_list(size_t n, char **v, bool ids, const char *what,
                      struct af_error *err)
{
    return check_list_max(n, v, ids, AF_WIRE_MAX_LIST, what, err);
}

/* Text of at most max bytes, one line (check_text's rule). */
static int check_short(const char *s, size_t max, const char *what, struct af_error *err)
{
    if (s && strlen(s) > max)
        return bad(err, "%s is too long", what);
    return check_text(s, what, err);
}

/* One data item: a workload's need or a site's catalogue entry. */
static int check_item(const Aifed__DataItem *d, const char *what, struct af_error *err)
{
    if (!d)
        return bad(err, "%s is required", what);
    if (check_id(d->name, true, what, err))
        return -1;
    if (d->kind < AIFED__DATA_KIND__DATA_DATASET ||
        d->kind > AIFED__DATA_KIND__DATA_IMAGE)
        return bad(err, "%s: unknown data kind", what);
    if (d->size_bytes > AF_WIRE_MAX_DATA_BYTES)
        return bad(err, "%s: size_bytes is more than 8 PiB", what);
    if (check_short(d->version, AF_WIRE_MAX_ENTRY_WORD, what, err) ||
        check_short(d->licence, AF_WIRE_MAX_ENTRY_WORD, what, err) ||
        check_short(d->path, AF_WIRE_MAX_ENTRY_TEXT, what, err) ||
        check_short(d->access, AF_WIRE_MAX_ENTRY_TEXT, what, err) ||
        check_short(d->description, AF_WIRE_MAX_ENTRY_TEXT, what, err))
        return -1;
    return check_list_max(d->n_certifications, d->certifications, true,
                          AF_WIRE_MAX_ENTRY_CERTS, what, err);
}

static int check_data(size_t n, Aifed__DataItem **v, const char *what,
                      struct af_error *err)
{
    if (n > AF_WIRE_MAX_LIST)
        return bad(err, "%s has too many items", what);
    for (size_t i = 0; i < n; i++)
        if (check_item(v[i], what, err))
            return -1;
    return 0;
}

static int check_script(const char *s, const char *what, struct af_error *err);
static int check_key_records(size_t n, Aifed__KeyRecord **v, const char *what,
                             struct af_error *err);
static int check_enrolments(size_t n, Aifed__Enrolment **v, const char *what,
                            struct af_error *err);

/* A template: named, described, its text bounded (a list leaves it out). */
static int check_template(const Aifed__Template *t, const char *what,
                          struct af_error *err)
{
    if (!t)
        return bad(err, "%s is required", what);
    if (check_id(t->name, true, what, err) || check_id(t->site, false, what, err) ||
        check_short(t->description, AF_WIRE_MAX_ENTRY_TEXT, what, err))
        return -1;
    if (t->text && strlen(t->text) > AF_WIRE_MAX_TEMPLATE)
        return bad(err, "%s is too long", what);
    return check_script(t->text, what, err);
}

/* A site's templates are checked as templates too (af_template_check: no
 * anchors or aliases, nesting bounded, parameters known, no local files,
 * even once expanded): what a user runs from one was read by the broker
 * first, not only by the site that wrote it. */
static int check_templates(size_t n, Aifed__Template **v, size_t max, size_t max_bytes,
                           const char *what, struct af_error *err)
{
    struct af_error why;
    size_t bytes = 0;

    if (n > max)
        return bad(err, "%s has too many templates", what);
    for (size_t i = 0; i < n; i++) {
        if (check_template(v[i], what, err))
            return -1;
        if (v[i]->text && *v[i]->text && af_template_check(v[i]->text, &why) < 0)
            return af_error_set(err, "%s: template %s: %s", what, v[i]->name, why.text);
        bytes += v[i]->text ? strlen(v[i]->text) : 0;
    }
    return bytes > max_bytes ? bad(err, "%s: the templates are too long together", what)
                             : 0;
}

/* An instant in ms since the epoch: 0 (not set) up to AF_WIRE_MAX_TIME_MS. */
static int check_time(int64_t ms, const char *what, struct af_error *err)
{
    if (ms < 0 || ms > AF_WIRE_MAX_TIME_MS)
        return bad(err, "%s is not a time between 1970 and 9999", what);
    return 0;
}

static bool weight_ok(double w)
{
    return isfinite(w) && w >= 0 && w <= 1000;
}

static int check_weights(const Aifed__Weights *w, struct af_error *err)
{
    if (w && !(weight_ok(w->time) && weight_ok(w->cost) && weight_ok(w->carbon) &&
               weight_ok(w->data) && weight_ok(w->fit)))
        return bad(err, "%s must be between 0 and 1000", "workload.weights");
    return 0;
}

static int check_workload(const Aifed__Workload *w, struct af_error *err)
{
    if (!w)
        return bad(err, "%s is required", "workload");
    if (check_id(w->project, true, "workload.project", err) ||
        check_text(w->accelerator, "workload.accelerator", err))
        return -1;
    if (w->accelerator && *w->accelerator && !af_id_valid(w->accelerator))
        return bad(err, "%s is not a valid name", "workload.accelerator");
    if (w->gpus == 0)
        return bad(err, "%s must be at least 1", "workload.gpus");
    if (w->walltime_s == 0)
        return bad(err, "%s must be at least 1 second", "workload.walltime");
    if (w->n_countries > AF_WIRE_MAX_LIST)
        return bad(err, "%s has too many items", "workload.countries");
    for (size_t i = 0; i < w->n_countries; i++) {
        const char *c = w->countries[i];
        if (strlen(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z')
            return bad(err, "%s must be ISO 3166 codes like LU or DE",
                       "workload.countries");
    }
    if (check_list(w->n_certifications, w->certifications, true,
                   "workload.certifications", err) ||
        check_list(w->n_sites, w->sites, true, "workload.sites", err) ||
        check_data(w->n_data, w->data, "workload.data", err) ||
        check_weights(w->weights, err))
        return -1;
    if (w->prefer < AIFED__PREFERENCE__PREFER_BALANCED ||
        w->prefer > AIFED__PREFERENCE__PREFER_LOCAL)
        return bad(err, "%s is not a known preference", "workload.prefer");
    if (check_time(w->not_before_ms, "workload.not_before", err) ||
        check_time(w->start_by_ms, "workload.start_by", err))
        return -1;
    if (w->start_by_ms && w->not_before_ms > w->start_by_ms)
        return bad(err, "%s", "workload: not_before must come before start_by");
    return 0;
}

static int check_lease_state(int s, bool allow_unspecified, struct af_error *err)
{
    if ((s == AIFED__LEASE_STATE__LEASE_STATE_UNSPECIFIED && allow_unspecified) ||
        (s >= AIFED__LEASE_STATE__LEASE_PENDING &&
         s <= AIFED__LEASE_STATE__LEASE_SCHEDULED))
        return 0;
    return bad(err, "%s is not a known lease state", "state");
}

/* What a site says of how to work in a hold: names a user types, so ids. */
static int check_access(const Aifed__SiteAccess *a, const char *what,
                        struct af_error *err)
{
    char w[64];

    if (!a)
        return 0;
    snprintf(w, sizeof(w), "%s.scheduler", what);
    if (check_id(a->scheduler, false, w, err))
        return -1;
    snprintf(w, sizeof(w), "%s.reservation", what);
    if (check_id(a->reservation, false, w, err))
        return -1;
    snprintf(w, sizeof(w), "%s.partition", what);
    if (check_id(a->partition, false, w, err))
        return -1;
    snprintf(w, sizeof(w), "%s.account", what);
    return check_id(a->account, false, w, err);
}

static int check_lease(const Aifed__Lease *l, struct af_error *err)
{
    if (!l)
        return bad(err, "%s is required", "lease");
    if (check_id(l->id, true, "lease.id", err) ||
        check_id(l->request_id, false, "lease.request_id", err) ||
        check_text(l->principal, "lease.principal", err) ||
        check_workload(l->workload, err) || check_lease_state(l->state, false, err) ||
        check_time(l->created_ms, "lease.created", err) ||
        check_time(l->updated_ms, "lease.updated", err) ||
        check_time(l->activated_ms, "lease.activated", err) ||
        check_time(l->expires_ms, "lease.expires", err) ||
        check_id(l->site, false, "lease.site", err) ||
        check_id(l->pool, false, "lease.pool", err) ||
        check_id(l->accelerator, false, "lease.accelerator", err) ||
        check_text(l->reason, "lease.reason", err) ||
        check_list(l->n_tried_sites, l->tried_sites, true, "lease.tried_sites", err) ||
        check_blob(l->token, AF_TOKEN_MAX, "lease.token", err) ||
        check_blob(l->site_signature, AF_SIGN_SIG_B64, "lease.site_signature", err) ||
        check_blob(l->site_signing_key, AF_SIGN_PK_B64, "lease.site_signing_key", err) ||
        check_access(l->access, "lease.access", err))
        return -1;
    return 0;
}

static int check_site(const Aifed__Site *s, struct af_error *err)
{
    if (!s)
        return bad(err, "%s is required", "site");
    if (check_id(s->id, true, "site.id", err) || check_text(s->name, "site.name", err) ||
        check_text(s->degraded, "site.degraded", err) ||
        check_list(s->n_certifications, s->certifications, true, "site.certifications",
                   err))
        return -1;
    /* Empty: not known yet (a site never heard from); no allow-list matches it. */
    if (s->country && *s->country && strlen(s->country) != 2)
        return bad(err, "%s must be an ISO 3166 code", "site.country");
    if (check_list(s->n_jurisdictions, s->jurisdictions, true, "site.jurisdictions",
                   err) ||
        check_data(s->n_data, s->data, "site.data", err) ||
        check_list(s->n_mapped_users, s->mapped_users, false, "site.mapped_users", err) ||
        check_list(s->n_mapped_projects, s->mapped_projects, true, "site.mapped_projects",
                   err) ||
        check_templates(s->n_templates, s->templates, AF_WIRE_MAX_SITE_TEMPLATES,
                        AF_WIRE_MAX_TEMPLATES_SIZE, "site.templates", err))
        return -1;
    if (!isfinite(s->price_per_gpu_hour) || s->price_per_gpu_hour < 0)
        return bad(err, "%s must be a price of 0 or more", "site.price_per_gpu_hour");
    if (s->n_maintenance > AF_WIRE_MAX_POOLS)
        return bad(err, "%s has too many windows", "site.maintenance");
    for (size_t i = 0; i < s->n_maintenance; i++) {
        const Aifed__Window *m = s->maintenance[i];

        if (check_time(m->start_ms, "site.maintenance", err) ||
            check_time(m->end_ms, "site.maintenance", err))
            return -1;
        if (m->end_ms <= m->start_ms)
            return bad(err, "%s: a window must end after it starts", "site.maintenance");
    }
    return 0;
}

static int check_pool(const Aifed__Pool *p, struct af_error *err)
{
    if (!p)
        return bad(err, "%s is required", "pool");
    if (check_id(p->name, true, "pool.name", err) ||
        check_id(p->accelerator, true, "pool.accelerator", err))
        return -1;
    if (p->gpus_free > p->gpus_total)
        return bad(err, "%s: gpus_free exceeds gpus_total", p->name);
    if ((uint64_t)p->gpus_per_node * p->nodes_total < p->gpus_total)
        return bad(err, "%s: gpus_total exceeds nodes_total x gpus_per_node", p->name);
    if (p->n_starts > AF_WIRE_MAX_POOLS)
        return bad(err, "%s: too many start estimates", p->name);
    return 0;
}

/* One validator per body case. */

static int v_error(const Env *e, struct af_error *err)
{
    if (!e->error)
        return bad(err, "%s is required", "error");
    if (e->error->code < AIFED__ERROR_CODE__ERROR_BAD_REQUEST ||
        e->error->code > AIFED__ERROR_CODE__ERROR_STARTING)
        return bad(err, "%s is not a known error code", "error.code");
    if (e->error->retry_after_ms > 60000)
        return bad(err, "%s is out of range", "error.retry_after_ms");
    return check_text(e->error->message, "error.message", err);
}

static int v_hello(const Env *e, struct af_error *err)
{
    return e->hello ? (check_text(e->hello->agent_version, "hello.agent_version", err) ||
                               check_blob(e->hello->signing_key, AF_SIGN_PK_B64,
                                          "hello.signing_key", err)
                           ? -1
                           : 0)
                    : bad(err, "%s is required", "hello");
}

static int v_welcome(const Env *e, struct af_error *err)
{
    return e->welcome ? (check_text(e->welcome->principal, "welcome.principal", err) ||
                                 check_blob(e->welcome->signing_key, AF_SIGN_PK_B64,
                                            "welcome.signing_key", err)
                             ? -1
                             : 0)
                      : bad(err, "%s is required", "welcome");
}

static int v_advertisement(const Env *e, struct af_error *err)
{
    const Aifed__Advertisement *a = e->advertisement;

    if (!a)
        return bad(err, "%s is required", "advertisement");
    if (check_site(a->site, err) ||
        check_list_max(a->n_held_lease_ids, a->held_lease_ids, true, AF_WIRE_MAX_HELD,
                       "held_lease_ids", err) ||
        check_blob(a->signing_key, AF_SIGN_PK_B64, "signing_key", err))
        return -1;
    if (a->n_pools > AF_WIRE_MAX_POOLS)
        return bad(err, "%s has too many pools", "advertisement");
    for (size_t i = 0; i < a->n_pools; i++) {
        if (check_pool(a->pools[i], err))
            return -1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(a->pools[i]->name, a->pools[j]->name))
                return bad(err, "pool %s appears twice", a->pools[i]->name);
    }
    return 0;
}

static int v_lease_hold(const Env *e, struct af_error *err)
{
    return e->lease_hold ? check_lease(e->lease_hold->lease, err)
                         : bad(err, "%s is required", "lease_hold");
}

static int v_lease_held(const Env *e, struct af_error *err)
{
    return e->lease_held ? (check_id(e->lease_held->lease_id, true, "lease_id", err) ||
                                    check_blob(e->lease_held->signature, AF_SIGN_SIG_B64,
                                               "signature", err) ||
                                    check_access(e->lease_held->access, "access", err)
                                ? -1
                                : 0)
                         : bad(err, "%s is required", "lease_held");
}

static int v_lease_refused(const Env *e, struct af_error *err)
{
    if (!e->lease_refused)
        return bad(err, "%s is required", "lease_refused");
    return check_id(e->lease_refused->lease_id, true, "lease_id", err) ||
                   check_text(e->lease_refused->reason, "reason", err)
               ? -1
               : 0;
}

static int v_lease_release(const Env *e, struct af_error *err)
{
    return e->lease_release ? check_id(e->lease_release->lease_id, true, "lease_id", err)
                            : bad(err, "%s is required", "lease_release");
}

static int v_lease_ended(const Env *e, struct af_error *err)
{
    return e->lease_ended ? check_id(e->lease_ended->lease_id, true, "lease_id", err)
                          : bad(err, "%s is required", "lease_ended");
}

static int v_submit(const Env *e, struct af_error *err)
{
    if (!e->submit)
        return bad(err, "%s is required", "submit");
    return check_id(e->submit->request_id, true, "request_id", err) ||
                   check_workload(e->submit->workload, err)
               ? -1
               : 0;
}

static int v_explain(const Env *e, struct af_error *err)
{
    return e->explain ? check_workload(e->explain->workload, err)
                      : bad(err, "%s is required", "explain");
}

static int v_explain_reply(const Env *e, struct af_error *err)
{
    const Aifed__ExplainReply *r = e->explain_reply;

    if (!r)
        return bad(err, "%s is required", "explain_reply");
    for (size_t i = 0; i < r->n_candidates; i++) {
        const Aifed__Candidate *c = r->candidates[i];
        if (check_id(c->site, true, "candidate.site", err) ||
            check_id(c->pool, false, "candidate.pool", err) ||
            check_text(c->reason, "candidate.reason", err))
            return -1;
        if (c->verdict < AIFED__VERDICT__VERDICT_CHOSEN ||
            c->verdict > AIFED__VERDICT__VERDICT_REJECTED)
            return bad(err, "%s is not a known verdict", "candidate.verdict");
    }
    return 0;
}

static int v_get_lease(const Env *e, struct af_error *err)
{
    return e->get_lease ? check_id(e->get_lease->lease_id, true, "lease_id", err)
                        : bad(err, "%s is required", "get_lease");
}

static int v_list_leases(const Env *e, struct af_error *err)
{
    const Aifed__ListLeases *l = e->list_leases;

    if (!l)
        return bad(err, "%s is required", "list_leases");
    if (check_id(l->site, false, "site", err) ||
        check_id(l->project, false, "project", err) ||
        check_id(l->after, false, "after", err) || check_lease_state(l->state, true, err))
        return -1;
    if (l->limit > AF_WIRE_MAX_PAGE)
        return bad(err, "%s is larger than 1000", "limit");
    return 0;
}

static int v_lease_list(const Env *e, struct af_error *err)
{
    if (!e->lease_list)
        return bad(err, "%s is required", "lease_list");
    for (size_t i = 0; i < e->lease_list->n_leases; i++)
        if (check_lease(e->lease_list->leases[i], err))
            return -1;
    return 0;
}

static int v_lease_reply(const Env *e, struct af_error *err)
{
    return e->lease_reply ? check_lease(e->lease_reply->lease, err)
                          : bad(err, "%s is required", "lease_reply");
}

static int v_release(const Env *e, struct af_error *err)
{
    return e->release
               ? (check_id(e->release->lease_id, true, "lease_id", err) ||
                          check_id(e->release->request_id, false, "request_id", err)
                      ? -1
                      : 0)
               : bad(err, "%s is required", "release");
}

static int check_principal_id(const char *id, struct af_error *err);

static int v_who_am_i(const Env *e, struct af_error *err)
{
    return e->who_am_i ? 0 : bad(err, "%s is required", "who_am_i");
}

/* Where keys came from: a few, each a key and who added it. */
static int check_key_records(size_t n, Aifed__KeyRecord **v, const char *what,
                             struct af_error *err)
{
    if (n > AF_WIRE_MAX_KEYS)
        return bad(err, "%s has too many keys", what);
    for (size_t i = 0; i < n; i++)
        if (!v[i] || check_short(v[i]->public_key, AF_KEY_Z85_LEN, what, err) ||
            check_text(v[i]->added_by, what, err))
            return v[i] ? -1 : bad(err, "%s: a key record is empty", what);
    return 0;
}

/* The keys logins enrolled: a few, each a key, an end and how. */
static int check_enrolments(size_t n, Aifed__Enrolment **v, const char *what,
                            struct af_error *err)
{
    if (n > AF_WIRE_MAX_KEYS)
        return bad(err, "%s has too many keys", what);
    for (size_t i = 0; i < n; i++)
        if (!v[i] || check_short(v[i]->public_key, AF_KEY_Z85_LEN, what, err) ||
            check_text(v[i]->how, what, err) || check_time(v[i]->expires_ms, what, err))
            return v[i] ? -1 : bad(err, "%s: an enrolment is empty", what);
    return 0;
}

static int v_identity(const Env *e, struct af_error *err)
{
    const Aifed__Identity *r = e->identity;

    if (!r)
        return bad(err, "%s is required", "identity");
    if (check_principal_id(r->principal, err) ||
        check_list(r->n_projects, r->projects, true, "identity.projects", err) ||
        check_text(r->signing_key, "identity.signing_key", err) ||
        check_key_records(r->n_keys, r->keys, "identity.keys", err) ||
        check_enrolments(r->n_enrolments, r->enrolments, "identity.enrolments", err) ||
        check_text(r->notice, "identity.notice", err))
        return -1;
    return 0;
}

static int v_list_catalog(const Env *e, struct af_error *err)
{
    const Aifed__ListCatalog *q = e->list_catalog;

    if (!q)
        return bad(err, "%s is required", "list_catalog");
    if (q->kind < AIFED__DATA_KIND__DATA_DATASET ||
        q->kind > AIFED__DATA_KIND__DATA_IMAGE)
        return bad(err, "%s: unknown data kind", "list_catalog.kind");
    return check_id(q->site, false, "list_catalog.site", err) ||
                   check_short(q->search, AF_WIRE_MAX_ENTRY_WORD, "list_catalog.search",
                               err)
               ? -1
               : 0;
}

static int v_catalog_list(const Env *e, struct af_error *err)
{
    const Aifed__CatalogList *l = e->catalog_list;

    if (!l)
        return bad(err, "%s is required", "catalog_list");
    if (l->n_entries > AF_WIRE_MAX_CATALOG)
        return bad(err, "%s has too many entries", "catalog_list");
    for (size_t i = 0; i < l->n_entries; i++) {
        if (check_item(l->entries[i]->item, "catalog_list.entries", err))
            return -1;
        if (l->entries[i]->n_sites > AF_WIRE_MAX_LIST)
            return bad(err, "%s has too many sites", "catalog_list.entries");
        for (size_t j = 0; j < l->entries[i]->n_sites; j++)
            if (check_id(l->entries[i]->sites[j]->site, true, "catalog_list.sites",
                         err) ||
                check_short(l->entries[i]->sites[j]->path, AF_WIRE_MAX_ENTRY_TEXT,
                            "catalog_list.sites", err))
                return -1;
    }
    return check_templates(l->n_templates, l->templates, AF_WIRE_MAX_LIST,
                           AF_WIRE_MAX_TEMPLATES_SIZE, "catalog_list.templates", err);
}

static int v_get_template(const Env *e, struct af_error *err)
{
    if (!e->get_template)
        return bad(err, "%s is required", "get_template");
    const char *name = e->get_template->name, *slash = name ? strchr(name, '/') : NULL;
    char site[AF_ID_MAX + 2];

    /* NAME, or SITE/NAME: a site's own template. */
    if (!slash)
        return check_id(name, true, "get_template.name", err);
    if ((size_t)(slash - name) > AF_ID_MAX)
        return bad(err, "%s is not a valid id", "get_template.name's site");
    snprintf(site, sizeof(site), "%.*s", (int)(slash - name), name);
    return check_id(site, true, "get_template.name's site", err) ||
           check_id(slash + 1, true, "get_template.name", err);
}

static int v_template_reply(const Env *e, struct af_error *err)
{
    if (!e->template_reply)
        return bad(err, "%s is required", "template_reply");
    return check_template(e->template_reply->template_, "template_reply.template", err);
}

static int v_template_admin(const Env *e, struct af_error *err)
{
    const Aifed__TemplateAdmin *a = e->template_admin;

    if (!a)
        return bad(err, "%s is required", "template_admin");
    if (!a->template_ == !(a->remove && *a->remove))
        return bad(err, "%s: give a template to add or a name to remove",
                   "template_admin");
    if (a->template_)
        return check_template(a->template_, "template_admin.template", err);
    return check_id(a->remove, true, "template_admin.remove", err);
}

static int v_health(const Env *e, struct af_error *err)
{
    return e->health ? 0 : bad(err, "%s is required", "health");
}

static int v_health_reply(const Env *e, struct af_error *err)
{
    if (!e->health_reply)
        return bad(err, "%s is required", "health_reply");
    return check_short(e->health_reply->node, AF_WIRE_MAX_ENTRY_WORD * 4,
                       "health_reply.node", err) ||
                   check_time(e->health_reply->active_since_ms,
                              "health_reply.active_since", err)
               ? -1
               : 0;
}

static int v_list_sites(const Env *e, struct af_error *err)
{
    return e->list_sites ? 0 : bad(err, "%s is required", "list_sites");
}

static int v_site_list(const Env *e, struct af_error *err)
{
    if (!e->site_list)
        return bad(err, "%s is required", "site_list");
    for (size_t i = 0; i < e->site_list->n_sites; i++) {
        const Aifed__SiteStatus *s = e->site_list->sites[i];
        if (check_site(s->site, err))
            return -1;
        for (size_t j = 0; j < s->n_pools; j++)
            if (check_pool(s->pools[j]->pool, err))
                return -1;
    }
    return 0;
}

static int check_allocation(const Aifed__Allocation *a, struct af_error *err)
{
    if (!a)
        return bad(err, "%s is required", "allocation");
    if (check_id(a->project, true, "allocation.project", err) ||
        check_id(a->site, true, "allocation.site", err))
        return -1;
    if (a->granted_gpu_s > AF_WIRE_MAX_GPU_S || a->used_gpu_s > AF_WIRE_MAX_GPU_S ||
        a->reserved_gpu_s > AF_WIRE_MAX_GPU_S)
        return bad(err, "%s is more GPU-seconds than the broker counts",
                   "allocation.granted");
    return check_time(a->end_ms, "allocation.end", err);
}

static int v_login_challenge(const Env *e, struct af_error *err)
{
    return e->login_challenge ? 0 : bad(err, "%s is required", "login_challenge");
}

static int v_challenge(const Env *e, struct af_error *err)
{
    const Aifed__Challenge *c = e->challenge;

    if (!c)
        return bad(err, "%s is required", "challenge");
    return check_blob(c->nonce, 64, "challenge.nonce", err) ||
                   check_time(c->expires_ms, "challenge.expires_ms", err)
               ? -1
               : 0;
}

/* A certificate and an SSHSIG: both are parsed by af_sshcert, which bounds
 * and checks every field; here only their sizes, and that the certificate
 * is one line of text (its comment is free). */
static int check_ssh_pair(const char *cert, const char *sig, const char *what,
                          struct af_error *err)
{
    if (strlen(cert) > AF_WIRE_MAX_CERT)
        return bad(err, "%s.certificate is too long", what);
    if (strlen(sig) > AF_WIRE_MAX_SIGNATURE)
        return bad(err, "%s.signature is too long", what);
    for (const char *c = cert; *c; c++)
        if ((unsigned char)*c < ' ' || *c == 0x7f)
            return bad(err, "%s.certificate holds a control character", what);
    return 0;
}

static int v_login(const Env *e, struct af_error *err)
{
    const Aifed__Login *l = e->login;

    if (!l)
        return bad(err, "%s is required", "login");
    if (*l->id_token) { /* an OpenID login: a JWT, in base64url and dots */
        if (*l->nonce || *l->certificate || *l->signature)
            return bad(err, "%s", "a login is by certificate or by token, not both");
        if (strlen(l->id_token) > AF_WIRE_MAX_CERT)
            return bad(err, "%s is too long", "login.id_token");
        return strspn(l->id_token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-_.") == strlen(l->id_token)
                   ? 0
                   : bad(err, "%s is not a compact JWT", "login.id_token");
    }
    if (!*l->nonce || !*l->certificate || !*l->signature)
        return bad(err, "%s", "a login needs its challenge, certificate and signature");
    if (check_ssh_pair(l->certificate, l->signature, "login", err))
        return -1;
    return check_blob(l->nonce, 64, "login.nonce", err);
}

/* Absent, or whole: a certificate, a signature and when it was made. */
static int check_user_signature(const Aifed__UserSignature *u, struct af_error *err)
{
    if (!u)
        return 0;
    if (!*u->certificate || !*u->signature || u->signed_ms <= 0)
        return bad(err, "%s",
                   "a user signature needs its certificate, signature and time");
    return check_ssh_pair(u->certificate, u->signature, "user_signature", err) ||
                   check_time(u->signed_ms, "user_signature.signed_ms", err)
               ? -1
               : 0;
}

static int v_logout(const Env *e, struct af_error *err)
{
    return e->logout ? 0 : bad(err, "%s is required", "logout");
}

static int v_check_token(const Env *e, struct af_error *err)
{
    const Aifed__CheckToken *c = e->check_token;

    if (!c || !*c->token)
        return bad(err, "%s is required", "check_token.token");
    return strlen(c->token) >= AF_TOKEN_MAX ? bad(err, "%s is too long", "token") : 0;
}

static int v_token_status(const Env *e, struct af_error *err)
{
    const Aifed__TokenStatus *t = e->token_status;

    if (!t)
        return bad(err, "%s is required", "token_status");
    return check_id(t->lease_id, false, "lease_id", err) ||
                   check_text(t->reason, "reason", err)
               ? -1
               : 0;
}

static int v_get_request(const Env *e, struct af_error *err)
{
    const Aifed__GetRequest *g = e->get_request;

    if (!g)
        return bad(err, "%s is required", "get_request");
    if (!*g->request_id && !*g->lease_id)
        return bad(err, "%s", "give a request id or a lease id");
    return check_id(g->request_id, false, "request_id", err) ||
                   check_id(g->lease_id, false, "lease_id", err)
               ? -1
               : 0;
}

static int v_request_reply(const Env *e, struct af_error *err)
{
    const Aifed__RequestReply *r = e->request_reply;

    if (!r || !r->request)
        return bad(err, "%s is required", "request");
    return check_id(r->request->request_id, true, "request_id", err) ||
                   check_workload(r->request->workload, err)
               ? -1
               : 0;
}

static int v_allocation_set(const Env *e, struct af_error *err)
{
    return e->allocation_set ? check_allocation(e->allocation_set->allocation, err)
                             : bad(err, "%s is required", "allocation_set");
}

static int v_list_allocations(const Env *e, struct af_error *err)
{
    const Aifed__ListAllocations *l = e->list_allocations;

    if (!l)
        return bad(err, "%s is required", "list_allocations");
    return check_id(l->project, false, "project", err) ||
                   check_id(l->site, false, "site", err)
               ? -1
               : 0;
}

static int v_allocation_list(const Env *e, struct af_error *err)
{
    if (!e->allocation_list)
        return bad(err, "%s is required", "allocation_list");
    for (size_t i = 0; i < e->allocation_list->n_allocations; i++)
        if (check_allocation(e->allocation_list->allocations[i], err))
            return -1;
    return 0;
}

/* "kind:name" with a known kind and a valid name. */
static int check_principal_id(const char *id, struct af_error *err)
{
    static const char *const kinds[] = {"site:", "user:", "admin:", "gateway:"};

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strncmp(id, kinds[i], strlen(kinds[i])))
            return check_id(id + strlen(kinds[i]), true, "principal name", err);
    return bad(err, "%s must be site:ID, user:NAME, admin:NAME or gateway:NAME",
               "principal");
}

static int check_z85_key(const char *k, struct af_error *err)
{
    uint8_t raw[32];

    if (strlen(k) != 40 || !zmq_z85_decode(raw, k))
        return bad(err, "%s must be 40 Z85 characters", "public_key");
    return 0;
}

static int v_principal_add(const Env *e, struct af_error *err)
{
    const Aifed__PrincipalAdd *a = e->principal_add;

    if (!a)
        return bad(err, "%s is required", "principal_add");
    return check_principal_id(a->id, err) || check_z85_key(a->public_key, err) ||
                   check_list(a->n_projects, a->projects, true, "projects", err)
               ? -1
               : 0;
}

static int v_principal_remove_key(const Env *e, struct af_error *err)
{
    const Aifed__PrincipalRemoveKey *r = e->principal_remove_key;

    if (!r)
        return bad(err, "%s is required", "principal_remove_key");
    return check_principal_id(r->id, err) || check_z85_key(r->public_key, err) ? -1 : 0;
}

static int v_principal_revoke(const Env *e, struct af_error *err)
{
    return e->principal_revoke ? check_principal_id(e->principal_revoke->id, err)
                               : bad(err, "%s is required", "principal_revoke");
}

static int v_list_principals(const Env *e, struct af_error *err)
{
    return e->list_principals ? 0 : bad(err, "%s is required", "list_principals");
}

static int v_principal_list(const Env *e, struct af_error *err)
{
    if (!e->principal_list)
        return bad(err, "%s is required", "principal_list");
    for (size_t i = 0; i < e->principal_list->n_principals; i++) {
        const Aifed__Principal *p = e->principal_list->principals[i];
        if (check_principal_id(p->id, err) ||
            check_list(p->n_projects, p->projects, true, "projects", err) ||
            check_key_records(p->n_keys, p->keys, "keys", err) ||
            check_enrolments(p->n_enrolments, p->enrolments, "enrolments", err) ||
            check_text(p->notice, "notice", err))
            return -1;
        if (p->n_public_keys > 2)
            return bad(err, "%s has more than two keys", p->id);
    }
    return 0;
}

static int v_renew(const Env *e, struct af_error *err)
{
    if (!e->renew)
        return bad(err, "%s is required", "renew");
    if (check_id(e->renew->lease_id, true, "lease_id", err) ||
        check_id(e->renew->request_id, false, "request_id", err))
        return -1;
    return e->renew->extend_s ? 0 : bad(err, "%s must be at least 1", "extend_s");
}

static int v_revoke(const Env *e, struct af_error *err)
{
    return e->revoke ? (check_id(e->revoke->lease_id, true, "lease_id", err) ||
                                check_text(e->revoke->reason, "reason", err) ||
                                check_id(e->revoke->request_id, false, "request_id", err)
                            ? -1
                            : 0)
                     : bad(err, "%s is required", "revoke");
}

static int v_list_audit(const Env *e, struct af_error *err)
{
    if (!e->list_audit)
        return bad(err, "%s is required", "list_audit");
    if (e->list_audit->limit > AF_WIRE_MAX_PAGE)
        return bad(err, "%s is more than a page", "limit");
    return check_time(e->list_audit->since_ms, "since", err);
}

static int v_audit_list(const Env *e, struct af_error *err)
{
    if (!e->audit_list)
        return bad(err, "%s is required", "audit_list");
    if (e->audit_list->n_entries > AF_WIRE_MAX_PAGE)
        return bad(err, "%s is more than a page", "audit_list");
    for (size_t i = 0; i < e->audit_list->n_entries; i++) {
        const Aifed__AuditEntry *a = e->audit_list->entries[i];
        if (check_text(a->subject, "subject", err) ||
            check_text(a->principal, "principal", err) ||
            check_text(a->change, "change", err) || check_text(a->text, "text", err) ||
            check_blob(a->prev_hash, AF_SIGN_SIG_B64, "prev_hash", err) ||
            check_blob(a->hash, AF_SIGN_SIG_B64, "hash", err))
            return -1;
    }
    return 0;
}

static int v_site_admin(const Env *e, struct af_error *err)
{
    const Aifed__SiteAdmin *a = e->site_admin;

    if (!a)
        return bad(err, "%s is required", "site_admin");
    if (a->action < AIFED__SITE_ACTION__SITE_DRAIN ||
        a->action > AIFED__SITE_ACTION__SITE_CONFIRM_DOWN)
        return bad(err, "%s is not a known site action", "action");
    return check_id(a->site, a->action != AIFED__SITE_ACTION__SITE_CONFIRM_DOWN, "site",
                    err);
}

typedef int (*validator_fn)(const Env *, struct af_error *);

/* ---- jobs ---- */

/* A script: bounded, and no control character but newline and tab. */
static int check_script(const char *s, const char *what, struct af_error *err)
{
    if (!s)
        return 0;
    if (strlen(s) > AF_WIRE_MAX_SCRIPT)
        return bad(err, "%s is too long", what);
    for (; *s; s++)
        if (((unsigned char)*s < ' ' && *s != '\n' && *s != '\t') || *s == 0x7f)
            return bad(err, "%s holds a control character", what);
    return 0;
}

static int check_env_name(const char *s, struct af_error *err)
{
    if (!s || !*s || strlen(s) > 64 || (*s >= '0' && *s <= '9'))
        return bad(err, "%s is not a variable name", "spec.env.name");
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9')))
            return bad(err, "%s is not a variable name", "spec.env.name");
    return 0;
}

/* A path inside the job's directory: relative, made of names that are
 * neither "." nor "..", in letters, digits and ._- (no quoting needed). */
const char *af_wire_lease_model(const Aifed__Lease *l)
{
    if (l->accelerator && *l->accelerator)
        return l->accelerator;
    return l->workload && l->workload->accelerator ? l->workload->accelerator : "";
}

bool af_wire_file_name_ok(const char *s)
{
    size_t len = s ? strlen(s) : 0, part = 0;

    if (!len || len > AF_WIRE_MAX_FILE_NAME || *s == '/' || s[len - 1] == '/')
        return false;
    for (const char *p = s;; p++) {
        if (*p == '/' || !*p) {
            if (!part || (part == 1 && p[-1] == '.') ||
                (part == 2 && p[-1] == '.' && p[-2] == '.'))
                return false;
            if (!*p)
                return true;
            part = 0;
        } else if (*p == '.' || *p == '_' || *p == '-' || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) {
            part++;
        } else {
            return false;
        }
    }
}

static int check_files(const Aifed__JobSpec *j, struct af_error *err)
{
    size_t total = 0;

    if (j->n_files > AF_WIRE_MAX_FILES)
        return bad(err, "%s has too many entries", "spec.files");
    for (size_t i = 0; i < j->n_files; i++) {
        if (!j->files[i] || !af_wire_file_name_ok(j->files[i]->name))
            return bad(err, "%s is not a path inside the job's directory",
                       "spec.files.name");
        total += j->files[i]->data.len;
        for (size_t k = 0; k < i; k++)
            if (!strcmp(j->files[k]->name, j->files[i]->name))
                return bad(err, "%s names a file twice", "spec.files");
    }
    if (total > AF_WIRE_MAX_FILES_SIZE)
        return bad(err, "%s is too large", "spec.files");
    return 0;
}

bool af_wire_endpoint_name_ok(const char *s)
{
    size_t len = s ? strlen(s) : 0;

    if (!len || len > AF_WIRE_MAX_ENDPOINT_NAME || !(*s >= 'a' && *s <= 'z') ||
        s[len - 1] == '-')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
            return false;
    return true;
}

/* A probe's path: absolute, printable, no spaces (it goes into a request
 * line as it is). */
static int check_probe_path(const char *s, struct af_error *err)
{
    if (!s || !*s)
        return 0;
    if (*s != '/' || strlen(s) > AF_WIRE_MAX_PROBE_PATH)
        return bad(err, "%s is not a path of at most 256 characters",
                   "service.probe_path");
    return check_blob(s, AF_WIRE_MAX_PROBE_PATH + 1, "service.probe_path", err);
}

static int check_service(const Aifed__Service *sv, struct af_error *err)
{
    if (!sv)
        return 0;
    if (sv->port > 65535)
        return bad(err, "%s is not a port", "service.port");
    if (sv->replicas_max > AF_WIRE_MAX_REPLICAS || sv->replicas_min > sv->replicas_max)
        return bad(err, "%s is not min <= max <= 16", "service.replicas");
    if (sv->metric > AIFED__SCALE_METRIC__SCALE_RPS || !isfinite(sv->target) ||
        sv->target < 0 || (sv->metric && sv->target <= 0))
        return bad(err, "%s is not a known metric with a target above 0",
                   "service.metric");
    return check_probe_path(sv->probe_path, err);
}

static int check_spec(const Aifed__JobSpec *j, struct af_error *err)
{
    if (!j)
        return bad(err, "%s is required", "spec");
    if (check_service(j->service, err))
        return -1;
    if (check_files(j, err))
        return -1;
    if (j->n_env > AF_WIRE_MAX_ENV)
        return bad(err, "%s has too many entries", "spec.env");
    for (size_t i = 0; i < j->n_env; i++) {
        if (!j->env[i] || check_env_name(j->env[i]->name, err))
            return -1;
        if (j->env[i]->value && strlen(j->env[i]->value) > AF_WIRE_MAX_ENV_VALUE)
            return bad(err, "%s is too long", "spec.env.value");
        if (check_script(j->env[i]->value, "spec.env.value", err))
            return -1;
    }
    if (check_id(j->name, false, "spec.name", err) ||
        check_text(j->image, "spec.image", err) ||
        check_data(j->n_data, j->data, "spec.data", err) ||
        check_script(j->setup, "spec.setup", err) ||
        check_script(j->run, "spec.run", err))
        return -1;
    if (!j->run || !*j->run)
        return bad(err, "%s is required", "spec.run");
    return 0;
}

static int check_job_state(int s, struct af_error *err)
{
    if (s >= AIFED__JOB_STATE__JOB_QUEUED && s <= AIFED__JOB_STATE__JOB_TIMEOUT)
        return 0;
    return bad(err, "%s is not a known job state", "state");
}

static int check_job(const Aifed__Job *j, struct af_error *err)
{
    if (!j)
        return bad(err, "%s is required", "job");
    return check_id(j->id, true, "job.id", err) ||
                   check_id(j->request_id, false, "job.request_id", err) ||
                   check_id(j->lease_id, true, "job.lease_id", err) ||
                   check_id(j->site, false, "job.site", err) ||
                   check_id(j->project, false, "job.project", err) ||
                   check_text(j->principal, "job.principal", err) ||
                   check_spec(j->spec, err) || check_job_state(j->state, err) ||
                   check_time(j->created_ms, "job.created", err) ||
                   check_time(j->started_ms, "job.started", err) ||
                   check_time(j->ended_ms, "job.ended", err) ||
                   check_time(j->lease_expires_ms, "job.lease_expires", err) ||
                   check_text(j->reason, "job.reason", err) ||
                   check_id(j->site_job_id, false, "job.site_job_id", err) ||
                   check_id(j->local_account, false, "job.local_account", err) ||
                   check_user_signature(j->user_signature, err) ||
                   check_text(j->node, "job.node", err) ||
                   (j->port > 65535 ? bad(err, "%s is not a port", "job.port") : 0) ||
                   (j->gpu_seconds > AF_WIRE_MAX_GPU_S
                        ? bad(err, "%s is out of range", "job.gpu_seconds")
                        : 0)
               ? -1
               : 0;
}

static int v_submit_job(const Env *e, struct af_error *err)
{
    const Aifed__SubmitJob *s = e->submit_job;

    if (!s)
        return bad(err, "%s is required", "submit_job");
    return check_id(s->request_id, true, "request_id", err) ||
                   check_id(s->lease_id, true, "lease_id", err) ||
                   check_spec(s->spec, err) ||
                   check_user_signature(s->user_signature, err)
               ? -1
               : 0;
}

static int v_get_job(const Env *e, struct af_error *err)
{
    return e->get_job ? check_id(e->get_job->job_id, true, "job_id", err)
                      : bad(err, "%s is required", "get_job");
}

static int v_list_jobs(const Env *e, struct af_error *err)
{
    const Aifed__ListJobs *l = e->list_jobs;

    if (!l)
        return bad(err, "%s is required", "list_jobs");
    return check_id(l->lease_id, false, "lease_id", err) ||
                   check_id(l->project, false, "project", err) ||
                   (l->state && check_job_state(l->state, err))
               ? -1
               : 0;
}

static int v_cancel_job(const Env *e, struct af_error *err)
{
    return e->cancel_job ? check_id(e->cancel_job->job_id, true, "job_id", err)
                         : bad(err, "%s is required", "cancel_job");
}

static int v_job_reply(const Env *e, struct af_error *err)
{
    return e->job_reply ? check_job(e->job_reply->job, err)
                        : bad(err, "%s is required", "job_reply");
}

static int v_job_list(const Env *e, struct af_error *err)
{
    if (!e->job_list)
        return bad(err, "%s is required", "job_list");
    if (e->job_list->n_jobs > AF_WIRE_MAX_JOBS)
        return bad(err, "%s has too many entries", "job_list.jobs");
    for (size_t i = 0; i < e->job_list->n_jobs; i++)
        if (check_job(e->job_list->jobs[i], err))
            return -1;
    return 0;
}

static int v_start_job(const Env *e, struct af_error *err)
{
    return e->start_job ? check_job(e->start_job->job, err)
                        : bad(err, "%s is required", "start_job");
}

static int v_stop_job(const Env *e, struct af_error *err)
{
    return e->stop_job ? check_id(e->stop_job->job_id, true, "job_id", err)
                       : bad(err, "%s is required", "stop_job");
}

static int check_job_log(const Aifed__JobLog *l, struct af_error *err)
{
    if (!l)
        return bad(err, "%s is required", "log");
    if (l->data.len > AF_WIRE_MAX_LOG_CHUNK)
        return bad(err, "%s is too long", "log.data");
    return check_id(l->job_id, true, "log.job_id", err);
}

static int v_get_job_log(const Env *e, struct af_error *err)
{
    if (!e->get_job_log)
        return bad(err, "%s is required", "get_job_log");
    if (e->get_job_log->max_bytes > AF_WIRE_MAX_LOG_CHUNK)
        return bad(err, "%s is too large", "max_bytes");
    return check_id(e->get_job_log->job_id, true, "job_id", err);
}

static int v_job_log(const Env *e, struct af_error *err)
{
    return check_job_log(e->job_log, err);
}

static int v_read_job_log(const Env *e, struct af_error *err)
{
    if (!e->read_job_log)
        return bad(err, "%s is required", "read_job_log");
    if (e->read_job_log->max_bytes > AF_WIRE_MAX_LOG_CHUNK)
        return bad(err, "%s is too large", "max_bytes");
    return check_id(e->read_job_log->job_id, true, "job_id", err);
}

static int v_job_log_chunk(const Env *e, struct af_error *err)
{
    return e->job_log_chunk ? check_job_log(e->job_log_chunk->log, err)
                            : bad(err, "%s is required", "job_log_chunk");
}

static int v_job_status(const Env *e, struct af_error *err)
{
    const Aifed__JobStatus *j = e->job_status;

    if (!j)
        return bad(err, "%s is required", "job_status");
    return check_id(j->job_id, true, "job_id", err) || check_job_state(j->state, err) ||
                   check_text(j->reason, "reason", err) ||
                   check_id(j->site_job_id, false, "site_job_id", err) ||
                   check_id(j->local_account, false, "local_account", err) ||
                   check_text(j->node, "node", err) ||
                   (j->port > 65535 ? bad(err, "%s is not a port", "port") : 0)
               ? -1
               : 0;
}

static int check_replica_state(int s, struct af_error *err)
{
    if (s >= AIFED__REPLICA_STATE__REPLICA_QUEUED &&
        s <= AIFED__REPLICA_STATE__REPLICA_OFFLINE)
        return 0;
    return bad(err, "%s is not a known replica state", "replica.state");
}

static int check_endpoint_name(const char *s, struct af_error *err)
{
    return af_wire_endpoint_name_ok(s)
               ? 0
               : bad(err, "%s is not a name of 1-40 of a-z, 0-9 and '-'", "name");
}

static int check_endpoint(const Aifed__Endpoint *ep, struct af_error *err)
{
    if (!ep)
        return bad(err, "%s is required", "endpoint");
    if (check_endpoint_name(ep->name, err) ||
        check_text(ep->principal, "principal", err) ||
        check_id(ep->project, true, "project", err) ||
        check_workload(ep->workload, err) || check_spec(ep->job, err) ||
        check_text(ep->reason, "reason", err) ||
        check_id(ep->request_id, false, "request_id", err) ||
        check_time(ep->created_ms, "created", err) ||
        check_time(ep->updated_ms, "updated", err))
        return -1;
    if (ep->n_replicas > AF_WIRE_MAX_REPLICAS)
        return bad(err, "%s has too many entries", "replicas");
    for (size_t i = 0; i < ep->n_replicas; i++) {
        const Aifed__Replica *r = ep->replicas[i];
        if (!r || check_id(r->lease_id, true, "replica.lease_id", err) ||
            check_id(r->job_id, false, "replica.job_id", err) ||
            check_id(r->site, true, "replica.site", err) ||
            check_replica_state(r->state, err) ||
            check_text(r->node, "replica.node", err) ||
            check_time(r->since_ms, "replica.since", err) ||
            check_time(r->created_ms, "replica.created", err) ||
            (r->port > 65535 ? bad(err, "%s is not a port", "replica.port") : 0))
            return -1;
    }
    return 0;
}

static int v_create_endpoint(const Env *e, struct af_error *err)
{
    const Aifed__CreateEndpoint *c = e->create_endpoint;

    if (!c)
        return bad(err, "%s is required", "create_endpoint");
    if (check_id(c->request_id, true, "request_id", err) ||
        check_endpoint_name(c->name, err) || check_workload(c->workload, err) ||
        check_spec(c->job, err))
        return -1;
    return c->job->service ? 0 : bad(err, "%s is required", "job.service");
}

static int v_get_endpoint(const Env *e, struct af_error *err)
{
    return e->get_endpoint ? check_endpoint_name(e->get_endpoint->name, err)
                           : bad(err, "%s is required", "get_endpoint");
}

static int v_list_endpoints(const Env *e, struct af_error *err)
{
    return e->list_endpoints ? check_id(e->list_endpoints->project, false, "project", err)
                             : bad(err, "%s is required", "list_endpoints");
}

static int v_endpoint_reply(const Env *e, struct af_error *err)
{
    return e->endpoint_reply ? check_endpoint(e->endpoint_reply->endpoint, err)
                             : bad(err, "%s is required", "endpoint_reply");
}

static int v_endpoint_list(const Env *e, struct af_error *err)
{
    if (!e->endpoint_list)
        return bad(err, "%s is required", "endpoint_list");
    if (e->endpoint_list->n_endpoints > AF_WIRE_MAX_ENDPOINTS)
        return bad(err, "%s has too many entries", "endpoint_list.endpoints");
    for (size_t i = 0; i < e->endpoint_list->n_endpoints; i++)
        if (check_endpoint(e->endpoint_list->endpoints[i], err))
            return -1;
    return 0;
}

static int v_scale_endpoint(const Env *e, struct af_error *err)
{
    const Aifed__ScaleEndpoint *sc = e->scale_endpoint;

    if (!sc)
        return bad(err, "%s is required", "scale_endpoint");
    if (sc->replicas_max > AF_WIRE_MAX_REPLICAS || sc->replicas_min > sc->replicas_max)
        return bad(err, "%s is not min <= max <= 16", "replicas");
    return check_endpoint_name(sc->name, err);
}

static int check_key_record(const Aifed__EndpointKey *k, struct af_error *err)
{
    if (!k)
        return bad(err, "%s is required", "key");
    return check_id(k->id, true, "key.id", err) ||
                   check_id(k->project, true, "key.project", err) ||
                   (*k->endpoint && check_endpoint_name(k->endpoint, err)) ||
                   check_text(k->principal, "key.principal", err) ||
                   check_text(k->name, "key.name", err) ||
                   check_time(k->created_ms, "key.created", err) ||
                   check_time(k->expires_ms, "key.expires", err) ||
                   check_time(k->revoked_ms, "key.revoked", err)
               ? -1
               : 0;
}

static int v_create_key(const Env *e, struct af_error *err)
{
    const Aifed__CreateKey *c = e->create_key;

    if (!c)
        return bad(err, "%s is required", "create_key");
    return check_id(c->request_id, true, "request_id", err) ||
                   check_id(c->project, true, "project", err) ||
                   (*c->endpoint && check_endpoint_name(c->endpoint, err)) ||
                   check_text(c->name, "name", err) ||
                   check_time(c->expires_ms, "expires", err)
               ? -1
               : 0;
}

static int v_list_keys(const Env *e, struct af_error *err)
{
    return e->list_keys ? check_id(e->list_keys->project, false, "project", err)
                        : bad(err, "%s is required", "list_keys");
}

static int v_revoke_key(const Env *e, struct af_error *err)
{
    return e->revoke_key ? check_id(e->revoke_key->id, true, "id", err)
                         : bad(err, "%s is required", "revoke_key");
}

static int v_key_reply(const Env *e, struct af_error *err)
{
    if (!e->key_reply)
        return bad(err, "%s is required", "key_reply");
    return check_key_record(e->key_reply->key, err) ||
                   check_blob(e->key_reply->secret, AF_KEY_MAX, "secret", err)
               ? -1
               : 0;
}

static int v_key_list(const Env *e, struct af_error *err)
{
    if (!e->key_list)
        return bad(err, "%s is required", "key_list");
    if (e->key_list->n_keys > AF_WIRE_MAX_KEYS_LISTED)
        return bad(err, "%s has too many entries", "keys");
    for (size_t i = 0; i < e->key_list->n_keys; i++)
        if (check_key_record(e->key_list->keys[i], err))
            return -1;
    return 0;
}

/* HTTP headers as a request or answer carries them: a token of a name, and
 * a value of printable text (tabs allowed), bounded. */
static int check_headers(size_t n, Aifed__HttpHeader **v, struct af_error *err)
{
    if (n > AF_WIRE_MAX_HEADERS)
        return bad(err, "%s has too many entries", "headers");
    for (size_t i = 0; i < n; i++) {
        const char *p;
        if (!v[i] || !*v[i]->name || strlen(v[i]->name) > 256 ||
            strspn(v[i]->name, "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "abcdefghijklmnopqrstuvwxyz") != strlen(v[i]->name))
            return bad(err, "%s is not a header's name", "headers.name");
        if (strlen(v[i]->value) > AF_WIRE_MAX_HEADER)
            return bad(err, "%s is too long", "headers.value");
        for (p = v[i]->value; *p; p++)
            if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f)
                return bad(err, "%s holds a control character", "headers.value");
    }
    return 0;
}

/* A request's method (GET, POST, ...) and path (absolute, printable, no
 * space: it goes into a request line as it is). */
static int check_request_line(const char *method, const char *path, struct af_error *err)
{
    if (!*method || strlen(method) > 16 ||
        strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(method))
        return bad(err, "%s is not an HTTP method", "method");
    if (*path != '/' || strlen(path) > AF_WIRE_MAX_HEADER)
        return bad(err, "%s is not an absolute path", "path");
    return check_blob(path, AF_WIRE_MAX_HEADER + 1, "path", err);
}

static int check_status(uint32_t status, struct af_error *err)
{
    return status && (status < 100 || status > 599)
               ? bad(err, "%s is not an HTTP status", "status")
               : 0;
}

static int v_proxy_request(const Env *e, struct af_error *err)
{
    const Aifed__ProxyRequest *r = e->proxy_request;

    if (!r)
        return bad(err, "%s is required", "proxy_request");
    return check_blob(r->key, AF_KEY_MAX, "key", err) ||
                   check_endpoint_name(r->endpoint, err) ||
                   check_request_line(r->method, r->path, err) ||
                   check_headers(r->n_headers, r->headers, err)
               ? -1
               : 0;
}

static int check_answer(uint32_t status, size_t n, Aifed__HttpHeader **h,
                        const char *error, struct af_error *err)
{
    return check_status(status, err) || check_headers(n, h, err) ||
                   check_text(error, "error", err)
               ? -1
               : 0;
}

static int v_proxy_response(const Env *e, struct af_error *err)
{
    const Aifed__ProxyResponse *r = e->proxy_response;

    if (!r)
        return bad(err, "%s is required", "proxy_response");
    return check_answer(r->status, r->n_headers, r->headers, r->error, err) ||
                   check_id(r->site, false, "site", err)
               ? -1
               : 0;
}

static int v_proxy_cancel(const Env *e, struct af_error *err)
{
    return e->proxy_cancel ? 0 : bad(err, "%s is required", "proxy_cancel");
}

static int v_replica_request(const Env *e, struct af_error *err)
{
    const Aifed__ReplicaRequest *r = e->replica_request;

    if (!r)
        return bad(err, "%s is required", "replica_request");
    return check_id(r->job_id, true, "job_id", err) ||
                   check_request_line(r->method, r->path, err) ||
                   check_headers(r->n_headers, r->headers, err)
               ? -1
               : 0;
}

static int v_replica_response(const Env *e, struct af_error *err)
{
    const Aifed__ReplicaResponse *r = e->replica_response;

    return r ? check_answer(r->status, r->n_headers, r->headers, r->error, err)
             : bad(err, "%s is required", "replica_response");
}

static int v_replica_cancel(const Env *e, struct af_error *err)
{
    return e->replica_cancel ? 0 : bad(err, "%s is required", "replica_cancel");
}

static int v_delete_endpoint(const Env *e, struct af_error *err)
{
    return e->delete_endpoint ? check_endpoint_name(e->delete_endpoint->name, err)
                              : bad(err, "%s is required", "delete_endpoint");
}

static const struct {
    Aifed__Envelope__BodyCase body;
    const char *name;
    validator_fn check;
} bodies[] = {
    {AIFED__ENVELOPE__BODY_ERROR, "error", v_error},
    {AIFED__ENVELOPE__BODY_HELLO, "hello", v_hello},
    {AIFED__ENVELOPE__BODY_WELCOME, "welcome", v_welcome},
    {AIFED__ENVELOPE__BODY_ADVERTISEMENT, "advertisement", v_advertisement},
    {AIFED__ENVELOPE__BODY_LEASE_HOLD, "lease_hold", v_lease_hold},
    {AIFED__ENVELOPE__BODY_LEASE_HELD, "lease_held", v_lease_held},
    {AIFED__ENVELOPE__BODY_LEASE_REFUSED, "lease_refused", v_lease_refused},
    {AIFED__ENVELOPE__BODY_LEASE_RELEASE, "lease_release", v_lease_release},
    {AIFED__ENVELOPE__BODY_LEASE_ENDED, "lease_ended", v_lease_ended},
    {AIFED__ENVELOPE__BODY_SUBMIT, "submit", v_submit},
    {AIFED__ENVELOPE__BODY_EXPLAIN, "explain", v_explain},
    {AIFED__ENVELOPE__BODY_EXPLAIN_REPLY, "explain_reply", v_explain_reply},
    {AIFED__ENVELOPE__BODY_GET_LEASE, "get_lease", v_get_lease},
    {AIFED__ENVELOPE__BODY_LIST_LEASES, "list_leases", v_list_leases},
    {AIFED__ENVELOPE__BODY_LEASE_LIST, "lease_list", v_lease_list},
    {AIFED__ENVELOPE__BODY_LEASE_REPLY, "lease_reply", v_lease_reply},
    {AIFED__ENVELOPE__BODY_RELEASE, "release", v_release},
    {AIFED__ENVELOPE__BODY_LIST_SITES, "list_sites", v_list_sites},
    {AIFED__ENVELOPE__BODY_SITE_LIST, "site_list", v_site_list},
    {AIFED__ENVELOPE__BODY_GET_REQUEST, "get_request", v_get_request},
    {AIFED__ENVELOPE__BODY_CHECK_TOKEN, "check_token", v_check_token},
    {AIFED__ENVELOPE__BODY_LOGIN_CHALLENGE, "login_challenge", v_login_challenge},
    {AIFED__ENVELOPE__BODY_CHALLENGE, "challenge", v_challenge},
    {AIFED__ENVELOPE__BODY_LOGIN, "login", v_login},
    {AIFED__ENVELOPE__BODY_LOGOUT, "logout", v_logout},
    {AIFED__ENVELOPE__BODY_TOKEN_STATUS, "token_status", v_token_status},
    {AIFED__ENVELOPE__BODY_REQUEST_REPLY, "request_reply", v_request_reply},
    {AIFED__ENVELOPE__BODY_ALLOCATION_SET, "allocation_set", v_allocation_set},
    {AIFED__ENVELOPE__BODY_LIST_ALLOCATIONS, "list_allocations", v_list_allocations},
    {AIFED__ENVELOPE__BODY_ALLOCATION_LIST, "allocation_list", v_allocation_list},
    {AIFED__ENVELOPE__BODY_PRINCIPAL_ADD, "principal_add", v_principal_add},
    {AIFED__ENVELOPE__BODY_PRINCIPAL_REMOVE_KEY, "principal_remove_key",
     v_principal_remove_key},
    {AIFED__ENVELOPE__BODY_PRINCIPAL_REVOKE, "principal_revoke", v_principal_revoke},
    {AIFED__ENVELOPE__BODY_LIST_PRINCIPALS, "list_principals", v_list_principals},
    {AIFED__ENVELOPE__BODY_PRINCIPAL_LIST, "principal_list", v_principal_list},
    {AIFED__ENVELOPE__BODY_RENEW, "renew", v_renew},
    {AIFED__ENVELOPE__BODY_REVOKE, "revoke", v_revoke},
    {AIFED__ENVELOPE__BODY_LIST_AUDIT, "list_audit", v_list_audit},
    {AIFED__ENVELOPE__BODY_AUDIT_LIST, "audit_list", v_audit_list},
    {AIFED__ENVELOPE__BODY_SITE_ADMIN, "site_admin", v_site_admin},
    {AIFED__ENVELOPE__BODY_WHO_AM_I, "who_am_i", v_who_am_i},
    {AIFED__ENVELOPE__BODY_IDENTITY, "identity", v_identity},
    {AIFED__ENVELOPE__BODY_SUBMIT_JOB, "submit_job", v_submit_job},
    {AIFED__ENVELOPE__BODY_GET_JOB, "get_job", v_get_job},
    {AIFED__ENVELOPE__BODY_LIST_JOBS, "list_jobs", v_list_jobs},
    {AIFED__ENVELOPE__BODY_CANCEL_JOB, "cancel_job", v_cancel_job},
    {AIFED__ENVELOPE__BODY_JOB_REPLY, "job_reply", v_job_reply},
    {AIFED__ENVELOPE__BODY_JOB_LIST, "job_list", v_job_list},
    {AIFED__ENVELOPE__BODY_START_JOB, "start_job", v_start_job},
    {AIFED__ENVELOPE__BODY_STOP_JOB, "stop_job", v_stop_job},
    {AIFED__ENVELOPE__BODY_JOB_STATUS, "job_status", v_job_status},
    {AIFED__ENVELOPE__BODY_GET_JOB_LOG, "get_job_log", v_get_job_log},
    {AIFED__ENVELOPE__BODY_JOB_LOG, "job_log", v_job_log},
    {AIFED__ENVELOPE__BODY_READ_JOB_LOG, "read_job_log", v_read_job_log},
    {AIFED__ENVELOPE__BODY_JOB_LOG_CHUNK, "job_log_chunk", v_job_log_chunk},
    {AIFED__ENVELOPE__BODY_LIST_CATALOG, "list_catalog", v_list_catalog},
    {AIFED__ENVELOPE__BODY_CATALOG_LIST, "catalog_list", v_catalog_list},
    {AIFED__ENVELOPE__BODY_GET_TEMPLATE, "get_template", v_get_template},
    {AIFED__ENVELOPE__BODY_TEMPLATE_REPLY, "template_reply", v_template_reply},
    {AIFED__ENVELOPE__BODY_TEMPLATE_ADMIN, "template_admin", v_template_admin},
    {AIFED__ENVELOPE__BODY_HEALTH, "health", v_health},
    {AIFED__ENVELOPE__BODY_HEALTH_REPLY, "health_reply", v_health_reply},
    {AIFED__ENVELOPE__BODY_CREATE_ENDPOINT, "create_endpoint", v_create_endpoint},
    {AIFED__ENVELOPE__BODY_GET_ENDPOINT, "get_endpoint", v_get_endpoint},
    {AIFED__ENVELOPE__BODY_LIST_ENDPOINTS, "list_endpoints", v_list_endpoints},
    {AIFED__ENVELOPE__BODY_ENDPOINT_REPLY, "endpoint_reply", v_endpoint_reply},
    {AIFED__ENVELOPE__BODY_ENDPOINT_LIST, "endpoint_list", v_endpoint_list},
    {AIFED__ENVELOPE__BODY_SCALE_ENDPOINT, "scale_endpoint", v_scale_endpoint},
    {AIFED__ENVELOPE__BODY_DELETE_ENDPOINT, "delete_endpoint", v_delete_endpoint},
    {AIFED__ENVELOPE__BODY_CREATE_KEY, "create_key", v_create_key},
    {AIFED__ENVELOPE__BODY_LIST_KEYS, "list_keys", v_list_keys},
    {AIFED__ENVELOPE__BODY_REVOKE_KEY, "revoke_key", v_revoke_key},
    {AIFED__ENVELOPE__BODY_KEY_REPLY, "key_reply", v_key_reply},
    {AIFED__ENVELOPE__BODY_KEY_LIST, "key_list", v_key_list},
    {AIFED__ENVELOPE__BODY_PROXY_REQUEST, "proxy_request", v_proxy_request},
    {AIFED__ENVELOPE__BODY_PROXY_RESPONSE, "proxy_response", v_proxy_response},
    {AIFED__ENVELOPE__BODY_PROXY_CANCEL, "proxy_cancel", v_proxy_cancel},
    {AIFED__ENVELOPE__BODY_REPLICA_REQUEST, "replica_request", v_replica_request},
    {AIFED__ENVELOPE__BODY_REPLICA_RESPONSE, "replica_response", v_replica_response},
    {AIFED__ENVELOPE__BODY_REPLICA_CANCEL, "replica_cancel", v_replica_cancel},
};

void af_wire_clean_text(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < ' ' || *s == 0x7f)
            *s = ' ';
}

void *af_wire_copy(const void *msg)
{
    const ProtobufCMessage *m = msg;
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    void *copy;

    if (!buf)
        return NULL;
    protobuf_c_message_pack(m, buf);
    copy = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
    free(buf);
    if (!copy)
        errno = ENOMEM;
    return copy;
}

void af_wire_set_body(Aifed__Envelope *env, int body_case, void *msg)
{
    env->body_case = (Aifed__Envelope__BodyCase)body_case;
    /* Every member of the oneof is a message pointer in the same union. */
    memcpy(&env->hello, &msg, sizeof(msg));
}

const char *af_wire_body_name(int body_case)
{
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        if ((int)bodies[i].body == body_case)
            return bodies[i].name;
    return "unknown";
}

int af_wire_unpack(const void *buf, size_t len, size_t max, Env **ret,
                   struct af_error *err)
{
    char where[128];
    Env *env;

    if (len > max) {
        af_error_set(err, "message of %zu bytes exceeds the limit of %zu", len, max);
        errno = EMSGSIZE;
        return -1;
    }
    env = aifed__envelope__unpack(NULL, len, buf);
    if (!env)
        return bad(err, "%s", "not a valid aifed Envelope (truncated or corrupt)");
    if (af_pbwalk_no_nul(&aifed__envelope__descriptor, buf, len, where, sizeof(where)) <
        0) {
        aifed__envelope__free_unpacked(env, NULL);
        return bad(err, "%s: a NUL byte in a string is refused", where);
    }
    if (check_text(env->notice, "notice", err)) {
        aifed__envelope__free_unpacked(env, NULL);
        return -1;
    }
    if (env->version != AF_WIRE_VERSION) {
        af_error_set(err, "protocol version %u is not supported (this is %d)",
                     env->version, AF_WIRE_VERSION);
        aifed__envelope__free_unpacked(env, NULL);
        errno = EPROTONOSUPPORT;
        return -1;
    }
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        if (bodies[i].body != env->body_case)
            continue;
        if (bodies[i].check(env, err) != 0) { /* any refusal, whatever its sign */
            aifed__envelope__free_unpacked(env, NULL);
            errno = EBADMSG;
            return -1;
        }
        *ret = env;
        return 0;
    }
    af_error_set(err, "message body %d is not supported", (int)env->body_case);
    aifed__envelope__free_unpacked(env, NULL);
    errno = EPROTONOSUPPORT;
    return -1;
}

void af_wire_free(Env *env)
{
    if (env)
        aifed__envelope__free_unpacked(env, NULL);
}

int af_wire_pack(const Env *env, void **ret_buf, size_t *ret_len)
{
    size_t len = aifed__envelope__get_packed_size(env);
    uint8_t *buf = malloc(len ? len : 1);

    if (!buf)
        return -1;
    aifed__envelope__pack(env, buf);
    *ret_buf = buf;
    *ret_len = len;
    return 0;
}
