#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# aifed-gateway (docs/inference.md): the official OpenAI client library
# (npm's openai, tests/gateway) calls a served model through the gateway,
# the broker and the agent: a chat completion, a streamed one, the models.
# The replicas are tests/integration/replica/server.py, a small
# OpenAI-compatible server standing in for vLLM, run as jobs at static
# sites. Keys: none, wrong, expired, revoked, another project's, another
# endpoint's, over the rate limit: each answered with its status and
# problem+json; usage counted per key. Failover: kill -9 one replica's
# agent under a steady stream of requests: the other answers, a
# replacement becomes LIVE, and the failures are counted. Scale to zero
# and back; scale up under load; an endpoint kept to two countries stays
# there through a failover.
. "$(dirname "$0")/lib.sh"

command -v node >/dev/null && [[ -d $SRC/tests/gateway/node_modules/openai ]] ||
    { ok "# SKIP no Node.js or no openai package (deploy/install-deps.sh installs them)"; exit 0; }
export FED_GATEWAYS=gw1
start_federation mimer pharos bsc || exit 1
fed_demo_account || { fail "no demo account"; exit 1; }
fed_start_gateway "$T" gw1 || { fail "the gateway did not start"; exit 1; }
GW=$FED_GATEWAY_URL
export NODE_EXTRA_CA_CERTS=$T/keys/gateway.crt
oai() { node "$SRC/tests/gateway/client.mjs" "$GW/e/$1/v1" "$2" "$3" "$1"; }
# call ENDPOINT KEY [curl args] : status code, then the body, of a chat completion
call() {
    local ep=$1 key=$2; shift 2
    curl -s --cacert "$T/keys/gateway.crt" --max-time 30 -o "$T/body" -w '%{http_code}' \
        ${key:+-H "Authorization: Bearer $key"} -H 'Content-Type: application/json' \
        -d '{"model":"x","messages":[{"role":"user","content":"hi"}]}' "$@" \
        "$GW/e/$ep/v1/chat/completions"
}
ep() { ctlj alice endpoint show "$1"; }
live() { ep "$1" | jq -r '[.replicas[] | select(.state == "LIVE") | .site] | sort | join(",")'; }

quiet ctl alice serve "$(served_task tiny 2)"
key=$(ctlj alice endpoint key create --project llm-eu --name tests | jq -r .key)
check "a key is made for the project, shown once" test "${key:0:9}" = aifed-k1.
wait_for "the endpoint's two replicas are LIVE" 60 '[[ $(live tiny | tr -cd , | wc -c) == 1 ]]'

out=$(oai tiny "$key" chat)
check "the OpenAI client: a chat completion through the gateway" \
    grep -q '^{"content":"hello from job-' <<<"$out"
check "... with the replica's token usage" test "$(jq -r .usage.total_tokens <<<"$out")" = 4
out=$(oai tiny "$key" stream)
check "the OpenAI client: a streamed completion, chunk by chunk" \
    test "$(jq -r '(.chunks >= 3) and (.content | startswith("hello from job-"))' <<<"$out")" = true
check "the OpenAI client: the models" test "$(oai tiny "$key" models | jq -r '.ids[0]')" = tiny
sites=""
for i in 1 2 3 4 5 6; do
    call tiny "$key" -D "$T/head" >/dev/null
    sites+=" $(tr -d '\r' <"$T/head" | sed -n 's/^X-Aifed-Site: //Ip')"
done
check "requests take turns between the two sites" test "$(tr ' ' '\n' <<<"$sites" | sort -u | grep -c .)" = 2

# Keys: each refusal is its status with problem+json.
problem() { # problem STATUS WORDS : the last answer was STATUS, problem+json saying WORDS
    [[ $1 == "$code" ]] && jq -e --arg w "$2" --argjson s "$1" \
        '.status == $s and .type == "about:blank" and (.detail | contains($w))' "$T/body" >/dev/null
}
code=$(call tiny "")
check "no key: 401, problem+json" problem 401 "no key"
code=$(call tiny "aifed-k1.bogus.bogus")
check "a wrong key: 401" problem 401 "not valid"
c=${key:20:1}
code=$(call tiny "${key:0:20}$([[ $c == A ]] && echo B || echo A)${key:21}")
check "a key altered by one character: 401" problem 401 "not valid"
short=$(ctlj alice endpoint key create --project llm-eu --expires 2s | jq -r .key)
sleep 3
code=$(call tiny "$short")
check "an expired key: 401" problem 401 "expired"
gone=$(ctlj alice endpoint key create --project llm-eu | jq -r '.key + " " + .id')
quiet ctl alice endpoint key revoke "${gone#* }"
code=$(call tiny "${gone% *}")
check "a revoked key: 401, at once" problem 401 "revoked"
bobs=$(ctlj bob endpoint key create --project bio-x | jq -r .key)
code=$(call tiny "$bobs")
check "another project's key: 403" problem 403 "is for project bio-x"
other=$(ctlj alice endpoint key create --project llm-eu --endpoint tiny | jq -r .key)
code=$(call nope "$other")
check "a key for another endpoint: 403 (the gateway says it)" problem 403 "is for endpoint tiny"
code=$(call nope "$key")
check "an endpoint that is not there: 404" problem 404 "no endpoint nope"
slow=$(ctlj alice endpoint key create --project llm-eu --rate 1 | jq -r .key)
codes=""
for i in 1 2 3 4; do codes+="$(call tiny "$slow" -D "$T/head") "; done
check "over the key's rate: 429" grep -q 429 <<<"$codes"
check "... with Retry-After" grep -qi '^Retry-After: [0-9]' "$T/head"
check "usage is counted per key" \
    test "$(ctlj alice endpoint key list | jq -r --arg k tests '.[] | select(.name == $k) | .requests')" -ge 9
