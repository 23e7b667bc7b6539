/* SPDX-License-Identifier: Apache-2.0 */
/*
 * follow: a reader owns its process, two pipes (its stdin, which the agent
 * closes to say the job ended, and its stdout of frames) and its buffer; it
 * is freed when its handles have closed. One timer for the pool answers
 * parked reads whose wait is over and stops idle readers (there are at most
 * FOLLOW_MAX, so a scan is cheap).
 */
#include "follow.h"
#include "follow_frame.h"
#include "af_ids.h"
#include "af_log.h"
#include "af_time.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS 50
#define ERR_MAX 200

struct waiting {
    uint64_t offset;
    uint32_t max;
    int64_t until_ms;
    follow_reply_fn reply;
    void *arg;
};

struct reader {
    struct follow_pool *fp;
    char job[AF_ID_MAX + 1], user[64];
    uv_process_t proc;
    uv_pipe_t in, out;
    int handles;
    bool dead, ended, final, paused;
    bool caught_up; /* the last frame had no data: the reader is at the file's end */
    uint8_t *buf;   /* output from base, len bytes */
    uint64_t base, size;
    size_t len;
    /* the frame being read from the pipe */
    struct follow_frame hdr;
    size_t hdr_got, data_got;
    char err[ERR_MAX];
    uv_pipe_t errp;
    struct waiting wait[FOLLOW_MAX_WAITING];
    size_t n_wait;
    int64_t used_ms;
    struct reader *next;
};

struct follow_pool {
    uv_loop_t *loop;
    uv_timer_t tick;
    struct reader *readers;
    size_t n;
    bool dying;
};

static void reader_closed(uv_handle_t *h)
{
    struct reader *r = h->data;

    if (--r->handles == 0) {
        free(r->buf);
        free(r);
    }
}

static void unlink_reader(struct follow_pool *fp, struct reader *r)
{
    for (struct reader **pp = &fp->readers; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            fp->n--;
            return;
        }
}

/* Answer a parked (or new) read from the buffer as it is. */
static void answer(struct reader *r, const struct waiting *w)
{
    struct follow_piece p = {.offset = w->offset, .size = r->size};
    uint64_t end = r->base + r->len;

    if (w->offset >= r->base && w->offset < end) {
        size_t from = (size_t)(w->offset - r->base);
        p.data = r->buf + from;
        p.len = r->len - from < w->max ? r->len - from : w->max;
    }
    if (p.size < p.offset + p.len)
        p.size = p.offset + p.len;
    /* A reader that failed while the job runs is no end: the client asks
     * again, and the reader is started again. */
    p.at_end = r->final && r->ended && p.offset + p.len >= end;
    w->reply(&p, w->arg);
}

static void answer_all(struct reader *r)
{
    for (size_t i = 0; i < r->n_wait; i++)
        answer(r, &r->wait[i]);
    r->n_wait = 0;
}

static void kill_reader(struct reader *r)
{
    if (r->dead)
        return;
    r->dead = true;
    answer_all(r);
    unlink_reader(r->fp, r);
    if (!r->final)
        uv_process_kill(&r->proc, SIGTERM);
    uv_close((uv_handle_t *)&r->proc, reader_closed);
    if (!uv_is_closing((uv_handle_t *)&r->in))
        uv_close((uv_handle_t *)&r->in, reader_closed);
    uv_close((uv_handle_t *)&r->out, reader_closed);
    uv_close((uv_handle_t *)&r->errp, reader_closed);
}

/* Whether a read at w can be answered now: as much as it asked is here,
 * or all there is (the reader has caught up with the file, or is done).
 * Else it waits for more (bounded by FOLLOW_WAIT_MS), so that a reader far
 * behind a big file answers whole pieces, not one frame a request. */
static bool ready(const struct reader *r, const struct waiting *w)
{
    uint64_t end = r->base + r->len;

    return r->final || (w->offset < end && (end - w->offset >= w->max || r->caught_up));
}

/* Parked reads that data (or the end) can now answer. */
static void wake(struct reader *r)
{
    size_t k = 0;

    for (size_t i = 0; i < r->n_wait; i++) {
        if (ready(r, &r->wait[i]))
            answer(r, &r->wait[i]);
        else
            r->wait[k++] = r->wait[i];
    }
    r->n_wait = k;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    static char slab[65536];

    (void)h;
    (void)hint;
    *buf = uv_buf_init(slab, sizeof(slab));
}

static int grow(struct reader *r, size_t want)
{
    uint8_t *b;

    if (want <= FOLLOW_BUF_MAX && (b = realloc(r->buf, want ? want : 1))) {
        r->buf = b;
        return 0;
    }
    return -1;
}

