#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The aifed demo: a federation of the first seven EuroHPC AI Factories on this
# machine (loopback only, throwaway keys). Installs what is missing, builds,
# starts the broker, seven agents and a gateway, publishes the templates,
# places five workloads that land on five different sites for visible
# reasons, runs a task end to end, serves a model at two sites and calls it
# through the gateway with a key (and again after one site fails), shows the
# sites and leases, and stops everything cleanly. MeluXina-AI runs on a real
# local Slurm (slurmctld and slurmd, 4 fake A100s) when this runs as root,
# its agent as a site runs it (the package's account, not root, and the
# shipped sudoers rule); otherwise, or if that Slurm cannot start, it says so
# and MeluXina-AI is a static site like the others. The other sites run their
# jobs themselves (demo_jobs) as the account aifed-demo. Capacities are
# illustrative.
#
#   deploy/demo.sh            run it and stop
#   deploy/demo.sh --keep     leave it running and print how to use it
#   deploy/demo.sh --stop     stop a demo left running with --keep
set -euo pipefail

usage() {
    sed -n '4,20p' "$0" | sed 's/^# \{0,1\}//'
}
keep=0 stop=0
for arg in "$@"; do
    case $arg in
    --keep) keep=1 ;;
    --stop) stop=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "demo.sh: unknown option $arg" >&2; usage >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
top=$PWD
demo=$top/.demo
export AIFED_BUILD=$top/build
sites=(meluxina hammerhai lumi-ai pharos it4lia bsc mimer)

step() {
    if [[ -t 1 ]]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi
}

# demo_slurm_stop : stop the demo's Slurm and remove its user, if it has one
# (slurmlab.sh takes over the daemons another shell started).
demo_slurm_stop() {
    [[ -d $demo/slurm ]] || return 0
    # shellcheck source=slurmlab.sh
    . deploy/slurmlab.sh
    slurm_lab_adopt "$demo/slurm"
    slurm_lab_stop
}

if ((stop)); then
    # shellcheck source=fedlib.sh
    . deploy/fedlib.sh
    fed_stop "$demo"
    demo_slurm_stop
    echo "demo stopped"
    exit 0
fi

step "Installing what is missing and building"
deploy/install-deps.sh
[[ -f build/build.ninja ]] || meson setup build >/dev/null
ninja -C build >/dev/null
# shellcheck source=fedlib.sh
. deploy/fedlib.sh

[[ -d $demo ]] && { fed_stop "$demo"; demo_slurm_stop; } 2>/dev/null || true
rm -rf "$demo"
FED_INTERVAL=1s
trap '((keep)) || { fed_stop "$demo"; demo_slurm_stop; }' EXIT

# demo_slurm : start a one-node Slurm for MeluXina-AI in .demo/slurm, and a
# local user (aifeddemo) for alice's jobs there. Its agent runs as a site
# runs it: as the package's account (aifed-agent, made as the package makes
# it), with the shipped sudoers rule. 0, or 1 with why said.
demo_slurm() {
    local why= c
    ((EUID == 0)) || why="slurmd must run as root"
    for c in slurmctld slurmd munged mungekey sinfo useradd; do
        [[ -n $why ]] || command -v "$c" >/dev/null || why="$c is missing"
    done
    if [[ -z $why ]]; then
        # shellcheck source=slurmlab.sh
        . deploy/slurmlab.sh
        export SLURM_LAB_SLURMUSER=aifed-agent
        if ! slurm_lab_agent_account aifed-agent; then
            why="cannot make the agent's account aifed-agent and its sudoers rule"
        elif ! slurm_lab_start "$demo/slurm" 4; then
            why="Slurm did not start: $(tail -q -n 2 "$demo"/slurm/*.log 2>/dev/null | tr '\n' ' ')"
        elif ! { userdel aifeddemo 2>/dev/null; slurm_lab_user aifeddemo; }; then
            why="cannot create the local user aifeddemo"
        fi
        slurm_lab_keep "$demo/slurm"
    fi
    [[ -z $why ]] && return 0
    echo "MeluXina-AI cannot run on a real Slurm here ($why): it is a static site like the others"
    return 1
}

