/* tests/unit/proto/test_pb_decode.c — Dromos's protobuf decoder (pb_decode.c)
 * against protobuf-c's protobuf_c_message_unpack(), the decoder it replaced.
 *
 * The reference is what dr_proto_decode() was: the size limit, a scan that
 * refuses nesting deeper than DR_PROTO_DEPTH_MAX and field number 0, then
 * protobuf-c's unpack. Both decode the same bytes; both must fail, or both
 * succeed and re-encode to the same bytes (by protobuf-c's packer, and by
 * Dromos's too), with an arena and without (what ASan sees freed by
 * dr_proto_free).
 *
 * The inputs are written straight from the descriptors (the Mesos messages,
 * and pb_types.proto for the scalar types, packed fields and oneof those
 * lack) by a seeded random wire writer, so they hold what Dromos's encoder
 * never writes: fields out of order and repeated (proto2 merges), packed and
 * unpacked repeated scalars, over-long varints, negative int32, unknown
 * fields of every wire type, wrong wire types, missing required fields,
 * field number 0; then truncated and mutated copies of them. Error texts are
 * checked on hand-made inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/limits.h"
#include "src/proto/proto.h"
#include "internal.pb-c.h"
#include "pb_types.pb-c.h"
#include "tests/unit/proto/pb_reference.h"

#define SEED 20261126u

static void dump(const char *what, const uint8_t *data, size_t size)
{
    print_message("%s (%zu bytes):", what, size);
    for (size_t i = 0; i < size && i < 256; i++)
        print_message(" %02x", data[i]);
    print_message("\n");
}

typedef struct tally {
    size_t ok;
    size_t failed;
} tally;

/* Decodes data with both decoders (with and without an arena) and checks they
 * agree. */
static void compare(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size,
                    tally *t)
{
    dr_buf *want = ref_decode(desc, data, size);
    size_t arena_size = 0; /* what the decode took in an arena */
    for (int use_arena = 0; use_arena < 2; use_arena++) {
        dr_arena arena;
        dr_arena_init(&arena);
        ProtobufCMessage *m = NULL;
        dr_err err = {0};
        dr_code rc = dr_proto_decode(desc, data, size, use_arena ? &arena : NULL, &m, &err);
        if ((rc == DR_OK) != (want != NULL)) {
            dump("input", data, size);
            print_error("%s: protobuf-c %s, Dromos %s (%s)\n", dr_proto_name(desc),
                        want != NULL ? "accepts" : "refuses", rc == DR_OK ? "accepts" : "refuses",
                        rc == DR_OK ? "" : err.msg);
            fail();
        }
        if (rc != DR_OK) {
            assert_null(m);
            assert_true(strstr(err.msg, dr_proto_name(desc)) != NULL);
        } else {
            /* protobuf-c's packer on both sides: what the decoders filled in. */
            dr_buf got;
            dr_buf_init(&got);
            size_t n = protobuf_c_message_get_packed_size(m);
            dr_buf_reserve(&got, n + 1);
            got.size = protobuf_c_message_pack(m, got.data);
            if (got.size != want->size || memcmp(got.data, want->data, got.size) != 0) {
                dump("input", data, size);
                dump("protobuf-c", want->data, want->size);
                dump("Dromos", got.data, got.size);
                fail_msg("%s: re-encodings differ (arena: %d)", dr_proto_name(desc), use_arena);
            }
            /* And Dromos's packer writes the same. */
            dr_buf mine;
            dr_buf_init(&mine);
            assert_int_equal(dr_proto_encode(m, &mine, &err), DR_OK);
            if (mine.size != got.size || memcmp(mine.data, got.data, got.size) != 0) {
                dump("protobuf-c's packer", got.data, got.size);
                dump("Dromos's packer", mine.data, mine.size);
                fail_msg("%s: the packers differ", dr_proto_name(desc));
            }
            dr_buf_deinit(&mine);
            dr_buf_deinit(&got);
            if (use_arena)
                arena_size = arena.used_size;
            if (!use_arena)
                dr_proto_free(m);
        }
        dr_arena_deinit(&arena);
    }
    /* An arena limit stops it anywhere, cleanly: at about half of what it
     * took, where what it takes before the end varies with the input. */
    dr_arena arena;
    dr_arena_init(&arena);
    dr_arena_set_size_max(&arena, arena_size / 2 + 1);
    ProtobufCMessage *m = NULL;
    dr_err err = {0};
    dr_code rc = dr_proto_decode(desc, data, size, &arena, &m, &err);
    if (want != NULL && arena_size > 64) {
        assert_int_equal(rc, DR_ETOOBIG);
        assert_non_null(strstr(err.msg, "over the arena's limit"));
    }
    if (rc != DR_OK)
        assert_null(m);
    dr_arena_deinit(&arena);
    if (want != NULL)
        t->ok++;
    else
        t->failed++;
    ref_buf_free(want);
}

