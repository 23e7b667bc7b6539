#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Jobs a site can check came from their user (issue 29), on a real Slurm
# (slurmlab.sh), the agent run as its package's account (aifed-agent) with
# require_user_signature = yes and the site's own files, as its sshd would
# use them: the CA keys it trusts and a principals file per account. ssh-keygen
# is the EuroHPC SSH CA. A user who logged in with her certificate runs a
# job: it runs as the account the site maps her to. A key an admin added to
# her at the broker (the broker-side attack) submits one: the site refuses
# it, and she sees why. A certificate whose principal the site does not list
# for the account is refused too, by a principals file and by a principals
# command (EFP's ssh-cert-authorize shape). Skips (77) only where Slurm
# cannot start.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../../deploy/slurmlab.sh
. "$(dirname "$0")/../../deploy/slurmlab.sh"

JOBUSER=aifedsig$$
skip() {
    echo "1..0 # SKIP $*"
    trap - EXIT
    slurm_lab_stop
    rm -rf "$T"
    exit 77
}
for c in slurmctld slurmd munged sinfo jq sudo useradd ssh-keygen; do
    command -v "$c" >/dev/null || skip "$c is missing (deploy/install-deps.sh installs it)"
done
[[ $(id -u) -eq 0 ]] || skip "slurmd must run as root"
chmod 711 "$T"
AGENT_USER=aifed-agent
slurm_lab_agent_account "$AGENT_USER" || skip "cannot make the agent's account and sudoers rule"
export SLURM_LAB_SLURMUSER=$AGENT_USER
slurm_lab_start "$T/slurm" 4 || skip "Slurm did not start: $(tail -q -n 2 "$T"/slurm/*.log | tr '\n' ' ')"
slurm_lab_user "$JOBUSER" || skip "cannot create a local user"
trap 'slurm_lab_stop; finish' EXIT

# The EuroHPC SSH CA, and two users' certificates for this site.
S=$T/ssh
mkdir -p "$S"
for k in ca newbie mallory; do ssh-keygen -q -t ed25519 -N '' -C "$k" -f "$S/$k"; done
grant="extension:ssh-domain-grant@core.aai.geant.org=meluxina"
for u in newbie mallory; do
    ssh-keygen -q -s "$S/ca" -I "id-$u" -n "$u@myaccessid.org" -V -5m:+1h -O "$grant" "$S/$u.pub"
done

SITE=meluxina
fed_init "$T" "$SITE" || exit 1
sed -i "s|^\[broker\]$|[broker]\nssh_ca_keys = $S/ca.pub\nssh_domain = $SITE\nlogin_projects = llm-eu|" "$T/broker.conf"
fed_start_broker "$T" || exit 1
printf '[site]\nid = %s\nname = MeluXina-AI (test Slurm)\ncountry = LU\n\n[pool:gpu]\ngpu_memory_gb = 40\n' \
    "$SITE" >"$T/agents/$SITE.site"
# Both broker users map to the one local account; the site's principals
# file for it lists only newbie's CUID, as its sshd's would.
printf '[users]\nnewbie = %s\nmallory = %s\n' "$JOBUSER" "$JOBUSER" >"$T/agents/users.map"
install -d -m 755 "$T/site-ssh" "$T/site-ssh/principals"
install -m 644 "$S/ca.pub" "$T/site-ssh/ca.pub"
echo "newbie@myaccessid.org" >"$T/site-ssh/principals/$JOBUSER"
chmod 644 "$T/site-ssh/principals/$JOBUSER"
slurm_lab_agent_conf "$T" "$SITE" <<CONF
command_timeout = 5s
estimate_sizes = 1
estimate_interval = 1m

[agent]
user_ca_keys = $T/site-ssh/ca.pub
authorized_principals_file = $T/site-ssh/principals/%u
ssh_domain = $SITE
require_user_signature = yes
CONF
chown -R "$AGENT_USER:" "$T/agents" && chown "$AGENT_USER:" "$T/keys/$SITE.key" && chmod 711 "$T/keys"
slurm_lab_start_agent "$T" "$SITE"
fed_wait_up "$T" 1 || { fail "the Slurm site did not come UP"; exit 1; }
check "the agent runs as $AGENT_USER, not root" \
    test "$(ps -o user= -p "$(cat "$T/agents/$SITE.pid")")" = "$AGENT_USER"

job_field() { ctlj "$1" job show "$2" | jq -r ".$3"; }
task() { # task NAME RUN
    printf 'name: %s\nproject: llm-eu\nresources: {gpus: 1, walltime: 5m}\nrun: |\n  %s\n' "$1" "$2" >"$T/$1.yaml"
    echo "$T/$1.yaml"
}
# Each run's lease is let go of when its job ends; the next waits for them.
wait_free() {
    wait_for "the site's 4 GPUs are free again" 20 \
        '[[ $(ctlj ops sites | jq -r ".[0].pools[0].gpus_available") == 4 ]]'
}
in_slurm() { squeue --json | jq -r --arg n "aifed-$1" '[.jobs[] | select(.name == $n)] | length'; }