# demo_slurm_agent : MeluXina-AI's agent on that Slurm. Only what Slurm does
# not know comes from a site file: the [site] section and the GPUs' names.
demo_slurm_agent() {
    {
        sed -n '/^\[site\]/,/^\[pool/p' deploy/demo/sites/meluxina.site | sed '$d'
        printf '\n[pool:gpu]\naccelerator = A100\ngpu_memory_gb = 40\n'
    } >"$demo/agents/meluxina.site"
    printf '[users]\nalice = aifeddemo\n' >"$demo/agents/users.map"
    slurm_lab_agent_conf "$demo" meluxina </dev/null
    # The agent's account reads its config and key, and keeps its state.
    mkdir -p "$demo/agents/meluxina-jobs"
    chown aifed-agent: "$demo/agents/meluxina."* "$demo/agents/users.map" \
        "$demo/agents/meluxina-jobs" "$demo/keys/meluxina.key"
    slurm_lab_start_agent "$demo" meluxina
}

step "Starting the broker and seven AI Factory agents (keys and state in .demo/)"
slurm=0
demo_slurm && slurm=1
FED_GATEWAYS=gateway fed_init "$demo" "${sites[@]}"
fed_start_broker "$demo"
for s in "${sites[@]}"; do
    if [[ $s == meluxina ]] && ((slurm)); then
        demo_slurm_agent
        echo "MeluXina-AI runs on a real local Slurm: $(sinfo -h -o '%P %D node, %G' | head -n 1)"
        echo "  its agent runs as $(ps -o user= -p "$(cat "$demo/agents/meluxina.pid")"), not root; jobs go through /etc/sudoers.d/$(basename "$SLURM_LAB_SUDOERS")"
    else
        fed_start_agent "$demo" "$s" "deploy/demo/sites/$s.site"
    fi
