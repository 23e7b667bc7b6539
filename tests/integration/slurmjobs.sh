#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Jobs on a real Slurm (slurmlab.sh), with the agent run as a site runs it:
# as the package's own account (aifed-agent, not root), with the shipped
# sudoers rule, its job helper the only thing it runs as a user; and a real
# unprivileged local user the test creates: a task runs as that user inside its lease's reservation; its
# output arrives through aifedctl logs -f byte for byte; exit codes, cancel,
# a lease released with a running job, files and an image (a stand-in
# apptainer); the GPUs come back when run's lease ends; an agent restart and
# a broker restart mid-job lose and double nothing. And the shipped sudoers
# rule parses. Skips (77) only where Slurm cannot start at all.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../../deploy/slurmlab.sh
. "$(dirname "$0")/../../deploy/slurmlab.sh"

JOBUSER=aifedjob$$
skip() {
    echo "1..0 # SKIP $*"
    trap - EXIT
    slurm_lab_stop
    rm -rf "$T"
    exit 77
}
for c in slurmctld slurmd munged mungekey sinfo jq sudo useradd; do
    command -v "$c" >/dev/null || skip "$c is missing (deploy/install-deps.sh installs it)"
done
[[ $(id -u) -eq 0 ]] || skip "slurmd must run as root"
chmod 711 "$T" # the job's user reaches the lab's slurm.conf and munge socket
AGENT_USER=aifed-agent
slurm_lab_agent_account "$AGENT_USER" || skip "cannot make the agent's account and sudoers rule"
export SLURM_LAB_SLURMUSER=$AGENT_USER
slurm_lab_start "$T/slurm" 4 || { slurm_lab_stop; rm -rf "$T/slurm"; slurm_lab_agent_account "$AGENT_USER"; slurm_lab_start "$T/slurm" 4; } ||
    skip "Slurm did not start: $(tail -q -n 2 "$T"/slurm/*.log | tr '\n' ' ')"
slurm_lab_user "$JOBUSER" || skip "cannot create a local user"
trap 'slurm_lab_stop; finish' EXIT

check "the shipped sudoers rule parses" quiet visudo -cf "$(dirname "$0")/../../deploy/slurm/sudoers"

SITE=meluxina
fed_init "$T" "$SITE" || exit 1
fed_start_broker "$T" || exit 1
mkdir -p "$T/models/tiny" && chmod 755 "$T/models" "$T/models/tiny"
printf '[site]\nid = %s\nname = MeluXina-AI (test Slurm)\ncountry = LU\n\n[pool:gpu]\ngpu_memory_gb = 40\n\n[model:tiny-model]\nsize = 1MB\npath = %s\n' \
    "$SITE" "$T/models/tiny" >"$T/agents/$SITE.site"
printf '[users]\nalice = %s\n' "$JOBUSER" >"$T/agents/users.map"
slurm_lab_agent_conf "$T" "$SITE" <<CONF
command_timeout = 5s
estimate_sizes = 1
estimate_interval = 1m
CONF
# The agent's account owns its config and state; it reads its key and the
# broker's, and nothing else of the test's.
chown -R "$AGENT_USER:" "$T/agents" && chown "$AGENT_USER:" "$T/keys/$SITE.key" && chmod 711 "$T/keys"

start_agent() { slurm_lab_start_agent "$T" "$SITE"; }
start_agent
fed_wait_up "$T" 1 || { fail "the Slurm site did not come UP"; exit 1; }
check "the agent runs as $AGENT_USER, not root" \
    test "$(ps -o user= -p "$(cat "$T/agents/$SITE.pid")")" = "$AGENT_USER"

free_is() { [[ $(ctlj ops sites | jq -r '.[0].pools[0].gpus_free') == "$1" ]]; }
job_state() { ctlj alice job show "$1" | jq -r .state; }
job_field() { ctlj alice job show "$1" | jq -r ".$2"; }
in_slurm() { squeue --json | jq -r --arg n "aifed-$1" '[.jobs[] | select(.name == $n)] | length'; }
resv() { scontrol --oneliner show reservation "$1" 2>/dev/null; }
task() { # task NAME WALLTIME RUN
    printf 'name: %s\nproject: llm-eu\nresources: {gpus: 1, walltime: %s}\nenv: {GREETING: hi}\nrun: |\n  %s\n' \
        "$1" "$2" "$3" >"$T/$1.yaml"
    echo "$T/$1.yaml"
}
wait_free() { wait_for "$1" 10 'free_is 4'; }
wait_free "the site is all free before any job"

