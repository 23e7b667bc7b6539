#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A site holds only what the broker signed. A fake broker that has the
# broker's CURVE key (so the agent connects) but sends a hold whose token is
# forged (another signing key) or altered (for other resources than the
# lease: GPUs, nodes, principal) is refused, and so are an expired token and
# a second hold for the same lease asking for more than stands; the site's
# free capacity does not move. A valid token is held. The agent stays up
# throughout.
. "$(dirname "$0")/lib.sh"

fed_init "$T" mimer || exit 1
FAKE=$AIFED_BUILD/tests/integration/fakebroker

run_agent_against() {
    local kind=$1 ep pid fd
    coproc FAKEBROKER { "$FAKE" "$T/keys/broker.key" "$kind"; }
    pid=$FAKEBROKER_PID
    exec {fd}<&"${FAKEBROKER[0]}" # bash forgets the coproc's fds when it ends
    read -r -t 10 ep <&"$fd" || return 1
    FED_AGENT_EP=$ep
    fed_start_agent "$T" mimer "$SITES_DIR/mimer.site"
    timeout 25 cat <&"$fd" >"$T/$kind.out"
    exec {fd}<&-
    wait "$pid" 2>/dev/null
}

for kind in forged altered nodes principal expired regrow valid; do
    run_agent_against "$kind"
    check "the $kind run finished" test -s "$T/$kind.out"
    check "the agent is still up after the $kind token" kill -0 "$(cat "$T/agents/mimer.pid")"
    fed_stop_pid "$T/agents/mimer.pid"
    case $kind in
    forged)
        check "a forged token is refused" grep -q "^refused: token: the signature does not match" "$T/$kind.out"
        check "and nothing is held (64 free)" grep -qx "free=64" "$T/$kind.out" ;;
    altered)
        check "an altered token is refused" grep -q "^refused: .*other resources than the lease" "$T/$kind.out"
        check "and nothing is held (64 free)" grep -qx "free=64" "$T/$kind.out" ;;
    nodes | principal)
        check "a token for other $kind than the lease's is refused" \
            grep -q "^refused: .*other resources than the lease" "$T/$kind.out"
        check "and nothing is held (64 free)" grep -qx "free=64" "$T/$kind.out" ;;
    expired)
        check "an expired token is refused" grep -q "^refused: .*the token expired" "$T/$kind.out"
        check "and nothing is held (64 free)" grep -qx "free=64" "$T/$kind.out" ;;
    regrow)
        check "a hold for 8 GPUs is held" grep -qx "held" "$T/$kind.out"
        check "the same lease asked again for 16 is refused" \
            grep -q "^refused: .*stands for 8 GPUs" "$T/$kind.out"
        check "and 8 GPUs stay held (56 free)" grep -qx "free=56" "$T/$kind.out" ;;
    valid)
        check "a valid token is held" grep -qx "held" "$T/$kind.out"
        check "and 8 GPUs are held (56 free)" grep -qx "free=56" "$T/$kind.out" ;;
    esac
done
