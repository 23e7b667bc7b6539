# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# slurmlab.sh: a real single-node Slurm (Debian 12's munge, slurmctld and
# slurmd) in one temporary directory, on loopback ports nobody else uses,
# with GPUS fake GPUs (GRES whose device files are character devices made
# here). Sourced by the Slurm integration tests and benchmark, and by
# deploy/demo.sh, whose MeluXina-AI runs on it.
#
# What it took (so the next engineer need not find out again): the daemons
# get an absolute config path; MpiDefault=none; GRES File= must name
# character devices; munged runs on its own socket and key, and slurm.conf's
# AuthInfo points Slurm at it. Slurm 22.05 reservations cannot hold GPUs
# (TRES takes CPU, Node, License and BB only), so no accounting database is
# needed: aifed reserves whole nodes.
#
# slurm_lab_start DIR GPUS : start it; SLURM_CONF is exported. 0 or 1.
#                            With SLURM_LAB_SLURMUSER set, slurmctld runs as
#                            that account (the agent's, below).
# slurm_lab_agent_account NAME : the agent's account as the package makes
#                            it, the shipped sudoers rule installed for it
#                            (slurm_lab_stop removes the rule); the agent
#                            then runs as NAME, not root.
# slurm_lab_stop           : stop everything it started.
# slurm_lab_agent_conf, slurm_lab_start_agent: an agent on it (below).
# slurm_lab_user NAME      : a real unprivileged local user for jobs.
# slurm_lab_keep DIR, slurm_lab_adopt DIR : note what runs, so that another
#                            shell (demo.sh --stop) can stop it.

SLURM_LAB_NODE=aifed-n1
SLURM_LAB_PIDS=()

# slurm_lab_port : a TCP port no socket uses, below the ephemeral range (an
# outgoing connection could take one inside it between choosing and binding).
slurm_lab_port() {
    local p i low
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    for ((i = 0; i < 50; i++)); do
        p=$((10000 + RANDOM % (low - 10000)))
        ss -Htan "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return 0; }
    done
    return 1
}

slurm_lab_conf() {
    local dir=$1 gpus=$2 cpus ctld_port d_port
    cpus=$(nproc)
    ((cpus > 4)) && cpus=4
    ctld_port=$(slurm_lab_port) && d_port=$(slurm_lab_port) || return 1
    cat > "$dir/slurm.conf" <<EOF
ClusterName=aifedlab
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=${SLURM_LAB_SLURMUSER:-root}
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge.sock
CredType=cred/munge
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/slurmd
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
MpiDefault=none
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
GresTypes=gpu
ReturnToService=2
MessageTimeout=5
DebugFlags=NO_CONF_HASH
NodeName=$SLURM_LAB_NODE NodeAddr=127.0.0.1 NodeHostname=$(hostname -s) CPUs=$cpus RealMemory=1000 Gres=gpu:a100:$gpus State=UNKNOWN
PartitionName=gpu Nodes=$SLURM_LAB_NODE Default=YES MaxTime=2-00:00:00 State=UP
EOF
    echo "NodeName=$SLURM_LAB_NODE Name=gpu Type=a100 File=$dir/dev/gpu[0-$((gpus - 1))]" \
        > "$dir/gres.conf"
}

