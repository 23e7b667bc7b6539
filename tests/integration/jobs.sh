#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Jobs on the demo federation's static sites, where the agent runs them
# itself (demo_jobs = yes) as a separate account: aifedctl run leases, starts the job, follows it to its end and
# exits with its status; a job never outlives its lease (too long refused
# with the numbers, stopped when the lease is released); cancel; Ctrl-C
# detaches; logs -f gives the output byte for byte; only a project's members
# see its jobs; files are sent along; an image runs through apptainer. And
# the attacks a user with a job can make on the site: the agent's key read
# by the job, output.log a symlink to a root-only file or the site's key, or
# a FIFO; the job outliving an agent killed with SIGKILL.
. "$(dirname "$0")/lib.sh"

start_federation mimer pharos || exit 1
fed_demo_account || { fail "no demo account"; exit 1; }
jobdir() { echo "$FED_DEMO_HOME/.aifed/jobs/$1"; }
task() { # task NAME WALLTIME RUN: a task file in $T
    printf 'name: %s\nproject: llm-eu\nresources: {gpus: 1, walltime: %s}\nplacement: {country: SE}\nenv: {GREETING: hi}\nsetup: echo setting up\nrun: |\n  %s\n' \
        "$1" "$2" "$3" >"$T/$1.yaml"
    echo "$T/$1.yaml"
}
job_state() { ctlj alice job show "$1" | jq -r .state; }
refused() { ! "$@" >/dev/null 2>&1; }

# run: a lease of its own, the job, its status, the lease released.
out=$(ctl alice run "$(task hello 10m 'echo "$GREETING from $AIFED_JOB_ID"')" 2>&1); rc=$?
check "run exits with the job's status (0)" test "$rc" -eq 0
job=$(grep -o 'job-[0-9a-f]*' <<<"$out" | head -n 1)
check "run streams the job's output as it follows it" grep -qx "hi from $job" <<<"$out"
lease=$(grep -o 'lease-[0-9a-f]*' <<<"$out" | head -n 1)
j=$(ctlj alice job show "$job")
check "the job COMPLETED with exit code 0" test "$(jq -r '.state + " " + (.exit_code | tostring)' <<<"$j")" = "COMPLETED 0"
check "it ran as the demo account, not the agent's, and says which" test "$(jq -r .local_account <<<"$j")" = "$FED_DEMO_ACCOUNT"
log=$(cat "$(jobdir "$job")/output.log")
check "its output says the demo executor ran it" grep -q "^aifed: job $job runs on the demo executor, not under a scheduler, as $FED_DEMO_ACCOUNT$" <<<"$log"
check "setup ran, then run with the task's env and its job id" \
    test "$(tail -n 2 <<<"$log" | tr '\n' '|')" = "setting up|hi from $job|"
check "the lease run made is released when the job ends" test "$(ctlj alice lease show "$lease" | jq -r .state)" = RELEASED
check "jobs --lease lists it" test "$(ctlj alice jobs --lease "$lease" | jq -r '.[0].id')" = "$job"
check "job show gives the GPU-seconds it used (1 GPU, at least 1 s)" \
    test "$(ctlj alice job show "$job" | jq -r '"\(.gpus) \(.gpu_seconds >= 1)"')" = "1 true"
check "logs --tail 1 gives the last line only" test "$(ctl alice logs --tail 1 "$job")" = "hi from $job"
check "logs --tail 2 the last two" test "$(ctl alice logs --tail 2 "$job" | tr '\n' '|')" = "setting up|hi from $job|"
check "logs --tail 0 nothing" test -z "$(ctl alice logs --tail 0 "$job")"
check "logs --tail with no number is a usage error" test "$(ctl alice logs --tail x "$job" >/dev/null 2>&1; echo $?)" = 2

