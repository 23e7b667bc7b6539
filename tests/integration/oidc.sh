#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Logging in with MyAccessID (OpenID, issue 29): a real OpenID provider on
# loopback (tests/oidc: panva's oidc-provider, which deploy/install-deps.sh
# installs with npm ci), the test playing the user's browser. A newcomer
# runs `aifedctl login`, approves the code in the browser, and runs her
# first job with the projects her groups give, with no key mailed to anyone;
# the login is renewed with the refresh token as she uses it, and logout
# ends it. An expired token, one of another issuer, one for another
# audience, one another key used, a tampered one and one signed by a key
# the issuer no longer publishes are each refused, saying which; a rotated
# key is fetched and taken.
. "$(dirname "$0")/lib.sh"

OIDC=$SRC/tests/oidc
O=$T/oidc
skip() {
    echo "1..0 # SKIP $*"
    trap - EXIT
    rm -rf "$T"
    exit 77
}
command -v node >/dev/null || skip "no Node.js for the OpenID provider"
[[ -d $OIDC/node_modules/oidc-provider ]] ||
    skip "the OpenID provider is not installed (deploy/install-deps.sh: npm ci in tests/oidc)"
mkdir -p "$O" "$T/logs"

# The provider's accounts: a CUID each, the groups MyAccessID would give.
cat >"$O/accounts.json" <<'J'
{"newbie@myaccessid.org": {"groups": ["urn:test:group:llm-eu#test", "urn:test:group:bio-x", "unrelated"]},
 "short@myaccessid.org": {"groups": ["urn:test:group:llm-eu"], "ttl": 40},
 "brief@myaccessid.org": {"groups": ["urn:test:group:llm-eu"], "ttl": 2},
 "nogroup@myaccessid.org": {"groups": ["unrelated"]}}
J
# provider NAME PORT KEY : start it (PORT 0: any), wait until it listens;
# its issuer into $ISSUER.
provider() {
    local log=$T/logs/oidc-$1.log i
    : >"$log"
    node "$OIDC/provider.mjs" "$2" "$O/$3.jwk" "$O/accounts.json" >>"$log" 2>&1 &
    echo $! >"$O/$1.pid"
    for ((i = 0; i < 300; i++)); do
        ISSUER=$(sed -n 's/^ready //p' "$log")
        [[ -n $ISSUER ]] && return 0
        sleep 0.1
    done
    echo "# the provider $1 did not start: $(tail -n 3 "$log")"
    return 1
}
stop_provider() { [[ -f $O/$1.pid ]] && kill "$(cat "$O/$1.pid")" 2>/dev/null; rm -f "$O/$1.pid"; }
trap 'stop_provider a; stop_provider b; finish' EXIT
provider a 0 key-a || { fail "the OpenID provider started"; exit 1; }
A=$ISSUER
provider b 0 key-b || { fail "a second OpenID provider started"; exit 1; }
B=$ISSUER
SCOPES="openid offline_access groups"
token() { node "$OIDC/token.mjs" "$@" 2>>"$T/logs/token.log"; } # ISSUER CLIENT ACCOUNT SCOPES

fed_init "$T" mimer || exit 1
sed -i "s|^\[broker\]$|[broker]\noidc_issuer = $A\noidc_projects_claim = groups\noidc_project_prefix = urn:test:group:|" "$T/broker.conf"
fed_start_broker "$T" || exit 1
fed_start_agent "$T" mimer "$SITES_DIR/mimer.site"
fed_wait_up "$T" 1 || exit 1
fed_demo_account >/dev/null || fail "no demo account: the first job cannot run"
wait_for "the broker fetched the issuer's signing keys" 15 \
    'grep -q "OpenID issuer $A: signing keys fetched" "$T/logs/broker.log"'