/* ---- the random wire writer ---------------------------------------------------------- */

typedef struct writer {
    dr_rng rng;
    unsigned quirks; /* 0: only well-formed choices; higher: more odd ones */
} writer;

static bool odd(writer *w, unsigned in)
{
    return w->quirks > 0 && dr_rng_below(&w->rng, in) < w->quirks;
}

static void put_varint(writer *w, dr_buf *b, uint64_t v)
{
    uint8_t tmp[16];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    /* Over-long but legal (at most 10 bytes): the same value with 0x80 pads. */
    if (odd(w, 40) && n < 10) {
        size_t pad = 1 + (size_t)dr_rng_below(&w->rng, 10 - n);
        tmp[n - 1] |= 0x80;
        for (size_t i = 0; i < pad; i++)
            tmp[n++] = 0x80;
        tmp[n - 1] = 0x00;
    }
    dr_buf_append(b, tmp, n);
}

static void put_tag(writer *w, dr_buf *b, uint32_t id, unsigned wt)
{
    put_varint(w, b, ((uint64_t)id << 3) | wt);
}

static uint64_t random_scalar(writer *w)
{
    static const uint64_t edges[] = {0, 1, 2, 127, 128, 255, 16383, 16384, 0x7fffffff, 0x80000000,
                                     0xffffffff, 0x100000000, UINT64_MAX, UINT64_MAX - 1,
                                     (uint64_t)INT64_MIN, (uint64_t)INT64_MAX,
                                     (uint64_t)(int64_t)INT32_MIN, (uint64_t)-1000};
    switch (dr_rng_below(&w->rng, 4)) {
    case 0:
        return edges[dr_rng_below(&w->rng, DR_ARRAY_COUNT(edges))];
    case 1:
        return dr_rng_next(&w->rng);
    default:
        return dr_rng_below(&w->rng, 300);
    }
}

static unsigned natural_wire_type(ProtobufCType type)
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

static void write_message(writer *w, const ProtobufCMessageDescriptor *desc, unsigned depth,
                          dr_buf *out);

/* A scalar's bytes for wire type wt (no tag). */
static void write_scalar(writer *w, const ProtobufCFieldDescriptor *f, unsigned wt, dr_buf *out)
{
    uint64_t v = random_scalar(w);
    if (f->type == PROTOBUF_C_TYPE_ENUM && !odd(w, 10)) {
        const ProtobufCEnumDescriptor *e = f->descriptor;
        v = (uint64_t)(int64_t)e->values[dr_rng_below(&w->rng, e->n_values)].value;
    } else if (f->type == PROTOBUF_C_TYPE_BOOL && !odd(w, 10)) {
        v = dr_rng_below(&w->rng, 2);
    } else if ((f->type == PROTOBUF_C_TYPE_INT32 || f->type == PROTOBUF_C_TYPE_ENUM) &&
               dr_rng_chance(&w->rng, 0.5)) {
        v = (uint64_t)(int64_t)(int32_t)v; /* what a well-behaved writer sends */
    }
    switch (wt) {
    case 0:
        put_varint(w, out, v);
        break;
    case 1:
        dr_buf_append(out, &v, 8);
        break;
    case 5:
        dr_buf_append(out, &v, 4);
        break;
    default: { /* a scalar given as bytes: only bool takes it */
        uint8_t n = (uint8_t)dr_rng_below(&w->rng, 3);
        put_varint(w, out, n);
        for (uint8_t i = 0; i < n; i++) {
            uint8_t byte = (uint8_t)dr_rng_below(&w->rng, 3);
            dr_buf_append(out, &byte, 1);
        }
    }
    }
}