# Files sent along, and an image. Apptainer is not packaged for Debian 12:
# a stand-in sent with the task, on its PATH (a job's environment is its
# task's, not the agent's), records its arguments and runs the command
# without a container. Real sites run the real one.
mkdir -p "$T/src"
printf 'some data\n' >"$T/src/in.txt"
printf '#!/bin/sh\necho tool ran\n' >"$T/src/tool.sh"
printf '#!/bin/sh\necho "$*" >>apptainer.args\n[ "$1" = exec ] || exit 2\nshift 2\nexec "$@"\n' >"$T/src/apptainer"
chmod +x "$T/src/tool.sh" "$T/src/apptainer"
cat >"$T/files.yaml" <<EOF
name: files
project: llm-eu
resources: {gpus: 1, walltime: 10m}
placement: {country: SE}
image: /images/pytorch.sif
env: {PATH: ".:/usr/bin:/bin"}
files:
  data/in.txt: src/in.txt
  tool.sh: src/tool.sh
  apptainer: src/apptainer
run: |
  cat data/in.txt; ./tool.sh; echo "image \$AIFED_IMAGE"
EOF
out=$(ctl alice run "$T/files.yaml" 2>"$T/files.err"); rc=$?
job=$(grep -o 'job-[0-9a-f]*' "$T/files.err" | head -n 1)
check "a task's files arrive in the job's directory, an executable one executable" \
    test "$rc:$(tr '\n' '|' <<<"$out" | sed 's/^aifed: [^|]*|//')" = "0:some data|tool ran|image /images/pytorch.sif|"
check "... and with an image, run runs through apptainer exec IMAGE" \
    grep -qx "exec /images/pytorch.sif sh ./.aifed-run.sh" "$(jobdir "$job")/apptainer.args"
printf 'name: bad\nproject: llm-eu\nresources: {gpus: 1}\nfiles: {../up.txt: src/in.txt}\nrun: true\n' >"$T/bad.yaml"
out=$(ctl alice run "$T/bad.yaml" 2>&1); rc=$?
check "a file named outside the job's directory is refused with file:line:column" \
    grep -q "bad.yaml:4:[0-9]*: files: '../up.txt' is not a name in the job's directory" <<<"$out"

# After SIGHUP the site reads its file again; its jobs ask the new reading
# whether a lease is held (the old one is gone: ASan saw it used once).
kill -HUP "$(cat "$T/agents/mimer.pid")"
wait_for "mimer reads its site again on SIGHUP" 10 'grep -q "reload: read the site again" "$T/logs/agent-mimer.log"'
ctl alice run "$(task afterhup 10m 'echo after the reload')" >/dev/null 2>&1; rc=$?
check "... and a job still runs there (exit 0)" test "$rc" -eq 0

# A failing job: run exits with its code.
ctl alice run "$(task fails 10m 'exit 3')" >/dev/null 2>&1; rc=$?
check "a job that exits 3 makes run exit 3" test "$rc" -eq 3

# In a lease of the user's own: the time limit, cancel, the lease's end.
lease=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 30m --country SE | jq -r .id)
ctl alice run --lease "$lease" "$(task slow 2s 'sleep 30')" >/dev/null 2>&1; rc=$?
check "a job past its time limit is stopped: TIMEOUT, run exits 124" test "$rc" -eq 124
out=$(ctl alice run --lease "$lease" "$(task long 1h 'true')" 2>&1); rc=$?
check "a job longer than the lease is refused with the numbers and the renewal ($out)" \
    grep -Eq "^aifedctl: the lease ends in (29m[0-9]*s|30m|[0-9]+s), the job asks 1h: \`aifedctl lease renew $lease --by (30|31)m\`, or ask less$" <<<"$out"
