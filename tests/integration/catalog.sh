#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The AI Factories' catalogue: sites publish models, data sets, images and
# templates in their site files; catalog and gpus show them per site
# (tables and JSON); a site's SIGHUP adds and removes one; an admin adds a
# federation template; a template expands, is checked (types, allowed
# values, catalogue names, with the nearest known) and runs on the static
# backend where its model is, with the site's path for it.
. "$(dirname "$0")/lib.sh"

fed_init "$T" meluxina mimer lumi-ai || exit 1
fed_start_broker "$T" || exit 1
# mimer's file is a copy, to change and reload; the others are the demo's.
sed "s|^file = \.\./\.\./templates/|file = $SRC/deploy/templates/|" "$SITES_DIR/meluxina.site" >"$T/meluxina.site"
cp "$SITES_DIR/mimer.site" "$T/mimer.site"
fed_start_agent "$T" meluxina "$T/meluxina.site"
fed_start_agent "$T" mimer "$T/mimer.site"
fed_start_agent "$T" lumi-ai "$SITES_DIR/lumi-ai.site"
fed_wait_up "$T" 3 || exit 1

cat_json() { ctlj alice catalog "$@"; }
entry() { jq -c --arg n "$1" '[.entries[] | select(.name == $n) | {version, sites: [.sites[].site], paths: [.sites[].path]}]'; }

out=$(cat_json)
check "a model two sites hold is one entry, with both sites and each site's path" \
    test "$(entry llama-3-8b <<<"$out")" = '[{"version":"3.1","sites":["meluxina","mimer"],"paths":["/mnt/tier2/models/llama-3.1-8b","/proj/models/llama-3.1-8b"]}]'
check "an image in two versions is two entries" \
    test "$(entry pytorch-24.05 <<<"$out" | jq -r '[.[].version] | join(",")')" = "24.05-py3,rocm6.1-24.05"
check "... and a site's template is listed with its site" \
    test "$(jq -r '.templates[] | select(.name == "lora-finetune") | .site' <<<"$out")" = meluxina
out=$(ctl alice catalog models)
check "catalog models: one line per model, with size, licence and sites" \
    grep -qE '^model +llama-3-8b +3\.1 +16\.0 GB +llama3\.1 +meluxina,mimer$' <<<"$out"
check "... and nothing else" test "$(grep -c '^model' <<<"$out")" = "$(grep -c '' <<<"$out" | awk '{print $1 - 1}')"
out=$(ctl alice catalog datasets --site lumi-ai -o name,needs,access)
check "catalog datasets --site: the site's, with what a workload must hold and the access rule" \
    grep -qE '^finnish-health-records +health-data +approved research projects only' <<<"$out"
check "catalog --search: a word, without regard to case" \
    test "$(cat_json --search VLLM | jq -r '[.entries[].name] | join(",")')" = vllm-0.6
out=$(ctl alice catalog gadgets 2>&1); rc=$?
check "catalog of an unknown kind is bad usage" test "$rc" = 2

# gpus: every model per site, as sky show-gpus shows them.
out=$(ctlj alice gpus)
check "gpus: each model at each site, with price and carbon per GPU-hour" \
    test "$(jq -c '[.[] | [.accelerator, .site, .eur_per_gpu_hour, .g_co2_per_gpu_hour]]' <<<"$out")" = \
    '[["MI250X","lumi-ai",1.8,21],["A100","meluxina",2.5,105],["H100","mimer",2.6,28]]'
out=$(ctl alice gpus --accelerator h100)
check "gpus --accelerator: that model alone (any case)" test "$(grep -c ' mimer ' <<<"$out"):$(grep -c 'meluxina' <<<"$out")" = "1:0"
out=$(ctl alice gpus --accelerator H200 2>&1); rc=$?
check "gpus --accelerator of a model no site has: the known ones" \
    test "$rc:$(tail -n 1 <<<"$out")" = "1:aifedctl: no site offers accelerator H200; known: H100, A100, MI250X"

# A site's SIGHUP adds an entry, and another takes it away.
printf '\n[model:mistral-7b]\nsize = 15GB\nlicence = Apache-2.0\npath = /proj/models/mistral-7b\n' >>"$T/mimer.site"
kill -HUP "$(cat "$T/agents/mimer.pid")"
wait_for "a model added to a site file is in the catalogue after SIGHUP" 15 \
    '[[ $(cat_json models --search mistral | jq -r ".entries[0].sites[0].site") == mimer ]]'
cp "$SITES_DIR/mimer.site" "$T/mimer.site"
kill -HUP "$(cat "$T/agents/mimer.pid")"
wait_for "... and gone after the next" 15 '[[ $(cat_json --search mistral | jq ".entries | length") == 0 ]]'

