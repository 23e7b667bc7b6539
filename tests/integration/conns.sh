#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Connections without a key cannot starve those with one: a peer holding
# more idle TCP connections than the broker has descriptors for does not
# keep a valid client from being answered. The broker sheds the oldest
# connections that have not finished a handshake, and says so.
. "$(dirname "$0")/lib.sh"

start_federation mimer || exit 1
# A descriptor limit an attack can reach from one test process.
prlimit --nofile=400 --pid "$(cat "$T/broker.pid")"

"$RAWSEND" "$FED_CLIENT_EP" - - idle 1000 "$T/stop-idle" >"$T/idle.out" 2>&1 &
idle=$!
wait_for "the attacker has its connections open" 60 'grep -q "^opened=" "$T/idle.out"'
# A user waits a few seconds, not for the attacker's connections to time out
# (ZMQ_HANDSHAKE_IVL, 10 s).
for i in 1 2 3 4 5; do
    check "a valid client is answered within 5 s during the attack ($i)" \
        test "$(fed_ctl "$T" alice --timeout 5s --json sites | jq length)" -eq 1
done
touch "$T/stop-idle"
wait "$idle"
opened=$(sed -n 's/^opened=//p' "$T/idle.out")
closed=$(sed -n 's/^closed=//p' "$T/idle.out")
check "more connections were opened than the broker has descriptors ($opened)" test "${opened:-0}" -gt 400
check "the broker closed those that never began a handshake ($closed)" test "${closed:-0}" -gt 0
# The broker says it, and renders its metrics, once a second (its sweep):
# a fast run ends before the first; wait for them, bounded.
wait_for "and said so" 10 'grep -q "had not finished a CURVE handshake" "$T/logs/broker.log"'
url=$(awk '$1 == "metrics" {print $2}' "$T/state/endpoints")
shed_total() { curl -sS "$url" | awk '$1 == "aifed_connections_shed_total" {print $2}'; }
wait_for "aifed_connections_shed_total counts them" 10 '[[ $(shed_total) -gt 0 ]]'
check "the site stayed UP throughout" test "$(ctlj ops sites | jq -r '.[0].state')" = UP
