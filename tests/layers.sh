#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The broker's include graph, checked: modules (a .c and its .h) in
# broker/{core,state,service,rpc,server} include only their own layer's and
# lower layers' headers, the module graph has no cycle, and no file in
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
if grep -ln '#include <zmq.h>' broker/*/*.[ch] broker/*.c agent/*.[ch] ctl/*.[ch]; then
    echo "not ok: the files above include <zmq.h>; ZeroMQ stays in common/"
    bad=1
fi
((bad == 0)) && echo "ok: no upward include, no cycle, no <zmq.h> outside common/"
exit $bad