# Federation templates: admins add, list and remove them; each is checked.
out=$(ctl alice admin template add "$SRC/deploy/templates/jupyter.yaml" 2>&1); rc=$?
check "a user may not add a template" test "$rc" -ne 0 -a -n "$(grep -F 'only admins' <<<"$out")"
check "an admin adds one" quiet ctl ops admin template add "$SRC/deploy/templates/jupyter.yaml"
printf 'template: broken\ntask: {name: "{{nope}}"}\n' >"$T/broken.yaml"
out=$(ctl ops admin template add "$T/broken.yaml" 2>&1); rc=$?
check "... and a broken one is refused, saying why" \
    test "$rc:$out" = "1:aifedctl: $T/broken.yaml: line 2: {{nope}} is not one of the parameters"
out=$(ctlj alice templates)
check "templates lists the federation's and the sites'" \
    test "$(jq -r '[.templates[] | .name + "@" + .site] | join(",")' <<<"$out")" = "jupyter@federation,lora-finetune@meluxina"
check "the change is in the audit log" \
    grep -q "template set *added by admin:ops" <<<"$(ctl ops admin audit -o change,detail)"
out=$(ctl alice template show jupyter)
check "template show gives each parameter's type, default and help" \
    grep -qE '^  gpus +int +default 1$' <<<"$out"
check "... and the task it makes, with a stand-in for what must be set" \
    test "$(grep -cE '^(name: jupyter|project: <project>)$' <<<"$out")" = 2
check "an admin removes it" quiet ctl ops admin template remove jupyter
out=$(ctl ops admin template remove jupyter 2>&1); rc=$?
check "... and a second removal is not found" test "$rc:$out" = "1:aifedctl: no federation template jupyter"

# run --template: every value checked before anything is asked for.
tpl() { ctl alice run --template lora-finetune --set project=llm-eu "$@" 2>&1; }
out=$(tpl --set gpus=four); rc=$?
check "a bad value names the parameter (exit 2)" \
    test "$rc:$out" = "2:aifedctl run: template lora-finetune: gpus: 'four' is not a whole number"
out=$(tpl --set epoch=3); rc=$?
check "an unknown parameter is named" \
    test "$rc:$out" = "2:aifedctl run: template lora-finetune: epoch: the template has no such parameter"
out=$(tpl --set precision=fp8); rc=$?
check "a value outside the allowed ones says which are" \
    test "$rc:$out" = "2:aifedctl run: template lora-finetune: precision: 'fp8' is not one of bf16, fp16"
out=$(tpl --set model=llama-4); rc=$?
check "a model no site holds is refused with the nearest known" \
    test "$rc:$out" = "2:aifedctl run: model: no site offers model llama-4; known: llama-3-8b, llama3-70b"
out=$(ctl alice run --template lora-finetune 2>&1); rc=$?
check "a required parameter left out says how to set it" \
    grep -qF "project: required (string, the project whose GPU-hours it uses): --set project=VALUE" <<<"$out"
out=$(tpl --dry-run --set epochs=5)
check "--dry-run prints the task file it makes" \
    test "$(grep -cE '^(name: lora-llama-3-8b|models: \[llama-3-8b\]|  EPOCHS: 5)$' <<<"$out")" = 3


# A template whose job needs a model runs where the model is, and finds it
# at the site's path.
cat >"$T/where.yaml" <<'YAML'
template: where
description: says where the model is
parameters:
  model: {type: model, default: llama-3-8b}
task:
  name: where
  project: llm-eu
  resources: {gpus: 1, walltime: 10m}
  placement: {prefer: local}
  models: ["{{model}}"]
  run: |
    echo "{{model}} is at $AIFED_MODEL_PATH"
YAML
quiet ctl ops admin template add "$T/where.yaml"
ex=$(ctlj alice explain --project llm-eu --gpus 1 --model llama-3-8b --prefer local)
check "explain: a site that holds the model says so" \
    grep -q "holds llama-3-8b (16.0 GB); moves nothing$" <<<"$(jq -r '.[] | select(.site == "mimer") | .reason' <<<"$ex")"
check "... and one that does not, what would move" \
    grep -q "holds none of it; moves 16.0 GB$" <<<"$(jq -r '.[] | select(.site == "lumi-ai") | .reason' <<<"$ex")"
out=$(ctl alice run --template where 2>&1); rc=$?
site=$(grep -o 'at [a-z-]*$' <<<"$(grep 'queued in lease' <<<"$out")" | cut -d' ' -f2)
check "the templated job runs (exit 0) at a site that holds the model" \
    test "$rc" = 0 -a \( "$site" = meluxina -o "$site" = mimer \)
path=$(cat_json models | jq -r --arg s "$site" '.entries[] | select(.name == "llama-3-8b") | .sites[] | select(.site == $s) | .path')
check "... and finds it at that site's path" grep -qx "llama-3-8b is at $path" <<<"$out"

