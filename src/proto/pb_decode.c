/* src/proto/pb_decode.c — the protobuf decoder behind dr_proto_decode().
 *
 * Fills the protobuf-c structs (Mesos__...) that protobuf_c_message_unpack()
 * would, driven by the same descriptors, and accepts and refuses exactly what
 * it accepts and refuses, and also refuses what dr_proto_decode() always
 * refused on top: messages nested deeper than DR_PROTO_DEPTH_MAX (some Mesos
 * messages are recursive, ContainerID.parent: the stack is bounded) and field
 * number 0 (protobuf-c keeps it as an unknown field, but the minimal form it
 * writes back is one it refuses: no round trip). The test
 * tests/unit/proto/test_pb_decode.c holds the two side by side on random and
 * mutated messages.
 *
 * Why not protobuf-c's unpack: it calls the allocator for every block (and,
 * for a message with more than 16 fields on the wire, for scratch slabs that
 * an arena never gets back), rounds every string to 16 bytes, and recurses
 * without a depth bound. Here an arena hands out structs 8-byte aligned,
 * strings and bytes unaligned and nothing else; without an arena every block
 * comes from dr_alloc one by one, so protobuf_c_message_free_unpacked() (what
 * dr_proto_free() calls) frees the result.
 *
 * Each occurrence of a message is read in one pass: the wire format is
 * checked as it goes (tags of at most 5 bytes, varints of at most 10, lengths
 * inside the message, wire types the fields accept); singular fields go
 * straight into the struct, sub-messages recurse (each checked against the
 * depth bound first), and repeated elements and unknown fields wait on the
 * decoder's stack, counted in their n_ fields; at the end of the message each
 * array is allocated at its exact size and filled in wire order (settle()),
 * and the required fields seen are checked. The arena gets no growing arrays
 * and no scratch.
 * protobuf-c's quirks are kept on purpose, as round trips must stay
 * byte-exact with what Dromos wrote before:
 *   - 32-bit integer and enum fields keep the low 32 bits of the varint (a
 *     negative int32 arrives as a 10-byte varint);
 *   - enum values are not checked against the enum;
 *   - a bool takes any wire type and is true when any of its bytes (length
 *     prefix included) has a non-zero low 7 bits; packed bools are varints,
 *     each read the same way;
 *   - any repeated scalar field accepts the packed form;
 *   - a required field that declares a default is not checked;
 *   - a singular message field given twice: the second occurrence is decoded
 *     on its own (required fields checked) and then merged with the first
 *     (merge(), protobuf-c's merge_messages());
 *   - unknown fields are kept as tag, wire type and raw bytes (a length
 *     prefix included), in wire order, and written back by the packer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "src/limits.h"
#include "src/proto/proto_int.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)

/* One level of the path from the root to where the decoder is, for errors. */
typedef struct frame {
    const ProtobufCFieldDescriptor *field;
    size_t index; /* element of a repeated field; SIZE_MAX for a singular one */
} frame;

/* A repeated field's element or an unknown field, waiting for its array. */
typedef struct entry {
    uint32_t index;     /* the field's in its descriptor; UNKNOWN_INDEX: unknown */
    uint32_t tag;       /* unknown: its field number */
    uint32_t wire_type; /* unknown: its wire type */
    union {
        uint64_t u; /* scalars, in their array's element size */
        void *p;    /* strings, messages */
        ProtobufCBinaryData b; /* bytes */
        struct {
            const uint8_t *data; /* unknown: its bytes in the input */
            size_t len;
        } raw;
    } v;
} entry;

#define UNKNOWN_INDEX UINT32_MAX

/* A message type's facts, computed once per decode. */
typedef struct type_info {
    const ProtobufCMessageDescriptor *desc; /* NULL: a free slot */
    unsigned required_count;
} type_info;

typedef struct decoder {
    dr_arena *arena; /* NULL: dr_alloc, block by block */
    const ProtobufCMessageDescriptor *root;
    const uint8_t *start; /* the whole input, for byte offsets in errors */
    size_t size;
    dr_err *err;
    unsigned depth; /* frames in use */
    frame frames[DR_PROTO_DEPTH_MAX + 1];
    entry *stack; /* each message in progress owns the entries above its base */
    size_t top;
    size_t capacity;
    type_info types[64]; /* open addressing: see required_count() */
} decoder;

