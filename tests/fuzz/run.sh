#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run one fuzz target for a bounded number of inputs from a fixed seed, on a
# scratch corpus, so the source tree is never written to. Each SEED is a
# directory whose files are copied in, or a program that writes seeds into
# the directory it is given. Usage: run.sh TARGET RUNS [SEED...]
set -u
target=$1 runs=$2
shift 2
corpus=$(mktemp -d /tmp/aifed-corpus.XXXXXX)
trap 'rm -rf "$corpus"' EXIT
for seed in "$@"; do
    if [[ -d $seed ]]; then
        find "$seed" -maxdepth 1 -type f -exec cp {} "$corpus/" \;
    else
        "$seed" "$corpus" || exit 1
    fi
done
# -seed fixes the search; -max_len bounds an input; a crash exits non-zero
# and prints the input that caused it.
"$target" -runs="$runs" -seed=1 -max_len=4096 -print_final_stats=1 "$corpus" 2>&1 |
    grep -E "^(#[0-9]+[[:space:]]+(INITED|DONE))|stat::number_of_executed_units|ERROR|SUMMARY|==[0-9]+==|Test unit written" |
    sed 's/^/# /'
exit "${PIPESTATUS[0]}"
