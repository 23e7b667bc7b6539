#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The federation end to end: agents advertise and `sites` shows them; three
# workloads land on three sites for the reasons explain gives; capacity drops
# on a grant and comes back on release; leases filter and page.
. "$(dirname "$0")/lib.sh"

start_federation meluxina hammerhai lumi-ai pharos it4lia bsc mimer || exit 1
ok "seven agents advertised and are UP"

check "sites shows each site-file capacity" test "$(ctlj alice sites |
    jq -c '[.[] | {id, pools: [.pools[] | [.name, .accelerator, .gpus_total, .gpus_free]]}]')" = \
    '[{"id":"bsc","pools":[["acc","H100",1120,40]]},{"id":"hammerhai","pools":[["h100","H100",400,64]]},{"id":"it4lia","pools":[["booster","A100",1200,200]]},{"id":"lumi-ai","pools":[["gpu","MI250X",3200,512]]},{"id":"meluxina","pools":[["accel","A100",800,96]]},{"id":"mimer","pools":[["gpu","H100",320,64]]},{"id":"pharos","pools":[["gpu","H100",128,16]]}]'

# The human table too: one line per pool, the site's name and country.
table=$(ctl alice sites)
check "sites table: one line per pool, with name and country" \
    grep -qE '^meluxina +MeluXina-AI +LU +UP +accel +A100 +40G +800 +96 +96 +20m +2d +2.50 +150$' <<<"$table"
check "sites table says the figures are illustrative" grep -q illustrative <<<"$table"

# Why: explain ranks the H100 sites by expected wait and says why others fail.
explain=$(ctlj alice explain --project llm-eu --gpus 16 --accelerator H100 --gpu-memory 80)
check "explain chooses mimer (shortest wait)" test "$(jq -r '.[] | select(.verdict == "chosen") | .site' <<<"$explain")" = mimer
check "explain ranks pharos then hammerhai" test "$(jq -r '[.[] | select(.verdict == "ranked")] | sort_by(.rank) | map(.site) | join(",")' <<<"$explain")" = pharos,hammerhai
check "explain rejects bsc for GPU memory" test "$(jq -r '.[] | select(.site == "bsc") | .reason' <<<"$explain")" = "pool acc has 64 GB per GPU, needs 80 GB"
check "explain rejects lumi-ai for the model" test "$(jq -r '.[] | select(.site == "lumi-ai") | .reason' <<<"$explain")" = "pool gpu has MI250X, needs H100"

before=$(site_avail mimer)
l1=$(ctlj alice submit --project llm-eu --gpus 16 --accelerator H100 --gpu-memory 80 --walltime 12h)
check "H100 80GB workload is ACTIVE at mimer" test "$(jq -r '.state + " " + .site + "/" + .pool' <<<"$l1")" = "ACTIVE mimer/gpu"
id1=$(jq -r .id <<<"$l1")
check "mimer's available GPUs dropped by 16" test "$(site_avail mimer)" -eq $((before - 16))
wait_for "mimer's own advertisement now counts the hold" 10 'test "$(site_free mimer)" -eq 48'

l2=$(ctlj alice submit --project llm-eu --gpus 8 --country LU)
check "LU-only workload is ACTIVE at meluxina" test "$(jq -r '.state + " " + .site' <<<"$l2")" = "ACTIVE meluxina"
id2=$(jq -r .id <<<"$l2")
# No --accelerator: the model is the broker's choice, and said to be.
check "... holding the pool's model, A100, though none was asked for" \
    test "$(jq -r '.accelerator + " " + .accelerator_held' <<<"$l2")" = "any A100"
check "lease show says the model was the broker's choice, and how to choose" \
    grep -q "^model: *A100, the broker's choice: no --accelerator was given (code built for one vendor's GPUs, CUDA or ROCm, needs --accelerator MODEL)$" \
    <<<"$(ctl alice lease show "$id2")"
ctl alice lease token "$id2" >"$T/l2.token"
check "the token names the model held" \
    grep -q "^resources: *8 x A100 GPUs" <<<"$(ctl alice verify-token "$T/l2.token" --broker-pub "$T/state/signing.key.pub")"
explain=$(ctl alice explain --project llm-eu --gpus 8)
check "explain with no --accelerator shows each ranked pool's model" \
    grep -qE '^ +1 +[a-z0-9-]+ +[a-z0-9]+ +(H100|A100|MI250X) +chosen' <<<"$explain"
