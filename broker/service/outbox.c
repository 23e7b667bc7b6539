/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbox: a growing array of packed messages, sent in order after the
 * commit. Errors are never queued (they promise nothing), so a failed
 * commit can answer each queued client reply with one straight away.
 */
#include "outbox.h"
#include "af_log.h"
#include "af_time.h"
#include "af_wire.h"
#include "bmetrics.h"
#include "store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/statvfs.h>
#include <stdlib.h>
#include <string.h>

/* How often a full store's log line repeats the advice. */
#define FULL_ADVICE_MS 60000
/* Below this much free space, a failed write is put down to a full disk:
 * a commit writes at most a few MiB. */
#define DISK_LOW (16LL * 1024 * 1024)

struct outmsg {
    struct outbox_peer to;
    void *buf;
    size_t len;
};

struct outbox {
    struct store *store;
    struct bmetrics *metrics;
    outbox_send_fn send;
    void *arg;
    struct outmsg *v;
    size_t n, cap;
    bool failed;          /* a write failed: the batch must not commit */
    int64_t full_told_ms; /* when the log last said how to grow a full store */
    uint64_t map_size_mb;
    char conf_path[256];
    char state_dir[256]; /* where the store is, to tell a full disk */
};

struct outbox *outbox_create(struct store *st, struct bmetrics *metrics,
                             outbox_send_fn send, void *arg)
{
    struct outbox *ob = calloc(1, sizeof(*ob));

    if (!ob)
        return NULL;
    ob->store = st;
    ob->metrics = metrics;
    ob->send = send;
    ob->arg = arg;
    return ob;
}

void outbox_destroy(struct outbox *ob)
{
    if (!ob)
        return;
    for (size_t i = 0; i < ob->n; i++)
        free(ob->v[i].buf);
    free(ob->v);
    free(ob);
}

void outbox_set_store_limit(struct outbox *ob, uint64_t map_size_mb,
                            const char *conf_path, const char *state_dir)
{
    ob->map_size_mb = map_size_mb;
    snprintf(ob->conf_path, sizeof(ob->conf_path), "%s", conf_path);
    snprintf(ob->state_dir, sizeof(ob->state_dir), "%s", state_dir ? state_dir : "");
}

static void send_now(struct outbox *ob, const struct outbox_peer *to, const void *buf,
                     size_t len)
{
    ob->send(to->side, to->rid, to->rid_len, buf, len, ob->arg);
}

int outbox_push(struct outbox *ob, const struct outbox_peer *to, Aifed__Envelope *env,
                bool durable)
{
    struct outmsg *o;

    env->version = AF_WIRE_VERSION;
    if (!durable) {
        void *buf;
        size_t len;

        if (af_wire_pack(env, &buf, &len) < 0)
            return -1;
        send_now(ob, to, buf, len);
        free(buf);
        return 0;
    }
    if (ob->n == ob->cap) {
        size_t cap = ob->cap ? ob->cap * 2 : 64;
        struct outmsg *grown = realloc(ob->v, cap * sizeof(*grown));

        if (!grown)
            return -1;
        ob->v = grown;
        ob->cap = cap;
    }
    o = &ob->v[ob->n];
    if (af_wire_pack(env, &o->buf, &o->len) < 0)
        return -1;
    o->to = *to;
    ob->n++;
    return 0;
}

static void push_error(struct outbox *ob, const struct outbox_peer *to,
                       Aifed__ErrorCode code, const char *text, bool durable,
                       uint32_t retry_after_ms)
{
    Aifed__Envelope env = AIFED__ENVELOPE__INIT;
    Aifed__Error e = AIFED__ERROR__INIT;

    bmetrics_error(ob->metrics, code);
    e.code = code;
    e.message = (char *)text;
    e.retry_after_ms = retry_after_ms;
    af_wire_set_body(&env, AIFED__ENVELOPE__BODY_ERROR, &e);
    env.corr_id = to->corr_id;
    if (outbox_push(ob, to, &env, durable) < 0)
        log_err("error reply dropped");
}

