#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A lease from grant to end: its signed token checks offline and any change
# to it is caught; renew within the pool's limit; admin revoke tells the
# site; an agent that restarts and forgets its holds makes them LOST; a
# site that goes silent is DOWN and comes back; when every site goes silent
# at once the broker assumes it is the one cut off.
. "$(dirname "$0")/lib.sh"

FED_DOWN_AFTER=3 start_federation mimer pharos || exit 1
SIGNING_PUB=$T/state/signing.key.pub
state_of() { ctlj ops lease show "$1" | jq -r .state; }
site_state() { ctlj ops sites | jq -r --arg s "$1" '.[] | select(.id == $s) | .state'; }

# Signed tokens.
lease=$(ctlj alice submit --project llm-eu --gpus 8 --country SE --walltime 1h | jq -r .id)
check "a lease ACTIVE at mimer" test "$(ctlj ops lease show "$lease" | jq -r .site)" = mimer
check "the broker wrote its signing public key" test -s "$SIGNING_PUB"
ctl alice lease token "$lease" >"$T/token"
out=$("$FED_CTL_BIN" verify-token "$T/token" --broker-pub "$SIGNING_PUB" --json)
check "the token verifies offline" test "$(jq -r .valid <<<"$out")" = true
check "... and says a revocation cannot be seen offline" \
    test "$(jq -c '[.checked, .revocation_checked]' <<<"$out")" = '["offline",false]'
online=$(ctl bob verify-token "$T/token" --online --json); rc=$?
check "--online: anyone with the token asks the broker, which says it holds" \
    test "$rc:$(jq -c '[.valid, .signature_valid, .checked, .state]' <<<"$online")" = '0:[true,true,"broker","ACTIVE"]'
check "the token names the lease, site and GPUs" \
    test "$(jq -c '[.lease, .site, .pool, .gpus, .principal]' <<<"$out")" = \
    "[\"$lease\",\"mimer\",\"gpu\",8,\"user:alice\"]"
check "the site countersigned it" \
    test -n "$(ctlj alice lease show "$lease" | jq -r .site_signature)"
