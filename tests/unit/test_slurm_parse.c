/* SPDX-License-Identifier: Apache-2.0 */
/*
 * slurm_parse on answers shaped as Slurm 22.05 gives them (trimmed from a
 * real sinfo/squeue/scontrol of the test cluster, plus the cases a site has
 * that the test cluster does not: drained and down nodes, several GRES
 * types, unlimited partitions, maintenance reservations).
 */
#include "slurm_parse.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static const char sinfo_json[] =
    "{\"meta\": {\"plugin\": {\"type\": \"openapi/v0.0.38\"}}, \"errors\": [],"
    " \"nodes\": ["
    "  {\"name\": \"n1\", \"address\": \"10.1.0.1\", \"state\": \"mixed\", "
    "\"state_flags\": [],"
    "   \"partitions\": [\"gpu\", \"all\"], \"gres\": \"gpu:a100:4(S:0)\","
    "   \"gres_used\": \"gpu:a100:2(IDX:0-1)\", \"cpus\": 128, \"real_memory\": 515000},"
    "  {\"name\": \"n2\", \"state\": \"idle\", \"state_flags\": [\"DRAIN\"],"
    "   \"partitions\": [\"gpu\"], \"gres\": \"gpu:a100:4\","
    "   \"gres_used\": \"gpu:a100:0(IDX:N/A)\", \"cpus\": 128, \"real_memory\": 515000},"
    "  {\"name\": \"n3\", \"state\": \"idle\", \"state_flags\": [\"RESERVED\"],"
    "   \"partitions\": [\"gpu\"], \"gres\": \"gpu:a100:2,gpu:h100:2,nic:1\","
    "   \"gres_used\": \"gpu:a100:0(IDX:N/A),gpu:h100:1(IDX:2),nic:0\", \"cpus\": 64,"
    "   \"real_memory\": 256000},"
    "  {\"name\": \"c1\", \"state\": \"down\", \"state_flags\": [\"NOT_RESPONDING\"],"
    "   \"partitions\": [\"cpu\"], \"gres\": \"\", \"gres_used\": \"\", \"cpus\": 256,"
    "   \"real_memory\": 1000}"
    "]}";

/* A job's node list to the host a replica on it is reached at. */
static void first_host(void **state)
{
    char buf[64];

    (void)state;
    slurm_first_host("gpu[03-04],cpu1", buf, sizeof(buf));
    assert_string_equal(buf, "gpu03");
    slurm_first_host("n1,n2", buf, sizeof(buf));
    assert_string_equal(buf, "n1");
    slurm_first_host("x[7]", buf, sizeof(buf));
    assert_string_equal(buf, "x7");
    slurm_first_host("", buf, sizeof(buf));
    assert_string_equal(buf, "");
    slurm_first_host(NULL, buf, sizeof(buf));
    assert_string_equal(buf, "");
}

static void nodes_from_sinfo(void **state)
{
    struct slurm_node *n;
    size_t count;
    struct af_error err;

    (void)state;
    assert_int_equal(slurm_parse_nodes(sinfo_json, &n, &count, &err), 0);
    assert_int_equal(count, 4);
    assert_string_equal(n[0].name, "n1");
    assert_string_equal(n[0].addr, "10.1.0.1"); /* where a replica on it is reached */
    assert_string_equal(n[1].addr, "");
    assert_int_equal(n[0].n_partitions, 2);
    assert_string_equal(n[0].partitions[1], "all");
    assert_string_equal(n[0].gpu_type, "a100");
    assert_int_equal(n[0].gpus, 4);
    assert_int_equal(n[0].gpus_used, 2);
    assert_int_equal(n[0].cpus, 128);
    assert_int_equal(n[0].memory_mb, 515000);
    assert_true(n[0].usable);
    assert_false(n[0].reserved);
    /* drained: counted in the pool, never free */
    assert_false(n[1].usable);
    assert_string_equal(n[1].state, "idle+DRAIN");
    /* two GPU types on one node: both counted, the first type names it */
    assert_int_equal(n[2].gpus, 4);
    assert_int_equal(n[2].gpus_used, 1);
    assert_true(n[2].usable);
    assert_true(n[2].reserved);
    assert_false(n[3].usable);
    assert_int_equal(n[3].gpus, 0);
    free(n);
}

