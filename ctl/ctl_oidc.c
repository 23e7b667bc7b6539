/* SPDX-License-Identifier: Apache-2.0 */
#include "ctl_oidc.h"
#include "af_conf.h"
#include "af_http.h"
#include "af_time.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX        (64 * 1024)
#define HTTP_TIMEOUT_MS 20000L
#define WAIT_MAX_S      1800 /* a device code is never waited on longer */

/* GET url, or POST form to it: the answer's JSON object (any status: an
 * OAuth error is a JSON answer with 400), or NULL with err. */
static json_t *http_json(const char *url, const char *form, struct af_error *err)
{
    long status;
    char *body = af_http_fetch(url, form, BODY_MAX, HTTP_TIMEOUT_MS, &status, err);
    json_t *doc = body ? json_loads(body, 0, NULL) : NULL;

    free(body);
    if (body && !json_is_object(doc)) {
        json_decref(doc);
        return af_error_set(err, "%s: the answer is not JSON (HTTP %ld)", url, status),
               NULL;
    }
    return doc;
}

/* name=value&... with each value escaped; "" when it does not fit. */
static void form(char *buf, size_t size, const char *const *kv)
{
    size_t at = 0;

    buf[0] = '\0';
    for (; kv[0]; kv += 2) {
        char *esc = curl_easy_escape(NULL, kv[1], 0);
        int n = esc ? snprintf(buf + at, size - at, "%s%s=%s", at ? "&" : "", kv[0], esc)
                    : -1;

        curl_free(esc);
        if (n < 0 || (size_t)n >= size - at) {
            buf[0] = '\0';
            return;
        }
        at += (size_t)n;
    }
}

/* The issuer's endpoint named key in its discovery document, into buf. */
static int endpoint(const char *issuer, const char *key, char *buf, size_t size,
                    struct af_error *err)
{
    char url[1024];
    size_t n = strlen(issuer);
    json_t *doc;
    const char *v;

    snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration",
             (int)(n && issuer[n - 1] == '/' ? n - 1 : n), issuer);
    if (!(doc = http_json(url, NULL, err)))
        return -1;
    v = json_string_value(json_object_get(doc, key));
    if (!v || !af_conf_url_ok(v) || strlen(v) >= size) {
        json_decref(doc);
        return af_error_set(err, "%s: the issuer names no %s (does it offer the %s?)",
                            issuer, key,
                            strstr(key, "device") ? "device flow" : "token endpoint");
    }
    snprintf(buf, size, "%s", v);
    json_decref(doc);
    return 0;
}

/* The tokens of a token endpoint's good answer: 0; -1 with err. */
static int take_tokens(json_t *doc, struct ctl_oidc_tokens *t, struct af_error *err)
{
    const char *id = json_string_value(json_object_get(doc, "id_token"));
    const char *rt = json_string_value(json_object_get(doc, "refresh_token"));

    if (!id || strlen(id) >= sizeof(t->id_token))
        return af_error_set(err, "the issuer gave no ID token (is the openid scope "
                                 "asked for?)");
    snprintf(t->id_token, sizeof(t->id_token), "%s", id);
    if (rt && strlen(rt) < sizeof(t->refresh_token))
        snprintf(t->refresh_token, sizeof(t->refresh_token), "%s", rt);
    return 0;
}

/* What the device authorization endpoint said. */
struct device {
    char code[1024], user_code[64], uri[1024], uri_complete[1200];
    int64_t interval_s, expires_s;
};

static int ask_code(const char *url, const char *client_id, const char *scopes,
                    struct device *d, struct af_error *err)
{
    char body[2048];
    json_t *doc;
    const char *code, *user, *uri, *full;

    form(body, sizeof(body),
         (const char *const[]){"client_id", client_id, "scope", scopes, NULL});
    if (!(doc = http_json(url, body, err)))
        return -1;
    code = json_string_value(json_object_get(doc, "device_code"));
    user = json_string_value(json_object_get(doc, "user_code"));
    uri = json_string_value(json_object_get(doc, "verification_uri"));
    full = json_string_value(json_object_get(doc, "verification_uri_complete"));
    if (!code || !user || !uri || strlen(code) >= sizeof(d->code) ||
        strlen(user) >= sizeof(d->user_code) || strlen(uri) >= sizeof(d->uri)) {
        const char *e = json_string_value(json_object_get(doc, "error_description"));
        af_error_set(err, "the issuer gave no device code: %.100s",
                     e ? e
                     : json_string_value(json_object_get(doc, "error"))
                         ? json_string_value(json_object_get(doc, "error"))
                         : "no reason given");
        json_decref(doc);
        return -1;
    }
    snprintf(d->code, sizeof(d->code), "%s", code);
    snprintf(d->user_code, sizeof(d->user_code), "%s", user);
    snprintf(d->uri, sizeof(d->uri), "%s", uri);
    snprintf(d->uri_complete, sizeof(d->uri_complete), "%s", full ? full : "");
    d->interval_s = json_integer_value(json_object_get(doc, "interval"));
    d->expires_s = json_integer_value(json_object_get(doc, "expires_in"));
    if (d->interval_s < 1 || d->interval_s > 60)
        d->interval_s = 5; /* RFC 8628's default */
    if (d->expires_s < 1 || d->expires_s > WAIT_MAX_S)
        d->expires_s = WAIT_MAX_S;
    json_decref(doc);
    return 0;
}

