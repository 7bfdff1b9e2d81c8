/* src/proto/json_encode.c — protobuf-c messages to JSON, Mesos's mapping (see
 * json.h), written straight into a dr_buf (no jansson tree: GET_STATE
 * responses are tens of megabytes).
 *
 * Keys come out in name order (protobuf-c's fields_sorted_by_name), as
 * stout's std::map-backed objects print them. Output is pure ASCII: non-ASCII
 * code points are escaped as \uXXXX (surrogate pairs above U+FFFF), so a
 * string that is not valid UTF-8 is an error naming its path.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/limits.h"
#include "src/proto/json.h"
#include "src/proto/proto_int.h"

/* Where the encoder is, kept as pointers (formatting it on every field would
 * cost more than the encoding) and turned into text only for an error. */
typedef struct frame {
    const char *name; /* field name */
    size_t index;     /* element of a repeated field, or SIZE_MAX */
} frame;

typedef struct encoder {
    dr_buf *out;
    unsigned flags;
    frame stack[DR_JSON_DEPTH_MAX];
    unsigned depth; /* frames in use may be fewer: deeper ones go unrecorded */
    dr_err *err;
} encoder;

static const char *path_text(const encoder *e, dr_proto_path *path)
{
    path->size = 0;
    path->text[0] = '\0';
    for (unsigned i = 0; i < e->depth && i < DR_ARRAY_COUNT(e->stack); i++) {
        dr__proto_path_push_field(path, e->stack[i].name);
        if (e->stack[i].index != SIZE_MAX)
            dr__proto_path_push_index(path, e->stack[i].index);
    }
    return dr__proto_path_cstr(path);
}

static dr_code encode_message(encoder *e, const ProtobufCMessage *m);

static inline char *room(encoder *e, size_t size)
{
    if (e->out->capacity - e->out->size < size + 1)
        dr_buf_reserve(e->out, size);
    return (char *)e->out->data + e->out->size;
}

static inline void put_char(encoder *e, char c)
{
    char *p = room(e, 1);
    *p = c;
    e->out->size++;
}

static inline void put_mem(encoder *e, const char *s, size_t size)
{
    char *p = room(e, size);
    memcpy(p, s, size);
    e->out->size += size;
}

static void put_u64(encoder *e, uint64_t x)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + x % 10);
        x /= 10;
    } while (x != 0);
    put_mem(e, tmp + i, sizeof tmp - i);
}

static void put_i64(encoder *e, int64_t x)
{
    if (x < 0) {
        put_char(e, '-');
        put_u64(e, (uint64_t)0 - (uint64_t)x);
    } else {
        put_u64(e, (uint64_t)x);
    }
}

