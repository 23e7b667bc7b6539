/* SPDX-License-Identifier: Apache-2.0 */
/*
 * follow: a job's output, read by one long-lived reader per job that runs
 * as the job's user (the job helper's `follow`, through sudo) and streams
 * into the loop over a pipe: no file a user controls is opened by the agent
 * or on its loop, and a follower costs one process start, not two per
 * piece. A read at the offset the reader has reached is answered from what
 * it has sent (a bounded buffer; the reader is paused while it is full), or
 * when more arrives, within FOLLOW_WAIT_MS; a read elsewhere (a `logs
 * --tail`, a second reader) starts the reader again at that offset.
 *
 * Bounds: FOLLOW_MAX readers at once, FOLLOW_MAX_PER_USER per account,
 * FOLLOW_BUF_MAX bytes buffered each, FOLLOW_MAX_WAITING reads parked each;
 * a reader nobody asked anything of for FOLLOW_IDLE_MS is stopped. A read
 * past a bound is answered at once with nothing (the client asks again).
 */
#ifndef FOLLOW_H
#define FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define FOLLOW_MAX          64
#define FOLLOW_MAX_PER_USER 8
#define FOLLOW_BUF_MAX      (1024 * 1024)
#define FOLLOW_MAX_WAITING  4
#define FOLLOW_WAIT_MS      300
#define FOLLOW_IDLE_MS      60000

struct follow_pool;

/* A piece of output: data (borrowed for the callback) from offset; size is
 * the file's size as last seen; at_end: the job has ended and this reaches
 * the end of its output. */
struct follow_piece {
    const uint8_t *data;
    size_t len;
    uint64_t offset;
    uint64_t size;
    bool at_end;
};
typedef void (*follow_reply_fn)(const struct follow_piece *p, void *arg);

struct follow_pool *follow_pool_create(uv_loop_t *loop);
/* Readers are killed; the loop must run once more to close their handles. */
void follow_pool_destroy(struct follow_pool *fp);

/* Read up to max bytes of job_id's output from offset; reply is called
 * exactly once (maybe before this returns). argv (absolute argv[0]; copied)
 * starts the reader as user; the offset is appended to it. ended: the job
 * has ended (the reader reads to the file's end and stops). */
void follow_read(struct follow_pool *fp, const char *job_id, const char *user,
                 char *const argv[], bool ended, uint64_t offset, uint32_t max,
                 follow_reply_fn reply, void *arg);

/* The job has ended: its reader, if any, reads to the end and stops. */
void follow_ended(struct follow_pool *fp, const char *job_id);

/* Readers running now. */
size_t follow_count(const struct follow_pool *fp);

#endif
