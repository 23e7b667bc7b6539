#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What the daemons and aifedctl trust at their edges (each was trusted as it
# came before): the broker refuses to run as root unless lab says why;
# its state_dir must be its own and writable by no one else, and its lock
# file is never a symlink; aifedctl refuses a config file another user owns
# or others may write (it names the broker and the key to trust); the OCF
# agent refuses to start a broker whose user does not exist, instead of
# starting it as root.
. "$(dirname "$0")/lib.sh"
[[ $(id -u) -eq 0 ]] || { trap - EXIT; rm -rf "$T"; echo "1..0 # SKIP needs root (to run as root, and to chown)"; exit 77; }

fed_init "$T" mimer || exit 1
broker_n() { timeout 20 "$FED_BROKER_BIN" -f -c "$1" 2>&1; }

# Root without lab.
sed '/^lab = /d' "$T/broker.conf" >"$T/nolab.conf"
out=$(broker_n "$T/nolab.conf"); rc=$?
check "the broker refuses to run as root without lab ($rc)" \
    test "$rc" = 1 -a -n "$(grep -F 'refusing to run as root' <<<"$out")"

# state_dir: another's, or writable by others; the lock file a symlink.
mkdir -p "$T/shared" && chmod 777 "$T/shared"
sed "s|^state_dir = .*|state_dir = $T/shared|" "$T/broker.conf" >"$T/shared.conf"
out=$(broker_n "$T/shared.conf"); rc=$?
check "a state_dir others may write is refused, saying so" \
    test "$rc" = 1 -a -n "$(grep -F 'others could replace the store; chmod 700 it' <<<"$out")"
mkdir -p "$T/theirs" && chmod 700 "$T/theirs" && chown 65534 "$T/theirs"
sed "s|^state_dir = .*|state_dir = $T/theirs|" "$T/broker.conf" >"$T/theirs.conf"
out=$(broker_n "$T/theirs.conf"); rc=$?
check "a state_dir of another account is refused, saying whose" \
    test "$rc" = 1 -a -n "$(grep -F 'belongs to uid 65534, not to the broker' <<<"$out")"
mkdir -p "$T/linked" && chmod 700 "$T/linked" && ln -s /etc/passwd "$T/linked/broker.lock"
sed "s|^state_dir = .*|state_dir = $T/linked|" "$T/broker.conf" >"$T/linked.conf"
out=$(broker_n "$T/linked.conf"); rc=$?
check "a broker.lock that is a symlink is refused, and its target untouched" \
    test "$rc" = 1 -a -n "$(grep -F 'broker.lock: a symlink, refused' <<<"$out")" -a \
    "$(stat -c %s /etc/passwd)" -gt 0

# aifedctl's config file.
mkdir -p "$T/home/.config/aifed"
printf '[aifedctl]\nbroker = tcp://127.0.0.1:1\n' >"$T/home/.config/aifed/config"
chown 65534 "$T/home/.config/aifed/config"
out=$(HOME=$T/home XDG_CONFIG_HOME= "$FED_CTL_BIN" config show 2>&1); rc=$?
check "aifedctl refuses a config file another user owns ($rc)" \
    test "$rc" != 0 -a -n "$(grep -F 'belongs to uid 65534, not to you' <<<"$out")"
chown 0 "$T/home/.config/aifed/config" && chmod 666 "$T/home/.config/aifed/config"
out=$(HOME=$T/home XDG_CONFIG_HOME= "$FED_CTL_BIN" config show 2>&1); rc=$?
check "... and one others may write" \
    test "$rc" != 0 -a -n "$(grep -F 'writable by group or others' <<<"$out")"
chmod 600 "$T/home/.config/aifed/config"
check "... and takes it once it is the user's own, 0600" \
    quiet env HOME="$T/home" XDG_CONFIG_HOME= "$FED_CTL_BIN" config show

# The OCF agent and a user that does not exist.
out=$(OCF_ROOT=/nonexistent OCF_RESKEY_user=aifed-nosuchuser OCF_RESKEY_binary="$FED_BROKER_BIN" \
    OCF_RESKEY_ctl="$FED_CTL_BIN" OCF_RESKEY_config="$T/broker.conf" \
    OCF_RESKEY_broker_key="$T/keys/broker.pub" OCF_RESKEY_key="$T/keys/ops.key" \
    sh "$SRC/deploy/ha/aifed-broker" validate-all 2>&1); rc=$?
check "the OCF agent refuses a user that does not exist (OCF_ERR_INSTALLED, $rc)" \
    test "$rc" = 5 -a -n "$(grep -F 'user aifed-nosuchuser does not exist' <<<"$out")"