static void write_length_delimited(writer *w, const dr_buf *payload, dr_buf *out)
{
    put_varint(w, out, payload->size);
    dr_buf_append(out, payload->data, payload->size);
}

/* One occurrence of field f, tag included. */
static void write_field(writer *w, const ProtobufCFieldDescriptor *f, unsigned depth, dr_buf *out)
{
    unsigned wt = natural_wire_type(f->type);
    if (odd(w, 400))
        wt = (unsigned)dr_rng_below(&w->rng, 8) == 3 ? 2 : (unsigned)dr_rng_below(&w->rng, 6);
    if (wt == 3 || wt == 4) {
        put_tag(w, out, f->id, wt); /* a group: refused */
        return;
    }
    bool packable = f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES &&
                    f->type != PROTOBUF_C_TYPE_MESSAGE;
    if (f->label == PROTOBUF_C_LABEL_REPEATED && packable && dr_rng_chance(&w->rng, 0.3)) {
        dr_buf payload;
        dr_buf_init(&payload);
        size_t n = (size_t)dr_rng_below(&w->rng, 5);
        for (size_t i = 0; i < n; i++) {
            if (f->type == PROTOBUF_C_TYPE_BOOL) {
                uint8_t b = odd(w, 20) ? (uint8_t)dr_rng_below(&w->rng, 256)
                                       : (uint8_t)dr_rng_below(&w->rng, 2);
                dr_buf_append(&payload, &b, 1);
            } else {
                write_scalar(w, f, natural_wire_type(f->type), &payload);
            }
        }
        if (odd(w, 20) && payload.size > 0)
            payload.size--; /* a cut-off last value */
        put_tag(w, out, f->id, 2);
        write_length_delimited(w, &payload, out);
        dr_buf_deinit(&payload);
        return;
    }
    put_tag(w, out, f->id, wt);
    if (wt != 2 || packable) {
        write_scalar(w, f, wt, out);
        return;
    }
    dr_buf payload;
    dr_buf_init(&payload);
    if (wt != natural_wire_type(f->type)) {
        write_scalar(w, f, wt, out);
    } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        write_message(w, f->descriptor, depth + 1, &payload);
        write_length_delimited(w, &payload, out);
    } else {
        size_t n = (size_t)dr_rng_below(&w->rng, 12);
        for (size_t i = 0; i < n; i++) {
            uint8_t c = f->type == PROTOBUF_C_TYPE_BYTES || odd(w, 50)
                            ? (uint8_t)dr_rng_below(&w->rng, 256)
                            : (uint8_t)('a' + dr_rng_below(&w->rng, 26));
            dr_buf_append(&payload, &c, 1);
        }
        write_length_delimited(w, &payload, out);
    }
    dr_buf_deinit(&payload);
}

static void write_unknown(writer *w, const ProtobufCMessageDescriptor *desc, dr_buf *out)
{
    uint32_t id;
    do {
        id = odd(w, 20) ? (uint32_t)dr_rng_below(&w->rng, 1u << 29) + 1
                        : 900 + (uint32_t)dr_rng_below(&w->rng, 200);
    } while (protobuf_c_message_descriptor_get_field(desc, id) != NULL);
    static const unsigned wts[] = {0, 1, 2, 5};
    unsigned wt = wts[dr_rng_below(&w->rng, 4)];
    put_tag(w, out, id, wt);
    uint64_t v = random_scalar(w);
    switch (wt) {
    case 0:
        put_varint(w, out, v);
        break;
    case 1:
        dr_buf_append(out, &v, 8);
        break;
    case 5:
        dr_buf_append(out, &v, 4);
        break;
    default: {
        size_t n = (size_t)dr_rng_below(&w->rng, 6);
        put_varint(w, out, n);
        for (size_t i = 0; i < n; i++) {
            uint8_t c = (uint8_t)dr_rng_below(&w->rng, 256);
            dr_buf_append(out, &c, 1);
        }
    }
    }
}

