/* src/proto/json.h — Mesos's JSON mapping of the v1 messages, one generic
 * codec driven by protobuf-c descriptors (no per-message code).
 *
 * The mapping is stout's (Mesos's JSON::protobuf and its inverse):
 *   - keys are the proto field names (snake_case); unknown keys are ignored;
 *   - enums by name (a known number is accepted too); bytes in base64
 *     (standard alphabet; padding optional on input);
 *   - 64-bit integers are numbers; strings of digits are accepted too, and a
 *     uint64 above INT64_MAX is written as a string (jansson cannot read it);
 *   - doubles: numbers; NaN and infinities as "NaN", "Infinity", "-Infinity";
 *   - null means unset, also for a repeated field (empty) and an array
 *     element (dropped);
 *   - an unknown enum name drops an optional field or a repeated element and
 *     is an error in a required field;
 *   - required fields are checked: "'subscribe.framework_info.user' is required";
 *   - wrong types are errors naming the path: "'accept.filters.refuse_seconds':
 *     expected a number, got a string";
 *   - output is compact ASCII (non-ASCII escaped), keys in name order (stout's
 *     objects are std::maps), and, like stout, includes unset optional fields
 *     that declare a default ("shell":true in CommandInfo, "role":"*").
 * Pre-1.4 resources are not rewritten here: see dr_proto_upgrade_resources().
 */
#ifndef DR_PROTO_JSON_H
#define DR_PROTO_JSON_H

#include <jansson.h>

#include "src/proto/proto.h"

/* Decodes text[size] (borrows; UTF-8 JSON, one object) as desc. *out returns
 * owned: by the arena, or, when arena is NULL, by the caller (malloc'd; free
 * with dr_proto_free). With an arena the text is parsed straight into the
 * message (no jansson tree: several times faster than jansson alone); without
 * one, through jansson. Both accept the same JSON and report content errors
 * in the same words (syntax errors differ in detail); the arena path also
 * limits nesting under ignored keys. Errors (DR_EINVAL): invalid JSON
 * ("invalid JSON at line 1, column 9: ..."), wrong types, missing required
 * fields, bad base64, numbers out of range, nesting beyond DR_JSON_DEPTH_MAX;
 * DR_ETOOBIG above DR_PROTO_MESSAGE_SIZE_MAX or the arena's size limit. On
 * failure *out is untouched (arena memory stays until the arena dies). */
dr_code dr_json_decode(const ProtobufCMessageDescriptor *desc, const char *text, size_t size,
                       dr_arena *arena, ProtobufCMessage **out, dr_err *err) DR_MUST_USE;

/* The same from a parsed jansson value (borrows value). */
dr_code dr_json_decode_value(const ProtobufCMessageDescriptor *desc, const json_t *value,
                             dr_arena *arena, ProtobufCMessage **out, dr_err *err) DR_MUST_USE;

/* Write only fields that are set (no stout defaults): for comparing with
 * encoders that do not add them. */
#define DR_JSON_NO_DEFAULTS 1u

/* Appends msg (borrows) as JSON to out. Errors (DR_EINVAL, out unchanged): a
 * string that is not valid UTF-8, naming its path. */
dr_code dr_json_encode(const ProtobufCMessage *msg, dr_buf *out, dr_err *err) DR_MUST_USE;
dr_code dr_json_encode_flags(const ProtobufCMessage *msg, unsigned flags, dr_buf *out,
                             dr_err *err) DR_MUST_USE;

/* Base64 (standard alphabet, padded), exposed for tests and callers that
 * carry bytes in JSON by hand. decode accepts missing padding. */
void dr_base64_encode(const uint8_t *data, size_t size, dr_buf *out);
dr_code dr_base64_decode(const char *text, size_t size, uint8_t *out, size_t *out_size,
                         dr_err *err) DR_MUST_USE; /* out holds >= size * 3 / 4 + 3 bytes */

#endif /* DR_PROTO_JSON_H */
