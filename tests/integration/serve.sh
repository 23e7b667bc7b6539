#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Served models (docs/inference.md), on the demo federation's static sites:
# aifedctl serve makes an endpoint whose replicas are leases and jobs,
# spread over two sites; each becomes LIVE when the agent's readiness probe
# answers; a replica whose site's agent is killed (kill -9) is OFFLINE and
# replaced at a third site while the other stays LIVE; scale down ends one;
# an endpoint restricted to a country is only ever placed there; a replica
# that cannot start is tried 3 times, then the endpoint says why; only the
# project's members see it and only its owner changes it; it survives a
# broker restart; delete ends its leases. The replicas are
# tests/integration/replica/server.py, a small OpenAI-compatible server
# standing in for vLLM.
. "$(dirname "$0")/lib.sh"

start_federation mimer pharos bsc || exit 1
fed_demo_account || { fail "no demo account"; exit 1; }
ep() { ctlj alice endpoint show "$1"; }
# live NAME : the sites of its LIVE replicas, sorted, comma-separated
live() { ep "$1" | jq -r '[.replicas[] | select(.state == "LIVE") | .site] | sort | join(",")'; }

out=$(ctlj alice serve "$(served_task tiny 2)"); rc=$?
check "serve makes the endpoint (0), its first replica placed at once" \
    test "$rc:$(jq -r '.name + " " + (.replicas | length | tostring)' <<<"$out")" = "0:tiny 1"
wait_for "... and both replicas become LIVE, at two sites" 60 \
    '[[ $(live tiny | tr -cd , | wc -c) == 1 ]]'
sites=$(live tiny)
check "... two different sites" test "${sites%,*}" != "${sites#*,}"
s=$(ep tiny)
a=$(jq -r '.replicas[0] | .node + ":" + (.port | tostring)' <<<"$s")
check "a LIVE replica answers at the node and port the endpoint shows" \
    test "$(curl -s --max-time 5 "http://$a/v1/models" | jq -r '.data[0].id')" = tiny
check "... each in a lease of the endpoint owner's, ACTIVE" \
    test "$(ctlj alice lease show "$(jq -r '.replicas[0].lease' <<<"$s")" | jq -r .state)" = ACTIVE
check "endpoints lists it LIVE" test "$(ctlj alice endpoints | jq -r '.[0].state')" = LIVE
out=$(ctl alice endpoint show tiny)
check "endpoint show: state and a row per replica" \
    test "$(grep -c '^[a-z-]* *LIVE ' <<<"$out"):$(grep -c '^state: *LIVE$' <<<"$out")" = "2:1"

# Another project's user sees nothing; a member who is not the owner may
# look, not change (bob is of bio-x; alice's endpoint is llm-eu's).
out=$(ctl bob endpoint show tiny 2>&1); rc=$?
check "another project's user: no endpoint tiny" test "$rc:$out" != "0:" -a -n "$(grep -F 'no endpoint tiny' <<<"$out")"
out=$(ctl bob endpoint delete tiny 2>&1)
check "... and cannot delete it" grep -q 'no endpoint tiny' <<<"$out"
check "... nor does it list it" test "$(ctlj bob endpoints)" = "[]"
out=$(ctl alice serve "$(served_task tiny 1)" 2>&1); rc=$?
check "a name taken is refused" test "$rc" -ne 0 -a -n "$(grep -F 'endpoint tiny exists' <<<"$out")"

# Failover: the first replica's site's agent is killed; the other stays
# LIVE; a replacement is placed at the third site and becomes LIVE.
victim=${sites%,*}
other=${sites#*,}
third=$(printf '%s\n' mimer pharos bsc | grep -vx -e "$victim" -e "$other")
kill -9 "$(cat "$T/agents/$victim.pid")"
rm -f "$T/agents/$victim.pid"
wait_for "the killed site's replica goes OFFLINE" 30 \
    '[[ $(ep tiny | jq -r --arg s "$victim" "[.replicas[] | select(.site == \$s) | .state] | join(\",\")") == OFFLINE ]]'
check "... while the other stays LIVE" grep -q "$other" <<<"$(live tiny)"
wait_for "a replacement becomes LIVE at the third site ($third)" 60 \
    '[[ $(live tiny) == "$(printf "%s\n" "$other" "$third" | sort | paste -sd,)" ]]'
wait_for "... and the OFFLINE one is let go of once it is" 20 \
    '[[ $(ep tiny | jq ".replicas | length") == 2 ]]'

# Scale down: one ends; its lease is released.
out=$(ctlj alice endpoint scale tiny 1)
check "scale to 1 is taken" test "$(jq -r '.replicas_min' <<<"$out")" = 1
wait_for "... and one replica is ended" 20 '[[ $(ep tiny | jq ".replicas | length") == 1 ]]'

# A country restriction holds for every replica: only bsc is in ES.
out=$(ctlj alice serve "$(served_task spain 2 '' '{country: ES}')")
wait_for "an endpoint kept in Spain: two replicas LIVE" 60 \
    '[[ $(live spain) == "bsc,bsc" ]]'
check "... both at bsc, the one Spanish site" test "$(live spain)" = bsc,bsc

# A replica that cannot start: tried three times, then the endpoint says so.
cat >"$T/broken.yaml" <<Y
name: broken
project: llm-eu
resources: {gpus: 1, walltime: 1h}
run: exit 3
service: {replicas: 1}
Y
quiet ctl alice serve "$T/broken.yaml"
wait_for "a replica that never starts is tried 3 times, then FAILED" 60 \
    '[[ $(ep broken | jq -r .state) == FAILED ]]'
check "... saying why" grep -q "3 replicas in a row ended before they answered" <<<"$(ep broken | jq -r .reason)"

# Durable: a restarted broker (on the same ports) still has it, its
# replica still LIVE.
sed -i "s|^agent_listen = .*|agent_listen = $FED_AGENT_EP|; s|^client_listen = .*|client_listen = $FED_CLIENT_EP|" "$T/broker.conf"
fed_stop_pid "$T/broker.pid"
fed_start_broker "$T" || exit 1
fed_wait_up "$T" 2
wait_for "after a broker restart the endpoint is there, its replica LIVE" 30 \
    '[[ $(live tiny) != "" ]]'

# Delete: its leases end, it is gone.
lease=$(ep tiny | jq -r '.replicas[0].lease')
check "delete is taken" quiet ctl alice endpoint delete tiny
check "... its replica's lease RELEASED" test "$(ctlj alice lease show "$lease" | jq -r .state)" = RELEASED
check "... and it is gone" test "$(ctlj alice endpoints | jq -r '[.[].name] | join(",")')" = broken,spain
check "the audit log has its making and its end" \
    test "$(ctl ops admin audit -o change 2>/dev/null | grep -c 'endpoint \(created\|deleted\)')" -ge 2
