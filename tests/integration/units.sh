#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The systemd units under deploy/systemd are valid, run each daemon as its own
# user with the hardening docs/security.md promises (the agent with what
# sudo needs to run jobs as their users), and score as a low
# exposure in systemd's own audit. (The machines that run this suite have no
# systemd running, so the units are checked offline, not started.)
set -uo pipefail
BUILD=${1:?build dir}
SRC=${2:?source dir}
T=$(mktemp -d /tmp/aifed-units.XXXXXX)
trap 'rm -rf "$T"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
fail() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }

for d in broker agent; do
    unit=$SRC/deploy/systemd/aifed-$d.service
    bin=$(realpath "$BUILD/${d}/aifed-$d")
    # The installed path, swapped for the built binary so verify can see it.
    sed "s|/usr/sbin/aifed-$d|$bin|g" "$unit" >"$T/aifed-$d.service"
    # --man=no: the man pages Documentation= names are installed with the
    # packages (debian.sh checks every one), not here.
    check "aifed-$d.service verifies" systemd-analyze verify --man=no "$T/aifed-$d.service"
    # The agent runs jobs as their users through sudo (setuid): it cannot
    # have NoNewPrivileges, keeps sudo's three capabilities, and sees homes,
    # where the job helper makes job directories (docs/slurm-sites.md).
    if [[ $d == broker ]]; then
        want=(NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes CapabilityBoundingSet=
            "SystemCallFilter=~@privileged")
        max=2.0
    else
        want=(NoNewPrivileges=no ProtectSystem=full PrivateDevices=yes
            "CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_AUDIT_WRITE")
        max=3.0
    fi
    for line in "User=aifed-$d" Type=notify WatchdogSec=30s "SystemCallFilter=@system-service" \
        AmbientCapabilities= MemoryDenyWriteExecute=yes "${want[@]}"; do
        check "aifed-$d.service has $line" grep -qx "$line" "$unit"
    done
    nofile=$(sed -n 's/^LimitNOFILE=//p' "$unit")
    check "aifed-$d.service sizes its descriptors ($nofile)" test "${nofile:-0}" -ge 4096
    rw=$(sed -n 's/^ReadWritePaths=//p' "$unit")
    state=$(sed -n 's/^StateDirectory=//p' "$unit")
    check "aifed-$d.service may write only its state directory ($rw)" \
        test "$rw" = "/var/lib/$state"
    score=$(systemd-analyze security --offline=yes "$T/aifed-$d.service" 2>/dev/null |
        sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
    check "aifed-$d.service exposure $score is at most $max (of 10)" \
        awk -v s="$score" -v m="$max" 'BEGIN { exit !(s != "" && s <= m) }'
done
# The gateway holds no state and needs no privilege but a low port's.
unit=$SRC/deploy/systemd/aifed-gateway.service
sed "s|/usr/sbin/aifed-gateway|$(realpath "$BUILD/gateway/aifed-gateway")|g" "$unit" \
    >"$T/aifed-gateway.service"
check "aifed-gateway.service verifies" systemd-analyze verify --man=no "$T/aifed-gateway.service"
for line in User=aifed-gateway NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
    PrivateTmp=yes "CapabilityBoundingSet=CAP_NET_BIND_SERVICE" MemoryDenyWriteExecute=yes \
    "SystemCallFilter=@system-service"; do
    check "aifed-gateway.service has $line" grep -qx "$line" "$unit"
done
check "aifed-gateway.service writes nowhere" test -z "$(sed -n 's/^\(ReadWritePaths\|StateDirectory\)=//p' "$unit")"
score=$(systemd-analyze security --offline=yes "$T/aifed-gateway.service" 2>/dev/null |
    sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
check "aifed-gateway.service exposure $score is at most 2.5 (of 10)" \
    awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.5) }'
echo "1..$n"
exit $failed
