/* SPDX-License-Identifier: Apache-2.0 */
#include "af_pbwalk.h"

#include <stdio.h>
#include <string.h>

/* A base-128 varint at *p (before end), moved past; -1 when malformed. */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        *v |= (uint64_t)(**p & 0x7f) << shift;
        if (!(*(*p)++ & 0x80))
            return 0;
    }
    return -1;
}

static int walk(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end,
                int depth, char *where, size_t size)
{
    if (depth > AF_PBWALK_MAX_DEPTH) {
        snprintf(where, size, "%s: nested too deeply", d->short_name);
        return -1;
    }
    while (p < end) {
        const ProtobufCFieldDescriptor *f;
        uint64_t key, n;

        if (varint(&p, end, &key) < 0)
            return -1;
        f = protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3));
        switch (key & 7) {
        case 0:
            if (varint(&p, end, &n) < 0)
                return -1;
            break;
        case 1:
        case 5:
            n = (key & 7) == 1 ? 8 : 4;
            if ((uint64_t)(end - p) < n)
                return -1;
            p += n;
            break;
        case 2:
            if (varint(&p, end, &n) < 0 || (uint64_t)(end - p) < n)
                return -1;
            if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p, '\0', n)) {
                snprintf(where, size, "%s.%s", d->short_name, f->name);
                return -1;
            }
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                walk(f->descriptor, p, p + n, depth + 1, where, size) < 0)
                return -1;
            p += n;
            break;
        default: /* groups: not in proto3 */
            return -1;
        }
    }
    return 0;
}

int af_pbwalk_no_nul(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
                     size_t len, char *where, size_t size)
{
    snprintf(where, size, "%s: malformed", desc->short_name);
    return walk(desc, buf, buf + len, 0, where, size);
}
