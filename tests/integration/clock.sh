#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A step of the wall clock changes no lease and no site: the broker runs
# under libfaketime (its wall clock only; the monotonic clock is left
# alone), and its clock is moved two hours forward, then four back. A lease
# granted before runs on, no site goes DOWN, and the broker logs each step
# and counts it.
. "$(dirname "$0")/lib.sh"

lib=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n 1)
[[ -n $lib ]] || { echo "1..0 # SKIP libfaketime is not installed"; exit 77; }
fed_init "$T" mimer pharos || exit 1
echo "+0" >"$T/faketime"
cat >"$T/broker-faketime" <<WRAP
#!/bin/sh
export LD_PRELOAD=$lib FAKETIME_TIMESTAMP_FILE=$T/faketime FAKETIME_NO_CACHE=1
export FAKETIME_DONT_FAKE_MONOTONIC=1
# The sanitizer build wants its runtime first; libfaketime comes before it.
export ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0"
exec "$FED_BROKER_BIN" "\$@"
WRAP
chmod +x "$T/broker-faketime"
FED_BROKER_BIN=$T/broker-faketime
fed_start_broker "$T" || exit 1
for s in mimer pharos; do fed_start_agent "$T" "$s" "$SITES_DIR/$s.site"; done
fed_wait_up "$T" 2 || exit 1
lease=$(ctlj alice submit --project llm-eu --gpus 4 --country SE --walltime 1h | jq -r .id)
check "a 1-hour lease is ACTIVE" test "$(ctlj alice lease show "$lease" | jq -r .state)" = ACTIVE
expires=$(ctlj alice lease show "$lease" | jq -r .expires)
metric() { curl -s "$(awk '$1 == "metrics" {print $2}' "$T/state/endpoints")" |
    awk -v m="$1" '$1 == m {print $2}'; }

echo "+2h" >"$T/faketime"
wait_for "the broker sees the step forward" 10 \
    'grep -q "the wall clock stepped by +7[0-9]\{6\} ms" "$T/logs/broker.log"'
wait_for "and counts it" 5 'test "$(metric aifed_clock_steps_total)" = 1'
check "the lease runs on" test "$(ctlj alice lease show "$lease" | jq -r .state)" = ACTIVE
check "with the same end" test "$(ctlj alice lease show "$lease" | jq -r .expires)" = "$expires"
check "no site is DOWN" test "$(ctlj ops sites | jq '[.[] | select(.state != "UP")] | length')" -eq 0

echo "-2h" >"$T/faketime"
wait_for "the broker sees the step back" 10 \
    'grep -q "the wall clock stepped by -14[0-9]\{6\} ms" "$T/logs/broker.log"'
check "the lease still runs, to the same end" \
    test "$(ctlj alice lease show "$lease" | jq -r '.state + " " + .expires')" = "ACTIVE $expires"
check "no site is DOWN" test "$(ctlj ops sites | jq '[.[] | select(.state != "UP")] | length')" -eq 0
check "a new lease is granted" \
    test "$(ctlj alice submit --project llm-eu --gpus 1 --country GR | jq -r .state)" = ACTIVE
