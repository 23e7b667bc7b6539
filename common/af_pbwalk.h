/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_pbwalk: what protobuf-c's unpacking hides. A string field is given to
 * C as a NUL-terminated copy, so a NUL inside it silently cuts it (a job's
 * file name, a variable, a script would be something other than what was
 * sent, checked as one thing and used as another). The walk reads the
 * encoded message by its descriptors and refuses a string field that holds
 * a NUL, at any depth.
 */
#ifndef AF_PBWALK_H
#define AF_PBWALK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting deeper than this is refused (aifed's messages nest far less). */
#define AF_PBWALK_MAX_DEPTH 32

/* 0 when no string field of the message encoded in buf (of type desc)
 * holds a NUL byte; -1 when one does (its field's name into where, with
 * its message's: "JobFile.name"), or when buf is not well formed. */
int af_pbwalk_no_nul(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
                     size_t len, char *where, size_t size);

#endif
