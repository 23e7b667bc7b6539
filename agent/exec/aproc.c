/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aproc: a command owns five handles (process, three pipes, timer) and is
 * freed when all have closed. It is done when the process has exited and
 * both output pipes have ended, or when its time limit passes (its group is
 * killed then, which also ends pipes a grandchild kept open).
 */
#include "aproc.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_KEEP 512

struct aproc_cmd {
    struct aproc_pool *pool;
    char **argv;
    char **env; /* the whole environment, or NULL: the agent's */
    char *in;
    size_t in_len;
    uint64_t timeout_ms;
    size_t max_out;
    aproc_done_fn done;
    void *arg;
    uv_process_t proc;
    uv_pipe_t pin, pout, perr;
    uv_timer_t timer;
    uv_write_t wr;
    char *out;
    size_t out_len;
    char err[ERR_KEEP];
    size_t err_len;
    int handles; /* open */
    int ends;    /* of pout, perr, and the exit: 3 when all came */
    int status;
    bool timed_out, finished, spawned, exited;
    struct aproc_cmd *next; /* the wait queue */
};

struct aproc_pool {
    uv_loop_t *loop;
    unsigned max_running, max_queued, running, queued;
    struct aproc_cmd *head, *tail; /* waiting */
    struct aproc_cmd **live;       /* running, for destroy */
    bool dying;
};

static void cmd_free(struct aproc_cmd *c)
{
    if (c->argv)
        for (char **a = c->argv; *a; a++)
            free(*a);
    free(c->argv);
    if (c->env)
        for (char **e = c->env; *e; e++)
            free(*e);
    free(c->env);
    free(c->in);
    free(c->out);
    free(c);
}

static void live_del(struct aproc_pool *p, struct aproc_cmd *c)
{
    for (unsigned i = 0; i < p->max_running; i++)
        if (p->live[i] == c)
            p->live[i] = NULL;
}

static void live_add(struct aproc_pool *p, struct aproc_cmd *c)
{
    for (unsigned i = 0; i < p->max_running; i++)
        if (!p->live[i]) {
            p->live[i] = c;
            return;
        }
}

static void on_closed(uv_handle_t *h)
{
    struct aproc_cmd *c = h->data;

    if (--c->handles == 0)
        cmd_free(c);
}

/* Every handle; the process's only once it has exited, so that libuv
 * reaps it: a command that ran as another account through sudo cannot be
 * killed by a non-root agent, and one whose handle closed before it ended
 * would stay a zombie. */
static void close_all(struct aproc_cmd *c)
{
    uv_handle_t *hs[] = {(uv_handle_t *)&c->pin, (uv_handle_t *)&c->pout,
                         (uv_handle_t *)&c->perr, (uv_handle_t *)&c->timer};

    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], on_closed);
    if ((c->exited || !c->spawned) && !uv_is_closing((uv_handle_t *)&c->proc))
        uv_close((uv_handle_t *)&c->proc, on_closed);
}

static void start_next(struct aproc_pool *p);

static void finish(struct aproc_cmd *c)
{
    struct aproc_pool *p = c->pool;
    struct aproc_result r = {.status = c->status,
                             .out = c->out ? c->out : "",
                             .out_len = c->out_len,
                             .err = c->err};

    if (c->finished)
        return;
    c->finished = true;
    if (c->timed_out) {
        snprintf(c->err, sizeof(c->err), "%s: no answer within %llu ms (killed)",
                 c->argv[0], (unsigned long long)c->timeout_ms);
        r.status = -1;
    }
    live_del(p, c);
    p->running--;
    if (!p->dying && c->done)
        c->done(&r, c->arg);
    close_all(c);
    if (!p->dying)
        start_next(p);
}

