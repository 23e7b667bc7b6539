# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# benchlib.sh: what the benchmark scripts share. Sourced after fedlib.sh.

# bench_site_file DIR ID CC : a simulated static site in DIR/ID.site, big
# enough that a benchmark's grants never run out of capacity.
bench_site_file() {
    cat >"$1/$2.site" <<SITE
[site]
id = $2
country = $3
illustrative = yes
[pool:gpu]
accelerator = H100
gpu_memory_gb = 80
gpus_per_node = 8
nodes = 4096
gpus_free = 32000
max_walltime = 24h
SITE
}

# bench_sim_federation DIR : a broker (rate limit lifted) and two simulated
# sites, simA (LU) and simB (DE), running in DIR.
bench_sim_federation() {
    local dir=$1
    mkdir -p "$dir"
    bench_site_file "$dir" simA LU
    bench_site_file "$dir" simB DE
    FED_MAX_WAITING=4096 fed_init "$dir" simA simB || return 1
    sed -i 's/^max_waiting = .*/&\nrate_limit = 1000000\nrate_burst = 1000000/' "$dir/broker.conf"
    fed_start_broker "$dir" || return 1
    fed_start_agent "$dir" simA "$dir/simA.site"
    fed_start_agent "$dir" simB "$dir/simB.site"
    fed_wait_up "$dir" 2
}

# bench_pct FILE P : the P-th percentile of the numbers in FILE (nearest rank).
bench_pct() {
    sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int((p * NR + 99) / 100); if (i < 1) i = 1; print v[i] }'
}