# --- run: as the user, in the reservation, its output and exit code
out=$(ctl alice run "$(task hello 10m 'echo "$GREETING from $AIFED_JOB_ID as $(id -un)"; exit 3')" 2>"$T/run.err"); rc=$?
job=$(grep -o 'job-[0-9a-f]*' "$T/run.err" | head -n 1)
check "run exits with the job's exit code from Slurm (3)" test "$rc" -eq 3
check "... FAILED with exit code 3" test "$(job_state "$job")/$(job_field "$job" exit_code)" = FAILED/3
check "it ran as the mapped local user, not root or the agent" grep -qx "hi from $job as $JOBUSER" <<<"$out"
check "... which job show names, with the Slurm job id" \
    test "$(job_field "$job" local_account)" = "$JOBUSER" -a -n "$(job_field "$job" site_job_id)"
jobdir="$SLURM_LAB_HOME/.aifed/jobs/$job"
check "its directory is under job_root, owned by that user" test "$(stat -c %U "$jobdir")" = "$JOBUSER"
check "its output says it ran under Slurm" grep -q "^aifed: job $job runs as Slurm job [0-9]* in reservation aifed-lease-" "$jobdir/output.log"
wait_free "the GPUs return within two advertisements once run's lease is released"

# --- a detached job in a lease of the user's: squeue, logs -f, cancel
lease=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 30m | jq -r .id)
job=$(ctl alice run --detach --lease "$lease" "$(task nap 10m 'echo started; sleep 60')" 2>/dev/null)
wait_for "a detached job is RUNNING" 20 'test "$(job_state "$job")" = RUNNING'
sid=$(job_field "$job" site_job_id)
check "squeue has it as the user, in the lease's reservation" \
    test "$(squeue -h -j "$sid" -o '%u %v')" = "$JOBUSER aifed-$lease"
check "job cancel stops it" test "$(ctlj alice job cancel "$job" | jq -r .state)" = CANCELLED
wait_for "... and Slurm has it CANCELLED" 10 \
    '[[ $(squeue --json | jq -r ".jobs[] | select(.job_id == $sid) | .job_state") == CANCELLED ]]'

job=$(ctl alice run --detach --lease "$lease" "$(task chatty 10m 'for i in 1 2 3; do printf "line %s\\tx\\n" $i; sleep 1; done; head -c 200000 /dev/urandom | base64')" 2>/dev/null)
ctl alice logs -f "$job" >"$T/followed" 2>/dev/null; rc=$?
check "logs -f follows a Slurm job to its end" test "$rc:$(job_state "$job")" = "0:COMPLETED"
check "... byte for byte what it wrote ($(wc -c <"$T/followed") bytes)" \
    cmp -s "$T/followed" "$SLURM_LAB_HOME/.aifed/jobs/$job/output.log"
out=$(ctl alice run --lease "$lease" "$(task long 2h 'true')" 2>&1)
check "a job longer than the lease is refused with the numbers" grep -q "the job asks 2h: \`aifedctl lease renew $lease --by" <<<"$out"

# --- files and an image: a stand-in apptainer sent along, on the job's PATH
mkdir -p "$T/src"
printf '#!/bin/sh\necho "apptainer $*" >>apptainer.args\nshift 2\nexec "$@"\n' >"$T/src/apptainer"
chmod +x "$T/src/apptainer"
printf 'some data\n' >"$T/src/in.txt"
cat >"$T/img.yaml" <<Y
name: img
project: llm-eu
resources: {gpus: 1, walltime: 10m}
image: /images/pytorch.sif
env: {PATH: ".:/usr/bin:/bin"}
files: {apptainer: src/apptainer, data/in.txt: src/in.txt}
run: cat data/in.txt
Y
out=$(ctl alice run --lease "$lease" "$T/img.yaml" 2>"$T/run.err"); rc=$?
job=$(grep -o 'job-[0-9a-f]*' "$T/run.err" | head -n 1)
check "a task's files reach the job's directory" test "$rc:$(tail -n 1 <<<"$out")" = "0:some data"
check "... and its run goes through apptainer exec IMAGE (the stand-in says so)" \
    grep -qx "apptainer exec /images/pytorch.sif sh ./.aifed-run.sh" "$SLURM_LAB_HOME/.aifed/jobs/$job/apptainer.args"

# --- an agent restart mid-job: found again, not lost or doubled
job=$(ctl alice run --detach --lease "$lease" "$(task restart 10m 'sleep 8; echo done')" 2>/dev/null)
wait_for "a job runs before the agent restarts" 20 'test "$(job_state "$job")" = RUNNING'
fed_stop_pid "$T/agents/$SITE.pid" || fail "the agent did not stop cleanly"
start_agent
wait_for "after the agent restart the job is RUNNING still" 15 \
    'grep -q "Slurm job.* on record" "$T/logs/agent-$SITE.log" && test "$(job_state "$job")" = RUNNING'
