/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aifedctl: the command line for users and admins. This file holds the
 * global options, the command table and the commands too small for a file
 * of their own (keygen, sites, help); ctl_lease.c has the lease commands,
 * ctl_admin.c the admin ones, ctl_workload.c the workload options, and
 * ctl_call.c and ctl_retry.c the request/reply scaffold every command uses.
 */
#include "af_ids.h"
#include "af_keys.h"
#include "af_time.h"
#include "af_wire.h"
#include "ctl.h"
#include "ctl_call.h"
#include "ctl_client.h"
#include "ctl_config.h"
#include "ctl_opts.h"
#include "ctl_catalog.h"
#include "ctl_endpoints.h"
#include "ctl_login.h"
#include "ctl_show.h"
#include "af_near.h"
#include "ctl_table.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int ctl_parse_json_only(const struct ctl_command *cmd, struct ctl *ctl, int argc,
                        char **argv)
{
    int opt, rc;

    while ((opt = ctl_getopt(argc, argv, &ctl_opts_json)) != -1)
        if ((rc = ctl_opt_common(cmd, ctl, opt)) >= 0)
            return rc;
    return -1;
}

/* ------------------------------------------------------ global options */

static int set_timeout(struct ctl *ctl, const char *value)
{
    if (af_duration_parse(value, &ctl->timeout_ms) < 0 || ctl->timeout_ms == 0) {
        fprintf(stderr, "aifedctl: --timeout: '%s' is not a duration like 10s\n", value);
        return -1;
    }
    ctl->timeout_set = true;
    return 0;
}

/* The global options a command's words may also hold ("aifedctl sites
 * --timeout 2s"), taken out of them. --key stays with admin, whose
 * principal add has a --key of its own. */
static int take_globals(struct ctl *ctl, const struct ctl_command *cmd, int *argc,
                        char **argv)
{
    static const char *const names[] = {"--broker", "--broker-key", "--timeout",
                                        "--key",    "--output",     "-o"};
    int out = 1, i;

    for (i = 1; i < *argc; i++) {
        const char *value = NULL, *arg = argv[i];
        size_t k, len;

        if (!strcmp(arg, "--"))
            break;
        for (k = 0; k < 6; k++) {
            len = strlen(names[k]);
            if (k == 3 && !strcmp(cmd->name, "admin"))
                continue;
            if (!strncmp(arg, names[k], len) && (arg[len] == '=' || !arg[len]))
                break;
        }
        if (k == 6) {
            argv[out++] = argv[i];
            continue;
        }
        if (arg[len] == '=')
            value = arg + len + 1;
        else if (i + 1 < *argc)
            value = argv[++i];
        if (!value) {
            fprintf(stderr, "aifedctl: %s needs a value\n", names[k]);
            return -1;
        }
        if (k == 0)
            ctl->broker = value;
        else if (k == 1)
            ctl->broker_key = value;
        else if (k == 3)
            ctl->key = value;
        else if (k >= 4)
            ctl_table_select(value);
        else if (set_timeout(ctl, value) < 0)
            return -1;
    }
    for (; i < *argc; i++) /* "--" and what follows it stay as they are */
        argv[out++] = argv[i];
    *argc = out;
    argv[out] = NULL;
    return 0;
}

/* -------------------------------------------------------------- keygen */

/* mkdir -p, each new one 0700 (and said); 0, or -1 with errno. */
static int make_dirs(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof(path))
        return errno = ENAMETOOLONG, -1;
    memcpy(path, dir, n + 1);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p)
            continue;
        char was = *p;
        *p = '\0';
        if (mkdir(path, 0700) == 0)
            printf("made %s (mode 0700)\n", path);
        else if (errno != EEXIST)
            return -1;
        if (!(*p = was))
            return 0;
    }
}