/* The shortest of %.15g..%.17g that reads back as the same double. */
static void put_double(encoder *e, double x)
{
    if (isnan(x)) {
        put_mem(e, "\"NaN\"", 5);
        return;
    }
    if (isinf(x)) {
        if (x < 0)
            put_mem(e, "\"-Infinity\"", 11);
        else
            put_mem(e, "\"Infinity\"", 10);
        return;
    }
    if (x == floor(x) && fabs(x) < 1e15) {
        if (x == 0 && signbit(x))
            put_mem(e, "-0", 2);
        else
            put_i64(e, (int64_t)x);
        return;
    }
    /* Fast path for values with few decimals (0.1, 128.5, 1700000000.123):
     * the first m / 10^k that is exactly x. m and 10^k are exact doubles
     * (< 2^53), so the division is correctly rounded, as strtod("I.F") is:
     * the text reads back as x. */
    static const double pow10[] = {1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    for (int k = 0; k < (int)DR_ARRAY_COUNT(pow10); k++) {
        double y = x * pow10[k];
        if (!(fabs(y) < 9007199254740992.0))
            break;
        double m = nearbyint(y);
        if (m / pow10[k] != x)
            continue;
        uint64_t um = (uint64_t)fabs(m);
        uint64_t scale = (uint64_t)pow10[k];
        if (x < 0)
            put_char(e, '-');
        put_u64(e, um / scale);
        char frac[16];
        uint64_t f = um % scale;
        int digits = k + 1;
        for (int i = digits - 1; i >= 0; i--) {
            frac[i] = (char)('0' + f % 10);
            f /= 10;
        }
        while (digits > 1 && frac[digits - 1] == '0')
            digits--; /* keeps one digit: "1e15" prints as 1000000000000000.0 */
        put_char(e, '.');
        put_mem(e, frac, (size_t)digits);
        return;
    }
    char tmp[32];
    int n = 0;
    for (int precision = 15; precision <= 17; precision++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", precision, x);
        if (precision == 17 || strtod(tmp, NULL) == x)
            break;
    }
    DR_ASSERT(n > 0 && (size_t)n < sizeof tmp);
    put_mem(e, tmp, (size_t)n);
}

static const char hex_digits[16] = "0123456789abcdef";

static void put_u_escape(encoder *e, uint32_t cp)
{
    char *p = room(e, 6);
    p[0] = '\\';
    p[1] = 'u';
    p[2] = hex_digits[(cp >> 12) & 15];
    p[3] = hex_digits[(cp >> 8) & 15];
    p[4] = hex_digits[(cp >> 4) & 15];
    p[5] = hex_digits[cp & 15];
    e->out->size += 6;
}

/* Bytes copied as they are: printable ASCII but '"' and '\\'. */
static bool is_plain(uint8_t c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* Decodes one UTF-8 sequence at s[0..size); returns its length, 0 if invalid. */
static size_t utf8_decode(const uint8_t *s, size_t size, uint32_t *cp)
{
    uint8_t c = s[0];
    size_t n;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, v = c & 0x1fu, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, v = c & 0x0fu, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, v = c & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (size < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

static dr_code put_string(encoder *e, const char *str, size_t size)
{
    const uint8_t *s = (const uint8_t *)str;
    put_char(e, '"');
    size_t i = 0;
    while (i < size) {
        size_t start = i;
        while (i < size && is_plain(s[i]))
            i++;
        if (i > start)
            put_mem(e, str + start, i - start);
        if (i == size)
            break;
        uint8_t c = s[i];
        if (c < 0x80) {
            switch (c) {
            case '"': put_mem(e, "\\\"", 2); break;
            case '\\': put_mem(e, "\\\\", 2); break;
            case '\n': put_mem(e, "\\n", 2); break;
            case '\r': put_mem(e, "\\r", 2); break;
            case '\t': put_mem(e, "\\t", 2); break;
            case '\b': put_mem(e, "\\b", 2); break;
            case '\f': put_mem(e, "\\f", 2); break;
            default: put_u_escape(e, c); break;
            }
            i++;
            continue;
        }
        uint32_t cp = 0;
        size_t n = utf8_decode(s + i, size - i, &cp);
        if (n == 0) {
            dr_proto_path path;
            return dr_err_set(e->err, DR_EINVAL, "'%s': string is not valid UTF-8 (byte %zu)",
                              path_text(e, &path), i);
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            put_u_escape(e, 0xd800 + (cp >> 10));
            put_u_escape(e, 0xdc00 + (cp & 0x3ff));
        } else {
            put_u_escape(e, cp);
        }
        i += n;
    }
    put_char(e, '"');
    return DR_OK;
}

static const char base64_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void dr_base64_encode(const uint8_t *data, size_t size, dr_buf *out)
{
    dr_buf_reserve(out, (size + 2) / 3 * 4);
    char *p = (char *)out->data + out->size;
    size_t i = 0;
    for (; i + 3 <= size; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *p++ = base64_alphabet[v >> 18];
        *p++ = base64_alphabet[(v >> 12) & 63];
        *p++ = base64_alphabet[(v >> 6) & 63];
        *p++ = base64_alphabet[v & 63];
    }
    if (i < size) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < size)
            v |= (uint32_t)data[i + 1] << 8;
        *p++ = base64_alphabet[v >> 18];
        *p++ = base64_alphabet[(v >> 12) & 63];
        *p++ = i + 1 < size ? base64_alphabet[(v >> 6) & 63] : '=';
        *p++ = '=';
    }
    out->size = (size_t)((uint8_t *)p - out->data);
}

/* ---- fields ------------------------------------------------------------------- */

static dr_code put_value(encoder *e, const ProtobufCFieldDescriptor *f, const void *member)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        put_i64(e, *(const int32_t *)member);
        return DR_OK;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        put_u64(e, *(const uint32_t *)member);
        return DR_OK;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        put_i64(e, *(const int64_t *)member);
        return DR_OK;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t x = *(const uint64_t *)member;
        if (x > INT64_MAX) { /* jansson (and so our decoder) reads no bigger number */
            put_char(e, '"');
            put_u64(e, x);
            put_char(e, '"');
        } else {
            put_u64(e, x);
        }
        return DR_OK;
    }
    case PROTOBUF_C_TYPE_FLOAT:
        put_double(e, (double)*(const float *)member);
        return DR_OK;
    case PROTOBUF_C_TYPE_DOUBLE:
        put_double(e, *(const double *)member);
        return DR_OK;
    case PROTOBUF_C_TYPE_BOOL:
        if (*(const protobuf_c_boolean *)member)
            put_mem(e, "true", 4);
        else
            put_mem(e, "false", 5);
        return DR_OK;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)member;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        if (ev != NULL) {
            put_char(e, '"');
            put_mem(e, ev->name, strlen(ev->name));
            put_char(e, '"');
        } else {
            put_i64(e, v); /* unknown on the wire: kept as its number */
        }
        return DR_OK;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)member;
        return put_string(e, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = member;
        put_char(e, '"');
        dr_base64_encode(b->data, b->len, e->out);
        put_char(e, '"');
        return DR_OK;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return encode_message(e, *(const ProtobufCMessage *const *)member);
    }
    DR_UNREACHABLE();
}