static void one_end(struct aproc_cmd *c)
{
    if (++c->ends == 3)
        finish(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    static char slab[65536];

    (void)h;
    (void)hint;
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void on_out(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct aproc_cmd *c = s->data;
    bool is_err = s == (uv_stream_t *)&c->perr;

    if (n < 0) {
        uv_read_stop(s);
        one_end(c);
        return;
    }
    if (is_err) {
        size_t keep = sizeof(c->err) - 1 - c->err_len;
        keep = (size_t)n < keep ? (size_t)n : keep;
        memcpy(c->err + c->err_len, buf->base, keep);
        c->err_len += keep;
        c->err[c->err_len] = '\0';
        return;
    }
    if (c->out_len < c->max_out) {
        size_t keep =
            c->max_out - c->out_len < (size_t)n ? c->max_out - c->out_len : (size_t)n;
        char *grown = realloc(c->out, c->out_len + keep + 1);
        if (!grown)
            return;
        c->out = grown;
        memcpy(c->out + c->out_len, buf->base, keep);
        c->out_len += keep;
        c->out[c->out_len] = '\0';
    }
}

static void on_proc_exit(uv_process_t *proc, int64_t status, int signum)
{
    struct aproc_cmd *c = proc->data;

    c->exited = true;
    if (c->finished) { /* past its time limit, now gone: reaped, let go */
        uv_close((uv_handle_t *)proc, on_closed);
        return;
    }

    c->status = signum ? -1 : (int)status;
    if (signum && !c->timed_out)
        snprintf(c->err + c->err_len, sizeof(c->err) - c->err_len,
                 "%skilled by signal %d", c->err_len ? "; " : "", signum);
    one_end(c);
}

static void on_timeout(uv_timer_t *t)
{
    struct aproc_cmd *c = t->data;

    c->timed_out = true;
    uv_kill(-c->proc.pid, SIGKILL);
    /* Pipes a stray grandchild of another group holds may stay open: the
     * command is over all the same. */
    finish(c);
}

static void on_written(uv_write_t *w, int status)
{
    struct aproc_cmd *c = w->data;

    (void)status; /* a command that does not read its input says so itself */
    if (!uv_is_closing((uv_handle_t *)&c->pin))
        uv_close((uv_handle_t *)&c->pin, on_closed);
}

static int spawn(struct aproc_pool *p, struct aproc_cmd *c)
{
    uv_stdio_container_t stdio[3];
    uv_process_options_t o = {0};
    uv_buf_t b;
    int rc;

    uv_pipe_init(p->loop, &c->pin, 0);
    uv_pipe_init(p->loop, &c->pout, 0);
    uv_pipe_init(p->loop, &c->perr, 0);
    uv_timer_init(p->loop, &c->timer);
    c->pin.data = c->pout.data = c->perr.data = c->timer.data = c->proc.data = c;
    c->handles = 4; /* the process handle counts once it is spawned */
    stdio[0].flags = c->in ? UV_CREATE_PIPE | UV_READABLE_PIPE : UV_IGNORE;
    stdio[0].data.stream = (uv_stream_t *)&c->pin;
    stdio[1].flags = stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&c->pout;
    stdio[2].data.stream = (uv_stream_t *)&c->perr;
    o.file = c->argv[0];
    o.args = c->argv;
    o.env = c->env;
    o.exit_cb = on_proc_exit;
    o.flags = UV_PROCESS_DETACHED; /* its own group: a timeout kills all of it */
    o.stdio = stdio;
    o.stdio_count = 3;
    if ((rc = uv_spawn(p->loop, &c->proc, &o)) < 0) {
        c->handles++;
        close_all(c);
        errno = -rc;
        return -1;
    }
    c->handles++;
    c->spawned = true;
    p->running++;
    live_add(p, c);
    uv_read_start((uv_stream_t *)&c->pout, on_alloc, on_out);
    uv_read_start((uv_stream_t *)&c->perr, on_alloc, on_out);
    uv_timer_start(&c->timer, on_timeout, c->timeout_ms, 0);
    if (c->in) {
        b = uv_buf_init(c->in, (unsigned)c->in_len);
        c->wr.data = c;
        if (uv_write(&c->wr, (uv_stream_t *)&c->pin, &b, 1, on_written) < 0)
            uv_close((uv_handle_t *)&c->pin, on_closed);
    } else {
        uv_close((uv_handle_t *)&c->pin, on_closed);
    }
    return 0;
}

static void start_next(struct aproc_pool *p)
{
    while (p->head && p->running < p->max_running) {
        struct aproc_cmd *c = p->head;
        p->head = c->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        if (spawn(p, c) < 0) {
            struct aproc_result r = {.status = -1, .out = "", .err = c->err};
            snprintf(c->err, sizeof(c->err), "%s: cannot run: %s", c->argv[0],
                     strerror(errno));
            if (c->done)
                c->done(&r, c->arg);
            c->done = NULL; /* freed as its handles close */
        }
    }
}

static char **argv_copy(char *const argv[])
{
    size_t n = 0;
    char **v;

    while (argv[n])
        n++;
    if (!(v = calloc(n + 1, sizeof(*v))))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(v[i] = strdup(argv[i]))) {
            for (size_t k = 0; k < i; k++)
                free(v[k]);
            free(v);
            return NULL;
        }
    return v;
}

extern char **environ;

/* extra, then environ (earlier entries win in getenv). */
static char **env_copy(char *const extra[])
{
    size_t n = 0, k = 0;
    char **v;

    while (environ[n])
        n++;
    while (extra[k])
        k++;
    if (!(v = calloc(n + k + 1, sizeof(*v))))
        return NULL;
    for (size_t i = 0; i < k + n; i++)
        if (!(v[i] = strdup(i < k ? extra[i] : environ[i - k]))) {
            for (size_t j = 0; j < i; j++)
                free(v[j]);
            free(v);
            return NULL;
        }
    return v;
}

int aproc_run(struct aproc_pool *p, char *const argv[], const void *in, size_t in_len,
              uint64_t timeout_ms, size_t max_out, aproc_done_fn done, void *arg)
{
    return aproc_run_env(p, argv, NULL, in, in_len, timeout_ms, max_out, done, arg);
}

int aproc_run_env(struct aproc_pool *p, char *const argv[], char *const env[],
                  const void *in, size_t in_len, uint64_t timeout_ms, size_t max_out,
                  aproc_done_fn done, void *arg)
{
    struct aproc_cmd *c;

    if (p->running >= p->max_running && p->queued >= p->max_queued) {
        errno = EAGAIN;
        return -1;
    }
    if (!(c = calloc(1, sizeof(*c))) || !(c->argv = argv_copy(argv)) ||
        (env && !(c->env = env_copy(env))) ||
        (in && !(c->in = malloc(in_len ? in_len : 1)))) {
        if (c)
            cmd_free(c);
        errno = ENOMEM;
        return -1;
    }
    if (in) {
        memcpy(c->in, in, in_len);
        c->in_len = in_len;
    }
    c->pool = p;
    c->timeout_ms = timeout_ms;
    c->max_out = max_out;
    c->done = done;
    c->arg = arg;
    if (p->running < p->max_running) {
        if (spawn(p, c) < 0)
            return -1; /* c is freed as its handles close */
        return 0;
    }
    if (p->tail)
        p->tail->next = c;
    else
        p->head = c;
    p->tail = c;
    p->queued++;
    return 0;
}

unsigned aproc_running(const struct aproc_pool *p)
{
    return p->running;
}

unsigned aproc_queued(const struct aproc_pool *p)
{
    return p->queued;
}

struct aproc_pool *aproc_pool_create(uv_loop_t *loop, unsigned max_running,
                                     unsigned max_queued)
{
    struct aproc_pool *p = calloc(1, sizeof(*p));

    if (!p || !(p->live = calloc(max_running ? max_running : 1, sizeof(*p->live)))) {
        free(p);
        return NULL;
    }
    p->loop = loop;
    p->max_running = max_running ? max_running : 1;
    p->max_queued = max_queued;
    return p;
}

void aproc_pool_destroy(struct aproc_pool *p)
{
    if (!p)
        return;
    struct aproc_result stop = {
        .stopping = true, .status = -1, .out = "", .err = "the agent is stopping"};

    p->dying = true;
    while (p->head) {
        struct aproc_cmd *c = p->head;
        p->head = c->next;
        if (c->done)
            c->done(&stop, c->arg);
        cmd_free(c);
    }
    for (unsigned i = 0; i < p->max_running; i++) {
        struct aproc_cmd *c = p->live[i];
        if (!c)
            continue;
        uv_kill(-c->proc.pid, SIGKILL);
        if (c->done)
            c->done(&stop, c->arg);
        c->finished = true;
        close_all(c);
        /* Stopping: the process is not waited for (the agent is going). */
        if (!uv_is_closing((uv_handle_t *)&c->proc))
            uv_close((uv_handle_t *)&c->proc, on_closed);
    }
    free(p->live);
    free(p);
}