/* n bytes of the pipe: headers and data, frame by frame. */
static void take(struct reader *r, const char *p, size_t n)
{
    while (n) {
        if (r->hdr_got < sizeof(r->hdr)) {
            size_t k = sizeof(r->hdr) - r->hdr_got < n ? sizeof(r->hdr) - r->hdr_got : n;
            memcpy((char *)&r->hdr + r->hdr_got, p, k);
            r->hdr_got += k;
            p += k;
            n -= k;
            if (r->hdr_got < sizeof(r->hdr))
                return;
            r->data_got = 0;
            if (r->hdr.len > FOLLOW_FRAME_MAX) {
                snprintf(r->err, sizeof(r->err), "a frame of %u bytes", r->hdr.len);
                kill_reader(r);
                return;
            }
            if (r->hdr.offset != r->base + r->len && r->len == 0)
                r->base = r->hdr.offset; /* nothing kept: start where it is */
            r->size = r->hdr.size;
            r->caught_up = r->hdr.len == 0;
            if (r->hdr.flags & FOLLOW_FINAL)
                r->final = true;
            if (r->hdr.len && grow(r, r->len + r->hdr.len) < 0) {
                snprintf(r->err, sizeof(r->err), "out of memory");
                kill_reader(r);
                return;
            }
        }
        size_t k = r->hdr.len - r->data_got < n ? r->hdr.len - r->data_got : n;
        if (k) /* a frame of no data leaves buf as it is (maybe NULL) */
            memcpy(r->buf + r->len, p, k);
        r->len += k;
        r->data_got += k;
        p += k;
        n -= k;
        if (r->data_got == r->hdr.len)
            r->hdr_got = 0; /* the next frame */
    }
}

static void on_frames(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct reader *r = s->data;

    if (r->dead)
        return;
    if (n < 0) { /* the reader is done (or died: its stderr says why) */
        r->final = true;
        uv_read_stop(s);
        wake(r);
        return;
    }
    take(r, buf->base, (size_t)n);
    if (r->dead)
        return;
    /* Full: stop reading until a read takes some (the helper then blocks). */
    if (r->len + FOLLOW_FRAME_MAX + sizeof(r->hdr) > FOLLOW_BUF_MAX && !r->paused) {
        r->paused = true;
        uv_read_stop(s);
    }
    wake(r);
}

static void on_err(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct reader *r = s->data;
    size_t have = strlen(r->err), keep;

    if (n <= 0) {
        uv_read_stop(s);
        return;
    }
    keep = sizeof(r->err) - 1 - have < (size_t)n ? sizeof(r->err) - 1 - have : (size_t)n;
    memcpy(r->err + have, buf->base, keep);
    r->err[have + keep] = '\0';
}

static void on_proc_exit(uv_process_t *p, int64_t status, int signum)
{
    struct reader *r = p->data;

    r->final = true;
    if ((status || signum) && r->err[0]) {
        r->err[strcspn(r->err, "\n")] = '\0';
        log_warnx("job %s: output not read: %s", r->job, r->err);
    }
    wake(r);
}

static void close_in(struct reader *r)
{
    if (!uv_is_closing((uv_handle_t *)&r->in))
        uv_close((uv_handle_t *)&r->in, reader_closed);
}

static struct reader *start(struct follow_pool *fp, const char *job, const char *user,
                            char *const argv[], bool ended, uint64_t offset)
{
    char off[24], *args[40];
    uv_stdio_container_t stdio[3];
    uv_process_options_t o = {0};
    struct reader *r;
    size_t n = 0;
    int rc;

    while (argv[n] && n < 38) {
        args[n] = argv[n];
        n++;
    }
    snprintf(off, sizeof(off), "%llu", (unsigned long long)offset);
    args[n++] = off;
    args[n] = NULL;
    if (!(r = calloc(1, sizeof(*r))))
        return NULL;
    r->fp = fp;
    snprintf(r->job, sizeof(r->job), "%s", job);
    snprintf(r->user, sizeof(r->user), "%s", user);
    r->base = offset;
    uv_pipe_init(fp->loop, &r->in, 0);
    uv_pipe_init(fp->loop, &r->out, 0);
    uv_pipe_init(fp->loop, &r->errp, 0);
    r->in.data = r->out.data = r->errp.data = r->proc.data = r;
    r->handles = 4;
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&r->in;
    stdio[1].flags = stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&r->out;
    stdio[2].data.stream = (uv_stream_t *)&r->errp;
    o.file = args[0];
    o.args = args;
    o.exit_cb = on_proc_exit;
    o.stdio = stdio;
    o.stdio_count = 3;
    if ((rc = uv_spawn(fp->loop, &r->proc, &o)) < 0) {
        log_warnx("job %s: cannot start its output reader: %s", job, uv_strerror(rc));
        r->dead = true;
        uv_close((uv_handle_t *)&r->proc, reader_closed);
        uv_close((uv_handle_t *)&r->in, reader_closed);
        uv_close((uv_handle_t *)&r->out, reader_closed);
        uv_close((uv_handle_t *)&r->errp, reader_closed);
        return NULL;
    }
    uv_read_start((uv_stream_t *)&r->out, on_alloc, on_frames);
    uv_read_start((uv_stream_t *)&r->errp, on_alloc, on_err);
    r->ended = ended;
    if (ended)
        close_in(r);
    r->next = fp->readers;
    fp->readers = r;
    fp->n++;
    return r;
}

