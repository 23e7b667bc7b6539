#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Malformed messages get an Error reply, change nothing, and the broker keeps
# serving everyone.
. "$(dirname "$0")/lib.sh"

start_federation mimer || exit 1
id=$(ctlj alice submit --project llm-eu --gpus 4 | jq -r .id)
before=$(ctlj ops leases | jq -c .)

for kind in garbage truncated version wrongtype multipart emptybody; do
    out=$("$RAWSEND" "$FED_CLIENT_EP" "$T/keys/broker.pub" "$T/keys/alice.key" "$kind"); rc=$?
    check "$kind: answered with an Error ($out)" test "$rc" -eq 0
done
out=$("$RAWSEND" "$FED_CLIENT_EP" "$T/keys/broker.pub" "$T/keys/alice.key" version)
check "wrong version: ERROR_UNSUPPORTED" grep -q "^2 protocol version 9" <<<"$out"
out=$("$RAWSEND" "$FED_CLIENT_EP" "$T/keys/broker.pub" "$T/keys/alice.key" wrongtype)
check "site message on the client socket: ERROR_UNSUPPORTED" grep -q "^2 lease_held is not a request this socket takes" <<<"$out"
out=$("$RAWSEND" "$FED_CLIENT_EP" "$T/keys/broker.pub" "$T/keys/alice.key" oversized); rc=$?
# libzmq drops a peer whose message exceeds ZMQ_MAXMSGSIZE: no reply is the answer.
check "oversized: the peer is dropped, no reply ($out)" test "$out" = "no reply"

check "the broker still serves" test "$(ctlj alice lease show "$id" | jq -r .state)" = ACTIVE
check "nothing changed in the store" test "$(ctlj ops leases | jq -c .)" = "$before"
check "sites still UP" fed_wait_up "$T" 1