check "... with the tokens the replicas reported (4 a chat completion)" \
    test "$(ctlj alice endpoint key list | jq -r --arg k tests '.[] | select(.name == $k) | .tokens')" -ge 4
wait_for "... and per endpoint, shown with it" 10 '[[ $(ep tiny | jq -r ".requests >= 9") == true ]]'

# Failover under a steady stream: requests every 0.1 s for 14 s; one
# replica's agent is killed after 3 s.
victim=$(live tiny | cut -d, -f1)
other=$(live tiny | cut -d, -f2)
: >"$T/stream.log"
(
    end=$((SECONDS + 14))
    while ((SECONDS < end)); do
        call tiny "$key" -D "$T/h.stream" >>"$T/stream.log"
        printf ' %s\n' "$(tr -d '\r' <"$T/h.stream" | sed -n 's/^X-Aifed-Site: //Ip')" >>"$T/stream.log"
        sleep 0.1
    done
) &
streamer=$!
sleep 3
kill -9 "$(cat "$T/agents/$victim.pid")"
rm -f "$T/agents/$victim.pid"
killed_at=$(wc -l <"$T/stream.log")
wait "$streamer"
total=$(wc -l <"$T/stream.log")
failed=$(grep -vc '^200 ' "$T/stream.log")
after=$(tail -n +"$((killed_at + 1))" "$T/stream.log")
echo "# failover: $total requests, $failed failed, $killed_at before the kill"
check "after the kill, requests are answered by the other sites ($other, then the replacement)" \
    test "$(grep -c "^200 $victim$" <<<"$after"):$(($(grep -c "^200 " <<<"$after") >= $(wc -l <<<"$after") - 5))" = 0:1
check "... and only a few failed meanwhile ($failed of $total)" test "$failed" -le 25
wait_for "a replacement becomes LIVE at the third site" 60 \
    '[[ $(live tiny | tr -cd , | wc -c) == 1 && $(live tiny) != *$victim* ]]'

# Scale to zero and back: no replica until a request comes; it waits for
# one to be LIVE; after 4 s with none, the endpoint is IDLE again.
quiet ctl alice serve "$(served_task lazy 0..1 'scale_down_delay: 4s')"
check "an endpoint of 0..1 replicas starts with none" test "$(ep lazy | jq -r '.state + " " + (.replicas | length | tostring)')" = "IDLE 0"
code=$(call lazy "$key")
check "the first request waits for a replica, then is answered" test "$code" = 200
wait_for "... and after the scale-down delay with no request, it is IDLE" 30 \
    '[[ $(ep lazy | jq -r ".state") == IDLE ]]'

# Scale up under load: 1..2 replicas, 1 request in flight each as target.
quiet ctl alice serve "$(served_task busy 1..2 'scaling: {metric: requests_in_flight, target: 1}')"
wait_for "an endpoint scaling on requests in flight has its first replica LIVE" 60 \
    '[[ $(live busy) != "" ]]'
pids=()
for i in 1 2 3; do
    curl -s --cacert "$T/keys/gateway.crt" --max-time 40 -o /dev/null \
        -H "Authorization: Bearer $key" -d '{"delay": 8}' "$GW/e/busy/v1/chat/completions" &
    pids+=($!)
done
wait_for "three slow requests in flight: a second replica is placed" 10 \
    '[[ $(ep busy | jq ".replicas | length") == 2 ]]'
wait "${pids[@]}"

# Kept to two countries through a failover: SE (mimer) and GR (pharos);
# bsc (ES) never, though it is UP and free when one of them fails.
fed_start_agent "$T" "$victim" "$SITES_DIR/$victim.site"
fed_wait_up "$T" 3 || fail "$victim did not come back"
quiet ctl alice serve "$(served_task nordic 2 '' '{country: [SE, GR]}')"
wait_for "an endpoint kept to SE and GR has two replicas LIVE" 60 \
    '[[ $(live nordic) == mimer,pharos ]]'
kill -9 "$(cat "$T/agents/pharos.pid")"
rm -f "$T/agents/pharos.pid"
wait_for "when pharos fails, its replacement is LIVE at mimer, the other SE/GR site" 60 \
    '[[ $(live nordic) == mimer,mimer ]]'
check "... and no replica of it ever ran at bsc (ES)" \
    test "$(ctlj alice jobs --project llm-eu | jq '[.[] | select(.name == "nordic")] | [length, ([.[] | select(.site == "bsc")] | length)] | join(" ")' -r)" = "3 0"
