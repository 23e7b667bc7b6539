#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/bench/grant: durable grants through the real broker and agents over
# CURVE on loopback, against the bare limits measured in the same run, and a
# broker holding 1,000,000 leases. Prints figures; judges nothing.
#
# Usage: tests/bench/grant.sh BUILD_DIR SOURCE_DIR [SECONDS] [LEASES]
set -uo pipefail
export AIFED_BUILD=${1:?build dir}
SRC=${2:?source dir}
SECS=${3:-5}
LEASES=${4:-1000000}
. "$SRC/deploy/fedlib.sh"
. "$SRC/tests/bench/benchlib.sh"
BENCH=$AIFED_BUILD/tests/bench/bench_grant
# TMPDIR on a tmpfs shows what the broker does when syncs cost nothing.
T=$(mktemp -d "${TMPDIR:-/tmp}/aifed-bench.XXXXXX")
trap 'fed_stop "$T" 2>/dev/null; rm -rf "$T"' EXIT

echo "== bare limits (same machine, same run)"
bare=$("$BENCH" bare) || exit 1
echo "$bare"
echo_rate=$(sed -n 's/^bare CURVE DEALER\/ROUTER echo: \([0-9]*\) msgs.*/\1/p' <<<"$bare")

echo "== grants through aifed-broker and two aifed-agents"
bench_sim_federation "$T" || exit 1
load=$("$BENCH" load "$FED_CLIENT_EP" "$T/keys/broker.pub" "$T/keys/alice.key" "$SECS") || exit 1
echo "$load"
grants=$(sed -n 's/.*: \([0-9]*\) durable grants\/s.*/\1/p' <<<"$load")
# Both sides count one-way messages: a grant is four, an echo round trip two.
awk -v g="$grants" -v e="$echo_rate" 'BEGIN { if (e > 0) printf "ratio: %.3f durable grants/s per bare echo msg/s, one way (target >= 0.10; 0.25 is the ceiling: four messages a grant)\n", g / e }'
fed_stop "$T"

echo "== a broker holding $LEASES leases"
mv "$T/state" "$T/state.load"
mkdir -p "$T/state"
"$BENCH" fill "$T/state" "$LEASES" simA simB || exit 1
start=$(date +%s%N)
fed_start_broker "$T" || exit 1
until fed_ctl "$T" ops --timeout 2s sites >/dev/null 2>&1; do
    (( $(date +%s%N) - start > 60000000000 )) && { echo "broker did not answer in 60 s"; exit 1; }
done
echo "broker restart with $LEASES leases: $(( ($(date +%s%N) - start) / 1000000 )) ms until it answers"
"$BENCH" page "$FED_CLIENT_EP" "$T/keys/broker.pub" "$T/keys/ops.key" simA
pid=$(cat "$T/broker.pid")
grep -E '^Vm(RSS|HWM)' "/proc/$pid/status" | sed 's/^/broker memory: /'
du -sh "$T/state" | sed 's/^/store on disk: /'
