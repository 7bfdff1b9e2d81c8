/* src/proto/pb_encode.c — the protobuf encoder behind dr_proto_encode().
 *
 * Writes exactly the bytes protobuf_c_message_pack() writes (fields in
 * number order, then unknown fields as they were read), in two passes
 * instead of protobuf-c's one: protobuf-c recomputes a sub-message's size at
 * every level it is nested in (O(size x depth); a GET_STATE task sits six
 * levels deep), while here pass 1 computes every message size once, in
 * pre-order, into a vector that pass 2 reads back in the same order.
 * Pass 1 also finds unset required strings and messages.
 */
#include <string.h>

#include "src/proto/proto_int.h"

typedef struct sizes {
    uint32_t *v; /* message sizes in pre-order: local, or heap once it outgrows it */
    uint32_t local[128];
    size_t count;
    size_t capacity;
    size_t cursor; /* pass 2 reads here */
    bool missing;  /* an unset required string or message was found */
} sizes;

static inline size_t varint_size(uint64_t x)
{
    size_t n = 1;
    while (x >= 0x80) {
        x >>= 7;
        n++;
    }
    return n;
}

static inline size_t tag_size(uint32_t id)
{
    return varint_size((uint64_t)id << 3);
}

static inline uint32_t zigzag32(int32_t v)
{
    return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}

static inline uint64_t zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static size_t message_size(sizes *s, const ProtobufCMessage *m);

/* Size of one value, without tag; sub-messages get their length prefix. */
static size_t value_size(sizes *s, const ProtobufCFieldDescriptor *f, const void *member)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_ENUM: /* negative values take 10 bytes, as int64 */
        return varint_size((uint64_t)(int64_t)*(const int32_t *)member);
    case PROTOBUF_C_TYPE_SINT32:
        return varint_size(zigzag32(*(const int32_t *)member));
    case PROTOBUF_C_TYPE_UINT32:
        return varint_size(*(const uint32_t *)member);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT64:
        return varint_size(*(const uint64_t *)member);
    case PROTOBUF_C_TYPE_SINT64:
        return varint_size(zigzag64(*(const int64_t *)member));
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return 4;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return 1;
    case PROTOBUF_C_TYPE_STRING: {
        const char *str = *(const char *const *)member;
        size_t len = str != NULL ? strlen(str) : 0;
        return varint_size(len) + len;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = member;
        return varint_size(b->len) + b->len;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)member;
        if (sub == NULL)
            return 1; /* protobuf-c writes a required NULL message as empty */
        size_t n = message_size(s, sub);
        return varint_size(n) + n;
    }
    }
    DR_UNREACHABLE();
}

/* Whether protobuf-c would write a singular optional field. Called for every
 * optional field of every message encoded, most of them absent: one switch. */
static inline bool optional_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                                    const void *member)
{
    const char *quantifier = (const char *)m + f->quantifier_offset;
    switch (f->type) {
    case PROTOBUF_C_TYPE_MESSAGE:
    case PROTOBUF_C_TYPE_STRING: {
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *(const uint32_t *)quantifier != f->id)
            return false;
        const void *p = *(const void *const *)member;
        return p != NULL && p != f->default_value;
    }
    default:
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            return *(const uint32_t *)quantifier == f->id;
        return *(const protobuf_c_boolean *)quantifier != 0;
    }
}

static size_t message_size(sizes *s, const ProtobufCMessage *m)
{
    size_t slot = s->count;
    if (s->count == s->capacity) {
        size_t capacity = s->capacity * 2;
        uint32_t *v = dr_alloc_array(capacity, sizeof *v);
        memcpy(v, s->v, s->count * sizeof *v);
        if (s->v != s->local)
            dr_free(s->v);
        s->v = v;
        s->capacity = capacity;
    }
    s->count++;
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    size_t total = 0;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        const char *member = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            if (n == 0)
                continue;
            const char *arr = *(const char *const *)member;
            size_t esize = dr__proto_element_size(f);
            size_t payload = 0;
            for (size_t k = 0; k < n; k++)
                payload += value_size(s, f, arr + k * esize);
            if (f->flags & PROTOBUF_C_FIELD_FLAG_PACKED)
                total += tag_size(f->id) + varint_size(payload) + payload;
            else
                total += n * tag_size(f->id) + payload;
            continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REQUIRED) {
            if ((f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) &&
                *(const void *const *)member == NULL)
                s->missing = true;
        } else if (!optional_present(m, f, member)) {
            continue;
        }
        total += tag_size(f->id) + value_size(s, f, member);
    }
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        total += tag_size(m->unknown_fields[i].tag) + m->unknown_fields[i].len;
    DR_ASSERT(total <= UINT32_MAX);
    s->v[slot] = (uint32_t)total;
    return total;
}

/* ---- pass 2 ------------------------------------------------------------------- */

