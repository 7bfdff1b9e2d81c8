/* src/proto/json_decode.c — JSON to protobuf-c messages, Mesos's mapping (see
 * json.h), driven by descriptors.
 *
 * jansson parses; this file walks the tree against the descriptor and fills
 * the protobuf-c structs exactly as protobuf_c_message_unpack would (same
 * allocation shape), so a message decoded without an arena is freed by
 * protobuf_c_message_free_unpacked. Every pointer is stored before what it
 * points to is filled and every repeated count only counts filled elements, so
 * a failure at any point leaves a message that frees cleanly.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/limits.h"
#include "src/proto/json.h"
#include "src/proto/proto_int.h"

typedef struct decoder {
    dr_arena *arena; /* NULL: dr_alloc */
    dr_proto_path path;
    unsigned depth;
    dr_err *err;
} decoder;


/* jansson's hash seed: fixed, so nothing in here reads /dev/urandom or the
 * clock (jansson seeds itself on first use otherwise). Objects iterate in
 * insertion order, so the seed changes no output. */
#define JSON_SEED 0x44524f4du

/* One JSON value as both decoders see it: the tree decoder converts jansson
 * scalars into this, the streaming one builds it from tokens, and both share
 * every conversion below (so the two agree on every error text). */
typedef enum jkind { JK_NULL, JK_BOOL, JK_INT, JK_REAL, JK_STRING, JK_OBJECT, JK_ARRAY } jkind;

typedef struct jscalar {
    jkind kind;
    bool b;
    long long i;
    double r;
    const char *s; /* NUL-terminated, s_size bytes, no NUL inside */
    size_t s_size;
} jscalar;

static const char *kind_name(jkind k)
{
    switch (k) {
    case JK_OBJECT: return "an object";
    case JK_ARRAY: return "an array";
    case JK_STRING: return "a string";
    case JK_INT: return "an integer";
    case JK_REAL: return "a number";
    case JK_BOOL: return "a boolean";
    case JK_NULL: return "null";
    }
    return "?";
}

static dr_code type_error(decoder *d, const char *expected, jkind got)
{
    return dr_err_set(d->err, DR_EINVAL, "'%s': expected %s, got %s",
                      dr__proto_path_cstr(&d->path), expected, kind_name(got));
}

static void *alloc(decoder *d, size_t size)
{
    return dr__proto_alloc(d->arena, size);
}

static void path_restore(decoder *d, size_t saved)
{
    d->path.size = saved;
    d->path.text[saved] = '\0';
}

/* ---- scalars ---------------------------------------------------------------- */

/* Reads an integer from a JSON integer, an integral real or a string of
 * digits (as proto3 JSON does), into [min, max]. */
static dr_code read_int(decoder *d, const jscalar *v, int64_t min, int64_t max, const char *type,
                        int64_t *out)
{
    int64_t x;
    if (v->kind == JK_INT) {
        x = v->i;
    } else if (v->kind == JK_REAL) {
        double r = v->r;
        if (!(r == floor(r)) || !(r >= -9223372036854775808.0) || !(r < 9223372036854775808.0))
            return dr_err_set(d->err, DR_EINVAL, "'%s': %g is not a valid %s",
                              dr__proto_path_cstr(&d->path), r, type);
        x = (int64_t)r;
    } else if (v->kind == JK_STRING) {
        const char *s = v->s;
        char *end = NULL;
        errno = 0;
        long long ll = strtoll(s, &end, 10);
        if (end == s || *end != '\0' || errno != 0 || (*s != '-' && (*s < '0' || *s > '9')))
            return dr_err_set(d->err, DR_EINVAL, "'%s': \"%.40s\" is not a valid %s",
                              dr__proto_path_cstr(&d->path), s, type);
        x = ll;
    } else {
        return type_error(d, "an integer", v->kind);
    }
    if (x < min || x > max)
        return dr_err_set(d->err, DR_EINVAL, "'%s': %lld is out of range for %s",
                          dr__proto_path_cstr(&d->path), (long long)x, type);
    *out = x;
    return DR_OK;
}