/* Whether a singular field is written; *member_out may be redirected to the
 * field's default value. */
static bool field_written(const encoder *e, const ProtobufCMessage *m,
                          const ProtobufCFieldDescriptor *f, const void **member_out)
{
    const char *base = (const char *)m;
    const void *member = base + f->offset;
    bool defaults = (e->flags & DR_JSON_NO_DEFAULTS) == 0 && f->default_value != NULL;
    if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const void *p = *(const void *const *)member;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            return *(const uint32_t *)(base + f->quantifier_offset) == f->id && p != NULL;
        if (p == NULL) {
            if (!defaults || f->type != PROTOBUF_C_TYPE_STRING)
                return false;
            *member_out = &f->default_value;
            return true;
        }
        if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type == PROTOBUF_C_TYPE_STRING &&
            p == f->default_value)
            return defaults; /* unset, pointing at the default */
        return true;
    }
    if (f->label == PROTOBUF_C_LABEL_REQUIRED)
        return true;
    bool has;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        has = *(const uint32_t *)(base + f->quantifier_offset) == f->id;
    else
        has = *(const protobuf_c_boolean *)(base + f->quantifier_offset) != 0;
    if (has)
        return true;
    if (!defaults)
        return false;
    /* Unset scalar with a default: protobuf_c_message_init put the default in
     * the member, but hand-built messages may not have; use the descriptor. */
    *member_out = f->default_value;
    return true;
}

static void put_key(encoder *e, const char *name, bool *first)
{
    size_t size = strlen(name);
    char *p = room(e, size + 4);
    size_t i = 0;
    if (!*first)
        p[i++] = ',';
    *first = false;
    p[i++] = '"';
    memcpy(p + i, name, size);
    i += size;
    p[i++] = '"';
    p[i++] = ':';
    e->out->size += i;
}

static dr_code encode_message(encoder *e, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    put_char(e, '{');
    bool first = true;
    unsigned level = e->depth++;
    frame *fr = level < DR_ARRAY_COUNT(e->stack) ? &e->stack[level] : NULL;
    for (unsigned k = 0; k < desc->n_fields; k++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[desc->fields_sorted_by_name[k]];
        const char *member = (const char *)m + f->offset;
        dr_code rc = DR_OK;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            if (n == 0)
                continue;
            const char *arr = *(const char *const *)member;
            size_t esize = dr__proto_element_size(f);
            put_key(e, f->name, &first);
            put_char(e, '[');
            if (fr != NULL)
                fr->name = f->name;
            for (size_t i = 0; i < n && rc == DR_OK; i++) {
                if (i > 0)
                    put_char(e, ',');
                if (fr != NULL)
                    fr->index = i;
                rc = put_value(e, f, arr + i * esize);
            }
            put_char(e, ']');
        } else {
            const void *value = member;
            if (!field_written(e, m, f, &value))
                continue;
            put_key(e, f->name, &first);
            if (fr != NULL) {
                fr->name = f->name;
                fr->index = SIZE_MAX;
            }
            rc = put_value(e, f, value);
        }
        if (rc != DR_OK)
            return rc; /* depth stays: the error path was read at the fault */
    }
    e->depth--;
    put_char(e, '}');
    return DR_OK;
}

dr_code dr_json_encode_flags(const ProtobufCMessage *msg, unsigned flags, dr_buf *out,
                             dr_err *err)
{
    DR_ASSERT(msg->descriptor->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    dr_err scratch;
    encoder e = {.out = out, .flags = flags, .err = err != NULL ? err : &scratch};
    size_t size_before = out->size;
    dr_code rc = encode_message(&e, msg);
    if (rc != DR_OK) {
        out->size = size_before;
        return dr_err_wrap(e.err, "encoding %s as JSON", dr_proto_name(msg->descriptor));
    }
    return DR_OK;
}

dr_code dr_json_encode(const ProtobufCMessage *msg, dr_buf *out, dr_err *err)
{
    return dr_json_encode_flags(msg, 0, out, err);
}
