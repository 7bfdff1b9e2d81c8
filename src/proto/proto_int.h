/* src/proto/proto_int.h — what the files of src/proto share and nobody else
 * uses: error paths, allocation, element sizes, the packer.
 */
#ifndef DR_PROTO_INT_H
#define DR_PROTO_INT_H

#include "src/proto/proto.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "pb_encode.c copies fixed-width fields as they lie in memory");

/* A dotted path into a message, for error texts: "accept.offer_ids[0].value". */
typedef struct dr_proto_path {
    char text[192];
    size_t size; /* bytes used, < sizeof text; longer paths end in "..." */
} dr_proto_path;

void dr__proto_path_push_field(dr_proto_path *path, const char *name);
void dr__proto_path_push_index(dr_proto_path *path, size_t index);
const char *dr__proto_path_cstr(const dr_proto_path *path); /* "<root>" when empty */

/* Allocates size zeroed bytes from arena, or with dr_alloc when it is NULL. */
void *dr__proto_alloc(dr_arena *arena, size_t size);

struct dr_arena_chunk {
    dr_arena_chunk *next;
    size_t size;      /* usable bytes after the header */
    size_t used_size; /* bytes handed out, alignment padding included */
    _Alignas(16) unsigned char data[];
};

void *dr__arena_alloc_raw_slow(dr_arena *arena, size_t size, size_t align);

/* Returns size bytes of arena at a multiple of align (a power of two, at most
 * 16), not zeroed; NULL when that would take the arena past its size_max.
 * Inline: the protobuf decoder calls it for every block. */
static inline void *dr__arena_alloc_raw(dr_arena *arena, size_t size, size_t align)
{
    dr_arena_chunk *c = arena->head;
    if (c != NULL && (arena->size_max == 0 ||
                      size <= arena->size_max - DR_MIN(arena->size_max, arena->used_size))) {
        size_t at = (c->used_size + align - 1) & ~(align - 1);
        if (at <= c->size && c->size - at >= size) {
            arena->used_size += at + size - c->used_size;
            c->used_size = at + size;
            return c->data + at;
        }
    }
    return dr__arena_alloc_raw_slow(arena, size, align);
}

/* Makes the arena's next allocations of up to size bytes in all come from
 * one chunk (allocated now when the head has less room), so that a decoder
 * that knows about how much it will need does not grow chunk by chunk.
 * Untouched pages of a big chunk cost address space only. */
void dr__arena_reserve(dr_arena *arena, size_t size);

/* Bytes one element of a repeated field takes in its array. */
size_t dr__proto_element_size(const ProtobufCFieldDescriptor *f);

/* Appends msg in protobuf to out, as protobuf_c_message_pack would. Errors:
 * a missing required field (named), DR_ETOOBIG above size_max. */
dr_code dr__proto_pack(const ProtobufCMessage *msg, dr_buf *out, size_t size_max,
                       dr_err *err) DR_MUST_USE;

/* Decodes data[size] (borrows) as desc into *out (pb_decode.c): what
 * dr_proto_decode does after its size check. Owned by arena, or, when it is
 * NULL, malloc'd block by block (protobuf_c_message_free_unpacked frees it).
 * On failure *out is untouched and nothing is left allocated outside arena. */
dr_code dr__proto_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                         size_t size, dr_arena *arena, ProtobufCMessage **out,
                         dr_err *err) DR_MUST_USE;

#endif /* DR_PROTO_INT_H */