static dr_code read_uint64(decoder *d, const jscalar *v, uint64_t max, const char *type,
                           uint64_t *out)
{
    uint64_t x;
    if (v->kind == JK_STRING) {
        const char *s = v->s;
        char *end = NULL;
        errno = 0;
        unsigned long long ull = strtoull(s, &end, 10);
        if (end == s || *end != '\0' || errno != 0 || *s < '0' || *s > '9')
            return dr_err_set(d->err, DR_EINVAL, "'%s': \"%.40s\" is not a valid %s",
                              dr__proto_path_cstr(&d->path), s, type);
        x = ull;
    } else if (v->kind == JK_REAL) {
        double r = v->r;
        if (!(r == floor(r)) || !(r >= 0.0) || !(r < 18446744073709551616.0))
            return dr_err_set(d->err, DR_EINVAL, "'%s': %g is not a valid %s",
                              dr__proto_path_cstr(&d->path), r, type);
        x = (uint64_t)r;
    } else if (v->kind == JK_INT) {
        if (v->i < 0)
            return dr_err_set(d->err, DR_EINVAL, "'%s': %lld is out of range for %s",
                              dr__proto_path_cstr(&d->path), v->i, type);
        x = (uint64_t)v->i;
    } else {
        return type_error(d, "an integer", v->kind);
    }
    if (x > max)
        return dr_err_set(d->err, DR_EINVAL, "'%s': %llu is out of range for %s",
                          dr__proto_path_cstr(&d->path), (unsigned long long)x, type);
    *out = x;
    return DR_OK;
}

static dr_code read_double(decoder *d, const jscalar *v, double *out)
{
    if (v->kind == JK_REAL) {
        *out = v->r;
        return DR_OK;
    }
    if (v->kind == JK_INT) {
        *out = (double)v->i;
        return DR_OK;
    }
    if (v->kind != JK_STRING)
        return type_error(d, "a number", v->kind);
    const char *s = v->s;
    if (strcmp(s, "NaN") == 0) {
        *out = NAN;
        return DR_OK;
    }
    if (strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        return DR_OK;
    }
    char *end = NULL;
    double x = strtod(s, &end);
    /* strtod also takes "inf", "nan" and hex: only plain decimals here. */
    bool plain = end != s && *end == '\0' && strpbrk(s, "xXiInN") == NULL;
    if (!plain || !isfinite(x))
        return dr_err_set(d->err, DR_EINVAL, "'%s': \"%.40s\" is not a number",
                          dr__proto_path_cstr(&d->path), s);
    *out = x;
    return DR_OK;
}

/* Sets *present false for an unknown enum value (dropped by the caller). */
static dr_code read_enum(decoder *d, const ProtobufCFieldDescriptor *f, const jscalar *v,
                         int *out, bool *present)
{
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    const ProtobufCEnumValue *ev = NULL;
    if (v->kind == JK_STRING) {
        ev = protobuf_c_enum_descriptor_get_value_by_name(ed, v->s);
    } else if (v->kind == JK_INT) {
        if (v->i >= INT32_MIN && v->i <= INT32_MAX)
            ev = protobuf_c_enum_descriptor_get_value(ed, (int)v->i);
    } else {
        return type_error(d, "an enum name", v->kind);
    }
    if (ev == NULL) {
        if (f->label == PROTOBUF_C_LABEL_REQUIRED) {
            if (v->kind == JK_STRING)
                return dr_err_set(d->err, DR_EINVAL, "'%s': unknown %s value '%.64s'",
                                  dr__proto_path_cstr(&d->path), ed->name, v->s);
            return dr_err_set(d->err, DR_EINVAL, "'%s': unknown %s value %lld",
                              dr__proto_path_cstr(&d->path), ed->name, v->i);
        }
        *present = false; /* Mesos drops unknown enum values: see MESOS-4997 */
        return DR_OK;
    }
    *out = ev->value;
    return DR_OK;
}

/* ---- base64 ----------------------------------------------------------------- */

static const int8_t base64_value[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,
    ['H'] = 8,  ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14,
    ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21,
    ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28,
    ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35,
    ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
    ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49,
    ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63,
    ['/'] = 64,
}; /* value + 1; 0 means "not in the alphabet" */

