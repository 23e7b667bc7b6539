#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The include graphs, checked: modules (a .c and its .h) in
# broker/{core,state,service,rpc,server} include only their own layer's and
# lower layers' headers, and the broker's module graph has no cycle (each
# module's functions declared in its own header, so the graph is true); agent/
# and ctl/ have no cycle either, and the agent's loop sees each kind of site
# (site/, slurm/, local/) only through backend.h and executor.h; no file in
# broker/, agent/ or ctl/ includes <zmq.h> (ZeroMQ stays in common/).
# Usage: layers.sh SOURCE_DIR [--graph]   (--graph prints "from -> to" edges)
cd "${1:?source dir}" || exit 1
layers=(core state service rpc server)
declare -A layer_of module_layer
for i in "${!layers[@]}"; do
    for h in broker/"${layers[$i]}"/*.h; do
        layer_of[$(basename "$h")]=$i
    done
done
bad=0 edges=()
for i in "${!layers[@]}"; do
    for f in broker/"${layers[$i]}"/*.[ch]; do
        from=$(basename "${f%.*}")
        while read -r inc; do
            to=${inc%.h}
            [[ -n ${layer_of[$inc]:-} ]] || continue # common/, generated, system
            if ((layer_of[$inc] > i)); then
                echo "not ok: $f (${layers[$i]}) includes $inc (${layers[${layer_of[$inc]}]})"
                bad=1
            fi
            [[ $to != "$from" ]] && edges+=("$from $to")
        done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
    done
done
if [[ ${2:-} == --graph ]]; then
    printf '%s\n' "${edges[@]}" | sort -u | sed 's/ / -> /'
fi
if ! printf '%s\n' "${edges[@]}" | sort -u | tsort >/dev/null 2>/tmp/layers.$$; then
    echo "not ok: the broker's module graph has a cycle:"
    cat /tmp/layers.$$
    bad=1
fi
rm -f /tmp/layers.$$
# A module is its .c and its .h: in broker/{core,state,service,server}, every
# function a .c defines for others is declared in its own .h, so that the
# include graph above is the call graph (a header that declared another
# file's functions hid the store's circle once).
for f in broker/{core,state,service,server}/*.c; do
    h=${f%.c}.h
    for fn in $(grep -E '^[A-Za-z_][A-Za-z0-9_ *]*[ *][a-z_][a-z0-9_]*\(' "$f" |
        grep -vE '^(static|typedef|extern) ' | grep -v ';$' |
        sed -E 's/^[^(]*[ *]([a-z_][a-z0-9_]*)\(.*/\1/' | grep -vx main); do
        if [[ ! -f $h ]] || ! grep -qE "\b$fn\(" "$h"; then
            echo "not ok: $f defines $fn, which $(basename "$h") does not declare"
            bad=1
        fi
    done
done
# agent/ and ctl/: no module cycle in either (a module is a .c and its .h).
# cycle DIR... : the include graph of the modules under DIR... has no cycle.
cycle() {
    local f from to inc e=()
    declare -A mine=()
    for f in $(find "$@" -name '*.[ch]'); do mine[$(basename "${f%.*}")]=1; done
    for f in $(find "$@" -name '*.[ch]'); do
        from=$(basename "${f%.*}")
        while read -r inc; do
            to=${inc%.h}
            [[ -n ${mine[$to]:-} && $to != "$from" ]] && e+=("$from $to")
        done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
    done
    ((${#e[@]})) || return 0
    printf '%s\n' "${e[@]}" | sort -u | tsort >/dev/null 2>/tmp/layers.$$ && return 0
    echo "not ok: the module graph of $* has a cycle:"
    cat /tmp/layers.$$
    return 1
}
cycle agent || bad=1
cycle ctl || bad=1
rm -f /tmp/layers.$$

# The agent's loop knows each kind of site only through backend.h and
# executor.h: agent/*.[ch] include nothing of agent/site, agent/slurm or
# agent/local; exec/ (what executors share) nothing above it; each kind
# nothing of another, except the site file (site/site_file.h), which a
# Slurm site reads too.
# headers_of DIR : the header names in DIR.
headers_of() { find "$1" -maxdepth 1 -name '*.h' -printf '%f\n'; }
# forbid WHAT FILES -- HEADERS : no file of FILES includes one of HEADERS.
forbid() {
    local what=$1 f h; shift
    local files=() hs=()
    while [[ $1 != -- ]]; do files+=("$1"); shift; done
    shift
    hs=("$@")
    for f in "${files[@]}"; do
        [[ -f $f ]] || continue
        for h in "${hs[@]}"; do
            if grep -q "^#include \"$h\"" "$f"; then
                echo "not ok: $f includes $h ($what)"
                bad=1
            fi
        done
    done
}
kinds=$(for d in site slurm local; do headers_of agent/$d; done)
# shellcheck disable=SC2086
forbid "the loop knows only backend.h and executor.h" agent/*.[ch] -- $kinds
# shellcheck disable=SC2086
forbid "exec/ is below the interfaces and the kinds" agent/exec/*.[ch] -- \
    agent.h backend.h executor.h $kinds
# shellcheck disable=SC2086
forbid "the demo executor is no Slurm site's" agent/local/*.[ch] -- $(headers_of agent/slurm)
# shellcheck disable=SC2086
forbid "a site file knows no executor" agent/site/*.[ch] -- $(headers_of agent/slurm) \
    $(headers_of agent/local)
# shellcheck disable=SC2086
forbid "Slurm knows no demo executor" agent/slurm/*.[ch] -- $(headers_of agent/local) \
    $(headers_of agent/site | grep -vx site_file.h)

if grep -rln '#include <zmq.h>' broker agent ctl --include='*.[ch]'; then
    echo "not ok: the files above include <zmq.h>; ZeroMQ stays in common/"
    bad=1
fi
((bad == 0)) && echo "ok: no upward include, no cycle (broker, agent, ctl), each broker module's functions in its own header, the agent's kinds behind its interfaces, no <zmq.h> outside common/"
exit $bad
