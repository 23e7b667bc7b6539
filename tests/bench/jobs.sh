#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/bench/jobs: jobs through aifed, against Slurm itself and against a
# broker with no jobs, each in the same run. The lab Slurm's agent runs as a
# site runs it: as the package's account (aifed-agent, not root) with the
# shipped sudoers rule, everything done as a user through the job helper.
#  - start (the lab Slurm, deploy/slurmlab.sh, root): `aifedctl run --detach
#    --lease L` to RUNNING in `aifedctl job show`, against `sbatch
#    --reservation` (as the same user) to RUNNING in `squeue`, N samples
#    each (both polled every 20 ms), p50/p99;
#  - output (the lab Slurm): one job writing as fast as it can; `aifedctl
#    logs` MB/s;
#  - advertisements (the lab Slurm): the interval between the agent's
#    advertisements (from its debug log, to the millisecond), p50 and p99,
#    while 20 jobs are submitted and 10 followers read output, against a
#    quiet period of the same length, same run; a ratio to the configured
#    interval;
#  - followers (two simulated static sites, any user): grant latency at
#    1,000 offered grants/s while STREAMS `aifedctl logs -f` follow jobs
#    that write steadily, against none before and after.
# Prints figures; judges nothing. The Slurm parts are skipped where the lab
# Slurm cannot start; the followers part runs anywhere.
#
# Usage: tests/bench/jobs.sh BUILD_DIR SOURCE_DIR [SAMPLES] [MEGABYTES] [STREAMS] [SECONDS]
set -uo pipefail
export AIFED_BUILD=${1:?build dir}
SRC=${2:?source dir}
N=${3:-20}
MB=${4:-100}
STREAMS=${5:-10}
SECS=${6:-5}
. "$SRC/deploy/fedlib.sh"
. "$SRC/deploy/slurmlab.sh"
. "$SRC/tests/bench/benchlib.sh"
BENCH=$AIFED_BUILD/tests/bench/bench_grant
T=$(mktemp -d /tmp/aifed-bench.XXXXXX)
chmod 711 "$T"
trap 'fed_stop "$T" 2>/dev/null; fed_stop "$T/f" 2>/dev/null; slurm_lab_stop; rm -rf "$T"' EXIT
now_ms() { date +%s%3N; }
pct() { bench_pct "$@"; }

