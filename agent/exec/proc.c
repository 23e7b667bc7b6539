/* SPDX-License-Identifier: Apache-2.0 */
/* proc: posix_spawn in its own process group, poll both pipes, kill on time. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* environ followed by extra, for the child. */
static char **child_env(char *const extra[])
{
    size_t n = 0, k = 0;
    char **v;

    while (environ[n])
        n++;
    while (extra && extra[k])
        k++;
    if (!(v = calloc(n + k + 1, sizeof(*v))))
        return NULL;
    if (k) /* extra may be NULL */
        memcpy(v, extra, k * sizeof(*v));
    memcpy(v + k, environ, n * sizeof(*v)); /* earlier entries win in getenv */
    return v;
}

static int spawn(char *const argv[], char *const env[], int out[2], int err[2],
                 pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    char **envp = child_env(env);
    int rc;

    if (!envp)
        return ENOMEM;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawnattr_init(&at);
    /* Its own group, so a timeout kills whatever it started too. */
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    rc = posix_spawnp(pid, argv[0], &fa, &at, argv, envp);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    return rc;
}

/* Read what is there into out (stdout, growing up to max) or errbuf. */
static int drain(int fd, struct proc_out *o, size_t max, bool is_err)
{
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    size_t have, keep;

    if (n <= 0)
        return n == 0 || errno != EINTR ? 0 : 1;
    if (is_err) {
        have = strlen(o->err);
        keep =
            (size_t)n < sizeof(o->err) - 1 - have ? (size_t)n : sizeof(o->err) - 1 - have;
        memcpy(o->err + have, buf, keep);
        o->err[have + keep] = '\0';
        return 1;
    }
    keep = o->len + (size_t)n > max ? max - o->len : (size_t)n;
    if (keep) {
        char *grown = realloc(o->text, o->len + keep + 1);
        if (!grown)
            return -1;
        o->text = grown;
        memcpy(o->text + o->len, buf, keep);
        o->len += keep;
        o->text[o->len] = '\0';
    }
    return 1;
}

/* Collect both pipes until they close or the deadline passes. */
static int collect(int out, int err, uint64_t deadline, size_t max, struct proc_out *o)
{
    struct pollfd p[2] = {{.fd = out, .events = POLLIN}, {.fd = err, .events = POLLIN}};

    while (p[0].fd >= 0 || p[1].fd >= 0) {
        uint64_t now = mono_ms();
        int n;

        if (now >= deadline)
            return -ETIMEDOUT;
        n = poll(p, 2, (int)(deadline - now));
        if (n < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; n > 0 && i < 2; i++) {
            if (p[i].fd < 0 || !p[i].revents)
                continue;
            int r = drain(p[i].fd, o, max, i == 1);
            if (r < 0)
                return -ENOMEM;
            if (r == 0)
                p[i].fd = -1;
        }
    }
    return 0;
}

static void close_pair(int fd[2])
{
    if (fd[0] >= 0)
        close(fd[0]);
    if (fd[1] >= 0)
        close(fd[1]);
}

int proc_run(char *const argv[], char *const env[], uint64_t timeout_ms, size_t max_out,
             struct proc_out *o, struct af_error *err)
{
    int out[2] = {-1, -1}, er[2] = {-1, -1}, status, rc;
    pid_t pid;

    memset(o, 0, sizeof(*o));
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0) {
        close_pair(out);
        return af_error_set(err, "%s: pipe: %s", argv[0], strerror(errno));
    }
    if ((rc = spawn(argv, env, out, er, &pid)) != 0) {
        close_pair(out);
        close_pair(er);
        return af_error_set(err, "%s: cannot run: %s", argv[0], strerror(rc));
    }
    close(out[1]);
    close(er[1]);
    rc = collect(out[0], er[0], mono_ms() + timeout_ms, max_out, o);
    close(out[0]);
    close(er[0]);
    if (rc < 0)
        kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (rc == -ETIMEDOUT)
        return af_error_set(err, "%s: no answer within %llu ms (killed)", argv[0],
                            (unsigned long long)timeout_ms);
    if (rc < 0)
        return af_error_set(err, "%s: %s", argv[0], strerror(-rc));
    if (!WIFEXITED(status))
        return af_error_set(err, "%s: killed by signal %d", argv[0], WTERMSIG(status));
    if (!o->text && !(o->text = calloc(1, 1)))
        return af_error_set(err, "out of memory");
    return WEXITSTATUS(status);
}

void proc_out_free(struct proc_out *o)
{
    free(o->text);
    o->text = NULL;
    o->len = 0;
}
