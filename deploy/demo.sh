#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The aifed demo: a federation of the first seven EuroHPC AI Factories on this
# machine (loopback only, throwaway keys). Installs what is missing, builds,
# starts the broker and seven agents, places five workloads that land on five
# different sites for visible reasons, shows the sites and leases, and stops
# everything cleanly. Capacities are illustrative, not the sites' real ones.
#
#   deploy/demo.sh            run it and stop
#   deploy/demo.sh --keep     leave it running and print how to use it
#   deploy/demo.sh --stop     stop a demo left running with --keep
set -euo pipefail

usage() {
    sed -n '4,13p' "$0" | sed 's/^# \{0,1\}//'
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

if ((stop)); then
    # shellcheck source=fedlib.sh
    . deploy/fedlib.sh
    fed_stop "$demo"
    echo "demo stopped"
    exit 0
fi

step "Installing what is missing and building"
deploy/install-deps.sh
[[ -f build/build.ninja ]] || meson setup build >/dev/null
ninja -C build >/dev/null
# shellcheck source=fedlib.sh
. deploy/fedlib.sh

[[ -d $demo ]] && fed_stop "$demo" 2>/dev/null || true
rm -rf "$demo"
FED_INTERVAL=1s
trap '((keep)) || fed_stop "$demo"' EXIT

step "Starting the broker and seven AI Factory agents (keys and state in .demo/)"
fed_init "$demo" "${sites[@]}"
fed_start_broker "$demo"
for s in "${sites[@]}"; do
    fed_start_agent "$demo" "$s" "deploy/demo/sites/$s.site"
done
fed_wait_up "$demo" ${#sites[@]}
ctl() { fed_ctl "$demo" alice "$@"; }
ctl sites

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
    --project vision-sme --gpus 8 --country LU --walltime 4h
place "An SME fine-tunes on 16 H100 80GB for 12h: MIMER starts soonest and emits least" \
    --project llm-eu --gpus 16 --accelerator H100 --gpu-memory 80 --walltime 12h
place "The same job on a tight budget (--prefer cost): Pharos is cheapest per GPU-hour" \
    --project vision-sme --gpus 16 --accelerator H100 --gpu-memory 80 --walltime 12h \
    --prefer cost
place "A research group needs A100s with 64 GB each: MeluXina-AI's have 40 GB" \
    --project vision-sme --gpus 16 --accelerator A100 --gpu-memory 64 --walltime 8h

step "Nobody has B200s: the refusal says why, and the explanation is kept"
echo "\$ aifedctl submit --project llm-eu --gpus 8 --accelerator B200 --request-id want-b200"
ctl submit --project llm-eu --gpus 8 --accelerator B200 --request-id want-b200 2>&1 |
    tail -n 1 || true
echo "\$ aifedctl request show want-b200"
ctl request show want-b200 | head -n 6

step "A task file, run end to end: leased, started, followed to its end, released"
echo "\$ aifedctl run deploy/examples/hello.yaml"
out=$(ctl run deploy/examples/hello.yaml 2>&1) || true
echo "$out"
job=$(grep -o 'job-[0-9a-f]*' <<<"$out" | head -n 1)
if [[ -n $job ]]; then
    echo "# what it wrote (the demo executor runs it on the agent's machine):"
    cat "$demo"/agents/*-jobs/"$job"/output.log 2>/dev/null | sed 's/^/  /'
fi

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
Stop it with: deploy/demo.sh --stop
EOF2
else
    step "Stopping everything cleanly"
    fed_stop "$demo"
    trap - EXIT
    echo "done: the broker and agents stopped; the leases are on disk in .demo/state"
fi
