#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The agent on a real Slurm: a single-node cluster with 4 fake A100s
# (slurmlab.sh), the broker, and an agent with backend = slurm. Checks that
# the broker sees what sinfo reports; that a lease becomes a reservation a
# job runs in and its release deletes it, with the jobs' usage reported;
# that a drained node and a job outside aifed lower the free count; that an
# agent restart finds its holds again in Slurm; that renewal moves the
# reservation's end and revoke and expiry delete it; that a reservation the broker
# does not know is deleted; and that a hung slurmctld makes the site
# degraded (no new leases) until it answers again, while the agent keeps
# advertising; and that SIGHUP rereads the site file.
# Skips (77) only where Slurm cannot start at all.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../../deploy/slurmlab.sh
. "$(dirname "$0")/../../deploy/slurmlab.sh"

skip() {
    echo "1..0 # SKIP $*"
    trap - EXIT
    slurm_lab_stop
    rm -rf "$T"
    exit 77
}
for c in slurmctld slurmd munged mungekey sinfo jq; do
    command -v "$c" >/dev/null || skip "$c is missing (deploy/install-deps.sh installs it)"
done
[[ $(id -u) -eq 0 ]] || skip "slurmd must run as root"
# A second try on other ports before concluding that Slurm cannot start here.
slurm_lab_start "$T/slurm" 4 || { slurm_lab_stop; rm -rf "$T/slurm"; slurm_lab_start "$T/slurm" 4; } ||
    skip "Slurm did not start: $(tail -q -n 2 "$T"/slurm/*.log | tr '\n' ' ')"
# The user map names a real unprivileged account (never root: the agent
# refuses that), which runs the reservation's job.
chmod 711 "$T"
U=aifedsl$$
slurm_lab_user "$U" || skip "cannot create a local user"
trap 'slurm_lab_stop; finish' EXIT

SITE=meluxina
fed_init "$T" "$SITE" || exit 1
fed_start_broker "$T" || exit 1
cat > "$T/agents/$SITE.site" <<EOF
[site]
id = $SITE
name = MeluXina-AI (test Slurm)
country = LU
certifications = iso27001
price_per_gpu_hour = 2.5

[pool:gpu]
gpu_memory_gb = 40
EOF
cat > "$T/agents/users.map" <<EOF
[users]
alice = $U
EOF
slurm_lab_agent_conf "$T" "$SITE" <<EOF
command_timeout = 2s
estimate_sizes = 1, 4
estimate_interval = 2s
EOF
start_agent() { slurm_lab_start_agent "$T" "$SITE"; }
start_agent
fed_wait_up "$T" 1 || { fail "the Slurm site did not come UP"; exit 1; }

pool() { ctlj ops sites | jq -r --arg k "$1" '.[0].pools[0][$k]'; }
free_is() { [[ $(pool gpus_free) == "$1" ]]; }
# What a user waits for before asking again: the broker's figure, net of what
# it has promised, not only the site's.
avail_is() { [[ $(pool gpus_available) == "$1" ]]; }
slurm_gres() { sinfo --json | jq -r ".nodes[0].$1"; }
resv() { scontrol --oneliner show reservation "$1" 2>/dev/null; }

# --- capacity as Slurm reports it
check "sinfo reports 4 A100s on one node" test "$(slurm_gres gres)" = "gpu:a100:4"
check "the broker shows the partition gpu as the site's pool" test "$(pool name)" = gpu
check "... with the 4 GPUs Slurm has" test "$(pool gpus_total)" = 4
check "... all free, as sinfo's gres_used says" free_is 4
check "... on 1 node with Slurm's CPUs" test "$(pool nodes)/$(pool cpus_per_node)" = \
    "1/$(sinfo --json | jq -r '.nodes[0].cpus')"
check "... max walltime from the partition's MaxTime (2 days)" test "$(pool max_walltime_s)" = 172800
check "... the accelerator from the GRES type, the memory from the site file" \
    test "$(pool accelerator)/$(pool gpu_memory_gb)" = "A100/40"
wait_for "start estimates from sbatch --test-only for 1 and 4 GPUs" 10 \
    '[[ $(ctlj ops sites | jq -c "[.[0].pools[0].starts[].gpus]") == "[1,4]" ]]'
check "the site file still adds what Slurm does not know" \
    test "$(ctlj ops sites | jq -r '.[0].country + " " + (.[0].price_per_gpu_hour|tostring)')" = "LU 2.5"