dr_code dr_base64_decode(const char *text, size_t size, uint8_t *out, size_t *out_size,
                         dr_err *err)
{
    size_t n = size;
    if (n % 4 == 0 && n >= 1 && text[n - 1] == '=')
        n--;
    if (n % 4 == 3 && n >= 1 && text[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return dr_err_set(err, DR_EINVAL, "invalid base64: length %zu", size);
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = base64_value[(unsigned char)text[i]];
        if (v == 0)
            return dr_err_set(err, DR_EINVAL, "invalid base64: bad character at offset %zu", i);
        acc = (acc << 6) | (uint32_t)(v - 1);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* Leftover bits must be zero, so that each byte string has one encoding. */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return dr_err_set(err, DR_EINVAL, "invalid base64: trailing bits are not zero");
    *out_size = o;
    return DR_OK;
}

static dr_code read_bytes(decoder *d, const jscalar *v, ProtobufCBinaryData *out)
{
    if (v->kind != JK_STRING)
        return type_error(d, "a base64 string", v->kind);
    uint8_t *data = alloc(d, v->s_size / 4 * 3 + 3);
    size_t data_size = 0;
    dr_code rc = dr_base64_decode(v->s, v->s_size, data, &data_size, d->err);
    if (rc != DR_OK) {
        if (d->arena == NULL)
            dr_free(data);
        return dr_err_wrap(d->err, "'%s'", dr__proto_path_cstr(&d->path));
    }
    out->data = data;
    out->len = data_size;
    return DR_OK;
}

/* Converts a scalar into the value at member (a singular field or one element
 * of a repeated one). *present is false when the value is dropped. */
static dr_code convert_scalar(decoder *d, const ProtobufCFieldDescriptor *f, const jscalar *v,
                              void *member, bool *present)
{
    int64_t i = 0;
    uint64_t u = 0;
    dr_code rc = DR_OK;
    *present = true;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        rc = read_int(d, v, INT32_MIN, INT32_MAX, "int32", &i);
        if (rc == DR_OK)
            *(int32_t *)member = (int32_t)i;
        return rc;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        rc = read_int(d, v, INT64_MIN, INT64_MAX, "int64", &i);
        if (rc == DR_OK)
            *(int64_t *)member = i;
        return rc;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        rc = read_uint64(d, v, UINT32_MAX, "uint32", &u);
        if (rc == DR_OK)
            *(uint32_t *)member = (uint32_t)u;
        return rc;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        rc = read_uint64(d, v, UINT64_MAX, "uint64", &u);
        if (rc == DR_OK)
            *(uint64_t *)member = u;
        return rc;
    case PROTOBUF_C_TYPE_FLOAT: {
        double x = 0;
        rc = read_double(d, v, &x);
        if (rc == DR_OK)
            *(float *)member = (float)x;
        return rc;
    }
    case PROTOBUF_C_TYPE_DOUBLE:
        return read_double(d, v, (double *)member);
    case PROTOBUF_C_TYPE_BOOL:
        if (v->kind != JK_BOOL)
            return type_error(d, "a boolean", v->kind);
        *(protobuf_c_boolean *)member = v->b;
        return DR_OK;
    case PROTOBUF_C_TYPE_ENUM:
        return read_enum(d, f, v, (int *)member, present);
    case PROTOBUF_C_TYPE_STRING: {
        if (v->kind != JK_STRING)
            return type_error(d, "a string", v->kind);
        char *str = alloc(d, v->s_size + 1);
        memcpy(str, v->s, v->s_size + 1);
        *(char **)member = str;
        return DR_OK;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return read_bytes(d, v, (ProtobufCBinaryData *)member);
    case PROTOBUF_C_TYPE_MESSAGE:
        return type_error(d, "an object", v->kind);
    }
    DR_UNREACHABLE();
}

/* Marks a singular optional field present. */
static void mark_present(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    if (f->label != PROTOBUF_C_LABEL_OPTIONAL)
        return;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *)((char *)msg + f->quantifier_offset) = f->id;
    else if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *)((char *)msg + f->quantifier_offset) = 1;
}

/* The first required field of desc not in seen, as an error. */
static dr_code check_seen(decoder *d, const ProtobufCMessageDescriptor *desc, const uint64_t *seen)
{
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (f->label != PROTOBUF_C_LABEL_REQUIRED || (seen[i / 64] >> (i % 64)) & 1u)
            continue;
        size_t saved = d->path.size;
        dr__proto_path_push_field(&d->path, f->name);
        dr_code rc = dr_err_set(d->err, DR_EINVAL, "'%s' is required", dr__proto_path_cstr(&d->path));
        path_restore(d, saved);
        return rc;
    }
    return DR_OK;
}

static dr_code depth_error(decoder *d)
{
    return dr_err_set(d->err, DR_EINVAL, "'%s': maximum parsing depth (%u) reached",
                      dr__proto_path_cstr(&d->path), DR_JSON_DEPTH_MAX);
}

/* ---- the tree decoder (from a jansson value) ---------------------------------- */

static jkind tree_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return JK_OBJECT;
    case JSON_ARRAY: return JK_ARRAY;
    case JSON_STRING: return JK_STRING;
    case JSON_INTEGER: return JK_INT;
    case JSON_REAL: return JK_REAL;
    case JSON_TRUE:
    case JSON_FALSE: return JK_BOOL;
    case JSON_NULL: return JK_NULL;
    }
    return JK_NULL;
}

static void tree_scalar(const json_t *v, jscalar *out)
{
    memset(out, 0, sizeof *out);
    out->kind = tree_kind(v);
    switch (out->kind) {
    case JK_BOOL: out->b = json_is_true(v); break;
    case JK_INT: out->i = json_integer_value(v); break;
    case JK_REAL: out->r = json_real_value(v); break;
    case JK_STRING:
        out->s = json_string_value(v);
        out->s_size = json_string_length(v);
        break;
    default: break;
    }
}

static dr_code tree_message(decoder *d, const ProtobufCMessageDescriptor *desc, const json_t *obj,
                            ProtobufCMessage *msg);

