#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Nothing is lost when the broker stops: after a clean stop and after kill -9,
# every lease is back with its state, agents reconnect by themselves, and the
# broker serves on.
. "$(dirname "$0")/lib.sh"

start_federation mimer pharos meluxina || exit 1
# Restarts must come back on the same ports, for the agents.
sed -i "s|^agent_listen = .*|agent_listen = $FED_AGENT_EP|; s|^client_listen = .*|client_listen = $FED_CLIENT_EP|" "$T/broker.conf"

a=$(ctlj alice submit --project llm-eu --gpus 8 --accelerator H100 | jq -r .id)
b=$(ctlj alice submit --project llm-eu --gpus 4 --country LU | jq -r .id)
c=$(ctlj alice submit --project vision-sme --gpus 2 --country GR | jq -r .id)
ctlj alice lease release "$c" >/dev/null
snapshot() { ctlj ops leases | jq -c '[.[] | {id, state, site, gpus}]'; }
want=$(snapshot)
check "three leases before the restart" test "$(jq length <<<"$want")" -eq 3

check "broker stops cleanly on SIGTERM" fed_stop_pid "$T/broker.pid"
fed_start_broker "$T" || exit 1
check "after a clean restart every lease is back with its state" test "$(snapshot)" = "$want"
fed_wait_up "$T" 3 && ok "agents reconnected by themselves"

kill -KILL "$(cat "$T/broker.pid")"; wait "$(cat "$T/broker.pid")" 2>/dev/null; rm -f "$T/broker.pid"
fed_start_broker "$T" || exit 1
check "after kill -9 every lease is back with its state" test "$(snapshot)" = "$want"
fed_wait_up "$T" 3 && ok "agents reconnected after kill -9"

# An admin's drain outlives a restart: no new lease goes to the drained site.
check "ops drains meluxina" quiet ctl ops admin site drain meluxina
kill -KILL "$(cat "$T/broker.pid")"; wait "$(cat "$T/broker.pid")" 2>/dev/null; rm -f "$T/broker.pid"
fed_start_broker "$T" || exit 1
fed_wait_up "$T" 3
check "after kill -9 meluxina is still drained" \
    test "$(ctlj ops sites | jq -r '.[] | select(.id == "meluxina") | .admin_drained')" = true
out=$(ctl alice submit --project llm-eu --gpus 1 --country LU 2>&1); rc=$?
check "and takes no new lease" test "$rc" -eq 1
check "ops undrains meluxina" quiet ctl ops admin site undrain meluxina
check "the drain and the undrain are in the audit log" test \
    "$(ctlj ops admin audit | jq '[.[] | select(.subject == "meluxina")] | length')" -eq 2

# The restarted broker knows what it promised: mimer's capacity still
# accounts for lease a, and a new grant and a release both work.
check "mimer still counts lease $a" test "$(site_avail mimer)" -eq 56
d=$(ctlj alice submit --project llm-eu --gpus 8 --accelerator H100 | jq -r '.state')
check "a new submit after the restarts is ACTIVE" test "$d" = ACTIVE
check "a lease from before the restart can be released" test "$(ctlj alice lease release "$a" | jq -r .state)" = RELEASED

# A clean stop answers a submit still waiting for its site: the client gets
# its PENDING lease; after the restart the site's hold makes it ACTIVE.
kill -STOP "$(cat "$T/agents/pharos.pid")"
ctlj alice submit --project llm-eu --gpus 2 --country GR >"$T/waiting.json" 2>"$T/waiting.err" &
client=$!
wait_for "a submit waits for silent pharos" 10 \
    'test "$(ctlj ops leases --state pending | jq length)" -eq 1'
check "its lease says the site has not countersigned the token yet" grep -q \
    "^signed: *by the broker; site pharos has not countersigned it yet" \
    <<<"$(ctl ops lease show "$(ctlj ops leases --state pending | jq -r '.[0].id')")"
check "the broker stops cleanly with a submit waiting" fed_stop_pid "$T/broker.pid"
wait "$client"
check "the waiting client was answered (exit 0)" test $? -eq 0
check "with its lease, PENDING" test "$(jq -r .state "$T/waiting.json")" = PENDING
fed_start_broker "$T" || exit 1
kill -CONT "$(cat "$T/agents/pharos.pid")"
wait_for "after the restart the lease becomes ACTIVE" 15 \
    'test "$(ctlj ops lease show "$(jq -r .id "$T/waiting.json")" | jq -r .state)" = ACTIVE'

# A broker that has just started has heard from no site yet. A submit only a
# site it has not heard could take is not refused: aifedctl is told to ask
# again, and does, until the site is heard. (down_after 20 x 500 ms gives
# the broker 10 s to hear them.)
sed -i 's/^down_after = .*/down_after = 20/' "$T/broker.conf"
agents=$(cat "$T/agents/"*.pid)
# shellcheck disable=SC2086 # one pid a word
kill -STOP $agents
check "the broker stops cleanly" fed_stop_pid "$T/broker.pid"
fed_start_broker "$T" || exit 1
ctl alice submit --project llm-eu --gpus 1 --country GR >"$T/starting.out" 2>"$T/starting.err" &
client=$!
wait_for "the submit is told the broker has not heard pharos yet" 10 \
    'grep -q "has not heard from .*pharos.* yet; ask again in a moment (asking again every 500 ms)" "$T/starting.err"'
check "explain says pharos has not been heard yet" test "$(ctlj alice explain --project llm-eu \
    --gpus 1 | jq -r '.[] | select(.site == "pharos") | .reason')" = \
    "site not heard from yet since the broker started"
# shellcheck disable=SC2086
kill -CONT $agents
wait "$client"
check "once pharos is heard, it gets its lease (exit 0)" test $? -eq 0
check "ACTIVE at pharos" grep -q "^site/pool: *pharos/" "$T/starting.out"
check "and ACTIVE" grep -q "^state: *ACTIVE" "$T/starting.out"

# A lease that already has its pool's whole maximum walltime cannot grow.
full=$(ctlj alice submit --project llm-eu --gpus 1 --country SE --walltime 3d | jq -r .id)
out=$(ctl alice lease renew "$full" --by 1h 2>&1); rc=$?
check "a lease with the pool's whole walltime cannot be renewed" \
    test "$rc:$out" = "1:aifedctl: mimer/gpu allows at most 3d of walltime; the lease has it all"

# A broker that cannot write its endpoints file (a full disk, here a
# directory in the way) still starts and serves: it reads its store.
check "the broker stops cleanly" fed_stop_pid "$T/broker.pid"
mkdir "$T/state/endpoints.tmp"
"$FED_BROKER_BIN" -f -c "$T/broker.conf" >>"$T/logs/broker.log" 2>&1 &
echo $! >"$T/broker.pid"
wait_for "it serves without its endpoints file" 15 'quiet ctlj ops sites'
check "every lease is still there" test "$(ctlj ops lease show "$full" | jq -r .state)" = ACTIVE
check "its log says why the file is missing" \
    grep -q "cannot write .*/endpoints (.*); serving without it" "$T/logs/broker.log"
rmdir "$T/state/endpoints.tmp"
