/* SPDX-License-Identifier: Apache-2.0 */
#include "job.h"

#include "aifed.pb-c.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bytes of run's first line a list shows. */
#define JOB_RUN_SHOWN 72

bool job_ended(int state)
{
    return state >= AIFED__JOB_STATE__JOB_COMPLETED &&
           state <= AIFED__JOB_STATE__JOB_TIMEOUT;
}

const char *job_state_name(int state)
{
    static const char *const names[] = {"NEW",    "QUEUED",    "RUNNING", "COMPLETED",
                                        "FAILED", "CANCELLED", "TIMEOUT"};

    return state >= 0 && state <= AIFED__JOB_STATE__JOB_TIMEOUT ? names[state] : "?";
}

int job_state_parse(const char *name)
{
    for (int i = AIFED__JOB_STATE__JOB_QUEUED; i <= AIFED__JOB_STATE__JOB_TIMEOUT; i++)
        if (!strcasecmp(name, job_state_name(i)))
            return i;
    return 0;
}

void job_finish(Aifed__Job *j, int state, const char *reason, int64_t now_ms)
{
    int64_t ran_ms =
        j->started_ms > 0 && now_ms > j->started_ms ? now_ms - j->started_ms : 0;

    /* A job that completed, or ran out its time, ran, even when its start
     * was never heard (a short one's RUNNING and end come in one report):
     * it is charged at least its first second, as one that was seen. */
    if (!ran_ms && (state == AIFED__JOB_STATE__JOB_COMPLETED ||
                    state == AIFED__JOB_STATE__JOB_TIMEOUT))
        ran_ms = 1;

    j->state = state;
    j->reason = (char *)reason;
    j->ended_ms = now_ms;
    j->gpu_seconds = (uint64_t)j->gpus * (((uint64_t)ran_ms + 999) / 1000);
}

void job_strip(Aifed__JobSpec *spec)
{
    /* The strings stay allocated (free_unpacked frees them); the repeated
     * fields' arrays go with free_unpacked, their entries here. */
    if (!*spec->run)
        return;
    spec->run[strcspn(spec->run, "\n")] = '\0';
    if (strlen(spec->run) > JOB_RUN_SHOWN)
        spec->run[JOB_RUN_SHOWN] = '\0';
    if (!*spec->run)
        snprintf(spec->run, 2, "%s", "-"); /* run is never empty: the wire requires it */
    if (*spec->setup) /* an empty one may be protobuf-c's shared constant */
        spec->setup[0] = '\0';
    for (size_t i = 0; i < spec->n_env; i++)
        aifed__env_var__free_unpacked(spec->env[i], NULL);
    spec->n_env = 0;
    for (size_t i = 0; i < spec->n_files; i++)
        aifed__job_file__free_unpacked(spec->files[i], NULL);
    spec->n_files = 0;
}

bool job_report_changes(const Aifed__Job *j, const Aifed__JobStatus *st)
{
    int state = st->state;

    if (job_ended(j->state) ||
        (state == AIFED__JOB_STATE__JOB_QUEUED && (int)j->state != state))
        return false;
    return state != (int)j->state || strcmp(st->site_job_id, j->site_job_id) ||
           strcmp(st->local_account, j->local_account) || strcmp(st->node, j->node) ||
           st->port != j->port || st->ready != j->ready;
}

/* An unpacked string or bytes field made empty, its memory freed. */
static void drop_string(char **str)
{
    if (*str && *str != protobuf_c_empty_string)
        free(*str);
    *str = (char *)protobuf_c_empty_string;
}

static void digest_part(crypto_hash_sha256_state *h, const char *name, const void *data,
                        size_t len)
{
    static const unsigned char nul;

    crypto_hash_sha256_update(h, (const unsigned char *)name, strlen(name));
    crypto_hash_sha256_update(h, &nul, 1);
    if (len)
        crypto_hash_sha256_update(h, data, len);
}

void job_drop_contents(Aifed__JobSpec *spec)
{
    crypto_hash_sha256_state h;
    unsigned char sum[crypto_hash_sha256_BYTES];
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    static const unsigned char nul;

    if (!spec || *spec->dropped_sha256)
        return;
    crypto_hash_sha256_init(&h);
    for (size_t i = 0; i < spec->n_env; i++) {
        digest_part(&h, spec->env[i]->name, spec->env[i]->value,
                    strlen(spec->env[i]->value));
        crypto_hash_sha256_update(&h, &nul, 1);
        drop_string(&spec->env[i]->value);
    }
    for (size_t i = 0; i < spec->n_files; i++) {
        Aifed__JobFile *f = spec->files[i];

        digest_part(&h, f->name, f->data.data, f->data.len);
        f->size = f->data.len;
        free(f->data.data);
        f->data.data = NULL;
        f->data.len = 0;
    }
    crypto_hash_sha256_final(&h, sum);
    sodium_bin2hex(hex, sizeof(hex), sum, sizeof(sum));
    drop_string(&spec->dropped_sha256);
    spec->dropped_sha256 = strdup(hex);
    if (!spec->dropped_sha256) /* out of memory: the digest is lost, not the drop */
        spec->dropped_sha256 = (char *)protobuf_c_empty_string;
}
