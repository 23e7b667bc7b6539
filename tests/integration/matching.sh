#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Matching on the demo federation: preferences pick different sites for the
# reasons explain gives; an allocation running out moves the next request
# elsewhere and settles what was used; every submit keeps its explanation,
# also when refused; only admins set allocations.
. "$(dirname "$0")/lib.sh"

start_federation meluxina hammerhai lumi-ai pharos it4lia bsc mimer || exit 1

# Three workloads, three sites, each for the reason explain gives.
ex=$(ctlj alice explain --project llm-eu --gpus 16 --accelerator H100 --gpu-memory 80 --prefer cost)
check "--prefer cost picks pharos (EUR 2.20/GPU-h)" test "$(jq -r '.[] | select(.verdict == "chosen") | .site' <<<"$ex")" = pharos
check "its reason gives the cost" grep -q "EUR 35" <<<"$(jq -r '.[] | select(.verdict == "chosen") | .reason' <<<"$ex")"
ex=$(ctlj alice explain --project llm-eu --gpus 16 --accelerator H100 --gpu-memory 80 --prefer green)
check "--prefer green picks mimer (40 gCO2/kWh)" test "$(jq -r '.[] | select(.verdict == "chosen") | .site' <<<"$ex")" = mimer
ex=$(ctlj alice explain --project llm-eu --gpus 16 --dataset industrial-vision --prefer local)
check "--prefer local picks hammerhai, which holds the 2 TB data set" \
    test "$(jq -r '.[] | select(.verdict == "chosen") | .site' <<<"$ex")" = hammerhai
check "and says it holds the data set, so nothing has to move there" \
    grep -q "holds industrial-vision (2.0 TB); moves nothing$" <<<"$(jq -r '.[] | select(.site == "hammerhai") | .reason' <<<"$ex")"
check "elsewhere 2.0 TB would move" test "$(jq -r '.[] | select(.site == "lumi-ai") | .parts.bytes_to_move' <<<"$ex")" -eq 2000000000000
ex=$(ctlj alice explain --project llm-eu --gpus 8 --cert health-data)
check "--cert health-data rejects sites without it" test "$(jq -r '.[] | select(.site == "mimer") | .reason' <<<"$ex")" = "site lacks the health-data certification"
ex=$(ctlj alice explain --project llm-eu --gpus 64 --accelerator H100 --start-by 45m)
check "--start-by rejects sites that start too late" grep -q "must start within" <<<"$(jq -r '.[] | select(.site == "hammerhai") | .reason' <<<"$ex")"

# Allocations: only admins set them.
out=$(ctl alice admin allocation set --project llm-eu --site mimer --gpu-hours 10 2>&1); rc=$?
check "a user cannot set an allocation" test "$rc:$out" = "1:aifedctl: only admins set allocations"
ctlj ops admin allocation set --project llm-eu --site mimer --gpu-hours 20 >/dev/null
check "admin set 20 GPU-hours for llm-eu at mimer" quiet jq -e '.[0].remaining_gpu_hours == 20' <<<"$(ctlj alice admin allocation show --project llm-eu)"

# 16 GPUs x 1h draws 16 of the 20 hours; the next such request cannot fit
# there and moves elsewhere, with the reason.
a=$(ctlj alice submit --project llm-eu --gpus 16 --accelerator H100 --gpu-memory 80 --prefer green)
check "the first lease goes to mimer" test "$(jq -r .site <<<"$a")" = mimer
check "its allocation reserves 16 GPU-hours" quiet jq -e '.[0].reserved_gpu_hours == 16' <<<"$(ctlj alice admin allocation show --project llm-eu)"
b=$(ctlj alice submit --project llm-eu --gpus 16 --accelerator H100 --gpu-memory 80 --prefer green)
check "the second goes elsewhere" test "$(jq -r .site <<<"$b")" != mimer
why=$(ctlj alice lease why "$(jq -r .id <<<"$b")")
check "lease why says mimer's allocation ran out" test "$(jq -r '.candidates[] | select(.site == "mimer") | .reason' <<<"$why")" = "needs 16.0 GPU-hours, the project has 4.0 left here"
check "lease why names the chosen site" test "$(jq -r '.candidates[] | select(.verdict == "chosen") | .site' <<<"$why")" = "$(jq -r .site <<<"$b")"

# Releasing settles what was used (seconds of a 1h lease) and frees the rest.
ctlj alice lease release "$(jq -r .id <<<"$a")" >/dev/null
alloc=$(ctlj alice admin allocation show --project llm-eu --site mimer)
check "release returns the reservation" quiet jq -e '.[0].reserved_gpu_hours == 0' <<<"$alloc"
check "and charges only what was used (under 1 GPU-hour)" quiet jq -e '.[0].used_gpu_hours < 1' <<<"$alloc"

# A refused submit keeps its explanation too.
out=$(ctl alice submit --project llm-eu --gpus 4000 --accelerator H100 --request-id want-b200 2>&1 | tail -n 1)
check "refusal names the nearest miss and how to see every site" grep -q "aifedctl request show want-b200" <<<"$out"
req=$(ctlj alice request show want-b200)
check "request show: refused, with a reason" test -n "$(jq -r .refusal <<<"$req" | head -1)"
check "request show: one verdict per site" test "$(jq -r '.candidates | length' <<<"$req" | tail -1)" -eq 7
out=$(ctl bob request show want-b200 2>&1); rc=$?
check "another user's request is not found" test "$rc" -eq 1

# Drained in the site file: no new work.
check "no site is drained yet" test "$(ctlj ops sites | jq '[.[] | select(.drained)] | length')" -eq 0

# Fair share: pharos is contended (16 of its 128 GPUs free, under the 25%
# floor). llm-eu holds 3% of the GPU-hours granted there, so it may hold at
# most 3 of its GPUs; bio-x, with 97%, may take what is free.
ctlj ops admin allocation set --project llm-eu --site pharos --gpu-hours 3 >/dev/null
ctlj ops admin allocation set --project bio-x --site pharos --gpu-hours 97 >/dev/null
ex=$(ctlj alice explain --project llm-eu --gpus 4 --country GR --walltime 30m)
check "a project over its fair share on a contended site is refused there" \
    test "$(jq -r '.[] | select(.site == "pharos") | .reason' <<<"$ex")" = \
    "site is contended and the project holds 0 GPUs here; its fair share is 3"
check "a project within its share gets it" \
    test "$(ctlj bob submit --project bio-x --gpus 4 --country GR --walltime 30m | jq -r '.state + " " + .site')" = "ACTIVE pharos"
