#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install the Debian 12 packages aifed builds, tests and runs with, and only
# those that are missing. Safe to run again; needs root (or sudo) only when
# something is missing.
set -euo pipefail

pkgs=(
    gcc meson ninja-build pkg-config      # build
    protobuf-c-compiler libprotobuf-c-dev # wire protocol
    libzmq3-dev libsodium-dev             # CURVE sockets, keys
    liblmdb-dev lmdb-utils                # storage (mdb_copy for backups)
    libuv1-dev libinih-dev libjansson-dev libyaml-dev # loop, config, JSON, task files
    libcjose-dev libcurl4-openssl-dev     # OpenID logins: ID tokens, the issuer's keys
    uthash-dev                            # hash tables (headers only)
    libsmartcols-dev                      # aifedctl's tables (util-linux)
    libmicrohttpd-dev                     # the Prometheus endpoint, aifed-gateway's HTTPS
    libsystemd-dev                        # sd_notify: Type=notify and the watchdog
    prometheus curl                       # the metrics test scrapes with a real Prometheus
    libcmocka-dev jq clang-format         # tests and checks
    clang-tidy                            # the static analyzer's check (tests/check-tidy.sh)
    strace                                # slowdisk.sh: syncs made slow on purpose
    libfaketime                           # clock.sh: the broker's wall clock stepped
    systemd                               # systemd-analyze checks deploy/systemd units
    scdoc bash-completion                 # man pages; the completion test
    debhelper dpkg-dev fakeroot adduser   # Debian packages (debian/) and their test
    clang libclang-rt-14-dev              # libFuzzer targets (tests/fuzz)
    slurmctld slurmd slurm-client munge   # the Slurm backend's test runs a real Slurm
    sudo                                  # a Slurm job runs as its user's account
    openssh-client                        # ssh-keygen: EuroHPC SSH certificates in the tests
    openssl python3                       # the gateway's test certificate; replicas in the tests
    pacemaker corosync pacemaker-cli-utils # pacemaker.sh: a real two-node cluster
    iproute2 util-linux                   # ... in network namespaces (ip, nsenter, unshare)
)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$p")
done

if ((${#missing[@]} > 0)); then
    echo "installing: ${missing[*]}"
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "run as root to install: ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# The tests' npm packages, from the npm registry with the machine's Node.js,
# exactly as their lock files pin them: the OpenID provider (tests/oidc) and
# the OpenAI client (tests/gateway). Only the login and inference tests need
# them: without Node.js they skip, and everything else runs.
for dir in oidc gateway; do
    pkg=$(dirname "$0")/../tests/$dir
    if command -v npm >/dev/null &&
        ! cmp -s "$pkg/package-lock.json" "$pkg/node_modules/.installed-lock.json"; then
        echo "installing the tests' npm packages (npm ci in tests/$dir)"
        (cd "$pkg" && npm ci --no-audit --no-fund --loglevel=error >/dev/null &&
            cp package-lock.json node_modules/.installed-lock.json) || exit 1
    fi
done
exit 0
