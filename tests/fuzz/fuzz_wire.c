/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the envelope decoder and every body's validator, which is
 * what any peer on either socket reaches first. */
#include "af_wire.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct Aifed__Envelope *env = NULL;
    struct af_error err;

    if (af_wire_unpack(data, size, AF_WIRE_MAX_DEFAULT, &env, &err) == 0) {
        void *buf;
        size_t len;

        /* What decoded must encode again. */
        if (af_wire_pack(env, &buf, &len) == 0)
            free(buf);
        af_wire_free(env);
    }
    return 0;
}
