/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_catalog: the federation's catalogue (ListCatalog), one template in
 * full (GetTemplate), and the admins' federation templates (TemplateAdmin:
 * stored in LMDB, audited, each checked as a site's are).
 */
#include "rpc.h"

#include "af_log.h"
#include "af_template.h"
#include "af_wire.h"
#include "catalog.h"
#include "sites.h"
#include "store.h"
#include "store_audit.h"
#include "svc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The federation's templates, copied out of the store for one request. */
struct fed_templates {
    Aifed__Template *v[AF_WIRE_MAX_FED_TEMPLATES];
    size_t n;
};

static int keep_template(const Aifed__Template *t, void *arg)
{
    struct fed_templates *f = arg;

    if (f->n == AF_WIRE_MAX_FED_TEMPLATES)
        return 1;
    if (!(f->v[f->n] = af_wire_copy(t)))
        return -1;
    f->n++;
    return 0;
}

static void fed_free(struct fed_templates *f)
{
    for (size_t i = 0; i < f->n; i++)
        aifed__template__free_unpacked(f->v[i], NULL);
    f->n = 0;
}

static int add_site(const char *id, const Aifed__Advertisement *adv, bool up, void *arg)
{
    (void)up;
    return catalog_add_site(arg, id, adv->site->data, adv->site->n_data,
                            adv->site->templates, adv->site->n_templates);
}

static void on_list_catalog(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__ListCatalog *q = m->env->list_catalog;
    struct catalog_query cq = {
        .kind = (int)q->kind,
        .all = q->all_kinds,
        .templates = q->templates,
        .site = *q->site ? q->site : NULL,
        .search = *q->search ? q->search : NULL,
    };
    struct catalog *c = catalog_new(&cq);
    struct fed_templates fed = {.n = 0};
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    const Aifed__CatalogList *list = NULL;
    bool failed = !c || store_template_list(s->store, keep_template, &fed) < 0;

    for (size_t i = 0; !failed && i < fed.n; i++)
        failed = catalog_add_template(c, fed.v[i]) < 0;
    if (!failed)
        sites_each(s->sites, add_site, c);
    if (failed || !(list = catalog_list(c))) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "reading the catalogue");
    } else {
        af_wire_set_body(&env, AIFED__ENVELOPE__BODY_CATALOG_LIST, (void *)list);
        rpc_reply(s, m, &env);
    }
    catalog_free(c);
    fed_free(&fed);
}

/* The sites' templates called name (of site only, when given): the first
 * found, and how many sites offer one. */
struct site_find {
    const char *name, *only;
    const Aifed__Template *found;
    const char *site;
    size_t n;
    char others[160]; /* "a/NAME, b/NAME" for the refusal */
};

static int find_site_template(const char *id, const Aifed__Advertisement *adv, bool up,
                              void *arg)
{
    struct site_find *f = arg;
    const Aifed__Site *site = adv->site;
    size_t len = strlen(f->others);

    (void)up;
    if (f->only && strcmp(f->only, id))
        return 0;
    for (size_t i = 0; i < site->n_templates; i++)
        if (!strcmp(site->templates[i]->name, f->name)) {
            if (!f->n++) {
                f->found = site->templates[i];
                f->site = id;
            }
            snprintf(f->others + len, sizeof(f->others) - len, "%s%s/%s", len ? ", " : "",
                     id, f->name);
            return 0;
        }
    return 0;
}

static void reply_template(struct svc *s, const struct rpc_msg *m,
                           const Aifed__Template *t, const char *site)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__TemplateReply r = AIFED__TEMPLATE_REPLY__INIT;
    Aifed__Template copy = *t;

    copy.site = (char *)site;
    r.template_ = &copy;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_TEMPLATE_REPLY, &r);
    rpc_reply(s, m, &env);
}

/* The federation's template called name (the caller frees it), or NULL.
 * A scan: there are at most AF_WIRE_MAX_FED_TEMPLATES. */
static Aifed__Template *fed_get(struct svc *s, const char *name)
{
    struct fed_templates all = {.n = 0};
    Aifed__Template *found = NULL;

    if (store_template_list(s->store, keep_template, &all) < 0)
        return NULL;
    for (size_t i = 0; i < all.n && !found; i++)
        if (!strcmp(all.v[i]->name, name)) {
            found = all.v[i];
            all.v[i] = all.v[--all.n];
        }
    fed_free(&all);
    return found;
}

