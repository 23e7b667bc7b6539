/* SPDX-License-Identifier: Apache-2.0 */
/* jobrelay, the loop's job path, against a fake executor behind the
 * executor interface: what reaches the executor, what the broker is told,
 * and reads of output answered now, later, or not at all. */
#include "executor.h"
#include "follow.h"
#include "jobrelay.h"

#include "aifed.pb-c.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- the fake executor ---- */

struct executor {
    int start_rc;
    const char *refusal;
    bool starting;
    int starts, cancels;
    char started_id[64], cancelled_id[64], cancel_reason[64];
    char model_path[128]; /* AIFED_MODEL_PATH as the executor saw it */
    bool read_later;      /* keep the reply for later */
    executor_log_fn kept;
    void *kept_arg;
};

static int fake_start(struct executor *x, const Aifed__Job *job, struct af_error *why)
{
    x->starts++;
    snprintf(x->started_id, sizeof(x->started_id), "%s", job->id);
    for (size_t i = 0; i < job->spec->n_env; i++)
        if (!strcmp(job->spec->env[i]->name, "AIFED_MODEL_PATH"))
            snprintf(x->model_path, sizeof(x->model_path), "%s",
                     job->spec->env[i]->value);
    if (x->start_rc < 0)
        return af_error_set(why, "%s", x->refusal);
    return 0;
}

static void fake_cancel(struct executor *x, const char *job_id, const char *reason)
{
    x->cancels++;
    snprintf(x->cancelled_id, sizeof(x->cancelled_id), "%s", job_id);
    snprintf(x->cancel_reason, sizeof(x->cancel_reason), "%s", reason);
}

static int fake_read_log(struct executor *x, const char *job_id, uint64_t offset,
                         uint32_t max, executor_log_fn reply, void *arg)
{
    static const uint8_t text[] = "hello\n";
    struct follow_piece p = {.data = text, .len = 6, .offset = offset, .size = 6};

    (void)max;
    if (strcmp(job_id, "job-known")) {
        errno = ENOENT;
        return -1;
    }
    if (x->read_later) {
        x->kept = reply;
        x->kept_arg = arg;
        return 0;
    }
    reply(&p, arg);
    return 0;
}

static bool fake_starting(const struct executor *x)
{
    return x->starting;
}

static const struct executor_ops fake_ops = {
    .name = "fake",
    .start = fake_start,
    .cancel = fake_cancel,
    .read_log = fake_read_log,
    .starting = fake_starting,
};

/* ---- the loop's side: what was sent ---- */

struct sent {
    int n, starting_calls;
    Aifed__Envelope *last; /* unpacked copy */
    const Aifed__Site *site;
};

static void on_send(void *arg, Aifed__Envelope *env)
{
    struct sent *s = arg;
    size_t len = aifed__envelope__get_packed_size(env);
    uint8_t *buf = malloc(len);

    assert_non_null(buf);
    aifed__envelope__pack(env, buf);
    if (s->last)
        aifed__envelope__free_unpacked(s->last, NULL);
    s->last = aifed__envelope__unpack(NULL, len, buf);
    free(buf);
    s->n++;
}

static const Aifed__Site *on_site(void *arg)
{
    return ((struct sent *)arg)->site;
}

static void on_starting(void *arg)
{
    ((struct sent *)arg)->starting_calls++;
}

struct fixture {
    struct sent sent;
    struct executor x;
    struct jobrelay *r;
    Aifed__Job job;
    Aifed__JobSpec spec;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct jobrelay_io io = {.send = on_send, .site = on_site, .starting = on_starting};

    io.arg = &f->sent;
    f->r = jobrelay_create("mimer", &io);
    jobrelay_set_executor(f->r, &fake_ops, &f->x);
    aifed__job__init(&f->job);
    aifed__job_spec__init(&f->spec);
    f->job.id = "job-1";
    f->job.site = "mimer";
    f->job.lease_id = "lease-1";
    f->job.spec = &f->spec;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    jobrelay_destroy(f->r);
    if (f->sent.last)
        aifed__envelope__free_unpacked(f->sent.last, NULL);
    free(f);
    return 0;
}

static const Aifed__JobStatus *status(const struct fixture *f)
{
    assert_non_null(f->sent.last);
    assert_int_equal(f->sent.last->body_case, AIFED__ENVELOPE__BODY_JOB_STATUS);
    return f->sent.last->job_status;
}

static void start_reaches_the_executor(void **state)
{
    struct fixture *f = *state;

    f->x.starting = true;
    jobrelay_start(f->r, &f->job);
    assert_int_equal(f->x.starts, 1);
    assert_string_equal(f->x.started_id, "job-1");
    assert_int_equal(f->sent.n, 0); /* the executor reports; the relay says nothing */
    assert_int_equal(f->sent.starting_calls, 1);
}

static void another_sites_job_is_failed_unseen(void **state)
{
    struct fixture *f = *state;

    f->job.site = "pharos";
    jobrelay_start(f->r, &f->job);
    assert_int_equal(f->x.starts, 0);
    assert_int_equal(status(f)->state, AIFED__JOB_STATE__JOB_FAILED);
    assert_string_equal(status(f)->reason, "job job-1 is for site pharos, this is mimer");
}

static void a_refusal_is_reported_failed_with_its_reason(void **state)
{
    struct fixture *f = *state;

    f->x.start_rc = -1;
    f->x.refusal = "no hold for lease lease-1 here";
    jobrelay_start(f->r, &f->job);
    assert_int_equal(status(f)->state, AIFED__JOB_STATE__JOB_FAILED);
    assert_string_equal(status(f)->job_id, "job-1");
    assert_string_equal(status(f)->reason, "no hold for lease lease-1 here");
}