check "... and says that models of more than one vendor were ranked" \
    grep -q "^(any model was ranked: .*MI250X.*; code built for one vendor's GPUs, CUDA or ROCm, needs --accelerator MODEL)$" <<<"$explain"
check "... which --json gives per candidate" \
    test "$(ctlj alice explain --project llm-eu --gpus 8 | jq -r '[.[] | select(.verdict != "rejected") | .accelerator] | unique | join(",")')" = "A100,H100,MI250X"
l3=$(ctlj alice submit --project vision-sme --gpus 32 --accelerator MI250X --walltime 2h)
check "MI250X workload is ACTIVE at lumi-ai" test "$(jq -r '.state + " " + .site' <<<"$l3")" = "ACTIVE lumi-ai"
check "lease expires after its walltime" test "$(jq -r '.walltime_s' <<<"$l3")" -eq 7200

# A retry with the same request id is the same lease, never a second one.
r1=$(ctlj alice submit --project vision-sme --gpus 2 --country GR --request-id retry-1 | jq -r .id)
r2=$(ctlj alice submit --project vision-sme --gpus 2 --country GR --request-id retry-1 | jq -r .id)
check "a retried submit returns the same lease" test "$r1" = "$r2"
check "and made only one" test "$(ctlj alice leases --site pharos | jq length)" -eq 1
ctlj alice lease release "$r1" >/dev/null

# Listing, filters, paging.
check "leases lists all four" test "$(ctlj alice leases | jq length)" -eq 4
check "leases --project filters" test "$(ctlj alice leases --project vision-sme --state active | jq -r '.[].site')" = lumi-ai
check "leases --site filters" test "$(ctlj alice leases --site mimer | jq -r '.[].id')" = "$id1"
check "leases --state filters" test "$(ctlj alice leases --state released | jq -r '.[].id')" = "$r1"
check "leases --limit stops there" test "$(ctlj alice leases --limit 2 | jq length)" -eq 2
check "pages join up in id order" test "$(ctlj alice leases | jq -c 'map(.id)')" = "$(ctlj alice leases | jq -c 'map(.id) | sort')"
check "lease show returns the lease" test "$(ctlj alice lease show "$id1" | jq -r .state)" = ACTIVE

# Release returns the capacity.
check "release makes it RELEASED" test "$(ctlj alice lease release "$id1" | jq -r .state)" = RELEASED
wait_for "mimer's capacity is back" 10 'test "$(site_avail mimer)" -eq "$before"'
out=$(ctl alice lease release "$id1" 2>&1); rc=$?
check "second release: exit 1 and says it is RELEASED" test "$rc:$out" = "1:aifedctl: lease $id1 is already RELEASED"

# No site can take it: a clear refusal, exit 1.
out=$(ctl alice submit --project llm-eu --gpus 4000 --accelerator H100 2>&1); rc=$?
check "impossible workload: exit 1 with the reason" test "$rc" -eq 1
check "impossible workload: says no site can take it" grep -q "no site can take this workload now" <<<"$out"
# A name no site offers is said so, with the names the federation has.
for case in "--accelerator B200|accelerator B200; known: H100, A100, MI250X" \
    "--country XX|a site in XX; known: " "--cert hipaa|certification hipaa; known: " \
    "--model llama-4|model llama-4; known: llama3-70b, llama-3-8b" \
    "--dataset eurlex-2025|data set eurlex-2025; known: eurlex-2024" \
    "--image torch|image torch; known: "; do
    out=$(ctl alice explain --project llm-eu --gpus 1 ${case%%|*} 2>&1); rc=$?
    check "explain ${case%%|*}: refused (exit 1), with the known names" \
        test "$rc" = 1 -a -n "$(grep -F "aifedctl: no site offers ${case#*|}" <<<"$out")"
done
out=$(ctl alice submit --project llm-eu --gpus 1 --accelerator h100 --country se,xx 2>&1); rc=$?
check "... but a model in another case, or one known country of several, is fine" test "$rc" = 0

# Expiry: a short walltime expires by itself and the capacity comes back.
before=$(site_avail pharos)
l4=$(ctlj alice submit --project llm-eu --gpus 4 --accelerator H100 --country GR --walltime 2s)
id4=$(jq -r .id <<<"$l4")
check "short lease ACTIVE at pharos" test "$(jq -r .state <<<"$l4")" = ACTIVE
wait_for "short lease EXPIRED after its walltime" 10 'test "$(ctlj alice lease show "$id4" | jq -r .state)" = EXPIRED'
wait_for "pharos's capacity is back after expiry" 10 'test "$(site_avail pharos)" -eq "$before"'