/* Bits for the required fields seen in one occurrence of a message. */
#define SEEN_LOCAL_WORDS 4u

static bool decode_message(decoder *d, const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                           const uint8_t *end, ProtobufCMessage **out);

/* ---- errors ------------------------------------------------------------------- */

/* The dotted path to field (of the innermost frame's message; NULL: to that
 * message), "" at the root. */
static void path_to(const decoder *d, const ProtobufCFieldDescriptor *field, dr_proto_path *path)
{
    path->size = 0;
    path->text[0] = '\0';
    for (unsigned i = 0; i < d->depth; i++) {
        dr__proto_path_push_field(path, d->frames[i].field->name);
        if (d->frames[i].index != SIZE_MAX)
            dr__proto_path_push_index(path, d->frames[i].index);
    }
    if (field != NULL)
        dr__proto_path_push_field(path, field->name);
}

/* Sets d->err to "invalid <type> protobuf (<n> bytes): <what> (at '<path>')"
 * (no path at the root). Returns false, so that `return fail(...)` reads well. */
static bool fail(decoder *d, const ProtobufCFieldDescriptor *field, const char *fmt, ...)
    DR_PRINTF(3, 4);
static bool fail(decoder *d, const ProtobufCFieldDescriptor *field, const char *fmt, ...)
{
    dr_proto_path path;
    path_to(d, field, &path);
    char what[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    /* The callers return the code. */
    if (path.size == 0)
        (void)dr_err_set(d->err, DR_EINVAL, "invalid %s protobuf (%zu bytes): %s",
                         dr_proto_name(d->root), d->size, what);
    else
        (void)dr_err_set(d->err, DR_EINVAL, "invalid %s protobuf (%zu bytes): %s (at '%s')",
                         dr_proto_name(d->root), d->size, what, path.text);
    return false;
}

/* "invalid <type> protobuf (<n> bytes): '<path>' is required", as the JSON
 * decoder and the encoder name a missing field. */
static bool fail_required(decoder *d, const ProtobufCFieldDescriptor *field)
{
    dr_proto_path path;
    path_to(d, field, &path);
    (void)dr_err_set(d->err, DR_EINVAL, "invalid %s protobuf (%zu bytes): '%s' is required",
                     dr_proto_name(d->root), d->size, path.text); /* the caller returns it */
    return false;
}

static bool fail_over(decoder *d)
{
    (void)dr_err_set(d->err, DR_ETOOBIG, /* the caller returns the code */
                     "decoding %s protobuf (%zu bytes): over the arena's limit of %zu bytes",
                     dr_proto_name(d->root), d->size, d->arena->size_max);
    return false;
}

static size_t offset(const decoder *d, const uint8_t *p)
{
    return (size_t)(p - d->start);
}

/* ---- memory --------------------------------------------------------------------- */

/* size bytes aligned for any field (8) or for none (1); not zeroed. NULL (and
 * the error set) only past the arena's limit. */
static void *alloc(decoder *d, size_t size, size_t align)
{
    if (d->arena == NULL)
        return dr_realloc(NULL, size);
    void *p = dr__arena_alloc_raw(d->arena, size, align);
    if (p == NULL)
        fail_over(d);
    return p;
}

static void release(decoder *d, void *p)
{
    if (d->arena == NULL)
        dr_free(p);
}

static ProtobufCMessage *new_message(decoder *d, const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *m = alloc(d, desc->sizeof_message, 8);
    if (m != NULL)
        desc->message_init(m); /* every byte, defaults included */
    return m;
}

/* ---- the wire format ------------------------------------------------------------ */

/* A tag: at most 5 bytes, the field number in 32 bits (as protobuf-c). */
static inline bool read_tag(const uint8_t **pp, const uint8_t *end, uint32_t *id, unsigned *wt)
{
    const uint8_t *p = *pp;
    uint8_t b = *p++;
    *wt = b & 7u;
    uint32_t v = (b & 0x7fu) >> 3;
    if (LIKELY(b < 0x80)) {
        *id = v;
        *pp = p;
        return true;
    }
    for (unsigned shift = 4; shift <= 25 && p < end; shift += 7) {
        b = *p++;
        v |= (uint32_t)(b & 0x7fu) << shift;
        if (b < 0x80) {
            *id = v;
            *pp = p;
            return true;
        }
    }
    return false;
}

/* A varint of at most 10 bytes; bits past 64 are dropped. */
static inline bool read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    if (LIKELY(p < end && *p < 0x80)) {
        *out = *p;
        *pp = p + 1;
        return true;
    }
    uint64_t v = 0;
    const uint8_t *limit = end - p > 10 ? p + 10 : end;
    for (unsigned shift = 0; p < limit; shift += 7) {
        uint8_t b = *p++;
        v |= shift < 64 ? (uint64_t)(b & 0x7fu) << shift : 0;
        if (b < 0x80) {
            *out = v;
            *pp = p;
            return true;
        }
    }
    return false;
}