done
fed_wait_up "$demo" ${#sites[@]}
fed_start_gateway "$demo" gateway
echo "aifed-gateway serves $FED_GATEWAY_URL (a throwaway certificate: $demo/keys/gateway.crt)"
ctl() { fed_ctl "$demo" alice "$@"; }
ctl sites

step "The federation's task templates, published by its admin (ops)"
fed_publish_templates "$demo" deploy/templates/*.yaml
echo "\$ aifedctl templates"
ctl templates

# place WHY ARGS... : explain, then submit, a workload for alice.
place() {
    local why=$1; shift
    step "$why"
    echo "\$ aifedctl explain $*"
    ctl explain "$@"
    echo
    echo "\$ aifedctl submit $*"
    ctl submit "$@" 2>/dev/null | sed -n '1,5p'
}
place "A Finnish NLP lab wants 32 AMD MI250X GPUs: only LUMI-AI has that model" \
    --project llm-eu --gpus 32 --accelerator MI250X --walltime 2h
place "A Luxembourg fintech's data must stay in Luxembourg" \
    --project vision-sme --gpus 4 --country LU --walltime 4h
place "An SME fine-tunes on 16 H100 80GB for 12h: MIMER starts soonest and emits least" \
    --project llm-eu --gpus 16 --accelerator H100 --gpu-memory 80 --walltime 12h
place "The same job on a tight budget (--prefer cost): Pharos is cheapest per GPU-hour" \
    --project vision-sme --gpus 16 --accelerator H100 --gpu-memory 80 --walltime 12h \
    --prefer cost
place "A research group needs A100s with 64 GB each: MeluXina-AI's have 40 GB" \
    --project vision-sme --gpus 16 --accelerator A100 --gpu-memory 64 --walltime 8h

step "Nobody has B200s: the refusal names the models the federation has"
echo "\$ aifedctl submit --project llm-eu --gpus 8 --accelerator B200"
ctl submit --project llm-eu --gpus 8 --accelerator B200 2>&1 | tail -n 1 || true

step "Nobody has 4,000 H100s free: the refusal says why, and the explanation is kept"
echo "\$ aifedctl submit --project llm-eu --gpus 4000 --accelerator H100 --request-id want-4000"
ctl submit --project llm-eu --gpus 4000 --accelerator H100 --request-id want-4000 2>&1 |
    tail -n 1 || true
echo "\$ aifedctl request show want-4000"
ctl request show want-4000 | head -n 6

step "What the AI Factories offer: models, images, templates, and every GPU model"
echo "\$ aifedctl catalog models"
ctl catalog models
echo "\$ aifedctl gpus"
ctl gpus

step "A task file, run end to end: leased, started, followed to its end, released"
echo "\$ aifedctl run deploy/examples/hello.yaml"
ctl run deploy/examples/hello.yaml 2>&1 || true
if ((slurm)); then
    step "The same task at MeluXina-AI, on its Slurm: sbatch in the lease's reservation, as the user's own account"
    # Slurm 22.05 reserves whole nodes: the fintech's lease holds the one node.
    for l in $(ctl leases --site meluxina --state active --json | jq -r '.[].id'); do
        echo "\$ aifedctl lease release $l   # the fintech is done: its node goes back"
        ctl lease release "$l" | sed -n '2p'
    done
    echo "# the GPUs count as held until Slurm has deleted the reservation (seconds)"
    for ((i = 0; i < 100; i++)); do
        [[ $(ctl sites --json | jq '.[] | select(.id == "meluxina") | .pools[0].gpus_available') -gt 0 ]] && break
        sleep 0.2
    done
    echo "\$ aifedctl run --country LU deploy/examples/hello.yaml"
    ctl run --country LU deploy/examples/hello.yaml 2>&1 || true
fi

step "A model served at two sites, called through the gateway with a key"
# A small OpenAI-compatible server stands in for vLLM (no GPUs here): two
# replicas, placed at two sites, probed until LIVE.
cat >"$demo/tiny.yaml" <<TASK
name: tiny-llm
project: llm-eu
resources: {gpus: 1, walltime: 2h}
files: {server.py: $top/tests/integration/replica/server.py}
run: exec python3 server.py "\$AIFED_PORT" "\$AIFED_JOB_ID" tiny-llm
service:
  readiness_probe: {path: /v1/models, timeout_seconds: 2}
  replicas: 2
TASK
echo "\$ aifedctl serve tiny.yaml"
ctl serve "$demo/tiny.yaml" 2>/dev/null | head -n 4
for ((i = 0; i < 120; i++)); do
    [[ $(ctl --json endpoint show tiny-llm | jq '[.replicas[] | select(.state == "LIVE")] | length') == 2 ]] && break
    sleep 0.5
done
ctl endpoint show tiny-llm | tail -n 3
echo "\$ aifedctl endpoint key create --project llm-eu --name demo"
key=$(ctl --json endpoint key create --project llm-eu --name demo | jq -r .key)
echo "${key:0:24}... (shown once)"
ask() {
    curl -s --cacert "$demo/keys/gateway.crt" -D "$demo/head" -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/json' \
        -d '{"model":"tiny-llm","messages":[{"role":"user","content":"hi"}]}' \
        "$FED_GATEWAY_URL/e/tiny-llm/v1/chat/completions" | jq -r '.choices[0].message.content // .detail'
    printf '  (answered at %s)\n' "$(tr -d '\r' <"$demo/head" | sed -n 's/^X-Aifed-Site: //Ip')"
}
echo "\$ curl -H 'Authorization: Bearer KEY' $FED_GATEWAY_URL/e/tiny-llm/v1/chat/completions"
ask
ask
victim=$(ctl --json endpoint show tiny-llm | jq -r '.replicas[0].site')
step "One site fails ($victim's agent is killed): the other answers, a replacement is placed"
kill -9 "$(cat "$demo/agents/$victim.pid")" && rm -f "$demo/agents/$victim.pid"
sleep 3
ask
ask
for ((i = 0; i < 120; i++)); do
    [[ $(ctl --json endpoint show tiny-llm | jq --arg v "$victim" '[.replicas[] | select(.state == "LIVE" and .site != $v)] | length') == 2 ]] && break
    sleep 0.5
done
ctl endpoint show tiny-llm | tail -n 3

step "The federation now"
ctl sites
echo
ctl leases

if ((keep)); then
    step "The demo keeps running. Use it as user alice:"
    cat <<EOF2
export AIFED_BROKER=$FED_CLIENT_EP
export AIFED_BROKER_KEY=$demo/keys/broker.pub
export AIFED_KEY=$demo/keys/alice.key
$AIFED_BUILD/ctl/aifedctl sites
$AIFED_BUILD/ctl/aifedctl submit --project llm-eu --gpus 4 --accelerator H100
(admin: AIFED_KEY=$demo/keys/ops.key; logs in $demo/logs)
$( ((slurm)) && echo "MeluXina-AI's Slurm: export SLURM_CONF=$demo/slurm/slurm.conf; squeue; scontrol show reservation")
Stop it with: deploy/demo.sh --stop
EOF2
else
    step "Stopping everything cleanly"
    fed_stop "$demo"
    demo_slurm_stop
    trap - EXIT
    echo "done: the broker and agents stopped; the leases are on disk in .demo/state"
fi
