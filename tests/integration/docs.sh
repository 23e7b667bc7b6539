#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The man pages and the bash completion stay true to the programs: every
# aifedctl command is in aifedctl(1) and completes; every setting the daemons
# print with -n -v is in aifed.conf(5).
set -uo pipefail
BUILD=${1:?build dir}
SRC=${2:?source dir}
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
fail() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }

CTL=$BUILD/ctl/aifedctl
MAN=$BUILD/docs/man
commands=$("$CTL" help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && /^  [a-z]/ {print $1}')
check "aifedctl help lists commands" test "$(wc -w <<<"$commands")" -ge 9
for c in $commands; do
    check "aifedctl(1) describes $c" grep -q "fB$c" "$MAN/aifedctl.1"
    check "aifedctl $c --help prints its usage (exit 0)" \
        bash -c '"$1" "$2" --help | grep -q "^usage: aifedctl"' _ "$CTL" "$c"
done
golden=$SRC/tests/unit/golden
# aifed-agent -n reads its keys: the configs below get real ones, in a copy
# of their directory (symlinks, so relative paths still resolve).
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
keyed() { # keyed DIR CONF: CONF of DIR, in a copy under $W whose keys exist
    local d=$W/$(basename "$1")-$(basename "$2" .conf)
    mkdir -p "$d" && ln -s "$1"/* "$d"/ 2>/dev/null
    "$CTL" keygen --dir "$d/k" site >/dev/null && "$CTL" keygen --dir "$d/k" broker >/dev/null
    rm -f "$d/$(basename "$2")"
    sed "s|^secret_key = .*|secret_key = $d/k/site.key|; s|^broker_public_key = .*|broker_public_key = $d/k/broker.pub|" \
        "$1/$2" >"$d/$(basename "$2")"
    echo "$d/$(basename "$2")"
}
for key in $("$BUILD/broker/aifed-broker" -n -v -c "$golden/broker.conf" 2>/dev/null |
    sed -n '/^\[broker\]/,/^\[/s/^\([a-z_]*\) = .*/\1/p'); do
    check "aifed.conf(5) has broker setting $key" grep -q "fB$key" "$MAN/aifed.conf.5"
done
for key in $("$BUILD/agent/aifed-agent" -n -v -c "$(keyed "$golden" agent.conf)" 2>/dev/null |
    sed -n '/^\[agent\]/,/^\[/s/^\([a-z_]*\) = .*/\1/p'); do
    check "aifed.conf(5) has agent setting $key" grep -q "fB$key" "$MAN/aifed.conf.5"
done
# [gateway]: every setting aifed-gateway -n -v prints (a certificate and
# key it only reads here).
printf 'x\n' >"$W/gw.crt"
printf 'x\n' >"$W/gw.pem"
printf '[gateway]\ntls_cert = %s\ntls_key = %s\nlab = docs.sh\nlisten = 127.0.0.1:0\n' \
    "$W/gw.crt" "$W/gw.pem" >"$W/gateway.conf"
gw_keys=$("$BUILD/gateway/aifed-gateway" -n -v -c "$W/gateway.conf" 2>/dev/null |
    sed -n 's/^\([a-z_]*\) = .*/\1/p')
check "aifed-gateway -n -v prints its settings" test "$(wc -w <<<"$gw_keys")" -ge 12
for key in $gw_keys; do
    check "aifed.conf(5) has gateway setting $key" grep -q "fB$key" "$MAN/aifed.conf.5"
done
# [slurm], defaults included (they print as "# key: ...").
for key in $("$BUILD/agent/aifed-agent" -n -v -c "$(keyed "$golden" agent-slurm.conf)" 2>/dev/null |
    sed -n '/^\[slurm\]/,/^$/s/^#* *\([a-z_]*\)\( =\|:\) .*/\1/p'); do
    check "aifed.conf(5) has slurm setting $key" grep -q "fB$key" "$MAN/aifed.conf.5"
done

check "the example Slurm site config (deploy/slurm) passes aifed-agent -n" \
    "$BUILD/agent/aifed-agent" -n -c "$(keyed "$SRC/deploy/slurm" agent.conf)"
nokey=$(keyed "$SRC/deploy/slurm" agent.conf)
rm "$(dirname "$nokey")/k/site.key"
out=$("$BUILD/agent/aifed-agent" -n -c "$nokey" 2>&1); rc=$?
check "... and fails, naming the file, where its key is missing" \
    test "$rc" -ne 0 -a -n "$(grep -F "site key: $(dirname "$nokey")/k/site.key" <<<"$out")"

# The site file's keys, as the agent prints them back, in aifed-site(5).
for key in $("$BUILD/agent/aifed-agent" -n -v -c "$(keyed "$golden" agent.conf)" 2>/dev/null |
    sed -n '/^# site file/,$s/^\([a-z_]*\) = .*/\1/p' | sort -u); do
    [[ $key == gpus_total ]] && continue # printed, not read: gpus_per_node x nodes
    check "aifed-site(5) has site-file setting $key" grep -q "fB$key" "$MAN/aifed-site.5"
done

# The example configs, as installed under /usr/share/doc/aifed/examples,
# check clean with keys where they name them; their end-of-line comments
# are comments.
ex=$W/examples
mkdir -p "$ex/keys"
for k in broker site-mimer alice ops; do "$CTL" keygen --dir "$ex/keys" "$k" >/dev/null; done
sed "s|/etc/aifed/|$ex/keys/|" "$SRC/deploy/examples/broker.conf" >"$ex/broker.conf"
sed "s|/etc/aifed/|$ex/keys/|" "$SRC/deploy/examples/agent.conf" >"$ex/agent.conf"
cp "$SRC/deploy/demo/sites/mimer.site" "$ex/"
out=$("$BUILD/broker/aifed-broker" -n -v -c "$ex/broker.conf" 2>&1); rc=$?
check "the example broker.conf checks clean, its comments left out of the values" \
    test "$rc:$(grep '^state_dir = ' <<<"$out")" = "0:state_dir = /var/lib/aifed"
out=$("$BUILD/agent/aifed-agent" -n -v -c "$ex/agent.conf" 2>&1); rc=$?
check "the example agent.conf checks clean" test "$rc:$(grep '^site = ' <<<"$out")" = "0:site = mimer"

# Completion, as bash-completion runs it.
. "$SRC/tests/integration/complete_words.sh"
got=$(complete_words aifedctl "")
for c in $commands; do
    check "completion offers $c" grep -qx "$c" <<<"$got"
done
check "completion offers lease verbs" \
    test "$(complete_words aifedctl lease "" | sort | tr '\n' ' ')" = "release renew revoke show token why "
check "completion offers admin principal verbs" \
    grep -qx "remove-key" <<<"$(complete_words aifedctl admin principal "")"
check "completion offers --prefer values" grep -qx "green" <<<"$(complete_words aifedctl submit --prefer "")"
echo "1..$n"
exit $failed
