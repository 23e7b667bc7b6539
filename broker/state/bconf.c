/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bconf: broker.conf parsing. Settings are described by one table (name,
 * kind, field), which both the parser and the printer walk, so the printed
 * normal form cannot forget a setting the parser knows.
 */
#include "bconf.h"
#include "af_sshcert.h"
#include "af_time.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum opt_kind { OPT_STR, OPT_UINT, OPT_DURATION, OPT_BOOL };

static const struct opt {
    const char *key;
    enum opt_kind kind;
    size_t offset;
    uint64_t max;
    const char *def;
} opts[] = {
    {"agent_listen", OPT_STR, offsetof(struct bconf, agent_listen), 0,
     "tcp://127.0.0.1:7700"},
    {"client_listen", OPT_STR, offsetof(struct bconf, client_listen), 0,
     "tcp://127.0.0.1:7701"},
    {"state_dir", OPT_STR, offsetof(struct bconf, state_dir), 0, "/var/lib/aifed"},
    {"secret_key", OPT_STR, offsetof(struct bconf, secret_key), 0,
     "/etc/aifed/broker.key"},
    {"signing_key", OPT_STR, offsetof(struct bconf, signing_key), 0, "signing.key"},
    {"advertise_interval", OPT_DURATION, offsetof(struct bconf, advertise_interval_ms),
     3600000, "5s"},
    {"down_after", OPT_UINT, offsetof(struct bconf, down_after), 1000, "3"},
    {"up_after", OPT_UINT, offsetof(struct bconf, up_after), 1000, "3"},
    {"hold_timeout", OPT_DURATION, offsetof(struct bconf, hold_timeout_ms), 3600000,
     "10s"},
    {"hold_attempts", OPT_UINT, offsetof(struct bconf, hold_attempts), 16, "3"},
    {"max_message", OPT_UINT, offsetof(struct bconf, max_message), 64 * 1024 * 1024,
     "1048576"},
    {"map_size_mb", OPT_UINT, offsetof(struct bconf, map_size_mb), 1024 * 1024, "4096"},
    {"require_allocation", OPT_BOOL, offsetof(struct bconf, require_allocation), 0,
     "yes"},
    {"queue_when_busy", OPT_BOOL, offsetof(struct bconf, queue_when_busy), 0, "no"},
    {"fair_share_floor", OPT_UINT, offsetof(struct bconf, fair_share_floor), 100, "25"},
    {"rate_limit", OPT_UINT, offsetof(struct bconf, rate_limit), 1000000, "50"},
    {"rate_burst", OPT_UINT, offsetof(struct bconf, rate_burst), 1000000, "100"},
    {"max_waiting", OPT_UINT, offsetof(struct bconf, max_waiting), 4096, "64"},
    {"max_handshakes", OPT_UINT, offsetof(struct bconf, max_handshakes), 1000000, "1024"},
    {"max_requests", OPT_UINT, offsetof(struct bconf, max_requests), 1000000, "1000"},
    {"request_retention", OPT_DURATION, offsetof(struct bconf, request_retention_ms),
     3650ULL * 86400000, "30d"},
    {"job_retention", OPT_DURATION, offsetof(struct bconf, job_retention_ms),
     3650ULL * 86400000, "30d"},
    {"max_jobs_per_principal", OPT_UINT, offsetof(struct bconf, max_jobs_per_principal),
     1000000, "1000"},
    {"max_job_mb_per_principal", OPT_UINT,
     offsetof(struct bconf, max_job_mb_per_principal), 1024 * 1024, "256"},
    {"max_connections_per_principal", OPT_UINT,
     offsetof(struct bconf, max_connections_per_principal), 1024, "8"},
    /* Logins with an EuroHPC SSH certificate (docs/identity.md): none
     * without ssh_ca_keys. */
    {"ssh_ca_keys", OPT_STR, offsetof(struct bconf, ssh_ca_keys), 0, NULL},
    {"ssh_principal_suffix", OPT_STR, offsetof(struct bconf, ssh_principal_suffix), 0,
     "@myaccessid.org"},
    {"ssh_domain", OPT_STR, offsetof(struct bconf, ssh_domain), 0, NULL},
    {"login_lifetime", OPT_DURATION, offsetof(struct bconf, login_lifetime_ms), 86400000,
     "1d"},
    {"login_projects", OPT_STR, offsetof(struct bconf, login_projects), 0, NULL},
    /* Logins with an OpenID provider's ID token (MyAccessID): none without
     * oidc_issuer. */
    {"oidc_issuer", OPT_STR, offsetof(struct bconf, oidc_issuer), 0, NULL},
    {"oidc_audience", OPT_STR, offsetof(struct bconf, oidc_audience), 0, "aifedctl"},
    {"oidc_user_claim", OPT_STR, offsetof(struct bconf, oidc_user_claim), 0, "sub"},
    {"oidc_user_suffix", OPT_STR, offsetof(struct bconf, oidc_user_suffix), 0,
     "@myaccessid.org"},
    {"oidc_projects_claim", OPT_STR, offsetof(struct bconf, oidc_projects_claim), 0,
     NULL},
    {"oidc_project_prefix", OPT_STR, offsetof(struct bconf, oidc_project_prefix), 0,
     NULL},
    {"oidc_jwks_refresh", OPT_DURATION, offsetof(struct bconf, oidc_jwks_refresh_ms),
     86400000, "1h"},
    {"metrics_listen", OPT_STR, offsetof(struct bconf, metrics_listen), 0,
     "127.0.0.1:9464"},
    /* No default: a broker runs as its own account unless a lab says why. */
    {"lab", OPT_STR, offsetof(struct bconf, lab), 0, NULL},
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static const char *const kind_names[BCONF_KINDS] = {"site", "user", "admin", "gateway"};

const char *bconf_kind_name(enum bconf_kind kind)
{
    return kind_names[kind];
}

static int set_opt(struct bconf *c, const struct opt *o, const char *value,
                   struct af_error *err)
{
    char *base = (char *)c + o->offset;

    switch (o->kind) {
    case OPT_STR:
        if (!*value)
            return af_error_set(err, "%s: empty value", o->key);
        return af_conf_strdup((char **)base, value) < 0
                   ? af_error_set(err, "%s: out of memory", o->key)
                   : 0;
    case OPT_UINT:
        return af_conf_uint(o->key, value, o->max, (uint64_t *)base, err);
    case OPT_BOOL:
        return af_conf_bool(o->key, value, (bool *)base, err);
    case OPT_DURATION:
        if (af_conf_duration(o->key, value, (uint64_t *)base, err) < 0)
            return -1;
        if (*(uint64_t *)base == 0 || *(uint64_t *)base > o->max) {
            char most[32];
            af_duration_format(o->max, most, sizeof(most));
            return af_error_set(err, "%s: must be more than 0 and at most %s", o->key,
                                most);
        }
        return 0;
    }
    return -1;
}

static int broker_key(struct bconf *c, const char *key, const char *value,
                      struct af_error *err)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (!strcmp(opts[i].key, key))
            return set_opt(c, &opts[i], value, err);
    return af_error_set(err, "unknown setting '%s' in [broker]", key);
}