slurm_lab_start() {
    local dir=$1 gpus=$2 i
    # 755: a job's user runs sbatch, which reads slurm.conf and talks to
    # munged's socket here (the key stays 0600, the state dirs root's).
    mkdir -p "$dir/ctld" "$dir/slurmd" "$dir/dev" && chmod 755 "$dir" &&
        chmod 700 "$dir/ctld" "$dir/slurmd" || return 1
    for ((i = 0; i < gpus; i++)); do
        mknod "$dir/dev/gpu$i" c 1 3 || return 1 # like /dev/null: slurmd only checks
    done
    mungekey -c -k "$dir/munge.key" -b 1024 >/dev/null 2>&1 && chmod 600 "$dir/munge.key" ||
        return 1
    munged -f --key-file="$dir/munge.key" --socket="$dir/munge.sock" \
        --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" \
        --seed-file="$dir/munged.seed" || return 1
    SLURM_LAB_PIDS+=("$(cat "$dir/munged.pid")")
    slurm_lab_conf "$dir" "$gpus" || return 1
    # Without slurmdbd there is no AdminLevel=Operator to give: the
    # SlurmUser is who may manage reservations besides root, so the lab
    # makes the agent's account that (docs/slurm-sites.md).
    if [[ -n ${SLURM_LAB_SLURMUSER:-} ]]; then
        touch "$dir/slurmctld.log" && chown "$SLURM_LAB_SLURMUSER" "$dir/ctld" "$dir/slurmctld.log" ||
            return 1
    fi
    export SLURM_CONF=$dir/slurm.conf
    slurmctld -f "$SLURM_CONF" || return 1
    slurmd -f "$SLURM_CONF" -N "$SLURM_LAB_NODE" || return 1
    # Until the node is idle: 30 s at most, each sinfo at most 5 s; after 5 s
    # a daemon without a live pid has died (its log says why): stop waiting.
    local start=$SECONDS up=1 f
    while ((SECONDS - start < 30)); do
        if timeout 5 sinfo --json 2>/dev/null | jq -e '.nodes[0].state == "idle"' >/dev/null; then
            up=0
            break
        fi
        if ((SECONDS - start >= 5)); then
            for f in slurmctld slurmd; do
                [[ -s $dir/$f.pid ]] && kill -0 "$(cat "$dir/$f.pid")" 2>/dev/null || break 2
            done
        fi
        sleep 0.2
    done
    for f in slurmctld slurmd; do
        [[ -s $dir/$f.pid ]] && SLURM_LAB_PIDS+=("$(cat "$dir/$f.pid")")
    done
    return $up
}

# slurm_lab_agent_conf DIR SITE : the agent's config for a federation in DIR
# (fedlib.sh's layout) on this Slurm, with the site file SITE.site and the
# user map users.map beside it; the caller's [slurm] lines come on stdin.
slurm_lab_agent_conf() {
    local dir=$1 site=$2
    cat >"$dir/agents/$site.conf" <<CONF
[agent]
site = $site
broker = $FED_AGENT_EP
broker_public_key = ../keys/broker.pub
secret_key = ../keys/$site.key
backend = slurm
site_file = $site.site
advertise_interval = 1s
metrics_listen = 127.0.0.1:0
jobs_dir = $site-jobs

job_helper = $(fed_jobhelper)
$([[ -n ${SLURM_LAB_AGENT_USER:-} ]] && echo "job_users_group = aifed-users")
$([[ -z ${SLURM_LAB_AGENT_USER:-} && $(id -u) -eq 0 ]] && echo "lab = the Slurm lab (deploy/slurmlab.sh), as root")

[slurm]
conf = $SLURM_CONF
user_map = users.map
CONF
    cat >>"$dir/agents/$site.conf"
}

# slurm_lab_start_agent DIR SITE : start it, logging to DIR/logs; as
# SLURM_LAB_AGENT_USER when slurm_lab_agent_account made one.
slurm_lab_start_agent() {
    local dir=$1 site=$2 as=()
    [[ -n ${SLURM_LAB_AGENT_USER:-} ]] &&
        as=(setpriv --reuid="$SLURM_LAB_AGENT_USER" --regid="$SLURM_LAB_AGENT_USER" --init-groups --)
    "${as[@]}" "$FED_AGENT_BIN" -f -c "$dir/agents/$site.conf" >>"$dir/logs/agent-$site.log" 2>&1 &
    echo $! >"$dir/agents/$site.pid"
}

# slurm_lab_agent_account NAME : NAME made as debian/aifed-agent.postinst
# makes it, group aifed-users (the shipped rule's; slurm_lab_user puts the
# job's user in it), and deploy/slurm/sudoers installed with its helper
# path and account name this build's. 0 or 1.
SLURM_LAB_AGENT_USER=
SLURM_LAB_SUDOERS=
slurm_lab_agent_account() {
    local name=$1 helper rule
    getent passwd "$name" >/dev/null ||
        adduser --quiet --system --group --home "/var/lib/$name" "$name" >/dev/null 2>&1 ||
        getent passwd "$name" >/dev/null || return 1
    getent group aifed-users >/dev/null || groupadd aifed-users 2>/dev/null ||
        getent group aifed-users >/dev/null || return 1
    helper=$(fed_jobhelper) || return 1
    # A lab that was killed leaves its rule: one whose shell is gone goes.
    for rule in /etc/sudoers.d/aifed-lab-*; do
        [[ -e $rule ]] && ! kill -0 "${rule##*-}" 2>/dev/null && rm -f "$rule"
    done
    rule=/etc/sudoers.d/aifed-lab-$$
    # Its aliases renamed: sudo refuses every rule when two files define
    # one alias (the package's own file may be installed beside it).
    sed -e "s|/usr/libexec/aifed/aifed-jobhelper|$helper|" -e "s|^aifed-agent ALL|$name ALL|" \
        -e "s|AIFED_AGENT_USERS|AIFED_LAB_USERS_$$|g" -e "s|AIFED_JOBHELPER|AIFED_LAB_HELPER_$$|g" \
        "$(dirname "${BASH_SOURCE[0]}")/slurm/sudoers" >"$rule.tmp" &&
        chmod 0440 "$rule.tmp" && visudo -cqf "$rule.tmp" && mv "$rule.tmp" "$rule" ||
        { rm -f "$rule.tmp"; return 1; }
    SLURM_LAB_SUDOERS=$rule
    SLURM_LAB_AGENT_USER=$name
}