wait_for "... and COMPLETED when Slurm says so" 30 'test "$(job_state "$job")" = COMPLETED'
check "... submitted to Slurm once" test "$(in_slurm "$job")" = 1

# --- a broker restart mid-job: the end it missed is learnt
job=$(ctl alice run --detach --lease "$lease" "$(task brestart 10m 'sleep 3; exit 7')" 2>/dev/null)
wait_for "a job runs before the broker restarts" 20 'test "$(job_state "$job")" = RUNNING'
# The broker comes back on the same ports, for the agent.
sed -i "s|^agent_listen = .*|agent_listen = $FED_AGENT_EP|; s|^client_listen = .*|client_listen = $FED_CLIENT_EP|" "$T/broker.conf"
fed_stop_pid "$T/broker.pid" || fail "the broker did not stop cleanly"
sid=$(squeue -h -n "aifed-$job" -o %i)
wait_for "... the job ends in Slurm while the broker is away" 20 \
    '[[ $(squeue --json | jq -r ".jobs[] | select(.job_id == $sid) | .job_state") == FAILED ]]'
fed_start_broker "$T" || exit 1
wait_for "after the broker restart it has the job FAILED, exit 7" 30 \
    'test "$(job_state "$job")/$(job_field "$job" exit_code)" = FAILED/7'
check "... submitted to Slurm once" test "$(in_slurm "$job")" = 1

# --- lease release with a running job
job=$(ctl alice run --detach --lease "$lease" "$(task last 10m 'sleep 60')" 2>/dev/null)
wait_for "a last job is RUNNING" 20 'test "$(job_state "$job")" = RUNNING'
sid=$(job_field "$job" site_job_id)
out=$(ctl alice lease release "$lease")
check "releasing the lease says it cancelled the running job" grep -q "^cancelled: *1 job that ran in it$" <<<"$out"
wait_for "... which Slurm cancels" 10 \
    '[[ $(squeue --json | jq -r ".jobs[] | select(.job_id == $sid) | .job_state") == CANCELLED ]]'
wait_for "... and no reservation is left behind" 10 '! resv "aifed-$lease" | grep -q Name'
wait_free "... and the GPUs are free again"

# --- --not-before: an advance reservation, the lease SCHEDULED until then
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
start=$(($(date +%s) + 20))
booked=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 10m --not-before "$(iso "$start")")
lease=$(jq -r .id <<<"$booked")
check "--not-before books a SCHEDULED lease at a Slurm site" test "$(jq -r .state <<<"$booked")" = SCHEDULED
r=$(resv "aifed-$lease")
check "... whose reservation starts at that time and ends a walltime later" \
    test "$(grep -o 'StartTime=[^ ]* EndTime=[^ ]*' <<<"$r")" = \
    "StartTime=$(date -d "@$start" +%Y-%m-%dT%H:%M:%S) EndTime=$(date -d "@$((start + 600))" +%Y-%m-%dT%H:%M:%S)"
check "the node's GPUs stay free until then (4)" free_is 4
now=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 10m)
check "Slurm refuses a hold now that would run into it on the only node" \
    test "$(jq -r .state <<<"$now")" = FAILED
job=$(ctl alice run --detach --lease "$lease" "$(task booked 5m 'date +%s')" 2>/dev/null)
check "a job into the booked lease waits, QUEUED, not in Slurm yet" \
    test "$(job_state "$job"):$(in_slurm "$job")" = "QUEUED:0"
wait_for "the lease becomes ACTIVE at its time" 60 \
    '[[ $(ctlj alice lease show "$lease" | jq -r .state) == ACTIVE ]]'
wait_for "its job then runs in the reservation and completes" 60 \
    'test "$(job_state "$job")" = COMPLETED'
check "... not before the reservation's start" \
    test "$(tail -n 1 "$SLURM_LAB_HOME/.aifed/jobs/$job/output.log")" -ge "$start"
ctl alice lease release "$lease" >/dev/null
wait_for "... and no reservation is left behind" 10 '! resv "aifed-$lease" | grep -q Name'

# --- a template, run as the user under Slurm, finds the site's model
cat >"$T/tiny.yaml" <<'YAML'
template: tiny
description: a stand-in for a fine-tune, saying where the model is
parameters:
  model: {type: model, default: tiny-model}
  steps: {type: int, default: "2"}