static int cmd_keygen(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                      char **argv)
{
    const char *dir = ".";
    struct af_keypair kp;
    struct af_error err;
    int opt;

    while ((opt = ctl_getopt(argc, argv, &ctl_opts_keygen)) != -1)
        if (opt == 'd')
            dir = optarg;
        else
            return ctl_opt_common(cmd, ctl, opt) == 0 ? 0 : CTL_EXIT_USAGE;
    if (optind + 1 != argc)
        return ctl_usage_error(cmd, "give one NAME", NULL);
    if (!af_id_valid(argv[optind]))
        return ctl_usage_error(
            cmd, "'%s' is not a valid name (1-64 of A-Z a-z 0-9 . _ -)", argv[optind]);
    /* The README's first command names a directory that is not there yet. */
    if (make_dirs(dir) < 0) {
        fprintf(stderr, "aifedctl: cannot make %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (af_keys_generate(&kp) < 0) {
        fprintf(stderr, "aifedctl: cannot make a key: %s\n", strerror(errno));
        return 1;
    }
    if (af_keys_write(dir, argv[optind], &kp, &err) < 0) {
        sodium_memzero(&kp, sizeof(kp));
        fprintf(stderr, "aifedctl: %s\n", err.text);
        return 1;
    }
    sodium_memzero(&kp, sizeof(kp));
    printf("wrote %s/%s.key (secret, mode 0600) and %s/%s.pub (public)\n", dir,
           argv[optind], dir, argv[optind]);
    return 0;
}

/* --------------------------------------------------------------- sites */

static int cmd_sites(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                     char **argv)
{
    Aifed__ListSites ls = AIFED__LIST_SITES__INIT;
    int opt, rc;

    while ((opt = ctl_getopt(argc, argv, &ctl_opts_sites)) != -1) {
        if (opt == 's')
            ls.site = optarg;
        else if ((rc = ctl_opt_common(cmd, ctl, opt)) >= 0)
            return rc;
    }
    if (optind != argc)
        return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return ctl_ask(ctl, AIFED__ENVELOPE__BODY_LIST_SITES, &ls,
                   AIFED__ENVELOPE__BODY_SITE_LIST, ctl_reply_sites);
}

/* -------------------------------------------------- whoami, broker-key */

/* The command's options (--ack, --json, --help), then the broker's
 * Identity; NULL with *rc the exit status when there is nothing more to do. */
static Aifed__Envelope *who_am_i(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                                 char **argv, int *rc)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;
    Aifed__WhoAmI w = AIFED__WHO_AM_I__INIT;
    int opt;

    while ((opt = ctl_getopt(argc, argv, &ctl_opts_whoami)) != -1)
        if (opt == 'a')
            w.ack = true;
        else if ((*rc = ctl_opt_common(cmd, ctl, opt)) >= 0)
            return NULL;
    if (optind != argc) {
        *rc = ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        return NULL;
    }
    af_wire_set_body(&req, AIFED__ENVELOPE__BODY_WHO_AM_I, &w);
    return ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_IDENTITY, 20000, rc);
}

/* Who the broker takes you for, your projects, what their allocations have
 * left, and the broker's token key. */
