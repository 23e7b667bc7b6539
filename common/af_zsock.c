/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_zsock: CURVE socket setup and envelope framing. Sends never block: a
 * daemon's loop must not stall on one slow peer, so a full queue drops the
 * message and the peer recovers by retrying (clients) or re-advertising
 * (agents).
 */
#include "af_zsock.h"
#include "af_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static int set_common(void *s, size_t maxmsg)
{
    int linger = 0;
    int64_t max = (int64_t)maxmsg;

    return zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) ||
           zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max));
}

void *af_zsock_server(void *zctx, const char *endpoint, const struct af_keypair *kp,
                      const char *zap_domain, size_t maxmsg, int sndhwm,
                      char *ret_endpoint, size_t size, struct af_error *err)
{
    void *s = zmq_socket(zctx, ZMQ_ROUTER);
    int one = 1;
    /* Wait no longer than this for a peer to finish the CURVE handshake. */
    int hs_ms = 10000;

    if (!s) {
        af_error_set(err, "socket: %s", zmq_strerror(errno));
        return NULL;
    }
    if (set_common(s, maxmsg) || zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof(one)) ||
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, kp->secret_z85, AF_KEY_Z85_LEN) ||
        zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, zap_domain, strlen(zap_domain)) ||
        zmq_setsockopt(s, ZMQ_HANDSHAKE_IVL, &hs_ms, sizeof(hs_ms)) ||
        zmq_setsockopt(s, ZMQ_SNDHWM, &sndhwm, sizeof(sndhwm)) ||
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof(one))) {
        af_error_set(err, "socket options: %s", zmq_strerror(errno));
        goto fail;
    }
    if (zmq_bind(s, endpoint) != 0) {
        af_error_set(err, "bind %s: %s", endpoint, zmq_strerror(errno));
        goto fail;
    }
    if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ret_endpoint, &size) != 0) {
        af_error_set(err, "bind %s: %s", endpoint, zmq_strerror(errno));
        goto fail;
    }
    return s;
fail:
    zmq_close(s);
    return NULL;
}

/* Connect to each endpoint of a comma-separated list: the brokers of an
 * active/standby pair. With more than one, messages go only to a
 * connection whose handshake completed (ZMQ_IMMEDIATE), so that nothing
 * waits in the pipe of the standby that does not run. */
static int connect_each(void *s, const char *list, struct af_error *err)
{
    int immediate = strchr(list, ',') != NULL;
    char ep[1024];

    if (immediate && zmq_setsockopt(s, ZMQ_IMMEDIATE, &immediate, sizeof(immediate)))
        return af_error_set(err, "socket options: %s", zmq_strerror(errno));
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ","), skip = strspn(p, " ");

        if (len > skip) {
            snprintf(ep, sizeof(ep), "%.*s", (int)(len - skip), p + skip);
            ep[strcspn(ep, " ")] = '\0';
            if (zmq_connect(s, ep) != 0)
                return af_error_set(err, "connect %s: %s", ep, zmq_strerror(errno));
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

void *af_zsock_client(void *zctx, const char *endpoint, const char *server_pub,
                      const struct af_keypair *kp, size_t maxmsg, const char *monitor,
                      struct af_error *err)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);

    if (!s) {
        af_error_set(err, "socket: %s", zmq_strerror(errno));
        return NULL;
    }
    if (set_common(s, maxmsg) ||
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pub, AF_KEY_Z85_LEN) ||
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, kp->public_z85, AF_KEY_Z85_LEN) ||
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, kp->secret_z85, AF_KEY_Z85_LEN)) {
        af_error_set(err, "socket options: %s", zmq_strerror(errno));
        goto fail;
    }
    if (monitor && zmq_socket_monitor(s, monitor, ZMQ_EVENT_ALL) != 0) {
        af_error_set(err, "monitor: %s", zmq_strerror(errno));
        goto fail;
    }
    if (connect_each(s, endpoint, err) < 0)
        goto fail;
    return s;
fail:
    zmq_close(s);
    return NULL;
}

/* Read and discard the rest of a multipart message. */
static void drain_more(void *sock)
{
    int more = 1;
    size_t len = sizeof(more);

    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        zmq_msg_close(&m);
    }
}