static void bad_json_says_why(void **state)
{
    struct slurm_node *n;
    size_t count;
    struct af_error err;

    (void)state;
    assert_int_equal(slurm_parse_nodes("sinfo: error: x", &n, &count, &err), -1);
    assert_non_null(strstr(err.text, "not JSON"));
    assert_int_equal(slurm_parse_nodes("{\"jobs\": []}", &n, &count, &err), -1);
    assert_string_equal(err.text, "no \"nodes\" array in the answer");
}

static void gres_strings(void **state)
{
    char type[16];

    (void)state;
    assert_int_equal(slurm_gres_gpus("gpu:a100:4(S:0-1)", type, sizeof(type)), 4);
    assert_string_equal(type, "a100");
    assert_int_equal(slurm_gres_gpus("gpu:8", type, sizeof(type)), 8);
    assert_string_equal(type, "");
    assert_int_equal(slurm_gres_gpus("gpu", NULL, 0), 1);
    assert_int_equal(slurm_gres_gpus("gpu:a100:2(IDX:0,2),gpu:a100:1(IDX:3)", NULL, 0),
                     3);
    assert_int_equal(slurm_gres_gpus("nic:2,gpus:4", NULL, 0), 0);
    assert_int_equal(slurm_gres_gpus("", NULL, 0), 0);
    assert_int_equal(slurm_gres_gpus("(null)", NULL, 0), 0);
}

static const char squeue_json[] =
    "{\"jobs\": ["
    " {\"job_id\": 1, \"job_state\": \"COMPLETED\", \"resv_name\": \"aifed-lease-1\","
    "  \"start_time\": 1000, \"end_time\": 1030, \"tres_per_node\": \"gres:gpu:2\","
    "  \"node_count\": 1, \"gres_detail\": []},"
    " {\"job_id\": 2, \"job_state\": \"RUNNING\", \"resv_name\": \"\", \"nodes\": "
    "\"gpu[03-04]\","
    "  \"start_time\": 1000, \"end_time\": 9000, \"tres_per_node\": \"gres:gpu:a100:4\","
    "  \"node_count\": 2},"
    " {\"job_id\": 3, \"job_state\": \"PENDING\", \"resv_name\": \"\", \"start_time\": 0,"
    "  \"end_time\": 0, \"tres_per_job\": \"gres:gpu:3\", \"tres_per_node\": \"\"},"
    " {\"job_id\": 4, \"job_state\": \"RUNNING\", \"gres_detail\": "
    "[\"gpu:h100:2(IDX:0-1)\","
    "  \"gpu:h100:1(IDX:3)\"]}"
    "]}";