static dr_code tree_value(decoder *d, const ProtobufCFieldDescriptor *f, const json_t *v,
                          void *member, bool *present)
{
    if (f->type == PROTOBUF_C_TYPE_MESSAGE && json_is_object(v)) {
        const ProtobufCMessageDescriptor *sub = f->descriptor;
        ProtobufCMessage *m = alloc(d, sub->sizeof_message);
        protobuf_c_message_init(sub, m);
        *(ProtobufCMessage **)member = m; /* reachable before it is filled */
        *present = true;
        return tree_message(d, sub, v, m);
    }
    jscalar js;
    tree_scalar(v, &js);
    return convert_scalar(d, f, &js, member, present);
}

static dr_code tree_repeated(decoder *d, const ProtobufCFieldDescriptor *f, const json_t *v,
                             ProtobufCMessage *msg)
{
    if (!json_is_array(v))
        return type_error(d, "an array", tree_kind(v));
    size_t count = json_array_size(v);
    size_t *n = (size_t *)((char *)msg + f->quantifier_offset);
    void **arr = (void **)((char *)msg + f->offset);
    DR_ASSERT(*n == 0);
    if (count == 0)
        return DR_OK;
    size_t esize = dr__proto_element_size(f);
    char *elements = alloc(d, count * esize); /* count is bounded by the input size */
    *arr = elements;
    size_t saved = d->path.size;
    for (size_t k = 0; k < count; k++) {
        const json_t *e = json_array_get(v, k);
        if (json_is_null(e))
            continue; /* null elements are unset: dropped */
        dr__proto_path_push_index(&d->path, k);
        bool present = false;
        /* A message element is counted before it is filled so that a failure
         * inside it still frees it; other values count once decoded. */
        if (f->type == PROTOBUF_C_TYPE_MESSAGE)
            ((ProtobufCMessage **)(void *)elements)[*n] = NULL;
        dr_code rc = tree_value(d, f, e, elements + *n * esize, &present);
        if (present)
            (*n)++;
        path_restore(d, saved);
        if (rc != DR_OK)
            return rc;
    }
    return DR_OK;
}

static dr_code tree_message(decoder *d, const ProtobufCMessageDescriptor *desc, const json_t *obj,
                            ProtobufCMessage *msg)
{
    if (!json_is_object(obj))
        return type_error(d, "an object", tree_kind(obj));
    if (d->depth >= DR_JSON_DEPTH_MAX)
        return depth_error(d);
    d->depth++;
    DR_ASSERT(desc->n_fields <= 256);
    uint64_t seen[4] = {0, 0, 0, 0}; /* by index in desc->fields */
    size_t saved = d->path.size;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, key);
        if (f == NULL || json_is_null(v))
            continue; /* unknown keys are ignored; null is unset */
        dr__proto_path_push_field(&d->path, f->name);
        dr_code rc = DR_OK;
        bool present = true;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            rc = tree_repeated(d, f, v, msg);
        } else {
            rc = tree_value(d, f, v, (char *)msg + f->offset, &present);
            if (present)
                mark_present(msg, f);
        }
        path_restore(d, saved);
        if (rc != DR_OK)
            return rc;
        if (present) {
            size_t index = (size_t)(f - desc->fields);
            seen[index / 64] |= UINT64_C(1) << (index % 64);
        }
    }
    d->depth--;
    return check_seen(d, desc, seen);
}

/* ---- the streaming decoder (from text, into an arena) ---------------------- */

/* Parses JSON text straight into the message, with no intermediate tree:
 * a GET_STATE-sized document would otherwise cost jansson's millions of small
 * allocations. It accepts exactly the JSON jansson accepts (RFC 8259, UTF-8,
 * no \u0000), with one difference: all nesting, also under ignored keys, is
 * limited to DR_JSON_DEPTH_MAX. A key given twice keeps its last value, as
 * with jansson, but an error in an earlier value still fails the decode. */
typedef struct stream {
    decoder d;
    const char *start, *p, *end;
    char *scratch; /* unescaped strings that are not kept */
    size_t scratch_capacity;
} stream;

static dr_code syntax_error(stream *s, const char *what)
{
    int line = 1, column = 1;
    for (const char *q = s->start; q < s->p && q < s->end; q++) {
        if (*q == '\n') {
            line++;
            column = 1;
        } else {
            column++;
        }
    }
    return dr_err_set(s->d.err, DR_EINVAL, "invalid JSON at line %d, column %d: %s", line,
                      column, what);
}

