#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite on a fresh Debian 12 machine: install what is missing,
# build, run the unit and integration suites, then build again with
# AddressSanitizer + UndefinedBehaviorSanitizer and run the same suites.
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

passed=0 failed=0
for log in "$top"/build/meson-logs/testlog.json "$top"/build-asan/meson-logs/testlog.json; do
    [[ -f $log ]] || { failed=$((failed + 1)); continue; }
    passed=$((passed + $(jq -s '[.[] | select(.result == "OK" or .result == "EXPECTEDFAIL")] | length' "$log")))
    failed=$((failed + $(jq -s '[.[] | select(.result != "OK" and .result != "EXPECTEDFAIL" and .result != "SKIP")] | length' "$log")))
done
((failed > 0)) && rc=1
echo "$passed passed, $failed failed"
exit $rc