static int cmd_whoami(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                      char **argv)
{
    Aifed__Envelope *who, *allocs, req = AIFED__ENVELOPE__INIT;
    Aifed__ListAllocations la = AIFED__LIST_ALLOCATIONS__INIT;
    const Aifed__Identity *w;
    int rc;

    if (!(who = who_am_i(ctl, cmd, argc, argv, &rc)))
        return rc;
    w = who->identity;
    af_wire_set_body(&req, AIFED__ENVELOPE__BODY_LIST_ALLOCATIONS, &la);
    allocs = ctl_call(ctl, &req, AIFED__ENVELOPE__BODY_ALLOCATION_LIST, 20000, &rc);
    if (ctl->json) {
        json_t *o =
            json_pack("{s:s, s:[], s:s, s:o, s:o, s:o}", "principal", w->principal,
                      "projects", "signing_key", w->signing_key, "keys",
                      ctl_key_records_json(w->keys, w->n_keys), "enrolments",
                      ctl_enrolments_json(w->enrolments, w->n_enrolments), "notice",
                      *w->notice ? json_string(w->notice) : json_null());
        for (size_t i = 0; i < w->n_projects; i++)
            json_array_append_new(json_object_get(o, "projects"),
                                  json_string(w->projects[i]));
        ctl_print_json(o);
    } else {
        printf("principal:   %s\nprojects:    ", w->principal);
        for (size_t i = 0; i < w->n_projects; i++)
            printf("%s%s", i ? ", " : "", w->projects[i]);
        printf("%s\n", w->n_projects ? "" : "(none)");
        ctl_show_key_records(w->keys, w->n_keys);
        ctl_show_enrolments(w->enrolments, w->n_enrolments);
        printf("broker key:  %s (checks lease tokens: aifedctl verify-token FILE "
               "--broker-pub KEY)\n\n",
               w->signing_key);
        if (allocs)
            ctl_show_allocations(allocs->allocation_list, false);
    }
    af_wire_free(allocs);
    af_wire_free(who);
    return allocs ? 0 : rc;
}

/* The broker's token signing key alone, for verify-token away from it. */
static int cmd_broker_key(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                          char **argv)
{
    Aifed__Envelope *who;
    int rc;

    if (!(who = who_am_i(ctl, cmd, argc, argv, &rc)))
        return rc;
    if (ctl->json)
        ctl_print_json(json_pack("{s:s}", "signing_key", who->identity->signing_key));
    else
        printf("%s\n", who->identity->signing_key);
    af_wire_free(who);
    return 0;
}

/* -------------------------------------------------------------- config */

static int cmd_config(struct ctl *ctl, const struct ctl_command *cmd, int argc,
                      char **argv)
{
    const struct ctl_config *c = ctl->config;
    char timeout[32] = "";
    int rc = ctl_parse_json_only(cmd, ctl, argc, argv);

    if (rc >= 0)
        return rc;
    if (optind + 1 != argc || strcmp(argv[optind], "show"))
        return ctl_usage_error(cmd, "the one verb is show", NULL);
    if (ctl->timeout_set)
        af_duration_format(ctl->timeout_ms, timeout, sizeof(timeout));
    if (ctl->json) {
        json_t *o =
            json_pack("{s:s, s:b}", "config_file", c->path, "config_file_read", c->found);
        const char *names[] = {"broker", "broker_key", "key", "timeout"};
        const char *values[] = {ctl->broker, ctl->broker_key, ctl->key,
                                *timeout ? timeout : NULL};
        const char *srcs[] = {c->src_broker, c->src_broker_key, c->src_key,
                              c->src_timeout};
        for (int i = 0; i < 4; i++)
            json_object_set_new(
                o, names[i],
                json_pack("{s:s?, s:s}", "value", values[i], "from", srcs[i]));
        ctl_print_json(o);
        return 0;
    }
    printf("config file: %s (%s)\n", c->path, c->found ? "read" : "not there");
    printf("broker:      %s (%s)\n", ctl->broker ? ctl->broker : "-", c->src_broker);
    printf("broker_key:  %s (%s)\n", ctl->broker_key ? ctl->broker_key : "-",
           c->src_broker_key);
    printf("key:         %s (%s)\n", ctl->key ? ctl->key : "-", c->src_key);
    printf("timeout:     %s (%s)\n", *timeout ? timeout : "-", c->src_timeout);
    return 0;
}

static int cmd_help(struct ctl *ctl, const struct ctl_command *self, int argc,
                    char **argv);

