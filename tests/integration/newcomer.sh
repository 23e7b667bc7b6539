#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A newcomer's first hour, as the README walks it, with a fresh home and
# none of the AIFED_* variables: a key made into a directory that is not
# there yet, registered by an operator; a config file instead of three
# exports (tcp:// left out, paths relative to it), which config show
# explains; a mistyped command and a bad flag answered in a line that says
# where to look; durations as a Slurm user types them (a bare number is
# minutes); explain and submit pinned to a site; the lease shown and
# released by the start of its id; global options after the command.
. "$(dirname "$0")/lib.sh"

start_federation mimer pharos || exit 1
CTL=$FED_CTL_BIN
H=$T/home
mkdir -p "$H"
# A newcomer's shell: their own home, nothing exported.
newbie_env() { env -u AIFED_BROKER -u AIFED_BROKER_KEY -u AIFED_KEY -u AIFED_CONFIG HOME="$H" "$@"; }
newbie() { newbie_env "$CTL" "$@"; }

out=$(newbie keygen --dir "$H/.config/aifed" dana 2>&1); rc=$?
check "keygen makes the missing directory, and says so" \
    test "$rc:$(head -n 2 <<<"$out" | tr '\n' '|')" = "0:made $H/.config (mode 0700)|made $H/.config/aifed (mode 0700)|"
check "... private to the user (0700)" test "$(stat -c %a "$H/.config/aifed")" = 700
check "... with the key pair in it" test -s "$H/.config/aifed/dana.key" -a -s "$H/.config/aifed/dana.pub"
check "the operator registers the key" \
    quiet ctl ops admin principal add user:dana --pub "$H/.config/aifed/dana.pub" --projects llm-eu

out=$(newbie sites 2>&1); rc=$?
check "with nothing set, a command says what is missing and where it may go" \
    test "$rc" -ne 0 -a -n "$(grep -F "no broker: say where the broker is" <<<"$out" | grep -F "$H/.config/aifed/config")"

cp "$T/keys/broker.pub" "$H/.config/aifed/broker.pub"
cat >"$H/.config/aifed/config" <<EOF
[aifedctl]
broker = ${FED_CLIENT_EP#tcp://}
broker_key = broker.pub
key = dana.key
EOF
out=$(newbie config show)
check "config show says each value and that it came from the file" \
    test "$(grep -c "($H/.config/aifed/config)$" <<<"$out")" = 3
check "... with the broker as tcp://, though the file left it out" grep -qx "broker:      $FED_CLIENT_EP ($H/.config/aifed/config)" <<<"$out"
check "... and the key's path relative to the file" grep -qx "key:         $H/.config/aifed/dana.key ($H/.config/aifed/config)" <<<"$out"
check "the config file is all a newcomer needs" quiet newbie sites
out=$(newbie_env AIFED_KEY=/nowhere.key "$CTL" config show)
check "an exported variable wins over the file, and config show says so" grep -qx "key:         /nowhere.key (AIFED_KEY)" <<<"$out"
printf '[aifedctl]\nbrokr = x\n' >"$T/bad.config"
out=$(newbie_env AIFED_CONFIG="$T/bad.config" "$CTL" config show 2>&1); rc=$?
check "a wrong setting in the file is named with its line" \
    test "$rc:$out" = "2:aifedctl: $T/bad.config:2: unknown setting 'brokr' (broker, broker_key, key, timeout)"

out=$(newbie whoami)
check "whoami names the principal and its projects" \
    test "$(head -n 2 <<<"$out" | tr '\n' '|')" = "principal:   user:dana|projects:    llm-eu|"
check "broker-key gives the broker's token key, the one in its state dir" \
    test "$(newbie broker-key)" = "$(cat "$T/state/signing.key.pub")"
newbie broker-key >"$H/broker-signing.pub"

# A wrong broker key is said in seconds, not at the end of a submit's wait
# (the bound is only that it ends well before the 120 s it was given).
out=$(timeout 60 env -u AIFED_CONFIG HOME="$H" "$CTL" --broker-key "$H/.config/aifed/dana.pub" \
    --timeout 120s submit --project llm-eu --gpus 1 2>&1); rc=$?
check "a wrong broker key is named as the likely cause, in seconds" \
    test "$rc" -ne 124 -a -n "$(grep -F "CURVE handshake did not complete: is the broker's public key" <<<"$out")"

out=$(newbie sumbit 2>&1); rc=$?
check "a mistyped command gets the nearest one, and where the help is" \
    test "$rc:$(tr '\n' '|' <<<"$out")" = "2:aifedctl: no command 'sumbit'; did you mean 'submit'?|See 'aifedctl --help'.|"
out=$(newbie submit --project llm-eu --gpus 1 --walltime soon 2>&1); rc=$?
check "a bad value is one line with the forms, then where the help is" \
    test "$rc:$(tr '\n' '|' <<<"$out")" = "2:aifedctl submit: --walltime: 'soon' is not a duration (like 90m, 1h30m, 2d4h, HH:MM:SS or D-HH:MM:SS; a bare number is minutes, as in sbatch --time)|See 'aifedctl submit --help'.|"
out=$(newbie --broker localhost sites 2>&1); rc=$?
check "a broker with no port is bad usage (2), not unreachable" \
    test "$rc:$out" = "2:aifedctl: the broker (--broker) is not host:port or tcp://host:port"

out=$(newbie --json explain --project llm-eu --gpus 8 --accelerator H100 --site pharos)
check "explain --site: only that site is a candidate" \
    test "$(jq -r '[.[] | select(.verdict != "rejected") | .site] | join(",")' <<<"$out")" = pharos
check "... the others are rejected as not asked for" \
    test "$(jq -r '.[] | select(.site == "mimer") | .reason' <<<"$out")" = "not one of the sites asked for (pharos)"
lease=$(newbie --json submit --project llm-eu --gpus 8 --accelerator H100 --site pharos --walltime 90)
id=$(jq -r .id <<<"$lease")
check "submit --site pharos is held there" test "$(jq -r '.state + " " + .site' <<<"$lease")" = "ACTIVE pharos"
check "--walltime 90 is 90 minutes, as sbatch --time reads it" test "$(jq -r .walltime_s <<<"$lease")" = 5400
out=$(newbie --json submit --project llm-eu --gpus 1 --site nowhere 2>&1)
check "a site nobody has is refused, saying the nearest miss is that it was not asked for" \
    grep -q "no site can take this workload now (nearest: .*not one of the sites asked for (nowhere))" <<<"$out"

second=$(newbie --json submit --project llm-eu --gpus 1 --site mimer | jq -r .id)
short=${id#lease-}
short=${short:0:26}
check "lease show takes the id without 'lease-' and cut short" \
    test "$(newbie --json lease show "$short" | jq -r .id)" = "$id"
out=$(newbie lease show lease-0 2>&1); rc=$?
check "... but not a start that fits more than one" \
    test "$rc" -ne 0 -a -n "$(grep -F "'lease-0' begins more than one of your leases: give more of its id" <<<"$out")"
out=$(newbie lease release "$short" --timeout 20s)
newbie lease token "$id" >"$H/lease.token"
check "a newcomer checks a lease token with the key broker-key gave" \
    quiet newbie verify-token "$H/lease.token" --broker-pub "$H/broker-signing.pub"
check "release by the short id, with a global option after the command" \
    grep -q "^state: *RELEASED$" <<<"$out"
check "... and the other by its full id" quiet newbie lease release "$second"
