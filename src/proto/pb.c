/* src/proto/pb.c — the protobuf codec's entry points: size limits, errors
 * that name the message type, and the required-field check shared with the
 * JSON codec. The decoder is pb_decode.c, the encoder pb_encode.c; both work
 * from protobuf-c's descriptors and structs.
 */
#include <string.h>

#include "src/limits.h"
#include "src/proto/proto_int.h"

const char *dr_proto_name(const ProtobufCMessageDescriptor *desc)
{
    const char *name = desc->name; /* "mesos.scheduler.Call" */
    return name != NULL ? name : "?";
}

dr_code dr_proto_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                        size_t size, dr_arena *arena, ProtobufCMessage **out, dr_err *err)
{
    DR_ASSERT(desc->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    if (size > DR_PROTO_MESSAGE_SIZE_MAX)
        return dr_err_set(err, DR_ETOOBIG, "%s protobuf of %zu bytes: over the limit of %u",
                          dr_proto_name(desc), size, DR_PROTO_MESSAGE_SIZE_MAX);
    /* Decoded messages take about 5 times their wire size (a GET_STATE
     * response: 4.9): one chunk for all of a message up to ~10 MB, not a
     * dozen doublings. Pages of it left untouched cost address space only. */
    if (arena != NULL && size > DR_ARENA_CHUNK_SIZE / 8)
        dr__arena_reserve(arena, DR_MIN(size * 6, (size_t)64 << 20));
    return dr__proto_unpack(desc, size != 0 ? data : (const uint8_t *)"", size, arena, out, err);
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
