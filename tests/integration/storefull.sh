#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A store that reaches map_size_mb: each change is refused and says so (the
# client that it was not stored, the log what to raise), reads go on, nothing
# stored is lost, and a restart with a larger map_size_mb serves again. Then
# a disk that fills (a tmpfs, where the machine lets root mount one): the log
# says the disk is full, not that it fails, and reads go on.
. "$(dirname "$0")/lib.sh"

start_federation mimer pharos || exit 1
# Restarts must come back on the same ports, for the agents. A 1 MiB store
# holds a few hundred leases; no rate limit slows the filling.
sed -i "s|^agent_listen = .*|agent_listen = $FED_AGENT_EP|; s|^client_listen = .*|client_listen = $FED_CLIENT_EP|" "$T/broker.conf"
sed -i 's/^\[broker\]$/[broker]\nmap_size_mb = 1\nrate_limit = 100000\nrate_burst = 100000/' \
    "$T/broker.conf"
check "the broker stops cleanly" fed_stop_pid "$T/broker.pid"
fed_start_broker "$T" || exit 1
fed_wait_up "$T" 2 || exit 1
# A lease for jobs, made while there is room.
fed_demo_account || { fail "no demo account"; exit 1; }
jl=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 2h | jq -r .id)
printf 'name: small\nproject: llm-eu\nresources: {gpus: 1, walltime: 10m}\nrun: sleep 600\n' >"$T/small.yaml"

# Submit and release until the store refuses (bounded: 1 MiB is far less
# than 3,000 leases).
: >"$T/kept"
refused=""
for ((i = 1; i <= 3000; i++)); do
    if ! out=$(ctlj alice submit --project llm-eu --gpus 1 2>"$T/err"); then
        refused=$(tail -n 1 "$T/err")
        break
    fi
    id=$(jq -r .id <<<"$out")
    if ! ctlj alice lease release "$id" >/dev/null 2>"$T/err"; then
        refused=$(tail -n 1 "$T/err")
        echo "$id ACTIVE" >>"$T/kept"
        break
    fi
    echo "$id RELEASED" >>"$T/kept"
done
kept=$(wc -l <"$T/kept")
check "the store filled up after $kept leases" test -n "$refused"
check "the client is told its change was not stored" \
    grep -Eq "^aifedctl: (the broker could not store this change; nothing was changed|could not record the (lease|release))$" <<<"$refused"
check "the log says the store is full and what to raise" \
    grep -q "the store is full: it has reached map_size_mb (1 MiB), so every change is refused (reads still work) until map_size_mb is raised in" \
    "$T/logs/broker.log"
check "reads still work" test "$(ctlj ops lease show "$(head -n 1 "$T/kept" | cut -d' ' -f1)" | jq -r .state)" = RELEASED

# What the client was told was refused did not happen: no change to memory
# outlives the commit that failed to store it. Small changes may still fit
# where a submit did not, so each is made until the store refuses one
# (bounded: the store is all but full; about 320 principals fit in 2026-12).
for ((i = 1; i <= 1000; i++)); do
    "$FED_CTL_BIN" keygen --dir "$T/keys" "zed$i" >/dev/null
    out=$(ctl ops admin principal add "user:zed$i" --pub "$T/keys/zed$i.pub" --projects llm-eu 2>&1) ||
        break
done
check "adding a principal to the full store is refused, in the end" \
    grep -q "could not store this change; nothing was changed" <<<"$out"
refused_key() { ! ctl "$1" sites >/dev/null 2>&1; }
check "and its key is not admitted" refused_key "zed$i"
check "the registry does not list it in force" test "$(ctlj ops admin principal list |
    jq --arg id "user:zed$i" '[.[] | select(.id == $id and (.revoked | not))] | length')" -eq 0
check "the principal added before it is still in force" quiet ctlj "zed$((i - 1))" sites
want=false
for ((j = 1; j <= 300; j++)); do
    if ((j % 2)); then verb=drain next=true; else verb=undrain next=false; fi
    ctl ops admin site "$verb" pharos >/dev/null 2>&1 || break
    want=$next
done
check "a drain or undrain is refused by the full store, in the end" test "$j" -le 300
check "and pharos is as the last one stored left it" \
    test "$(ctlj ops sites | jq -r '.[] | select(.id == "pharos") | .admin_drained')" = "$want"
# Jobs: a submit or a cancel the store cannot take is answered, and says so
# (before, neither got any answer).
what=none
for ((k = 1; k <= 300; k++)); do
    job=$(ctl alice run --detach --lease "$jl" "$T/small.yaml" 2>"$T/jerr") || { what=submit; break; }
    ctl alice job cancel "$job" >/dev/null 2>"$T/jerr" || { what=cancel; break; }
done
check "a job's submit or cancel is refused by the full store, in the end ($what)" test "$what" != none
check "... with an answer that says it was not stored" \
    grep -Eq "^aifedctl: (could not record the (job|cancel)|the broker could not store this change; nothing was changed)$" "$T/jerr"
url=$(awk '$1 == "metrics" {print $2}' "$T/state/endpoints")
wait_for "the failed commits are counted (published each second)" 5 \
    'test "$(curl -s "$url" | awk '"'"'$1 == "aifed_commit_failures_total" {print $2}'"'"')" -ge 3'

sed -i 's/^map_size_mb = 1$/map_size_mb = 64/' "$T/broker.conf"
check "the broker stops cleanly with a full store" fed_stop_pid "$T/broker.pid"
fed_start_broker "$T" || exit 1
fed_wait_up "$T" 2 || exit 1
lost=0
while read -r id want; do
    [[ $("$FED_CTL_BIN" --db "$T/state" lease show "$id" --json | jq -r .state) == "$want" ]] || lost=$((lost + 1))
done <"$T/kept"
check "every lease stored before it filled is there, in its state" test "$lost" -eq 0
check "with map_size_mb raised, a submit is granted again" \
    test "$(ctlj alice submit --project llm-eu --gpus 1 | jq -r .state)" = ACTIVE

# A full disk, not a full store. LMDB reports the short write as EIO; the
# broker must say what it is.
check "the broker stops cleanly" fed_stop_pid "$T/broker.pid"
mv "$T/state" "$T/state.old" && mkdir "$T/state"
used=$(du -sk "$T/state.old" | cut -f1)
if mount -t tmpfs -o size=$((used + 1024))k,mode=0700 tmpfs "$T/state" 2>/dev/null; then
    cp -a "$T/state.old/." "$T/state/"
    fed_start_broker "$T" || exit 1
    fed_wait_up "$T" 2 || exit 1
    : >"$T/disk-kept"
    for ((i = 1; i <= 3000; i++)); do
        out=$(ctlj alice submit --project llm-eu --gpus 1 2>/dev/null) || break
        id=$(jq -r .id <<<"$out")
        echo "$id" >>"$T/disk-kept"
        ctlj alice lease release "$id" >/dev/null 2>&1 || break
    done
    check "the disk filled up after $(wc -l <"$T/disk-kept") more leases" test "$i" -le 3000
    check "the log says the disk holding the store is full" \
        grep -q "the disk holding the store ($T/state) is full ([0-9]* KiB free), so every change is refused (reads still work) until space is freed there" \
        "$T/logs/broker.log"
    check "and never that it fails" test "$(grep -c "Input/output error" "$T/logs/broker.log")" -eq 0
    check "reads still work on the full disk" \
        test "$(ctlj ops lease show "$(head -n 1 "$T/disk-kept")" | jq -r .id)" = "$(head -n 1 "$T/disk-kept")"
else
    ok "# SKIP a full disk: this machine does not let the test mount a tmpfs"
fi
