/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What executors share (agent/exec): commands run without waiting and
 * within bounds (aproc); paths a user controls opened without trusting
 * them (safefile); who may run jobs (runas); the job script, whose values
 * a user chose and which must stay values (jobscript); and a job's output
 * read by the real job helper through a follower (follow). argv[1] is the
 * built aifed-jobhelper. As root, the helper runs as uid 65534 (it refuses
 * root), on files that uid owns.
 */
#include "aproc.h"
#include "follow.h"
#include "jobscript.h"
#include "runas.h"
#include "safefile.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static const char *helper;

/* ---- aproc ---- */

struct result {
    bool done, stopping;
    int status;
    char out[4096], err[600];
};

static void on_done(const struct aproc_result *r, void *arg)
{
    struct result *res = arg;

    res->done = true;
    res->stopping = r->stopping;
    res->status = r->status;
    snprintf(res->out, sizeof(res->out), "%s", r->out);
    snprintf(res->err, sizeof(res->err), "%s", r->err);
}

static void run_until(uv_loop_t *loop, const bool *done)
{
    for (int i = 0; i < 1000 && !*done; i++)
        uv_run(loop, UV_RUN_ONCE);
}

static void close_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void aproc_output_status_and_stdin(void **state)
{
    uv_loop_t loop;
    struct aproc_pool *p;
    struct result a = {0}, b = {0};

    (void)state;
    uv_loop_init(&loop);
    p = aproc_pool_create(&loop, 2, 2);
    assert_int_equal(
        aproc_run(p, (char *[]){"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL},
                  NULL, 0, 5000, 1024, on_done, &a),
        0);
    assert_int_equal(
        aproc_run(p, (char *[]){"/bin/cat", NULL}, "abc", 3, 5000, 1024, on_done, &b), 0);
    run_until(&loop, &a.done);
    run_until(&loop, &b.done);
    assert_int_equal(a.status, 3);
    assert_string_equal(a.out, "out\n");
    assert_string_equal(a.err, "err\n");
    assert_int_equal(b.status, 0);
    assert_string_equal(b.out, "abc");
    aproc_pool_destroy(p);
    close_loop(&loop);
}

static void aproc_kills_on_time(void **state)
{
    uv_loop_t loop;
    struct aproc_pool *p;
    struct result a = {0};

    (void)state;
    uv_loop_init(&loop);
    p = aproc_pool_create(&loop, 1, 0);
    assert_int_equal(aproc_run(p,
                               (char *[]){"/bin/sh", "-c", "sleep 30 & sleep 30", NULL},
                               NULL, 0, 200, 1024, on_done, &a),
                     0);
    run_until(&loop, &a.done);
    assert_true(a.done);
    assert_int_equal(a.status, -1);
    assert_non_null(strstr(a.err, "no answer within 200 ms (killed)"));
    aproc_pool_destroy(p);
    close_loop(&loop);
}

static void aproc_bounds_running_and_waiting(void **state)
{
    uv_loop_t loop;
    struct aproc_pool *p;
    struct result r[3] = {{0}};
    char *sleepy[] = {"/bin/sleep", "0.2", NULL};

    (void)state;
    uv_loop_init(&loop);
    p = aproc_pool_create(&loop, 1, 1);
    assert_int_equal(aproc_run(p, sleepy, NULL, 0, 5000, 64, on_done, &r[0]), 0);
    assert_int_equal(aproc_run(p, sleepy, NULL, 0, 5000, 64, on_done, &r[1]), 0);
    assert_int_equal(aproc_running(p), 1);
    assert_int_equal(aproc_queued(p), 1);
    errno = 0;
    assert_int_equal(aproc_run(p, sleepy, NULL, 0, 5000, 64, on_done, &r[2]), -1);
    assert_int_equal(errno, EAGAIN);
    run_until(&loop, &r[1].done);
    assert_true(r[0].done && r[1].done);
    assert_int_equal(r[0].status, 0);
    assert_int_equal(r[1].status, 0);
    assert_false(r[2].done);
    aproc_pool_destroy(p);
    close_loop(&loop);
}

static void aproc_destroy_lets_every_caller_go(void **state)
{
    uv_loop_t loop;
    struct aproc_pool *p;
    struct result running = {0}, waiting = {0};
    char *sleepy[] = {"/bin/sleep", "30", NULL};

    (void)state;
    uv_loop_init(&loop);
    p = aproc_pool_create(&loop, 1, 1);
    assert_int_equal(aproc_run(p, sleepy, NULL, 0, 60000, 64, on_done, &running), 0);
    assert_int_equal(aproc_run(p, sleepy, NULL, 0, 60000, 64, on_done, &waiting), 0);
    aproc_pool_destroy(p);
    assert_true(running.done && running.stopping);
    assert_true(waiting.done && waiting.stopping);
    close_loop(&loop);
}

/* ---- safefile ---- */

static char *tmpdir(void)
{
    char *d = strdup("/tmp/aifed-test-exec.XXXXXX");

    assert_non_null(mkdtemp(d));
    return d;
}

static void rm_rf(const char *d)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
}

