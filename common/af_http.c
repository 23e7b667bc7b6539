/* SPDX-License-Identifier: Apache-2.0 */
#include "af_http.h"
#include "af_conf.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

struct body {
    char *v;
    size_t n, max;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
    struct body *b = arg;
    size_t add = size * n;
    char *grown;

    if (b->n + add > b->max || !(grown = realloc(b->v, b->n + add + 1)))
        return 0; /* curl ends the transfer */
    memcpy(grown + b->n, data, add);
    b->v = grown;
    b->n += add;
    b->v[b->n] = '\0';
    return add;
}

void af_http_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

char *af_http_fetch(const char *url, const char *form, size_t max, long timeout_ms,
                    long *status, struct af_error *err)
{
    struct body b = {.max = max};
    CURL *c;
    CURLcode rc;

    *status = 0;
    if (!af_conf_url_ok(url))
        return af_error_set(err, "%.100s: want https:// (http:// only to this machine)",
                            url),
               NULL;
    if (!(c = curl_easy_init()))
        return af_error_set(err, "curl: out of memory"), NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* the broker calls it in a thread */
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (form)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK || !b.v) {
        free(b.v);
        return af_error_set(err, "%.100s: %s", url,
                            rc != CURLE_OK ? curl_easy_strerror(rc) : "an empty answer"),
               NULL;
    }
    return b.v;
}
