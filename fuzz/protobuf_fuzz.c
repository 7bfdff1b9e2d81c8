/* fuzz/protobuf_fuzz.c — the protobuf codec (src/proto/proto.h) on arbitrary
 * input.
 *
 * Decodes the input as a scheduler Call, an executor Call and a master Call,
 * with an arena and without, and with protobuf-c's unpack, the decoder Dromos
 * had before src/proto/pb_decode.c (tests/unit/proto/pb_reference.h): both
 * must refuse the input, or both accept it and re-encode it to the same
 * bytes; with an arena limit it may stop with DR_ETOOBIG, never crash or
 * accept more. Where a decode succeeds: encode -> decode -> encode must be
 * stable byte for byte, and its JSON must reach a fixed point. Any violation
 * aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/proto/json.h"
#include "src/proto/proto.h"
#include "tests/unit/proto/pb_reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

/* The message's re-encoding equals protobuf-c's. */
static void check_same(const ProtobufCMessage *m, const dr_buf *want)
{
    dr_buf got;
    dr_buf_init(&got);
    dr_err err = {0};
    check(dr_proto_encode(m, &got, &err) == DR_OK);
    check(got.size == want->size && memcmp(got.data, want->data, got.size) == 0);
    dr_buf_deinit(&got);
}

/* An arena limit (as request handlers set one) stops a decode anywhere,
 * cleanly: never a success protobuf-c refuses. */
static void limited(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size,
                    bool accepted)
{
    dr_arena arena;
    dr_arena_init(&arena);
    dr_arena_set_size_max(&arena, size * 2 + 64);
    ProtobufCMessage *m = NULL;
    dr_err err = {0};
    dr_code rc = dr_proto_decode(desc, data, size, &arena, &m, &err);
    check(rc == DR_OK ? accepted && m != NULL : m == NULL);
    check(rc == DR_OK || rc == DR_EINVAL || rc == DR_ETOOBIG);
    dr_arena_deinit(&arena);
}

static void one(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size)
{
    dr_buf *want = ref_decode(desc, data, size);
    limited(desc, data, size, want != NULL);
    dr_err err = {0};
    ProtobufCMessage *heap = NULL;
    dr_code rc = dr_proto_decode(desc, data, size, NULL, &heap, &err);
    check((rc == DR_OK) == (want != NULL));
    if (rc != DR_OK) {
        dr_arena arena;
        dr_arena_init(&arena);
        ProtobufCMessage *m = NULL;
        check(dr_proto_decode(desc, data, size, &arena, &m, &err) != DR_OK && m == NULL);
        dr_arena_deinit(&arena);
        return;
    }
    check_same(heap, want);
    dr_proto_free(heap);

    dr_arena arena;
    dr_arena_init(&arena);
    ProtobufCMessage *m = NULL;
    check(dr_proto_decode(desc, data, size, &arena, &m, &err) == DR_OK);
    check_same(m, want);
    ref_buf_free(want);
    dr_buf a, b, j;
    dr_buf_init(&a);
    dr_buf_init(&b);
    dr_buf_init(&j);
    check(dr_proto_encode(m, &a, &err) == DR_OK);
    ProtobufCMessage *m2 = NULL;
    check(dr_proto_decode(desc, a.data, a.size, &arena, &m2, &err) == DR_OK);
    check(dr_proto_encode(m2, &b, &err) == DR_OK);
    check(a.size == b.size && memcmp(a.data, b.data, a.size) == 0);
    /* Dromos's packer writes what protobuf-c's does. */
    size_t c_size = protobuf_c_message_get_packed_size(m2);
    check(c_size == a.size);
    uint8_t *c_bytes = malloc(c_size + 1);
    check(protobuf_c_message_pack(m2, c_bytes) == c_size);
    check(memcmp(c_bytes, a.data, c_size) == 0);
    free(c_bytes);
    /* Its JSON reaches a fixed point after one decode. (Not always the same
     * protobuf: unknown fields and unknown enum numbers do not survive JSON,
     * and a required enum with an unknown number fails the JSON decode.) */
    if (dr_json_encode_flags(m2, DR_JSON_NO_DEFAULTS, &j, &err) == DR_OK) {
        ProtobufCMessage *m3 = NULL, *m4 = NULL;
        if (dr_json_decode(desc, (const char *)j.data, j.size, &arena, &m3, &err) == DR_OK) {
            dr_buf_reset(&a);
            dr_buf_reset(&b);
            check(dr_json_encode_flags(m3, DR_JSON_NO_DEFAULTS, &a, &err) == DR_OK);
            check(dr_json_decode(desc, (const char *)a.data, a.size, &arena, &m4, &err) == DR_OK);
            check(dr_json_encode_flags(m4, DR_JSON_NO_DEFAULTS, &b, &err) == DR_OK);
            check(a.size == b.size && memcmp(a.data, b.data, a.size) == 0);
        }
    }
    dr_buf_deinit(&a);
    dr_buf_deinit(&b);
    dr_buf_deinit(&j);
    dr_arena_deinit(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(&mesos__scheduler__call__descriptor, data, size);
    one(&mesos__executor__call__descriptor, data, size);
    one(&mesos__master__call__descriptor, data, size);
    return 0;
}
