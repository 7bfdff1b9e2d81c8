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

static dr_code decode_message(decoder *d, const ProtobufCMessageDescriptor *desc,
                              const json_t *obj, ProtobufCMessage *msg);

/* jansson's hash seed: fixed, so nothing in here reads /dev/urandom or the
 * clock (jansson seeds itself on first use otherwise). Objects iterate in
 * insertion order, so the seed changes no output. */
#define JSON_SEED 0x44524f4du

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

static dr_code type_error(decoder *d, const char *expected, const json_t *got)
{
    return dr_err_set(d->err, DR_EINVAL, "'%s': expected %s, got %s",
                      dr__proto_path_cstr(&d->path), expected, json_kind(got));
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
static dr_code read_int(decoder *d, const json_t *v, int64_t min, int64_t max, const char *type,
                        int64_t *out)
{
    int64_t x;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v)) {
        double r = json_real_value(v);
        if (!(r == floor(r)) || !(r >= -9223372036854775808.0) || !(r < 9223372036854775808.0))
            return dr_err_set(d->err, DR_EINVAL, "'%s': %g is not a valid %s",
                              dr__proto_path_cstr(&d->path), r, type);
        x = (int64_t)r;
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        errno = 0;
        long long ll = strtoll(s, &end, 10);
        if (end == s || *end != '\0' || errno != 0 || (*s != '-' && (*s < '0' || *s > '9')))
            return dr_err_set(d->err, DR_EINVAL, "'%s': \"%.40s\" is not a valid %s",
                              dr__proto_path_cstr(&d->path), s, type);
        x = ll;
    } else {
        return type_error(d, "an integer", v);
    }
    if (x < min || x > max)
        return dr_err_set(d->err, DR_EINVAL, "'%s': %lld is out of range for %s",
                          dr__proto_path_cstr(&d->path), (long long)x, type);
    *out = x;
    return DR_OK;
}

static dr_code read_uint64(decoder *d, const json_t *v, uint64_t max, const char *type,
                           uint64_t *out)
{
    uint64_t x;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        errno = 0;
        unsigned long long ull = strtoull(s, &end, 10);
        if (end == s || *end != '\0' || errno != 0 || *s < '0' || *s > '9')
            return dr_err_set(d->err, DR_EINVAL, "'%s': \"%.40s\" is not a valid %s",
                              dr__proto_path_cstr(&d->path), s, type);
        x = ull;
    } else if (json_is_real(v)) {
        double r = json_real_value(v);
        if (!(r == floor(r)) || !(r >= 0.0) || !(r < 18446744073709551616.0))
            return dr_err_set(d->err, DR_EINVAL, "'%s': %g is not a valid %s",
                              dr__proto_path_cstr(&d->path), r, type);
        x = (uint64_t)r;
    } else if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0)
            return dr_err_set(d->err, DR_EINVAL, "'%s': %lld is out of range for %s",
                              dr__proto_path_cstr(&d->path), (long long)i, type);
        x = (uint64_t)i;
    } else {
        return type_error(d, "an integer", v);
    }
    if (x > max)
        return dr_err_set(d->err, DR_EINVAL, "'%s': %llu is out of range for %s",
                          dr__proto_path_cstr(&d->path), (unsigned long long)x, type);
    *out = x;
    return DR_OK;
}

static dr_code read_double(decoder *d, const json_t *v, double *out)
{
    if (json_is_real(v)) {
        *out = json_real_value(v);
        return DR_OK;
    }
    if (json_is_integer(v)) {
        *out = (double)json_integer_value(v);
        return DR_OK;
    }
    if (!json_is_string(v))
        return type_error(d, "a number", v);
    const char *s = json_string_value(v);
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
static dr_code read_enum(decoder *d, const ProtobufCFieldDescriptor *f, const json_t *v,
                         int *out, bool *present)
{
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    const ProtobufCEnumValue *ev = NULL;
    if (json_is_string(v)) {
        ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
    } else if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i >= INT32_MIN && i <= INT32_MAX)
            ev = protobuf_c_enum_descriptor_get_value(ed, (int)i);
    } else {
        return type_error(d, "an enum name", v);
    }
    if (ev == NULL) {
        if (f->label == PROTOBUF_C_LABEL_REQUIRED) {
            if (json_is_string(v))
                return dr_err_set(d->err, DR_EINVAL, "'%s': unknown %s value '%.64s'",
                                  dr__proto_path_cstr(&d->path), ed->name, json_string_value(v));
            return dr_err_set(d->err, DR_EINVAL, "'%s': unknown %s value %lld",
                              dr__proto_path_cstr(&d->path), ed->name,
                              (long long)json_integer_value(v));
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

static dr_code read_bytes(decoder *d, const json_t *v, ProtobufCBinaryData *out)
{
    if (!json_is_string(v))
        return type_error(d, "a base64 string", v);
    size_t size = json_string_length(v);
    uint8_t *data = alloc(d, size / 4 * 3 + 3);
    size_t data_size = 0;
    dr_code rc = dr_base64_decode(json_string_value(v), size, data, &data_size, d->err);
    if (rc != DR_OK) {
        if (d->arena == NULL)
            dr_free(data);
        return dr_err_wrap(d->err, "'%s'", dr__proto_path_cstr(&d->path));
    }
    out->data = data;
    out->len = data_size;
    return DR_OK;
}

/* ---- fields ------------------------------------------------------------------ */

/* Decodes v into the value at member (one element of a repeated field or a
 * singular field). *present is false when the value is dropped. */
static dr_code decode_value(decoder *d, const ProtobufCFieldDescriptor *f, const json_t *v,
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
        if (!json_is_boolean(v))
            return type_error(d, "a boolean", v);
        *(protobuf_c_boolean *)member = json_is_true(v);
        return DR_OK;
    case PROTOBUF_C_TYPE_ENUM:
        return read_enum(d, f, v, (int *)member, present);
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v))
            return type_error(d, "a string", v);
        size_t size = json_string_length(v);
        char *s = alloc(d, size + 1);
        memcpy(s, json_string_value(v), size);
        s[size] = '\0';
        *(char **)member = s;
        return DR_OK;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return read_bytes(d, v, (ProtobufCBinaryData *)member);
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *sub = f->descriptor;
        if (!json_is_object(v))
            return type_error(d, "an object", v);
        ProtobufCMessage *m = alloc(d, sub->sizeof_message);
        protobuf_c_message_init(sub, m);
        *(ProtobufCMessage **)member = m; /* reachable before it is filled */
        return decode_message(d, sub, v, m);
    }
    }
    DR_UNREACHABLE();
}

