#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite on a fresh Debian 12 machine: install what is missing,
# build, run the unit and integration suites, then build again with
# AddressSanitizer + UndefinedBehaviorSanitizer and run the same suites, then
# build the libFuzzer targets with clang and run each for a bounded time.
# Ends with "N passed, N failed"; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
top=$PWD

deploy/install-deps.sh || exit 1

# build_and_test DIR [MESON OPTIONS...]
build_and_test() {
    local dir=$1; shift
    echo "=== $dir: build"
    if [[ ! -f $dir/build.ninja ]]; then
        meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 ||
            { cat "$dir.setup.log"; return 1; }
    fi
    ninja -C "$dir" || return 1
    echo "=== $dir: test"
    meson test -C "$dir" --print-errorlogs --num-processes 2
}

rc=0
build_and_test build || rc=1
# Sanitizers: abort on the first report, so a test cannot pass past one.
build_and_test build-asan -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debug || rc=1

# Fuzzing needs clang's libFuzzer; without it, say so and go on.
logs=("$top"/build/meson-logs/testlog.json "$top"/build-asan/meson-logs/testlog.json)
if echo 'int LLVMFuzzerTestOneInput(const char *d, long n){(void)d;(void)n;return 0;}' |
    clang -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
    echo "=== build-fuzz: build"
    if [[ ! -f build-fuzz/build.ninja ]]; then
        CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
            -Db_lundef=false >build-fuzz.setup.log 2>&1 || { cat build-fuzz.setup.log; rc=1; }
    fi
    if ninja -C build-fuzz; then
        echo "=== build-fuzz: fuzz"
        meson test -C build-fuzz --suite fuzz --print-errorlogs --num-processes 2 || rc=1
        logs+=("$top"/build-fuzz/meson-logs/testlog.json)
    else
        rc=1
    fi
else
    echo "=== fuzzing skipped: clang cannot build a libFuzzer target here"
fi

passed=0 failed=0
for log in "${logs[@]}"; do
    [[ -f $log ]] || { failed=$((failed + 1)); continue; }
    passed=$((passed + $(jq -s '[.[] | select(.result == "OK" or .result == "EXPECTEDFAIL")] | length' "$log")))
    failed=$((failed + $(jq -s '[.[] | select(.result != "OK" and .result != "EXPECTEDFAIL" and .result != "SKIP")] | length' "$log")))
done
((failed > 0)) && rc=1
echo "$passed passed, $failed failed"
exit $rc