# Limits: a site file's templates are bounded in number and size.
for i in $(seq 1 17); do printf '\n[template:t%d]\nfile = %s\n' "$i" "$SRC/deploy/templates/jupyter.yaml"; done >"$T/many.site"
cat "$SITES_DIR/mimer.site" "$T/many.site" >"$T/mimer-many.site"
sed "s|^site_file = .*|site_file = $T/mimer-many.site|" "$T/agents/mimer.conf" >"$T/many.conf"
out=$("$FED_AGENT_BIN" -n -c "$T/many.conf" 2>&1); rc=$?
check "a site file with more than 16 templates is refused, saying so" \
    test "$rc" -ne 0 -a -n "$(grep -F "more than 16 templates" <<<"$out")"
head -c 20000 /dev/zero | tr '\0' '#' >"$T/huge.yaml"
printf '[site]\nid = mimer\ncountry = SE\n[pool:gpu]\naccelerator = H100\ngpus_per_node = 8\nnodes = 1\n[template:huge]\nfile = %s\n' "$T/huge.yaml" >"$T/huge.site"
sed "s|^site_file = .*|site_file = $T/huge.site|" "$T/agents/mimer.conf" >"$T/huge.conf"
out=$("$FED_AGENT_BIN" -n -c "$T/huge.conf" 2>&1); rc=$?
check "... and one longer than 16 KiB" test "$rc" -ne 0 -a -n "$(grep -F "longer than 16384 bytes" <<<"$out")"

# A site's template runs only at its site, and a name two sites offer is
# never settled by their order (before: the first site's in id order ran, at
# whatever site its placement named, as the user).
cat >"$T/hostile.yaml" <<'YAML'
template: lora-finetune
description: mimer's own lora-finetune, which asks to run at lumi-ai
task:
  name: hostile
  project: llm-eu
  resources: {gpus: 1, walltime: 10m}
  placement: {site: [lumi-ai]}
  run: echo "the hostile template ran"
YAML
printf '\n[template:lora-finetune]\nfile = %s\n' "$T/hostile.yaml" >>"$T/mimer.site"
kill -HUP "$(cat "$T/agents/mimer.pid")"
wait_for "mimer offers a lora-finetune of its own" 10 \
    'test "$(cat_json templates | jq -r "[.templates[] | select(.name == \"lora-finetune\") | .site] | sort | join(\",\")")" = meluxina,mimer'
out=$(ctl alice run --template lora-finetune --set project=llm-eu 2>&1); rc=$?
check "a template name two sites offer is refused, naming how to ask for each" \
    grep -q "template lora-finetune is offered by 2 sites, each its own: ask for one of meluxina/lora-finetune, mimer/lora-finetune" <<<"$out"
out=$(ctl alice run --template mimer/lora-finetune --site lumi-ai 2>&1); rc=$?
check "... a site's template with --site elsewhere is refused" \
    test "$rc:$out" = "2:aifedctl run: template mimer/lora-finetune is site mimer's and runs only there: leave out --site"
out=$(ctl alice run --template mimer/lora-finetune 2>&1); rc=$?
check "SITE/NAME runs that site's template, saying whose it is" \
    grep -qx "aifedctl run: template mimer/lora-finetune is site mimer's: it runs only there" <<<"$out"
check "... at that site, not where its placement asked" \
    test "$rc:$(grep -o 'queued in lease [^ ]* at [a-z-]*' <<<"$out" | awk '{print $NF}')" = 0:mimer
check "... and its run ran" grep -qx "the hostile template ran" <<<"$out"

# Anchors and aliases: a cycle crashed aifedctl, a 600-byte alias bomb hung
# it; now both are refused before anything is loaded, at the broker too.
printf 'template: cyc\ntask: &t {name: x, loop: *t}\n' >"$T/cycle.yaml"
out=$(timeout 10 "$FED_CTL_BIN" --broker "$FED_CLIENT_EP" --broker-key "$T/keys/broker.pub" \
    --key "$T/keys/ops.key" admin template add "$T/cycle.yaml" 2>&1); rc=$?
check "an admin's template with an alias cycle is refused, saying why ($rc)" \
    grep -q "an anchor (&t): anchors and aliases are not allowed here" <<<"$out"
{
    echo 'a0: &a0 [x, x, x, x, x, x, x, x, x]'
    for i in 1 2 3 4 5 6 7 8; do
        p=$((i - 1)); echo "a$i: &a$i [*a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p]"
    done
    echo 'name: bomb'
    echo 'project: llm-eu'
    echo 'env: {B: "*a8"}'
    echo 'run: echo $B'
} >"$T/bomb.yaml"
sed -i 's/"\*a8"/*a8/' "$T/bomb.yaml"
out=$(timeout 10 "$FED_CTL_BIN" --broker "$FED_CLIENT_EP" --broker-key "$T/keys/broker.pub" \
    --key "$T/keys/alice.key" run "$T/bomb.yaml" 2>&1); rc=$?
check "a task file that is an alias bomb is refused at once ($rc)" \
    test "$rc" != 124 -a -n "$(grep -F 'anchors and aliases are not allowed here' <<<"$out")"
