#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Prometheus endpoints: a real Prometheus (Debian's) scrapes the broker
# and an agent on loopback, and its query API returns the series an operator
# watches: sites by state, free GPUs by site and accelerator, leases by
# state, requests, grant latency, and the agent's advertisement age.
. "$(dirname "$0")/lib.sh"

PROMETHEUS=$(command -v prometheus || true)
if [[ -z $PROMETHEUS ]]; then
    echo "1..0 # SKIP prometheus is not installed (deploy/install-deps.sh installs it)"
    exit 77
fi
start_federation mimer pharos || exit 1
broker_url=$(awk '$1 == "metrics" {print $2}' "$T/state/endpoints")
agent_url=$(sed -n 's/.*metrics on \(http[^ ]*\)$/\1/p' "$T/logs/agent-mimer.log" | tail -n 1)
check "the broker says where its metrics are" test -n "$broker_url"
check "the agent says where its metrics are" test -n "$agent_url"
lease=$(ctlj alice submit --project llm-eu --gpus 8 --country SE | jq -r .id)
check "a lease to measure" test "$(ctlj alice lease show "$lease" | jq -r .state)" = ACTIVE
wait_for "the broker's endpoint counts the grant" 5 \
    'curl -fsS "$broker_url" | grep -q "^aifed_grant_seconds_count 1$"'
out=$(curl -sS -o /dev/null -w '%{http_code}' "${broker_url%/metrics}/other")
check "any other path is 404" test "$out" = 404

# A real Prometheus, scraping both every second.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
hostport() { local u=${1#http://}; echo "${u%/metrics}"; }
cat >"$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: aifed-broker
    static_configs: [{targets: ["$(hostport "$broker_url")"]}]
  - job_name: aifed-agent
    static_configs: [{targets: ["$(hostport "$agent_url")"]}]
YML
"$PROMETHEUS" --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
    --web.listen-address="127.0.0.1:$port" >"$T/logs/prometheus.log" 2>&1 &
echo $! >"$T/prometheus.pid"
api="http://127.0.0.1:$port/api/v1/query"
q() { curl -fsS --get "$api" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty'; }
wait_for "Prometheus is ready" 30 'curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1'
wait_for "Prometheus has scraped the broker: 2 sites up" 20 'test "$(q "aifed_sites{state=\"up\"}")" = 2'
check "mimer's free H100s are there" \
    test -n "$(q 'aifed_gpus_free{site="mimer",accelerator="H100"}')"
check "mimer has 56 GPUs available after the 8 granted" \
    test "$(q 'aifed_gpus_available{site="mimer"}')" = 56
check "one lease active" test "$(q 'aifed_leases{state="active"}')" = 1
check "the broker says its build" test "$(q 'aifed_build_info{program="aifed-broker"}')" = 1
check "... and when it started" \
    awk -v t="$(q 'process_start_time_seconds{job="aifed-broker"}')" -v now="$(date +%s)" 'BEGIN { exit !(t > now - 600 && t <= now) }'
check "submits are counted" test "$(q 'aifed_requests_total{type="submit"}')" -ge 1
check "the grant latency histogram has the grant" \
    test "$(q 'aifed_grant_seconds_count')" = 1
check "commit batch sizes are measured" test "$(q 'aifed_commit_batch_messages_count')" -ge 1
wait_for "Prometheus has scraped the agent" 20 \
    'test -n "$(q "aifed_agent_last_advertisement_age_seconds{site=\"mimer\"}")"'
check "the agent's last advertisement is recent (< 5 s)" awk -v a="$(q \
    'aifed_agent_last_advertisement_age_seconds{site="mimer"}')" 'BEGIN { exit !(a >= 0 && a < 5) }'
check "the agent counted its hold" test "$(q 'aifed_agent_holds_total{site="mimer",outcome="held"}')" = 1
check "backend latency is measured" test "$(q 'aifed_agent_backend_seconds_count{site="mimer"}')" -ge 1
fed_stop_pid "$T/prometheus.pid"
