#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# High availability without Pacemaker itself (pacemaker.sh runs a real
# cluster): the OCF resource agent's every action and exit code; a second
# broker refused on a held state directory; and a failover as Pacemaker
# makes one: the active broker killed -9, the standby started on the same
# store. Agents and aifedctl, given both endpoints, follow by themselves;
# every acknowledged lease is there; submits in flight end with one lease
# each; no site goes DOWN and no lease LOST.
. "$(dirname "$0")/lib.sh"

OCF=$SRC/deploy/ha/aifed-broker
# A port no socket uses, below the ephemeral range (32768 and up), where
# no connection of another test can take it between this look and the bind.
free_port() {
    local p i
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + RANDOM % 12000))
        ss -tanH "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return 0; }
    done
    return 1
}
fed_init "$T" mimer pharos || exit 1
"$FED_CTL_BIN" keygen --dir "$T/keys" monitor >/dev/null
printf '\n[admin:monitor]\npublic_key = keys/monitor.pub\n' >>"$T/broker.conf"
# Two nodes: one state directory (the storage that moves), ports of their own.
declare -A AG CL
for n in a b; do
    AG[$n]=$(free_port) CL[$n]=$(free_port)
    sed -e "s|^agent_listen = .*|agent_listen = tcp://127.0.0.1:${AG[$n]}|" \
        -e "s|^client_listen = .*|client_listen = tcp://127.0.0.1:${CL[$n]}|" \
        "$T/broker.conf" >"$T/broker-$n.conf"
done
# ocf NODE ACTION : the resource agent as Pacemaker runs it on NODE.
ocf() {
    local n=$1; shift
    # user root: the test's brokers run as root (a lab, which their config
    # says); a site's run as aifed-broker, and a missing one is refused.
    env OCF_RESKEY_user=root OCF_RESKEY_config="$T/broker-$n.conf" OCF_RESKEY_binary="$FED_BROKER_BIN" \
        OCF_RESKEY_ctl="$FED_CTL_BIN" OCF_RESKEY_pidfile="$T/broker-$n.pid" \
        OCF_RESKEY_client="tcp://127.0.0.1:${CL[$n]}" OCF_RESKEY_broker_key="$T/keys/broker.pub" \
        OCF_RESKEY_key="$T/keys/monitor.key" OCF_RESKEY_log="$T/logs/broker-$n.log" \
        OCF_RESKEY_monitor_timeout=2 OCF_RESKEY_CRM_meta_timeout=20000 "$OCF" "$@" 2>>"$T/ocf.log"
}
is() { local want=$1; shift; "$@"; test $? -eq "$want"; }
trap 'ocf a stop; ocf b stop; finish' EXIT

# --- the resource agent on its own: every action, OCF's exit codes
md=$(ocf a meta-data); rc=$?
check "meta-data: exit 0, the agent's XML" \
    test "$rc" = 0 -a -n "$(grep -F '<resource-agent name="aifed-broker"' <<<"$md")"
for a in start stop monitor validate-all meta-data; do
    check "... declaring $a" grep -q "<action name=\"$a\"" <<<"$md"
done
check "no action: OCF_ERR_ARGS (2)" is 2 ocf a
check "an action it lacks (promote): OCF_ERR_UNIMPLEMENTED (3)" is 3 ocf a promote
check "validate-all: a good config is 0" is 0 ocf a validate-all
check "... a missing config is OCF_ERR_CONFIGURED (6)" is 6 env OCF_RESKEY_user=root OCF_RESKEY_binary="$FED_BROKER_BIN" OCF_RESKEY_ctl="$FED_CTL_BIN" OCF_RESKEY_config=/nonexistent "$OCF" validate-all
check "... a missing program is OCF_ERR_INSTALLED (5)" is 5 env OCF_RESKEY_binary=/nonexistent "$OCF" validate-all
check "monitor before start: OCF_NOT_RUNNING (7)" is 7 ocf a monitor
check "start: 0, once the broker answers" is 0 ocf a start || exit 1
check "monitor: 0 (aifedctl admin health answered)" is 0 ocf a monitor
check "start again: 0, nothing started twice" is 0 ocf a start
pid_a=$(cat "$T/broker-a.pid")
kill -STOP "$pid_a"
check "a broker that runs but does not answer: OCF_ERR_GENERIC (1)" is 1 ocf a monitor
kill -CONT "$pid_a"
check "... and 0 again once it answers" is 0 ocf a monitor

