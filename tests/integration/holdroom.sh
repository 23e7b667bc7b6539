#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every advertisement lists every hold of its site, and the broker drops an
# agent whose message is over max_message. An agent whose list has no room
# left refuses the next hold and says why; it stays UP, the lease goes to
# another site, and a release makes room again. max_message is 2 KiB here so
# the list fills after about twenty holds.
. "$(dirname "$0")/lib.sh"

FED_MAX_MESSAGE=2048 start_federation mimer pharos || exit 1

# Only mimer is in SE: fill it one GPU at a time until it refuses (bounded).
held=0 refused=""
for ((i = 0; i < 80; i++)); do
    out=$(ctlj alice submit --project llm-eu --gpus 1 --country SE 2>&1)
    if [[ $(jq -r .state <<<"$out" 2>/dev/null) == ACTIVE ]]; then
        held=$((held + 1))
    else
        refused=$out
        break
    fi
done
check "mimer held some leases before its list was full ($held)" test "$held" -ge 5
check "then refused one, saying why" grep -q "no room for another within max_message (2048 bytes)" <<<"$refused"
check "the agent warned once" test "$(grep -c 'holds are refused' "$T/logs/agent-mimer.log")" -eq 1

mstate() { ctlj ops sites | jq -r '.[] | select(.id == "mimer") | .state + " " + .last_seen'; }
seen=$(mstate)
wait_for "mimer advertises again after the refusal" 10 'test "$(mstate)" != "$seen"'
check "and is still UP" test "$(mstate | cut -d" " -f1)" = UP
check "with every lease it held" test \
    "$(ctlj ops sites | jq -r '.[] | select(.id == "mimer") | .leases_open')" -eq "$held"

l=$(ctlj alice submit --project llm-eu --gpus 1 --accelerator H100 --prefer green)
check "a lease mimer would win goes elsewhere" test "$(jq -r .state <<<"$l")" = ACTIVE
check "after mimer refused it" test "$(jq -r '.site + " after " + (.tried_sites | join(","))' <<<"$l")" = "pharos after mimer"

full=$(ctlj alice submit --project llm-eu --gpus 1 --country SE 2>&1)
check "after a fresh advertisement mimer's list is still full" grep -q "no room for another" <<<"$full"
one=$(ctlj alice leases --state active | jq -r '[.[] | select(.site == "mimer")][0].id')
# A renewal asks mimer to hold the lease again; it adds nothing to the list.
check "a lease at a full site renews" quiet ctl alice lease renew "$one" --by 1h
wait_for "and mimer holds it again without refusing" 10 \
    'test "$(grep -c "holding lease $one" "$T/logs/agent-mimer.log")" -ge 2'
check "mimer never refused it" test "$(grep -c "refusing lease $one" "$T/logs/agent-mimer.log")" -eq 0
check "a release at mimer" quiet ctl alice lease release "$one"
wait_for "makes room for a new hold there" 10 \
    'test "$(ctlj alice submit --project llm-eu --gpus 1 --country SE 2>/dev/null | jq -r .site)" = mimer'