# The start and output figures, on the lab Slurm.
slurm_part() {
    SITE=meluxina
    fed_init "$T" "$SITE" || return 1
    sed -i 's/^max_waiting = .*/&\nrate_limit = 100000\nrate_burst = 100000/' "$T/broker.conf"
    fed_start_broker "$T" || return 1
    printf '[site]\nid = %s\ncountry = LU\n\n[pool:gpu]\ngpu_memory_gb = 40\n' "$SITE" >"$T/agents/$SITE.site"
    printf '[users]\nalice = %s\n' "$U" >"$T/agents/users.map"
    slurm_lab_agent_conf "$T" "$SITE" <<<"command_timeout = 5s"
    chown -R aifed-agent: "$T/agents" && chown aifed-agent: "$T/keys/$SITE.key" && chmod 711 "$T/keys"
    # -v: its debug log says when each advertisement left.
    as=(setpriv --reuid=aifed-agent --regid=aifed-agent --init-groups --)
    "${as[@]}" "$FED_AGENT_BIN" -f -v -c "$T/agents/$SITE.conf" >>"$T/logs/agent-$SITE.log" 2>&1 &
    echo $! >"$T/agents/$SITE.pid"
    fed_wait_up "$T" 1 || return 1
    ctl() { fed_ctl "$T" alice --timeout 30s "$@"; }
    # read_logs HOW: $job's whole output through aifedctl logs, timed.
    read_logs() {
        local t0 ms bytes
        t0=$(now_ms)
        ctl logs "$job" >"$T/out"
        ms=$(($(now_ms) - t0))
        bytes=$(stat -c %s "$T/out")
        awk -v b="$bytes" -v ms="$ms" -v how="$1" 'BEGIN { printf "logs, %s: %d bytes in %d ms: %.1f MB/s (target >= 20)\n", how, b, ms, b / ms / 1000 }'
    }

    # idle: until Slurm runs none of the user's jobs (5 s at most), so that
    # each sample starts from the same state, whichever way the last ended.
    idle() {
        local k
        for ((k = 0; k < 250; k++)); do
            [[ -z $(squeue -h -u "$U" -t R,CG,PD -o %i) ]] && return 0
            sleep 0.02
        done
    }
    lease=$(ctl --json submit --project llm-eu --gpus 1 --walltime 2h | jq -r .id)
    printf 'name: nap\nproject: llm-eu\nresources: {gpus: 1, walltime: 10m}\nrun: sleep 600\n' >"$T/nap.yaml"
    echo "== start: aifedctl run --detach to RUNNING, against sbatch to RUNNING ($N samples each)"
    for ((i = 0; i < N; i++)); do
        t0=$(now_ms)
        job=$(ctl run --detach --lease "$lease" "$T/nap.yaml" 2>/dev/null)
        for ((k = 0; k < 1500; k++)); do
            [[ $(ctl --json job show "$job" | jq -r .state) == RUNNING ]] && break
            sleep 0.02
        done
        echo $(($(now_ms) - t0)) >>"$T/aifed.ms"
        ctl job cancel "$job" >/dev/null
        idle

        t0=$(now_ms)
        id=$(sudo -n --preserve-env=SLURM_CONF -u "$U" -- sbatch --parsable --chdir=/tmp \
            --output=/dev/null --reservation="aifed-$lease" --gpus=1 --time=10 --wrap "sleep 600")
        for ((k = 0; k < 1500; k++)); do
            [[ $(squeue -h -j "$id" -o %T) == RUNNING ]] && break
            sleep 0.02
        done
        echo $(($(now_ms) - t0)) >>"$T/sbatch.ms"
        scancel "$id"
        idle
    done
    for f in aifed sbatch; do
        printf '%-7s p50 %5d ms   p99 %5d ms\n' "$f" "$(pct "$T/$f.ms" 50)" "$(pct "$T/$f.ms" 99)"
    done
    echo "aifed adds $(($(pct "$T/aifed.ms" 50) - $(pct "$T/sbatch.ms" 50))) ms at p50 (target: at most 200)"
    echo "aifed's samples, in order (ms): $(tr '\n' ' ' <"$T/aifed.ms")"

    echo "== output: one job writing $MB MB as fast as it can, read through aifedctl logs"
    printf 'name: fast\nproject: llm-eu\nresources: {gpus: 1, walltime: 10m}\nrun: head -c %d /dev/zero | tr "\\\\0" x\n' \
        $((MB * 1000000)) >"$T/fast.yaml"
    job=$(ctl run --detach --lease "$lease" "$T/fast.yaml" 2>/dev/null)
    for ((k = 0; k < 600; k++)); do
        [[ $(ctl --json job show "$job" | jq -r .state) == COMPLETED ]] && break
        sleep 0.2
    done
    read_logs "with the rate limit lifted"
    # Again at the default rate_limit (50 requests a second, burst 100): the
    # broker restarts on the same ports without the lifted limit.
    sed -i "/^rate_limit = \|^rate_burst = /d; s|^agent_listen = .*|agent_listen = $FED_AGENT_EP|; s|^client_listen = .*|client_listen = $FED_CLIENT_EP|" "$T/broker.conf"
    fed_stop_pid "$T/broker.pid"
    fed_start_broker "$T" && fed_wait_up "$T" 1 || return 1
    read_logs "at the default rate_limit"

    adverts_part
    fed_stop "$T"
}

# The gaps between the agent's advertisements from its debug log (ms), for
# the lines written between two line counts of it, into FILE.
gaps() {
    sed -n "$(($1 + 1)),$2p" "$T/logs/agent-$SITE.log" | grep 'advertised: seq' |
        sed -n 's/^\([0-9T:.-]*\)Z .*/\1/p' |
        while read -r t; do date -d "$t" +%s%3N; done |
        awk 'NR > 1 { print $1 - prev } { prev = $1 }' >"$3"
}