out=$(ctl newbie login --ssh-cert "$S/newbie-cert.pub" 2>&1)
check "newbie logs in with her certificate; her jobs are signed with its key" \
    grep -q "^logged in as user:newbie until .* your jobs are signed with $S/newbie$" <<<"$out"
out=$(ctl newbie run "$(task signed 'echo "signed, as $(id -un)"')" 2>"$T/run.err"); rc=$?
job=$(grep -o 'job-[0-9a-f]*' "$T/run.err" | head -n 1)
check "her signed job runs at a site that requires signatures ($rc)" \
    test "$rc:$(tail -n 1 <<<"$out")" = "0:signed, as $JOBUSER"
check "... as the account the site maps her to, which job show names" \
    test "$(job_field newbie "$job" local_account)" = "$JOBUSER"
check "... which job show says she signed, with her certificate" \
    test "$(ctlj newbie job show "$job" | jq -c '.signed_by | [.principal, .key_id]')" = '["newbie@myaccessid.org","id-newbie"]'
check "... in words too" grep -qx "signed:      by newbie@myaccessid.org (certificate id-newbie), .*" <(ctl newbie job show "$job")

wait_free

# The attack: an admin adds a key of theirs to newbie, and submits as her.
"$FED_CTL_BIN" keygen --dir "$T/keys" planted >/dev/null
check "an admin adds a key to user:newbie at the broker" \
    quiet ctl ops admin principal add user:newbie --pub "$T/keys/planted.pub"
out=$(ctl planted run "$(task planted 'echo "ran as $(id -un)"')" 2>"$T/run.err"); rc=$?
job=$(grep -o 'job-[0-9a-f]*' "$T/run.err" | head -n 1)
check "a job sent with that key does not run ($rc)" test "$rc" -ne 0 -a -z "$out" -a -n "$job"
check "... the site refused it, and the user is told why" \
    grep -q "this site runs only jobs their users signed" "$T/run.err"
check "... job show says so too, FAILED" \
    test "$(job_field newbie "$job" state)" = FAILED -a -n "$(job_field newbie "$job" reason | grep -F 'runs only jobs their users signed')"
check "... and nothing reached Slurm" test "$(in_slurm "$job")" = 0

wait_free

# A real certificate, but not one the site lets act as this account.
quiet ctl mallory login --ssh-cert "$S/mallory-cert.pub"
ctl mallory run "$(task other 'id -un')" >/dev/null 2>"$T/run.err"; rc=$?
check "a certificate the site's principals do not list for the account is refused ($rc)" \
    grep -q "no principal of your certificate (mallory@myaccessid.org) may act as $JOBUSER here" "$T/run.err"

wait_free

# The same check with a principals command instead of a file, as EFP's
# ssh-cert-authorize is used (AuthorizedPrincipalsCommand): run as the
# agent's account, not waited for, its answer read as the file is.
printf '#!/bin/sh\n# prints the CUIDs that may act as account $1\n[ "$1" = "%s" ] && echo newbie@myaccessid.org\nexit 0\n' \
    "$JOBUSER" >"$T/site-ssh/authorize.sh"
chmod 755 "$T/site-ssh/authorize.sh"
sed -i "s|^authorized_principals_file = .*|authorized_principals_command = $T/site-ssh/authorize.sh %u|" \
    "$T/agents/$SITE.conf"
fed_stop_pid "$T/agents/$SITE.pid" || fail "the agent did not stop cleanly"
slurm_lab_start_agent "$T" "$SITE"
wait_for "the agent is back, asking a principals command" 30 \
    '[[ $(ctlj ops sites | jq -r ".[0].state") == UP ]]'
out=$(ctl newbie run "$(task bycommand 'echo "by command, as $(id -un)"')" 2>"$T/run.err"); rc=$?
check "a signed job runs when the site's principals command lists her ($rc)" \
    test "$rc:$(tail -n 1 <<<"$out")" = "0:by command, as $JOBUSER"
wait_free
ctl mallory run "$(task other2 'id -un')" >/dev/null 2>"$T/run.err"
check "... and one whose principal it does not list is refused" \
    grep -q "no principal of your certificate (mallory@myaccessid.org) may act as $JOBUSER here" "$T/run.err"
wait_free

# A stale login file cannot sign once the certificate's key is gone.
mv "$S/newbie" "$S/newbie.moved"
out=$(ctl newbie run "$(task nokey 'true')" 2>&1); rc=$?
check "without the certificate's key nothing is submitted, and aifedctl says why ($rc)" \
    test "$rc" -ne 0 -a -n "$(grep -F 'it could not be signed with your SSH login' <<<"$out")"
mv "$S/newbie.moved" "$S/newbie"
check "logout ends signing: the login file is gone" \
    quiet ctl newbie logout
check "... beside the key" test ! -e "$T/keys/newbie.login"