# --- a job outside aifed lowers the free count
ext=$(sbatch --parsable --gres=gpu:2 --time=10 --output=/dev/null --wrap "sleep 300")
wait_for "a job holding 2 GPUs outside aifed leaves 2 free" 5 'free_is 2'
scancel "$ext"
wait_for "... and 4 when it is cancelled" 5 'free_is 4'

# --- only those with an account here are offered the site
out=$(ctlj bob explain --project bio-x --gpus 1 --walltime 1h)
check "a user the site's user map does not have is told so by explain" \
    test "$(jq -r '.[0].verdict + ": " + .[0].reason' <<<"$out")" = "rejected: no account here for you or the project (the site's user map has neither: its admins add one)"
out=$(ctl bob submit --project bio-x --gpus 1 --walltime 1h 2>&1); rc=$?
check "... and a submit is refused with that reason, before any hold is tried" \
    test "$rc" -ne 0 -a -n "$(grep -F "no account here for you or the project" <<<"$out")" \
    -a -z "$(scontrol --oneliner show reservation 2>/dev/null | grep aifed-)"

# --- a lease is a reservation a job runs in
out=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 1h)
lease=$(jq -r '.id' <<<"$out")
check "a submit is granted at the Slurm site" test "$(jq -r '.state + " " + .site' <<<"$out")" = "ACTIVE $SITE"
check "... as reservation aifed-$lease in Slurm" quiet resv "aifed-$lease"
check "... of the node, for the mapped local user" \
    grep -q "NodeCnt=1 .*Users=$U" <<<"$(resv "aifed-$lease")"
part=$(resv "aifed-$lease" | grep -o 'PartitionName=[^ ]*' | cut -d= -f2)
check "lease show says how to work in it by hand, as Slurm has it" \
    grep -q "^by hand: *on $SITE's login node, as $U, sbatch --reservation=aifed-$lease --partition=$part$" \
    <<<"$(ctl alice lease show "$lease")"
check "... and --json gives it as fields" \
    test "$(ctlj alice lease show "$lease" | jq -r '.access | [.scheduler, .reservation, .account] | join(" ")')" = "slurm aifed-$lease $U"
check "... ending when the lease does" test "$(date -d "$(resv "aifed-$lease" |
    grep -o 'EndTime=[^ ]*' | cut -d= -f2)" +%s)" = \
    "$(date -d "$(jq -r .expires <<<"$out")" +%s)"
wait_for "the held node's GPUs are no longer free" 5 'free_is 0'
# ... and never free again while held: slurmctld flags the node RESERVED
# seconds after the reservation is made, and sinfo reads it free till then.
# Five advertisements in a row (each waited for by its last_seen) say 0.
seen() { ctlj ops sites | jq -r '.[0].last_seen'; }
zeros=0
for ((i = 0; i < 5; i++)); do
    last=$(seen)
    wait_for "advertisement $((i + 1)) after the hold" 10 '[[ $(seen) != "$last" ]]'
    free_is 0 && zeros=$((zeros + 1))
done
check "... and stay held in the next five advertisements ($zeros of 5 say 0 free)" test "$zeros" -eq 5
job=$(runuser -u "$U" -- sbatch --parsable --reservation="aifed-$lease" --gres=gpu:1 --time=5 \
    --output=/dev/null --wrap "sleep 2")
wait_for "a job sent to the reservation runs and completes" 20 \
    '[[ $(squeue --json | jq -r ".jobs[] | select(.job_id == $job) | .job_state") == COMPLETED ]]'
check "the user releases the lease" quiet ctl alice lease release "$lease"
wait_for "... and the reservation is deleted" 5 '! resv "aifed-$lease" | grep -q Name'
wait_for "... and the GPUs are free again" 5 'free_is 4 && avail_is 4'
wait_for "... and the usage the job had in Slurm reached the broker" 5 \
    '[[ $(ctlj alice lease show "$lease" | jq -r .usage_from_site) == true ]]'
used=$(ctlj alice lease show "$lease" | jq -r .gpu_seconds_used)
check "... 1 GPU x about 2 s (got $used)" test "$used" -ge 1 -a "$used" -le 4

# --- draining the node in Slurm
scontrol update NodeName="$SLURM_LAB_NODE" State=DRAIN Reason=aifed-test
wait_for "draining the node drops the capacity within two intervals" 2 'free_is 0'
scontrol update NodeName="$SLURM_LAB_NODE" State=RESUME
wait_for "... and resuming it brings it back" 5 'free_is 4'

