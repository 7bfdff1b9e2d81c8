/* src/proto/pb.c — the protobuf codec: protobuf-c pack/unpack behind size
 * limits, errors that name the message type, and the required-field check
 * shared with the JSON codec.
 */
#include <string.h>

#include "src/limits.h"
#include "src/proto/proto_int.h"

const char *dr_proto_name(const ProtobufCMessageDescriptor *desc)
{
    const char *name = desc->name; /* "mesos.scheduler.Call" */
    return name != NULL ? name : "?";
}

/* Reads a varint at p[*i..size); false if it runs off the end or is too long. */
static bool read_varint(const uint8_t *p, size_t size, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && *i < size; shift += 7) {
        uint8_t b = p[(*i)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return true;
        }
    }
    return false;
}

typedef enum scan_result { SCAN_OK, SCAN_TOO_DEEP, SCAN_FIELD_ZERO } scan_result;

/* What protobuf-c is not trusted with, found in one pass over the wire bytes
 * before it unpacks them:
 * - messages nested deeper than DR_PROTO_DEPTH_MAX. protobuf-c unpacks
 *   recursively and some Mesos messages are recursive (ContainerID.parent):
 *   a few megabytes of nesting would overflow the stack;
 * - field number 0. protobuf-c keeps it as an unknown field when its tag is a
 *   non-minimal varint (0x82 0x00) but refuses the minimal form it writes
 *   back (0x02), so such a message would not survive a round trip.
 * It descends into the fields protobuf-c parses (known message fields);
 * unknown fields stay opaque bytes there too. Malformed input scans as OK:
 * protobuf-c refuses it with its own checks. Recursion is bounded by the
 * depth limit. */
static scan_result scan(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size,
                        unsigned depth)
{
    if (depth > DR_PROTO_DEPTH_MAX)
        return SCAN_TOO_DEEP;
    size_t i = 0;
    while (i < size) {
        uint64_t key, len;
        if (!read_varint(data, size, &i, &key))
            return SCAN_OK;
        if ((key >> 3) == 0)
            return SCAN_FIELD_ZERO;
        switch (key & 7) {
        case 0:
            if (!read_varint(data, size, &i, &len))
                return SCAN_OK;
            break;
        case 1:
            i += 8;
            break;
        case 5:
            i += 4;
            break;
        case 2: {
            if (!read_varint(data, size, &i, &len) || len > size - i)
                return SCAN_OK;
            uint64_t id = key >> 3;
            const ProtobufCFieldDescriptor *f =
                id <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(desc, (unsigned)id) : NULL;
            if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                scan_result r = scan(f->descriptor, data + i, (size_t)len, depth + 1);
                if (r != SCAN_OK)
                    return r;
            }
            i += (size_t)len;
            break;
        }
        default:
            return SCAN_OK; /* groups and bad wire types: protobuf-c refuses them */
        }
    }
    return SCAN_OK;
}

dr_code dr_proto_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                        size_t size, dr_arena *arena, ProtobufCMessage **out, dr_err *err)
{
    DR_ASSERT(desc->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    if (size > DR_PROTO_MESSAGE_SIZE_MAX)
        return dr_err_set(err, DR_ETOOBIG, "%s protobuf of %zu bytes: over the limit of %u",
                          dr_proto_name(desc), size, DR_PROTO_MESSAGE_SIZE_MAX);
    switch (scan(desc, data, size, 0)) {
    case SCAN_OK:
        break;
    case SCAN_TOO_DEEP:
        return dr_err_set(err, DR_EINVAL, "invalid %s protobuf (%zu bytes): messages nested "
                          "deeper than %u", dr_proto_name(desc), size, DR_PROTO_DEPTH_MAX);
    case SCAN_FIELD_ZERO:
        return dr_err_set(err, DR_EINVAL, "invalid %s protobuf (%zu bytes): field number 0",
                          dr_proto_name(desc), size);
    }
    if (arena != NULL)
        arena->over = false;
    ProtobufCMessage *m =
        protobuf_c_message_unpack(desc, arena != NULL ? &arena->allocator : NULL, size,
                                  size != 0 ? data : (const uint8_t *)"");
    if (m == NULL && arena != NULL && arena->over)
        return dr_err_set(err, DR_ETOOBIG, "decoding %s protobuf (%zu bytes): over the "
                          "arena's limit of %zu bytes", dr_proto_name(desc), size,
                          arena->size_max);
    if (m == NULL)
        return dr_err_set(err, DR_EINVAL,
                          "invalid %s protobuf (%zu bytes): malformed, or a required "
                          "field is missing",
                          dr_proto_name(desc), size);
    *out = m;
    return DR_OK;
}

dr_code dr_proto_encode(const ProtobufCMessage *msg, dr_buf *out, dr_err *err)
{
    DR_ASSERT(msg->descriptor->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    dr_err scratch;
    if (err == NULL)
        err = &scratch;
    dr_code rc = dr__proto_pack(msg, out, DR_PROTO_MESSAGE_SIZE_MAX, err);
    if (rc != DR_OK)
        return dr_err_wrap(err, "encoding %s", dr_proto_name(msg->descriptor));
    return DR_OK;
}

void dr_proto_free(ProtobufCMessage *msg)
{
    if (msg != NULL)
        protobuf_c_message_free_unpacked(msg, NULL);
}

/* ---- required fields ----------------------------------------------------- */

static dr_code check_required(const ProtobufCMessage *m, dr_proto_path *path, unsigned depth,
                              dr_err *err)
{
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    /* Own messages nest as deep as the schema allows; decoded ones were bounded
     * by their decoder. */
    DR_ASSERT(depth <= 4 * DR_ARRAY_COUNT(path->text));
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        const char *member = (const char *)m + f->offset;
        bool pointer = f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE;
        if (f->label == PROTOBUF_C_LABEL_REQUIRED && pointer &&
            *(void *const *)member == NULL) {
            size_t saved = path->size;
            dr__proto_path_push_field(path, f->name);
            dr_code rc = dr_err_set(err, DR_EINVAL, "'%s' is required", dr__proto_path_cstr(path));
            path->size = saved;
            path->text[saved] = '\0';
            return rc;
        }
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        size_t saved = path->size;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)member;
            for (size_t k = 0; k < n; k++) {
                dr__proto_path_push_field(path, f->name);
                dr__proto_path_push_index(path, k);
                dr_code rc = check_required(arr[k], path, depth + 1, err);
                path->size = saved;
                path->text[saved] = '\0';
                if (rc != DR_OK)
                    return rc;
            }
        } else if (*(ProtobufCMessage *const *)member != NULL) {
            dr__proto_path_push_field(path, f->name);
            dr_code rc = check_required(*(ProtobufCMessage *const *)member, path, depth + 1, err);
            path->size = saved;
            path->text[saved] = '\0';
            if (rc != DR_OK)
                return rc;
        }
    }
    return DR_OK;
}

dr_code dr_proto_check_required(const ProtobufCMessage *msg, dr_err *err)
{
    dr_proto_path path = {.size = 0};
    return check_required(msg, &path, 0, err);
}