static void write_message(writer *w, const ProtobufCMessageDescriptor *desc, unsigned depth,
                          dr_buf *out)
{
    /* Fields in number order, sometimes in random order; each field 0 to a
     * few times (repeated, or a singular one given again: proto2 merges). */
    unsigned order[512];
    unsigned n = desc->n_fields < 512 ? desc->n_fields : 512;
    for (unsigned i = 0; i < n; i++)
        order[i] = i;
    if (dr_rng_chance(&w->rng, 0.2)) {
        for (unsigned i = n; i > 1; i--) {
            unsigned j = (unsigned)dr_rng_below(&w->rng, i);
            unsigned t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
    }
    double fill = depth == 0 ? 0.6 : 0.35 / depth;
    for (unsigned k = 0; k < n; k++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[order[k]];
        size_t count = 0;
        if (f->label == PROTOBUF_C_LABEL_REQUIRED)
            count = odd(w, 300) ? 0 : 1;
        else if (dr_rng_chance(&w->rng, fill))
            count = f->label == PROTOBUF_C_LABEL_REPEATED ? 1 + (size_t)dr_rng_below(&w->rng, 3) : 1;
        if (count > 0 && f->label != PROTOBUF_C_LABEL_REPEATED && dr_rng_chance(&w->rng, 0.05))
            count = 2;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth >= 6 && f->label != PROTOBUF_C_LABEL_REQUIRED)
            count = 0;
        for (size_t c = 0; c < count; c++)
            write_field(w, f, depth, out);
        if (dr_rng_chance(&w->rng, 0.03))
            write_unknown(w, desc, out);
    }
    if (odd(w, 500))
        put_tag(w, out, 0, (unsigned)dr_rng_below(&w->rng, 3)); /* field number 0 */
}

/* ---- the differential test ----------------------------------------------------------- */

static const ProtobufCMessageDescriptor *const types[] = {
    &mesos__scheduler__call__descriptor,   &mesos__scheduler__event__descriptor,
    &mesos__executor__call__descriptor,    &mesos__executor__event__descriptor,
    &mesos__master__call__descriptor,      &mesos__master__response__descriptor,
    &mesos__master__event__descriptor,     &mesos__agent__call__descriptor,
    &mesos__agent__response__descriptor,   &mesos__task_info__descriptor,
    &mesos__task_status__descriptor,       &mesos__resource__descriptor,
    &mesos__container_id__descriptor,      &mesos__framework_info__descriptor,
    &mesos__offer__descriptor,             &dromos__internal__agent_call__descriptor,
    &dromos__internal__agent_event__descriptor,
    /* What the Mesos messages lack: every scalar type, packed fields, a oneof. */
    &dromos__test__all_types__descriptor,  &dromos__test__all_types__descriptor,
    &dromos__test__all_types__descriptor,  &dromos__test__choice__descriptor,
};

/* Mutations of a valid input: truncations, flipped, dropped and inserted
 * bytes, and the input given twice (a merge of two messages). */
static void mutate_and_compare(writer *w, const ProtobufCMessageDescriptor *desc, const dr_buf *in,
                               tally *t)
{
    dr_buf m;
    dr_buf_init(&m);
    for (int k = 0; k < 6; k++) {
        dr_buf_reset(&m);
        dr_buf_append(&m, in->data, in->size);
        switch (k) {
        case 0: /* truncated */
            if (m.size > 0)
                m.size = (size_t)dr_rng_below(&w->rng, m.size);
            break;
        case 1:
        case 2: /* bytes flipped */
            for (int i = 0; i < 1 + k && m.size > 0; i++)
                m.data[dr_rng_below(&w->rng, m.size)] ^= (uint8_t)(1u << dr_rng_below(&w->rng, 8));
            break;
        case 3: /* a byte dropped */
            if (m.size > 0) {
                size_t at = (size_t)dr_rng_below(&w->rng, m.size);
                memmove(m.data + at, m.data + at + 1, m.size - at - 1);
                m.size--;
            }
            break;
        case 4: { /* a byte inserted */
            size_t at = m.size > 0 ? (size_t)dr_rng_below(&w->rng, m.size) : 0;
            uint8_t b = (uint8_t)dr_rng_below(&w->rng, 256);
            dr_buf_append(&m, &b, 1);
            memmove(m.data + at + 1, m.data + at, m.size - at - 1);
            m.data[at] = b;
            break;
        }
        default: /* given twice: merged */
            dr_buf_append(&m, in->data, in->size);
            break;
        }
        compare(desc, m.data, m.size, t);
    }
    dr_buf_deinit(&m);
}

