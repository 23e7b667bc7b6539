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