static const struct ctl_command commands[] = {
    {"keygen", cmd_keygen, "keygen [--dir DIR] NAME",
     "Write a new CURVE key pair: DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub\n"
     "(public; give it to the broker's administrator). Never overwrites a key.\n"},
    {"sites", cmd_sites, "sites [--site S] [--json]",
     "List every site the broker knows: state, pools, free and available GPUs (free\n"
     "minus what the broker has promised to leases the site has not counted yet).\n"
     "--site S shows that site alone. With a site's own key (an agent's), the\n"
     "broker shows that site alone, read-only: how the federation sees it.\n"},
    {"submit", ctl_cmd_submit,
     "submit --project P --gpus N [--accelerator MODEL] [--gpu-memory GB] [--nodes N]\n"
     "       [--cpus-per-node N] [--memory-per-node GB] [--walltime DURATION]\n"
     "       [--not-before WHEN] [--start-by WHEN] [--country CC,CC | --eu]\n"
     "       [--cert NAME]... [--dataset|--model|--image NAME[:SIZE]]...\n"
     "       [--prefer time|cost|green|local|balanced] [--weights time=W,cost=W,...]\n"
     "       [--request-id ID] [--task FILE] [--json]",
     "Ask for capacity. The broker picks the best site, asks it to hold the GPUs, and\n"
     "answers once the site holds them (ACTIVE) or no site would (FAILED). The\n"
     "walltime defaults to 1h. WHEN is a UTC time (2026-12-01T06:00Z) or a duration\n"
     "from now (2h). --cert names a certification the site must hold (repeat for\n"
     "several); data the site already holds need not be moved, which --prefer local\n"
     "weighs most. --weights sets the score weights of time, cost, carbon, data and\n"
     "fit directly. A retry with the same --request-id returns the same lease,\n"
     "never a second one; `aifedctl request show ID` explains any request later.\n"
     "--task FILE reads the workload from a task file (docs/task-file.md); a flag\n"
     "given as well overrides the file's field.\n"},
    {"task", ctl_cmd_task, "task check FILE [workload options] [--json]",
     "Read a task file (YAML: name, project, resources, placement, datasets, models,\n"
     "images, image, env, setup, run, files) and print it as submit would read it,\n"
     "with any workload flags over it. An error names the file, line and column,\n"
     "and the field. Contacts no broker.\n"},
    {"explain", ctl_cmd_explain,
     "explain --project P --gpus N [workload options as for submit] [--task FILE]\n"
     "       [--json]",
     "Show how the broker would place a workload: every site, chosen, ranked (with the\n"
     "start, cost, carbon and data figures behind its score) or rejected (the first\n"
     "constraint that failed, with the numbers).\n"},
    {"run", ctl_cmd_run,
     "run TASK.yaml [--lease ID] [--detach] [--keep-lease] [--share] [workload options]\n"
     "       [--json]\n"
     "       run --template NAME|SITE/NAME [--set KEY=VALUE ...] [--dry-run] [run's "
     "options]",
     "Run a task file's job (or a template's, its parameters given with --set and\n"
     "checked first; --dry-run prints the task file it makes): lease what it asks for "
     "(unless --lease names a lease of\n"
     "yours), start the job in it as your account at the site, say each stage on\n"
     "stderr, stream its output to stdout, and exit with the job's status: its exit\n"
     "code, 124 when its time limit passed, 1 when it was cancelled. The job's time\n"
     "limit is the task's walltime, and never\n"
     "more than is left of the lease: a longer one is refused with the renewal that\n"
     "would make room. A lease run made is released when the job ends, unless\n"
     "--keep-lease. --detach returns once the job is queued, printing its id.\n"
     "Ctrl-C detaches: the job goes on, nothing is cancelled. On the demo's static\n"
     "sites the agent runs the job itself, as a local process (its output says so).\n"
     "The project's other members see the job's state, not its variables, files,\n"
     "scripts or output, unless --share; a task's secrets: are never shown back, to\n"
     "anyone. A site's template runs only at that site; a name two sites offer is\n"
     "asked for as SITE/NAME.\n"},
    {"jobs", ctl_cmd_jobs, "jobs [--lease ID] [--project P] [--state STATE] [--json]",
     "The newest 64 jobs of a lease, or of your projects (an admin's: every\n"
     "project's): state, site, exit code and name. STATE is queued, running,\n"
     "completed, failed, cancelled or timeout. A lease that ends within 15 minutes\n"
     "with jobs still open is named, with the renewal to ask for.\n"},
    {"job", ctl_cmd_job, "job show|cancel ID [--json]",
     "show: one job in full (state, the site's id for it and the account it runs as,\n"
     "times, exit code, GPU-seconds used). cancel: stop it; it ends CANCELLED.\n"},
    {"serve", ctl_cmd_run,
     "serve TASK.yaml [--name NAME] [--replicas N|MIN..MAX] [workload options] [--json]\n"
     "       serve --template NAME|SITE/NAME [--set KEY=VALUE ...] [--dry-run] [serve's "
     "options]",
     "Serve a model: an endpoint whose replicas are the task's job, each in a lease\n"
     "of its own, placed like any workload (country, certifications, the model where\n"
     "it is) and spread over sites. The task's service: section says the port (else\n"
     "the site gives one in AIFED_PORT), the readiness probe and the replicas\n"
     "(docs/inference.md). The broker keeps the replicas: it replaces one whose site\n"
     "goes DOWN or whose job ends, and one whose lease nears its end. NAME is the\n"
     "task's name in lower case unless given (1-40 of a-z, 0-9 and '-').\n"},
    {"endpoints", ctl_cmd_endpoints, "endpoints [--project P] [--json]",
     "The endpoints of your projects: state (LIVE when a replica is), replicas LIVE\n"
     "and wanted, model and sites.\n"},
    {"endpoint", ctl_cmd_endpoint,
     "endpoint show|delete NAME [--json]\n"
     "       endpoint scale NAME N|MIN..MAX [--json]\n"
     "       endpoint key create --project P [--endpoint NAME] [--expires D] [--rate N]\n"
     "                           [--name TEXT] [--json]\n"
     "       endpoint key list [--project P] [--json] | endpoint key revoke ID [--json]",
     "show: the endpoint and each replica (site, QUEUED, STARTING, LIVE or OFFLINE,\n"
     "since when, node and port, lease). scale: the replicas it keeps from now (its\n"
     "owner or an admin; after 3 replicas in a row failed to start, it tries again).\n"
     "delete: end its replicas' leases and forget it. key create: a bearer key for\n"
     "the gateway (https://GATEWAY/e/NAME/v1/..., as OpenAI clients' api_key), for a\n"
     "project's endpoints or one of them, expiring (90 days unless --expires), with a\n"
     "rate limit per gateway (--rate, requests a second); it is shown once. key\n"
     "list: your projects' keys with their usage (requests, bytes, errors, tokens).\n"
     "key revoke: refused from the next request on.\n"},
    {"logs", ctl_cmd_logs, "logs JOB [-f] [--tail N]",
     "A job's output as the site has it, byte for byte. --tail N starts at its last\n"
     "N lines (looking back 1 MiB at most). -f follows it until the job ends, and\n"
     "says once when its lease nears its end. The broker passes it on from the site\n"
     "and keeps none of it.\n"},
    {"leases", ctl_cmd_leases,
     "leases [--site S] [--project P] [--state STATE] [--limit N] [--json]",
     "List the leases you may see (your projects' leases; an admin sees all).\n"},
    {"lease", ctl_cmd_lease,
     "lease show|why|release|token ID [--json]\n"
     "       lease renew ID --by DURATION [--json]\n"
     "       lease revoke ID [--reason TEXT] [--json]",
     "show: one lease in full. why: the explanation kept from its submit.\n"
     "release: give its capacity back now. renew: make an ACTIVE lease longer, within\n"
     "the pool's maximum walltime and the project's allocation. revoke (admins): take\n"
     "it back; the site is told to drop the hold. token: print the broker's signed\n"
     "token for it, which `aifedctl verify-token` checks with no broker reachable.\n"},
    {"verify-token", ctl_cmd_verify_token,
     "verify-token FILE|- (--broker-pub KEY | --online) [--json]",
     "Check a lease token offline: its signature against the broker's signing key\n"
     "(KEY: the broker's signing.key.pub file, or its base64 text), and print what it\n"
     "grants. Offline, a release, revoke or end of the lease since it was signed\n"
     "cannot be seen, and the answer says so. --online asks the broker, which checks\n"
     "the signature and says the lease's state now. Exit 0 when valid, 1 when not\n"
     "(altered, not signed by that key, its time passed, or, online, its lease\n"
     "no longer ACTIVE or SCHEDULED).\n"},
    {"request", ctl_cmd_request, "request show REQUEST-ID [--json]",
     "What the broker decided for one of your submits, granted or refused, and why,\n"
     "site by site.\n"},
    {"admin", ctl_cmd_admin,
     "admin allocation set --project P --site S --gpu-hours H [--until DATE]\n"
     "       admin allocation show [--project P] [--site S] [--json]\n"
     "       admin principal add ID --pub FILE [--projects P,P]\n"
     "       admin principal remove-key ID --pub FILE\n"
     "       admin principal revoke ID\n"
     "       admin principal list [--json]\n"
     "       admin site drain|undrain SITE\n"
     "       admin site confirm-down\n"
     "       admin audit [--since WHEN] [--verify] [--json]\n"
     "       admin template add FILE | remove NAME | list\n"
     "       admin health [--json]",
     "allocation: GPU-hours a project may use at a site, and until when. set is for\n"
     "admins; show lists what you may see (users: their projects). A site where a\n"
     "project's balance cannot cover gpus x walltime is rejected.\n"
     "\n"
     "principal (admins only): who may talk to the broker. ID is site:NAME,\n"
     "user:NAME or admin:NAME; FILE is the principal's .pub (aifedctl keygen). add\n"
     "registers a principal, or gives it a second key for a change-over (a user's\n"
     "--projects replace its projects); remove-key ends the change-over; revoke\n"
     "refuses every key at once, also on connections already open. Changes are\n"
     "stored by the broker and survive its restart. A site added here may connect\n"
     "its agent straight away.\n"
     "\n"
     "site (admins only): drain gives a site no new leases (its leases stay);\n"
     "undrain ends that. When every site goes silent at once the broker assumes it is\n"
     "the one cut off and marks none DOWN (the isolation guard); confirm-down says the\n"
     "silence is real and marks the silent sites DOWN now.\n"
     "\n"
     "audit (admins only): every change of a lease, principal or allocation, each\n"
     "entry hashing the one before. --since shows the entries from WHEN on; --verify\n"
     "recomputes the whole chain and exits 1 if any entry was altered or dropped.\n"
     "With the global --db STATE_DIR it reads the broker's store directly (on the\n"
     "broker host; works while the broker runs and while it is down).\n"},
    {"login", ctl_cmd_login,
     "login [--issuer URL] [--client-id ID] [--id-token FILE] [--json]\n"
     "       aifedctl login --ssh-cert FILE [--ssh-key FILE] [--json]",
     "Log in with the EuroHPC identity you have; the broker takes your CURVE key\n"
     "(--key, made when it does not exist yet) as you for a while. No key is\n"
     "mailed to anyone.\n"
     "\n"
     "With MyAccessID (OpenID, the device flow): aifedctl prints a web address and\n"
     "a code, you approve in any browser, and it waits (a status line, until the\n"
     "code expires). The issuer is --issuer or oidc_issuer in your config, the\n"
     "client --client-id or oidc_client_id (default aifedctl). Your key acts as\n"
     "you until the ID token expires, and aifedctl renews it, with the refresh\n"
     "token kept beside your key (KEY.login, 0600), when you use it. --id-token\n"
     "FILE (- for stdin) sends an ID token you have (oidc-agent's) instead.\n"
     "\n"
     "With your EuroHPC SSH certificate: ssh-keygen signs the broker's challenge\n"
     "with the certificate's key (--ssh-key, by default FILE less -cert.pub; it\n"
     "may stay in ssh-agent), your key acts as the certificate's user until it\n"
     "expires (at most a day), and each job you submit is signed with that key,\n"
     "so that a site can check it came from you.\n"},
    {"logout", ctl_cmd_logout, "logout [--json]",
     "End the enrolment of your CURVE key that login made, now, and forget the\n"
     "login kept beside the key.\n"},
    {"whoami", cmd_whoami, "whoami [--ack] [--json]",
     "Who the broker takes you for, the projects you may act for, every key the\n"
     "broker takes as you and who added it when, what the allocations have left at\n"
     "each site, and the broker's token signing key. When an admin adds a key to\n"
     "you, every answer says so (a NOTICE on stderr) until you run whoami --ack.\n"},
    {"broker-key", cmd_broker_key, "broker-key [--json]",
     "The broker's token signing key (base64), which verify-token --broker-pub\n"
     "takes: `aifedctl broker-key > broker-signing.pub`.\n"},
    {"config", cmd_config, "config show [--json]",
     "The broker, broker key, key and timeout aifedctl uses, and where each came\n"
     "from: an option, the environment (AIFED_BROKER, AIFED_BROKER_KEY, AIFED_KEY),\n"
     "or the config file ($AIFED_CONFIG, else ~/.config/aifed/config), which holds\n"
     "\n"
     "    [aifedctl]\n"
     "    broker = broker.example.eu:5555\n"
     "    broker_key = broker.pub      (paths relative to the file's directory)\n"
     "    key = alice.key\n"
     "    timeout = 30s\n"},
    {"catalog", ctl_cmd_catalog,
     "catalog [models|datasets|images|templates] [--site S] [--search WORD] [--json]",
     "What the AI Factories offer: pre-trained models, data sets, container images\n"
     "and task templates, each once with every site that holds it, its size and\n"
     "licence. -o adds ACCESS, NEEDS (a data set's certifications) and DESCRIPTION.\n"},
    {"gpus", ctl_cmd_gpus, "gpus [--accelerator MODEL] [--json]",
     "Every accelerator model in the federation: memory, total, free and available\n"
     "GPUs per site, EUR and grams of CO2 per GPU-hour, and the longest walltime.\n"},
    {"templates", ctl_cmd_templates, "templates [--json]",
     "The task templates the federation and its sites offer.\n"},
    {"template", ctl_cmd_template, "template show NAME [--json]",
     "A template's parameters (type, default, allowed values, help) and the task\n"
     "it makes with its defaults.\n"},
    {"complete", ctl_cmd_complete, "complete sites|accelerators|projects|leases",
     "For shell completion: the broker's sites or accelerator models, or your\n"
     "projects or open leases, one per line, asked within 2 s (or --timeout).\n"},
    {"help", cmd_help, "help [COMMAND]", "Describe aifedctl or one command.\n"},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct ctl_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

/* No such command: the nearest one (two edits at most), and where to look. */
static void unknown_command(const char *name)
{
    const char *near = NULL;
    size_t best = 3;

    for (size_t i = 0; i < N_COMMANDS; i++) {
        size_t d = af_near_distance(name, commands[i].name);
        if (d < best)
            best = d, near = commands[i].name;
    }
    if (near)
        fprintf(stderr, "aifedctl: no command '%s'; did you mean '%s'?\n", name, near);
    else
        fprintf(stderr, "aifedctl: no command '%s'\n", name);
    fprintf(stderr, "See 'aifedctl --help'.\n");
}

static void usage(FILE *out)
{
    fprintf(out, "usage: aifedctl [--broker ENDPOINT] [--broker-key FILE] [--key FILE]\n"
                 "                [--timeout DURATION] [--json] COMMAND [ARGS]\n"
                 "       aifedctl --db STATE_DIR leases|lease show|admin audit ...\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %s\n", commands[i].usage);
    fprintf(out, "\nThe broker and keys come from the options or from AIFED_BROKER,\n"
                 "AIFED_BROKER_KEY (the broker's .pub) and AIFED_KEY (your .key).\n"
                 "`aifedctl COMMAND --help` describes a command. Exit status: 0 done,\n"
                 "1 refused or failed, 2 bad usage, 3 broker unreachable.\n");
}

static int cmd_help(struct ctl *ctl, const struct ctl_command *self, int argc,
                    char **argv)
{
    const struct ctl_command *cmd;

    (void)ctl;
    (void)self;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!(cmd = find_command(argv[1]))) {
        unknown_command(argv[1]);
        return CTL_EXIT_USAGE;
    }
    ctl_command_help(cmd);
    return 0;
}