/* The principal a "[kind:name]" section names, created on first sight. */
static struct bconf_principal *principal_for(struct bconf *c, const char *section,
                                             struct af_error *err)
{
    const char *colon = strchr(section, ':');
    struct bconf_principal *p, *grown;
    size_t klen;
    int kind = -1;

    if (!colon)
        goto unknown;
    klen = (size_t)(colon - section);
    for (int k = 0; k < BCONF_KINDS; k++)
        if (strlen(kind_names[k]) == klen && !strncmp(section, kind_names[k], klen))
            kind = k;
    if (kind < 0)
        goto unknown;
    if (!af_id_valid(colon + 1)) {
        af_error_set(err, "[%s]: '%s' is not a valid name", section, colon + 1);
        return NULL;
    }
    for (size_t i = 0; i < c->n_principals; i++) {
        p = &c->principals[i];
        if ((int)p->kind == kind && !strcmp(p->name, colon + 1))
            return p;
    }
    grown = realloc(c->principals, (c->n_principals + 1) * sizeof(*grown));
    if (!grown) {
        af_error_set(err, "out of memory");
        return NULL;
    }
    c->principals = grown;
    p = &c->principals[c->n_principals++];
    memset(p, 0, sizeof(*p));
    p->kind = (enum bconf_kind)kind;
    snprintf(p->name, sizeof(p->name), "%s", colon + 1);
    return p;
unknown:
    af_error_set(err,
                 "unknown section [%s] (want broker, site:ID, user:NAME, admin:NAME, "
                 "gateway:NAME)",
                 section);
    return NULL;
}

static int principal_key(struct bconf *c, const char *section, const char *key,
                         const char *value, struct af_error *err)
{
    struct bconf_principal *p = principal_for(c, section, err);

    if (!p)
        return -1;
    if (!strcmp(key, "public_key")) {
        if (af_conf_strdup(&p->public_key, value) < 0)
            return af_error_set(err, "out of memory");
        return 0;
    }
    if (!strcmp(key, "projects") && p->kind == BCONF_USER)
        return af_strv_add(&p->projects, key, value, true, 1024, err);
    return af_error_set(err, "unknown setting '%s' in [%s]", key, section);
}

static int on_line(void *arg, const char *section, const char *key, const char *value,
                   struct af_error *err)
{
    if (!strcmp(section, "broker"))
        return broker_key(arg, key, value, err);
    return principal_key(arg, section, key, value, err);
}

char *bconf_path(const struct bconf *c, const char *path)
{
    return af_conf_path(c->path, path);
}

/* The CA keys logins are checked against, and the projects of a user a
 * login registers. */
