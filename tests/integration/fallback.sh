#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A site that stops answering: its pending hold times out and the lease moves
# to the next-best site; the silent site is marked DOWN and gets nothing new;
# when it returns it is UP again and drops the hold it no longer owns.
. "$(dirname "$0")/lib.sh"

start_federation mimer pharos || exit 1
mimer=$(cat "$T/agents/mimer.pid")
kill -STOP "$mimer"
l=$(ctlj alice submit --project llm-eu --gpus 4 --accelerator H100)
check "the lease moved to pharos" test "$(jq -r '.state + " " + .site' <<<"$l")" = "ACTIVE pharos"
check "it records that mimer was tried" test "$(jq -r '.tried_sites | join(",")' <<<"$l")" = mimer
check "and why it moved" grep -q "did not answer the hold in time" <<<"$(jq -r .reason <<<"$l")"
mstate() { ctlj ops sites | jq -r '.[] | select(.id == "mimer") | .state'; }
wait_for "the silent site is DOWN" 10 'test "$(mstate)" = DOWN'
check "explain says mimer is DOWN" test "$(ctlj alice explain --project llm-eu --gpus 1 --accelerator H100 |
    jq -r '.[] | select(.site == "mimer") | .reason')" = "site is DOWN (no recent advertisement)"
kill -CONT "$mimer"
wait_for "mimer is UP again" 10 'test "$(mstate)" = UP'
wait_for "mimer dropped the hold it no longer owns" 10 'test "$(site_free mimer)" -eq 64'
