#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Task files: every field reads as its flag would, a flag given as well wins,
# each kind of error names the file, line, column and field, and submit and
# explain take a task file against the demo federation.
. "$(dirname "$0")/lib.sh"

EX=$SRC/deploy/examples
task() { "$FED_CTL_BIN" task check "$@"; }
# err FILE: the error task check prints for a task with this text.
err() { printf '%s' "$1" >"$T/t.yaml"; task "$T/t.yaml" 2>&1 >/dev/null | head -n 1; }

j=$(task "$EX/finetune.yaml" --json)
check "the example reads: 8 x H100 of 80 GB for 4h" \
    test "$(jq -c '.workload | [.gpus, .accelerator, .gpu_memory_gb, .walltime_s]' <<<"$j")" = '[8,"H100",80,14400]'
check "eu: true is the 27 member states" test "$(jq '.workload.countries | length' <<<"$j")" -eq 27
check "datasets and models are data with their kind and size" \
    test "$(jq -c '[.workload.data[] | [.kind, .name, .size_bytes]]' <<<"$j")" = \
    '[["dataset","industrial-vision",0],["model","llama-3-8b",16000000000]]'
check "env, run and files are kept for the job" \
    test "$(jq -c '[.env.EPOCHS, (.run | startswith("python train.py")), [.files[].name]]' <<<"$j")" = \
    '["3",true,["train.py","requirements.txt"]]'
check "a flag overrides the file's field" \
    test "$(task "$EX/finetune.yaml" --gpus 2 --walltime 30m --json | jq -c '.workload | [.gpus, .walltime_s]')" = '[2,1800]'
check "the smallest example reads too" quiet task "$EX/hello.yaml"

# Each kind of error: file:line:column, the field, and the words of its flag.
check "bad YAML names line and column" \
    grep -q "^aifedctl task: $T/t.yaml:2:[0-9]*: " <<<"$(err $'name: a\n  bad: [1')"
out=$(err $'project: llm-eu\nresource:\n  gpus: 1\n')
check "an unknown field is named, with the known ones ($out)" \
    test "$out" = "aifedctl task: $T/t.yaml:2:1: unknown field 'resource' (known: name, project, resources, placement, datasets, models, images, image, env, secrets, setup, run, files, service)"
out=$(err $'project: llm-eu\nresources:\n  gpus: 0\n')
check "a bad count says what --gpus says ($out)" \
    test "$out" = "aifedctl task: $T/t.yaml:3:9: resources.gpus: '0' is not a count of 1 or more"
out=$(err $'project: llm-eu\nresources:\n  gpu: 1\n')
check "an unknown resource is named ($out)" grep -q "3:3: resources: unknown field 'gpu' (known: accelerators, gpus," <<<"$out"
out=$(err $'project: llm-eu\nresources:\n  accelerators: "H 100:8"\n')
check "a bad accelerator ($out)" grep -q "3:17: resources.accelerators: 'H 100' is not an accelerator model" <<<"$out"
out=$(err $'project: llm-eu\nplacement:\n  country: [LU, Germany]\n')
check "a bad country ($out)" grep -q "3:17: placement.country: 'Germany' is not a list like LU,DE" <<<"$out"
out=$(err $'project: llm-eu\nplacement:\n  eu: maybe\n')
check "a bad boolean ($out)" grep -q "3:7: placement.eu: must be true or false" <<<"$out"
out=$(err $'project: llm-eu\nresources: {gpus: 1}\nfiles:\n  ../escape.py: x.py\n')
check "a file may not escape the job's directory ($out)" grep -q "4:3: files: '../escape.py' is not a name in the job's directory" <<<"$out"
out=$(err $'project: llm-eu\nresources: {gpus: 1}\nfiles:\n  a.py: missing.py\n')
check "a file that is not there ($out)" grep -q "4:9: files: $T/missing.py: No such file or directory" <<<"$out"
out=$(err $'project: llm-eu\nresources: {gpus: 1}\nenv:\n  1BAD: x\n')
check "a bad variable name ($out)" grep -q "4:3: env: '1BAD' is not a variable name" <<<"$out"
out=$(err $'project: llm-eu\nresources: {gpus: 1}\nrun: [a, b]\n')
check "run must be text ($out)" grep -q "3:6: run: must be a single value" <<<"$out"
out=$(err $'- a\n- b\n')
check "a task is a mapping ($out)" grep -q "1:1: a task is a mapping of fields" <<<"$out"
out=$(err $'resources: {gpus: 1}\n')
check "a task without a project says how to give one ($out)" \
    test "$out" = "aifedctl task: --project (or a task file's project) is required"
head -c 300000 /dev/zero | tr '\0' '#' >"$T/big.yaml"
out=$(task "$T/big.yaml" 2>&1 | head -n 1)
check "a task file over 256 KiB is refused ($out)" grep -q "at most 262144" <<<"$out"
for i in $(seq 1 17); do echo "x" >"$T/f$i"; done
{ printf 'project: llm-eu\nresources: {gpus: 1}\nfiles:\n'; for i in $(seq 1 17); do printf '  f%d: f%d\n' "$i" "$i"; done; } >"$T/many.yaml"
out=$(task "$T/many.yaml" 2>&1 | head -n 1)
check "at most 16 files ($out)" grep -q "20:3: files: at most 16 files" <<<"$out"

# Against the demo federation: explain and submit read the task.
start_federation meluxina pharos mimer || exit 1
ex=$(fed_ctl "$T" alice --json explain --task "$EX/hello.yaml")
check "explain --task places the task" test "$(jq '[.[] | select(.verdict == "chosen")] | length' <<<"$ex")" -eq 1
l=$(fed_ctl "$T" alice --json submit --task "$EX/hello.yaml" --walltime 5m)
check "submit --task is granted, for the task's project, with the flag's walltime" \
    test "$(jq -r '[.state, .project, .walltime_s] | map(tostring) | join(" ")' <<<"$l")" = "ACTIVE llm-eu 300"