/* NAME is the federation's template of that name, or else the one site's
 * that offers it; SITE/NAME is that site's. A name two sites offer is never
 * settled by their order: it is refused, naming both ways to ask. A site's
 * template runs only at its site (aifedctl pins it there). */
static void on_get_template(struct svc *s, const struct rpc_msg *m)
{
    const char *asked = m->env->get_template->name, *slash = strchr(asked, '/');
    char site[AF_ID_MAX + 1] = "";
    struct site_find f = {.name = slash ? slash + 1 : asked};
    Aifed__Template *fed;

    if (slash) {
        snprintf(site, sizeof(site), "%.*s", (int)(slash - asked), asked);
        f.only = site;
    } else if ((fed = fed_get(s, asked))) {
        reply_template(s, m, fed, "");
        aifed__template__free_unpacked(fed, NULL);
        return;
    }
    sites_each(s->sites, find_site_template, &f);
    if (f.n == 1)
        reply_template(s, m, f.found, f.site);
    else if (f.n > 1)
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_CONFLICT,
                  "template %s is offered by %zu sites, each its own: ask for one of %s",
                  asked, f.n, f.others);
    else
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND,
                  "no template %s (aifedctl templates lists them)", asked);
}

static int count_template(const Aifed__Template *t, void *arg)
{
    (void)t;
    ++*(size_t *)arg;
    return 0;
}

static void on_template_admin(struct svc *s, const struct rpc_msg *m)
{
    const Aifed__TemplateAdmin *a = m->env->template_admin;
    const char *name = a->template_ ? a->template_->name : a->remove;
    Aifed__Template *old = fed_get(s, name);
    Aifed__Template t = AIFED__TEMPLATE__INIT;
    struct af_error why;
    char text[AF_WIRE_MAX_TEXT];
    size_t n = 0;

    if (a->template_) {
        if (af_template_check(a->template_->text, &why) < 0) {
            rpc_error(s, m, AIFED__ERROR_CODE__ERROR_BAD_REQUEST, "template %s: %s", name,
                      why.text);
            goto out;
        }
        if (!old && (store_template_list(s->store, count_template, &n) < 0 ||
                     n >= AF_WIRE_MAX_FED_TEMPLATES)) {
            rpc_error(s, m, AIFED__ERROR_CODE__ERROR_LIMITED,
                      "the federation has %d templates already: remove one first",
                      AF_WIRE_MAX_FED_TEMPLATES);
            goto out;
        }
        t = *a->template_;
        t.site = (char *)"";
    } else if (!old) {
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_NOT_FOUND, "no federation template %s",
                  name);
        goto out;
    }
    snprintf(text, sizeof(text), "%s by %s",
             a->template_ ? (old ? "replaced" : "added") : "removed", m->who->id);
    if ((a->template_ ? store_template_put(s->store, &t)
                      : store_template_del(s->store, name)) < 0 ||
        store_audit_append(s->store, name, "",
                           a->template_ ? "template set" : "template removed",
                           text) < 0) {
        outbox_store_failed(s->outbox, "storing template %s", name);
        rpc_error(s, m, AIFED__ERROR_CODE__ERROR_INTERNAL, "could not store it");
        goto out;
    }
    log_info("template %s %s", name, text);
    t.name = (char *)name;
    t.text = (char *)""; /* the answer says what was done, not the whole text */
    reply_template(s, m, &t, "");
out:
    if (old)
        aifed__template__free_unpacked(old, NULL);
}

const struct rpc_spec rpc_catalog_specs[] = {
    {AIFED__ENVELOPE__BODY_LIST_CATALOG, RPC_USER | RPC_ADMIN, on_list_catalog, NULL,
     RPC_READS},
    {AIFED__ENVELOPE__BODY_GET_TEMPLATE, RPC_USER | RPC_ADMIN, on_get_template, NULL,
     RPC_READS},
    {AIFED__ENVELOPE__BODY_TEMPLATE_ADMIN, RPC_ADMIN, on_template_admin,
     "change the federation's templates", 0},
    {0, 0, NULL, NULL, 0},
};