static struct reader *find(struct follow_pool *fp, const char *job)
{
    for (struct reader *r = fp->readers; r; r = r->next)
        if (!strcmp(r->job, job))
            return r;
    return NULL;
}

static size_t of_user(const struct follow_pool *fp, const char *user)
{
    size_t n = 0;

    for (const struct reader *r = fp->readers; r; r = r->next)
        n += !strcmp(r->user, user);
    return n;
}

static void reply_empty(uint64_t offset, follow_reply_fn reply, void *arg)
{
    struct follow_piece p = {.offset = offset};

    reply(&p, arg);
}

void follow_read(struct follow_pool *fp, const char *job_id, const char *user,
                 char *const argv[], bool ended, uint64_t offset, uint32_t max,
                 follow_reply_fn reply, void *arg)
{
    struct reader *r = find(fp, job_id);
    struct waiting w = {.offset = offset, .max = max, .reply = reply, .arg = arg};

    /* A read elsewhere than where this reader is: start it again there. */
    if (r && (offset < r->base || offset > r->base + r->len ||
              (r->final && !r->ended && offset == r->base + r->len))) {
        kill_reader(r);
        r = NULL;
    }
    if (!r) {
        if (fp->n >= FOLLOW_MAX || of_user(fp, user) >= FOLLOW_MAX_PER_USER ||
            !(r = start(fp, job_id, user, argv, ended, offset))) {
            reply_empty(offset, reply, arg);
            return;
        }
    }
    if (ended && !r->ended) {
        r->ended = true;
        close_in(r);
    }
    r->used_ms = af_mono_ms();
    /* What was read before this offset is not asked again. */
    if (offset > r->base) {
        size_t drop = (size_t)(offset - r->base);
        memmove(r->buf, r->buf + drop, r->len - drop);
        r->len -= drop;
        r->base = offset;
        if (r->paused && r->len + FOLLOW_FRAME_MAX + sizeof(r->hdr) <= FOLLOW_BUF_MAX) {
            r->paused = false;
            uv_read_start((uv_stream_t *)&r->out, on_alloc, on_frames);
        }
    }
    if (ready(r, &w)) {
        answer(r, &w);
        return;
    }
    if (r->n_wait == FOLLOW_MAX_WAITING) {
        reply_empty(offset, reply, arg);
        return;
    }
    w.until_ms = af_mono_ms() + FOLLOW_WAIT_MS;
    r->wait[r->n_wait++] = w;
}

void follow_ended(struct follow_pool *fp, const char *job_id)
{
    struct reader *r = find(fp, job_id);

    if (r && !r->ended) {
        r->ended = true;
        close_in(r);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct follow_pool *fp = t->data;
    int64_t now = af_mono_ms();
    struct reader *r, *next;

    for (r = fp->readers; r; r = next) {
        size_t k = 0;
        next = r->next;
        for (size_t i = 0; i < r->n_wait; i++)
            if (now >= r->wait[i].until_ms)
                answer(r, &r->wait[i]);
            else
                r->wait[k++] = r->wait[i];
        r->n_wait = k;
        /* Idle, or done and read to its end: let it go. */
        if (!r->n_wait && (now - r->used_ms > FOLLOW_IDLE_MS ||
                           (r->final && !uv_is_active((uv_handle_t *)&r->proc) &&
                            now - r->used_ms > FOLLOW_WAIT_MS * 10)))
            kill_reader(r);
    }
}

struct follow_pool *follow_pool_create(uv_loop_t *loop)
{
    struct follow_pool *fp = calloc(1, sizeof(*fp));

    if (!fp)
        return NULL;
    fp->loop = loop;
    uv_timer_init(loop, &fp->tick);
    fp->tick.data = fp;
    uv_timer_start(&fp->tick, on_tick, TICK_MS, TICK_MS);
    uv_unref((uv_handle_t *)&fp->tick);
    return fp;
}

static void pool_closed(uv_handle_t *h)
{
    free(h->data);
}

void follow_pool_destroy(struct follow_pool *fp)
{
    if (!fp)
        return;
    fp->dying = true;
    while (fp->readers) {
        kill_reader(fp->readers); /* its parked reads are answered (emptily) */
    }
    uv_close((uv_handle_t *)&fp->tick, pool_closed);
}

size_t follow_count(const struct follow_pool *fp)
{
    return fp->n;
}