/* A length prefix: at most 5 bytes (as protobuf-c; a length past 32 bits then
 * runs past the end of any input). */
static inline bool read_length(const uint8_t **pp, const uint8_t *end, size_t *len)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (unsigned shift = 0; shift <= 28 && p < end; shift += 7) {
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7fu) << shift;
        if (b < 0x80) {
            *len = (size_t)v;
            *pp = p;
            return true;
        }
    }
    return false;
}

static unsigned wire_type_of(ProtobufCType type)
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

static bool packable(ProtobufCType type)
{
    return type != PROTOBUF_C_TYPE_STRING && type != PROTOBUF_C_TYPE_BYTES &&
           type != PROTOBUF_C_TYPE_MESSAGE;
}

/* The index of field id in desc, or -1: protobuf-c's int_range_lookup. */
static int field_index_slow(const ProtobufCMessageDescriptor *desc, uint32_t id)
{
    if (id > INT32_MAX)
        return -1;
    int value = (int)id;
    const ProtobufCIntRange *r = desc->field_ranges;
    unsigned n = desc->n_field_ranges;
    for (unsigned lo = 0, hi = n; lo < hi;) { /* r[n].orig_index ends the last range */
        unsigned mid = lo + (hi - lo) / 2;
        int count = (int)(r[mid + 1].orig_index - r[mid].orig_index);
        if (value < r[mid].start_value)
            hi = mid;
        else if (value >= r[mid].start_value + count)
            lo = mid + 1;
        else
            return r[mid].orig_index + (value - r[mid].start_value);
    }
    return -1;
}

/* Fields mostly arrive in number order: try the one after the last first. */
static inline const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc,
                                                         uint32_t id, unsigned *hint)
{
    const ProtobufCFieldDescriptor *f = desc->fields;
    unsigned h = *hint;
    if (h < desc->n_fields && f[h].id == id)
        return &f[h];
    if (h + 1 < desc->n_fields && f[h + 1].id == id) {
        *hint = h + 1;
        return &f[h + 1];
    }
    int i = field_index_slow(desc, id);
    if (i < 0)
        return NULL;
    *hint = (unsigned)i;
    return &f[i];
}

/* ---- values --------------------------------------------------------------------- */

static inline int32_t unzigzag32(uint32_t v)
{
    return (int32_t)((v >> 1) ^ (0u - (v & 1)));
}

static inline int64_t unzigzag64(uint64_t v)
{
    return (int64_t)((v >> 1) ^ (0u - (v & 1)));
}

/* Frees (without an arena) what a singular string, bytes or message field
 * holds, as protobuf-c does before overwriting it. */
