/* src/proto/arena.c — the bump allocator decoded requests live in, and the
 * small helpers the codecs share (error paths, allocation).
 *
 * A request is decoded into an arena and the whole arena is freed after the
 * reply, so the decoders never free piecemeal and a failed decode leaks
 * nothing: the caller deinits the arena either way.
 */
#include <stdio.h>
#include <string.h>

#include "src/proto/proto_int.h"

static void *arena_pb_alloc(void *self, size_t size)
{
    dr_arena *arena = self;
    if (arena->size_max != 0 && size > arena->size_max - DR_MIN(arena->size_max, arena->used_size)) {
        arena->over = true;
        return NULL; /* protobuf-c fails the unpack cleanly */
    }
    return dr_arena_alloc(arena, size);
}

void dr_arena_set_size_max(dr_arena *arena, size_t size_max)
{
    arena->size_max = size_max;
}

static void arena_pb_free(void *self, void *ptr)
{
    DR_UNUSED(self);
    DR_UNUSED(ptr); /* freed with the arena */
}

void dr_arena_init(dr_arena *arena)
{
    memset(arena, 0, sizeof *arena);
    arena->allocator.alloc = arena_pb_alloc;
    arena->allocator.free = arena_pb_free;
    arena->allocator.allocator_data = arena;
}

void dr_arena_deinit(dr_arena *arena)
{
    dr_arena_chunk *c = arena->head;
    while (c != NULL) {
        dr_arena_chunk *next = c->next;
        dr_free(c);
        c = next;
    }
    arena->head = NULL;
    arena->used_size = 0;
}

/* An arena's first chunk. Most arenas hold one small request or event (a
 * status update decodes into ~1 KiB) and live for one handler: a 4 KiB chunk
 * is a cheap malloc and free, where a 64 KiB one is not (glibc consolidates
 * its free lists on every free of 64 KiB or more). The next chunk is
 * DR_ARENA_CHUNK_SIZE and they double from there, so a big message still
 * takes few chunks; dr_proto_decode reserves a big message's whole size up
 * front anyway. */
#define ARENA_FIRST_CHUNK_SIZE (1032u - sizeof(dr_arena_chunk))

/* A new chunk with room for size bytes: the head, or, for a block much bigger
 * than chunks grow to, a chunk of its own behind the head (whose free space
 * would otherwise be wasted). Chunks double, up to DR_ARENA_CHUNK_SIZE_MAX:
 * a big message takes few chunks. They come from malloc, not zeroed: big ones
 * are fresh pages from the kernel either way, and what is handed out is
 * zeroed (dr_arena_alloc) or written whole (the protobuf decoder) by its
 * user, not twice. */
static dr_arena_chunk *grow(dr_arena *arena, size_t size)
{
    dr_arena_chunk *c = arena->head;
    size_t grown_size = c == NULL ? ARENA_FIRST_CHUNK_SIZE : DR_ARENA_CHUNK_SIZE;
    if (c != NULL && c->size <= DR_ARENA_CHUNK_SIZE_MAX / 2)
        grown_size = DR_MAX(grown_size, c->size * 2);
    else if (c != NULL)
        grown_size = DR_ARENA_CHUNK_SIZE_MAX;
    size_t chunk_size = DR_MAX(size, grown_size);
    DR_ASSERT(chunk_size <= SIZE_MAX - sizeof *c);
    dr_arena_chunk *n = dr_realloc(NULL, sizeof *n + chunk_size);
    n->size = chunk_size;
    n->used_size = 0;
    if (c != NULL && chunk_size > grown_size && c->size - c->used_size >= 1024) {
        n->next = c->next;
        c->next = n;
    } else {
        n->next = c;
        arena->head = n;
    }
    return n;
}

/* size bytes at a multiple of align (a power of two, at most 16). */
static void *bump(dr_arena *arena, size_t size, size_t align)
{
    DR_ASSERT(align != 0 && align <= 16 && (align & (align - 1)) == 0);
    dr_arena_chunk *c = arena->head;
    size_t at = c != NULL ? (c->used_size + align - 1) & ~(align - 1) : 0;
    if (c == NULL || at > c->size || c->size - at < size) {
        c = grow(arena, size);
        at = c->used_size;
    }
    DR_ASSERT(at <= c->size && c->size - at >= size);
    arena->used_size += at + size - c->used_size;
    c->used_size = at + size;
    return c->data + at;
}

void *dr_arena_alloc(dr_arena *arena, size_t size)
{
    DR_ASSERT(arena->allocator.allocator_data == arena);
    void *p = bump(arena, size, 16);
    memset(p, 0, size);
    return p;
}

void *dr__arena_alloc_raw_slow(dr_arena *arena, size_t size, size_t align)
{
    if (arena->size_max != 0 && size > arena->size_max - DR_MIN(arena->size_max, arena->used_size))
        return NULL;
    return bump(arena, size, align);
}

void dr__arena_reserve(dr_arena *arena, size_t size)
{
    dr_arena_chunk *c = arena->head;
    if (c != NULL && c->size - c->used_size >= size)
        return;
    size = DR_MAX(size, DR_ARENA_CHUNK_SIZE);
    dr_arena_chunk *n = dr_realloc(NULL, sizeof *n + size);
    n->size = size;
    n->used_size = 0;
    n->next = c;
    arena->head = n;
}

size_t dr__proto_element_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    DR_UNREACHABLE();
}

void *dr__proto_alloc(dr_arena *arena, size_t size)
{
    return arena != NULL ? dr_arena_alloc(arena, size) : dr_alloc(size);
}

/* Appends text[size] to path, or marks it truncated ("...") when it does
 * not fit with its NUL. Paths are pushed for every field a decoder or walker
 * enters, so this stays a memcpy, not a printf. */
static void path_append(dr_proto_path *path, const char *text, size_t size)
{
    size_t room = sizeof path->text - path->size;
    if (size >= room) {
        memcpy(path->text + path->size, text, room - 1); /* as much as fits, as snprintf */
        memcpy(path->text + sizeof path->text - 4, "...", 4);
        path->size = sizeof path->text - 1;
        return;
    }
    memcpy(path->text + path->size, text, size);
    path->size += size;
    path->text[path->size] = '\0';
}

void dr__proto_path_push_field(dr_proto_path *path, const char *name)
{
    if (path->size > 0)
        path_append(path, ".", 1);
    path_append(path, name, strlen(name));
}

void dr__proto_path_push_index(dr_proto_path *path, size_t index)
{
    char buf[24]; /* "[" + up to 20 digits + "]" */
    size_t n = sizeof buf;
    buf[--n] = ']';
    do {
        buf[--n] = (char)('0' + index % 10);
        index /= 10;
    } while (index > 0);
    buf[--n] = '[';
    path_append(path, buf + n, sizeof buf - n);
}

const char *dr__proto_path_cstr(const dr_proto_path *path)
{
    return path->size == 0 ? "<root>" : path->text;
}
