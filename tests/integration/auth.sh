#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Who may do what: an unknown key gets no service; a user acts only for its
# own projects and sees only their leases; a site key cannot use the client
# socket.
. "$(dirname "$0")/lib.sh"

start_federation mimer pharos || exit 1

"$FED_CTL_BIN" keygen --dir "$T/keys" mallory >/dev/null
out=$(fed_ctl "$T" mallory --timeout 10s sites 2>&1); rc=$?
check "unknown key: exit 3" test "$rc" -eq 3
check "unknown key: told the key is not registered" grep -q "refused your key" <<<"$out"
check "unknown key: no site data leaked" bash -c "! grep -q mimer <<<'$out'"

out=$(fed_ctl "$T" mimer --timeout 10s sites 2>&1); rc=$?
check "site key on the client socket: refused (exit 3)" test "$rc" -eq 3

out=$(ctl bob submit --project llm-eu --gpus 1 2>&1 | tail -n 1); rc=${PIPESTATUS[0]}
check "bob cannot submit for alice's project" test "$rc:$out" = "1:aifedctl: user:bob is not a member of project llm-eu"

id=$(ctlj alice submit --project llm-eu --gpus 4 | jq -r .id)
check "alice's lease is ACTIVE" test "$(ctlj alice lease show "$id" | jq -r .state)" = ACTIVE
out=$(ctl bob lease show "$id" 2>&1); rc=$?
check "bob cannot see alice's lease (not found)" test "$rc:$out" = "1:aifedctl: no lease $id"
out=$(ctl bob lease release "$id" 2>&1); rc=$?
check "bob cannot release alice's lease" test "$rc" -eq 1
check "alice's lease is still ACTIVE" test "$(ctlj alice lease show "$id" | jq -r .state)" = ACTIVE
check "bob's lease list is empty" test "$(ctlj bob leases | jq length)" -eq 0
out=$(ctl bob leases --project llm-eu 2>&1); rc=$?
check "bob cannot list another project" test "$rc" -eq 1
check "admin ops sees alice's lease" test "$(ctlj ops leases | jq -r '.[0].id')" = "$id"
check "admin ops can release it" test "$(ctlj ops lease release "$id" | jq -r .state)" = RELEASED

# An agent with a user's key is refused at the handshake and never UP.
cat > "$T/agents/fake.conf" <<CONF
[agent]
site = hammerhai
broker = $FED_AGENT_EP
broker_public_key = ../keys/broker.pub
secret_key = ../keys/alice.key
site_file = $SITES_DIR/hammerhai.site
advertise_interval = 500ms
metrics_listen = off
CONF
"$FED_AGENT_BIN" -f -c "$T/agents/fake.conf" >>"$T/logs/agent-fake.log" 2>&1 &
echo $! > "$T/agents/fake.pid"
wait_for "broker logs the refused agent key" 10 'grep -q "refused a connection .* on the agent socket" "$T/logs/broker.log"'
check "the impostor site is not listed" test "$(ctlj ops sites | jq '[.[] | select(.id == "hammerhai")] | length')" -eq 0
