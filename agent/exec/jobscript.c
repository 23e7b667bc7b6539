/* SPDX-License-Identifier: Apache-2.0 */
/* jobscript: every value is single-quoted; files come as base64. */
#include "jobscript.h"

#include "aifed.pb-c.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* s in single quotes for sh. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    fputc('\'', f);
}

/* data as a file at name (quoted), decoded by base64 from a here-document
 * (base64 has no '_', so the delimiter never occurs in it). */
static int put_file(FILE *f, const char *name, const void *data, size_t len, bool exec)
{
    size_t b64 = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *text = malloc(b64);

    if (!text)
        return -1;
    sodium_bin2base64(text, b64, data, len, sodium_base64_VARIANT_ORIGINAL);
    if (strchr(name, '/')) {
        fputs("mkdir -p \"$(dirname ", f);
        put_quoted(f, name);
        fputs(")\" || exit 1\n", f);
    }
    fputs("base64 -d >", f);
    put_quoted(f, name);
    fputs(" <<'AIFED_EOF' || exit 1\n", f);
    for (size_t i = 0, n = strlen(text); i < n; i += 76)
        fprintf(f, "%.76s\n", text + i);
    fputs("AIFED_EOF\n", f);
    if (exec) {
        fputs("chmod +x ", f);
        put_quoted(f, name);
        fputc('\n', f);
    }
    free(text);
    return 0;
}

static void put_env(FILE *f, const char *name, const char *value)
{
    fprintf(f, "export %s=", name);
    put_quoted(f, value);
    fputc('\n', f);
}

char *jobscript_for(const Aifed__Job *job, const char *dir, const char *where)
{
    const Aifed__JobSpec *s = job->spec;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int bad = 0;

    if (!f)
        return NULL;
    fprintf(f,
            "#!/bin/sh\n# aifed job %s in lease %s, written by aifed-agent\numask 077\n",
            job->id, job->lease_id);
    fputs("d=", f);
    put_quoted(f, dir);
    fputs("\ncd \"$d\" || exit 1\nexec >>output.log 2>&1\n", f);
    fprintf(f, "echo \"aifed: job %s %s, as $(id -un)\"\n", job->id, where);
    for (size_t i = 0; i < s->n_env; i++)
        put_env(f, s->env[i]->name, s->env[i]->value);
    put_env(f, "AIFED_JOB_ID", job->id);
    put_env(f, "AIFED_LEASE_ID", job->lease_id);
    if (*s->image)
        put_env(f, "AIFED_IMAGE", s->image);
    for (size_t i = 0; i < s->n_files && !bad; i++)
        bad = put_file(f, s->files[i]->name, s->files[i]->data.data,
                       s->files[i]->data.len, s->files[i]->executable);
    if (!bad && *s->setup)
        bad = put_file(f, ".aifed-setup.sh", s->setup, strlen(s->setup), false);
    if (!bad)
        bad = put_file(f, ".aifed-run.sh", s->run, strlen(s->run), false);
    if (*s->setup)
        fputs("sh ./.aifed-setup.sh || { rc=$?; echo $rc >.aifed-exit; exit $rc; }\n", f);
    /* The image, when there is one: Apptainer, EuroHPC's container runtime. */
    fputs(*s->image ? "apptainer exec \"$AIFED_IMAGE\" sh ./.aifed-run.sh\n"
                    : "sh ./.aifed-run.sh\n",
          f);
    fputs("rc=$?\necho $rc >.aifed-exit\nexit $rc\n", f);
    if (fclose(f) != 0 || bad) {
        free(text);
        return NULL;
    }
    return text;
}
