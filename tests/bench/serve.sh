#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/bench/serve: a served model reached through aifed-gateway, the
# broker and an agent, against the same replica reached directly over
# loopback in the same run: added latency (p50, p99), requests a second with
# 1 KiB bodies, the delay from the replica writing a streamed chunk to the
# client reading it, and failover from an agent's kill -9 to the first
# answer from the other site. The replica is tests/integration/replica/
# server.py (Python's threaded HTTP server, a stand-in for vLLM): its own
# rate bounds both. Prints figures; judges nothing.
#
# Usage: tests/bench/serve.sh BUILD_DIR SOURCE_DIR [SECONDS]
set -uo pipefail
export AIFED_BUILD=${1:?build dir}
SRC=${2:?source dir}
SECS=${3:-10}
export FED_GATEWAYS=gw1 FED_INTERVAL=500ms
. "$SRC/deploy/fedlib.sh"
CLIENT=$SRC/tests/bench/serve.mjs
T=$(mktemp -d "${TMPDIR:-/tmp}/aifed-bench.XXXXXX")
trap 'fed_stop "$T" 2>/dev/null; rm -rf "$T"' EXIT
command -v node >/dev/null || { echo "no Node.js: nothing measured"; exit 0; }

fed_init "$T" mimer pharos && fed_start_broker "$T" || exit 1
for s in mimer pharos; do fed_start_agent "$T" "$s" "$SRC/deploy/demo/sites/$s.site"; done
fed_wait_up "$T" 2 && fed_start_gateway "$T" gw1 || exit 1
ctl() { fed_ctl "$T" alice --timeout 20s "$@"; }
cat >"$T/bench.yaml" <<Y
name: bench
project: llm-eu
resources: {gpus: 1, walltime: 2h}
files: {server.py: $SRC/tests/integration/replica/server.py}
run: exec python3 server.py "\$AIFED_PORT" "\$AIFED_JOB_ID" bench
service:
  readiness_probe: {path: /v1/models, timeout_seconds: 2}
  replicas: 2
Y
ctl serve "$T/bench.yaml" >/dev/null || exit 1
key=$(ctl --json endpoint key create --project llm-eu | jq -r .key)
for ((i = 0; i < 120; i++)); do
    [[ $(ctl --json endpoint show bench | jq '[.replicas[] | select(.state == "LIVE")] | length') == 2 ]] && break
    sleep 0.5
done
ep=$(ctl --json endpoint show bench)
direct="http://$(jq -r '.replicas[0] | .node + ":" + (.port | tostring)' <<<"$ep")"
gw="$FED_GATEWAY_URL/e/bench"
export NODE_EXTRA_CA_CERTS=$T/keys/gateway.crt
echo "replicas: $(jq -r '[.replicas[] | .site + " " + .state] | join(", ")' <<<"$ep"); direct: $direct"

echo "== latency, 1 KiB POSTs one at a time (ms)"
d=$(node "$CLIENT" latency "$direct" "" 500)
g=$(node "$CLIENT" latency "$gw/" "$key" 500)
echo "direct:  $d"
echo "gateway: $g"
jq -rn --argjson d "$d" --argjson g "$g" \
    '"added by gateway, broker and agent: p50 \(($g.p50 - $d.p50) * 100 | round / 100) ms (target <= 2), p99 \(($g.p99 - $d.p99) * 100 | round / 100) ms"'

echo "== requests a second, 1 KiB bodies, 32 in flight, ${SECS}s"
d=$(node "$CLIENT" rate "$direct" "" "$SECS" 32)
g=$(node "$CLIENT" rate "$gw/" "$key" "$SECS" 32)
echo "direct:  $d"
echo "gateway: $g"
jq -rn --argjson d "$d" --argjson g "$g" \
    '"through the gateway: \($g.rps | round)/s (target >= 2000), \(($g.rps / $d.rps) * 100 | round) % of the replica direct"'

echo "== a streamed answer: from the replica writing a chunk to the client reading it (ms)"
d=$(node "$CLIENT" chunks "$direct" "" 300 10)
g=$(node "$CLIENT" chunks "$gw/" "$key" 300 10)
echo "direct:  $d"
echo "gateway: $g"
jq -rn --argjson g "$g" '"through the gateway: p99 \($g.p99 * 100 | round / 100) ms (target <= 5)"'

echo "== failover: kill -9 one replica's agent under a request every 20 ms"
node "$CLIENT" watch "$gw/" "$key" 12 >"$T/watch.log" &
watcher=$!
sleep 4
victim=$(jq -r '.replicas[0].site' <<<"$ep")
killed=$(date +%s%3N)
kill -9 "$(cat "$T/agents/$victim.pid")" && rm -f "$T/agents/$victim.pid"
wait "$watcher"
awk -v k="$killed" -v v="$victim" '
    $1 >= k && $2 != 200 { failed++ }
    $1 >= k && $2 == 200 && $3 != v && !first { first = $1 }
    $1 >= k { after++ }
    END { printf "killed %s: first answer from the other site %d ms later (target <= 10000); %d of %d requests after the kill failed\n", v, first - k, failed, after }' "$T/watch.log"
