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
#include "ctl.h"
#include "ctl_call.h"
#include "ctl_client.h"
#include "ctl_opts.h"
#include "ctl_show.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ctl_parse_json_only(const struct ctl_command *cmd, struct ctl *ctl, int argc,
                        char **argv)
{
    int opt, rc;

    while ((opt = ctl_getopt(argc, argv, &ctl_opts_json)) != -1)
        if ((rc = ctl_opt_common(cmd, ctl, opt)) >= 0)
            return rc;
    return -1;
}

/* -------------------------------------------------------------- keygen */

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
    int rc = ctl_parse_json_only(cmd, ctl, argc, argv);

    if (rc >= 0)
        return rc;
    if (optind != argc)
        return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return ctl_ask(ctl, AIFED__ENVELOPE__BODY_LIST_SITES, &ls,
                   AIFED__ENVELOPE__BODY_SITE_LIST, ctl_reply_sites);
}

static int cmd_help(struct ctl *ctl, const struct ctl_command *self, int argc,
                    char **argv);

static const struct ctl_command commands[] = {
    {"keygen", cmd_keygen, "keygen [--dir DIR] NAME",
     "Write a new CURVE key pair: DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub\n"
     "(public; give it to the broker's administrator). Never overwrites a key.\n"},
    {"sites", cmd_sites, "sites [--json]",
     "List every site the broker knows: state, pools, free and available GPUs (free\n"
     "minus what the broker has promised to leases the site has not counted yet).\n"},
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
     "run TASK.yaml [--lease ID] [--detach] [--keep-lease] [workload options] [--json]",
     "Run a task file's job: lease what it asks for (unless --lease names a lease of\n"
     "yours), start the job in it as your account at the site, say each stage on\n"
     "stderr, stream its output to stdout, and exit with the job's status: its exit\n"
     "code, 124 when its time limit passed, 1 when it was cancelled. The job's time\n"
     "limit is the task's walltime, and never\n"
     "more than is left of the lease: a longer one is refused with the renewal that\n"
     "would make room. A lease run made is released when the job ends, unless\n"
     "--keep-lease. --detach returns once the job is queued, printing its id.\n"
     "Ctrl-C detaches: the job goes on, nothing is cancelled. On the demo's static\n"
     "sites the agent runs the job itself, as a local process (its output says so).\n"},
    {"jobs", ctl_cmd_jobs, "jobs [--lease ID] [--project P] [--state STATE] [--json]",
     "The newest 64 jobs of a lease, or of your projects (an admin's: every\n"
     "project's): state, site, exit code and name. STATE is queued, running,\n"
     "completed, failed, cancelled or timeout. A lease that ends within 15 minutes\n"
     "with jobs still open is named, with the renewal to ask for.\n"},
    {"job", ctl_cmd_job, "job show|cancel ID [--json]",
     "show: one job in full (state, the site's id for it and the account it runs as,\n"
     "times, exit code, GPU-seconds used). cancel: stop it; it ends CANCELLED.\n"},
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
     "verify-token FILE|- --broker-pub KEY [--json]",
     "Check a lease token offline: its signature against the broker's signing key\n"
     "(KEY: the broker's signing.key.pub file, or its base64 text), and print what it\n"
     "grants. Exit 0 when valid, 1 when not (altered, not signed by that key, or\n"
     "its time has passed). It cannot show a release or revoke: `lease show` can.\n"},
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
     "       admin audit [--since WHEN] [--verify] [--json]",
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
        fprintf(stderr, "aifedctl: no command '%s'\n", argv[1]);
        return CTL_EXIT_USAGE;
    }
    ctl_command_help(cmd);
    return 0;
}

int main(int argc, char **argv)
{
    struct ctl ctl = {
        .broker = getenv("AIFED_BROKER"),
        .broker_key = getenv("AIFED_BROKER_KEY"),
        .key = getenv("AIFED_KEY"),
    };
    const struct ctl_command *cmd;
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
            if (af_duration_parse(optarg, &ctl.timeout_ms) < 0 || ctl.timeout_ms == 0) {
                fprintf(stderr, "aifedctl: --timeout: '%s' is not a duration like 10s\n",
                        optarg);
                return CTL_EXIT_USAGE;
            }
            ctl.timeout_set = true;
            break;
        case 'j':
            ctl.json = true;
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
        fprintf(stderr, "aifedctl: no command '%s'\n\n", argv[optind]);
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (ctl.db && strcmp(cmd->name, "leases") && strcmp(cmd->name, "lease") &&
        strcmp(cmd->name, "admin")) {
        fprintf(stderr, "aifedctl: --db works with leases, lease show and admin audit\n");
        return CTL_EXIT_USAGE;
    }
    argc -= optind;
    argv += optind;
    /* 0, not 1: glibc then re-initialises getopt, forgetting the "+" (stop at
     * the first word) of the global parse, so a command's options may also
     * follow its words ("lease show ID --json"). */
    optind = 0;
    return cmd->run(&ctl, cmd, argc, argv);
}