task:
  name: tiny
  project: llm-eu
  resources: {gpus: 1, walltime: 5m}
  models: ["{{model}}"]
  env: {STEPS: "{{steps}}"}
  run: |
    echo "{{model}} at $AIFED_MODEL_PATH for $STEPS steps as $(id -un) in $SLURM_JOB_RESERVATION"
YAML
check "an admin adds the template" quiet ctl ops admin template add "$T/tiny.yaml"
wait_free "the node is free again before the templated job (a reservation takes it whole)"
out=$(ctl alice run --template tiny --set steps=3 2>"$T/tiny.err"); rc=$?
[[ $rc == 0 ]] || { sed "s/^/# /" "$T/tiny.err"; sed "s/^/# out: /" <<<"$out"; }
check "run --template runs it under Slurm as the user (exit 0)" test "$rc" = 0
check "... with the site's path for the catalogue's model, and the values set" \
    grep -q "^tiny-model at $T/models/tiny for 3 steps as $JOBUSER in aifed-lease-" <<<"$out"
out=$(ctl alice run --template tiny --set model=huge-model 2>&1); rc=$?
check "... and a model the site lacks is refused before anything is asked" \
    test "$rc:$out" = "2:aifedctl run: model: no site offers model huge-model; known: tiny-model"
wait_free "the GPUs are back after the templated job"

# --- The attacks of a user with a job, at a Slurm site (each worked before
# the job helper, with the agent reading the job's files as root).
lease=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 30m | jq -r .id)
secret=$(sed -n 's/^ *secret-key = "\(.*\)"$/\1/p' "$T/keys/$SITE.key")
for target in /etc/shadow "$T/keys/$SITE.key"; do
    job=$(ctl alice run --detach --lease "$lease" "$(task link 10m "rm -f output.log; ln -s $target output.log; sleep 1")" 2>/dev/null)
    wait_for "a job that links output.log to $target ended" 30 'test "$(job_state "$job")" = COMPLETED'
    out=$(ctl alice logs "$job" 2>&1)
    check "... logs shows none of $target" test -n "$secret" -a -z "$(grep -F -e 'root:' -e "$secret" <<<"$out")"
done
job=$(ctl alice run --detach --lease "$lease" "$(task swap 10m 'x=$(mktemp -d); ln -s /etc/shadow $x/output.log; d=$(pwd); mv "$d" "$d.old"; ln -s $x "$d"; sleep 1')" 2>/dev/null)
wait_for "a job that swaps its directory for a symlink ended" 30 '[[ $(job_state "$job") == COMPLETED || $(job_state "$job") == FAILED ]]'
check "... logs shows nothing of /etc/shadow" test -z "$(ctl alice logs "$job" 2>&1 | grep -F 'root:')"
job=$(ctl alice run --detach --lease "$lease" "$(task fifo 10m 'rm -f output.log; mkfifo output.log; sleep 30')" 2>/dev/null)
wait_for "a job that makes output.log a FIFO runs" 30 \
    'test "$(job_state "$job")" = RUNNING && test -p "$SLURM_LAB_HOME/.aifed/jobs/$job/output.log"'
timeout 10 "$FED_CTL_BIN" --broker "$FED_CLIENT_EP" --broker-key "$T/keys/broker.pub" --key "$T/keys/alice.key" logs "$job" >/dev/null 2>&1
check "... logs of it returns" test $? -ne 124
wait_for "... and the site stays UP, 3 s on" 10 'sleep 3; [[ $(ctlj ops sites | jq -r ".[0].state") == UP ]]'
ctlj alice job cancel "$job" >/dev/null

# --- slurmctld stopped (SIGSTOP) for 30 s while jobs are submitted and
# followed: the site stays UP, advertising on time; the jobs run after.
metrics=$(grep -o 'metrics on http://[^ ]*' "$T/logs/agent-$SITE.log" | tail -n 1 | cut -d' ' -f3)
adverts() { curl -s "$metrics" | awk '/^aifed_agent_advertisements_total/ {print $2}'; }
job=$(ctl alice run --detach --lease "$lease" "$(task ticking 10m 'for i in $(seq 45); do echo "tick $i"; sleep 1; done')" 2>/dev/null)
wait_for "a job runs and writes before slurmctld stops" 30 'test "$(job_state "$job")" = RUNNING'
ctl alice logs -f "$job" >"$T/ticking" 2>/dev/null &
follower=$!
slurm_lab_ctld_stop "$T/slurm"
stopped=()
for i in 1 2 3; do
    stopped+=("$(ctl alice run --detach --lease "$lease" "$(task stopped$i 5m "echo ran $i")" 2>/dev/null)")