# slurm_lab_user NAME : create the local user NAME, its home in a directory
# of its own under /tmp (a job's user cannot enter the test's 0700 dirs);
# SLURM_LAB_HOME is that home. slurm_lab_stop removes both. 0 or 1.
SLURM_LAB_USER=
slurm_lab_user() {
    local name=$1 base
    base=$(mktemp -d /tmp/aifed-home.XXXXXX) && chmod 755 "$base" || return 1
    useradd -M -d "$base/$name" -s /bin/sh "$name" || { rm -rf "$base"; return 1; }
    SLURM_LAB_USER=$name
    SLURM_LAB_HOME=$base/$name
    if getent group aifed-users >/dev/null; then usermod -a -G aifed-users "$name" || return 1; fi
    mkdir -p "$SLURM_LAB_HOME" && chown "$name:" "$SLURM_LAB_HOME" && chmod 700 "$SLURM_LAB_HOME"
}

# slurm_lab_ctld_stop / _cont DIR : make slurmctld hang (SIGSTOP: it
# accepts connections and never answers) and bring it back.
slurm_lab_ctld_stop() {
    local dir=$1 pid
    pid=$(cat "$dir/slurmctld.pid" 2>/dev/null) || return 1
    kill -STOP "$pid"
}
slurm_lab_ctld_cont() {
    local dir=$1
    kill -CONT "$(cat "$dir/slurmctld.pid")"
}

# slurm_lab_keep DIR : the user (the daemons' pid files are there already).
slurm_lab_keep() {
    [[ -z $SLURM_LAB_USER ]] || printf '%s %s\n' "$SLURM_LAB_USER" "$SLURM_LAB_HOME" >"$1/user"
    [[ -z $SLURM_LAB_SUDOERS ]] || echo "$SLURM_LAB_SUDOERS" >"$1/sudoers"
}

# slurm_lab_adopt DIR : take over the lab in DIR that another shell started.
slurm_lab_adopt() {
    local dir=$1 f
    export SLURM_CONF=$dir/slurm.conf
    SLURM_LAB_PIDS=()
    for f in munged slurmctld slurmd; do
        [[ -s $dir/$f.pid ]] && SLURM_LAB_PIDS+=("$(cat "$dir/$f.pid")")
    done
    [[ -s $dir/user ]] && read -r SLURM_LAB_USER SLURM_LAB_HOME <"$dir/user"
    [[ -s $dir/sudoers ]] && read -r SLURM_LAB_SUDOERS <"$dir/sudoers"
    return 0
}

# Safe under set -e (demo.sh): nothing here may end the caller.
slurm_lab_stop() {
    local p i
    scancel --full --quiet --user=root 2>/dev/null || true
    for p in "${SLURM_LAB_PIDS[@]}"; do
        kill -CONT "$p" 2>/dev/null || true
        kill -TERM "$p" 2>/dev/null || true
    done
    for ((i = 0; i < 50; i++)); do
        local alive=0
        for p in "${SLURM_LAB_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for p in "${SLURM_LAB_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    SLURM_LAB_PIDS=()
    [[ -z $SLURM_LAB_SUDOERS ]] || rm -f "$SLURM_LAB_SUDOERS"
    SLURM_LAB_SUDOERS=
    if [[ -n $SLURM_LAB_USER ]]; then
        userdel "$SLURM_LAB_USER" 2>/dev/null || true
        rm -rf "$(dirname "$SLURM_LAB_HOME")"
        SLURM_LAB_USER=
    fi
}
