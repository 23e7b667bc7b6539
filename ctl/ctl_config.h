/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_config: where aifedctl finds its broker and keys when no option says:
 * the environment (AIFED_BROKER, AIFED_BROKER_KEY, AIFED_KEY), then a
 * config file, INI like the daemons' ($AIFED_CONFIG, else
 * $XDG_CONFIG_HOME/aifed/config, else ~/.config/aifed/config):
 *
 *     [aifedctl]
 *     broker = broker.example.eu:5555     (tcp:// may be left out)
 *     broker_key = broker.pub             (relative to the file's directory)
 *     key = alice.key
 *     timeout = 30s
 *     oidc_issuer = https://proxy.myaccessid.org   (aifedctl login's provider)
 *     oidc_client_id = aifedctl
 *     oidc_scopes = openid offline_access eduperson_entitlement
 *
 * Each value remembers where it came from, for `aifedctl config show`.
 */
#ifndef CTL_CONFIG_H
#define CTL_CONFIG_H

#include "af_error.h"

#include <stdbool.h>
#include <stddef.h>

struct ctl;

#define CTL_CONFIG_PATH_MAX 4096

struct ctl_config {
    char path[CTL_CONFIG_PATH_MAX]; /* the file looked for */
    bool found;                     /* and read */
    char broker[1024], broker_key[CTL_CONFIG_PATH_MAX], key[CTL_CONFIG_PATH_MAX];
    char timeout[64];
    char oidc_issuer[1024], oidc_client_id[256], oidc_scopes[512]; /* "" unset */
    /* Where ctl's broker, broker_key, key and timeout came from. */
    const char *src_broker, *src_broker_key, *src_key, *src_timeout;
};

/* Fill what ctl has not been given (by options) from the environment and
 * the config file, noting the sources in cfg. -1 with err set when the file
 * exists but cannot be read or holds something wrong (file:line: why). */
int ctl_config_apply(struct ctl *ctl, struct ctl_config *cfg, struct af_error *err);

/* "host:port" as tcp://host:port; a value with a scheme is left alone; a
 * comma-separated list (an active/standby pair), each of its endpoints so.
 * NULL (usage error) when one is neither. Returns buf. */
const char *ctl_config_endpoint(const char *s, char *buf, size_t size);

#endif