static void clear_member(decoder *d, const ProtobufCFieldDescriptor *f, void *member)
{
    if (d->arena != NULL)
        return;
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        char *s = *(char **)member;
        if (s != NULL && s != f->default_value)
            dr_free(s);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = member;
        const ProtobufCBinaryData *def = f->default_value;
        if (b->data != NULL && (def == NULL || b->data != def->data))
            dr_free(b->data);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage *m = *(ProtobufCMessage **)member;
        if (m != NULL && m != f->default_value)
            protobuf_c_message_free_unpacked(m, NULL);
        break;
    }
    default:
        break;
    }
}

static bool merge(decoder *d, ProtobufCMessage *earlier, ProtobufCMessage *latter);

/* Reads one value of f: wire type wt, its bytes [v, end) (a length prefix
 * included) into member. replace: a singular field, whose earlier value is
 * freed (strings, bytes) or merged into (messages). */
static bool parse_value(decoder *d, const ProtobufCFieldDescriptor *f, unsigned wt,
                        const uint8_t *v, const uint8_t *end, void *member, bool replace)
{
    uint64_t x = 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_ENUM:
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_UINT32:
        (void)read_varint(&v, end, &x); /* checked in pass 1 */
        *(uint32_t *)member = (uint32_t)x;
        return true;
    case PROTOBUF_C_TYPE_SINT32:
        (void)read_varint(&v, end, &x);
        *(int32_t *)member = unzigzag32((uint32_t)x);
        return true;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT64:
        (void)read_varint(&v, end, &x);
        *(uint64_t *)member = x;
        return true;
    case PROTOBUF_C_TYPE_SINT64:
        (void)read_varint(&v, end, &x);
        *(int64_t *)member = unzigzag64(x);
        return true;
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        memcpy(member, v, 4); /* little-endian hosts only (proto_int.h) */
        return true;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        memcpy(member, v, 8);
        return true;
    case PROTOBUF_C_TYPE_BOOL: {
        protobuf_c_boolean b = 0;
        for (; v < end; v++)
            b |= (*v & 0x7f) != 0;
        *(protobuf_c_boolean *)member = b;
        return true;
    }
    default:
        break;
    }
    DR_ASSERT(wt == 2);
    size_t len = 0;
    (void)read_length(&v, end, &len);
    DR_ASSERT(len == (size_t)(end - v));
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        char *s = alloc(d, len + 1, 1);
        if (s == NULL)
            return false;
        memcpy(s, v, len);
        s[len] = '\0';
        if (replace)
            clear_member(d, f, member);
        *(char **)member = s;
        return true;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        uint8_t *data = NULL;
        if (len > 0) {
            data = alloc(d, len, 1);
            if (data == NULL)
                return false;
            memcpy(data, v, len);
        }
        if (replace)
            clear_member(d, f, member);
        ProtobufCBinaryData *b = member;
        b->data = data;
        b->len = len;
        return true;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage *sub = NULL;
        if (!decode_message(d, f->descriptor, v, end, &sub))
            return false;
        ProtobufCMessage **slot = member;
        if (replace && *slot != NULL && *slot != f->default_value) {
            bool ok = merge(d, *slot, sub);
            clear_member(d, f, member); /* what merge() left of the earlier one */
            *slot = sub;
            return ok;
        }
        *slot = sub;
        return true;
    }
    default:
        DR_UNREACHABLE();
    }
}

/* Checks the packed payload [v, end) of f as protobuf-c does: whole fixed-size
 * values, else varints of at most 10 bytes. */
static bool check_packed(decoder *d, const ProtobufCFieldDescriptor *f, const uint8_t *v,
                         const uint8_t *end)
{
    size_t len = (size_t)(end - v);
    switch (f->type) {
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        if (len % 4 != 0)
            return fail(d, f, "packed 32-bit values of %zu bytes at byte %zu", len, offset(d, v));
        return true;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        if (len % 8 != 0)
            return fail(d, f, "packed 64-bit values of %zu bytes at byte %zu", len, offset(d, v));
        return true;
    default: /* varints, bools too (protobuf-c 1.4) */
        break;
    }
    while (v < end) {
        uint64_t x;
        const uint8_t *at = v;
        if (!read_varint(&v, end, &x))
            return fail(d, f, "bad packed varint at byte %zu", offset(d, at));
    }
    return true;
}

