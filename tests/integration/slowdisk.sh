#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A broker held up by a slow disk reads what arrived in time before it judges
# a timeout. strace makes every fdatasync (one a commit: LMDB writes its meta
# page with O_DSYNC) take 6 s. Choreography, each step waited for:
#  1. pharos and mimer are stopped; lease A's hold is asked of pharos and
#     lease B's of mimer (t0);
#  2. the tick commits both PENDING leases: 6 s in the tick; pharos is let go
#     meanwhile, so its answer for A is read right after;
#  3. A becomes ACTIVE and its commit holds the loop 6 s more, in the agent
#     socket's read; mimer is let go meanwhile and answers for B by about
#     t0 + 7.5, inside the 10 s hold timeout;
#  4. when that commit returns, libuv runs the due tick before it reads the
#     socket again (t0 + 12 or later).
# The answer for B waiting in the socket must be read before the hold is
# judged overdue, and B be ACTIVE at mimer, not moved to pharos.
. "$(dirname "$0")/lib.sh"

command -v strace >/dev/null || { echo "1..0 # SKIP strace is not installed"; exit 77; }
FED_HOLD_TIMEOUT=10s FED_DOWN_AFTER=120 start_federation mimer pharos || exit 1
broker=$(cat "$T/broker.pid")
mimer=$(cat "$T/agents/mimer.pid")
pharos=$(cat "$T/agents/pharos.pid")
strace -f -p "$broker" -e trace=fdatasync -e inject=fdatasync:delay_enter=6000000 \
    -o "$T/strace.log" 2>"$T/strace.err" &
tracer=$!
wait_for "strace is attached to the broker" 10 'grep -q "attached" "$T/strace.err"' ||
    { cat "$T/strace.err"; echo "1..0 # SKIP strace cannot attach here"; exit 77; }
in_sync() { grep -q "^State:.*tracing stop" "/proc/$broker/status"; }
submit() { fed_ctl "$T" alice --timeout 90s --json submit --project llm-eu --gpus 4 "$@"; }
kill -STOP "$mimer" "$pharos"
submit --country GR >"$T/a.json" 2>"$T/a.err" &
a=$!
submit --country SE >"$T/b.json" 2>"$T/b.err" &
b=$!
wait_for "both holds are asked" 10 \
    'test "$(grep -c "GPUs asked of \(mimer\|pharos\)/gpu" "$T/logs/broker.log")" -eq 2'
wait_for "the tick's commit is held in a sync" 10 in_sync
kill -CONT "$pharos"
wait_for "pharos's answer makes A ACTIVE" 20 'grep -q "ACTIVE at pharos" "$T/logs/broker.log"'
kill -CONT "$mimer"
wait_for "mimer holds B" 10 'grep -q "holding lease" "$T/logs/agent-mimer.log"'
wait "$a"
check "A's submit ends (exit 0)" test $? -eq 0
wait "$b"
check "B's submit ends (exit 0)" test $? -eq 0
check "B is ACTIVE at mimer, which answered in time" \
    test "$(jq -r '.state + " " + .site' "$T/b.json")" = "ACTIVE mimer"
check "B was never moved" test "$(jq -r '.tried_sites | length' "$T/b.json")" -eq 0
kill "$tracer" 2>/dev/null
wait "$tracer" 2>/dev/null