# Advertisement intervals while 20 jobs are submitted and 10 followers read
# output, against a quiet period of the same length before it.
adverts_part() {
    local quiet=15 l0 l1 l2 i jobs=() pids=() ivl start
    ivl=$(($(sed -n 's/^advertise_interval = \([0-9]*\)ms$/\1/p; s/^advertise_interval = \([0-9]*\)s$/\1000/p' "$T/broker.conf" | head -n 1)))
    echo "== advertisements: the agent's interval (the broker asks one per $ivl ms), quiet and under jobs"
    # In start's lease: the one node is reserved whole for it.
    printf 'name: talk
project: llm-eu
resources: {gpus: 1, walltime: 10m}
run: |
  for i in $(seq 200); do head -c 20000 /dev/zero | tr "\\0" y; echo; sleep 0.1; done
' >"$T/talk.yaml"
    l0=$(wc -l <"$T/logs/agent-$SITE.log")
    sleep "$quiet"
    l1=$(wc -l <"$T/logs/agent-$SITE.log")
    start=$SECONDS
    for ((i = 0; i < 20; i++)); do
        jobs+=("$(ctl run --detach --lease "$lease" "$T/talk.yaml" 2>/dev/null)")
        if ((i < 10)); then
            ctl logs -f "${jobs[i]}" >/dev/null 2>&1 &
            pids+=($!)
        fi
    done
    sleep $((quiet - (SECONDS - start) > 0 ? quiet - (SECONDS - start) : 0))
    l2=$(wc -l <"$T/logs/agent-$SITE.log")
    kill "${pids[@]}" 2>/dev/null
    wait "${pids[@]}" 2>/dev/null
    for i in "${jobs[@]}"; do ctl job cancel "$i" >/dev/null 2>&1; done
    ctl lease release "$lease" >/dev/null 2>&1
    gaps "$l0" "$l1" "$T/quiet.gaps"
    gaps "$l1" "$l2" "$T/busy.gaps"
    for f in quiet busy; do
        awk -v n="$(wc -l <"$T/$f.gaps")" -v p50="$(pct "$T/$f.gaps" 50)" -v p99="$(pct "$T/$f.gaps" 99)" \
            -v max="$(sort -n "$T/$f.gaps" | tail -n 1)" -v ivl="$ivl" -v f="$f" 'BEGIN {
            printf "%-6s %3d intervals: p50 %d ms, p99 %d ms (%.2f x the interval; target <= 1.1), max %d ms\n",
                f, n, p50, p99, p99 / ivl, max }'
    done
    echo "(20 jobs submitted and 10 followed during the busy period; $(grep -c 'running as\|(Slurm job [0-9]*): queued' "$T/logs/agent-$SITE.log") job lines in the agent's log)"
}