static void test_differential(void **state)
{
    (void)state;
    writer w = {.quirks = 0};
    dr_rng_init(&w.rng, SEED);
    tally clean = {0}, mutated = {0};
    dr_buf in;
    dr_buf_init(&in);
    for (int i = 0; i < 6000; i++) {
        const ProtobufCMessageDescriptor *desc = types[(size_t)i % DR_ARRAY_COUNT(types)];
        w.quirks = (unsigned)(i % 3); /* a third well-formed, the rest with odd choices */
        dr_buf_reset(&in);
        write_message(&w, desc, 0, &in);
        compare(desc, in.data, in.size, &clean);
        mutate_and_compare(&w, desc, &in, &mutated);
    }
    dr_buf_deinit(&in);
    print_message("differential: %zu written inputs (%zu decoded, %zu refused by both), %zu "
                  "mutated (%zu decoded, %zu refused by both)\n",
                  clean.ok + clean.failed, clean.ok, clean.failed, mutated.ok + mutated.failed,
                  mutated.ok, mutated.failed);
    /* The writer must exercise both outcomes, or the test proves little. */
    assert_true(clean.ok > 2000);
    assert_true(clean.failed > 100);
    assert_true(mutated.ok > 2000);
    assert_true(mutated.failed > 2000);
}

/* ---- hand-made inputs: the error texts ---------------------------------------------- */

static void expect_error(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size,
                         dr_code code, const char *want)
{
    tally t = {0};
    compare(desc, data, size, &t);
    assert_int_equal(t.failed, 1);
    ProtobufCMessage *m = NULL;
    dr_err err = {0};
    assert_int_equal(dr_proto_decode(desc, data, size, NULL, &m, &err), code);
    if (strcmp(err.msg, want) != 0)
        fail_msg("got  '%s'\nwant '%s'", err.msg, want);
}

