/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aproc: commands the agent runs without waiting for them. Each is started
 * with uv_spawn and reaped by the loop; at most max_running run at once and
 * at most max_queued wait for a place (past that a start fails at once,
 * EAGAIN). Each is given up on when its time limit passes: its place is
 * freed and its process group killed where the agent may (one run as a
 * user through sudo is not its to kill, and is reaped when it ends). Its
 * stdout (up to max_out bytes) and the start of its stderr come back
 * through a callback. A slow slurmctld thus delays the commands that need
 * it, never the loop, and so never an advertisement.
 */
#ifndef APROC_H
#define APROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct aproc_pool;

/* How a command ended. status: its exit code (0..255), or -1 when it could
 * not start, was killed, or timed out (err says which). out and err are
 * NUL-terminated and borrowed for the callback's duration. */
struct aproc_result {
    bool stopping; /* the pool is being destroyed: only let go of arg */
    int status;
    const char *out;
    size_t out_len;
    const char *err;
};
typedef void (*aproc_done_fn)(const struct aproc_result *r, void *arg);

struct aproc_pool *aproc_pool_create(uv_loop_t *loop, unsigned max_running,
                                     unsigned max_queued);
/* Commands still running are killed, and every callback is called with
 * stopping set, so that each lets go of what it holds. The loop must run
 * once more to close their handles. */
void aproc_pool_destroy(struct aproc_pool *p);

/* Run argv (argv[0] an absolute path; copied) with in (copied; NULL: no
 * input) on its stdin. done is called exactly once unless this fails:
 * 0, or -1 with errno (EAGAIN: the queue is full; ENOMEM). */
int aproc_run(struct aproc_pool *p, char *const argv[], const void *in, size_t in_len,
              uint64_t timeout_ms, size_t max_out, aproc_done_fn done, void *arg);
/* The same with env ("NAME=VALUE", NULL-terminated; copied) added to the
 * agent's environment, ahead of it. */
int aproc_run_env(struct aproc_pool *p, char *const argv[], char *const env[],
                  const void *in, size_t in_len, uint64_t timeout_ms, size_t max_out,
                  aproc_done_fn done, void *arg);

/* Commands running, and waiting for a place. */
unsigned aproc_running(const struct aproc_pool *p);
unsigned aproc_queued(const struct aproc_pool *p);

#endif
