#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Advance reservations on the demo federation's static sites: --not-before
# books a hold that is SCHEDULED until its time, takes nothing until then,
# and becomes ACTIVE then (across a broker restart); the site's timeline
# refuses a hold that would overlap it past what the pool has, and takes one
# that ends before it starts; a job submitted into it waits and starts at
# its time; usage is charged from then; released before then, it used
# nothing.
. "$(dirname "$0")/lib.sh"

start_federation mimer || exit 1
# The broker restarts below on the same ports, for the agent.
sed -i "s|^agent_listen = .*|agent_listen = $FED_AGENT_EP|; s|^client_listen = .*|client_listen = $FED_CLIENT_EP|" "$T/broker.conf"
refused() { ! "$@" >/dev/null 2>&1; }
lease_field() { ctlj alice lease show "$1" | jq -r ".$2"; }
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# mimer's one pool has 64 GPUs free. A hold of 48 from 25 s on, for 10 m.
start=$(($(date +%s) + 25))
sub=(--project llm-eu --country SE --accelerator H100)
booked=$(ctlj alice submit "${sub[@]}" --gpus 48 --walltime 10m --not-before "$(iso "$start")")
b=$(jq -r .id <<<"$booked")
check "--not-before books a SCHEDULED lease" test "$(jq -r .state <<<"$booked")" = SCHEDULED
check "... that starts at that time, with its walltime from then" \
    test "$(jq -r '.activated + " " + .expires' <<<"$booked")" = "$(iso "$start") $(iso $((start + 600)))"
out=$(ctl alice lease show "$b")
check "lease show says when it starts, and that it is charged from then" \
    grep -q "^starts:      $(iso "$start") (booked with --not-before: ACTIVE then, and charged from then)" <<<"$out"
check "the site takes nothing for it yet (64 GPUs free)" test "$(site_free mimer)" = 64

# The site's timeline: 32 more for 10 m from now would make 80 of 64 once
# the booked hold starts; 16 fit beside it; 32 for 5 s end before it.
over=$(ctlj alice submit "${sub[@]}" --gpus 32 --walltime 10m)
check "a hold overlapping the booked one past what the pool has is refused" \
    test "$(jq -r .state <<<"$over")" = FAILED
check "... saying when the pool is busiest and what the holds take then" \
    grep -q "site mimer refused the hold: pool gpu has 16 GPUs free at its busiest between .* (holds take 48 of 64 then), the lease needs 32" \
    <<<"$(jq -r .reason <<<"$over")"
beside=$(ctlj alice submit "${sub[@]}" --gpus 16 --walltime 10m)
check "16 GPUs beside it are held (48 + 16 = 64)" test "$(jq -r .state <<<"$beside")" = ACTIVE
ctl alice lease release "$(jq -r .id <<<"$beside")" >/dev/null
before=$(ctlj alice submit "${sub[@]}" --gpus 32 --walltime 5s)
check "32 GPUs that end before it starts are held" test "$(jq -r .state <<<"$before")" = ACTIVE
ctl alice lease release "$(jq -r .id <<<"$before")" >/dev/null

# A job into the booked lease waits for it.
printf 'name: later\nproject: llm-eu\nresources: {gpus: 48, walltime: 5m}\nrun: date +%%s\n' >"$T/later.yaml"
job=$(ctl alice run --detach --lease "$b" "$T/later.yaml" 2>/dev/null)
j=$(ctlj alice job show "$job")
check "a job into a SCHEDULED lease is QUEUED, waiting for it to start" \
    test "$(jq -r '.state + ": " + .reason' <<<"$j")" = "QUEUED: waiting for its lease to start"
check "... with its own walltime as its limit (5m)" test "$(jq -r .time_limit_s <<<"$j")" = 300
check "... and it is not at the site yet" test ! -e "$T/agents/mimer-jobs/$job"

# Released before its time, a booked lease used nothing; the site lets go.
other=$(ctlj alice submit "${sub[@]}" --gpus 8 --walltime 1h --not-before 1h | jq -r .id)
check "a second booked lease is SCHEDULED" test "$(lease_field "$other" state)" = SCHEDULED
ctl alice lease release "$other" >/dev/null
check "released before its start it used no GPU-seconds" \
    test "$(ctlj alice lease show "$other" | jq -r '.state + " " + (.gpu_seconds_used | tostring)')" = "RELEASED 0"

# The start survives a broker restart: it is in the store, not in memory.
check "broker stops cleanly" fed_stop_pid "$T/broker.pid"
fed_start_broker "$T" || exit 1
fed_wait_up "$T" 1 && ok "the agent reconnected"
check "after a restart the booked lease is still SCHEDULED" test "$(lease_field "$b" state)" = SCHEDULED

wait_for "the booked lease becomes ACTIVE at its time" 60 \
    '[[ $(lease_field "$b" state) = ACTIVE ]]'
check "... not before its time" test "$(date +%s)" -ge "$start"
wait_for "its job runs then and completes" 60 '[[ $(ctlj alice job show "$job" | jq -r .state) = COMPLETED ]]'
ran=$(ctl alice logs "$job" | tail -n 1)
check "... and it started at the lease's start, not before" test "$ran" -ge "$start"
wait_for "the site takes the hold's 48 GPUs from then (16 free)" 20 '[[ $(site_free mimer) = 16 ]]'
ctl alice lease release "$b" >/dev/null
used=$(lease_field "$b" gpu_seconds_used)
held=$(($(date +%s) - start + 1))
check "its usage runs from its start (48 GPUs x ${held}s at most), not from the booking" \
    test "$used" -le $((48 * held))

# run --not-before: the lease it makes waits, then the job runs and run
# exits with its status.
printf 'name: soon\nproject: llm-eu\nresources: {gpus: 8, walltime: 5m}\nplacement: {country: SE}\nrun: echo ran at $(date +%%s)\n' >"$T/soon.yaml"
soon=$(($(date +%s) + 6))
out=$(ctl alice run --not-before "$(iso "$soon")" "$T/soon.yaml" 2>&1); rc=$?
check "run --not-before exits with the job's status (0)" test "$rc" -eq 0
check "... saying the lease is SCHEDULED and the job waits for it" \
    grep -q "SCHEDULED at mimer/gpu: the hold starts at $(iso "$soon") (in [0-9]*s); the job waits for it" <<<"$out"
check "... and the job ran at that time" \
    test "$(grep -o 'ran at [0-9]*' <<<"$out" | cut -d' ' -f3)" -ge "$soon"
check "no lease is left open" test "$(ctlj ops leases --state scheduled | jq length):$(ctlj ops leases --state active | jq length)" = "0:0"
