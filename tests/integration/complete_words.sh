# SPDX-License-Identifier: Apache-2.0
# Sourced by lib.sh and docs.sh (needs SRC).
# complete_words WORD... : what the bash completion offers for the last word,
# one per line, as bash-completion runs it.
complete_words() {
    bash -c '. /usr/share/bash-completion/bash_completion
        . "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        _aifedctl aifedctl "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
        printf "%s\n" "${COMPREPLY[@]}"' _ "$SRC/deploy/bash-completion/aifedctl" "$@"
}