/* ---- messages ------------------------------------------------------------------- */

/* A new entry on the stack; NULL (and the error set) when, with an arena
 * limit, the stack would outgrow it: the stack is malloc'd, not the arena's,
 * and at 32 bytes an entry it would otherwise take up to 32 times the input
 * (a packed run of one-byte varints) past the bound a request handler set. */
static entry *push(decoder *d)
{
    if (d->arena != NULL && d->arena->size_max != 0 &&
        d->top >= d->arena->size_max / sizeof *d->stack) {
        fail_over(d);
        return NULL;
    }
    if (d->top == d->capacity) {
        d->capacity = d->capacity != 0 ? d->capacity * 2 : 256;
        d->stack = dr_realloc(d->stack, d->capacity * sizeof *d->stack);
    }
    return &d->stack[d->top++];
}

static unsigned count_required(const ProtobufCMessageDescriptor *desc)
{
    unsigned n = 0;
    for (unsigned i = 0; i < desc->n_fields; i++)
        n += desc->fields[i].label == PROTOBUF_C_LABEL_REQUIRED &&
             desc->fields[i].default_value == NULL;
    return n;
}

/* The number of required fields of desc that declare no default (protobuf-c
 * checks only those), computed once per decode and type. The table is probed
 * from a hash of the type's shape, not of its address (which would differ
 * between runs); types are told apart by their descriptor. */
static unsigned required_count(decoder *d, const ProtobufCMessageDescriptor *desc)
{
    if (desc->n_fields == 0)
        return 0;
    size_t count = DR_ARRAY_COUNT(d->types);
    size_t slot = (desc->sizeof_message * 31u + desc->n_fields * 7u + desc->fields[0].id) % count;
    for (size_t probe = 0; probe < count; probe++) {
        type_info *t = &d->types[(slot + probe) % count];
        if (t->desc == desc)
            return t->required_count;
        if (t->desc == NULL) {
            t->desc = desc;
            t->required_count = count_required(desc);
            return t->required_count;
        }
    }
    return count_required(desc); /* a full table */
}

/* Frees (without an arena) what the entries from base hold. */
static void drop_entries(decoder *d, const ProtobufCMessageDescriptor *desc, size_t base)
{
    for (size_t i = base; d->arena == NULL && i < d->top; i++) {
        const entry *e = &d->stack[i];
        if (e->index == UNKNOWN_INDEX)
            continue; /* points into the input */
        switch (desc->fields[e->index].type) {
        case PROTOBUF_C_TYPE_STRING:
            dr_free(e->v.p);
            break;
        case PROTOBUF_C_TYPE_BYTES:
            dr_free(e->v.b.data);
            break;
        case PROTOBUF_C_TYPE_MESSAGE:
            protobuf_c_message_free_unpacked(e->v.p, NULL);
            break;
        default:
            break;
        }
    }
    d->top = base;
}

/* Moves the entries from base (repeated elements and unknown fields, in wire
 * order) into m's arrays, each allocated at its exact size: counted in the
 * n_ fields (and n_unknown_fields) as they were pushed. */
static bool settle(decoder *d, ProtobufCMessage *m, size_t base)
{
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    size_t unknown_count = m->n_unknown_fields;
    m->n_unknown_fields = 0;
    for (size_t i = base; i < d->top; i++) {
        const entry *e = &d->stack[i];
        if (e->index == UNKNOWN_INDEX) {
            if (m->unknown_fields == NULL) {
                m->unknown_fields = alloc(d, unknown_count * sizeof *m->unknown_fields, 8);
                if (m->unknown_fields == NULL)
                    return false;
            }
            ProtobufCMessageUnknownField *u = &m->unknown_fields[m->n_unknown_fields];
            u->data = alloc(d, e->v.raw.len, 1);
            if (u->data == NULL)
                return false;
            memcpy(u->data, e->v.raw.data, e->v.raw.len);
            u->tag = e->tag;
            u->wire_type = (ProtobufCWireType)e->wire_type;
            u->len = e->v.raw.len;
            m->n_unknown_fields++;
            continue;
        }
        const ProtobufCFieldDescriptor *f = &desc->fields[e->index];
        size_t *n = (size_t *)((char *)m + f->quantifier_offset);
        char **array = (char **)((char *)m + f->offset);
        size_t esize = dr__proto_element_size(f);
        if (*array == NULL) {
            *array = alloc(d, *n * esize, 8);
            if (*array == NULL)
                return false;
            *n = 0;
        }
        memcpy(*array + *n * esize, &e->v, esize);
        ++*n;
    }
    d->top = base;
    return true;
}