static int finish_login(struct bconf *c, struct af_error *err)
{
    char *file, *text;

    if (c->login_projects && af_strv_add(&c->login_projects_v, "login_projects",
                                         c->login_projects, true, 1024, err) < 0)
        return -1;
    if (!c->ssh_ca_keys)
        return 0;
    if (!(file = bconf_path(c, c->ssh_ca_keys)))
        return af_error_set(err, "out of memory");
    text = af_conf_read_file(file, BCONF_CA_FILE_MAX, err);
    free(file);
    if (!text)
        return -1; /* err names the file */
    if (af_sshcert_ca_keys(text, c->ssh_cas, BCONF_MAX_CAS, &c->n_ssh_cas, err) < 0) {
        free(text);
        return af_error_set(err, "%s: ssh_ca_keys %s: %s", c->path, c->ssh_ca_keys,
                            err->text);
    }
    free(text);
    return 0;
}

/* Load keys and check what only the whole file can tell. */
static int finish(struct bconf *c, struct af_error *err)
{
    size_t sites = 0;

    for (size_t i = 0; i < c->n_principals; i++) {
        struct bconf_principal *p = &c->principals[i];
        char *file;
        struct af_error kerr;

        if (!p->public_key)
            return af_error_set(err, "%s: [%s:%s] has no public_key", c->path,
                                kind_names[p->kind], p->name);
        if (p->kind == BCONF_USER && p->projects.n == 0)
            return af_error_set(err, "%s: [user:%s] has no projects", c->path, p->name);
        if (!(file = bconf_path(c, p->public_key)))
            return af_error_set(err, "out of memory");
        if (af_keys_load_public(file, p->public_z85, &kerr) < 0) {
            free(file);
            return af_error_set(err, "%s: [%s:%s]: %s", c->path, kind_names[p->kind],
                                p->name, kerr.text);
        }
        free(file);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->principals[j].public_z85, p->public_z85))
                return af_error_set(err, "%s: [%s:%s] and [%s:%s] share a public key",
                                    c->path, kind_names[c->principals[j].kind],
                                    c->principals[j].name, kind_names[p->kind], p->name);
        sites += p->kind == BCONF_SITE;
    }
    if (sites == 0)
        return af_error_set(
            err, "%s: no [site:ID] sections: the broker would have no sites", c->path);
    if (c->oidc_issuer && !af_conf_url_ok(c->oidc_issuer))
        return af_error_set(err,
                            "%s: oidc_issuer %s: want https:// (http:// only to this "
                            "machine, for a lab)",
                            c->path, c->oidc_issuer);
    return finish_login(c, err);
}

struct bconf *bconf_load(const char *path, struct af_error *err)
{
    struct bconf *c = calloc(1, sizeof(*c));

    if (!c || !(c->path = strdup(path))) {
        free(c);
        af_error_set(err, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts[i].def && set_opt(c, &opts[i], opts[i].def, err) < 0)
            goto fail;
    if (af_conf_parse(path, on_line, c, err) < 0 || finish(c, err) < 0)
        goto fail;
    return c;
fail:
    bconf_destroy(c);
    return NULL;
}

void bconf_destroy(struct bconf *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_principals; i++) {
        free(c->principals[i].public_key);
        af_strv_free(&c->principals[i].projects);
    }
    free(c->principals);
    af_strv_free(&c->login_projects_v);
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts[i].kind == OPT_STR)
            free(*(char **)((char *)c + opts[i].offset));
    free(c->path);
    free(c);
}

void bconf_print(const struct bconf *c, FILE *out)
{
    fprintf(out, "[broker]\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        const char *base = (const char *)c + opts[i].offset;
        char buf[32];

        switch (opts[i].kind) {
        case OPT_STR:
            if (*(char *const *)base)
                fprintf(out, "%s = %s\n", opts[i].key, *(char *const *)base);
            else
                fprintf(out, "# %s: none\n", opts[i].key);
            break;
        case OPT_UINT:
            fprintf(out, "%s = %llu\n", opts[i].key,
                    (unsigned long long)*(const uint64_t *)base);
            break;
        case OPT_DURATION:
            af_duration_format(*(const uint64_t *)base, buf, sizeof(buf));
            fprintf(out, "%s = %s\n", opts[i].key, buf);
            break;
        case OPT_BOOL:
            fprintf(out, "%s = %s\n", opts[i].key, *(const bool *)base ? "yes" : "no");
            break;
        }
    }
    for (int k = 0; k < BCONF_KINDS; k++) {
        for (size_t i = 0; i < c->n_principals; i++) {
            const struct bconf_principal *p = &c->principals[i];
            if ((int)p->kind != k)
                continue;
            fprintf(out, "\n[%s:%s]\npublic_key = %s\n# key %s\n", kind_names[k], p->name,
                    p->public_key, p->public_z85);
            if (p->projects.n) {
                fprintf(out, "projects = ");
                for (size_t j = 0; j < p->projects.n; j++)
                    fprintf(out, "%s%s", j ? ", " : "", p->projects.v[j]);
                fprintf(out, "\n");
            }
        }
    }
}