check "... and exits 1" test "$rc" -eq 1
job=$(ctl alice run --detach --lease "$lease" "$(task nap 10m 'sleep 60')" 2>/dev/null)
wait_for "a detached job is RUNNING" 10 'test "$(job_state "$job")" = RUNNING'
check "another project's user does not see it" refused ctl bob job show "$job"
out=$("$RAWSEND" "$FED_AGENT_EP" "$T/keys/broker.pub" "$T/keys/pharos.key" job-status "$job")
check "another site cannot report on mimer's job ($out)" test "$out" = "3 job $job is not at your site"
check "... which is still RUNNING" test "$(job_state "$job")" = RUNNING
check "jobs without --lease lists the user's projects' jobs, newest last" \
    test "$(ctlj alice jobs | jq -r '.[-1].id')" = "$job"
check "jobs --state running gives the running ones only" \
    test "$(ctlj alice jobs --state running | jq -r '[.[].state] | unique | join(" ")')" = RUNNING
check "jobs --state with an unknown state is a usage error" \
    test "$(ctl alice jobs --state asleep >/dev/null 2>&1; echo $?)" = 2
check "another project's user lists none of them" test "$(ctlj bob jobs | jq length)" = 0
check "an admin lists them all" quiet grep -q "$job" <<<"$(ctl ops jobs)"
check "lease show lists the lease's jobs" grep -Eq "^  $job +RUNNING +nap$" <<<"$(ctl alice lease show "$lease")"
check "job cancel stops it" test "$(ctlj alice job cancel "$job" | jq -r .state)" = CANCELLED
check "... for good" test "$(job_state "$job")" = CANCELLED
lease2=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 30m --country SE | jq -r .id)
job=$(ctl alice run --detach --lease "$lease" "$(task nap2 10m 'sleep 60')" 2>/dev/null)
wait_for "another job is RUNNING" 10 'test "$(job_state "$job")" = RUNNING'
pid=$(ctlj alice job show "$job" | jq -r .site_job_id | sed 's/^pid-//')
# With the agent stopped, the broker's word: the job ends with its lease.
kill -STOP "$(cat "$T/agents/mimer.pid")"
ctl alice lease release "$lease" >/dev/null
check "releasing the lease ends its running job at once: CANCELLED" test "$(job_state "$job")" = CANCELLED
check "... saying why" test "$(ctlj alice job show "$job" | jq -r .reason)" = "the lease ended"
kill -CONT "$(cat "$T/agents/mimer.pid")"
wait_for "... and the site stops its process (pid $pid)" 15 '! kill -0 "$pid" 2>/dev/null'

# Output through aifedctl logs -f, byte for byte, while the job writes it.
job=$(ctl alice run --detach --lease "$lease2" "$(task chatty 10m 'for i in 1 2 3; do printf "line %s\\tx\\n" $i; sleep 1; done; head -c 100000 /dev/urandom | base64')" 2>/dev/null)
ctl alice logs -f "$job" >"$T/followed" 2>"$T/logs.err"; rc=$?
check "logs -f follows to the job's end" test "$rc:$(job_state "$job")" = "0:COMPLETED"
check "... byte for byte what the job wrote ($(wc -c <"$T/followed") bytes)" \
    cmp -s "$T/followed" "$(jobdir "$job")/output.log"
check "another project's user cannot read it" refused ctl bob logs "$job"

# Ctrl-C detaches; it never cancels.
lease=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 30m --country SE | jq -r .id)
out=$(timeout -s INT 3 "$FED_CTL_BIN" --broker "$FED_CLIENT_EP" --broker-key "$T/keys/broker.pub" \
    --key "$T/keys/alice.key" run --lease "$lease" "$(task ctrlc 10m 'sleep 30')" 2>&1); rc=$?
job=$(grep -o 'job-[0-9a-f]*' <<<"$out" | head -n 1)
check "Ctrl-C detaches and says how to follow" grep -q "detached: job $job goes on (nothing was cancelled)" <<<"$out"
check "... and the job goes on" test "$(job_state "$job")" = RUNNING
out=$(ctl alice lease release "$lease")
check "releasing a lease with a running job says it cancelled it" grep -q "^cancelled: *1 job that ran in it$" <<<"$out"
check "... and the job is CANCELLED" test "$(job_state "$job")" = CANCELLED

