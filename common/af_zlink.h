/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_zlink: what a CURVE client's socket monitor has said about its link to
 * the broker, and from that why nothing answers. aifedctl (af_zclient) and
 * the agent both connect to the broker and both must tell apart a broker
 * that is not there, one whose key they have wrong and one that refused
 * their key; each says it in its own words, naming its own settings. (The
 * wrong endpoint, a registered key on the broker's other socket, is the
 * broker's to say: it admits the key and answers with where to go.)
 */
#ifndef AF_ZLINK_H
#define AF_ZLINK_H

#include <stdbool.h>
#include <stdint.h>

struct af_zlink {
    bool connected;   /* TCP connected at least once */
    bool retried;     /* a connect was refused and retried */
    bool handshaken;  /* the CURVE handshake completed */
    bool auth_failed; /* the server's ZAP refused our key */
    unsigned dropped; /* connections closed before a handshake completed */
    int auth_status;  /* its status (400) */
};

enum af_zlink_why {
    AF_ZLINK_OK,          /* handshaken: the link is up (or nothing is known yet) */
    AF_ZLINK_UNREACHABLE, /* never connected: not running, or the wrong address */
    AF_ZLINK_SERVER_KEY,  /* connected, handshake never completed: wrong broker key */
    AF_ZLINK_KEY_REFUSED, /* our key is not registered */
};

/* A connections closed before the handshake that make a wrong server key
 * the likely cause (a server that cannot read our HELLO closes at once). */
#define AF_ZLINK_DROPPED_SURE 3

/* Take one monitor event (ZMQ_EVENT_*) and its value. true when it ended a
 * link that was up (handshaken); l still says what was, and a caller that
 * diagnoses each connection afresh clears it. */
bool af_zlink_note(struct af_zlink *l, uint16_t event, uint32_t value);
/* What the events so far say: certain ones only (AF_ZLINK_SERVER_KEY after
 * AF_ZLINK_DROPPED_SURE drops, AF_ZLINK_UNREACHABLE once a connect was
 * refused), else AF_ZLINK_OK. */
enum af_zlink_why af_zlink_why(const struct af_zlink *l);

#endif
