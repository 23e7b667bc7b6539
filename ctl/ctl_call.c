/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_call: connect, call, and put what went wrong in words. */
#include "ctl_call.h"
#include "ctl_config.h"
#include "af_wire.h"
#include "ctl_client.h"
#include "ctl_retry.h"

#include <errno.h>
#include <stdio.h>

/* Connect using the global options; prints why not and returns NULL. */
static struct ctl_client *connect_broker(const struct ctl *ctl)
{
    struct af_error err;
    struct ctl_client *c;

    if (!ctl->broker || !ctl->broker_key || !ctl->key) {
        fprintf(stderr,
                "aifedctl: no %s: say where the broker is and who you are with --broker "
                "HOST:PORT --broker-key FILE --key FILE, AIFED_BROKER, AIFED_BROKER_KEY "
                "and AIFED_KEY, or broker, broker_key and key in %s (`aifedctl config "
                "show` says what is set)\n",
                !ctl->broker       ? "broker"
                : !ctl->broker_key ? "broker key"
                                   : "key of yours",
                ctl->config ? ctl->config->path : "~/.config/aifed/config");
        return NULL;
    }
    if (!(c = ctl_client_create(ctl->broker, ctl->broker_key, ctl->key, &err)))
        fprintf(stderr, "aifedctl: %s\n", err.text);
    return c;
}

void ctl_call_notice(const Aifed__Envelope *rep)
{
    static bool said;

    if (rep->notice && *rep->notice && !said) {
        fprintf(stderr, "aifedctl: NOTICE: %s\n", rep->notice);
        said = true;
    }
}

Aifed__Envelope *ctl_call(const struct ctl *ctl, Aifed__Envelope *req,
                          Aifed__Envelope__BodyCase want, uint64_t timeout_ms,
                          int *ret_exit)
{
    struct ctl_client *c = connect_broker(ctl);
    struct af_error err;
    Aifed__Envelope *rep;

    *ret_exit = CTL_EXIT_UNREACHABLE;
    if (!c)
        return NULL;
    rep = ctl_retry_call(c, req, ctl->timeout_set ? ctl->timeout_ms : timeout_ms,
                         ctl->json, &err);
    ctl_client_destroy(c);
    if (!rep) {
        fprintf(stderr, "aifedctl: %s\n", err.text);
        if (errno == EBADMSG)
            *ret_exit = 1;
        return NULL;
    }
    *ret_exit = 1;
    ctl_call_notice(rep);
    if (rep->body_case == AIFED__ENVELOPE__BODY_ERROR) {
        fprintf(stderr, "aifedctl: %s\n", rep->error->message);
        af_wire_free(rep);
        return NULL;
    }
    if (rep->body_case != want) {
        fprintf(stderr, "aifedctl: the broker answered with %s\n",
                af_wire_body_name(rep->body_case));
        af_wire_free(rep);
        return NULL;
    }
    *ret_exit = 0;
    return rep;
}

int ctl_ask(const struct ctl *ctl, int body_case, void *body,
            Aifed__Envelope__BodyCase want, ctl_show_fn show)
{
    Aifed__Envelope req = AIFED__ENVELOPE__INIT;

    af_wire_set_body(&req, body_case, body);
    return ctl_call_show(ctl, &req, want, 10000, show);
}

int ctl_call_show(const struct ctl *ctl, Aifed__Envelope *req,
                  Aifed__Envelope__BodyCase want, uint64_t timeout_ms, ctl_show_fn show)
{
    int rc;
    Aifed__Envelope *rep = ctl_call(ctl, req, want, timeout_ms, &rc);

    if (rep) {
        rc = show(rep, ctl->json);
        af_wire_free(rep);
    }
    return rc;
}