/* Decodes one occurrence of desc, [p, end), into a new message *out, in one
 * pass: singular fields go straight into the struct; repeated elements and
 * unknown fields onto the decoder's stack, moved into exact arrays at the
 * end (settle()). On failure nothing is left allocated (without an arena)
 * and *out is untouched. */
static bool decode_message(decoder *d, const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                           const uint8_t *end, ProtobufCMessage **out)
{
    if (d->depth > DR_PROTO_DEPTH_MAX) {
        unsigned depth = d->depth;
        d->depth = 0; /* the path would be all there is to read */
        fail(d, NULL, "messages nested deeper than %u", DR_PROTO_DEPTH_MAX);
        d->depth = depth;
        return false;
    }
    ProtobufCMessage *m = new_message(d, desc);
    if (m == NULL)
        return false;
    size_t base = d->top;
    uint64_t seen_local[SEEN_LOCAL_WORDS] = {0};
    uint64_t *seen = seen_local;
    size_t words = (desc->n_fields + 63u) / 64u;
    if (words > SEEN_LOCAL_WORDS)
        seen = dr_alloc_array(words, sizeof *seen);
    unsigned seen_count = 0;
    unsigned hint = 0;
    while (p < end) {
        const uint8_t *at = p;
        uint32_t id;
        unsigned wt;
        if (!read_tag(&p, end, &id, &wt)) {
            fail(d, NULL, "bad tag at byte %zu", offset(d, at));
            goto fail;
        }
        if (id == 0) {
            fail(d, NULL, "field number 0 at byte %zu", offset(d, at));
            goto fail;
        }
        const uint8_t *v = p;
        size_t len = 0;
        switch (wt) {
        case 0:
            if (LIKELY(p < end && *p < 0x80)) {
                p++;
            } else {
                uint64_t x;
                if (!read_varint(&p, end, &x)) {
                    fail(d, NULL, "bad varint at byte %zu", offset(d, v));
                    goto fail;
                }
            }
            break;
        case 1:
            if (end - p < 8) {
                fail(d, NULL, "truncated 64-bit value at byte %zu", offset(d, v));
                goto fail;
            }
            p += 8;
            break;
        case 5:
            if (end - p < 4) {
                fail(d, NULL, "truncated 32-bit value at byte %zu", offset(d, v));
                goto fail;
            }
            p += 4;
            break;
        case 2:
            if (!read_length(&p, end, &len)) {
                fail(d, NULL, "bad length at byte %zu", offset(d, v));
                goto fail;
            }
            if (len > (size_t)(end - p)) {
                fail(d, NULL, "length %zu at byte %zu runs past the end", len, offset(d, v));
                goto fail;
            }
            p += len;
            break;
        default:
            fail(d, NULL, "wire type %u at byte %zu", wt, offset(d, at));
            goto fail;
        }
        const ProtobufCFieldDescriptor *f = find_field(desc, id, &hint);
        if (f == NULL) {
            entry *e = push(d);
            if (e == NULL)
                goto fail;
            e->index = UNKNOWN_INDEX;
            e->tag = id;
            e->wire_type = wt;
            e->v.raw.data = v; /* copied by settle() */
            e->v.raw.len = (size_t)(p - v);
            m->n_unknown_fields++;
            continue;
        }
        void *member = (char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t *n = (size_t *)((char *)m + f->quantifier_offset);
            if (wt == 2 && packable(f->type)) {
                if (!check_packed(d, f, p - len, p))
                    goto fail;
                for (const uint8_t *q = p - len; q < p;) {
                    const uint8_t *next = q;
                    if (wire_type_of(f->type) == 5)
                        next = q + 4;
                    else if (wire_type_of(f->type) == 1)
                        next = q + 8;
                    else
                        while (*next++ & 0x80)
                            ;
                    entry *e = push(d);
                    if (e == NULL)
                        goto fail;
                    e->index = (uint32_t)(f - desc->fields);
                    e->v.u = 0;
                    (void)parse_value(d, f, wire_type_of(f->type), q, next, &e->v, false);
                    ++*n;
                    q = next;
                }
                continue;
            }
            if (wt != wire_type_of(f->type) && f->type != PROTOBUF_C_TYPE_BOOL) {
                fail(d, f, "wire type %u at byte %zu, expected %u", wt, offset(d, at),
                     wire_type_of(f->type));
                goto fail;
            }
            if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                DR_ASSERT(d->depth < DR_ARRAY_COUNT(d->frames));
                d->frames[d->depth++] = (frame){.field = f, .index = *n};
            }
            entry tmp = {.index = (uint32_t)(f - desc->fields)};
            bool parsed = parse_value(d, f, wt, v, p, &tmp.v, false);
            if (f->type == PROTOBUF_C_TYPE_MESSAGE)
                d->depth--;
            if (!parsed)
                goto fail;
            entry *e = push(d);
            if (e == NULL)
                goto fail; /* only with an arena, which owns what tmp holds */
            *e = tmp;
            ++*n;
            continue;
        }
        if (wt != wire_type_of(f->type) && f->type != PROTOBUF_C_TYPE_BOOL) {
            fail(d, f, "wire type %u at byte %zu, expected %u", wt, offset(d, at),
                 wire_type_of(f->type));
            goto fail;
        }
        if (f->label == PROTOBUF_C_LABEL_REQUIRED) {
            unsigned i = (unsigned)(f - desc->fields);
            uint64_t bit = (uint64_t)1 << (i % 64);
            seen_count += (seen[i / 64] & bit) == 0 && f->default_value == NULL;
            seen[i / 64] |= bit;
        } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t *which = (uint32_t *)((char *)m + f->quantifier_offset);
            if (*which != 0) {
                /* Whichever member was set shares this storage: free it. */
                int old = field_index_slow(desc, *which);
                DR_ASSERT(old >= 0);
                clear_member(d, &desc->fields[old], member);
                memset(member, 0, dr__proto_element_size(&desc->fields[old]));
                *which = 0;
            }
        }
        if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            DR_ASSERT(d->depth < DR_ARRAY_COUNT(d->frames));
            d->frames[d->depth++] = (frame){.field = f, .index = SIZE_MAX};
        }
        bool parsed = parse_value(d, f, wt, v, p, member, true);
        if (f->type == PROTOBUF_C_TYPE_MESSAGE)
            d->depth--;
        if (!parsed)
            goto fail;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            *(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
        else if (f->quantifier_offset != 0) /* has_; 0 for strings and messages */
            *(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
    }
    if (seen_count != required_count(d, desc)) {
        for (unsigned i = 0; i < desc->n_fields; i++) {
            const ProtobufCFieldDescriptor *f = &desc->fields[i];
            if (f->label == PROTOBUF_C_LABEL_REQUIRED && f->default_value == NULL &&
                !((seen[i / 64] >> (i % 64)) & 1u)) {
                fail_required(d, f);
                break;
            }
        }
        goto fail;
    }
    if (seen != seen_local)
        dr_free(seen);
    if (d->top > base && !settle(d, m, base)) {
        d->top = base; /* only an arena runs out: nothing to free */
        return false;
    }
    *out = m;
    return true;
fail:
    if (seen != seen_local)
        dr_free(seen);
    drop_entries(d, desc, base);
    if (d->arena == NULL) {
        /* Counts of elements that were still on the stack: their arrays are
         * NULL, which free_unpacked skips; unknown fields are not. */
        m->n_unknown_fields = 0;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    return false;
}

/* protobuf-c's merge_messages(): moves into latter what earlier has and latter
 * lacks (singular fields), prepends earlier's repeated elements, merges
 * sub-messages both have; earlier is left for the caller to free. */
static bool merge(decoder *d, ProtobufCMessage *earlier, ProtobufCMessage *latter)
{
    const ProtobufCMessageDescriptor *desc = latter->descriptor;
    DR_ASSERT(earlier->descriptor == desc);
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t *n_earlier = (size_t *)((char *)earlier + f->quantifier_offset);
            size_t *n_latter = (size_t *)((char *)latter + f->quantifier_offset);
            char **a_earlier = (char **)((char *)earlier + f->offset);
            char **a_latter = (char **)((char *)latter + f->offset);
            if (*n_earlier == 0)
                continue;
            if (*n_latter > 0) {
                size_t esize = dr__proto_element_size(f);
                char *joined = alloc(d, (*n_earlier + *n_latter) * esize, 8);
                if (joined == NULL)
                    return false;
                memcpy(joined, *a_earlier, *n_earlier * esize);
                memcpy(joined + *n_earlier * esize, *a_latter, *n_latter * esize);
                release(d, *a_latter);
                release(d, *a_earlier);
                *a_latter = joined;
                *n_latter += *n_earlier;
            } else {
                *n_latter = *n_earlier;
                *a_latter = *a_earlier;
            }
            *n_earlier = 0;
            *a_earlier = NULL;
            continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REQUIRED)
            continue; /* the latter occurrence has it: it was checked */
        uint32_t *case_earlier = (uint32_t *)((char *)earlier + f->quantifier_offset);
        uint32_t *case_latter = (uint32_t *)((char *)latter + f->quantifier_offset);
        const ProtobufCFieldDescriptor *field = f;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*case_latter != 0)
                continue;
            int old = field_index_slow(desc, *case_earlier);
            if (old < 0)
                continue; /* neither has the oneof */
            field = &desc->fields[old];
        }
        void *e = (char *)earlier + field->offset;
        void *l = (char *)latter + field->offset;
        bool take = false;
        switch (field->type) {
        case PROTOBUF_C_TYPE_MESSAGE: {
            ProtobufCMessage *em = *(ProtobufCMessage **)e, *lm = *(ProtobufCMessage **)l;
            if (em != NULL && lm != NULL) {
                if (!merge(d, em, lm))
                    return false;
            } else if (em != NULL) {
                take = true;
            }
            break;
        }
        case PROTOBUF_C_TYPE_BYTES: {
            const uint8_t *ed = ((ProtobufCBinaryData *)e)->data;
            const uint8_t *ld = ((ProtobufCBinaryData *)l)->data;
            const ProtobufCBinaryData *def = field->default_value;
            take = ed != NULL && (def == NULL || ed != def->data) &&
                   (ld == NULL || (def != NULL && ld == def->data));
            break;
        }
        case PROTOBUF_C_TYPE_STRING: {
            const char *es = *(char **)e, *ls = *(char **)l;
            take = es != field->default_value && ls == field->default_value;
            break;
        }
        default:
            take = *case_earlier != 0 && *case_latter == 0;
            break;
        }
        if (take) {
            size_t esize = dr__proto_element_size(field);
            memcpy(l, e, esize);
            memset(e, 0, esize);
            if (field->quantifier_offset != 0) {
                *case_latter = *case_earlier;
                *case_earlier = 0;
            }
        }
    }
    return true;
}

/* ---- entry ------------------------------------------------------------------------ */

dr_code dr__proto_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                         size_t size, dr_arena *arena, ProtobufCMessage **out, dr_err *err)
{
    dr_err scratch;
    decoder d = {
        .arena = arena,
        .root = desc,
        .start = data,
        .size = size,
        .err = err != NULL ? err : &scratch,
        .depth = 0,
    };
    ProtobufCMessage *m = NULL;
    bool ok = decode_message(&d, desc, data, data + size, &m);
    DR_ASSERT(d.top == 0);
    dr_free(d.stack);
    if (!ok)
        return d.err->code;
    *out = m;
    return DR_OK;
}