# --- one store, one writer
out=$("$FED_BROKER_BIN" -f -c "$T/broker-b.conf" 2>&1); rc=$?
check "a second broker on a held state directory is refused, naming the holder" \
    test "$rc" -ne 0 -a -n "$(grep -F "is held by another aifed-broker (pid $pid_a on $(hostname) since" <<<"$out")"
check "... and the resource agent's start there fails (1)" is 1 ocf b start
check "... leaving the first serving" is 0 ocf a monitor

# --- agents and aifedctl with both endpoints; the failover
FED_AGENT_EP="tcp://127.0.0.1:${AG[a]},tcp://127.0.0.1:${AG[b]}"
FED_CLIENT_EP="tcp://127.0.0.1:${CL[a]},tcp://127.0.0.1:${CL[b]}"
for s in mimer pharos; do fed_start_agent "$T" "$s" "$SITES_DIR/$s.site"; done
fed_wait_up "$T" 2 || exit 1
acked=()
for i in 1 2 3 4 5; do
    acked+=("$(ctlj alice submit --project llm-eu --gpus 1 --request-id acked-$i | jq -r .id)")
done
check "five leases acknowledged before the failover" test "${#acked[@]}" = 5 -a -n "${acked[4]}"
for i in 1 2 3 4 5 6 7 8; do
    ctlj alice --timeout 60s submit --project llm-eu --gpus 1 --request-id flight-$i \
        >"$T/flight-$i.out" 2>"$T/flight-$i.err" &
    flights+=($!)
done
kill -KILL "$pid_a"
wait_for "the active broker killed -9: its monitor says OCF_NOT_RUNNING (7)" 10 'is 7 ocf a monitor'
check "the standby's start takes the store: 0" is 0 ocf b start || exit 1
for p in "${flights[@]}"; do wait "$p"; done
ok_flights=0 leases=()
for i in 1 2 3 4 5 6 7 8; do
    id=$(jq -r '.id // empty' "$T/flight-$i.out" 2>/dev/null)
    [[ -n $id ]] && ok_flights=$((ok_flights + 1)) && leases+=("$id")
done
check "every submit in flight got its lease (8 of 8)" test "$ok_flights" = 8
all=$(ctlj ops leases)
check "... exactly one each: no request has two leases" \
    test "$(jq '[.[] | select(.request_id | startswith("flight-"))] | length' <<<"$all")" = 8
missing=0
for id in "${acked[@]}"; do
    [[ $(jq -r --arg id "$id" '.[] | select(.id == $id) | .state' <<<"$all") == ACTIVE ]] || missing=$((missing + 1))
done
check "every acknowledged lease is in the new broker's store, ACTIVE" test "$missing" = 0
wait_for "the agents reconnect by themselves: both sites UP at the new broker" 20 \
    '[[ $(ctlj ops sites | jq "[.[] | select(.state == \"UP\")] | length") == 2 ]]'
check "no site was marked DOWN by the new broker" bash -c "! grep -q 'is DOWN' '$T/logs/broker-b.log'"
check "no lease was LOST" test "$(jq '[.[] | select(.state == "LOST")] | length' <<<"$(ctlj ops leases)")" = 0
check "its log says it is active on this node" grep -q "active on node $(hostname): the store at" "$T/logs/broker-b.log"
out=$(ctl ops admin health)
check "admin health names the node and when it took over" grep -q "^broker on $(hostname): active since .*; the store took a write; 2 of 2 sites UP$" <<<"$out"
check "stop: 0, a clean stop" is 0 ocf b stop
check "monitor after stop: 7" is 7 ocf b monitor
check "stop again: 0" is 0 ocf b stop