static inline void skip_ws(stream *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

static inline int peek(stream *s)
{
    skip_ws(s);
    return s->p < s->end ? (unsigned char)*s->p : -1;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], h;
        if (c >= '0' && c <= '9')
            h = c - '0';
        else if (c >= 'a' && c <= 'f')
            h = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            h = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static char *put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/* Length of a valid UTF-8 sequence at p (at most avail bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, v = c & 0x1fu, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, v = c & 0x0fu, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, v = c & 0x07u, min = 0x10000;
    else
        return 0;
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    return n;
}

/* Parses a string at s->p (at '"'). Without escapes, *out points into the
 * input (not NUL-terminated) unless must_copy; otherwise the unescaped text
 * goes to dst (room for raw length + 1, may be NULL: then scratch) and ends
 * in a NUL. *size is its length. */
static dr_code parse_string(stream *s, char *dst, bool must_copy, const char **out, size_t *size)
{
    DR_ASSERT(*s->p == '"');
    const char *q = ++s->p;
    bool escaped = false;
    /* Pass 1: find the end, check bytes. */
    while (q < s->end && *q != '"') {
        unsigned char c = (unsigned char)*q;
        if (c == '\\') {
            escaped = true;
            if (s->end - q < 2) {
                q = s->end; /* unterminated */
                break;
            }
            q += 2;
            continue;
        }
        if (c < 0x20) {
            s->p = q;
            return syntax_error(s, "control character in string");
        }
        if (c >= 0x80) {
            size_t n = utf8_len((const unsigned char *)q, (size_t)(s->end - q));
            if (n == 0) {
                s->p = q;
                return syntax_error(s, "invalid UTF-8 in string");
            }
            q += n;
            continue;
        }
        q++;
    }
    if (q >= s->end) {
        s->p = s->end;
        return syntax_error(s, "unterminated string");
    }
    size_t raw = (size_t)(q - s->p);
    if (!escaped && !must_copy) {
        *out = s->p;
        *size = raw;
        s->p = q + 1;
        return DR_OK;
    }
    if (dst == NULL) {
        if (s->scratch_capacity < raw + 1) {
            s->scratch_capacity = DR_MAX(raw + 1, 2 * s->scratch_capacity);
            s->scratch = dr_realloc(s->scratch, s->scratch_capacity);
        }
        dst = s->scratch;
    }
    char *o = dst;
    const char *r = s->p;
    while (r < q) {
        if (*r != '\\') {
            const char *run = r;
            while (r < q && *r != '\\')
                r++;
            memcpy(o, run, (size_t)(r - run));
            o += r - run;
            continue;
        }
        s->p = r;
        char e = r[1];
        r += 2;
        switch (e) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            int v = q - r >= 4 ? hex4(r) : -1;
            if (v < 0)
                return syntax_error(s, "invalid \\u escape");
            r += 4;
            uint32_t cp = (uint32_t)v;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return syntax_error(s, "invalid Unicode escape (lone low surrogate)");
            if (cp >= 0xd800 && cp <= 0xdbff) {
                int lo = q - r >= 6 && r[0] == '\\' && r[1] == 'u' ? hex4(r + 2) : -1;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return syntax_error(s, "invalid Unicode escape (lone high surrogate)");
                r += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
            }
            if (cp == 0)
                return syntax_error(s, "\\u0000 is not allowed");
            o = put_utf8(o, cp); /* never longer than its escape */
            break;
        }
        default:
            return syntax_error(s, "invalid escape");
        }
    }
    *o = '\0';
    *out = dst;
    *size = (size_t)(o - dst);
    s->p = q + 1;
    return DR_OK;
}

/* Parses a number, true, false or null at s->p into v (strings are handled
 * by the caller). Follows jansson: integers are those without '.', 'e', 'E'. */
