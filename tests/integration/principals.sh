#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The principal registry: an admin adds a user and a site while the broker
# runs, rotates a key with both keys valid during the change-over, and
# revokes a principal, which takes effect at once, also on a connection that
# is already open. Every change survives a broker restart; only admins make
# them.
. "$(dirname "$0")/lib.sh"

start_federation mimer pharos || exit 1
# The restart below must come back on the same ports, for the agents.
sed -i "s|^agent_listen = .*|agent_listen = $FED_AGENT_EP|; s|^client_listen = .*|client_listen = $FED_CLIENT_EP|" "$T/broker.conf"
keygen() { "$FED_CTL_BIN" keygen --dir "$T/keys" "$1" >/dev/null; }
# refused USER : a new connection with USER's key gets no service (exit 3).
refused() {
    local out rc
    out=$(fed_ctl "$T" "$1" --timeout 5s sites 2>&1); rc=$?
    [[ $rc -eq 3 ]] && grep -q "refused your key" <<<"$out"
}
principal() { ctlj ops admin principal list | jq -c --arg id "$1" '.[] | select(.id == $id)'; }

# Only admins manage principals.
keygen carol
out=$(ctl alice admin principal add user:carol --pub "$T/keys/carol.pub" --projects bio-x 2>&1)
check "a user cannot add a principal" test "$?:$out" = "1:aifedctl: only admins manage principals"
out=$(ctl alice admin principal list 2>&1)
check "a user cannot list principals" test "$?:$out" = "1:aifedctl: only admins manage principals"
out=$(ctl ops admin principal add user:carol --pub "$T/keys/carol.pub" 2>&1)
check "a user needs projects" test "$?:$out" = "1:aifedctl: a user needs the projects it may act for"
out=$(ctl ops admin principal add user:carol --pub "$T/keys/alice.pub" --projects bio-x 2>&1)
check "a key of another principal is refused" \
    test "$?:$out" = "1:aifedctl: that key is already registered"
out=$(ctl ops admin principal add carol --pub "$T/keys/carol.pub" 2>&1)
check "an id without its kind is bad usage" test "$?" -eq 2
out=$(ctl ops admin principal revoke admin:ops 2>&1)
check "an admin cannot revoke itself" \
    test "$?:$out" = "1:aifedctl: admins cannot revoke themselves (ask another admin)"
check "before it is added, carol's key is refused" refused carol

# Add a user at run time: served at once, for its projects only.
check "ops adds user:carol" \
    quiet ctl ops admin principal add user:carol --pub "$T/keys/carol.pub" --projects bio-x
check "the registry lists carol with one key" \
    test "$(principal user:carol | jq -c '[(.public_keys | length), .projects, .revoked]')" = '[1,["bio-x"],false]'
audit_n=$(ctlj ops admin audit | jq length)
check "the same add again (a retry whose answer was lost) is answered as the first" \
    quiet ctl ops admin principal add user:carol --pub "$T/keys/carol.pub" --projects bio-x
check "... and changes nothing" \
    test "$(principal user:carol | jq -c '[(.public_keys | length), .projects, .revoked]')" = '[1,["bio-x"],false]'
check "... not even the audit log" test "$(ctlj ops admin audit | jq length)" -eq "$audit_n"
check "carol sees the sites" test "$(ctlj carol sites | jq length)" -eq 2
lease=$(ctlj carol submit --project bio-x --gpus 1 | jq -r .id)
check "carol's submit for bio-x is ACTIVE" \
    test "$(ctlj carol lease show "$lease" | jq -r .state)" = ACTIVE
out=$(ctl carol submit --project llm-eu --gpus 1 2>&1 | tail -n 1)
check "carol cannot submit for llm-eu" \
    test "$out" = "aifedctl: user:carol is not a member of project llm-eu"

# Rotation: a second key, both valid, a third refused, then the old removed.
keygen carol2
keygen carol3
check "ops gives carol a second key" \
    quiet ctl ops admin principal add user:carol --pub "$T/keys/carol2.pub"
check "the old key still works" quiet ctlj carol sites
check "the new key works" quiet ctlj carol2 sites
check "the new key sees carol's lease" \
    test "$(ctlj carol2 lease show "$lease" | jq -r .principal)" = user:carol
out=$(ctl ops admin principal add user:carol --pub "$T/keys/carol3.pub" 2>&1)
check "a third key is refused" \
    test "$?:$out" = "1:aifedctl: it has two keys already: remove one first"
check "ops removes the old key" \
    quiet ctl ops admin principal remove-key user:carol --pub "$T/keys/carol.pub"
check "the old key is refused" refused carol
check "the new key still works" quiet ctlj carol2 sites
out=$(ctl ops admin principal remove-key user:carol --pub "$T/keys/carol2.pub" 2>&1)
check "the last key cannot be removed" \
    test "$?:$out" = "1:aifedctl: that is the only key of user:carol: revoke it instead"

# Revocation reaches a connection that is already open.
"$RAWSEND" "$FED_CLIENT_EP" "$T/keys/broker.pub" "$T/keys/carol2.key" twice "$T/go" \
    >"$T/twice.out" 2>&1 &