# Near the lease's end: jobs, job show, lease show and logs -f say so.
lease=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 10m --country SE | jq -r .id)
job=$(ctl alice run --detach --lease "$lease" "$(task late 5m 'echo started; sleep 4')" 2>/dev/null)
wait_for "a job in a lease that ends in 10m runs" 10 'test "$(job_state "$job")" = RUNNING'
near="^lease $lease ends in [0-9hms]+, with 1 job still open, which end with it: \`aifedctl lease renew $lease --by 1h\` for more time$"
check "jobs says the lease ends soon and how to renew" grep -Eq "$near" <<<"$(ctl alice jobs --lease "$lease")"
check "... job show too" grep -Eq "$near" <<<"$(ctl alice job show "$job")"
check "... lease show too" grep -Eq "$near" <<<"$(ctl alice lease show "$lease")"
ctl alice logs -f "$job" >/dev/null 2>"$T/near.err"
check "... and logs -f, once, on stderr" test "$(grep -Ec "$near" "$T/near.err")" = 1
ctl alice lease release "$lease" >/dev/null

# An agent restart mid-job: the demo executor's job ends with its agent,
# and the broker learns so when the agent connects again: never started twice.
lease=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 30m --country SE | jq -r .id)
job=$(ctl alice run --detach --lease "$lease" "$(task restart 10m 'sleep 60')" 2>/dev/null)
wait_for "a job runs before its agent restarts" 10 'test "$(job_state "$job")" = RUNNING'
fed_stop_pid "$T/agents/mimer.pid" || fail "the agent did not stop cleanly"
"$FED_AGENT_BIN" -f -c "$T/agents/mimer.conf" >>"$T/logs/agent-mimer.log" 2>&1 &
echo $! >"$T/agents/mimer.pid"
wait_for "after the restart the broker has the job ended, not RUNNING" 15 \
    '[[ $(job_state "$job") == FAILED || $(job_state "$job") == CANCELLED ]]'
check "... started once only" test "$(grep -c "job $job: running as" "$T/logs/agent-mimer.log")" = 1
check "a job needs an ACTIVE lease" refused ctl alice run --lease lease-00000000000000000000000000 "$T/hello.yaml"

# --- The attacks of a user with a job (each worked before the job helper:
# the agent ran jobs as itself and read their files with its own rights).
lease3=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 30m --country SE | jq -r .id)
site_up() { [[ $(ctlj ops sites | jq -r '.[] | select(.id == "mimer") | .state') == UP ]]; }
secret=$(sed -n 's/^ *secret-key = "\(.*\)"$/\1/p' "$T/keys/mimer.key")
out=$(ctl alice run "$(task steal 10m 'echo "parent: $(tr "\0" " " </proc/$PPID/cmdline)"; cat '"$T"'/keys/mimer.key /etc/shadow 2>&1')" 2>&1)
check "a job cannot read the site's secret key or /etc/shadow" \
    test -n "$secret" -a -z "$(grep -F -e "$secret" -e 'root:' <<<"$out")"
check "... it is told no (it runs as $FED_DEMO_ACCOUNT)" grep -q "Permission denied" <<<"$out"

# output.log replaced by a symlink to a root-only file, to the site's key,
# and the job's directory itself swapped for a symlink.
for target in /etc/shadow "$T/keys/mimer.key"; do
    job=$(ctl alice run --detach --lease "$lease3" "$(task link 10m "rm -f output.log; ln -s $target output.log; sleep 1")" 2>/dev/null)
    wait_for "a job that links output.log to $target ended" 20 'test "$(job_state "$job")" = COMPLETED'
    out=$(ctl alice logs "$job" 2>&1)
    check "... logs shows none of $target" test -z "$(grep -F -e 'root:' -e "$secret" <<<"$out")"
