/* SPDX-License-Identifier: Apache-2.0 */
/*
 * af_wire: the Envelope on the wire. Unpacking is strict and is the only door
 * through which a message reaches a handler: the size is bounded, the version
 * checked, the body must be set, every id must be a valid id, every required
 * field present and every enum value known to this version. A handler can
 * therefore trust what it is given; it never re-checks shape, only meaning.
 *
 * The generated protobuf-c types stay out of other modules' headers: this
 * header names the Envelope only as an incomplete struct. A .c file that reads
 * message fields includes "aifed.pb-c.h" itself.
 */
#ifndef AF_WIRE_H
#define AF_WIRE_H

#include "af_error.h"

#include <stdbool.h>
#include <stddef.h>

#define AF_WIRE_VERSION     1
#define AF_WIRE_MAX_DEFAULT (1024 * 1024) /* bytes; also the sockets' ZMQ_MAXMSGSIZE */

/* Limits on what one peer can make a daemon hold (see docs/protocol.md). */
#define AF_WIRE_MAX_POOLS      64
#define AF_WIRE_MAX_LIST       1024  /* datasets, certifications, countries */
#define AF_WIRE_MAX_HELD       32768 /* holds one advertisement lists (~37 bytes each) */
#define AF_WIRE_MAX_TEXT       512   /* free text: reasons, names, messages */
#define AF_WIRE_MAX_PAGE       1000  /* leases in one ListLeases page */
#define AF_WIRE_MAX_SCRIPT     (64 * 1024) /* a job's setup or run */
#define AF_WIRE_MAX_ENV        64          /* a job's variables */
#define AF_WIRE_MAX_ENV_VALUE  4096
#define AF_WIRE_MAX_FILES      16 /* files sent along with a job */
#define AF_WIRE_MAX_FILE_NAME  128
#define AF_WIRE_MAX_FILES_SIZE (256 * 1024) /* their bytes, all together */
#define AF_WIRE_MAX_JOBS       64           /* jobs open in one lease; one JobList */
#define AF_WIRE_MAX_KEYS       16           /* key records of one principal */
#define AF_WIRE_MAX_SIGNATURE  4096         /* an armoured SSH signature */
#define AF_WIRE_MAX_CERT       16384        /* an OpenSSH certificate's line */
#define AF_WIRE_MAX_LOG_CHUNK  (512 * 1024) /* bytes of a job's output at once */
/* The catalogue: a site's entries are its data items (AF_WIRE_MAX_LIST). */
#define AF_WIRE_MAX_ENTRY_WORD     64  /* an entry's version, licence */
#define AF_WIRE_MAX_ENTRY_TEXT     256 /* its path, access rule, description */
#define AF_WIRE_MAX_ENTRY_CERTS    16  /* certifications a data set needs */
#define AF_WIRE_MAX_SITE_TEMPLATES 16
#define AF_WIRE_MAX_TEMPLATE       (16 * 1024) /* one template's text */
#define AF_WIRE_MAX_TEMPLATES_SIZE (64 * 1024) /* a site's, all together */
#define AF_WIRE_MAX_FED_TEMPLATES  64          /* the federation's, added by admins */
#define AF_WIRE_MAX_CATALOG        200         /* entries in one CatalogList */
/* Inference (docs/inference.md). */
#define AF_WIRE_MAX_REPLICAS      16  /* an endpoint's, at most */
#define AF_WIRE_MAX_ENDPOINTS     256 /* in one EndpointList */
#define AF_WIRE_MAX_ENDPOINT_NAME 40  /* a-z, 0-9 and '-': it is in URLs */
#define AF_WIRE_MAX_PROBE_PATH    256
#define AF_WIRE_MAX_KEYS_LISTED   1024 /* in one KeyList */
#define AF_WIRE_MAX_HEADERS       64   /* an HTTP request's or answer's */
#define AF_WIRE_MAX_HEADER        8192 /* one header's value */
/* The latest instant the wire carries (9999-12-31T23:59:59.999Z, in ms):
 * times and their sums with any walltime stay far inside 64 bits. */
#define AF_WIRE_MAX_TIME_MS 253402300799999LL
/* The most GPU-seconds an allocation counts (2^50: 35 million GPU-years),
 * so that sums of them never wrap. */
#define AF_WIRE_MAX_GPU_S (1ULL << 50)
/* A data item's size: 8 PiB, exact in a double; AF_WIRE_MAX_LIST of them
 * sum within 64 bits. */
#define AF_WIRE_MAX_DATA_BYTES (1ULL << 53)

struct Aifed__Envelope;
struct Aifed__Lease;

/* Decode and validate len bytes (at most max). On success *ret is the
 * caller's, freed with af_wire_free(). On failure err says why and errno is
 * EMSGSIZE (too large), EPROTONOSUPPORT (version or body unknown) or EBADMSG. */
int af_wire_unpack(const void *buf, size_t len, size_t max, struct Aifed__Envelope **ret,
                   struct af_error *err);

void af_wire_free(struct Aifed__Envelope *env);

/* Encode env into a malloc'd buffer the caller frees. -1/ENOMEM. */
int af_wire_pack(const struct Aifed__Envelope *env, void **ret_buf, size_t *ret_len);

/* Make msg (borrowed) env's body, of case body_case. msg must be the
 * message type that case carries (protobuf-c keeps a oneof's members in one
 * union of pointers, so one store serves every case). */
void af_wire_set_body(struct Aifed__Envelope *env, int body_case, void *msg);

/* A deep copy of msg (any protobuf-c message: a borrowed one to keep), the
 * caller's, freed with protobuf_c_message_free_unpacked(copy, NULL) or the
 * type's own __free_unpacked. NULL/ENOMEM. */
void *af_wire_copy(const void *msg);

/* Make s fit to send as free text (which the receiver refuses with a
 * control character in it): every control character becomes a space. A
 * command's stderr, say, arrives on one line. */
void af_wire_clean_text(char *s);

/* Whether s is a file's path inside a job's directory: relative, of names
 * that are neither "." nor "..", in letters, digits and ._- only. */
bool af_wire_file_name_ok(const char *s);

/* Whether s is an endpoint's name: 1-40 of a-z, 0-9 and '-', starting
 * with a letter and not ending with '-' (it is a URL's path segment and a
 * DNS label). */
bool af_wire_endpoint_name_ok(const char *s);

/* The accelerator model a lease holds: its pool's (the broker fills it at
 * placement), else the one its workload asked for, else "" (any). The
 * token's accelerator claim is this. */
const char *af_wire_lease_model(const struct Aifed__Lease *l);

/* Name of a body case for logs ("submit", "lease_hold"); never NULL. */
const char *af_wire_body_name(int body_case);

#endif
