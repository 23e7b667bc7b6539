#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# queue_when_busy (issue 33): a workload no site can start now is booked
# where the sites' queues say it starts first, as a SCHEDULED lease from
# then, instead of refused; where a site can start it now, it still starts
# now, however much cheaper the queue. Without the setting, refused as
# before. The start is what a site says of its queue (start_estimates).
. "$(dirname "$0")/lib.sh"

# Two small sites: LU, cheap, says 4 GPUs start in 1 minute; SE, dear,
# in 5.
site() { # site ID CC PRICE WAIT
    printf '[site]\nid = %s\ncountry = %s\nprice_per_gpu_hour = %s\ncarbon_g_per_kwh = 50\nillustrative = yes\n\n[pool:gpu]\naccelerator = H100\ngpu_memory_gb = 80\ngpus_per_node = 4\nnodes = 1\ncpus_per_node = 64\nmemory_per_node_gb = 512\nmax_walltime = 24h\nstart_estimates = 4:%s\n' \
        "$1" "$2" "$3" "$4" >"$T/$1.site"
}
fed_init "$T" meluxina mimer || exit 1
sed -i "s|^\[broker\]$|[broker]\nqueue_when_busy = yes|" "$T/broker.conf"
fed_start_broker "$T" || exit 1
site meluxina LU 1.0 1m
site mimer SE 9.0 5m
fed_start_agent "$T" meluxina "$T/meluxina.site"
fed_start_agent "$T" mimer "$T/mimer.site"
fed_wait_up "$T" 2 || exit 1
sub=(--project llm-eu --gpus 4 --walltime 1m)

first=$(ctlj alice submit "${sub[@]}")
check "with both sites free, a lease is ACTIVE now at the cheap one" \
    test "$(jq -r '.state + " " + .site' <<<"$first")" = "ACTIVE meluxina"
second=$(ctlj alice submit "${sub[@]}")
check "... and the next, with the cheap one full, ACTIVE now at the dear one" \
    test "$(jq -r '.state + " " + .site' <<<"$second")" = "ACTIVE mimer"
now=$(date +%s)
third=$(ctlj alice submit "${sub[@]}")
check "with both full, it is booked, not refused: SCHEDULED at the site whose queue starts it first" \
    test "$(jq -r '.state + " " + .site' <<<"$third")" = "SCHEDULED meluxina"
start=$(date -d "$(jq -r .activated <<<"$third")" +%s)
check "... from when that site says (1 minute; starts $((start - now)) s from the ask)" \
    test "$((start - now))" -ge 58 -a "$((start - now))" -le 65
why=$(ctl alice request show "$(jq -r .request_id <<<"$third")" 2>&1)
check "... and the request says so, ranking the queues" grep -q "starts in 1m" <<<"$why"

sed -i "s|^queue_when_busy = yes|queue_when_busy = no|" "$T/broker.conf"
kill -HUP "$(cat "$T/broker.pid")"
wait_for "the broker read queue_when_busy = no" 10 'grep -q "reload: .* read again" "$T/logs/broker.log"'
out=$(ctl alice submit "${sub[@]}" 2>&1); rc=$?
check "without it, the same ask is refused, as before ($rc)" \
    test "$rc" -ne 0 -a -n "$(grep -F "no site can take this workload now" <<<"$out")"