# A newcomer's config names the broker, where her key is to be, and the
# issuer; nothing else, and no key of hers exists anywhere yet.
N=$T/newbie
mkdir -p "$N"
cp "$T/keys/broker.pub" "$N/broker.pub"
printf '[aifedctl]\nbroker = %s\nbroker_key = broker.pub\nkey = newbie.key\noidc_issuer = %s\noidc_scopes = %s\n' \
    "${FED_CLIENT_EP#tcp://}" "$A" "$SCOPES" >"$N/config"
as() { local dir=$1; shift; env -u AIFED_BROKER -u AIFED_BROKER_KEY -u AIFED_KEY AIFED_CONFIG="$dir/config" "$FED_CTL_BIN" "$@"; }
# login_as DIR ACCOUNT : aifedctl login, the browser approving as ACCOUNT;
# its output into DIR/login.out and .err, its status returned.
login_as() {
    local dir=$1 url i pid
    as "$dir" --timeout 60s login >"$dir/login.out" 2>"$dir/login.err" &
    pid=$!
    for ((i = 0; i < 200; i++)); do
        url=$(sed -n 's/^To log in, open \(http[^ ]*\)$/\1/p' "$dir/login.err" | head -n 1)
        [[ -n $url ]] && break
        sleep 0.1
    done
    [[ -n $url ]] && node "$OIDC/browser.mjs" "$url" "$2" >"$dir/browser.out" 2>&1
    wait "$pid"
}

login_as "$N" newbie@myaccessid.org; rc=$?
check "aifedctl login shows where to approve, and the code" \
    grep -q "^(or open $A/device and enter the code [A-Z]\{4\}-[A-Z]\{4\})$" "$N/login.err"
check "approved in the browser, the login ends: user:newbie ($rc: $(cat "$N/login.err" "$N/browser.out" | tr '\n' ' '))" \
    grep -q "^logged in as user:newbie until .*; aifedctl renews it as you use it$" "$N/login.out"
check "... her CURVE key was made for her, 0600, and the login kept beside it, 0600" \
    test "$(stat -c %a "$N/newbie.key"):$(stat -c %a "$N/newbie.login")" = 600:600
check "... which keeps the refresh token, not the ID token" \
    test -n "$(grep '^refresh_token = .' "$N/newbie.login")" -a -z "$(grep -i 'id_token' "$N/newbie.login")"
who=$(as "$N" --json whoami)
check "her projects are those her groups give (the prefix taken off, to '#')" \
    test "$(jq -c '[.principal, .projects]' <<<"$who")" = '["user:newbie",["llm-eu","bio-x"]]'
check "... and whoami says how her key came" \
    grep -q "OpenID token of $A" <<<"$(jq -r '.enrolments[].how' <<<"$who")"
printf 'name: first\nproject: llm-eu\nresources: {gpus: 1, walltime: 10m}\nrun: echo "hello from $AIFED_JOB_ID"\n' >"$N/first.yaml"
out=$(as "$N" run "$N/first.yaml" 2>&1); rc=$?
check "her first job runs, with no key mailed to anyone ($rc)" grep -q "^hello from job-" <<<"$out"
out=$(as "$N" submit --project climate --gpus 1 2>&1)
check "... a project her groups do not give is refused" grep -q "climate" <<<"$out"

# Renewal: short's ID token lives 40 s, so her enrolment ends within the
# quarter hour, and each command renews it first.
S=$T/short
mkdir -p "$S"
sed "s/newbie.key/short.key/" "$N/config" >"$S/config"
cp "$N/broker.pub" "$S/"
login_as "$S" short@myaccessid.org
first=$(grep -o '^until_ms = [0-9]*' "$S/short.login" | cut -d' ' -f3)
rt=$(grep '^refresh_token' "$S/short.login")
sleep 1.1
check "a command renews a login near its end" quiet as "$S" whoami
again=$(grep -o '^until_ms = [0-9]*' "$S/short.login" | cut -d' ' -f3)
check "... with the refresh token: the enrolment ends later (${first:-?} -> ${again:-?})" \
    test -n "$first" -a -n "$again" -a "${again:-0}" -gt "${first:-0}"