raw=$!
wait_for "carol's open connection is served" 10 'test "$(head -n 1 "$T/twice.out")" = ok'
check "ops revokes carol" quiet ctl ops admin principal revoke user:carol
touch "$T/go"
wait "$raw"
check "the open connection is refused at its next message" test "$(sed -n 2p "$T/twice.out")" = \
    "3 this key is no longer valid here (revoked or replaced)"
check "a new connection with carol's key is refused" refused carol2
check "the registry shows carol revoked" test "$(principal user:carol | jq .revoked)" = true
check "ops can still see carol's lease" \
    test "$(ctlj ops lease show "$lease" | jq -r .state)" = ACTIVE

# A site added at run time: its agent connects and comes UP.
keygen it4lia
check "ops adds site:it4lia" quiet ctl ops admin principal add site:it4lia --pub "$T/keys/it4lia.pub"
fed_start_agent "$T" it4lia "$SITES_DIR/it4lia.site"
check "it4lia comes UP" fed_wait_up "$T" 3

# Everything survives a restart of the broker.
check "the broker stops cleanly" fed_stop_pid "$T/broker.pid"
fed_start_broker "$T" || exit 1
check "after the restart carol is still revoked" refused carol2
check "after the restart the old key is still refused" refused carol
check "after the restart it4lia is registered and comes UP" fed_wait_up "$T" 3
check "after the restart the registry lists carol revoked" \
    test "$(principal user:carol | jq -c '[.revoked, .from_config]')" = '[true,false]'

# A revoked principal may come back with a new key only.
check "ops registers carol again with a third key" \
    quiet ctl ops admin principal add user:carol --pub "$T/keys/carol3.pub" --projects bio-x
check "the third key works" quiet ctlj carol3 sites
check "the revoked key stays refused" refused carol2

# A retried submit answers only while its sender may still see the lease: a
# user who lost the project gets neither the lease nor its token.
check "carol's submit for bio-x is granted" test "$(ctlj carol3 submit --project bio-x \
    --gpus 1 --request-id rq-carol-1 | jq -r .state)" = ACTIVE
check "ops moves carol to project llm-eu only" \
    quiet ctl ops admin principal add user:carol --pub "$T/keys/carol3.pub" --projects llm-eu
out=$(ctl carol3 submit --project llm-eu --gpus 1 --request-id rq-carol-1 2>&1); rc=$?
check "her retry is refused (exit 1)" test "$rc" -eq 1
check "saying she no longer acts for bio-x" grep -q "no longer a member of project bio-x" <<<"$out"
check "and shows no token" test "$(grep -c aifed1 <<<"$out")" -eq 0

# Revoking a site: its agent's open connection is refused, the site goes DOWN.
check "ops revokes site:it4lia" quiet ctl ops admin principal revoke site:it4lia
wait_for "it4lia goes DOWN" 15 \
    'test "$(ctlj ops sites | jq -r ".[] | select(.id == \"it4lia\") | .state")" = DOWN'
check "the others stay UP" \
    test "$(ctlj ops sites | jq '[.[] | select(.state == "UP")] | length')" -eq 2
fed_stop_pid "$T/agents/it4lia.pid"
check "the audit log records the revocation" test "$(ctlj ops admin audit | jq -r \
    '[.[] | select(.subject == "site:it4lia" and .change == "principal revoked")] | length')" -eq 1

# A key an admin adds to a user is no secret from the user: every answer
# tells her (a NOTICE, once a run) until she reads it with whoami --ack, and
# whoami lists every key with who added it and when (before, she was never
# told, and the key ran jobs as her at every site that maps her).
"$FED_CTL_BIN" keygen --dir "$T/keys" mallory >/dev/null
check "ops adds a second key to alice" \
    quiet ctl ops admin principal add user:alice --pub "$T/keys/mallory.pub"
ctl alice sites >/dev/null 2>"$T/notice.err"
check "alice's next call tells her, on stderr" \
    grep -q "^aifedctl: NOTICE: admin:ops added a key (.*) to user:alice at .*whoever holds it acts as you" "$T/notice.err"
who=$(ctlj alice whoami 2>/dev/null)
check "whoami lists both keys, the new one as added by admin:ops" \
    test "$(jq -c '[.keys[].added_by]' <<<"$who")" = '["broker.conf","admin:ops"]'
check "... with the notice" grep -q "admin:ops added a key" <<<"$(jq -r .notice <<<"$who")"
check "the notice outlives a broker restart" fed_stop_pid "$T/broker.pid"
fed_start_broker "$T" || exit 1
fed_wait_up "$T" 2 >/dev/null
ctl alice sites >/dev/null 2>"$T/notice2.err"
check "... and is said again after it" grep -q "NOTICE: admin:ops added a key" "$T/notice2.err"
quiet ctl alice whoami --ack
ctl alice sites >/dev/null 2>"$T/notice3.err"
check "once she has read it (whoami --ack), answers say nothing more" test ! -s "$T/notice3.err"
check "an admin's change to its own keys tells no one" \
    test "$(ctlj ops whoami | jq -r .notice)" = null