static dr_code parse_atom(stream *s, jscalar *v)
{
    memset(v, 0, sizeof *v);
    const char *p = s->p;
    size_t avail = (size_t)(s->end - p);
    if (avail >= 4 && memcmp(p, "true", 4) == 0) {
        v->kind = JK_BOOL;
        v->b = true;
        s->p += 4;
        return DR_OK;
    }
    if (avail >= 5 && memcmp(p, "false", 5) == 0) {
        v->kind = JK_BOOL;
        s->p += 5;
        return DR_OK;
    }
    if (avail >= 4 && memcmp(p, "null", 4) == 0) {
        v->kind = JK_NULL;
        s->p += 4;
        return DR_OK;
    }
    const char *q = p;
    bool real = false;
    if (q < s->end && *q == '-')
        q++;
    if (q < s->end && *q == '0') {
        q++;
    } else if (q < s->end && *q >= '1' && *q <= '9') {
        while (q < s->end && *q >= '0' && *q <= '9')
            q++;
    } else {
        return syntax_error(s, "invalid token");
    }
    if (q < s->end && *q == '.') {
        real = true;
        q++;
        if (q >= s->end || *q < '0' || *q > '9')
            return syntax_error(s, "invalid number");
        while (q < s->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < s->end && (*q == 'e' || *q == 'E')) {
        real = true;
        q++;
        if (q < s->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= s->end || *q < '0' || *q > '9')
            return syntax_error(s, "invalid number");
        while (q < s->end && *q >= '0' && *q <= '9')
            q++;
    }
    size_t len = (size_t)(q - p);
    char small[64];
    char *buf = small;
    if (len >= sizeof small) {
        if (s->scratch_capacity < len + 1) {
            s->scratch_capacity = DR_MAX(len + 1, 2 * s->scratch_capacity);
            s->scratch = dr_realloc(s->scratch, s->scratch_capacity);
        }
        buf = s->scratch;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';
    errno = 0;
    if (!real) {
        v->kind = JK_INT;
        v->i = strtoll(buf, NULL, 10);
        if (errno == ERANGE)
            return syntax_error(s, v->i < 0 ? "too big negative integer" : "too big integer");
    } else {
        v->kind = JK_REAL;
        v->r = strtod(buf, NULL);
        if (errno == ERANGE && (v->r == HUGE_VAL || v->r == -HUGE_VAL))
            return syntax_error(s, "real number overflow");
    }
    s->p = q;
    return DR_OK;
}

/* Skips one value of any kind, checking its syntax. */
static dr_code skip_value(stream *s, unsigned depth)
{
    int c = peek(s);
    if (c == '"') {
        const char *str;
        size_t size;
        return parse_string(s, NULL, false, &str, &size);
    }
    if (c != '{' && c != '[') {
        jscalar v;
        return c < 0 ? syntax_error(s, "unexpected end of input") : parse_atom(s, &v);
    }
    if (depth >= DR_JSON_DEPTH_MAX)
        return syntax_error(s, "maximum parsing depth reached");
    char close = c == '{' ? '}' : ']';
    s->p++;
    if (peek(s) == close) {
        s->p++;
        return DR_OK;
    }
    for (;;) {
        if (close == '}') {
            if (peek(s) != '"')
                return syntax_error(s, "string or '}' expected");
            const char *key;
            size_t key_size;
            dr_code rc = parse_string(s, NULL, false, &key, &key_size);
            if (rc != DR_OK)
                return rc;
            if (peek(s) != ':')
                return syntax_error(s, "':' expected");
            s->p++;
        }
        dr_code rc = skip_value(s, depth + 1);
        if (rc != DR_OK)
            return rc;
        c = peek(s);
        s->p++;
        if (c == close)
            return DR_OK;
        if (c != ',') {
            s->p--;
            return syntax_error(s, close == '}' ? "'}' or ',' expected" : "']' or ',' expected");
        }
    }
}

/* The field of desc named key[key_size], or NULL. */
static const ProtobufCFieldDescriptor *field_by_name(const ProtobufCMessageDescriptor *desc,
                                                     const char *key, size_t key_size)
{
    unsigned lo = 0, hi = desc->n_fields;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        const ProtobufCFieldDescriptor *f = &desc->fields[desc->fields_sorted_by_name[mid]];
        int c = strncmp(f->name, key, key_size);
        if (c == 0)
            c = f->name[key_size] == '\0' ? 0 : 1;
        if (c == 0)
            return f;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Unsets a field given twice, so that the last value wins (an arena owns the
 * old value). */
static void clear_field(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    char *member = (char *)msg + f->offset;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        *(size_t *)((char *)msg + f->quantifier_offset) = 0;
        *(void **)member = NULL;
        return;
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *)((char *)msg + f->quantifier_offset) = 0;
    else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
             f->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *)((char *)msg + f->quantifier_offset) = 0;
    if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
        *(const void **)member = f->type == PROTOBUF_C_TYPE_STRING ? f->default_value : NULL;
        return;
    }
    size_t size = f->type == PROTOBUF_C_TYPE_BYTES ? sizeof(ProtobufCBinaryData)
                                                   : dr__proto_element_size(f);
    if (f->default_value != NULL)
        memcpy(member, f->default_value, size);
    else
        memset(member, 0, size);
}

static dr_code stream_message(stream *s, const ProtobufCMessageDescriptor *desc,
                              ProtobufCMessage *msg, unsigned depth);

