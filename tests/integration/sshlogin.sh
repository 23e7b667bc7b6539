#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Logging in with a EuroHPC SSH certificate (issue 29): ssh-keygen is the
# CA. A newcomer with a certificate and no CURVE key logs in and submits
# with no key mailed to anyone; the enrolment survives a restart, ends with
# logout or with the certificate. Each bad certificate, signature and
# challenge is refused with words that say which check failed.
. "$(dirname "$0")/lib.sh"

S=$T/ssh
mkdir -p "$S"
for k in ca ca2 id_ed25519 other; do ssh-keygen -q -t ed25519 -N '' -C "$k" -f "$S/$k"; done
# certify NAME CA ARGS...: a certificate of the user's key (copied as NAME).
certify() {
    local name=$1 ca=$2; shift 2
    cp "$S/id_ed25519" "$S/$name" && cp "$S/id_ed25519.pub" "$S/$name.pub"
    ssh-keygen -q -s "$S/$ca" -I "id-$name" "$@" "$S/$name.pub"
}
grant="extension:ssh-domain-grant@core.aai.geant.org"
certify good ca -n newbie@myaccessid.org -V -5m:+1h -O "$grant=lumi"
certify expired ca -n newbie@myaccessid.org -V 20200101:20200102 -O "$grant=lumi"
certify future ca -n newbie@myaccessid.org -V +1d:+2d -O "$grant=lumi"
certify stranger ca2 -n newbie@myaccessid.org -V -5m:+1h -O "$grant=lumi"
certify elsewhere ca -n newbie@example.org -V -5m:+1h -O "$grant=lumi"
certify mimer ca -n newbie@myaccessid.org -V -5m:+1h -O "$grant=mimer"
certify brief ca -n brief@myaccessid.org -V -1m:+25s -O "$grant=lumi"
certify forever ca -n forever@myaccessid.org -O "$grant=lumi" # no -V: valid forever
# The CA keys as the EFP SSH CA's /config publishes them (JSON).
printf '{"ssh_ca": {"keys": ["%s"]}}\n' "$(cat "$S/ca.pub")" >"$T/ca.json"

fed_init "$T" mimer || exit 1
sed -i "s|^\[broker\]$|[broker]\nssh_ca_keys = $T/ca.json\nssh_domain = lumi\nlogin_projects = llm-eu|" "$T/broker.conf"
# Restarts come back on the same ports.
fed_start_broker "$T" || exit 1
sed -i "s|^agent_listen = .*|agent_listen = $FED_AGENT_EP|; s|^client_listen = .*|client_listen = $FED_CLIENT_EP|" "$T/broker.conf"
fed_start_agent "$T" mimer "$SITES_DIR/mimer.site"
fed_wait_up "$T" 1 || exit 1
new() { "$FED_CTL_BIN" --broker "$FED_CLIENT_EP" --broker-key "$T/keys/broker.pub" --key "$T/keys/$1.key" --timeout 20s "${@:2}"; }

"$FED_CTL_BIN" keygen --dir "$T/keys" stray >/dev/null
out=$(new stray sites 2>&1); rc=$?
check "a key nobody registered is told to log in first" \
    test "$rc" -ne 0 -a -n "$(grep -F 'log in first (aifedctl login --ssh-cert FILE)' <<<"$out")"
out=$(new newbie login --ssh-cert "$S/good-cert.pub" 2>&1); rc=$?
check "a newcomer logs in with her certificate ($rc)" grep -q "^logged in as user:newbie until " <<<"$out"
check "... her CURVE key was made for her, 0600" test "$(stat -c %a "$T/keys/newbie.key")" = 600
who=$(new newbie --json whoami 2>/dev/null)
check "whoami: user:newbie, with login_projects' projects" \
    test "$(jq -c '[.principal, .projects]' <<<"$who")" = '["user:newbie",["llm-eu"]]'
check "she submits, with no key mailed to anyone" \
    test "$(new newbie --json submit --project llm-eu --gpus 1 | jq -r .state)" = ACTIVE

for c in expired:"certificate refused: expired" future:"certificate refused: not valid yet" \
    stranger:"certificate refused: signed by a CA this broker does not trust" \
    elsewhere:"certificate refused: none of its principals is a user ending with @myaccessid.org" \
    mimer:"certificate refused: granted for mimer, not for lumi"; do
    out=$(new "k-${c%%:*}" login --ssh-cert "$S/${c%%:*}-cert.pub" 2>&1); rc=$?
    check "the ${c%%:*} certificate is refused, saying so ($rc)" \
        test "$rc" -ne 0 -a -n "$(grep -F "${c#*:}" <<<"$out")"
done
"$FED_CTL_BIN" keygen --dir "$T/keys" peer >/dev/null
"$FED_CTL_BIN" keygen --dir "$T/keys" thief >/dev/null
peer() { "$AIFED_BUILD/tests/integration/loginpeer" "$FED_CLIENT_EP" "$T/keys/broker.pub" "$T/keys/peer.key" "$S/good-cert.pub" "$@"; }
out=$(peer "$S/good" replay)
check "a login replayed after a logout is refused: its challenge was used ($(tr '\n' '|' <<<"$out"))" \
    test "$(sed -n 3p <<<"$out")" = "3 that challenge was never given or used already: ask for a new one (aifedctl login does)"
out=$(peer "$S/good" tamper)
check "a tampered signature is refused" grep -q "^3 signature refused: " <<<"$out"
out=$(peer "$S/other" replay | head -n 1)
check "a signature by another key than the certificate's is refused" \
    test "$out" = "3 signature refused: signed by another key than the certificate's"
out=$(peer "$S/good" stolen "$T/keys/thief.key")
check "a login signed for one CURVE key cannot enrol another" grep -q "^3 signature refused: the SSH signature does not verify" <<<"$out"

check "the enrolment survives a broker restart" fed_stop_pid "$T/broker.pid"
fed_start_broker "$T" || exit 1
fed_wait_up "$T" 1 >/dev/null
check "... she is still user:newbie after it" test "$(new newbie --json whoami | jq -r .principal)" = user:newbie
out=$(new newbie logout 2>&1)
check "logout ends it" test "$out" = "logged out: this key no longer acts as user:newbie"
refused() { ! "$@" >/dev/null 2>&1; }
check "... and her key is refused after it" refused new newbie sites

# A certificate valid forever is enrolled for login_lifetime (1d), no longer.
new forever login --ssh-cert "$S/forever-cert.pub" >/dev/null 2>&1
until=$(new forever --json whoami | jq -r '.enrolments[0].expires')
check "a certificate without an end is enrolled for a day ($until)" \
    test "$(($(date -d "$until" +%s) - $(date +%s)))" -gt 86000 -a "$(($(date -d "$until" +%s) - $(date +%s)))" -le 86400

# A certificate that expires ends the enrolment with it.
check "a certificate valid for seconds logs in" quiet new brief login --ssh-cert "$S/brief-cert.pub"
check "... and is served while it is valid" quiet new brief sites
wait_for "... and refused once it has expired" 60 '! new brief sites >/dev/null 2>&1'
