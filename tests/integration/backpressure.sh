#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Replies nobody reads cannot grow the broker without bound (before, four
# connections that never read GetJob replies of a 456 KB job took it from
# 12 MB to 1.24 GB in 60 s, and a site's Hello ten times a second to 1 GB
# in 10 s): at most SNDHWM replies wait per connection in libzmq and about
# a budget (4 MiB) in the broker, a connection over its budget is not
# served until it reads, a principal is served on at most
# max_connections_per_principal connections, and a site's open jobs are
# sent again once per new connection, at most every 5 s. Other users are
# answered meanwhile.
. "$(dirname "$0")/lib.sh"

# ASan keeps freed memory in quarantine (256 MB by default), which a
# figure of the broker's own memory must not count.
export ASAN_OPTIONS=${ASAN_OPTIONS}:quarantine_size_mb=16
start_federation mimer || exit 1
fed_demo_account || { fail "no demo account"; exit 1; }
pressure() { "$PRESSURE" "$FED_CLIENT_EP" "$T/keys/broker.pub" "$T/keys/$1.key" "${@:2}"; }
peak_kb() { awk '$1 == "VmHWM:" {print $2}' "/proc/$(cat "$T/broker.pid")/status"; }
site_up() { [[ $(ctlj ops sites | jq -r '.[] | select(.id == "mimer") | .state') == UP ]]; }
metric() { curl -sS "$(awk '$1 == "metrics" {print $2}' "$T/state/endpoints")" | awk -v m="$1" '$1 == m {print $2}'; }

# A job whose spec is about 456 KB, as big as a task makes one: 250 KB of
# files, 40 variables of 3 KB, 60 KB of script.
head -c 250000 /dev/zero | tr '\0' w >"$T/weights.txt"
{
    printf 'name: big\nproject: llm-eu\nresources: {gpus: 1, walltime: 30m}\nfiles: {weights.txt: weights.txt}\nenv:\n'
    for i in $(seq 1 40); do printf '  V%d: %s\n' "$i" "$(head -c 3000 /dev/zero | tr '\0' v)"; done
    printf 'run: |\n  # %s\n  sleep 600\n' "$(head -c 60000 /dev/zero | tr '\0' r)"
} >"$T/big.yaml"
job=$(ctl alice run --detach "$T/big.yaml")
wait_for "a job with a 456 KB spec runs" 30 'test "$(ctlj alice job show "$job" | jq -r .state)" = RUNNING'

# Four connections that never read, GetJob 40 times a second (within the
# rate limit of 50) for 20 s: 800 replies of 456 KB, 365 MB if all waited.
before=$(peak_kb)
pressure alice noread 4 "$job" 20 40 >"$T/noread.out" &
flood=$!
answered=0
for i in $(seq 1 6); do
    sleep 2
    fed_ctl "$T" bob --timeout 5s --json sites >/dev/null 2>&1 && answered=$((answered + 1))
done
wait "$flood"
after=$(peak_kb)
grown=$(((after - before) / 1024))
check "another user is answered within 5 s throughout ($answered of 6)" test "$answered" -eq 6
check "the peer sent what it meant to ($(cat "$T/noread.out"))" \
    test "$(sed -n 's/^sent=//p' "$T/noread.out")" -gt 500
check "the broker's peak memory grew by at most 100 MB (grew $grown MB, from $((before / 1024)) MB)" \
    test "$grown" -le 100
# The metrics are rendered once a second.
wait_for "replies that had to wait are counted" 5 '[[ $(metric aifed_replies_held_total) -gt 0 ]]'
wait_for "... and requests dropped unread while not served" 5 '[[ $(metric aifed_requests_unread_total) -gt 0 ]]'
check "the owner is answered once she reads again" \
    test "$(ctlj alice job show "$job" | jq -r .state)" = RUNNING

# Connections per principal: twelve at once, eight served.
out=$(pressure bob conns 12)
check "a principal is served on at most 8 connections at once ($out)" test "$out" = "ok=8 limited=4 none=0"
wait_for "... counted" 5 '[[ $(metric aifed_connections_refused_total) -ge 4 ]]'
check "... and served again once they closed" fed_ctl "$T" bob --timeout 10s sites

# A site's Hello: its open job is sent again once per new connection, at
# most every 5 s, not once per Hello.
out=$("$PRESSURE" "$FED_AGENT_EP" "$T/keys/broker.pub" "$T/keys/mimer.key" hello 30 0)
check "30 Hellos on one connection: the open job is sent once ($out)" test "$out" = "startjobs=1"
out=$("$PRESSURE" "$FED_AGENT_EP" "$T/keys/broker.pub" "$T/keys/mimer.key" hello 30 1)
n=${out#startjobs=}
check "30 Hellos on 30 new connections in 3 s: sent at most once each 5 s ($out)" test "$n" -le 2
wait_for "the real agent is heard again, and its job is still RUNNING" 20 \
    'test "$(ctlj alice job show "$job" | jq -r .state)" = RUNNING && site_up'
ctlj alice job cancel "$job" >/dev/null
