#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Nothing acknowledged is lost, nothing is doubled: the broker is killed with
# SIGKILL twenty times while clients submit and release. After every restart
# each lease a client was told about is there in the state it was told, no
# request id has two leases, and the store opens cleanly (also read-only).
# Once more, killed while every commit fails (strace makes fdatasync fail).
. "$(dirname "$0")/lib.sh"

CYCLES=${CRASH_CYCLES:-20}
WORKERS=3
start_federation mimer pharos meluxina || exit 1
# Restarts must come back on the same ports, for the agents.
sed -i "s|^agent_listen = .*|agent_listen = $FED_AGENT_EP|; s|^client_listen = .*|client_listen = $FED_CLIENT_EP|" "$T/broker.conf"
mkdir -p "$T/acks"

# One client: submit with its own request id, then release; write down each
# answer it got (and only those).
worker() {
    local rid=$1 out id
    out=$(fed_ctl "$T" alice --timeout 30s --json submit --project llm-eu --gpus 1 \
        --walltime 1h --request-id "$rid" 2>/dev/null) || return 0
    id=$(jq -r .id <<<"$out")
    echo "$rid $id $(jq -r .state <<<"$out")" >"$T/acks/$rid.submit"
    out=$(fed_ctl "$T" alice --timeout 30s --json lease release "$id" 2>/dev/null) || return 0
    [[ $(jq -r .state <<<"$out") == RELEASED ]] && echo "$id" >"$T/acks/$rid.release"
}

# As worker, and writes down a submit the broker refused for want of a
# commit (the client was told nothing was stored).
eio_worker() {
    local rid=$1 out
    if out=$(fed_ctl "$T" alice --timeout 30s --json submit --project llm-eu --gpus 1 \
        --walltime 1h --request-id "$rid" 2>"$T/acks/$rid.err"); then
        echo "$rid $(jq -r .id <<<"$out") $(jq -r .state <<<"$out")" >"$T/acks/$rid.submit"
    elif grep -q "could not store this change" "$T/acks/$rid.err"; then
        echo "$rid" >"$T/acks/$rid.refused"
    fi
}

# Every acknowledged submit is there, released if its release was
# acknowledged; no request id has two leases.
verify() {
    local leases f rid id state want bad=0
    leases=$(ctlj ops leases) || return 1
    for f in "$T"/acks/*.submit; do
        [[ -e $f ]] || continue
        read -r rid id state <"$f"
        want="ACTIVE RELEASED"
        [[ -e $T/acks/$rid.release ]] && want=RELEASED
        state=$(jq -r --arg id "$id" '.[] | select(.id == $id) | .state' <<<"$leases")
        [[ " $want " == *" $state "* ]] || { echo "# $rid: lease $id is '$state', want $want"; bad=1; }
    done
    dup=$(jq -r '[.[] | .request_id] | group_by(.) | map(select(length > 1)) | length' <<<"$leases")
    [[ $dup -eq 0 ]] || { echo "# $dup request ids have more than one lease"; bad=1; }
    return $bad
}

ok_cycles=0 acked=0
for ((c = 1; c <= CYCLES; c++)); do
    pids=()
    for ((w = 1; w <= WORKERS; w++)); do
        worker "crash-$c-$w" &
        pids+=($!)
    done
    # Kill at a different point of the work each time.
    sleep "0.$((RANDOM % 5))$((RANDOM % 10))"
    kill -KILL "$(cat "$T/broker.pid")"
    { wait "$(cat "$T/broker.pid")"; } 2>/dev/null
    rm -f "$T/broker.pid"
    fed_start_broker "$T" || { fail "cycle $c: the broker did not start again"; break; }
    wait "${pids[@]}"
    if verify; then ok_cycles=$((ok_cycles + 1)); else fail "cycle $c: acknowledged work lost or doubled"; fi
done
# Kill -9 while commits fail: strace makes every fdatasync fail with EIO,
# so every batch is answered "nothing was changed"; the broker is
# killed in the middle and started again without strace. Every acknowledged
# lease is there, and no refused submit left a lease behind.
eio_ok=skip
if command -v strace >/dev/null; then
    strace -f -p "$(cat "$T/broker.pid")" -e trace=fdatasync \
        -e inject=fdatasync:error=EIO -o "$T/strace-eio.log" 2>"$T/strace-eio.err" &
    tracer=$!
    if wait_for "strace fails the broker's syncs" 10 'grep -q attached "$T/strace-eio.err"'; then
        pids=()
        for ((w = 1; w <= 6; w++)); do
            eio_worker "eio-$w" &
            pids+=($!)
        done
        wait_for "a commit fails" 20 'grep -q "commit failed" "$T/logs/broker.log"'
        kill -KILL "$(cat "$T/broker.pid")"
        { wait "$(cat "$T/broker.pid")"; } 2>/dev/null
        rm -f "$T/broker.pid"
        wait "$tracer" 2>/dev/null
        fed_start_broker "$T" || fail "the broker did not start after the failing commits"
        wait "${pids[@]}"
        eio_ok=no
        verify && eio_ok=yes
    fi
fi
if [[ $eio_ok != skip ]]; then
    check "a kill -9 among failing commits keeps every acknowledged lease" test "$eio_ok" = yes
    refused=$(cat "$T"/acks/*.refused 2>/dev/null | jq -R . | jq -s -c .)
    refused_left=$(ctlj ops leases | jq --argjson r "${refused:-[]}" \
        '[.[] | select(.request_id as $id | $r | index($id))] | length')
    check "and the $(jq length <<<"${refused:-[]}") submits told nothing was stored left no lease" \
        test "$refused_left" -eq 0
fi

acked=$(ls "$T"/acks/*.submit 2>/dev/null | wc -l)
check "all $CYCLES kill -9 cycles kept every acknowledged lease ($acked acknowledged submits)" \
    test "$ok_cycles" -eq "$CYCLES"
check "most submits were acknowledged despite the kills" test "$acked" -ge $((CYCLES * WORKERS / 2))
check "the store opens read-only and lists the same leases" \
    test "$("$FED_CTL_BIN" --db "$T/state" leases --json | jq length)" -eq "$(ctlj ops leases | jq length)"
check "the audit chain survived every kill" grep -q "audit chain intact" <<<"$(ctl ops admin audit --verify)"
check "the broker serves on" \
    test "$(ctlj alice submit --project llm-eu --gpus 1 --request-id after-crash | jq -r .state)" = ACTIVE
