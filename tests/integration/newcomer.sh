#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A newcomer's first hour, as the README walks it, with a fresh home and
# none of the AIFED_* variables: a key made into a directory that is not
# there yet, registered by an operator; a config file instead of three
# exports (tcp:// left out, paths relative to it), which config show
# explains; a mistyped command and a bad flag answered in a line that says
# where to look; durations as a Slurm user types them (a bare number is
# minutes); explain and submit pinned to a site; the lease shown and
# released by the start of its id; global options after the command. And a
# newcomer with only her EuroHPC SSH certificate, from login to a first job
# (signed with it). The MyAccessID (OpenID) walk, login to a first job, is
# oidc.sh's first part: it needs the OpenID provider oidc.sh starts.
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
    test "$rc:$out" = "2:aifedctl: $T/bad.config:2: unknown setting 'brokr' (broker, broker_key, key, timeout, oidc_issuer, oidc_client_id, oidc_scopes)"

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

# The demo publishes the templates the project ships, as an operator would:
# a newcomer lists them and tries one without an admin key.
check "the operator publishes the shipped templates" \
    fed_publish_templates "$T" "$SRC"/deploy/templates/*.yaml
check "... and the newcomer sees all five" \
    test "$(newbie --json templates | jq -r '[.templates[].name] | sort | join(",")')" \
    = "batch-inference,jupyter,lora-finetune,torchrun-ddp,vllm-server"
out=$(newbie run --template jupyter --set project=llm-eu --dry-run 2>&1); rc=$?
check "... and tries one (dry run) with nothing but her own key" \
    test "$rc" = 0 -a -n "$(grep -F 'jupyter' <<<"$out")"

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
# Completion asks the broker (aifedctl on PATH, the newcomer's config) and
# keeps what it heard for a minute.
tab() {
    newbie_env PATH="$(dirname "$CTL"):$PATH" XDG_CACHE_HOME="$H/.cache" SRC="$SRC" \
        bash -c "$(declare -f complete_words); complete_words \"\$@\"" _ "$@"
}
check "completion offers the broker's sites after --site" \
    test "$(tab aifedctl submit --site "" | sort | tr '\n' ' ')" = "mimer pharos "
check "... its accelerator models after --accelerator" \
    test "$(tab aifedctl explain --accelerator "" | sort | tr '\n' ' ')" = "$(ctlj ops sites | jq -r '[.[].pools[].accelerator] | unique | join(" ")') "
check "... the user's projects after --project" test "$(tab aifedctl submit --project "")" = llm-eu
check "... and the user's open leases after a lease verb" \
    test "$(tab aifedctl lease release "" | sort | tr '\n' ' ')" = "$(printf '%s\n' "$id" "$second" | sort | tr '\n' ' ')"
check "... kept for a minute in the user's cache" test -s "$H/.cache/aifed/complete-sites"
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

# Tables laid out from their rows: each line fits the terminal (a real
# pseudo-terminal of W columns, made by script(1)), a 24-character project
# included, and -o picks the columns.
widest() { awk '{ if (length($0) > w) w = length($0) } END { print w + 0 }'; }
# on_tty W ARGS... : aifedctl ARGS as admin ops, on a terminal W columns wide.
on_tty() {
    local w=$1; shift
    script -qec "stty cols $w rows 50; $(printf '%q ' "$FED_CTL_BIN" --broker "$FED_CLIENT_EP" \
        --broker-key "$T/keys/broker.pub" --key "$T/keys/ops.key" --timeout 20s "$@")" \
        /dev/null </dev/null | tr -d '\r'
}
long=european-llm-pretraining
quiet "$CTL" keygen --dir "$T/keys" erin
check "the operator adds a project with a 24-character name" \
    quiet ctl ops admin principal add user:erin --pub "$T/keys/erin.pub" --projects "$long"
held=$(ctl erin --json submit --project "$long" --gpus 2 --walltime 2h | jq -r .id)
check "... and a lease is held in it" test "${held:0:6}" = lease-
for w in 80 100; do
    out=$(on_tty $w leases)
    check "leases fits a terminal of $w columns" test "$(widest <<<"$out")" -le $w
    check "... and still shows every lease's whole id and its project's start" \
        grep -q "^$held .*${long:0:6}" <<<"$out"
    check "... and says when it ends as a terminal user reads it" grep -q "^$held .* in 1h5[0-9]m" <<<"$out"
    out=$(on_tty $w sites)
    check "sites fits a terminal of $w columns" test "$(widest <<<"$out")" -le $w
    out=$(on_tty $w explain --project llm-eu --gpus 1 --walltime 1h)
    check "explain fits a terminal of $w columns" test "$(widest <<<"$out")" -le $w
    # A ranked reason ends "... N B to move": wrapped, that end is still there.
    check "... its reasons wrapped within their column, not cut" \
        test "$(grep -c "to move" <<<"$out")" = 2 -a "$(grep -c "" <<<"$out")" -gt 3
done
out=$(COLUMNS=80 ctl ops sites)
check "COLUMNS sets the width when the output is not a terminal" test "$(widest <<<"$out")" -le 80
out=$(COLUMNS=200 ctl ops leases)
check "a wide terminal shows the whole 24-character project" grep -q " $long " <<<"$out"
out=$(COLUMNS=300 ctl ops sites)
check "sites: columns as wide as their widest cell, not a fixed width" \
    test "$(widest <<<"$out")" -lt 120
out=$(ctl ops leases -o lease,gpus,project)
check "-o chooses the columns and their order" \
    test "$(head -n 1 <<<"$out" | tr -s ' ')" = "LEASE GPUS PROJECT"
check "... with the rows to match" grep -q "^$held *2 *$long$" <<<"$out"
out=$(ctl ops leases -o lease,principal)
check "... and can ask for a column not shown by default" grep -q "^$held *user:erin$" <<<"$out"
out=$(ctl ops sites -o site,nope 2>&1); rc=$?
check "-o with an unknown column is bad usage, naming the table's columns" \
    test "$rc" = 2 -a -n "$(grep -F "aifedctl: -o: this table has no column 'nope'; its columns are SITE,NAME" <<<"$out")"
out=$(ctl ops --json leases -o lease)
check "--json is unchanged by -o" test "$(jq -r ".[] | select(.id == \"$held\") | .project" <<<"$out")" = "$long"

# A newcomer who has only her EuroHPC SSH certificate: no key made or mailed
# beforehand. The operator trusts the CA (a reload, not a restart); her
# config names the broker and where her key is to be; login makes the key
# and enrols it; her first job's lease follows.
ssh-keygen -q -t ed25519 -N '' -C efp-ca -f "$T/efp-ca"
sed -i "s|^\[broker\]$|[broker]\nssh_ca_keys = $T/efp-ca.pub\nlogin_projects = llm-eu|" "$T/broker.conf"
kill -HUP "$(cat "$T/broker.pid")"
wait_for "the broker read the CA on reload" 10 'grep -q "reload: .* read again" "$T/logs/broker.log"'
G=$T/gina
mkdir -p "$G/.config/aifed" "$G/.ssh"
cp "$T/keys/broker.pub" "$G/.config/aifed/broker.pub"
printf '[aifedctl]\nbroker = %s\nbroker_key = broker.pub\nkey = gina.key\n' "${FED_CLIENT_EP#tcp://}" >"$G/.config/aifed/config"
ssh-keygen -q -t ed25519 -N '' -f "$G/.ssh/id_ed25519"
ssh-keygen -q -s "$T/efp-ca" -I gina -n gina@myaccessid.org -V -5m:+12h "$G/.ssh/id_ed25519.pub"
gina() { env -u AIFED_BROKER -u AIFED_BROKER_KEY -u AIFED_KEY -u AIFED_CONFIG HOME="$G" "$CTL" "$@"; }
out=$(gina login --ssh-cert "$G/.ssh/id_ed25519-cert.pub" 2>&1); rc=$?
check "login with her certificate, and nothing else ($rc)" grep -q "^logged in as user:gina until " <<<"$out"
check "... made her CURVE key where her config says" test -s "$G/.config/aifed/gina.key"
check "her first lease, with no key mailed to anyone" \
    test "$(gina --json submit --project llm-eu --gpus 1 --walltime 10m | jq -r .state)" = ACTIVE
printf 'name: first\nproject: llm-eu\nresources: {gpus: 1, walltime: 10m}\nrun: echo "hello from $AIFED_JOB_ID"\n' >"$G/first.yaml"
out=$(gina run "$G/first.yaml" 2>&1); rc=$?
check "... and her first job runs ($rc)" grep -q "^hello from job-" <<<"$out"
job=$(grep -o 'job-[0-9a-f]*' <<<"$out" | head -n 1)
check "... signed with her certificate's key, as job show says" \
    test "$(gina --json job show "$job" | jq -r .signed_by.principal)" = gina@myaccessid.org
