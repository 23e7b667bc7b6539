/* SPDX-License-Identifier: Apache-2.0 */
/* af_yaml: one pass over libyaml's events, before any document exists. */
#include "af_yaml.h"

#include <stdbool.h>
#include <string.h>
#include <yaml.h>

static int line(const yaml_event_t *ev)
{
    return (int)ev->start_mark.line + 1;
}

/* The anchor an event defines, or NULL. */
static const char *anchor_of(const yaml_event_t *ev)
{
    if (ev->type == YAML_SCALAR_EVENT)
        return (const char *)ev->data.scalar.anchor;
    if (ev->type == YAML_SEQUENCE_START_EVENT)
        return (const char *)ev->data.sequence_start.anchor;
    if (ev->type == YAML_MAPPING_START_EVENT)
        return (const char *)ev->data.mapping_start.anchor;
    return NULL;
}

/* One event: 0 to go on, 1 at the stream's end, -1 with err. */
static int check(const yaml_event_t *ev, int *depth, size_t *events, struct af_error *err)
{
    const char *anchor = anchor_of(ev);

    if (ev->type == YAML_ALIAS_EVENT)
        return af_error_set(err,
                            "line %d: an alias (*%.40s): anchors and aliases are not "
                            "allowed here; write the value out",
                            line(ev), (const char *)ev->data.alias.anchor);
    if (anchor)
        return af_error_set(err,
                            "line %d: an anchor (&%.40s): anchors and aliases are not "
                            "allowed here; write the value out",
                            line(ev), anchor);
    /* "\0" in a double-quoted scalar: C would cut the value there. */
    if (ev->type == YAML_SCALAR_EVENT &&
        memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
        return af_error_set(err, "line %d: a NUL byte in a value is refused", line(ev));
    if (ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT) {
        if (++*depth > AF_YAML_MAX_DEPTH)
            return af_error_set(err, "line %d: nested more than %d deep", line(ev),
                                AF_YAML_MAX_DEPTH);
    } else if (ev->type == YAML_SEQUENCE_END_EVENT ||
               ev->type == YAML_MAPPING_END_EVENT) {
        --*depth;
    }
    if (++*events > AF_YAML_MAX_EVENTS)
        return af_error_set(err, "line %d: more than %d values", line(ev),
                            AF_YAML_MAX_EVENTS);
    return ev->type == YAML_STREAM_END_EVENT;
}

int af_yaml_plain(const char *text, size_t len, struct af_error *err)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    size_t events = 0;
    int depth = 0, rc = 0;

    if (!yaml_parser_initialize(&parser))
        return af_error_set(err, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (rc == 0) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = af_error_set(err, "line %d: %s", (int)parser.problem_mark.line + 1,
                              parser.problem ? parser.problem : "not YAML");
            break;
        }
        rc = check(&ev, &depth, &events, err);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return rc < 0 ? -1 : 0;
}
