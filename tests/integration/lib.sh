# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# lib.sh: what every integration test shares. A test sources it, builds a
# federation in a fresh temporary directory with deploy/fedlib.sh, and calls
# ok/fail; at exit the daemons are stopped and must exit cleanly (status 0:
# under the sanitizers, a leak or an error report makes it non-zero) and
# their logs must hold no sanitizer report.
#
# Usage: tests/integration/NAME.sh BUILD_DIR SOURCE_DIR

set -uo pipefail
# In a sanitizer build every program here stops at the first report, so a
# report from aifedctl fails its check just as one from a daemon does.
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1}
export AIFED_BUILD=${1:?build dir}
SRC=${2:?source dir}
# shellcheck source=../../deploy/fedlib.sh
. "$SRC/deploy/fedlib.sh"
SITES_DIR=$SRC/deploy/demo/sites
RAWSEND=$AIFED_BUILD/tests/integration/rawsend
PRESSURE=$AIFED_BUILD/tests/integration/pressure
T=$(mktemp -d /tmp/aifed-it.XXXXXX)
FAILED=0
CHECKS=0

ok() { CHECKS=$((CHECKS + 1)); printf 'ok %d - %s\n' "$CHECKS" "$*"; }
fail() {
    CHECKS=$((CHECKS + 1)); FAILED=$((FAILED + 1))
    printf 'not ok %d - %s\n' "$CHECKS" "$*"
}
# quiet COMMAND... : run it without output (for check; a redirect after
# check would swallow the TAP line too).
quiet() { "$@" >/dev/null 2>&1; }
# check DESCRIPTION COMMAND... : ok when the command succeeds.
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }

# Stop everything; a daemon that did not exit 0 or left a sanitizer report
# fails the test.
finish() {
    local f rc=0
    for f in "$T"/agents/*.pid "$T/broker.pid"; do
        [[ -e $f ]] || continue
        if ! fed_stop_pid "$f"; then
            fail "$(basename "$f" .pid) did not stop cleanly on SIGTERM"
        fi
    done
    if grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T"/logs/*.log 2>/dev/null; then
        fail "sanitizer report in the daemon logs"
        grep -h -A20 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T"/logs/*.log |
            head -80 | sed 's/^/# /'
    fi
    # A test that ran no check (the federation did not start) has failed:
    # TAP's "1..0" would otherwise read as skipped.
    if ((CHECKS == 0)); then
        fail "no check ran"
    fi
    if ((FAILED)); then
        echo "# logs of $T:"
        tail -n 30 "$T"/logs/*.log | sed 's/^/# /'
        rc=1
    fi
    printf '1..%d\n' "$CHECKS"
    # What a test mounted under $T (a small disk) goes before $T does.
    if [[ -d $T ]]; then
        findmnt -rn -o TARGET | grep "^$T/" | sort -r | xargs -r -n 1 umount 2>/dev/null
    fi
    rm -rf "$T"
    exit $rc
}
trap finish EXIT

# fed_stop_pid reports the daemon's exit status: 0 only for a clean stop.
fed_stop_pid() {
    local pidfile=$1 pid i status
    [[ -f $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    rm -f "$pidfile"
    kill -TERM "$pid" 2>/dev/null || return 1
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"; status=$?
            return $status
        fi
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 1
}

# start_federation SITE... : broker plus one agent per demo site, all UP.
start_federation() {
    fed_init "$T" "$@" || return 1
    fed_start_broker "$T" || return 1
    local s
    for s in "$@"; do
        fed_start_agent "$T" "$s" "$SITES_DIR/$s.site"
    done
    fed_wait_up "$T" $#
}

. "$SRC/tests/integration/complete_words.sh"

# ctl USER ARGS... ; ctlj USER ARGS... (--json)
ctl() { local u=$1; shift; fed_ctl "$T" "$u" --timeout 20s "$@"; }
ctlj() { local u=$1; shift; fed_ctl "$T" "$u" --timeout 20s --json "$@"; }

# site_avail SITE : GPUs the broker will still grant at SITE's first pool.
site_avail() {
    ctlj ops sites | jq -r --arg s "$1" '.[] | select(.id == $s) | .pools[0].gpus_available'
}
site_free() {
    ctlj ops sites | jq -r --arg s "$1" '.[] | select(.id == $s) | .pools[0].gpus_free'
}

# served_task NAME REPLICAS [SERVICE-LINE] [PLACEMENT] : a served model's
# task file in $T (its path printed): tests/integration/replica/server.py,
# a small OpenAI-compatible server standing in for vLLM, on AIFED_PORT,
# probed on /v1/models; its model is NAME.
served_task() {
    cat >"$T/$1.yaml" <<Y
name: $1
project: llm-eu
resources: {gpus: 1, walltime: 1h}
${4:+placement: $4}
files: {server.py: $SRC/tests/integration/replica/server.py}
run: exec python3 server.py "\$AIFED_PORT" "\$AIFED_JOB_ID" $1
service:
  readiness_probe: {path: /v1/models, timeout_seconds: 2}
  replicas: $2
${3:+  $3}
Y
    echo "$T/$1.yaml"
}

# wait_for DESCRIPTION SECONDS 'EXPRESSION' : poll until the shell
# expression holds (evaluated afresh each time), at most SECONDS.
wait_for() {
    local d=$1 secs=$2 expr=$3 i
    for ((i = 0; i < secs * 10; i++)); do
        eval "$expr" && { ok "$d"; return 0; }
        sleep 0.1
    done
    fail "$d (not within ${secs}s)"
    return 1
}