# --- the agent finds its holds again after a restart
out=$(ctlj alice submit --project llm-eu --gpus 2 --walltime 1h)
lease=$(jq -r '.id' <<<"$out")
check "another lease is granted" test "$(jq -r .state <<<"$out")" = ACTIVE
fed_stop_pid "$T/agents/$SITE.pid" || fail "the agent did not stop cleanly"
start_agent
sleep 0.1
wait_for "after an agent restart the lease is still held (its reservation found)" 10 \
    'grep -q "found its reservation" "$T/logs/agent-$SITE.log"'
sleep 2
check "... and the broker still has it ACTIVE (not LOST)" \
    test "$(ctlj alice lease show "$lease" | jq -r .state)" = ACTIVE
check "... and Slurm still has the reservation" quiet resv "aifed-$lease"
end_of() { date -d "$(resv "aifed-$1" | grep -o 'EndTime=[^ ]*' | cut -d= -f2)" +%s; }
before=$(end_of "$lease")
check "a renewal is granted" quiet ctl alice lease renew "$lease" --by 1h
wait_for "... and moves the reservation's end by the hour" 5 \
    '[[ $(end_of "$lease") == $((before + 3600)) ]]'
check "an admin revokes the lease" quiet ctl ops lease revoke "$lease" --reason test
wait_for "... and its reservation is deleted" 5 '! resv "aifed-$lease" | grep -q Name'
wait_for "... and the node's GPUs are free again, to the broker too" 5 \
    'free_is 4 && avail_is 4'

# --- expiry
out=$(ctlj alice submit --project llm-eu --gpus 1 --walltime 3s)
lease=$(jq -r '.id' <<<"$out")
check "a 3-second lease is granted" quiet resv "aifed-$lease"
wait_for "when it expires its reservation is gone" 15 \
    '! resv "aifed-$lease" | grep -q Name &&
     [[ $(ctlj alice lease show "$lease" | jq -r .state) == EXPIRED ]]'

# --- SIGHUP: the site file again, Slurm's figures kept
sed -i 's/^price_per_gpu_hour = 2.5/price_per_gpu_hour = 3.0/' "$T/agents/$SITE.site"
kill -HUP "$(cat "$T/agents/$SITE.pid")"
wait_for "SIGHUP reads the site file again (new price)" 5 \
    '[[ $(ctlj ops sites | jq -r ".[0].price_per_gpu_hour") == 3 ]] && free_is 4'

# --- a reservation named like aifed's that the broker never granted
scontrol create reservation ReservationName=aifed-lease-0000000000000bad StartTime=now \
    Duration=30 PartitionName=gpu NodeCnt=1 Users=root >/dev/null
wait_for "a hold the broker does not know is dropped at the site" 10 \
    '! resv aifed-lease-0000000000000bad | grep -q Name'

# --- a slurmctld that hangs
slurm_lab_ctld_stop "$T/slurm"
wait_for "a hung slurmctld makes the site degraded" 15 \
    '[[ -n $(ctlj ops sites | jq -r ".[0].degraded") ]]'
check "... with the reason in the sites table" \
    grep -q "DEGR $SITE: .*no answer within" <<<"$(ctl ops sites)"
check "... and no stale free capacity" free_is 0
sleep 2
check "... and stays UP: Slurm hanging does not hold the agent's loop" \
    test "$(ctlj ops sites | jq -r '.[0].state')" = UP
check "... and the agent logs why" grep -q "advertising the site as degraded" "$T/logs/agent-$SITE.log"
metrics=$(grep -o 'http://[^ ]*/metrics' "$T/logs/agent-$SITE.log" | tail -n 1)
check "... and counts it in aifed_agent_backend_errors_total" \
    test "$(curl -s "$metrics" | awk '/^aifed_agent_backend_errors_total/ {print $2}')" -ge 1
check "... and times its Slurm reads in aifed_agent_backend_seconds" \
    test "$(curl -s "$metrics" | awk '/^aifed_agent_backend_seconds_count/ {print $2}')" -ge 5
why=$(ctlj alice explain --project llm-eu --gpus 1 --walltime 1h | jq -r '.[] | select(.site == "meluxina") | .reason')
check "explain says the site is degraded ($why)" grep -q "site is degraded" <<<"$why"
slurm_lab_ctld_cont "$T/slurm"
wait_for "when slurmctld answers again the site is back" 20 \
    '[[ -z $(ctlj ops sites | jq -r ".[0].degraded") ]] && free_is 4'
