/* tests/unit/proto/pb_reference.h — the protobuf decoder Dromos had before
 * src/proto/pb_decode.c, kept as the reference the new one is held to (by
 * tests/unit/proto/test_pb_decode.c and fuzz/protobuf_fuzz.c): the size
 * limit, a scan that refuses nesting deeper than DR_PROTO_DEPTH_MAX and field
 * number 0, then protobuf-c's protobuf_c_message_unpack().
 *
 * Test code only: static functions for a single translation unit.
 */
#ifndef DR_TESTS_PB_REFERENCE_H
#define DR_TESTS_PB_REFERENCE_H

#include "src/limits.h"
#include "src/proto/proto.h"

static bool ref_varint(const uint8_t *p, size_t size, size_t *i, uint64_t *out)
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

/* The old pre-scan: false on nesting past the limit or field number 0. */
static bool ref_scan(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size,
                     unsigned depth)
{
    if (depth > DR_PROTO_DEPTH_MAX)
        return false;
    size_t i = 0;
    while (i < size) {
        uint64_t key, len;
        if (!ref_varint(data, size, &i, &key))
            return true;
        if ((key >> 3) == 0)
            return false;
        switch (key & 7) {
        case 0:
            if (!ref_varint(data, size, &i, &len))
                return true;
            break;
        case 1:
            i += 8;
            break;
        case 5:
            i += 4;
            break;
        case 2: {
            if (!ref_varint(data, size, &i, &len) || len > size - i)
                return true;
            uint64_t id = key >> 3;
            const ProtobufCFieldDescriptor *f =
                id <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(desc, (unsigned)id) : NULL;
            if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                !ref_scan(f->descriptor, data + i, (size_t)len, depth + 1))
                return false;
            i += (size_t)len;
            break;
        }
        default:
            return true;
        }
    }
    return true;
}

/* protobuf-c's verdict on data: NULL (refused), or its re-encoding by
 * protobuf-c's packer (returns owned; free with ref_buf_free). */
static dr_buf *ref_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size)
{
    if (size > DR_PROTO_MESSAGE_SIZE_MAX || !ref_scan(desc, data, size, 0))
        return NULL;
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, size, size ? data : (const uint8_t *)"");
    if (m == NULL)
        return NULL;
    dr_buf *out = dr_alloc(sizeof *out);
    dr_buf_init(out);
    size_t n = protobuf_c_message_get_packed_size(m);
    dr_buf_reserve(out, n + 1);
    out->size = protobuf_c_message_pack(m, out->data);
    DR_ASSERT(out->size == n);
    protobuf_c_message_free_unpacked(m, NULL);
    return out;
}

static void ref_buf_free(dr_buf *b)
{
    if (b != NULL) {
        dr_buf_deinit(b);
        dr_free(b);
    }
}

#endif /* DR_TESTS_PB_REFERENCE_H */