static void test_errors(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *call = &mesos__scheduler__call__descriptor;
    /* subscribe (3) given as a varint */
    static const uint8_t wrong_type[] = {0x18, 0x01};
    expect_error(call, wrong_type, sizeof wrong_type, DR_EINVAL,
                 "invalid mesos.scheduler.Call protobuf (2 bytes): wire type 0 at byte 0, "
                 "expected 2 (at 'subscribe')");
    /* subscribe { framework_info { user: varint } } */
    static const uint8_t nested_type[] = {0x1a, 0x04, 0x0a, 0x02, 0x08, 0x01};
    expect_error(call, nested_type, sizeof nested_type, DR_EINVAL,
                 "invalid mesos.scheduler.Call protobuf (6 bytes): wire type 0 at byte 4, "
                 "expected 2 (at 'subscribe.framework_info.user')");
    /* accept { offer_ids [{}, {}] }: OfferID.value is required */
    static const uint8_t missing[] = {0x22, 0x04, 0x0a, 0x00, 0x0a, 0x00};
    expect_error(call, missing, sizeof missing, DR_EINVAL,
                 "invalid mesos.scheduler.Call protobuf (6 bytes): 'accept.offer_ids[0].value' "
                 "is required");
    static const uint8_t truncated[] = {0x1a, 0x05, 0x0a, 0x02};
    expect_error(call, truncated, sizeof truncated, DR_EINVAL,
                 "invalid mesos.scheduler.Call protobuf (4 bytes): length 5 at byte 1 runs past "
                 "the end");
    /* A 5-byte length past 32 bits: protobuf-c does not wrap it, nor do we. */
    static const uint8_t huge_length[] = {0x1a, 0x80, 0x80, 0x80, 0x80, 0x10, 0x0a, 0x00};
    expect_error(call, huge_length, sizeof huge_length, DR_EINVAL,
                 "invalid mesos.scheduler.Call protobuf (8 bytes): length 4294967296 at byte 1 "
                 "runs past the end");
    static const uint8_t long_varint[] = {0x10, 0x80, 0x80, 0x80, 0x80, 0x80,
                                          0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    expect_error(call, long_varint, sizeof long_varint, DR_EINVAL,
                 "invalid mesos.scheduler.Call protobuf (12 bytes): bad varint at byte 1");
    static const uint8_t group[] = {0x13, 0x14};
    expect_error(call, group, sizeof group, DR_EINVAL,
                 "invalid mesos.scheduler.Call protobuf (2 bytes): wire type 3 at byte 0");
    static const uint8_t long_tag[] = {0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01};
    expect_error(call, long_tag, sizeof long_tag, DR_EINVAL,
                 "invalid mesos.scheduler.Call protobuf (7 bytes): bad tag at byte 0");
    /* An int32 as ten bytes (-1), and the longest legal varint: accepted. */
    tally t = {0};
    static const uint8_t ten[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    compare(call, ten, sizeof ten, &t);
    assert_int_equal(t.ok, 1);
}

/* A message given twice merges as proto2 says (protobuf-c's merge): scalars of
 * the second win, repeated fields concatenate, optional sub-messages merge;
 * but a required sub-message is replaced whole, as protobuf-c does. */
static void test_merge(void **state)
{
    (void)state;
    /* FrameworkInfo{user:"a", name:"n", roles:["r1"], capabilities:[{type:1}],
     * labels{[{key:"k"}]}} then FrameworkInfo{user:"b", name:"n", roles:["r2"],
     * labels{[{key:"k2"}]}}. */
    static const uint8_t a[] = {0x0a, 0x01, 'a', 0x12, 0x01, 'n', 0x62, 0x02, 'r', '1', 0x52, 0x02,
                                0x08, 0x01, 0x5a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 'k'};
    static const uint8_t b[] = {0x0a, 0x01, 'b', 0x12, 0x01, 'n', 0x62, 0x02, 'r', '2',
                                0x5a, 0x06, 0x0a, 0x04, 0x0a, 0x02, 'k', '2'};
    uint8_t both[sizeof a + sizeof b];
    memcpy(both, a, sizeof a);
    memcpy(both + sizeof a, b, sizeof b);
    tally t = {0};
    compare(&mesos__framework_info__descriptor, both, sizeof both, &t);
    assert_int_equal(t.ok, 1);
    dr_arena arena;
    dr_arena_init(&arena);
    ProtobufCMessage *m = NULL;
    dr_err err = {0};
    assert_int_equal(dr_proto_decode(&mesos__framework_info__descriptor, both, sizeof both,
                                     &arena, &m, &err), DR_OK);
    const Mesos__FrameworkInfo *fi = (const Mesos__FrameworkInfo *)m;
    assert_string_equal(fi->user, "b");
    assert_int_equal(fi->n_roles, 2);
    assert_string_equal(fi->roles[0], "r1");
    assert_string_equal(fi->roles[1], "r2");
    assert_int_equal(fi->n_capabilities, 1);
    assert_int_equal(fi->labels->n_labels, 2);
    assert_string_equal(fi->labels->labels[0]->key, "k");
    assert_string_equal(fi->labels->labels[1]->key, "k2");

    /* Call{subscribe{framework_info{a}}} then Call{subscribe{framework_info{b},
     * suppressed_roles:["x"]}}: Subscribe merges, its required framework_info
     * is b's alone. */
    uint8_t calls[2 * (4 + sizeof a) + 3];
    size_t n = 0;
    calls[n++] = 0x1a;
    calls[n++] = (uint8_t)(2 + sizeof a);
    calls[n++] = 0x0a;
    calls[n++] = (uint8_t)sizeof a;
    memcpy(calls + n, a, sizeof a);
    n += sizeof a;
    calls[n++] = 0x1a;
    calls[n++] = (uint8_t)(2 + sizeof b + 3);
    calls[n++] = 0x0a;
    calls[n++] = (uint8_t)sizeof b;
    memcpy(calls + n, b, sizeof b);
    n += sizeof b;
    calls[n++] = 0x12;
    calls[n++] = 0x01;
    calls[n++] = 'x';
    compare(&mesos__scheduler__call__descriptor, calls, n, &t);
    assert_int_equal(t.ok, 2);
    assert_int_equal(dr_proto_decode(&mesos__scheduler__call__descriptor, calls, n, &arena, &m,
                                     &err), DR_OK);
    const Mesos__Scheduler__Call *c = (const Mesos__Scheduler__Call *)m;
    assert_string_equal(c->subscribe->framework_info->user, "b");
    assert_int_equal(c->subscribe->framework_info->n_roles, 1);
    assert_null(c->subscribe->framework_info->labels->labels[0]->value);
    assert_int_equal(c->subscribe->framework_info->labels->n_labels, 1);
    assert_int_equal(c->subscribe->n_suppressed_roles, 1);
    dr_arena_deinit(&arena);
}

/* A oneof keeps the member given last; the others are freed (ASan sees the
 * malloc'd string of o_s go). */
static void test_oneof(void **state)
{
    (void)state;
    /* o_s:"abc", o_inner{name:"n"}, o_u64:5, after:1 */
    static const uint8_t in[] = {0x12, 0x03, 'a', 'b', 'c', 0x1a, 0x03, 0x0a, 0x01, 'n',
                                 0x20, 0x05, 0x30, 0x01};
    tally t = {0};
    compare(&dromos__test__choice__descriptor, in, sizeof in, &t);
    assert_int_equal(t.ok, 1);
    ProtobufCMessage *m = NULL;
    dr_err err = {0};
    assert_int_equal(dr_proto_decode(&dromos__test__choice__descriptor, in, sizeof in, NULL, &m,
                                     &err), DR_OK);
    const Dromos__Test__Choice *c = (const Dromos__Test__Choice *)m;
    assert_int_equal(c->pick_case, DROMOS__TEST__CHOICE__PICK_O_U64);
    assert_int_equal(c->o_u64, 5);
    assert_true(c->has_after && c->after == 1);
    dr_proto_free(m);
}

/* The decoder's scratch stack (32 bytes an element of a packed run) counts
 * against the arena's limit: a packed run of one-byte varints would otherwise
 * take 32 times the input outside the bound a request handler set. Here the
 * decoded array (8 bytes an element) fits the limit and the stack does not. */
static void test_stack_bounded_by_arena(void **state)
{
    (void)state;
    enum { COUNT = 100000 };
    dr_buf in;
    dr_buf_init(&in);
    static const uint8_t name[] = {0x0a, 0x01, 'n'};
    dr_buf_append(&in, name, sizeof name);
    static const uint8_t head[] = {0x1a, 0xa0, 0x8d, 0x06}; /* p, packed, length 100000 */
    dr_buf_append(&in, head, sizeof head);
    for (size_t i = 0; i < COUNT; i++)
        dr_buf_append(&in, "\x01", 1);
    ProtobufCMessage *m = NULL;
    dr_err err = {0};
    dr_arena arena;
    dr_arena_init(&arena);
    dr_arena_set_size_max(&arena, 1u << 20);
    assert_int_equal(dr_proto_decode(&dromos__test__inner__descriptor, in.data, in.size, &arena,
                                     &m, &err), DR_ETOOBIG);
    assert_null(m);
    assert_non_null(strstr(err.msg, "over the arena's limit"));
    dr_arena_deinit(&arena);
    /* Without a limit it decodes, every element there. */
    dr_arena_init(&arena);
    assert_int_equal(dr_proto_decode(&dromos__test__inner__descriptor, in.data, in.size, &arena,
                                     &m, &err), DR_OK);
    assert_int_equal(((const Dromos__Test__Inner *)m)->n_p, COUNT);
    dr_arena_deinit(&arena);
    dr_buf_deinit(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_differential),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_oneof),
        cmocka_unit_test(test_stack_bounded_by_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
