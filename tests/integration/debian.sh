#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian packages: dpkg-buildpackage builds aifed-broker, aifed-agent,
# aifed-gateway, aifedctl and aifed-common (the shared man pages, guides and examples) from
# this tree, leaving it clean; they install on this machine with their users,
# state directories, units, man pages and completion; the installed daemons
# start as their own users (as their units run them; no systemd runs here),
# serve a lease, stop cleanly; and the packages purge without a trace.
# Needs root (it installs packages); skips without it.
set -uo pipefail
BUILD=$(realpath "${1:?build dir}")
SRC=$(realpath "${2:?source dir}")
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
fail() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
check() { local d=$1; shift; if "$@" >>"$T/checks.log" 2>&1; then ok "$d"; else fail "$d"; fi; }
skip() { echo "1..0 # SKIP $*"; exit 77; }

[[ $(id -u) -eq 0 ]] || skip "installing packages needs root"
command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null ||
    skip "dpkg-dev and debhelper are missing (deploy/install-deps.sh installs them)"
dpkg-query -W -f='${Status}' aifed-broker 2>/dev/null | grep -q installed &&
    skip "aifed packages are installed already; not touching them"
[[ -e /etc/aifed ]] && skip "/etc/aifed exists; not touching it"
T=$(mktemp -d /tmp/aifed-deb.XXXXXX)
pids=()
: >"$T/checks.log"
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    dpkg --purge aifedctl aifed-gateway aifed-agent aifed-broker aifed-common >/dev/null 2>&1
    rm -rf /etc/aifed "$T"
}
trap cleanup EXIT

# The tree as it is (tracked files), built in a copy: dpkg writes beside it.
# The copy is a git tree of its own, to see what the build leaves in it.
mkdir -p "$T/src"
(cd "$SRC" && git ls-files -z 2>/dev/null || find . -path ./build\* -prune -o -type f -print0) |
    (cd "$SRC" && xargs -0 cp --parents -t "$T/src")
(cd "$T/src" && git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm t)
(cd "$T/src" && dpkg-buildpackage -us -uc -b >"$T/build.log" 2>&1)
check "dpkg-buildpackage builds the five packages" \
    test -f "$T"/aifed-broker_*.deb -a -f "$T"/aifed-agent_*.deb -a -f "$T"/aifedctl_*.deb \
    -a -f "$T"/aifed-gateway_*.deb \
    -a -f "$T"/aifed-common_*_all.deb ||
    { tail -n 30 "$T/build.log" | sed 's/^/# /'; exit 1; }
check "the package build leaves the tree as git has it (nothing untracked)" \
    test -z "$(cd "$T/src" && git status --porcelain)"
check "they install" dpkg -i "$T"/aifed-common_*_all.deb "$T"/aifed-broker_*_*.deb \
    "$T"/aifed-agent_*_*.deb "$T"/aifedctl_*_*.deb "$T"/aifed-gateway_*_*.deb
check "the gateway's package makes its account, with no home and no shell" \
    test "$(getent passwd aifed-gateway | cut -d: -f6,7)" = /nonexistent:/usr/sbin/nologin
check "aifed.conf(5) and aifed-site(5) are installed, once, for both daemons" \
    test -f /usr/share/man/man5/aifed.conf.5.gz -a -f /usr/share/man/man5/aifed-site.5.gz
check "the guides and the example files are under /usr/share/doc/aifed" \
    test -f /usr/share/doc/aifed/operations.md -a -f /usr/share/doc/aifed/examples/broker.conf \
    -a -f /usr/share/doc/aifed/examples/sites/mimer.site -a -f /usr/share/doc/aifed/examples/slurm/sudoers
# Every Documentation= of the installed units names a file that is there.
docs_missing() {
    local u d
    for u in /lib/systemd/system/aifed-{broker,agent,gateway}.service; do
        for d in $(sed -n 's/^Documentation=//p' "$u"); do
            case $d in
            file://*) [[ -f ${d#file://} ]] || echo "$u: $d" ;;
            man:*) d=${d#man:}; [[ -f /usr/share/man/man${d//[^0-9]/}/${d%%(*}.${d//[^0-9]/}.gz ]] || echo "$u: $d" ;;
            esac
        done
    done
}
check "every Documentation= of the units is installed" test -z "$(docs_missing)"
check "the broker package brings the OCF resource agent, ocf:aifed:aifed-broker" \
    test -x /usr/lib/ocf/resource.d/aifed/aifed-broker
for p in broker agent; do
    check "user aifed-$p exists" getent passwd "aifed-$p"
    check "aifed-$p's unit is installed" test -f "/lib/systemd/system/aifed-$p.service"
    check "its man page is installed" test -f "/usr/share/man/man8/aifed-$p.8.gz"