# Alter the body: 8 GPUs become 9.
body=$(cut -d. -f2 "$T/token" | tr '_-' '/+')
while (( ${#body} % 4 )); do body+="="; done
forged=$(base64 -d <<<"$body" | sed 's/^gpus=8$/gpus=9/' | base64 -w0 | tr '/+' '_-' | tr -d =)
printf 'aifed1.%s.%s\n' "$forged" "$(cut -d. -f3 "$T/token")" >"$T/forged"
out=$("$FED_CTL_BIN" verify-token "$T/forged" --broker-pub "$SIGNING_PUB" 2>&1); rc=$?
check "an altered token is refused (exit 1)" test "$rc" -eq 1
check "and says the signature does not match" grep -q "does not match" <<<"$out"
"$FED_CTL_BIN" keygen --dir "$T/keys" stranger >/dev/null
head -c 32 /dev/urandom | base64 >"$T/other.pub"
out=$("$FED_CTL_BIN" verify-token "$T/token" --broker-pub "$T/other.pub" 2>&1); rc=$?
check "a token checked with another broker's key is refused" test "$rc" -eq 1
# A token whose time has passed is not valid, though its signature is.
# (At pharos: mimer's figures are checked below.)
short=$(ctlj alice submit --project llm-eu --gpus 1 --country GR --walltime 2s | jq -r .id)
ctl alice lease token "$short" >"$T/short"
wait_for "a 2-second lease's token expires" 15 \
    '! "$FED_CTL_BIN" verify-token "$T/short" --broker-pub "$SIGNING_PUB" >"$T/short.out" 2>&1'
check "verify-token says it is EXPIRED" grep -q "^EXPIRED token: signed by the broker" "$T/short.out"
check "and that the signature cannot show a release or revoke" \
    grep -q "cannot show whether the lease was released or revoked" "$T/short.out"
check "its JSON says so" test "$("$FED_CTL_BIN" verify-token "$T/short" --broker-pub \
    "$SIGNING_PUB" --json | jq -c '[.valid, .signature_valid, .expired]')" = "[false,true,true]"
wait_for "the broker expires that lease too" 15 \
    'test "$(ctlj alice lease show "$short" | jq -r .state)" = EXPIRED'

# Renew: within the pool's 72h maximum, and only while ACTIVE.
before=$(ctlj alice lease show "$lease" | jq -r .expires)
out=$(ctlj alice lease renew "$lease" --by 2h)
check "renew adds 2h to the walltime" test "$(jq -r .walltime_s <<<"$out")" -eq 10800
check "renew moves the expiry" test "$(jq -r .expires <<<"$out")" != "$before"
ctl alice lease token "$lease" >"$T/token2"
check "the renewed lease has a new token, valid until the new expiry" test \
    "$("$FED_CTL_BIN" verify-token "$T/token2" --broker-pub "$SIGNING_PUB" --json | jq -r .not_after)" = \
    "$(jq -r .expires <<<"$out")"
out=$(ctl alice lease renew "$lease" --by 80h 2>&1); rc=$?
check "renew past the pool's maximum walltime is refused" \
    test "$rc:$out" = "1:aifedctl: mimer/gpu allows at most 3d of walltime; the lease has 3h, so it can grow by at most 69h"
out=$(ctl alice lease renew "$lease" 2>&1); rc=$?
check "renew without --by is bad usage" test "$rc" -eq 2
out=$(ctl bob lease renew "$lease" --by 1h 2>&1); rc=$?
check "bob cannot renew alice's lease (not found)" test "$rc:$out" = "1:aifedctl: no lease $lease"

# Revoke: admins only; the site lets go.
out=$(ctl alice lease revoke "$lease" 2>&1); rc=$?
check "a user cannot revoke" test "$rc:$out" = "1:aifedctl: only admins revoke leases"
check "mimer has 56 GPUs available while the lease holds 8" test "$(site_avail mimer)" -eq 56
out=$(ctlj ops lease revoke "$lease" --reason "security incident")
check "ops revokes it" test "$(jq -r .state <<<"$out")" = REVOKED
check "the reason names who and why" \
    test "$(jq -r .reason <<<"$out")" = "revoked by admin:ops: security incident"
check "offline, its signed token still verifies (a revocation cannot be seen there)" \
    "$FED_CTL_BIN" verify-token "$T/token2" --broker-pub "$SIGNING_PUB"
out=$(ctl alice verify-token "$T/token2" --online); rc=$?
check "--online, it does not, and says why (exit 1)" \
    test "$rc:$out" = "1:NOT VALID: lease $lease is REVOKED: revoked by admin:ops: security incident (the broker says so now)"
out=$(ctlj alice verify-token "$T/forged" --online); rc=$?
check "--online, an altered token is not this broker's" \
    test "$rc:$(jq -c '[.valid, .signature_valid]' <<<"$out")" = '1:[false,false]'
wait_for "mimer drops the hold" 10 'grep -q "released lease $lease" "$T/logs/agent-mimer.log"'
wait_for "mimer's 64 GPUs are back" 10 'test "$(site_avail mimer)" -eq 64'
out=$(ctl alice lease renew "$lease" --by 1h 2>&1); rc=$?
check "a revoked lease cannot be renewed" \
    test "$rc:$out" = "1:aifedctl: lease $lease is REVOKED: only an ACTIVE or SCHEDULED lease can be renewed"

# An agent that restarts forgets its holds (static backend): LOST.
lost=$(ctlj alice submit --project llm-eu --gpus 4 --country GR | jq -r .id)
check "a lease ACTIVE at pharos" test "$(state_of "$lost")" = ACTIVE
fed_stop_pid "$T/agents/pharos.pid"
fed_start_agent "$T" pharos "$SITES_DIR/pharos.site"
wait_for "after the agent restarts, its lease is LOST" 15 'test "$(state_of "$lost")" = LOST'
check "the reason says the site no longer holds it" \
    grep -q "no longer holds it" <<<"$(ctlj alice lease show "$lost" | jq -r .reason)"

# A silent site goes DOWN, keeps its leases, and comes back UP.
kept=$(ctlj alice submit --project llm-eu --gpus 2 --country GR | jq -r .id)
kill -STOP "$(cat "$T/agents/pharos.pid")"
wait_for "silent pharos goes DOWN" 10 'test "$(site_state pharos)" = DOWN'
check "mimer stays UP" test "$(site_state mimer)" = UP
check "pharos's lease stays ACTIVE while it is DOWN" test "$(state_of "$kept")" = ACTIVE
out=$(ctl alice submit --project llm-eu --gpus 1 --country GR 2>&1); rc=$?
check "no new lease goes to a DOWN site" test "$rc" -eq 1
kill -CONT "$(cat "$T/agents/pharos.pid")"
wait_for "pharos comes back UP" 10 'test "$(site_state pharos)" = UP'
check "its lease is still ACTIVE" test "$(state_of "$kept")" = ACTIVE

# A release while the site has not let go yet: lease show says the site still
# holds the capacity, then that it let go.
gone=$(ctlj alice submit --project llm-eu --gpus 1 --country GR | jq -r .id)
holds() { ctlj alice lease show "$gone" | jq -r .site_holds; }
wait_for "pharos's advertisements list the hold" 10 'test "$(holds)" = true'
kill -STOP "$(cat "$T/agents/pharos.pid")"
check "the user releases it while pharos is stopped" \
    test "$(ctlj alice lease release "$gone" | jq -r '.state + " " + (.site_holds | tostring)')" = "RELEASED true"
check "lease show says the site still holds it" \
    grep -q "^at site: *still held: the site's last advertisement lists the hold" <<<"$(ctl alice lease show "$gone")"
kill -CONT "$(cat "$T/agents/pharos.pid")"
wait_for "once pharos has let go, lease show says so" 10 \
    'grep -q "^at site: *let go$" <<<"$(ctl alice lease show "$gone")"'

# Isolation guard: every site silent at once.
kill -STOP "$(cat "$T/agents/pharos.pid")" "$(cat "$T/agents/mimer.pid")"
wait_for "the broker notices it hears no site" 10 'grep -q "every site went silent at once" "$T/logs/broker.log"'
check "no site is marked DOWN" test "$(ctlj ops sites | jq '[.[] | select(.state == "DOWN")] | length')" -eq 0
out=$(ctl alice submit --project llm-eu --gpus 1 2>&1 | tail -n 1)
check "a submit is refused, saying why" grep -q "the broker hears no site" <<<"$out"
check "the sites table warns" grep -q "WARNING: every site went silent" <<<"$(ctl ops sites)"
check "ops confirms the silence" quiet ctl ops admin site confirm-down
check "now both are DOWN" test "$(ctlj ops sites | jq '[.[] | select(.state == "DOWN")] | length')" -eq 2
kill -CONT "$(cat "$T/agents/pharos.pid")" "$(cat "$T/agents/mimer.pid")"
check "both come back" fed_wait_up "$T" 2
check "the kept lease survived it all" test "$(state_of "$kept")" = ACTIVE

# Drain: no new leases at the site, its leases stay.
out=$(ctl alice admin site drain pharos 2>&1); rc=$?
check "a user cannot drain a site" test "$rc:$out" = "1:aifedctl: only admins act on sites"
check "ops drains pharos" quiet ctl ops admin site drain pharos
out=$(ctl alice submit --project llm-eu --gpus 1 --country GR 2>&1); rc=$?
check "a drained site takes no new lease" test "$rc" -eq 1
check "explain says pharos is drained" grep -q "drained" <<<"$(ctlj alice explain \
    --project llm-eu --gpus 1 | jq -r '.[] | select(.site == "pharos") | .reason')"
check "the sites table shows it" grep -q "^pharos .* DRAIN " <<<"$(ctl ops sites)"
check "ops undrains pharos" quiet ctl ops admin site undrain pharos
check "pharos takes leases again" \
    test "$(ctlj alice submit --project llm-eu --gpus 1 --country GR | jq -r .state)" = ACTIVE

# The audit log: every change, chained; admins only; readable with --db.
out=$(ctl alice admin audit 2>&1); rc=$?
check "a user cannot read the audit log" test "$rc:$out" = "1:aifedctl: only admins read the audit log"
audit=$(ctlj ops admin audit)
for change in "NEW->PENDING" "PENDING->ACTIVE" "ACTIVE renewed" "ACTIVE->REVOKED" \
    "ACTIVE->LOST"; do
    check "the audit log records $change" \
        test "$(jq --arg c "$change" '[.[] | select(.change | startswith($c))] | length' <<<"$audit")" -ge 1
done
check "the revocation's entry names who and why" test "$(jq -r --arg l "$lease" \
    '.[] | select(.subject == $l and .change == "ACTIVE->REVOKED") | .text' <<<"$audit")" = \
    "revoked by admin:ops: security incident"
check "the chain verifies" grep -q "audit chain intact" <<<"$(ctl ops admin audit --verify)"
since=$(jq -r '.[-1].time' <<<"$audit")
check "--since shows only the newer entries" \
    test "$(ctlj ops admin audit --since "$since" | jq length)" -lt "$(jq length <<<"$audit")"
# aligned N < TABLE: column N starts at the same place in every line as in
# the header (a value too long for its column pushes the rest out of line).
aligned() {
    awk -v n="$1" 'NR == 1 { col = index($0, " " $n) }
        substr($0, col, 1) != " " || substr($0, col + 1, 1) == " " { bad = 1 }
        END { exit bad || NR < 2 }'
}
check "the lease table's columns line up" aligned 2 <<<"$(ctl ops leases)"
check "the audit table's columns line up" aligned 4 <<<"$(ctl ops admin audit)"
db() { "$FED_CTL_BIN" --db "$T/state" "$@"; }
check "--db lists the leases while the broker runs" \
    test "$(db leases --json | jq -c '[.[].id] | sort')" = "$(ctlj ops leases | jq -c '[.[].id] | sort')"
check "--db shows a lease" test "$(db lease show "$lease" --json | jq -r .state)" = REVOKED
out=$(db sites 2>&1); rc=$?
check "--db refuses what it cannot answer" test "$rc" -eq 2
mkdir -p "$T/backup"
check "mdb_copy backs up the store while the broker runs" mdb_copy -c "$T/state" "$T/backup"
check "the backup lists the same leases" \
    test "$(db leases --json | jq -c '[.[].id]')" = \
    "$("$FED_CTL_BIN" --db "$T/backup" leases --json | jq -c '[.[].id]')"
check "the backup's audit chain verifies" \
    grep -q "audit chain intact" <<<"$("$FED_CTL_BIN" --db "$T/backup" admin audit --verify)"
check "the broker stops cleanly" fed_stop_pid "$T/broker.pid"
check "--db reads the audit log with the broker down" \
    grep -q "audit chain intact" <<<"$(db admin audit --verify)"
check "--db reads a lease with the broker down" \
    test "$(db lease show "$lease" --json | jq -r .state)" = REVOKED
# Alter one entry's text behind the broker's back (same length, valid protobuf).
mdb_dump -p -s audit "$T/state" | sed 's/security incident/security accident/' >"$T/audit.dump"
mdb_load -s audit -f "$T/audit.dump" "$T/state" 2>/dev/null
out=$(db admin audit --verify 2>&1); rc=$?
check "an altered audit entry breaks the chain (exit 1)" test "$rc" -eq 1
check "and is named" grep -q "BROKEN at entry" <<<"$out"
