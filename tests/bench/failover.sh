#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/bench/failover: the broker under Pacemaker (tests/integration/
# pacemaker.sh, a real two-node cluster in network namespaces, root), ROUNDS
# times: from the active broker's death (kill -9; then the loss of its
# node) to the first grant on the other node, and how many of the submits
# in flight failed outright (aifedctl retrying within 90 s). The cluster runs
# with the timeouts docs/high-availability.md recommends (Corosync token
# 1 s, monitor every 1 s, migration-threshold 1). Prints figures; judges
# nothing.
#
# Usage: tests/bench/failover.sh BUILD_DIR SOURCE_DIR [ROUNDS]
set -uo pipefail
BUILD=${1:?build dir}
SRC=${2:?source dir}
ROUNDS=${3:-5}
OUT=$(mktemp /tmp/aifed-failover.XXXXXX)
trap 'rm -f "$OUT"' EXIT
for ((r = 1; r <= ROUNDS; r++)); do
    AIFED_BENCH_OUT=$OUT bash "$SRC/tests/integration/pacemaker.sh" "$BUILD" "$SRC" >"$OUT.log" 2>&1
    rc=$?
    if [[ $rc == 77 ]]; then
        echo "failover: skipped: $(grep -o 'SKIP.*' "$OUT.log")"
        rm -f "$OUT.log"
        exit 0
    fi
    [[ $rc == 0 ]] || echo "round $r: the cluster test failed ($(grep -c '^not ok' "$OUT.log") checks)"
done
rm -f "$OUT.log"
echo "failover under Pacemaker, $ROUNDS rounds (seconds from the death to the first grant on the other node):"
awk -F'|' '{ n[$1]++; v[$1, n[$1]] = $2; failed[$1] += $3 }
    END {
        for (k in n) {
            m = n[k]
            for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
                if (v[k, j] < v[k, i]) { t = v[k, i]; v[k, i] = v[k, j]; v[k, j] = t }
            printf "  %-30s min %.1f  median %.1f  max %.1f   submits failed: %d of %d\n",
                k, v[k, 1], v[k, int((m + 1) / 2)], v[k, m], failed[k], 6 * m
        }
    }' "$OUT"
