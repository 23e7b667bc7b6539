/* SPDX-License-Identifier: Apache-2.0 */
/* af_zlink: a CURVE client's link to the broker, from its monitor's events. */
#include "af_zlink.h"

#include <zmq.h>

bool af_zlink_note(struct af_zlink *l, uint16_t event, uint32_t value)
{
    if (event == ZMQ_EVENT_DISCONNECTED && l->handshaken)
        return true;
    switch (event) {
    case ZMQ_EVENT_CONNECTED:
        l->connected = true;
        break;
    case ZMQ_EVENT_CONNECT_RETRIED:
        l->retried = true;
        break;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        l->handshaken = true;
        l->auth_failed = false;
        l->dropped = 0;
        break;
    case ZMQ_EVENT_DISCONNECTED:
        /* A server that cannot read our HELLO (we trust another key than
         * its own) closes the connection; a slow one keeps it open. */
        if (!l->handshaken)
            l->dropped++;
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        l->auth_failed = true;
        l->auth_status = (int)value;
        break;
    default:
        break;
    }
    return false;
}

enum af_zlink_why af_zlink_why(const struct af_zlink *l)
{
    if (l->auth_failed)
        return AF_ZLINK_KEY_REFUSED;
    if (l->handshaken)
        return AF_ZLINK_OK;
    if (!l->connected && l->retried)
        return AF_ZLINK_UNREACHABLE;
    if (l->dropped >= AF_ZLINK_DROPPED_SURE)
        return AF_ZLINK_SERVER_KEY;
    return AF_ZLINK_OK;
}