done
check "the job helper is installed root's, not writable by others" \
    test "$(stat -c '%U %a' /usr/libexec/aifed/aifed-jobhelper)" = "root 755"
check "the agent's sudoers rule is installed 0440 and parses" \
    test "$(stat -c '%U %a' /etc/sudoers.d/aifed-agent)" = "root 440" -a -n "$(visudo -cqf /etc/sudoers.d/aifed-agent && echo ok)"
check "group aifed-users exists (the rule's)" getent group aifed-users
check "the rule lets aifed-agent run the helper as aifed-users' members, and nothing else" \
    grep -q "(%aifed-users, !root) NOPASSWD: /usr/libexec/aifed/aifed-jobhelper" <<<"$(sudo -l -U aifed-agent 2>&1)"
check "/var/lib/aifed belongs to aifed-broker, mode 0700" \
    test "$(stat -c '%U %a' /var/lib/aifed)" = "aifed-broker 700"
check "aifedctl and its completion are installed" \
    test -x /usr/bin/aifedctl -a -f /usr/share/bash-completion/completions/aifedctl
check "the installed units verify" systemd-analyze verify /lib/systemd/system/aifed-broker.service \
    /lib/systemd/system/aifed-agent.service

# Run them as the units would: their users (setpriv execs, so the pid is the
# daemon's), their files.
cd /etc/aifed || exit 1
for k in broker mimer ops; do aifedctl keygen --dir /etc/aifed "$k" >/dev/null; done
chown aifed-broker: broker.key
chown aifed-agent: mimer.key
cat >broker.conf <<CONF
[broker]
agent_listen = tcp://127.0.0.1:*
client_listen = tcp://127.0.0.1:*
state_dir = /var/lib/aifed
secret_key = broker.key
metrics_listen = 127.0.0.1:0
require_allocation = no
[site:mimer]
public_key = mimer.pub
[admin:ops]
public_key = ops.pub
CONF
cp "$SRC/deploy/demo/sites/mimer.site" mimer.site
check "the installed broker accepts the config" /usr/sbin/aifed-broker -n -c /etc/aifed/broker.conf
setpriv --reuid aifed-broker --regid aifed-broker --init-groups /usr/sbin/aifed-broker -f -c /etc/aifed/broker.conf 2>"$T/broker.log" &
pids+=($!)
for ((i = 0; i < 100; i++)); do [[ -s /var/lib/aifed/endpoints ]] && break; sleep 0.1; done
agent_ep=$(awk '$1 == "agent" {print $2}' /var/lib/aifed/endpoints)
client_ep=$(awk '$1 == "client" {print $2}' /var/lib/aifed/endpoints)
check "the broker runs as aifed-broker" test "$(ps -o user= -p "${pids[0]}")" = aifed-broker
cat >agent.conf <<CONF
[agent]
site = mimer
broker = $agent_ep
broker_public_key = broker.pub
secret_key = mimer.key
site_file = mimer.site
advertise_interval = 500ms
metrics_listen = 127.0.0.1:0
CONF
setpriv --reuid aifed-agent --regid aifed-agent --init-groups /usr/sbin/aifed-agent -f -c /etc/aifed/agent.conf 2>"$T/agent.log" &
pids+=($!)
ctl() { aifedctl --broker "$client_ep" --broker-key broker.pub --key ops.key --timeout 10s "$@"; }
for ((i = 0; i < 100; i++)); do
    [[ $(ctl --json sites 2>/dev/null | jq -r '.[0].state') == UP ]] && break
    sleep 0.1
done
check "the installed agent comes UP at the installed broker" \
    test "$(ctl --json sites | jq -r '.[0].state')" = UP
check "a lease is granted" \
    test "$(ctl --json submit --project demo --gpus 8 | jq -r .state)" = ACTIVE
check "the broker wrote its store as aifed-broker" \
    test "$(stat -c %U /var/lib/aifed/data.mdb)" = aifed-broker
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do
    wait "$p"
    check "a daemon stopped cleanly on SIGTERM" test $? -eq 0
done
pids=()
cd / || exit 1
rm -rf /etc/aifed
check "the packages purge" dpkg --purge aifedctl aifed-gateway aifed-agent aifed-broker aifed-common
check "purging removes the users and state" \
    bash -c '! getent passwd aifed-broker && ! getent passwd aifed-gateway && ! test -e /var/lib/aifed'
[[ $failed -eq 0 ]] || { sed 's/^/# broker: /' "$T/broker.log"; sed 's/^/# agent: /' "$T/agent.log"
    tail -n 30 "$T/checks.log" | sed 's/^/# /'; }
echo "1..$n"
exit $failed