done
job=$(ctl alice run --detach --lease "$lease3" "$(task parent 10m 'x=$(mktemp -d); ln -s /etc/shadow $x/output.log; d=$(pwd); mv "$d" "$d.old"; ln -s $x "$d"; sleep 1')" 2>/dev/null)
wait_for "a job that swaps its own directory for a symlink ended" 20 '[[ $(job_state "$job") == COMPLETED || $(job_state "$job") == FAILED ]]'
check "... logs shows nothing of /etc/shadow" test -z "$(ctl alice logs "$job" 2>&1 | grep -F 'root:')"

# output.log a FIFO: nothing blocks, the site stays UP.
job=$(ctl alice run --detach --lease "$lease3" "$(task fifo 10m 'rm -f output.log; mkfifo output.log; sleep 30')" 2>/dev/null)
wait_for "a job that makes output.log a FIFO runs" 20 'test "$(job_state "$job")" = RUNNING && test -p "$(jobdir "$job")/output.log"'
timeout 10 "$FED_CTL_BIN" --broker "$FED_CLIENT_EP" --broker-key "$T/keys/broker.pub" --key "$T/keys/alice.key" logs "$job" >/dev/null 2>&1
check "... logs of it returns" test $? -ne 124
# Three advertisement intervals and more: a blocked agent would be DOWN.
wait_for "... the agent stays UP while the FIFO stands, 3 s on" 10 'sleep 3; site_up'
check "... and it answers (explain ranks it)" grep -q mimer <<<"$(ctl alice explain --project llm-eu --gpus 1 --country SE 2>&1)"
ctlj alice job cancel "$job" >/dev/null

# kill -9 of the agent: the job it ran does not outlive it.
job=$(ctl alice run --detach --lease "$lease3" "$(task orphan 10m 'setsid sleep 300 & sleep 300')" 2>/dev/null)
wait_for "a job runs before its agent is killed" 10 'test "$(job_state "$job")" = RUNNING'
pid=$(ctlj alice job show "$job" | jq -r .site_job_id | sed 's/^pid-//')
kill -KILL "$(cat "$T/agents/mimer.pid")"
wait_for "after kill -9 of its agent the job's processes end, an escaped one too" 15 \
    '! kill -0 "$pid" 2>/dev/null && ! pgrep -f "sleep 300" -u "$FED_DEMO_ACCOUNT" >/dev/null'
"$FED_AGENT_BIN" -f -c "$T/agents/mimer.conf" >>"$T/logs/agent-mimer.log" 2>&1 &
echo $! >"$T/agents/mimer.pid"
wait_for "... and the restarted agent tells the broker it ended" 15 \
    '[[ $(job_state "$job") == FAILED || $(job_state "$job") == CANCELLED ]]'

# --- Privacy inside a project: another member sees a job's state, not its
# variables, scripts, files or output, unless its owner shares it; a
# secret's value nobody is shown (before: GetJob gave every member the whole
# spec, and logs the owner's output).
"$FED_CTL_BIN" keygen --dir "$T/keys" carol >/dev/null
quiet ctl ops admin principal add user:carol --pub "$T/keys/carol.pub" --projects llm-eu
lease4=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 30m --country SE | jq -r .id)
# The job waits after its output, so that what the broker keeps of a
# running job is seen; once it ends, the broker keeps its variables' names
# and files' names, not their values and bytes.
printf 'name: private\nproject: llm-eu\nresources: {gpus: 1, walltime: 10m}\nenv: {GREETING: hi}\nsecrets: {HF_TOKEN: hf_s3cret}\nrun: echo "the token has ${#HF_TOKEN} characters"; echo "the output of $GREETING"; sleep 120\n' >"$T/private.yaml"
job=$(ctl alice run --detach --lease "$lease4" "$T/private.yaml" 2>/dev/null)
wait_for "alice's job with a secret runs and has written" 20 \
    'test "$(job_state "$job")" = RUNNING && ctl alice logs "$job" 2>/dev/null | grep -q "the output of hi"'
