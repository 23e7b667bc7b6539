/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bconf: broker.conf, an INI file. [broker] holds the daemon's settings;
 * each [site:ID], [user:NAME] and [admin:NAME] section registers one
 * principal by its CURVE public key. Errors name the file and line.
 * bconf_print() writes the configuration as understood, normalized (every
 * setting, defaults included), for `aifed-broker -n -v` and golden tests.
 */
#ifndef BCONF_H
#define BCONF_H

#include "af_conf.h"
#include "af_ids.h"
#include "af_keys.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum bconf_kind { BCONF_SITE, BCONF_USER, BCONF_ADMIN, BCONF_GATEWAY, BCONF_KINDS };

struct bconf_principal {
    enum bconf_kind kind;
    char name[AF_ID_MAX + 1];
    char *public_key;                    /* file, as written */
    char public_z85[AF_KEY_Z85_LEN + 1]; /* loaded from it */
    struct af_strv projects;             /* users only */
};

#define BCONF_MAX_CAS     16
#define BCONF_CA_FILE_MAX (64 * 1024)

struct bconf {
    char *path;
    char *agent_listen;
    char *client_listen;
    char *state_dir;   /* as written */
    char *lab;         /* why it may run as root, or NULL: it may not */
    char *secret_key;  /* as written */
    char *signing_key; /* Ed25519, for lease tokens; relative to state_dir */
    uint64_t advertise_interval_ms;
    uint64_t down_after; /* intervals */
    uint64_t up_after;   /* advertisements in a row before a DOWN site is UP */
    uint64_t hold_timeout_ms;
    uint64_t hold_attempts;
    uint64_t max_message;
    uint64_t map_size_mb;
    bool require_allocation; /* a site needs the project's allocation */
    bool queue_when_busy;    /* no site free: book the one that starts it first */
    uint64_t rate_limit;     /* requests a second per principal, on average */
    uint64_t rate_burst;     /* ... and at once */
    uint64_t max_waiting;    /* submits one principal may have waiting for a site */
    uint64_t max_handshakes; /* connections per socket that may wait to finish one */
    uint64_t max_requests;   /* request records kept per principal (oldest go) */
    uint64_t request_retention_ms;   /* request records and request ids, kept this long */
    uint64_t job_retention_ms;       /* ended jobs, kept this long */
    uint64_t max_jobs_per_principal; /* jobs stored per principal (oldest ended go) */
    uint64_t max_job_mb_per_principal;      /* ... and their MiB */
    uint64_t max_connections_per_principal; /* served at once; more wait */
    char *ssh_ca_keys;          /* the SSH CAs logins trust (a file), or NULL */
    char *ssh_principal_suffix; /* a certificate's principal ends so; the rest names */
    char *ssh_domain;           /* the domain grant required, or NULL */
    uint64_t login_lifetime_ms; /* an enrolment's longest */
    char *login_projects;       /* a user a login registers gets these */
    struct af_strv login_projects_v;
    uint8_t ssh_cas[BCONF_MAX_CAS][32];
    size_t n_ssh_cas;
    char *oidc_issuer;         /* the OpenID provider logins trust, or NULL */
    char *oidc_audience;       /* its tokens' aud: aifedctl's client id */
    char *oidc_user_claim;     /* names the user ... */
    char *oidc_user_suffix;    /* ... less this ending */
    char *oidc_projects_claim; /* gives the projects, or NULL: login_projects */
    char *oidc_project_prefix; /* ... its values that start so, less it */
    uint64_t oidc_jwks_refresh_ms;
    char *metrics_listen; /* Prometheus endpoint HOST:PORT, or "off" */
    uint64_t
        fair_share_floor; /* percent of a site's GPUs free below which it is contended */
    struct bconf_principal *principals;
    size_t n_principals;
};

/* Parse path and load every public key it names. NULL with err set. */
struct bconf *bconf_load(const char *path, struct af_error *err);
void bconf_destroy(struct bconf *c);

/* "site", "user" or "admin". */
const char *bconf_kind_name(enum bconf_kind kind);

/* A path from the file, resolved against its directory; the caller frees. */
char *bconf_path(const struct bconf *c, const char *path);

/* The normalized configuration (no key material beyond public keys). */
void bconf_print(const struct bconf *c, FILE *out);

#endif