/* Parses the value of field f into member; s->p is at the value. */
static dr_code stream_value(stream *s, const ProtobufCFieldDescriptor *f, void *member,
                            bool *present, unsigned depth)
{
    int c = peek(s);
    jscalar v;
    if (c == '{') {
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
            dr_code rc = skip_value(s, depth); /* syntax errors first, as jansson would */
            return rc != DR_OK ? rc : convert_scalar(&s->d, f, &(jscalar){.kind = JK_OBJECT}, member, present);
        }
        const ProtobufCMessageDescriptor *sub = f->descriptor;
        ProtobufCMessage *m = alloc(&s->d, sub->sizeof_message);
        protobuf_c_message_init(sub, m);
        *(ProtobufCMessage **)member = m;
        *present = true;
        return stream_message(s, sub, m, depth);
    }
    if (c == '[') {
        dr_code rc = skip_value(s, depth);
        return rc != DR_OK ? rc : convert_scalar(&s->d, f, &(jscalar){.kind = JK_ARRAY}, member, present);
    }
    if (c == '"') {
        memset(&v, 0, sizeof v);
        v.kind = JK_STRING;
        dr_code rc = parse_string(s, NULL, true, &v.s, &v.s_size);
        if (rc != DR_OK)
            return rc;
        return convert_scalar(&s->d, f, &v, member, present); /* copies from scratch */
    }
    if (c < 0)
        return syntax_error(s, "unexpected end of input");
    dr_code rc = parse_atom(s, &v);
    if (rc != DR_OK)
        return rc;
    return convert_scalar(&s->d, f, &v, member, present);
}

static dr_code stream_repeated(stream *s, const ProtobufCFieldDescriptor *f, ProtobufCMessage *msg,
                               unsigned depth)
{
    int c = peek(s);
    if (c != '[') {
        jscalar v = {.kind = c == '{' ? JK_OBJECT : JK_STRING};
        dr_code rc = c == '{' || c == '"' ? skip_value(s, depth) : parse_atom(s, &v);
        return rc != DR_OK ? rc : type_error(&s->d, "an array", v.kind);
    }
    if (depth >= DR_JSON_DEPTH_MAX)
        return syntax_error(s, "maximum parsing depth reached");
    s->p++;
    size_t esize = dr__proto_element_size(f);
    size_t count = 0, capacity = 0;
    char *tmp = NULL; /* elements, moved to the arena at the end */
    size_t saved = s->d.path.size;
    dr_code rc = DR_OK;
    if (peek(s) == ']') {
        s->p++;
        goto done;
    }
    for (size_t k = 0;; k++) {
        if (count == capacity) {
            capacity = capacity < 8 ? 8 : 2 * capacity;
            tmp = dr_realloc(tmp, capacity * esize);
        }
        if (peek(s) == 'n' && s->end - s->p >= 4 && memcmp(s->p, "null", 4) == 0) {
            s->p += 4; /* null elements are unset: dropped */
        } else {
            dr__proto_path_push_index(&s->d.path, k);
            bool present = false;
            rc = stream_value(s, f, tmp + count * esize, &present, depth + 1);
            path_restore(&s->d, saved);
            if (rc != DR_OK)
                goto done;
            if (present)
                count++;
        }
        int sep = peek(s);
        s->p++;
        if (sep == ']')
            break;
        if (sep != ',') {
            s->p--;
            rc = syntax_error(s, "']' or ',' expected");
            goto done;
        }
    }
    if (count > 0) {
        char *elements = alloc(&s->d, count * esize);
        memcpy(elements, tmp, count * esize);
        *(void **)((char *)msg + f->offset) = elements;
        *(size_t *)((char *)msg + f->quantifier_offset) = count;
    }
done:
    dr_free(tmp);
    return rc;
}

/* Checked once per message: what is allocated in between is bounded by one
 * message struct and the strings it holds (at most the input's size). */
static dr_code check_budget(stream *s)
{
    const dr_arena *a = s->d.arena;
    if (a->size_max == 0 || a->used_size <= a->size_max)
        return DR_OK;
    return dr_err_set(s->d.err, DR_ETOOBIG, "'%s': over the arena's limit of %zu bytes",
                      dr__proto_path_cstr(&s->d.path), a->size_max);
}

