#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# When the broker does not answer, aifedctl stops in bounded time and says
# which thing to check; bad arguments exit 2 with usage.
. "$(dirname "$0")/lib.sh"

fed_init "$T" mimer || exit 1
fed_start_broker "$T" || exit 1
ep=$FED_CLIENT_EP
fed_stop_pid "$T/broker.pid"

start=$SECONDS
out=$(fed_ctl "$T" alice --timeout 20s sites 2>&1); rc=$?
check "broker down: exit 3" test "$rc" -eq 3
check "broker down: says it cannot reach it" grep -q "cannot reach the broker at $ep" <<<"$out"
check "broker down: gives up early (under 10s of a 20s timeout)" test $((SECONDS - start)) -lt 10

fed_start_broker "$T" || exit 1
"$FED_CTL_BIN" keygen --dir "$T/keys" impostor >/dev/null
out=$("$FED_CTL_BIN" --broker "$FED_CLIENT_EP" --broker-key "$T/keys/impostor.pub" \
    --key "$T/keys/alice.key" --timeout 3s sites 2>&1); rc=$?
check "wrong broker key: exit 3" test "$rc" -eq 3
check "wrong broker key: says to check the broker's public key" grep -q "handshake did not complete" <<<"$out"

out=$(fed_ctl "$T" alice --timeout 5s sites 2>&1); rc=$?
check "right keys: served (no agent yet: not heard from)" test "$rc" -eq 0

out=$("$FED_CTL_BIN" --broker "$FED_AGENT_EP" --broker-key "$T/keys/broker.pub" \
    --key "$T/keys/alice.key" --timeout 20s sites 2>&1); rc=$?
check "aifedctl at the agents' endpoint: told so, and where to go instead" \
    test "$rc:$out" = "1:aifedctl: user:alice is not a site: this is the broker's endpoint for sites' agents; aifedctl connects to its client endpoint (the broker's client_listen)"
out=$("$FED_CTL_BIN" --broker "$FED_CLIENT_EP" --broker-key "$T/keys/broker.pub" \
    --key "$T/keys/impostor.key" --timeout 20s sites 2>&1); rc=$?
check "an unknown key: refused, and the broker's log says which key" \
    grep -qF "public key $(sed -n 's/.*public-key = "\(.*\)"/\1/p' "$T/keys/impostor.pub") is not registered" "$T/logs/broker.log"

# The agent's log tells apart each reason the broker does not answer.
# agent_try NAME ENDPOINT BROKER_PUB : an agent for site NAME (key NAME),
# its config otherwise as fed_start_agent writes it; its log, agent-NAME.log,
# begins anew.
agent_try() {
    local name=$1 ep=$2 pub=$3
    # fed_start_agent writes the config; true stands in for the agent there.
    local sitefile=$SITES_DIR/mimer.site
    [[ $name == ghost ]] && sitefile=$T/ghost.site
    FED_AGENT_EP=$ep FED_AGENT_BIN=true fed_start_agent "$T" "$name" "$sitefile"
    sed -i "s|^broker_public_key = .*|broker_public_key = $pub|" "$T/agents/$name.conf"
    "$FED_AGENT_BIN" -f -c "$T/agents/$name.conf" >"$T/logs/agent-$name.log" 2>&1 &
    echo $! >"$T/agents/$name.pid"
}
said() { grep -qF "$2" "$T/logs/agent-$1.log"; }
"$FED_CTL_BIN" keygen --dir "$T/keys" ghost >/dev/null
sed 's/^id = .*/id = ghost/' "$SITES_DIR/mimer.site" >"$T/ghost.site"
agent_try ghost "$FED_AGENT_EP" ../keys/broker.pub
wait_for "agent with a key the broker lacks: says to register it as [site:NAME]" 20 \
    'said ghost "the broker at $FED_AGENT_EP refused site ghost'"'"'s key: its public key must be registered in broker.conf as [site:ghost]"'
fed_stop_pid "$T/agents/ghost.pid"
agent_try mimer "$FED_AGENT_EP" ../keys/impostor.pub
wait_for "agent with the wrong broker key: names broker_public_key" 20 \
    'said mimer "connected to $FED_AGENT_EP, but the CURVE handshake does not complete: broker_public_key (../keys/impostor.pub) is not that broker'"'"'s key"'
fed_stop_pid "$T/agents/mimer.pid"
agent_try mimer "$FED_CLIENT_EP" ../keys/broker.pub
wait_for "agent at the clients' endpoint: the broker tells it to use the agent endpoint" 20 \
    'said mimer "broker error: this is the broker'"'"'s endpoint for clients (aifedctl); an agent connects to its agent endpoint"'
fed_stop_pid "$T/agents/mimer.pid"
agent_try mimer "$FED_AGENT_EP" ../keys/broker.pub
wait_for "agent with the right settings connects" 20 'said mimer "connected to the broker as site:mimer"'
fed_stop_pid "$T/broker.pid"
wait_for "... and says so when the broker goes away" 20 \
    'said mimer "lost the connection to the broker at $FED_AGENT_EP: reconnecting"'
wait_for "... then that nothing listens there" 20 \
    'said mimer "cannot reach the broker at $FED_AGENT_EP (connection refused)"'
fed_stop_pid "$T/agents/mimer.pid"

out=$("$FED_CTL_BIN" sites 2>&1); rc=$?
check "no broker configured: exit 3 and says how to configure" test "$rc" -eq 3
grep -q AIFED_BROKER <<<"$out" && ok "names the environment variables" || fail "names the environment variables"
out=$("$FED_CTL_BIN" submit --gpus 2 2>&1); rc=$?
check "missing --project: exit 2 with usage" test "$rc:$(head -1 <<<"$out")" = "2:aifedctl submit: --project (or a task file's project) is required"
out=$("$FED_CTL_BIN" frobnicate 2>&1); rc=$?
check "unknown command: exit 2" test "$rc" -eq 2
for cmd in keygen sites submit explain leases lease help; do
    check "aifedctl $cmd --help" quiet "$FED_CTL_BIN" "$cmd" --help
done
check "aifed-broker --help" quiet "$FED_BROKER_BIN" --help
check "aifed-agent --help" quiet "$FED_AGENT_BIN" --help
out=$("$FED_BROKER_BIN" -n -c "$T/nope.conf" 2>&1); rc=$?
check "broker -n on a missing file: exit 1 naming it" test "$rc" -eq 1
grep -q "$T/nope.conf: No such file" <<<"$out" && ok "the error names the file" || fail "the error names the file"
chmod 644 "$T/keys/alice.key"
out=$(fed_ctl "$T" alice sites 2>&1); rc=$?
check "a group-readable secret key is refused with the fix" grep -q "chmod 600" <<<"$out"
