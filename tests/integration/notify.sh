#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Type=notify and the watchdog, without systemd: the test plays systemd's
# side of the protocol (a datagram socket named in NOTIFY_SOCKET, and
# WATCHDOG_USEC) and checks that each daemon says READY once it serves,
# pings the watchdog from its loop, and says STOPPING on SIGTERM.
. "$(dirname "$0")/lib.sh"

# listen SOCKET OUT: write every notification to OUT, one per line; stops by
# itself after 20 s.
listen() {
    # Not on our stdout: the caller's $(...) would wait for it to close.
    python3 - "$1" "$2" >/dev/null <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
end = time.time() + 20
with open(sys.argv[2], "w", buffering=1) as out:
    while time.time() < end:
        try:
            out.write(s.recv(4096).decode().replace("\n", " ") + "\n")
        except socket.timeout:
            pass
PY
    echo $!
}

fed_init "$T" mimer || exit 1
lb=$(listen "$T/broker.notify" "$T/broker.notes")
la=$(listen "$T/agent.notify" "$T/agent.notes")
wait_for "the listeners are up" 5 'test -S "$T/broker.notify" -a -S "$T/agent.notify"'
NOTIFY_SOCKET=$T/broker.notify WATCHDOG_USEC=400000 fed_start_broker "$T" || exit 1
NOTIFY_SOCKET=$T/agent.notify WATCHDOG_USEC=400000 \
    fed_start_agent "$T" mimer "$SITES_DIR/mimer.site"
fed_wait_up "$T" 1 || exit 1
wait_for "the broker said READY" 5 'grep -q "^READY=1 STATUS=serving" "$T/broker.notes"'
wait_for "the agent said READY" 5 'grep -q "^READY=1 STATUS=advertising" "$T/agent.notes"'
wait_for "the broker pings the watchdog (5 pings of 200 ms)" 5 \
    'test "$(grep -c "^WATCHDOG=1" "$T/broker.notes")" -ge 5'
wait_for "the agent pings the watchdog" 5 'test "$(grep -c "^WATCHDOG=1" "$T/agent.notes")" -ge 5'
check "the agent stops cleanly" fed_stop_pid "$T/agents/mimer.pid"
check "the broker stops cleanly" fed_stop_pid "$T/broker.pid"
check "the agent said STOPPING" grep -q "^STOPPING=1" "$T/agent.notes"
check "the broker said STOPPING" grep -q "^STOPPING=1" "$T/broker.notes"
kill "$lb" "$la" 2>/dev/null
wait "$lb" "$la" 2>/dev/null
