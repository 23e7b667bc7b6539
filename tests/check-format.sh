#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The checked-in .clang-format is the house format; this keeps it from drifting.
# Usage: check-format.sh SOURCE_DIR
cd "${1:?source dir}" || exit 1
command -v clang-format >/dev/null || { echo "clang-format not installed"; exit 77; }
bad=0
while IFS= read -r f; do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "needs clang-format: $f"
        bad=1
    fi
done < <(find broker agent common ctl tests -name '*.[ch]' ! -name '*.pb-c.*')
exit $bad
