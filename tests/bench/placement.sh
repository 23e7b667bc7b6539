#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Placement quality on Alibaba's GPU trace of 2023 (issue 33): the replay
# (bench_placement.c) of each trace variant at 60, 80, 90 and 95 % offered
# load, home / aifed / aifed-now / pooled. Figures only; it never fails on
# them. The trace is read where ../shared/traces puts it, never copied.
#
#   bash tests/bench/placement.sh BUILD_DIR SOURCE_DIR [LOAD%...]
set -uo pipefail
build=${1:?build dir}
src=${2:?source dir}
shift 2
loads=("$@")
((${#loads[@]})) || loads=(60 80 90 95)
trace=$src/../shared/traces/alibaba-gpu-v2023
[[ -f $trace/openb_node_list_all_node.csv ]] || { echo "no trace at $trace (see ../shared/traces/README.md)"; exit 77; }
for variant in default gpuspec33 multigpu50; do
    "$build/tests/bench/bench_placement" "$trace" "$variant" "${loads[@]}" || exit 1
    echo
done