/* One poll of the token endpoint: 0 with t; 1 to wait (*slow: longer);
 * -1 with err (denied, expired, or anything else). */
static int poll_once(const char *url, const char *client_id, const struct device *d,
                     struct ctl_oidc_tokens *t, bool *slow, struct af_error *err)
{
    char body[2048];
    json_t *doc;
    const char *e;
    int rc;

    form(body, sizeof(body),
         (const char *const[]){"grant_type",
                               "urn:ietf:params:oauth:grant-type:device_code",
                               "device_code", d->code, "client_id", client_id, NULL});
    if (!(doc = http_json(url, body, err)))
        return -1;
    e = json_string_value(json_object_get(doc, "error"));
    *slow = e && !strcmp(e, "slow_down");
    if (!e)
        rc = take_tokens(doc, t, err);
    else if (!strcmp(e, "authorization_pending") || *slow)
        rc = 1;
    else if (!strcmp(e, "access_denied"))
        rc = af_error_set(err, "the login was refused in the browser");
    else if (!strcmp(e, "expired_token"))
        rc = af_error_set(err, "the code expired before it was approved: log in again");
    else
        rc = af_error_set(
            err, "the issuer says %.60s: %.100s", e,
            json_string_value(json_object_get(doc, "error_description"))
                ? json_string_value(json_object_get(doc, "error_description"))
                : "");
    json_decref(doc);
    return rc;
}

int ctl_oidc_device_login(const char *issuer, const char *client_id, const char *scopes,
                          struct ctl_oidc_tokens *t, struct af_error *err)
{
    char dev_url[1024], token_url[1024];
    struct device d;
    bool tty = isatty(STDERR_FILENO), slow;
    int64_t end_ms;
    int rc;

    if (endpoint(issuer, "device_authorization_endpoint", dev_url, sizeof(dev_url), err) <
            0 ||
        endpoint(issuer, "token_endpoint", token_url, sizeof(token_url), err) < 0 ||
        ask_code(dev_url, client_id, scopes, &d, err) < 0)
        return -1;
    if (*d.uri_complete)
        fprintf(stderr, "To log in, open %s\n(or open %s and enter the code %s)\n",
                d.uri_complete, d.uri, d.user_code);
    else
        fprintf(stderr, "To log in, open %s and enter the code %s\n", d.uri, d.user_code);
    end_ms = af_mono_ms() + d.expires_s * 1000;
    if (!tty)
        fprintf(stderr, "waiting for your approval (the code is good for %llds)...\n",
                (long long)d.expires_s);
    for (;;) {
        int64_t left = end_ms - af_mono_ms();

        if (left <= 0)
            return af_error_set(err, "the code expired before it was approved: log in "
                                     "again");
        if (tty)
            fprintf(stderr,
                    "\rwaiting for your approval in the browser: %lld:%02lld left ",
                    (long long)(left / 60000), (long long)(left / 1000 % 60));
        sleep((unsigned)d.interval_s);
        if ((rc = poll_once(token_url, client_id, &d, t, &slow, err)) <= 0)
            break;
        d.interval_s += slow ? 5 : 0; /* RFC 8628 3.5 */
    }
    if (tty)
        fprintf(stderr, "\n");
    return rc;
}

int ctl_oidc_refresh(const char *issuer, const char *client_id, const char *refresh_token,
                     struct ctl_oidc_tokens *t, struct af_error *err)
{
    char url[1024], body[CTL_OIDC_TOKEN * 3 + 256];
    json_t *doc;
    const char *e;
    int rc;

    if (endpoint(issuer, "token_endpoint", url, sizeof(url), err) < 0)
        return -1;
    form(body, sizeof(body),
         (const char *const[]){"grant_type", "refresh_token", "refresh_token",
                               refresh_token, "client_id", client_id, NULL});
    if (!(doc = http_json(url, body, err)))
        return -1;
    if ((e = json_string_value(json_object_get(doc, "error"))))
        rc = af_error_set(err, "the issuer refused to renew the login (%.60s)", e);
    else
        rc = take_tokens(doc, t, err);
    json_decref(doc);
    return rc;
}