static inline uint8_t *put_varint(uint8_t *p, uint64_t x)
{
    while (x >= 0x80) {
        *p++ = (uint8_t)(x | 0x80);
        x >>= 7;
    }
    *p++ = (uint8_t)x;
    return p;
}

static inline uint8_t *put_tag(uint8_t *p, uint32_t id, unsigned wire_type)
{
    return put_varint(p, ((uint64_t)id << 3) | wire_type);
}

static unsigned wire_type(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return 5;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 1;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return 2;
    default:
        return 0;
    }
}

static uint8_t *write_message(sizes *s, const ProtobufCMessage *m, uint8_t *p);

static uint8_t *write_value(sizes *s, const ProtobufCFieldDescriptor *f, const void *member,
                            uint8_t *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_ENUM:
        return put_varint(p, (uint64_t)(int64_t)*(const int32_t *)member);
    case PROTOBUF_C_TYPE_SINT32:
        return put_varint(p, zigzag32(*(const int32_t *)member));
    case PROTOBUF_C_TYPE_UINT32:
        return put_varint(p, *(const uint32_t *)member);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT64:
        return put_varint(p, *(const uint64_t *)member);
    case PROTOBUF_C_TYPE_SINT64:
        return put_varint(p, zigzag64(*(const int64_t *)member));
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        memcpy(p, member, 4); /* little-endian hosts only (asserted in dr_proto_encode) */
        return p + 4;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        memcpy(p, member, 8);
        return p + 8;
    case PROTOBUF_C_TYPE_BOOL:
        *p++ = *(const protobuf_c_boolean *)member ? 1 : 0;
        return p;
    case PROTOBUF_C_TYPE_STRING: {
        const char *str = *(const char *const *)member;
        size_t len = str != NULL ? strlen(str) : 0;
        p = put_varint(p, len);
        memcpy(p, str != NULL ? str : "", len);
        return p + len;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = member;
        p = put_varint(p, b->len);
        if (b->len > 0)
            memcpy(p, b->data, b->len);
        return p + b->len;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)member;
        if (sub == NULL) {
            *p++ = 0;
            return p;
        }
        DR_ASSERT(s->cursor < s->count);
        p = put_varint(p, s->v[s->cursor]);
        return write_message(s, sub, p);
    }
    }
    DR_UNREACHABLE();
}

static uint8_t *write_message(sizes *s, const ProtobufCMessage *m, uint8_t *p)
{
    const uint8_t *start = p;
    size_t size = s->v[s->cursor++];
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        const char *member = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            if (n == 0)
                continue;
            const char *arr = *(const char *const *)member;
            size_t esize = dr__proto_element_size(f);
            if (f->flags & PROTOBUF_C_FIELD_FLAG_PACKED) {
                size_t payload = 0;
                for (size_t k = 0; k < n; k++)
                    payload += value_size(s, f, arr + k * esize); /* scalars: no sizes used */
                p = put_tag(p, f->id, 2);
                p = put_varint(p, payload);
                for (size_t k = 0; k < n; k++)
                    p = write_value(s, f, arr + k * esize, p);
            } else {
                unsigned wt = wire_type(f->type);
                for (size_t k = 0; k < n; k++) {
                    p = put_tag(p, f->id, wt);
                    p = write_value(s, f, arr + k * esize, p);
                }
            }
            continue;
        }
        if (f->label != PROTOBUF_C_LABEL_REQUIRED && !optional_present(m, f, member))
            continue;
        p = put_tag(p, f->id, wire_type(f->type));
        p = write_value(s, f, member, p);
    }
    for (unsigned i = 0; i < m->n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &m->unknown_fields[i];
        p = put_tag(p, u->tag, u->wire_type);
        memcpy(p, u->data, u->len);
        p += u->len;
    }
    DR_ASSERT((size_t)(p - start) == size);
    return p;
}

dr_code dr__proto_pack(const ProtobufCMessage *msg, dr_buf *out, size_t size_max, dr_err *err)
{
    sizes s;
    s.v = s.local;
    s.count = 0;
    s.capacity = DR_ARRAY_COUNT(s.local);
    s.cursor = 0;
    s.missing = false;
    size_t size = message_size(&s, msg);
    dr_code rc = DR_OK;
    if (s.missing) {
        rc = dr_proto_check_required(msg, err);
        DR_ASSERT(rc != DR_OK);
        goto done;
    }
    if (size > size_max) {
        rc = dr_err_set(err, DR_ETOOBIG, "%zu bytes is over the limit of %zu", size, size_max);
        goto done;
    }
    dr_buf_reserve(out, size);
    uint8_t *end = write_message(&s, msg, out->data + out->size);
    DR_ASSERT(end == out->data + out->size + size);
    DR_ASSERT(s.cursor == s.count);
    out->size += size;
done:
    if (s.v != s.local)
        dr_free(s.v);
    return rc;
}
