#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/bench/jobs: jobs through aifed on the lab Slurm (deploy/
# slurmlab.sh, root), against Slurm itself in the same run:
#  - start: `aifedctl run --detach --lease L` to RUNNING in `aifedctl job
#    show`, against `sbatch --reservation` (as the same user) to RUNNING in
#    `squeue`, N samples each (both polled every 20 ms), p50/p99;
#  - output: one job writing as fast as it can; `aifedctl logs` MB/s.
# Prints figures; judges nothing. Skips where Slurm cannot start.
#
# Usage: tests/bench/jobs.sh BUILD_DIR SOURCE_DIR [SAMPLES] [MEGABYTES]
set -uo pipefail
export AIFED_BUILD=${1:?build dir}
SRC=${2:?source dir}
N=${3:-20}
MB=${4:-100}
. "$SRC/deploy/fedlib.sh"
. "$SRC/deploy/slurmlab.sh"
T=$(mktemp -d /tmp/aifed-bench.XXXXXX)
chmod 711 "$T"
trap 'fed_stop "$T" 2>/dev/null; slurm_lab_stop; rm -rf "$T"' EXIT
[[ $(id -u) -eq 0 ]] || { echo "skipped: the lab Slurm needs root"; exit 0; }
slurm_lab_start "$T/slurm" 4 || { echo "skipped: Slurm did not start"; exit 0; }
slurm_lab_user "aifedbench$$" || { echo "skipped: cannot create a local user"; exit 0; }
U=$SLURM_LAB_USER

SITE=meluxina
fed_init "$T" "$SITE" || exit 1
sed -i 's/^max_waiting = .*/&\nrate_limit = 100000\nrate_burst = 100000/' "$T/broker.conf"
fed_start_broker "$T" || exit 1
printf '[site]\nid = %s\ncountry = LU\n\n[pool:gpu]\ngpu_memory_gb = 40\n' "$SITE" >"$T/agents/$SITE.site"
printf '[users]\nalice = %s\n' "$U" >"$T/agents/users.map"
slurm_lab_agent_conf "$T" "$SITE" <<<"command_timeout = 5s"
slurm_lab_start_agent "$T" "$SITE"
fed_wait_up "$T" 1 || exit 1
ctl() { fed_ctl "$T" alice --timeout 30s "$@"; }
now_ms() { date +%s%3N; }
# pct FILE P: the P-th percentile of the numbers in FILE (nearest rank).
pct() { sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int((p * NR + 99) / 100); if (i < 1) i = 1; print v[i] }'; }

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

    t0=$(now_ms)
    id=$(sudo -n --preserve-env=SLURM_CONF -u "$U" -- sbatch --parsable --chdir=/tmp \
        --output=/dev/null --reservation="aifed-$lease" --gpus=1 --time=10 --wrap "sleep 600")
    for ((k = 0; k < 1500; k++)); do
        [[ $(squeue -h -j "$id" -o %T) == RUNNING ]] && break
        sleep 0.02
    done
    echo $(($(now_ms) - t0)) >>"$T/sbatch.ms"
    scancel "$id"
done
for f in aifed sbatch; do
    printf '%-7s p50 %5d ms   p99 %5d ms\n' "$f" "$(pct "$T/$f.ms" 50)" "$(pct "$T/$f.ms" 99)"
done
echo "aifed adds $(($(pct "$T/aifed.ms" 50) - $(pct "$T/sbatch.ms" 50))) ms at p50 (target: at most 200)"

echo "== output: one job writing $MB MB as fast as it can, read through aifedctl logs"
printf 'name: fast\nproject: llm-eu\nresources: {gpus: 1, walltime: 10m}\nrun: head -c %d /dev/zero | tr "\\\\0" x\n' \
    $((MB * 1000000)) >"$T/fast.yaml"
job=$(ctl run --detach --lease "$lease" "$T/fast.yaml" 2>/dev/null)
for ((k = 0; k < 600; k++)); do
    [[ $(ctl --json job show "$job" | jq -r .state) == COMPLETED ]] && break
    sleep 0.2
done
t0=$(now_ms)
ctl logs "$job" >"$T/out"
ms=$(($(now_ms) - t0))
bytes=$(stat -c %s "$T/out")
awk -v b="$bytes" -v ms="$ms" 'BEGIN { printf "logs: %d bytes in %d ms: %.1f MB/s (target >= 20)\n", b, ms, b / ms / 1000 }'