/* Commands a login's renewal has no business before. */
static bool needs_no_login(const char *name)
{
    static const char *const none[] = {"login",    "logout", "keygen", "config",
                                       "complete", "task",   "help",   "version"};

    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        if (!strcmp(name, none[i]))
            return true;
    return false;
}

int main(int argc, char **argv)
{
    struct ctl ctl = {0};
    static struct ctl_config cfg;
    const struct ctl_command *cmd;
    struct af_error err;
    char endpoint[1100];
    int opt;

    if (sodium_init() < 0) {
        fprintf(stderr, "aifedctl: libsodium failed to initialise\n");
        return 1;
    }
    while ((opt = ctl_getopt(argc, argv, &ctl_opts_global)) != -1) {
        switch (opt) {
        case 'D':
            ctl.db = optarg;
            break;
        case 'b':
            ctl.broker = optarg;
            break;
        case 'B':
            ctl.broker_key = optarg;
            break;
        case 'k':
            ctl.key = optarg;
            break;
        case 't':
            if (set_timeout(&ctl, optarg) < 0)
                return CTL_EXIT_USAGE;
            break;
        case 'j':
            ctl.json = true;
            break;
        case 'o':
            ctl_table_select(optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("aifedctl %s\n", AIFED_VERSION);
            return 0;
        default:
            usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (!(cmd = find_command(argv[optind]))) {
        unknown_command(argv[optind]);
        return CTL_EXIT_USAGE;
    }
    argc -= optind;
    argv += optind;
    if (take_globals(&ctl, cmd, &argc, argv) < 0)
        return CTL_EXIT_USAGE;
    if (ctl_config_apply(&ctl, &cfg, &err) < 0) {
        fprintf(stderr, "aifedctl: %s\n", err.text);
        return CTL_EXIT_USAGE;
    }
    ctl.config = &cfg;
    if (ctl.broker &&
        !(ctl.broker = ctl_config_endpoint(ctl.broker, endpoint, sizeof(endpoint)))) {
        fprintf(stderr, "aifedctl: the broker (%s) is not host:port or tcp://host:port\n",
                cfg.src_broker);
        return CTL_EXIT_USAGE;
    }
    if (ctl.db && strcmp(cmd->name, "leases") && strcmp(cmd->name, "lease") &&
        strcmp(cmd->name, "admin")) {
        fprintf(stderr, "aifedctl: --db works with leases, lease show and admin audit\n");
        return CTL_EXIT_USAGE;
    }
    /* An OpenID login near its end is renewed before the broker is asked. */
    if (!ctl.db && ctl.broker && !needs_no_login(cmd->name))
        ctl_login_renew(&ctl);
    /* 0, not 1: glibc then re-initialises getopt, forgetting the "+" (stop at
     * the first word) of the global parse, so a command's options may also
     * follow its words ("lease show ID --json"). */
    optind = 0;
    return cmd->run(&ctl, cmd, argc, argv);
}
