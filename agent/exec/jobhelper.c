/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aifed-jobhelper: the one program the agent runs as a job's user, through
 * one fixed sudo rule (deploy/slurm/sudoers): `sudo -n -u ACCOUNT
 * /usr/libexec/aifed/aifed-jobhelper VERB ...`. It has no privilege of its
 * own and refuses to run as root; everything it does, the account could do
 * itself. What it adds is care: the job's directory is made fresh under a
 * parent only the account (or root) can write, and every file in it is
 * opened through safefile (no symlink followed, no FIFO or device opened,
 * only the account's own regular files). So a user's job directory is only
 * ever touched with that user's rights, and never in a way the user can
 * turn against the agent.
 *
 * Verbs (ROOT is job_root with %u and %h filled in, JOB the job's id):
 *   prepare ROOT JOB              stdin is the job script: ROOT/JOB is made
 *                                 (it must not exist), the script written
 *                                 there as .aifed-job.sh
 *   submit ROOT JOB SBATCH CONF OPT...   prepare, then exec sbatch on it
 *                                 (OPT: only the options the agent uses;
 *                                 CONF: slurm.conf or "-")
 *   resubmit ROOT JOB SBATCH CONF OPT... sbatch again on the script that
 *                                 submit left (slurmctld did not answer)
 *   scancel SCANCEL CONF ID       exec scancel on a Slurm id, or on the name
 *                                 aifed-job-...
 *   cat ROOT JOB NAME             a small file of the job's (<= 4 KiB)
 *   follow ROOT JOB NAME OFFSET   the file from OFFSET as frames (follow.h)
 *                                 while it grows; when stdin closes, what is
 *                                 left, then a final frame
 *   run ROOT JOB                  the demo executor: .aifed-job.sh in a new
 *                                 session; prints "pid N"; stops it (TERM,
 *                                 then KILL, and every process it left) when
 *                                 stdin says "stop" or closes (the agent is
 *                                 gone); exits with the job's status
 */
#include "follow_frame.h"
#include "safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SCRIPT       ".aifed-job.sh"
#define MAX_SCRIPT   (64 * 1024 * 1024)
#define CAT_MAX      4096
#define POLL_MS      100
#define KILL_AFTER_S 5

static const char *verb = "?";

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "aifed-jobhelper %s: ", verb);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

/* ROOT/JOB, opened as a directory; -1 after saying why. */
static int job_dir(const char *root, const char *job, bool fresh)
{
    struct af_error err = {0};
    int rootfd, fd;

    if (!safefile_name_ok(job) || strncmp(job, "job-", 4))
        return die("'%s' is not a job id", job), -1;
    if ((rootfd = safefile_dir(root, getuid(), fresh, &err)) < 0)
        return die("job_root: %s", err.text), -1;
    if (fresh)
        fd = safefile_mkdir_new(rootfd, job, &err);
    else if ((fd = openat(rootfd, job, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
             0)
        af_error_set(&err, "%s/%s: %s", root, job,
                     errno == ENOENT ? "no such directory" : "not a plain directory");
    close(rootfd);
    if (fd < 0)
        return die("%s", err.text), -1;
    return fd;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* stdin into a fresh SCRIPT in dirfd. */
static int put_script(int dirfd)
{
    struct af_error err = {0};
    char buf[65536];
    size_t total = 0;
    ssize_t n;
    int fd = safefile_create(dirfd, SCRIPT, 0700, &err);

    if (fd < 0)
        return die("%s", err.text);
    while ((n = read(0, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (total += (size_t)n) > MAX_SCRIPT ||
            write_all(fd, buf, (size_t)n) < 0) {
            close(fd);
            return die("writing the script: %s", n < 0 ? strerror(errno) : "too long");
        }
    }
    if (fsync(fd) < 0 || close(fd) < 0)
        return die("writing the script: %s", strerror(errno));
    return 0;
}

static int cmd_prepare(int argc, char **argv, int *ret_dirfd)
{
    int fd, rc;

    if (argc < 2)
        return die("usage: prepare ROOT JOB");
    if ((fd = job_dir(argv[0], argv[1], true)) < 0)
        return 2;
    if ((rc = put_script(fd))) {
        close(fd);
        return rc;
    }
    if (ret_dirfd)
        *ret_dirfd = fd;
    else
        close(fd);
    return 0;
}

/* Only what sjobs.c passes: a wrong or extra option is refused. */
static bool sbatch_opt_ok(const char *o)
{
    static const char *const ok[] = {"--job-name=aifed-job-",
                                     "--reservation=aifed-",
                                     "--partition=",
                                     "--gpus=",
                                     "--time=",
                                     "--account="};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (!strncmp(o, ok[i], strlen(ok[i])) && !strchr(o, '\n'))
            return true;
    return false;
}

static void set_slurm_conf(const char *conf)
{
    if (strcmp(conf, "-"))
        setenv("SLURM_CONF", conf, 1);
}

/* The script submit wrote, still there and still the account's own. */
static int script_left(const char *root, const char *job)
{
    struct af_error err = {0};
    int dir = job_dir(root, job, false), fd;

    if (dir < 0)
        return 2;
    fd = safefile_open_read(dir, SCRIPT, getuid(), &err);
    close(dir);
    if (fd < 0)
        return die("%s", err.text);
    close(fd);
    return 0;
}

static int sbatch(int argc, char **argv, bool again)
{
    char chdir_opt[PATH_MAX + 16], script[PATH_MAX + 32];
    char *args[32];
    int n = 0, fd, rc;

    if (argc < 4 || argc > 4 + 16)
        return die("usage: %s ROOT JOB SBATCH CONF OPTION...", verb);
    for (int i = 4; i < argc; i++)
        if (!sbatch_opt_ok(argv[i]))
            return die("sbatch option '%s' is not one the agent passes", argv[i]);
    if (argv[2][0] != '/')
        return die("sbatch: '%s' is not an absolute path", argv[2]);
    if (again && (rc = script_left(argv[0], argv[1])))
        return rc;
    if (!again && (rc = cmd_prepare(argc, argv, &fd)))
        return rc;
    if (!again)
        close(fd);
    snprintf(chdir_opt, sizeof(chdir_opt), "--chdir=%s/%s", argv[0], argv[1]);
    snprintf(script, sizeof(script), "%s/%s/" SCRIPT, argv[0], argv[1]);
    args[n++] = argv[2];
    args[n++] = "--parsable";
    args[n++] = "--output=/dev/null";
    args[n++] = chdir_opt;
    for (int i = 4; i < argc; i++)
        args[n++] = argv[i];
    args[n++] = script;
    args[n] = NULL;
    set_slurm_conf(argv[3]);
    execv(argv[2], args);
    return die("%s: %s", argv[2], strerror(errno));
}

static int cmd_submit(int argc, char **argv)
{
    return sbatch(argc, argv, false);
}

static int cmd_resubmit(int argc, char **argv)
{
    return sbatch(argc, argv, true);
}

static int cmd_scancel(int argc, char **argv)
{
    char name[128];
    const char *target;
    char *end;

    if (argc != 3 || argv[0][0] != '/')
        return die("usage: scancel SCANCEL CONF ID|aifed-job-ID");
    target = argv[2];
    if (!strncmp(target, "aifed-job-", 10) && safefile_name_ok(target) &&
        strlen(target) < 100) {
        snprintf(name, sizeof(name), "--name=%s", target);
        target = name;
    } else if (strtoul(target, &end, 10) == 0 || *end) {
        return die("'%s' is neither a Slurm job id nor an aifed job's name", target);
    }
    set_slurm_conf(argv[1]);
    execv(argv[0], (char *[]){argv[0], "--quiet", (char *)target, NULL});
    return die("%s: %s", argv[0], strerror(errno));
}

static int cmd_cat(int argc, char **argv)
{
    struct af_error err = {0};
    char buf[CAT_MAX];
    ssize_t n;
    int dir, fd;

    if (argc != 3)
        return die("usage: cat ROOT JOB NAME");
    if ((dir = job_dir(argv[0], argv[1], false)) < 0)
        return 2;
    fd = safefile_open_read(dir, argv[2], getuid(), &err);
    close(dir);
    if (fd < 0)
        return errno == ENOENT ? 1 : die("%s", err.text);
    n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n < 0 || write_all(1, buf, (size_t)n) < 0)
        return die("%s: %s", argv[2], strerror(errno));
    return 0;
}

static int emit(uint64_t offset, uint64_t size, const void *data, uint32_t len,
                uint32_t flags)
{
    struct follow_frame h = {.offset = offset, .size = size, .len = len, .flags = flags};

    if (write_all(1, &h, sizeof(h)) < 0 || (len && write_all(1, data, len) < 0))
        return -1;
    return 0;
}

/* Whether stdin has closed (the agent says: the job has ended, or stop);
 * waits up to ms for it. */
static bool stdin_closed(int ms)
{
    struct pollfd p = {.fd = 0, .events = POLLIN};
    char c[64];

    if (poll(&p, 1, ms) <= 0)
        return false;
    return read(0, c, sizeof(c)) <= 0;
}

static int cmd_follow(int argc, char **argv)
{
    static char buf[FOLLOW_FRAME_MAX];
    struct af_error err = {0};
    uint64_t pos, said = UINT64_MAX;
    bool last = false;
    struct stat st;
    char *end;
    int dir, fd = -1;

    if (argc != 4)
        return die("usage: follow ROOT JOB NAME OFFSET");
    pos = strtoull(argv[3], &end, 10);
    if (*end)
        return die("'%s' is not an offset", argv[3]);
    signal(SIGPIPE, SIG_DFL); /* the agent stopped reading: so do we */
    if ((dir = job_dir(argv[0], argv[1], false)) < 0) {
        /* Not made yet (a job still queued): nothing to read, nothing wrong. */
        if (emit(pos, 0, NULL, 0, 0) < 0)
            return 0;
        while (!stdin_closed(POLL_MS * 5))
            if ((dir = job_dir(argv[0], argv[1], false)) >= 0)
                break;
        if (dir < 0)
            return emit(pos, 0, NULL, 0, FOLLOW_FINAL) < 0 ? 0 : 0;
    }
    for (;;) {
        if (fd < 0 && (fd = safefile_open_read(dir, argv[2], getuid(), &err)) < 0 &&
            errno != ENOENT)
            return die("%s", err.text);
        st.st_size = 0;
        if (fd >= 0 && fstat(fd, &st) < 0)
            return die("%s: %s", argv[2], strerror(errno));
        if ((uint64_t)st.st_size > pos) {
            uint64_t want = (uint64_t)st.st_size - pos;
            ssize_t n =
                pread(fd, buf, want < sizeof(buf) ? want : sizeof(buf), (off_t)pos);
            if (n < 0)
                return die("%s: %s", argv[2], strerror(errno));
            if (emit(pos, (uint64_t)st.st_size, buf, (uint32_t)n, 0) < 0)
                return 0;
            pos += (uint64_t)n;
            said = (uint64_t)st.st_size;
            continue;
        }
        if (last)
            return emit(pos, (uint64_t)st.st_size, NULL, 0, FOLLOW_FINAL) < 0 ? 0 : 0;
        if (said != (uint64_t)st.st_size) {
            if (emit(pos, (uint64_t)st.st_size, NULL, 0, 0) < 0)
                return 0;
            said = (uint64_t)st.st_size;
        }
        last = stdin_closed(POLL_MS); /* then one more look, to the end */
    }
}

/* ---- run: the demo executor's supervisor ---- */

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
    (void)sig;
    got_term = 1;
}

/* Every process the job left behind: they were reparented to us (we are a
 * subreaper), so they are our children now. */
static void kill_orphans(int sig)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    char path[64], line[256];
    pid_t self = getpid();

    if (!d)
        return;
    while ((e = readdir(d))) {
        FILE *f;
        long pid = strtol(e->d_name, NULL, 10);
        if (pid <= 0 || pid == self)
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/status", pid);
        if (!(f = fopen(path, "r")))
            continue;
        while (fgets(line, sizeof(line), f))
            if (!strncmp(line, "PPid:", 5)) {
                if (strtol(line + 5, NULL, 10) == self)
                    kill((pid_t)pid, sig);
                break;
            }
        fclose(f);
    }
    closedir(d);
}

static int status_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Stop the job's session, then whatever it left; wait for all of it. */
static void stop_all(pid_t pid, int *status, bool *reaped)
{
    time_t until = time(NULL) + KILL_AFTER_S;
    pid_t w;
    int st;

    kill(-pid, SIGTERM);
    kill_orphans(SIGTERM);
    while (time(NULL) < until) {
        while ((w = waitpid(-1, &st, WNOHANG)) > 0)
            if (w == pid) {
                *status = st;
                *reaped = true;
            }
        if (w < 0 && errno == ECHILD)
            return;
        usleep(50000);
    }
    kill(-pid, SIGKILL);
    kill_orphans(SIGKILL);
    while ((w = waitpid(-1, &st, 0)) > 0)
        if (w == pid) {
            *status = st;
            *reaped = true;
        }
}

static int cmd_run(int argc, char **argv)
{
    int dir, status = 0, st;
    bool reaped = false, stop = false;
    pid_t pid, w;

    if (argc != 2)
        return die("usage: run ROOT JOB");
    if ((dir = job_dir(argv[0], argv[1], false)) < 0)
        return 2;
    if (fchdir(dir) < 0)
        return die("chdir: %s", strerror(errno));
    close(dir);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGTERM, on_term);
    signal(SIGHUP, on_term);
    signal(SIGPIPE, SIG_IGN);
    if ((pid = fork()) < 0)
        return die("fork: %s", strerror(errno));
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        setsid();
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        execl("/bin/sh", "sh", "./" SCRIPT, (char *)NULL);
        _exit(127);
    }
    printf("pid %d\n", (int)pid);
    fflush(stdout);
    while (!reaped && !stop) {
        while ((w = waitpid(-1, &st, WNOHANG)) > 0)
            if (w == pid) {
                status = st;
                reaped = true;
            }
        stop = got_term || stdin_closed(reaped ? 0 : 200);
    }
    /* The job ended, or must: nothing it started outlives it. */
    stop_all(pid, &status, &reaped);
    return status_code(status);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int argc, char **argv);
    } verbs[] = {
        {"submit", cmd_submit}, {"resubmit", cmd_resubmit}, {"scancel", cmd_scancel},
        {"cat", cmd_cat},       {"follow", cmd_follow},     {"run", cmd_run},
    };

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: aifed-jobhelper VERB ARGS...\n"
                "The aifed agent's helper, run as a job's own account through sudo:\n"
                "prepare, submit, scancel, cat, follow, run (see aifed-agent(8)).\n");
        return argc < 2 ? 2 : 0;
    }
    verb = argv[1];
    if (getuid() == 0 || geteuid() == 0)
        return die("refusing to run as root: a job runs as its user's own account");
    umask(077);
    if (!strcmp(verb, "prepare"))
        return cmd_prepare(argc - 2, argv + 2, NULL);
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (!strcmp(verb, verbs[i].name))
            return verbs[i].fn(argc - 2, argv + 2);
    return die("unknown verb");
}