seen=$(ctlj carol job show "$job")
check "another member of the project sees its state" test "$(jq -r .state <<<"$seen")" = RUNNING
check "... but no variable's value, and no script" \
    test "$(jq -c '[.env, .scripts]' <<<"$seen")" = '[{"GREETING":null,"HF_TOKEN":null},false]'
out=$(ctl carol logs "$job" 2>&1); rc=$?
check "... and not its output" grep -q "its output is for its owner, unless the owner shares the job" <<<"$out"
own=$(ctlj alice job show "$job")
check "its owner sees her variables, but not the secret's value" \
    test "$(jq -c .env <<<"$own")" = '{"GREETING":"hi","HF_TOKEN":null}'
check "... and its output" grep -qx "the output of hi" <<<"$(ctl alice logs "$job")"
check "the secret's value reached the job at the site, whole" \
    grep -qx "the token has 9 characters" <<<"$(ctl alice logs "$job")"
ctlj alice job cancel "$job" >/dev/null
own=$(ctlj alice job show "$job")
check "once it ended, the broker keeps its variables' names, not their values" \
    test "$(jq -c .env <<<"$own")" = '{"GREETING":null,"HF_TOKEN":null}'
check "... and says the digest of what it dropped" grep -qE '^[0-9a-f]{64}$' <<<"$(jq -r .dropped_sha256 <<<"$own")"
job=$(ctl alice run --detach --share --lease "$lease4" "$T/private.yaml" 2>/dev/null)
wait_for "a shared job runs and has written" 20 \
    'test "$(job_state "$job")" = RUNNING && ctl alice logs "$job" 2>/dev/null | grep -q "the output of hi"'
check "a shared job: the other member sees its variables (not the secret) and output" \
    test "$(ctlj carol job show "$job" | jq -c .env)/$(ctl carol logs "$job" | tail -n 1)" = '{"GREETING":"hi","HF_TOKEN":null}/the output of hi'
ctlj alice job cancel "$job" >/dev/null
ctl alice lease release "$lease4" >/dev/null

# logs -f across a broker restart (kill -9): a read that fails meanwhile
# (the broker away, then the site not reconnected yet) is asked again from
# where it stopped, and every line arrives (before: it gave up reading, and
# printed 17 of 40 lines).
sed -i "s|^agent_listen = .*|agent_listen = $FED_AGENT_EP|; s|^client_listen = .*|client_listen = $FED_CLIENT_EP|" "$T/broker.conf"
job=$(ctl alice run --detach "$(task forty 10m 'for i in $(seq 1 40); do echo "line $i"; sleep 0.25; done')" 2>/dev/null)
wait_for "a job of 40 lines runs" 20 'test "$(job_state "$job")" = RUNNING'
ctl alice --timeout 120s logs -f "$job" >"$T/forty.out" 2>"$T/forty.err" &
follower=$!
wait_for "logs -f has its first lines" 10 'grep -q "^line 2$" "$T/forty.out"'
# The agent stopped meanwhile: the restarted broker cannot reach the site,
# so a read fails ("not connected now") before it comes back.
kill -STOP "$(cat "$T/agents/mimer.pid")"
kill -KILL "$(cat "$T/broker.pid")"; wait "$(cat "$T/broker.pid")" 2>/dev/null; rm -f "$T/broker.pid"
fed_start_broker "$T" || exit 1
wait_for "logs -f is told its output cannot be read now" 30 'grep -q "cannot be read now" "$T/forty.err"'
kill -CONT "$(cat "$T/agents/mimer.pid")"
wait_for "logs -f ends once the job has" 90 '! kill -0 "$follower" 2>/dev/null'
check "logs -f across a broker restart printed all 40 lines, in order" \
    test "$(seq 1 40 | sed 's/^/line /')" = "$(grep '^line ' "$T/forty.out")"
