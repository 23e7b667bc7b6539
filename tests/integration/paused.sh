#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A broker paused (SIGSTOP, as a VM is paused) while a site answers a hold
# in time judges the hold by the answer, not by the pause: five pauses of
# 3.5 s, each with a hold in flight whose answer arrives during it, leave
# every lease ACTIVE (before, 3 of 5 ended FAILED: the tick after the pause
# ran before the answer, still in libzmq's I/O thread, could be read). Nor
# is the site marked DOWN by a pause: its advertisements came too.
. "$(dirname "$0")/lib.sh"

FED_HOLD_TIMEOUT=2s start_federation mimer || exit 1
site_up() { [[ $(ctlj ops sites | jq -r '.[] | select(.id == "mimer") | .state') == UP ]]; }
broker=$(cat "$T/broker.pid")
agent=$(cat "$T/agents/mimer.pid")
for i in 1 2 3 4 5; do
    # The agent stopped first: the hold waits for it in its socket; the
    # broker stopped next; the agent answers while the broker is away.
    kill -STOP "$agent"
    ctlj alice submit --project llm-eu --gpus 1 --walltime 10m >"$T/lease$i.json" 2>"$T/lease$i.err" &
    client=$!
    wait_for "hold $i is asked of mimer" 10 "grep -q 'asked of mimer' '$T/logs/broker.log' && test \$(grep -c 'asked of mimer' '$T/logs/broker.log') -ge $i"
    kill -STOP "$broker"
    kill -CONT "$agent"
    sleep 3.5
    kill -CONT "$broker"
    wait "$client"
    # Not marked DOWN by the pause either: its advertisements were there.
    check "after pause $i mimer is UP" site_up
done
wait_for "every lease has left PENDING" 20 \
    'test "$(ctlj ops leases | jq "[.[] | select(.state == \"PENDING\")] | length")" -eq 0'
states=$(ctlj ops leases | jq -r '[.[].state] | sort | unique | join(",")')
check "after five pauses of 3.5 s with an answer in time, every lease is ACTIVE ($states)" \
    test "$states" = ACTIVE -a "$(ctlj ops leases | jq length)" -eq 5
check "the broker said its loop was away" grep -q "loop was away for" "$T/logs/broker.log"