static void jobs_from_squeue(void **state)
{
    struct slurm_job *j;
    size_t n;
    struct af_error err;

    (void)state;
    assert_int_equal(slurm_parse_jobs(squeue_json, &j, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_int_equal(j[0].id, 1);
    assert_string_equal(j[0].state, "COMPLETED");
    assert_string_equal(j[0].resv, "aifed-lease-1");
    assert_int_equal(j[0].start_s, 1000);
    assert_int_equal(j[0].end_s, 1030);
    assert_int_equal(j[0].gpus, 2);
    assert_int_equal(j[1].gpus, 8);          /* 4 per node on 2 nodes */
    assert_string_equal(j[1].node, "gpu03"); /* the first of its nodes */
    assert_int_equal(j[2].gpus, 3);          /* per job */
    assert_int_equal(j[3].gpus, 3);          /* from the allocation's detail */
    free(j);
}

static void partitions_from_scontrol(void **state)
{
    const char text[] =
        "PartitionName=gpu AllowGroups=ALL Default=YES MaxTime=2-00:00:00 Nodes=n[1-3] "
        "State=UP TotalCPUs=320\n"
        "PartitionName=debug MaxTime=UNLIMITED State=DOWN\n"
        "PartitionName=short MaxTime=30:00 State=UP\n";
    struct slurm_part *p;
    size_t n;
    struct af_error err;

    (void)state;
    assert_int_equal(slurm_parse_partitions(text, &p, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(p[0].name, "gpu");
    assert_int_equal(p[0].max_time_s, 172800);
    assert_true(p[0].up);
    assert_int_equal(p[1].max_time_s, 0);
    assert_false(p[1].up);
    assert_int_equal(p[2].max_time_s, 1800);
    free(p);
    assert_int_equal(
        slurm_parse_partitions("PartitionName=x MaxTime=soon\n", &p, &n, &err), -1);
    assert_string_equal(err.text, "partition x: MaxTime 'soon' not understood");
    free(p);
}

static int64_t local_ms(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s,
                    .tm_isdst = -1};
    return (int64_t)mktime(&tm) * 1000;
}

static void reservations_from_scontrol(void **state)
{
    const char text[] =
        "ReservationName=aifed-lease-1 StartTime=2026-11-24T21:45:43 "
        "EndTime=2026-11-24T22:45:43 Duration=01:00:00 Nodes=n1 NodeCnt=1 CoreCnt=128 "
        "Features=(null) PartitionName=gpu Flags= TRES=cpu=128 Users=alice01 "
        "Accounts=(null) State=ACTIVE\n"
        "ReservationName=maint StartTime=2026-12-01T06:00:00 EndTime=2026-12-01T18:00:00 "
        "Nodes=n[1-3] NodeCnt=3 PartitionName=(null) Flags=MAINT,SPEC_NODES "
        "State=INACTIVE\n";
    struct slurm_resv *r;
    size_t n;
    struct af_error err;

    (void)state;
    assert_int_equal(slurm_parse_reservations(text, &r, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].name, "aifed-lease-1");
    assert_string_equal(r[0].partition, "gpu");
    assert_int_equal(r[0].start_ms, local_ms(2026, 11, 24, 21, 45, 43));
    assert_int_equal(r[0].end_ms, local_ms(2026, 11, 24, 22, 45, 43));
    assert_int_equal(r[0].nodes, 1);
    assert_true(r[0].active);
    assert_false(r[0].maint);
    assert_string_equal(r[1].partition, "");
    assert_true(r[1].maint);
    assert_false(r[1].active);
    free(r);
    assert_int_equal(
        slurm_parse_reservations("No reservations in the system\n", &r, &n, &err), 0);
    assert_int_equal(n, 0);
    free(r);
}

static void durations(void **state)
{
    (void)state;
    assert_int_equal(slurm_duration_s("2-00:00:00"), 172800);
    assert_int_equal(slurm_duration_s("1-12"), 129600);
    assert_int_equal(slurm_duration_s("1:30:00"), 5400);
    assert_int_equal(slurm_duration_s("30:00"), 1800);
    assert_int_equal(slurm_duration_s("45"), 2700);
    assert_int_equal(slurm_duration_s("UNLIMITED"), 0);
    assert_int_equal(slurm_duration_s("INFINITE"), 0);
    assert_int_equal(slurm_duration_s("soon"), -1);
    assert_int_equal(slurm_duration_s("1:2:3:4"), -1);
}

static void test_only_start(void **state)
{
    int64_t ms;

    (void)state;
    assert_int_equal(
        slurm_test_only_start("sbatch: Job 4 to start at 2026-11-24T21:47:02 using 1 "
                              "processors on nodes n1 in partition gpu\n",
                              &ms),
        0);
    assert_int_equal(ms, local_ms(2026, 11, 24, 21, 47, 2));
    assert_int_equal(slurm_test_only_start("allocation failure: Requested node "
                                           "configuration is not available",
                                           &ms),
                     -1);
    assert_int_equal(slurm_test_only_start(NULL, &ms), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nodes_from_sinfo),
        cmocka_unit_test(first_host),
        cmocka_unit_test(bad_json_says_why),
        cmocka_unit_test(gres_strings),
        cmocka_unit_test(jobs_from_squeue),
        cmocka_unit_test(partitions_from_scontrol),
        cmocka_unit_test(reservations_from_scontrol),
        cmocka_unit_test(durations),
        cmocka_unit_test(test_only_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
