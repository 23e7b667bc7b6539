#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SIGHUP: the broker reads broker.conf again (keys and principals take
# effect at once, leases untouched, a broken file changes nothing) and the
# agent reads its site file again (its holds carry over).
. "$(dirname "$0")/lib.sh"

fed_init "$T" mimer pharos || exit 1
cp "$SITES_DIR/mimer.site" "$T/mimer.site"
fed_start_broker "$T" || exit 1
fed_start_agent "$T" mimer "$T/mimer.site"
fed_start_agent "$T" pharos "$SITES_DIR/pharos.site"
fed_wait_up "$T" 2 || exit 1
refused() {
    local out rc
    out=$(fed_ctl "$T" "$1" --timeout 5s sites 2>&1); rc=$?
    [[ $rc -eq 3 ]] && grep -q "refused your key" <<<"$out"
}
hup_broker() {
    local n
    n=$(grep -c "reload: .* read again\|reload: .*stays" "$T/logs/broker.log")
    kill -HUP "$(cat "$T/broker.pid")"
    wait_for "$1" 5 "test \$(grep -c 'reload: .* read again\|reload: .*stays' '$T/logs/broker.log') -gt $n"
}
lease=$(ctlj alice submit --project llm-eu --gpus 8 --country SE | jq -r .id)
check "a lease at mimer" test "$(ctlj ops lease show "$lease" | jq -r .state)" = ACTIVE

"$FED_CTL_BIN" keygen --dir "$T/keys" dave >/dev/null
"$FED_CTL_BIN" keygen --dir "$T/keys" alice2 >/dev/null
check "dave is not known yet" refused dave
printf '\n[user:dave]\npublic_key = keys/dave.pub\nprojects = bio-x\n' >>"$T/broker.conf"
# bob leaves; alice moves to a new key.
sed -i '/^\[user:bob\]/,/^$/d; s|^public_key = keys/alice.pub|public_key = keys/alice2.pub|' "$T/broker.conf"
hup_broker "the broker reloads on SIGHUP"
check "it says what changed" grep -q "reload: principals from .*: 1 added, 1 changed, 1 revoked" "$T/logs/broker.log"
check "dave is served" quiet ctlj dave sites
check "bob is refused" refused bob
check "alice's new key is served" test "$(ctlj alice2 lease show "$lease" | jq -r .state)" = ACTIVE
check "alice's old key is refused" refused alice
check "the lease is untouched" test "$(ctlj ops lease show "$lease" | jq -r .state)" = ACTIVE

cp "$T/broker.conf" "$T/broker.conf.good"
echo "this is not = [valid" >>"$T/broker.conf"
hup_broker "a broken broker.conf is reported"
check "the error names the file and line" grep -q "reload: .*broker.conf:[0-9]*.*the running configuration stays" "$T/logs/broker.log"
check "dave is still served" quiet ctlj dave sites
cp "$T/broker.conf.good" "$T/broker.conf"

# The agent: mimer's file now says 32 free besides its holds; the 8 held stay.
sed -i 's/^gpus_free = 64/gpus_free = 32/' "$T/mimer.site"
kill -HUP "$(cat "$T/agents/mimer.pid")"
wait_for "mimer reports 24 free (32 less the 8 held)" 10 'test "$(site_free mimer)" -eq 24'
check "the lease at mimer is still ACTIVE" test "$(ctlj ops lease show "$lease" | jq -r .state)" = ACTIVE
echo "[site" >>"$T/mimer.site"
kill -HUP "$(cat "$T/agents/mimer.pid")"
wait_for "a broken site file is reported" 5 'grep -q "reload: .*the site stays as it was" "$T/logs/agent-mimer.log"'
check "mimer still advertises what it had" test "$(site_free mimer)" -eq 24