void outbox_error(struct outbox *ob, const struct outbox_peer *to, Aifed__ErrorCode code,
                  const char *text)
{
    /* An error promises nothing: it may leave even if the commit fails. */
    push_error(ob, to, code, text, false, 0);
}

void outbox_error_retry(struct outbox *ob, const struct outbox_peer *to,
                        Aifed__ErrorCode code, const char *text, uint32_t retry_after_ms)
{
    push_error(ob, to, code, text, false, retry_after_ms);
}

void outbox_error_stored(struct outbox *ob, const struct outbox_peer *to,
                         Aifed__ErrorCode code, const char *text)
{
    push_error(ob, to, code, text, true, 0);
}

/* Free bytes on the disk holding the store, or -1 when unknown. */
static int64_t disk_free(const struct outbox *ob)
{
    struct statvfs v;

    if (!*ob->state_dir || statvfs(ob->state_dir, &v) < 0)
        return -1;
    return (int64_t)v.f_bavail * (int64_t)v.f_frsize;
}

/* Whether to say how to get out of a full store or disk now: once a
 * minute, and a short line between. */
static bool advise(struct outbox *ob)
{
    int64_t now = af_mono_ms();

    if (now - ob->full_told_ms < FULL_ADVICE_MS)
        return false;
    ob->full_told_ms = now;
    return true;
}

void outbox_store_failed(struct outbox *ob, const char *fmt, ...)
{
    int why = errno;
    int64_t left;
    char what[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    ob->failed = true;
    /* LMDB reports a short write as EIO: on a disk with no room left, that
     * is a full disk, not a dying one. */
    if ((why == EIO || why == ENOSPC) && (left = disk_free(ob)) >= 0 && left < DISK_LOW) {
        if (!advise(ob))
            log_errx("%s: the disk holding the store is full", what);
        else
            log_errx("%s: the disk holding the store (%s) is full (%lld KiB free), so "
                     "every change is refused (reads still work) until space is freed "
                     "there; nothing stored is lost",
                     what, ob->state_dir, (long long)(left / 1024));
    } else if (why != EDQUOT) {
        log_errx("%s: %s", what, strerror(why));
    } else if (!advise(ob)) {
        log_errx("%s: the store is full", what);
    } else {
        log_errx("%s: the store is full: it has reached map_size_mb (%llu MiB), so every "
                 "change is refused (reads still work) until map_size_mb is raised in %s "
                 "and the broker restarted; nothing stored is lost",
                 what, (unsigned long long)ob->map_size_mb, ob->conf_path);
    }
    errno = why;
}

/* The batch is lost: queued client replies become errors (sent now), and
 * messages to sites are dropped. */
static void answer_failed(struct outbox *ob)
{
    for (size_t i = 0; i < ob->n; i++) {
        free(ob->v[i].buf);
        if (ob->v[i].to.side == OUTBOX_CLIENT)
            outbox_error(ob, &ob->v[i].to, AIFED__ERROR_CODE__ERROR_INTERNAL,
                         "the broker could not store this change; nothing was changed");
    }
    ob->n = 0;
}

int outbox_flush(struct outbox *ob, bool force)
{
    int rc = 0;

    if (!force && !ob->failed && ob->n == 0)
        return 0;
    bmetrics_commit(ob->metrics, ob->n);
    if (ob->failed || store_commit(ob->store) < 0) {
        if (!ob->failed)
            outbox_store_failed(ob, "commit failed; answering the batch with errors");
        store_abort(ob->store);
        bmetrics_commit_failed(ob->metrics);
        ob->failed = false;
        answer_failed(ob);
        rc = -1;
    }
    for (size_t i = 0; i < ob->n; i++) {
        send_now(ob, &ob->v[i].to, ob->v[i].buf, ob->v[i].len);
        free(ob->v[i].buf);
    }
    ob->n = 0;
    return rc;
}

size_t outbox_queued(const struct outbox *ob)
{
    return ob->n;
}
