/* SPDX-License-Identifier: Apache-2.0 */
/*
 * follow_frame: how the job helper's `follow` streams a file to the agent
 * over a pipe (both ends on one machine, so host byte order): a header,
 * then len bytes of the file from offset. size is the file's size when the
 * piece was read; a frame with no data says only that. The last frame has
 * FOLLOW_FINAL: the file will not be read further.
 */
#ifndef FOLLOW_FRAME_H
#define FOLLOW_FRAME_H

#include <stdint.h>

#define FOLLOW_FINAL     1u
#define FOLLOW_FRAME_MAX (256 * 1024)

struct follow_frame {
    uint64_t offset;
    uint64_t size;
    uint32_t len;
    uint32_t flags;
};

#endif