static void a_site_without_executor_says_so(void **state)
{
    struct fixture *f = *state;

    jobrelay_set_executor(f->r, &fake_ops, NULL);
    jobrelay_start(f->r, &f->job);
    assert_int_equal(f->x.starts, 0);
    assert_non_null(strstr(status(f)->reason, "runs no jobs through aifed"));
}

static void the_catalogue_path_reaches_the_job(void **state)
{
    struct fixture *f = *state;
    Aifed__DataItem model = AIFED__DATA_ITEM__INIT, held = AIFED__DATA_ITEM__INIT;
    Aifed__DataItem *wants[] = {&model}, *has[] = {&held};
    Aifed__Site site = AIFED__SITE__INIT;

    model.kind = held.kind = AIFED__DATA_KIND__DATA_MODEL;
    model.name = held.name = "llama-3-8b";
    held.path = "/models/llama";
    site.data = has;
    site.n_data = 1;
    f->sent.site = &site;
    f->spec.data = wants;
    f->spec.n_data = 1;
    jobrelay_start(f->r, &f->job);
    assert_string_equal(f->x.model_path, "/models/llama");
}

static void reports_become_job_status_with_clean_text(void **state)
{
    struct fixture *f = *state;

    jobrelay_report("job-1", AIFED__JOB_STATE__JOB_RUNNING, 0, "running\033[2J now",
                    "4242", "alice01", f->r);
    assert_int_equal(status(f)->state, AIFED__JOB_STATE__JOB_RUNNING);
    assert_string_equal(status(f)->site_job_id, "4242");
    assert_string_equal(status(f)->local_account, "alice01");
    assert_null(strchr(status(f)->reason, '\033'));
}

static void stop_is_a_cancel(void **state)
{
    struct fixture *f = *state;

    jobrelay_stop(f->r, "job-1");
    assert_int_equal(f->x.cancels, 1);
    assert_string_equal(f->x.cancelled_id, "job-1");
    assert_string_equal(f->x.cancel_reason, "cancelled");
}

static const Aifed__JobLogChunk *chunk(const struct fixture *f)
{
    assert_non_null(f->sent.last);
    assert_int_equal(f->sent.last->body_case, AIFED__ENVELOPE__BODY_JOB_LOG_CHUNK);
    return f->sent.last->job_log_chunk;
}

static void a_read_answered_now(void **state)
{
    struct fixture *f = *state;
    Aifed__ReadJobLog rd = AIFED__READ_JOB_LOG__INIT;

    rd.relay_id = 7;
    rd.job_id = "job-known";
    rd.offset = 0;
    jobrelay_read_log(f->r, &rd);
    assert_int_equal(chunk(f)->relay_id, 7);
    assert_int_equal(chunk(f)->log->data.len, 6);
    assert_memory_equal(chunk(f)->log->data.data, "hello\n", 6);
    assert_false(chunk(f)->log->at_end);
}

static void a_read_answered_later_keeps_its_relay(void **state)
{
    struct fixture *f = *state;
    Aifed__ReadJobLog rd = AIFED__READ_JOB_LOG__INIT;
    struct follow_piece p = {
        .data = (const uint8_t *)"xy", .len = 2, .offset = 6, .size = 8, .at_end = true};

    f->x.read_later = true;
    rd.relay_id = 9;
    rd.job_id = "job-known";
    rd.offset = 6;
    jobrelay_read_log(f->r, &rd);
    assert_int_equal(f->sent.n, 0);
    f->x.kept(&p, f->x.kept_arg);
    assert_int_equal(chunk(f)->relay_id, 9);
    assert_int_equal(chunk(f)->log->offset, 6);
    assert_true(chunk(f)->log->at_end);
}

static void a_read_of_an_unknown_job_ends_the_follower(void **state)
{
    struct fixture *f = *state;
    Aifed__ReadJobLog rd = AIFED__READ_JOB_LOG__INIT;

    rd.relay_id = 3;
    rd.job_id = "job-nobody-knows";
    jobrelay_read_log(f->r, &rd);
    assert_int_equal(chunk(f)->relay_id, 3);
    assert_int_equal(chunk(f)->log->data.len, 0);
    assert_true(chunk(f)->log->at_end);
    rd.job_id = "../../etc/passwd"; /* not an id: never asked of the executor */
    jobrelay_read_log(f->r, &rd);
    assert_true(chunk(f)->log->at_end);
}

static void a_late_answer_after_stop_sending_is_not_sent(void **state)
{
    struct fixture *f = *state;
    Aifed__ReadJobLog rd = AIFED__READ_JOB_LOG__INIT;
    struct follow_piece p = {.offset = 0};

    f->x.read_later = true;
    rd.job_id = "job-known";
    jobrelay_read_log(f->r, &rd);
    jobrelay_stop_sending(f->r);
    f->x.kept(&p, f->x.kept_arg); /* let go of, unsent (and not leaked: ASan) */
    assert_int_equal(f->sent.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(start_reaches_the_executor, setup, teardown),
        cmocka_unit_test_setup_teardown(another_sites_job_is_failed_unseen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_refusal_is_reported_failed_with_its_reason,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_site_without_executor_says_so, setup, teardown),
        cmocka_unit_test_setup_teardown(the_catalogue_path_reaches_the_job, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(reports_become_job_status_with_clean_text, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stop_is_a_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(a_read_answered_now, setup, teardown),
        cmocka_unit_test_setup_teardown(a_read_answered_later_keeps_its_relay, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_read_of_an_unknown_job_ends_the_follower, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_late_answer_after_stop_sending_is_not_sent,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