static dr_code stream_message(stream *s, const ProtobufCMessageDescriptor *desc,
                              ProtobufCMessage *msg, unsigned depth)
{
    DR_ASSERT(*s->p == '{');
    if (depth >= DR_JSON_DEPTH_MAX)
        return syntax_error(s, "maximum parsing depth reached");
    dr_code budget_rc = check_budget(s);
    if (budget_rc != DR_OK)
        return budget_rc;
    s->p++;
    DR_ASSERT(desc->n_fields <= 256);
    uint64_t seen[4] = {0, 0, 0, 0};   /* present, by index in desc->fields */
    uint64_t given[4] = {0, 0, 0, 0};  /* key met, for last-wins */
    size_t saved = s->d.path.size;
    if (peek(s) == '}') {
        s->p++;
        return check_seen(&s->d, desc, seen);
    }
    for (;;) {
        if (peek(s) != '"')
            return syntax_error(s, "string or '}' expected");
        const char *key;
        size_t key_size;
        dr_code rc = parse_string(s, NULL, false, &key, &key_size);
        if (rc != DR_OK)
            return rc;
        if (peek(s) != ':')
            return syntax_error(s, "':' expected");
        s->p++;
        const ProtobufCFieldDescriptor *f =
            memchr(key, '\0', key_size) == NULL ? field_by_name(desc, key, key_size) : NULL;
        if (f == NULL) {
            rc = skip_value(s, depth + 1); /* unknown keys are ignored */
        } else {
            size_t index = (size_t)(f - desc->fields);
            uint64_t bit = UINT64_C(1) << (index % 64);
            if (given[index / 64] & bit) {
                clear_field(msg, f);
                seen[index / 64] &= ~bit;
            }
            given[index / 64] |= bit;
            if (peek(s) == 'n' && s->end - s->p >= 4 && memcmp(s->p, "null", 4) == 0) {
                s->p += 4; /* null is unset */
            } else {
                dr__proto_path_push_field(&s->d.path, f->name);
                bool present = true;
                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                    rc = stream_repeated(s, f, msg, depth + 1);
                } else {
                    rc = stream_value(s, f, (char *)msg + f->offset, &present, depth + 1);
                    if (present)
                        mark_present(msg, f);
                }
                path_restore(&s->d, saved);
                if (rc == DR_OK && present)
                    seen[index / 64] |= bit;
            }
        }
        if (rc != DR_OK)
            return rc;
        int sep = peek(s);
        s->p++;
        if (sep == '}')
            break;
        if (sep != ',') {
            s->p--;
            return syntax_error(s, "'}' or ',' expected");
        }
    }
    return check_seen(&s->d, desc, seen);
}

/* ---- entry points -------------------------------------------------------------- */

dr_code dr_json_decode_value(const ProtobufCMessageDescriptor *desc, const json_t *value,
                             dr_arena *arena, ProtobufCMessage **out, dr_err *err)
{
    DR_ASSERT(desc->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    dr_err scratch;
    decoder d = {.arena = arena, .err = err != NULL ? err : &scratch};
    ProtobufCMessage *m = dr__proto_alloc(arena, desc->sizeof_message);
    protobuf_c_message_init(desc, m);
    dr_code rc = tree_message(&d, desc, value, m);
    if (rc != DR_OK) {
        if (arena == NULL)
            protobuf_c_message_free_unpacked(m, NULL);
        return dr_err_wrap(d.err, "%s", dr_proto_name(desc));
    }
    *out = m;
    return DR_OK;
}

static dr_code decode_stream(const ProtobufCMessageDescriptor *desc, const char *text,
                             size_t size, dr_arena *arena, ProtobufCMessage **out, dr_err *err)
{
    stream s = {.d = {.arena = arena, .err = err}, .start = text, .p = text, .end = text + size};
    dr_code rc = DR_OK;
    ProtobufCMessage *m = NULL;
    int c = peek(&s);
    if (c == '[') {
        rc = skip_value(&s, 0);
        if (rc == DR_OK)
            rc = type_error(&s.d, "an object", JK_ARRAY);
    } else if (c != '{') {
        rc = syntax_error(&s, "'[' or '{' expected");
    } else {
        m = alloc(&s.d, desc->sizeof_message);
        protobuf_c_message_init(desc, m);
        rc = stream_message(&s, desc, m, 0);
        if (rc == DR_OK)
            rc = check_budget(&s);
        if (rc == DR_OK && peek(&s) >= 0)
            rc = syntax_error(&s, "end of file expected");
    }
    dr_free(s.scratch);
    if (rc != DR_OK)
        return dr_err_wrap(err, "%s", dr_proto_name(desc));
    *out = m;
    return DR_OK;
}

dr_code dr_json_decode(const ProtobufCMessageDescriptor *desc, const char *text, size_t size,
                       dr_arena *arena, ProtobufCMessage **out, dr_err *err)
{
    dr_err scratch;
    if (err == NULL)
        err = &scratch;
    if (size > DR_PROTO_MESSAGE_SIZE_MAX)
        return dr_err_set(err, DR_ETOOBIG, "%s JSON of %zu bytes: over the limit of %u",
                          dr_proto_name(desc), size, DR_PROTO_MESSAGE_SIZE_MAX);
    if (arena != NULL)
        return decode_stream(desc, text, size, arena, out, err);
    /* Without an arena the message must free with protobuf-c's free_unpacked,
     * which the tree decoder guarantees at every step. */
    json_object_seed(JSON_SEED);
    json_error_t jerr;
    json_t *root = json_loadb(text, size, 0, &jerr);
    if (root == NULL)
        return dr_err_set(err, DR_EINVAL, "%s: invalid JSON at line %d, column %d: %s",
                          dr_proto_name(desc), jerr.line, jerr.column, jerr.text);
    dr_code rc = dr_json_decode_value(desc, root, NULL, out, err);
    json_decref(root);
    return rc;
}