int af_zsock_recv(void *sock, bool router, size_t max, struct af_zmsg *ret)
{
    zmq_msg_t m;
    const char *uid;

    memset(ret, 0, sizeof(*ret));
    ret->fd = -1;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    if (router) {
        int more = zmq_msg_more(&m);

        ret->rid_len = zmq_msg_size(&m) < AF_ZSOCK_RID_MAX ? zmq_msg_size(&m) : 0;
        memcpy(ret->rid, zmq_msg_data(&m), ret->rid_len);
        zmq_msg_close(&m);
        zmq_msg_init(&m);
        if (!more || zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            /* ROUTER always delivers a body after the routing id; be safe. */
            zmq_msg_close(&m);
            af_error_set(&ret->why, "empty message");
            ret->why_errno = EBADMSG;
            return 0;
        }
    }
    /* ZMQ_SRCFD is deprecated in libzmq but kept (4.3): the one way to tie
     * a message to its connection, whose close the monitor reports. */
    ret->fd = zmq_msg_get(&m, ZMQ_SRCFD);
    uid = zmq_msg_gets(&m, "User-Id");
    if (uid)
        snprintf(ret->principal, sizeof(ret->principal), "%s", uid);
    if (zmq_msg_more(&m)) {
        af_error_set(&ret->why, "multipart messages are not part of the protocol");
        ret->why_errno = EBADMSG;
        drain_more(sock);
    } else if (af_wire_unpack(zmq_msg_data(&m), zmq_msg_size(&m), max, &ret->env,
                              &ret->why) < 0) {
        ret->why_errno = errno;
    }
    zmq_msg_close(&m);
    return 0;
}

void af_zmsg_clear(struct af_zmsg *m)
{
    af_wire_free(m->env);
    m->env = NULL;
}

int af_zsock_send_raw(void *sock, const uint8_t *rid, size_t rid_len, const void *buf,
                      size_t len)
{
    if (rid_len > 0 && zmq_send(sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    return zmq_send(sock, buf, len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

int af_zsock_send(void *sock, const uint8_t *rid, size_t rid_len,
                  const struct Aifed__Envelope *env)
{
    void *buf;
    size_t len;
    int rc;

    if (af_wire_pack(env, &buf, &len) < 0)
        return -1;
    rc = af_zsock_send_raw(sock, rid, rid_len, buf, len);
    free(buf);
    return rc;
}

void af_zsock_close(void *sock)
{
    int saved = errno;

    if (sock)
        zmq_close(sock);
    errno = saved;
}

void af_zsock_close_linger(void *sock, int linger_ms)
{
    if (sock)
        zmq_setsockopt(sock, ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
    af_zsock_close(sock);
}

void *af_zsock_monitor_open(void *zctx, const char *endpoint, struct af_error *err)
{
    void *mon = zmq_socket(zctx, ZMQ_PAIR);
    int linger = 0;

    if (!mon || zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof(linger)) ||
        zmq_connect(mon, endpoint) != 0) {
        af_error_set(err, "monitor: %s", zmq_strerror(errno));
        if (mon)
            zmq_close(mon);
        return NULL;
    }
    return mon;
}

bool af_zsock_monitor_event(void *mon, uint16_t *event, uint32_t *value)
{
    zmq_msg_t m;
    int more;

    *event = 0;
    *value = 0;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return false;
    }
    if (zmq_msg_size(&m) >= 6) {
        memcpy(event, zmq_msg_data(&m), 2);
        memcpy(value, (char *)zmq_msg_data(&m) + 2, 4);
    }
    more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    while (more) { /* the endpoint frame */
        zmq_msg_init(&m);
        more = zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0 ? 0 : zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    return true;
}

void *af_zsock_ctx_new(void)
{
    void *zctx = zmq_ctx_new();

    if (!zctx)
        errno = ENOMEM;
    return zctx;
}

void af_zsock_ctx_term(void *zctx)
{
    int saved = errno;

    /* It waits for every socket in it to be closed: they are, by now. */
    while (zctx && zmq_ctx_term(zctx) < 0 && errno == EINTR)
        ;
    errno = saved;
}

const char *af_zsock_strerror(int errnum)
{
    return zmq_strerror(errnum);
}
