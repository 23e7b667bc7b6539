#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A principal may say what it should and nothing else: a site cannot speak
# for another site or another site's lease; a peer without CURVE gets
# nothing; a flood is limited per principal while everyone else is served;
# the waiting submits of one principal are bounded, and so are the records
# it can make the broker keep. Each refusal leaves the broker up and the
# store unchanged.
. "$(dirname "$0")/lib.sh"

# pharos is stopped below while two submits wait for it: a long hold timeout
# and DOWN only after 20 s keep both waiting however slowly they arrive.
# rate_limit 10: a principal whose burst is spent gets a token every 100 ms.
FED_MAX_WAITING=2 FED_HOLD_TIMEOUT=30s FED_DOWN_AFTER=40 FED_MAX_REQUESTS=3 FED_RATE_LIMIT=10 \
    start_federation mimer pharos || exit 1
raw() { "$RAWSEND" "$@"; }

lease=$(ctlj alice submit --project llm-eu --gpus 4 --country GR | jq -r .id)
check "a lease at pharos to aim at" test "$(ctlj alice lease show "$lease" | jq -r .site)" = pharos
before=$(ctlj ops leases | jq -c .)
# gpus_available, not gpus_free: it does not move when pharos's next
# advertisement starts counting the lease above.
sites_before=$(ctlj ops sites | jq -c '[.[] | {id, pools: [.pools[] | .gpus_available]}]')

out=$(raw "$FED_AGENT_EP" "$T/keys/broker.pub" "$T/keys/mimer.key" advert-other)
check "site mimer cannot advertise for pharos (ERROR_FORBIDDEN)" \
    test "$out" = "3 you are site mimer and cannot advertise for site pharos"
out=$(raw "$FED_AGENT_EP" "$T/keys/broker.pub" "$T/keys/mimer.key" held-other "$lease")
check "site mimer cannot answer a hold for pharos's lease" \
    test "$out" = "3 lease $lease is not at your site"
out=$(raw "$FED_CLIENT_EP" - - plaintext)
check "a plaintext peer on the client socket gets nothing" test "$out" = "no reply"
out=$(raw "$FED_AGENT_EP" - - plaintext)
check "a plaintext peer on the agent socket gets nothing" test "$out" = "no reply"
check "the store is unchanged" test "$(ctlj ops leases | jq -c .)" = "$before"
check "the sites are unchanged" \
    test "$(ctlj ops sites | jq -c '[.[] | {id, pools: [.pools[] | .gpus_available]}]')" = "$sites_before"

# A flood from alice: the burst is served, the rest refused, others unaffected.
out=$(raw "$FED_CLIENT_EP" "$T/keys/broker.pub" "$T/keys/alice.key" flood 400)
ok_n=$(sed -n 's/^ok=\([0-9]*\) .*/\1/p' <<<"$out")
lim_n=$(sed -n 's/.*limited=\([0-9]*\) .*/\1/p' <<<"$out")
check "a flood of 400 is answered in full ($out)" test "$((ok_n + lim_n))" -eq 400
check "the burst of 100 is served" test "$ok_n" -ge 100
check "the rest is refused with ERROR_LIMITED" test "$lim_n" -ge 200
check "bob is served meanwhile" quiet test "$(ctlj bob sites | jq length)" -eq 2
# Right after the flood alice's burst is spent: aifedctl, refused with when
# to ask again, waits that long and asks, and is answered (three calls in a
# row outrun the refill of one token per 100 ms).
check "aifedctl over its rate waits as the broker says and is answered" \
    quiet eval 'ctlj alice sites && ctlj alice sites && ctlj alice sites'

# max_waiting = 2: with pharos silent, two submits wait for it; a third is
# refused at once. Bob's, because the flood above spent alice's rate budget.
kill -STOP "$(cat "$T/agents/pharos.pid")"
ctl bob submit --project bio-x --gpus 1 --country GR >/dev/null 2>&1 &
w1=$!
ctl bob submit --project bio-x --gpus 1 --country GR >/dev/null 2>&1 &
w2=$!
wait_for "two submits are waiting" 10 'test "$(ctlj ops leases --state pending | jq length)" -eq 2'
out=$(ctl bob submit --project bio-x --gpus 1 --country GR 2>&1 | tail -n 1)
check "a third waiting submit is refused" test "$out" = \
    "aifedctl: you have 2 submits waiting for a site; wait for them first"
kill -CONT "$(cat "$T/agents/pharos.pid")"
wait "$w1" "$w2"
check "the broker still serves" test "$(ctlj alice lease show "$lease" | jq -r .state)" = ACTIVE

# max_requests = 3: a refused submit costs its sender nothing, and each is
# kept with its explanation; past three, bob's oldest records go. Each keeps
# the first 8 entries of a list (here 16 countries).
countries=AT,BE,BG,CY,CZ,DE,DK,EE,ES,FI,FR,GR,HR,HU,IE,IT
for i in 1 2 3 4 5; do
    ctl bob submit --project bio-x --gpus 4000 --accelerator H100 --country "$countries" \
        --request-id bound-$i >/dev/null 2>&1
done
out=$(ctl bob request show bound-2 2>&1); rc=$?
check "past max_requests the oldest record is gone ($out)" test "$rc:$out" = "1:aifedctl: no request bound-2"
check "the newest three are kept" quiet ctl bob request show bound-3
req=$(ctlj bob request show bound-5)
check "a record keeps 8 of the 16 countries and says so" test "$(jq .omitted <<<"$req")" -eq 8
check "and its explanation" test "$(jq '.candidates | length' <<<"$req")" -eq 2