# Grant latency with STREAMS followers against none, in alternate rounds
# (none, with, none, with, none), on the same federation and jobs.
followers_part() {
    local F=$T/f lease i k r jobs=() pids=() out p before ms bytes=0 t_ms=0
    local none=() with=()
    fctl() { local u=$1; shift; fed_ctl "$F" "$u" --timeout 30s "$@"; }
    grants() { "$BENCH" open "$FED_CLIENT_EP" "$F/keys/broker.pub" "$F/keys/alice.key" "$SECS" release; }
    p99() { sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' <<<"$1"; }
    follower_bytes() { cat "$F"/shm/follow.* 2>/dev/null | wc -c; }
    mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.2f", s / NR }'; }
    # CPU ticks used so far by the processes named (utime + stime), and by
    # the whole machine (busy, all): where a round's time went.
    ticks() { local p t=0; for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
    busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
    # grants_round LABEL: one round, its figures and where the CPU went.
    grants_round() {
        local b0 a0 f0 m0 m1 out
        b0=$(ticks "$(cat "$F/broker.pid")") a0=$(ticks "$(cat "$F/agents/simA.pid")")
        f0=$(ticks "${pids[@]}") m0=$(busy)
        out=$(grants) || return 1
        m1=$(busy)
        printf '%-12s %s\n' "$1" "$out"
        awk -v b="$(($(ticks "$(cat "$F/broker.pid")") - b0))" -v a="$(($(ticks "$(cat "$F/agents/simA.pid")") - a0))" \
            -v f="$(($(ticks "${pids[@]}") - f0))" -v m0="$m0" -v m1="$m1" -v hz="$(getconf CLK_TCK)" 'BEGIN {
            split(m0, x, " "); split(m1, y, " "); all = (y[2] - x[2]) / hz; busy = (y[1] - x[1]) / hz
            printf "             CPU over the round: broker %.0f%%, agent simA %.0f%%, followers %.0f%% of one core; machine %.0f%% busy\n",
                100 * b / hz / (all / '"$(nproc)"'), 100 * a / hz / (all / '"$(nproc)"'), 100 * f / hz / (all / '"$(nproc)"'), 100 * busy / all }'
        LAST=$out
    }
    echo "== grants at 1,000 offered/s with $STREAMS logs -f streams, against none (same run)"
    bench_sim_federation "$F" || return 1
    # The jobs write to a tmpfs: at a real site their output is on the
    # site's file system, never on the disk whose syncs the broker's grants
    # wait for (here their dirty pages would slow those syncs, which is not
    # what this measures).
    mkdir -p "$F/shm" && mount -t tmpfs -o size=4g aifed-bench "$F/shm" 2>/dev/null ||
        { rm -rf "$F/shm"; ln -s "$(mktemp -d /dev/shm/aifed-bench.XXXXXX)" "$F/shm"; }
    ln -s "$F/shm" "$F/agents/simA-jobs"
    lease=$(fctl bob --json submit --project bio-x --gpus "$STREAMS" --walltime 1h --country LU | jq -r .id)
    # About 1.3 MB/s each: output that keeps coming, as a training job's does.
    # The jobs and the followers run at the lowest priority: at a real site
    # they are on compute nodes and users' machines, not the broker's, and
    # what this measures is what following costs the broker and the agent.
    printf 'name: chatty\nproject: bio-x\nresources: {gpus: 1, walltime: 30m}\nrun: |\n  renice -n 19 $$ >/dev/null\n  while :; do head -c 65535 /dev/zero | tr "\\0" x; echo; sleep 0.05; done\n' >"$F/chatty.yaml"
    for ((i = 0; i < STREAMS; i++)); do
        jobs+=("$(fctl bob run --detach --lease "$lease" "$F/chatty.yaml" 2>/dev/null)")
    done
    for ((r = 0; r < 5; r++)); do
        if ((r % 2 == 0)); then
            pids=()
            grants_round "none:" || return 1
            none+=("$(p99 "$LAST")")
            continue
        fi
        # A user follows at most 8 outputs at once: bob and the admin share
        # them. Each round follows afresh from the last line (no backlog);
        # exec: $! is the follower itself (a background job ignores SIGINT,
        # so it is stopped with SIGTERM).
        rm -f "$F"/shm/follow.*
        pids=()
        for ((i = 0; i < STREAMS; i++)); do
            { exec nice -n 19 "$FED_CTL_BIN" --broker "$FED_CLIENT_EP" --broker-key "$F/keys/broker.pub" \
                --key "$F/keys/$( ((i % 2)) && echo ops || echo bob).key" --timeout 30s \
                logs -f --tail 1 "${jobs[i]}" >"$F/shm/follow.$i" 2>/dev/null; } &
            pids+=($!)
        done
        for ((k = 0; k < 100; k++)); do # until each has output (10 s at most)
            p=1
            for ((i = 0; i < STREAMS; i++)); do [[ -s $F/shm/follow.$i ]] || p=0; done
            ((p)) && break
            sleep 0.1
        done
        before=$(follower_bytes) ms=$(now_ms)
        grants_round "$STREAMS logs -f:" || return 1
        t_ms=$((t_ms + $(now_ms) - ms)) bytes=$((bytes + $(follower_bytes) - before))
        with+=("$(p99 "$LAST")")
        kill -TERM "${pids[@]}" 2>/dev/null
        wait "${pids[@]}" 2>/dev/null
    done
    awk -v b="$bytes" -v ms="$t_ms" -v n="$STREAMS" 'BEGIN { printf "meanwhile the %d followers got %.1f MB/s in all\n", n, b / ms / 1000 }'
    # Each round with streams against the mean of the rounds either side of
    # it, so that a drift over the run cancels. (Each grant is released once
    # granted, so the open leases, and the holds every advertisement lists,
    # stay few; the store still grows by every round's leases.)
    for ((r = 0; r < ${#with[@]}; r++)); do
        awk -v w="${with[r]}" -v n="$(mean "${none[r]}" "${none[r + 1]}")" -v s="$STREAMS" 'BEGIN {
            printf "grant p99: %.2f ms with %d streams, %.2f ms with none either side: ratio %.2f (target <= 1.25)\n", w, s, n, w / n }'
    done
    for ((i = 0; i < STREAMS; i++)); do fctl bob job cancel "${jobs[i]}" >/dev/null 2>&1; done
    fctl bob lease release "$lease" >/dev/null 2>&1
    fed_stop "$F"
    umount "$F/shm" 2>/dev/null || rm -rf "$(readlink "$F/shm")"
}

if [[ $(id -u) -ne 0 ]]; then
    echo "== start and output: skipped (the lab Slurm needs root)"
elif ! slurm_lab_agent_account aifed-agent; then
    echo "== start and output: skipped (cannot make the agent's account and rule)"
elif ! SLURM_LAB_SLURMUSER=aifed-agent slurm_lab_start "$T/slurm" 4; then
    echo "== start and output: skipped (Slurm did not start)"
elif ! slurm_lab_user "aifedbench$$"; then
    echo "== start and output: skipped (cannot create a local user)"
else
    U=$SLURM_LAB_USER
    slurm_part
    slurm_lab_stop
fi
followers_part
