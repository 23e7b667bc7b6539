#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# No over-commit: 200 one-GPU submits at once, all preferring pharos, which
# has 16 GPUs free. Exactly 16 are held there; the rest go to mimer (64
# free) or are refused with a reason; nothing is granted twice, and the
# sites' own figures agree with the broker's.
. "$(dirname "$0")/lib.sh"

N=200
# One principal sends all 200 at once, each on its own connection: lift its
# rate limit, waiting cap and connections.
FED_MAX_WAITING=1000 fed_init "$T" mimer pharos || exit 1
sed -i 's/^max_waiting = .*/&\nrate_limit = 1000\nrate_burst = 1000\nmax_connections_per_principal = 1000/' "$T/broker.conf"
fed_start_broker "$T" || exit 1
fed_start_agent "$T" mimer "$SITES_DIR/mimer.site"
fed_start_agent "$T" pharos "$SITES_DIR/pharos.site"
fed_wait_up "$T" 2 || exit 1
check "pharos has 16 GPUs free" test "$(site_avail pharos)" -eq 16

mkdir -p "$T/out"
pids=()
for ((i = 1; i <= N; i++)); do
    fed_ctl "$T" alice --timeout 60s --json submit --project llm-eu --gpus 1 \
        --prefer cost --request-id "burst-$i" >"$T/out/$i.json" 2>"$T/out/$i.err" &
    pids+=($!)
done
wait "${pids[@]}" # the clients only: the daemons run on

leases=$(ctlj ops leases --state active)
at() { jq --arg s "$1" '[.[] | select(.site == $s)] | length' <<<"$leases"; }
granted=$(cat "$T"/out/*.json | jq -s 'map(select(.state == "ACTIVE")) | length')
refused=$(grep -l "no site can take this workload" "$T"/out/*.err | wc -l)
check "exactly 16 leases are held at pharos" test "$(at pharos)" -eq 16
check "64 more are held at mimer" test "$(at mimer)" -eq 64
check "80 clients were told ACTIVE" test "$granted" -eq 80
check "the other 120 were refused with a reason" test "$refused" -eq $((N - 80))
check "no lease was granted twice" \
    test "$(jq '[.[].request_id] | unique | length' <<<"$leases")" -eq "$(jq length <<<"$leases")"
wait_for "pharos itself reports 0 GPUs free" 10 'test "$(site_free pharos)" -eq 0'
check "and the broker has nothing left to promise there" test "$(site_avail pharos)" -eq 0