static void path_of(char *buf, size_t size, const char *d, const char *name)
{
    snprintf(buf, size, "%s/%s", d, name);
}

static void safefile_reads_only_the_owners_regular_files(void **state)
{
    char *d = tmpdir(), p[512], target[512];
    struct af_error err = {{0}};
    int dir, fd;

    (void)state;
    path_of(p, sizeof(p), d, "output.log");
    fd = open(p, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0 && write(fd, "x", 1) == 1);
    close(fd);
    path_of(target, sizeof(target), d, "output.log");
    path_of(p, sizeof(p), d, "link");
    assert_int_equal(symlink("/etc/shadow", p), 0);
    path_of(p, sizeof(p), d, "fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_true((dir = safefile_dir(d, getuid(), false, &err)) >= 0);

    assert_true((fd = safefile_open_read(dir, "output.log", getuid(), &err)) >= 0);
    close(fd);
    assert_int_equal(safefile_open_read(dir, "link", getuid(), &err), -1);
    assert_non_null(strstr(err.text, "a symlink, not followed"));
    /* A FIFO nobody writes to: refused at once, not waited on. */
    assert_int_equal(safefile_open_read(dir, "fifo", getuid(), &err), -1);
    assert_non_null(strstr(err.text, "not a regular file"));
    assert_int_equal(safefile_open_read(dir, "missing", getuid(), &err), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(safefile_open_read(dir, "../etc", getuid(), &err), -1);
    if (getuid() == 0) { /* owned by someone else */
        assert_int_equal(chown(target, 65534, 65534), 0);
        assert_int_equal(safefile_open_read(dir, "output.log", 0, &err), -1);
        assert_non_null(strstr(err.text, "owned by another account"));
    }
    close(dir);
    rm_rf(d);
    free(d);
}

static void safefile_walks_only_trusted_directories(void **state)
{
    char *d = tmpdir(), p[512], q[512];
    struct af_error err = {{0}};
    int fd;

    (void)state;
    /* A symlink on the way is not followed. */
    path_of(p, sizeof(p), d, "real");
    assert_int_equal(mkdir(p, 0700), 0);
    path_of(q, sizeof(q), d, "alias");
    assert_int_equal(symlink(p, q), 0);
    path_of(p, sizeof(p), d, "alias/jobs");
    assert_int_equal(safefile_dir(p, getuid(), true, &err), -1);
    assert_non_null(strstr(err.text, "a symlink or not a directory"));
    /* Missing components are made, 0700. */
    path_of(p, sizeof(p), d, "real/a/b");
    assert_true((fd = safefile_dir(p, getuid(), true, &err)) >= 0);
    /* A job's directory is made fresh, once. */
    assert_true(safefile_mkdir_new(fd, "job-1", &err) >= 0);
    assert_int_equal(safefile_mkdir_new(fd, "job-1", &err), -1);
    assert_non_null(strstr(err.text, "exists already"));
    close(fd);
    /* A directory others may write is refused. */
    path_of(p, sizeof(p), d, "real/a");
    assert_int_equal(chmod(p, 0777), 0);
    path_of(p, sizeof(p), d, "real/a/b");
    assert_int_equal(safefile_dir(p, getuid(), false, &err), -1);
    assert_non_null(strstr(err.text, "others may write it"));
    rm_rf(d);
    free(d);
}

/* ---- runas ---- */

static void runas_fills_job_root_and_refuses_accounts(void **state)
{
    struct runas ra = {.uid_min = 1000, .uid_max = 60000, .self = geteuid()};
    struct passwd *me = getpwuid(geteuid());
    struct af_error why;
    char buf[256];

    (void)state;
    assert_int_equal(
        runas_job_root("%h/.aifed/%u", "alice", "/home/alice", buf, sizeof(buf), &why),
        0);
    assert_string_equal(buf, "/home/alice/.aifed/alice");
    assert_int_equal(runas_job_root("jobs/%u", "alice", "/h", buf, sizeof(buf), &why),
                     -1);
    assert_true(runas_job_root_ok("/scratch/%u"));
    assert_true(runas_job_root_ok("%h/.aifed/jobs"));
    assert_false(runas_job_root_ok("/scratch/aifed"));
    assert_int_equal(runas_check(&ra, "root", NULL, NULL, 0, &why), -1);
    assert_non_null(strstr(why.text, "a job never runs as root"));
    assert_non_null(me);
    if (geteuid() != 0) {
        assert_int_equal(runas_check(&ra, me->pw_name, NULL, NULL, 0, &why), -1);
        assert_non_null(strstr(why.text, "the agent's own"));
    }
    assert_int_equal(runas_check(&ra, "daemon", NULL, NULL, 0, &why), -1);
    assert_non_null(strstr(why.text, "below uid_min"));
    assert_int_equal(runas_check(&ra, "nobody", NULL, NULL, 0, &why), -1);
    assert_non_null(strstr(why.text, "above UID_MAX"));
    assert_int_equal(runas_check(&ra, "no-such-account-here", NULL, NULL, 0, &why), -1);
    assert_non_null(strstr(why.text, "no local account"));
}

/* ---- jobscript ---- */

static char *slurp(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void jobscript_keeps_values_values(void **state)
{
    static const char *hostile = "it's \"$(touch pwned)\" `touch pwned2`; $HOME";
    char *d = tmpdir(), cmd[1024], p[512], *text, *got;
    Aifed__Job job = AIFED__JOB__INIT;
    Aifed__JobSpec spec = AIFED__JOB_SPEC__INIT;
    Aifed__EnvVar var = AIFED__ENV_VAR__INIT, *vars[] = {&var};
    Aifed__JobFile file = AIFED__JOB_FILE__INIT, *files[] = {&file};
    FILE *f;

    (void)state;
    job.id = "job-1";
    job.lease_id = "lease-1";
    job.spec = &spec;
    var.name = "GREETING";
    var.value = (char *)hostile;
    spec.env = vars;
    spec.n_env = 1;
    file.name = "sub/it's.txt";
    file.data.data = (uint8_t *)"data\n";
    file.data.len = 5;
    spec.files = files;
    spec.n_files = 1;
    spec.run = "printf '%s' \"$GREETING\" >v.txt; cat \"sub/it's.txt\" >>v.txt";
    assert_non_null(text = jobscript_for(&job, d, "runs in a test"));
    path_of(p, sizeof(p), d, "script");
    assert_non_null(f = fopen(p, "w"));
    fputs(text, f);
    fclose(f);
    free(text);
    snprintf(cmd, sizeof(cmd), "sh '%s'", p);
    assert_int_equal(system(cmd), 0);
    path_of(p, sizeof(p), d, "v.txt");
    assert_non_null(got = slurp(p));
    assert_memory_equal(got, hostile, strlen(hostile));
    assert_string_equal(got + strlen(hostile), "data\n");
    path_of(p, sizeof(p), d, "pwned");
    assert_int_not_equal(access(p, F_OK), 0);
    path_of(p, sizeof(p), d, ".aifed-exit");
    assert_string_equal(slurp(p), "0\n");
    path_of(p, sizeof(p), d, "output.log");
    assert_non_null(strstr(slurp(p), "aifed: job job-1 runs in a test, as "));
    rm_rf(d);
    free(d);
}

/* ---- follow, with the real job helper ---- */

struct pieces {
    int replies;
    bool at_end;
    char *data;
    size_t len;
    uint64_t next;
};

static void on_piece(const struct follow_piece *p, void *arg)
{
    struct pieces *s = arg;

    s->replies++;
    s->at_end = p->at_end;
    if (p->len && p->offset == s->next) {
        s->data = realloc(s->data, s->len + p->len);
        memcpy(s->data + s->len, p->data, p->len);
        s->len += p->len;
        s->next += p->len;
    }
}

/* argv for the helper's follow of root/job/name: as uid 65534 when root. */
static char **follow_argv(char **v, const char *root, const char *job, const char *name)
{
    size_t n = 0;

    if (getuid() == 0) {
        v[n++] = "/usr/bin/setpriv";
        v[n++] = "--reuid=65534";
        v[n++] = "--regid=65534";
        v[n++] = "--clear-groups";
    }
    v[n++] = (char *)helper;
    v[n++] = "follow";
    v[n++] = (char *)root;
    v[n++] = (char *)job;
    v[n++] = (char *)name;
    v[n] = NULL;
    return v;
}

/* A job directory with output.log of size bytes, owned by the helper's uid. */
static char *job_with_output(size_t size, char **ret_root)
{
    char *root = tmpdir(), p[512], *buf = malloc(size);
    uid_t uid = getuid() == 0 ? 65534 : getuid();
    int fd;

    for (size_t i = 0; i < size; i++)
        buf[i] = (char)('a' + i % 26);
    path_of(p, sizeof(p), root, "job-1");
    assert_int_equal(mkdir(p, 0700), 0);
    path_of(p, sizeof(p), root, "job-1/output.log");
    fd = open(p, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0 && write(fd, buf, size) == (ssize_t)size);
    close(fd);
    if (uid != getuid()) {
        assert_int_equal(chmod(root, 0755), 0);
        path_of(p, sizeof(p), root, "job-1");
        assert_int_equal(chown(p, uid, uid), 0);
        path_of(p, sizeof(p), root, "job-1/output.log");
        assert_int_equal(chown(p, uid, uid), 0);
    }
    *ret_root = root;
    return buf;
}

static void follow_reads_a_jobs_output_to_its_end(void **state)
{
    size_t size = 700 * 1024;
    char *root, *want = job_with_output(size, &root), *argv[16];
    struct pieces got = {0};
    uv_loop_t loop;
    struct follow_pool *fp;

    (void)state;
    uv_loop_init(&loop);
    fp = follow_pool_create(&loop);
    follow_argv(argv, root, "job-1", "output.log");
    /* As a client does: ask from where the last piece ended, to the end. */
    for (int i = 0; i < 200 && !got.at_end; i++) {
        int before = got.replies;
        follow_read(fp, "job-1", "u", argv, true, got.next, 512 * 1024, on_piece, &got);
        for (int k = 0; k < 400 && got.replies == before; k++)
            uv_run(&loop, UV_RUN_ONCE);
    }
    assert_true(got.at_end);
    assert_int_equal(got.len, size);
    assert_memory_equal(got.data, want, size);
    assert_int_equal(follow_count(fp), 1);
    follow_pool_destroy(fp);
    close_loop(&loop);
    rm_rf(root);
    free(root);
    free(want);
    free(got.data);
}

static void follow_never_reads_through_a_symlink(void **state)
{
    char *root, *want = job_with_output(10, &root), *argv[16], p[512];
    struct pieces got = {0};
    uv_loop_t loop;
    struct follow_pool *fp;

    (void)state;
    path_of(p, sizeof(p), root, "job-1/output.log");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(symlink("/etc/passwd", p), 0);
    uv_loop_init(&loop);
    fp = follow_pool_create(&loop);
    follow_argv(argv, root, "job-1", "output.log");
    follow_read(fp, "job-1", "u", argv, true, 0, 4096, on_piece, &got);
    for (int k = 0; k < 400 && !got.replies; k++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(got.replies, 1);
    assert_int_equal(got.len, 0); /* nothing of /etc/passwd */
    assert_true(got.at_end);      /* the job ended: the follower stops */
    follow_pool_destroy(fp);
    close_loop(&loop);
    rm_rf(root);
    free(root);
    free(want);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aproc_output_status_and_stdin),
        cmocka_unit_test(aproc_kills_on_time),
        cmocka_unit_test(aproc_bounds_running_and_waiting),
        cmocka_unit_test(aproc_destroy_lets_every_caller_go),
        cmocka_unit_test(safefile_reads_only_the_owners_regular_files),
        cmocka_unit_test(safefile_walks_only_trusted_directories),
        cmocka_unit_test(runas_fills_job_root_and_refuses_accounts),
        cmocka_unit_test(jobscript_keeps_values_values),
        cmocka_unit_test(follow_reads_a_jobs_output_to_its_end),
        cmocka_unit_test(follow_never_reads_through_a_symlink),
    };

    if (argc < 2) {
        fprintf(stderr, "usage: test_exec AIFED-JOBHELPER\n");
        return 2;
    }
    helper = argv[1];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
