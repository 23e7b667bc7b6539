#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Who may do what: an unknown key gets no service; a user acts only for its
# own projects and sees only their leases; a site key on the client socket
# reads its own site's view and nothing else.
. "$(dirname "$0")/lib.sh"

start_federation mimer pharos || exit 1

"$FED_CTL_BIN" keygen --dir "$T/keys" mallory >/dev/null
out=$(fed_ctl "$T" mallory --timeout 10s sites 2>&1); rc=$?
check "unknown key: exit 3" test "$rc" -eq 3
check "unknown key: told the key is not registered" grep -q "refused your key" <<<"$out"
check "unknown key: no site data leaked" bash -c "! grep -q mimer <<<'$out'"

out=$(fed_ctl "$T" mimer --timeout 10s --json sites 2>&1); rc=$?
check "site key on the client socket: reads its own site's view, and only that" \
    test "$rc:$(jq -r '[.[].id] | join(",")' <<<"$out")" = "0:mimer"
out=$(fed_ctl "$T" mimer --timeout 10s --json sites --site pharos 2>&1); rc=$?
check "... even when it asks for another site" test "$rc:$(jq -r '[.[].id] | join(",")' <<<"$out")" = "0:mimer"
check "... and whoami names it" test "$(fed_ctl "$T" mimer --timeout 10s --json whoami | jq -r .principal)" = site:mimer
for what in "leases" "lease show lease-0000" "explain --project llm-eu --gpus 1" \
    "submit --project llm-eu --gpus 1" "admin principal list"; do
    # shellcheck disable=SC2086 # the words of a command
    out=$(fed_ctl "$T" mimer --timeout 10s $what 2>&1); rc=$?
    check "... but '${what%% *}' is refused to it" test "$rc" -ne 0 -a -n "$(grep -E "site:mimer may not|only admins" <<<"$out")"
done
check "sites --site S: one site, for anyone" \
    test "$(ctlj alice sites --site pharos | jq -r '[.[].id] | join(",")')" = pharos
out=$(ctl alice sites --site nowhere 2>&1); rc=$?
check "... and a site the federation lacks is not found" test "$rc:$out" = "1:aifedctl: no site nowhere in the federation"

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

# An agent with a user's key is told it is not a site, and is never UP.
cat > "$T/agents/fake.conf" <<CONF
[agent]
site = hammerhai
broker = $FED_AGENT_EP
broker_public_key = ../keys/broker.pub
secret_key = ../keys/alice.key
site_file = $SITES_DIR/hammerhai.site
advertise_interval = 500ms
metrics_listen = off
lab = a loopback test (auth.sh)
CONF
"$FED_AGENT_BIN" -f -c "$T/agents/fake.conf" >>"$T/logs/agent-fake.log" 2>&1 &
echo $! > "$T/agents/fake.pid"
wait_for "the agent with a user's key is told it is not a site" 10 \
    'grep -q "broker error: user:alice is not a site: this is the broker'"'"'s endpoint for sites'"'"' agents" "$T/logs/agent-fake.log"'
check "the impostor site is not listed" test "$(ctlj ops sites | jq '[.[] | select(.id == "hammerhai")] | length')" -eq 0