check "... at the broker too" \
    test "$(as "$S" --json whoami | jq -r '.enrolments[0].expires' | xargs -I{} date -d {} +%s)" -ge $((again / 1000 - 1))
check "... and the refresh token was rotated and kept" test "$(grep '^refresh_token' "$S/short.login")" != "$rt"

out=$(as "$N" logout 2>&1)
check "logout ends her login" test "$out" = "logged out: this key no longer acts as user:newbie"
check "... and forgets the refresh token" test ! -e "$N/newbie.login"
out=$(as "$N" whoami 2>&1)
check "... her key is no one's after it" grep -q "log in first" <<<"$out"

# Tokens aifedctl would never send, sent as a tool would (--id-token).
"$FED_CTL_BIN" keygen --dir "$T/keys" tok >/dev/null
"$FED_CTL_BIN" keygen --dir "$T/keys" tok2 >/dev/null
tok() { fed_ctl "$T" tok --timeout 20s "$@"; }
refused() { # refused DESC TOKEN-FILE WORDS
    local out
    out=$(tok login --id-token "$2" 2>&1)
    grep -qF "$3" <<<"$out" && ok "$1 is refused, saying so" || fail "$1 is refused, saying so: $out"
}
token "$A" aifedctl brief@myaccessid.org "$SCOPES" >"$O/brief"
sleep 3
refused "an expired token" "$O/brief" "token refused: expired"
token "$B" aifedctl newbie@myaccessid.org "$SCOPES" >"$O/b"
refused "a token of another issuer" "$O/b" "token refused: issued by $B, not by $A"
token "$A" other newbie@myaccessid.org "$SCOPES" >"$O/other"
refused "a token for another audience" "$O/other" "token refused: it is not for aifedctl"
token "$A" aifedctl nogroup@myaccessid.org "$SCOPES" >"$O/nogroup"
refused "a token whose groups name no project" "$O/nogroup" "names no project of this broker's"
token "$A" aifedctl newbie@myaccessid.org "$SCOPES" >"$O/good"
sed 's/\(.*\)...$/\1AAA/' "$O/good" >"$O/tampered"
refused "a token with its signature changed" "$O/tampered" "token refused: its signature does not verify"
out=$(tok login --id-token "$O/good" 2>&1)
check "a good token sent as a tool would logs in (--id-token): $out" grep -q "^logged in as user:newbie until " <<<"$out"
check "... and again from the same key (a login sent twice)" quiet tok login --id-token "$O/good"
out=$(fed_ctl "$T" tok2 --timeout 20s login --id-token - <"$O/good" 2>&1)
check "... but another key cannot use it" grep -qF "token refused: another key used it already" <<<"$out"

# The issuer rotates its key: the broker fetches the new one when a token
# names it, and a token of the old key is refused once it is gone.
token "$A" aifedctl newbie@myaccessid.org "$SCOPES" >"$O/old"
stop_provider a
rm -f "$O/key-a.jwk"
provider a "${A##*:}" key-a || { fail "the provider came back with a new key"; exit 1; }
token "$A" aifedctl newbie@myaccessid.org "$SCOPES" >"$O/new"
out=$(fed_ctl "$T" tok2 --timeout 20s login --id-token "$O/new" 2>&1)
check "a token of the rotated key logs in: the broker fetched the new key" \
    grep -q "^logged in as user:newbie until " <<<"$out"
check "... it fetched the keys again for it" \
    test "$(grep -c "OpenID issuer $A: signing keys fetched" "$T/logs/broker.log")" -ge 2
refused "a token of the key no longer published" "$O/old" "signed by a key the issuer does not publish"

# The broker's config: an issuer over plain http elsewhere than this machine.
sed "s|^oidc_issuer = .*|oidc_issuer = http://idp.example.org|" "$T/broker.conf" >"$T/bad.conf"
out=$("$FED_BROKER_BIN" -n -c "$T/bad.conf" 2>&1)
check "the broker refuses an issuer over http to another machine" grep -q "oidc_issuer http://idp.example.org: want https://" <<<"$out"