static dr_code decode_repeated(decoder *d, const ProtobufCFieldDescriptor *f, const json_t *v,
                               ProtobufCMessage *msg)
{
    if (!json_is_array(v))
        return type_error(d, "an array", v);
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
        bool present = true;
        /* A message element is counted before it is filled so that a failure
         * inside it still frees it; other values count once decoded. */
        if (f->type == PROTOBUF_C_TYPE_MESSAGE)
            ((ProtobufCMessage **)(void *)elements)[*n] = NULL;
        dr_code rc = decode_value(d, f, e, elements + *n * esize, &present);
        if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
            ((ProtobufCMessage **)(void *)elements)[*n] != NULL)
            present = true;
        if (present)
            (*n)++;
        path_restore(d, saved);
        if (rc != DR_OK)
            return rc;
    }
    return DR_OK;
}

static dr_code decode_message(decoder *d, const ProtobufCMessageDescriptor *desc,
                              const json_t *obj, ProtobufCMessage *msg)
{
    if (!json_is_object(obj))
        return type_error(d, "an object", obj);
    if (d->depth >= DR_JSON_DEPTH_MAX)
        return dr_err_set(d->err, DR_EINVAL, "'%s': nested deeper than %u",
                          dr__proto_path_cstr(&d->path), DR_JSON_DEPTH_MAX);
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
            rc = decode_repeated(d, f, v, msg);
        } else {
            rc = decode_value(d, f, v, (char *)msg + f->offset, &present);
            if (present && f->label == PROTOBUF_C_LABEL_OPTIONAL) {
                if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                    *(uint32_t *)((char *)msg + f->quantifier_offset) = f->id;
                else if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
                    *(protobuf_c_boolean *)((char *)msg + f->quantifier_offset) = 1;
            }
        }
        path_restore(d, saved);
        if (rc != DR_OK)
            return rc;
        if (present) {
            size_t index = (size_t)(f - desc->fields);
            seen[index / 64] |= UINT64_C(1) << (index % 64);
        }
    }
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (f->label != PROTOBUF_C_LABEL_REQUIRED || (seen[i / 64] >> (i % 64)) & 1u)
            continue;
        dr__proto_path_push_field(&d->path, f->name);
        dr_code rc = dr_err_set(d->err, DR_EINVAL, "'%s' is required", dr__proto_path_cstr(&d->path));
        path_restore(d, saved);
        return rc;
    }
    d->depth--;
    return DR_OK;
}

/* ---- entry points -------------------------------------------------------------- */

dr_code dr_json_decode_value(const ProtobufCMessageDescriptor *desc, const json_t *value,
                             dr_arena *arena, ProtobufCMessage **out, dr_err *err)
{
    DR_ASSERT(desc->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    decoder d = {.arena = arena, .err = err};
    ProtobufCMessage *m = dr__proto_alloc(arena, desc->sizeof_message);
    protobuf_c_message_init(desc, m);
    dr_code rc = decode_message(&d, desc, value, m);
    if (rc != DR_OK) {
        if (arena == NULL)
            protobuf_c_message_free_unpacked(m, NULL);
        return dr_err_wrap(err, "%s", dr_proto_name(desc));
    }
    *out = m;
    return DR_OK;
}

dr_code dr_json_decode(const ProtobufCMessageDescriptor *desc, const char *text, size_t size,
                       dr_arena *arena, ProtobufCMessage **out, dr_err *err)
{
    if (size > DR_PROTO_MESSAGE_SIZE_MAX)
        return dr_err_set(err, DR_ETOOBIG, "%s JSON of %zu bytes: over the limit of %u",
                          dr_proto_name(desc), size, DR_PROTO_MESSAGE_SIZE_MAX);
    json_object_seed(JSON_SEED);
    json_error_t jerr;
    json_t *root = json_loadb(text, size, 0, &jerr);
    if (root == NULL)
        return dr_err_set(err, DR_EINVAL, "%s: invalid JSON at line %d, column %d: %s",
                          dr_proto_name(desc), jerr.line, jerr.column, jerr.text);
    dr_code rc = dr_json_decode_value(desc, root, arena, out, err);
    json_decref(root);
    return rc;
}
