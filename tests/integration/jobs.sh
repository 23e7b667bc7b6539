#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Jobs on the demo federation's static sites, where the agent runs them
# itself: aifedctl run leases, starts the job, follows it to its end and
# exits with its status; a job never outlives its lease (too long refused
# with the numbers, stopped when the lease is released); cancel; Ctrl-C
# detaches; logs -f gives the output byte for byte; only a project's members
# see its jobs.
. "$(dirname "$0")/lib.sh"

start_federation mimer pharos || exit 1
task() { # task NAME WALLTIME RUN: a task file in $T
    printf 'name: %s\nproject: llm-eu\nresources: {gpus: 1, walltime: %s}\nplacement: {country: SE}\nenv: {GREETING: hi}\nsetup: echo setting up\nrun: |\n  %s\n' \
        "$1" "$2" "$3" >"$T/$1.yaml"
    echo "$T/$1.yaml"
}
job_state() { ctlj alice job show "$1" | jq -r .state; }
refused() { ! "$@" >/dev/null 2>&1; }

# run: a lease of its own, the job, its status, the lease released.
out=$(ctl alice run "$(task hello 10m 'echo "$GREETING from $AIFED_JOB_ID"')" 2>&1); rc=$?
check "run exits with the job's status (0)" test "$rc" -eq 0
job=$(grep -o 'job-[0-9a-f]*' <<<"$out" | head -n 1)
lease=$(grep -o 'lease-[0-9a-f]*' <<<"$out" | head -n 1)
j=$(ctlj alice job show "$job")
check "the job COMPLETED with exit code 0" test "$(jq -r '.state + " " + (.exit_code | tostring)' <<<"$j")" = "COMPLETED 0"
check "it ran as the agent's local account, and says which" test "$(jq -r .local_account <<<"$j")" = "$(id -un)"
log=$(cat "$T/agents/mimer-jobs/$job/output.log")
check "its output says the demo executor ran it" grep -q "^aifed: the demo executor runs job $job as a local process" <<<"$log"
check "setup ran, then run with the task's env and its job id" \
    test "$(tail -n 2 <<<"$log" | tr '\n' '|')" = "setting up|hi from $job|"
check "the lease run made is released when the job ends" test "$(ctlj alice lease show "$lease" | jq -r .state)" = RELEASED
check "jobs --lease lists it" test "$(ctlj alice jobs --lease "$lease" | jq -r '.[0].id')" = "$job"

# A failing job: run exits with its code.
ctl alice run "$(task fails 10m 'exit 3')" >/dev/null 2>&1; rc=$?
check "a job that exits 3 makes run exit 3" test "$rc" -eq 3

# In a lease of the user's own: the time limit, cancel, the lease's end.
lease=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 30m --country SE | jq -r .id)
ctl alice run --lease "$lease" "$(task slow 2s 'sleep 30')" >/dev/null 2>&1; rc=$?
check "a job past its time limit is stopped: TIMEOUT, run exits 124" test "$rc" -eq 124
out=$(ctl alice run --lease "$lease" "$(task long 1h 'true')" 2>&1); rc=$?
check "a job longer than the lease is refused with the numbers and the renewal ($out)" \
    grep -Eq "^aifedctl: the lease ends in (29m[0-9]*s|30m|[0-9]+s), the job asks 1h: \`aifedctl lease renew $lease --by (30|31)m\`, or ask less$" <<<"$out"
check "... and exits 1" test "$rc" -eq 1
job=$(ctl alice run --detach --lease "$lease" "$(task nap 10m 'sleep 60')" 2>/dev/null)
wait_for "a detached job is RUNNING" 10 'test "$(job_state "$job")" = RUNNING'
check "another project's user does not see it" refused ctl bob job show "$job"
out=$("$RAWSEND" "$FED_AGENT_EP" "$T/keys/broker.pub" "$T/keys/pharos.key" job-status "$job")
check "another site cannot report on mimer's job ($out)" test "$out" = "3 job $job is not at your site"
check "... which is still RUNNING" test "$(job_state "$job")" = RUNNING
check "job cancel stops it" test "$(ctlj alice job cancel "$job" | jq -r .state)" = CANCELLED
check "... for good" test "$(job_state "$job")" = CANCELLED
lease2=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 30m --country SE | jq -r .id)
job=$(ctl alice run --detach --lease "$lease" "$(task nap2 10m 'sleep 60')" 2>/dev/null)
wait_for "another job is RUNNING" 10 'test "$(job_state "$job")" = RUNNING'
pid=$(ctlj alice job show "$job" | jq -r .site_job_id | sed 's/^pid-//')
# With the agent stopped, the broker's word: the job ends with its lease.
kill -STOP "$(cat "$T/agents/mimer.pid")"
ctl alice lease release "$lease" >/dev/null
check "releasing the lease ends its running job at once: CANCELLED" test "$(job_state "$job")" = CANCELLED
check "... saying why" test "$(ctlj alice job show "$job" | jq -r .reason)" = "the lease ended"
kill -CONT "$(cat "$T/agents/mimer.pid")"
wait_for "... and the site stops its process (pid $pid)" 15 '! kill -0 "$pid" 2>/dev/null'

# Output through aifedctl logs -f, byte for byte, while the job writes it.
job=$(ctl alice run --detach --lease "$lease2" "$(task chatty 10m 'for i in 1 2 3; do printf "line %s\\tx\\n" $i; sleep 1; done; head -c 100000 /dev/urandom | base64')" 2>/dev/null)
ctl alice logs -f "$job" >"$T/followed" 2>"$T/logs.err"; rc=$?
check "logs -f follows to the job's end" test "$rc:$(job_state "$job")" = "0:COMPLETED"
check "... byte for byte what the job wrote ($(wc -c <"$T/followed") bytes)" \
    cmp -s "$T/followed" "$T/agents/mimer-jobs/$job/output.log"
check "another project's user cannot read it" refused ctl bob logs "$job"

# Ctrl-C detaches; it never cancels.
lease=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 30m --country SE | jq -r .id)
out=$(timeout -s INT 3 "$FED_CTL_BIN" --broker "$FED_CLIENT_EP" --broker-key "$T/keys/broker.pub" \
    --key "$T/keys/alice.key" run --lease "$lease" "$(task ctrlc 10m 'sleep 30')" 2>&1); rc=$?
job=$(grep -o 'job-[0-9a-f]*' <<<"$out" | head -n 1)
check "Ctrl-C detaches and says how to follow" grep -q "detached: job $job goes on (nothing was cancelled)" <<<"$out"
check "... and the job goes on" test "$(job_state "$job")" = RUNNING
check "a job needs an ACTIVE lease" refused ctl alice run --lease lease-00000000000000000000000000 "$T/hello.yaml"