done
ups=0 downs=0 a0=$(adverts) start=$SECONDS
while ((SECONDS - start < 30)); do
    [[ $(ctlj ops sites | jq -r '.[0].state') == UP ]] && ups=$((ups + 1)) || downs=$((downs + 1))
    sleep 0.5
done
a1=$(adverts) took=$((SECONDS - start))
slurm_lab_ctld_cont "$T/slurm"
echo "# slurmctld stopped ${took} s: the site UP in $ups of $((ups + downs)) looks; $((a1 - a0)) advertisements sent meanwhile, one per $(awk -v n=$((a1 - a0)) -v t=$took "BEGIN { printf \"%.2f\", t / (n ? n : 1) }") s (the broker asks one per 0.5 s)"
check "the site stayed UP all the 30 s slurmctld was stopped" test "$downs" = 0
check "... and jobs were taken meanwhile (QUEUED)" \
    test "$(for j in "${stopped[@]}"; do job_state "$j"; done | sort -u | tr '\n' ' ')" = "QUEUED "
for j in "${stopped[@]}"; do
    wait_for "once it answers again, job $j runs and completes" 90 'test "$(job_state "$j")" = COMPLETED'
    check "... submitted to Slurm once" test "$(in_slurm "$j")" = 1
done
wait "$follower"
check "the job followed across the stop ends COMPLETED" test "$(job_state "$job")" = COMPLETED
check "... and logs -f gave its output byte for byte" \
    cmp -s "$T/ticking" "$SLURM_LAB_HOME/.aifed/jobs/$job/output.log"
ctl alice lease release "$lease" >/dev/null

# --- The user map and job_root a site admin could get wrong.
for who in root "$AGENT_USER"; do
    printf '[users]\nalice = %s\n' "$who" >"$T/agents/bad.map"
    sed 's/^user_map = .*/user_map = bad.map/' "$T/agents/$SITE.conf" >"$T/agents/bad.conf"
    chown "$AGENT_USER:" "$T/agents/bad.map" "$T/agents/bad.conf"
    out=$(setpriv --reuid="$AGENT_USER" --regid="$AGENT_USER" --init-groups -- \
        timeout 10 "$FED_AGENT_BIN" -f -c "$T/agents/bad.conf" 2>&1); rc=$?
    check "a user map naming $who: the agent refuses to start ($rc)" \
        grep -q "bad.map:2: account $who is .*never runs" <<<"$out"
done
printf '[users]\nalice = %s\n' "$JOBUSER" >"$T/agents/bad.map"
sed 's|^\[slurm\]|job_root = /scratch/aifed\n&|' "$T/agents/$SITE.conf" >"$T/agents/bad.conf"
check "a job_root shared by every account is refused" \
    grep -q "job_root: '/scratch/aifed' is one directory for every account" \
    <<<"$("$FED_AGENT_BIN" -n -c "$T/agents/bad.conf" 2>&1)"

# A directory made first by another local user, under a shared (sticky)
# parent of per-account job roots: the job fails, it does not run there.
shared=$(mktemp -d /tmp/aifed-shared.XXXXXX) && chmod 1777 "$shared"
other=aifedx$$
useradd -M -d /nonexistent -s /bin/sh "$other"
runuser -u "$other" -- mkdir -m 0777 "$shared/$JOBUSER"
sed -i "s|^\[slurm\]|job_root = $shared/%u\n&|" "$T/agents/$SITE.conf"
fed_stop_pid "$T/agents/$SITE.pid"
n=$(grep -c "connected to the broker as" "$T/logs/agent-$SITE.log")
start_agent
wait_for "the agent comes back with job_root = $shared/%u" 20 \
    '(($(grep -c "connected to the broker as" "$T/logs/agent-$SITE.log") > n))'
ps -o user=,pid=,args= -p "$(cat "$T/agents/$SITE.pid")" | sed 's/^/# agent: /'
tail -n 3 "$T/logs/agent-$SITE.log" | sed 's/^/# /'
wait_free "... and its node is free"
lease=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 30m | jq -r .id)
job=$(ctl alice run --detach --lease "$lease" "$(task squat 5m 'echo ran')" 2>/dev/null)
wait_for "a job whose directory another account made first FAILS" 30 'test "$(job_state "$job")" = FAILED'
check "... saying why" grep -q "belongs to uid $(id -u "$other")" <<<"$(job_field "$job" reason)"
check "... and nothing ran as the user there" test ! -e "$shared/$JOBUSER/$job/output.log"
ctl alice lease release "$lease" >/dev/null
userdel "$other" 2>/dev/null
rm -rf "$shared"
