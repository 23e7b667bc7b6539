/* SPDX-License-Identifier: Apache-2.0 */
#include "jwks.h"
#include "af_conf.h"
#include "af_http.h"
#include "af_log.h"
#include "af_time.h"
#include "oidc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FETCH_TIMEOUT_MS 10000

/* One fetch: the issuer in, the JWKS text or why out. Freed by the loop. */
struct fetch {
    uv_work_t req;
    struct jwks *j; /* NULL once jwks_destroy let it go */
    char issuer[512];
    char *body; /* the JWKS */
    char why[160];
};

struct jwks {
    uv_loop_t *loop;
    struct oidc *cache;
    struct fetch *running;
};

struct jwks *jwks_create(uv_loop_t *loop, struct oidc *cache)
{
    struct jwks *j = calloc(1, sizeof(*j));

    if (j) {
        j->loop = loop;
        j->cache = cache;
        af_http_init(); /* before the pool's threads fetch */
    }
    return j;
}

void jwks_destroy(struct jwks *j)
{
    if (!j)
        return;
    if (j->running)
        j->running->j = NULL;
    free(j);
}

/* GET url into f->body: 0, or -1 with f->why. */
static int get(struct fetch *f, const char *url)
{
    struct af_error err;
    long status;

    free(f->body);
    if (!(f->body =
              af_http_fetch(url, NULL, OIDC_JWKS_MAX, FETCH_TIMEOUT_MS, &status, &err)))
        return snprintf(f->why, sizeof(f->why), "%s", err.text), -1;
    if (status != 200)
        return snprintf(f->why, sizeof(f->why), "%.80s: HTTP %ld", url, status), -1;
    return 0;
}

/* In the thread pool: discovery, then the JWKS it names. */
static void work(uv_work_t *req)
{
    struct fetch *f = req->data;
    char url[600];
    json_t *doc;
    const char *uri;
    size_t n = strlen(f->issuer);

    snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration",
             (int)(n && f->issuer[n - 1] == '/' ? n - 1 : n), f->issuer);
    if (get(f, url) < 0)
        return;
    doc = json_loads(f->body, 0, NULL);
    uri = json_string_value(json_object_get(doc, "jwks_uri"));
    if (!uri || !af_conf_url_ok(uri))
        snprintf(f->why, sizeof(f->why), "%.80s: no jwks_uri, or not https", url);
    else
        snprintf(url, sizeof(url), "%s", uri);
    json_decref(doc);
    if (!*f->why)
        get(f, url);
}

static void done(uv_work_t *req, int status)
{
    struct fetch *f = req->data;
    struct af_error err;

    if (f->j) {
        f->j->running = NULL;
        if (!oidc_issuer(f->j->cache) || strcmp(f->issuer, oidc_issuer(f->j->cache))) {
            /* A reload changed the issuer meanwhile: these are not its keys. */
            oidc_fetch_failed(f->j->cache, "the issuer changed");
        } else if (status != 0 || *f->why) {
            log_warnx("OpenID issuer %s: keys not fetched: %s", f->issuer,
                      status ? "cancelled" : f->why);
            oidc_fetch_failed(f->j->cache, status ? "cancelled" : f->why);
        } else if (oidc_set_keys(f->j->cache, f->body, af_mono_ms(), &err) < 0) {
            log_warnx("OpenID issuer %s: keys not taken: %s", f->issuer, err.text);
        } else {
            log_info("OpenID issuer %s: signing keys fetched", f->issuer);
        }
    }
    free(f->body);
    free(f);
}

void jwks_tick(struct jwks *j, int64_t now_ms)
{
    struct fetch *f;

    if (j->running || !oidc_fetch_due(j->cache, now_ms) || !(f = calloc(1, sizeof(*f))))
        return;
    f->j = j;
    f->req.data = f;
    snprintf(f->issuer, sizeof(f->issuer), "%s", oidc_issuer(j->cache));
    oidc_fetch_started(j->cache, now_ms);
    if (uv_queue_work(j->loop, &f->req, work, done) != 0) {
        oidc_fetch_failed(j->cache, "cannot start a fetch");
        free(f);
        return;
    }
    j->running = f;
}
