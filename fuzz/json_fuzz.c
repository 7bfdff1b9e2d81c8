/* fuzz/json_fuzz.c — the JSON codec (src/proto/json.h) on arbitrary input.
 *
 * Decodes the input as a scheduler Call, an executor Call and a master Call.
 * Where a decode succeeds, the message must encode, and encode -> decode ->
 * encode must give the same JSON (the first encode may add stout's defaults;
 * from then on the text is a fixed point), and its protobuf must decode again.
 * Any violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/proto/json.h"
#include "src/proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void one(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size)
{
    dr_arena arena;
    dr_arena_init(&arena);
    dr_err err = {0};
    ProtobufCMessage *m = NULL;
    if (dr_json_decode(desc, (const char *)data, size, &arena, &m, &err) != DR_OK) {
        dr_arena_deinit(&arena);
        return;
    }
    dr_buf j1, j2, pb;
    dr_buf_init(&j1);
    dr_buf_init(&j2);
    dr_buf_init(&pb);
    /* JSON decoded strings are valid UTF-8 (jansson checks), so encoding works. */
    check(dr_json_encode(m, &j1, &err) == DR_OK);
    ProtobufCMessage *m2 = NULL;
    check(dr_json_decode(desc, (const char *)j1.data, j1.size, &arena, &m2, &err) == DR_OK);
    check(dr_json_encode(m2, &j2, &err) == DR_OK);
    ProtobufCMessage *m3 = NULL;
    check(dr_json_decode(desc, (const char *)j2.data, j2.size, &arena, &m3, &err) == DR_OK);
    dr_buf_reset(&j1);
    check(dr_json_encode(m3, &j1, &err) == DR_OK);
    check(j1.size == j2.size && memcmp(j1.data, j2.data, j1.size) == 0);
    check(dr_proto_encode(m3, &pb, &err) == DR_OK);
    ProtobufCMessage *p = NULL;
    check(dr_proto_decode(desc, pb.data, pb.size, &arena, &p, &err) == DR_OK);
    dr_buf_reset(&j1);
    check(dr_json_encode(p, &j1, &err) == DR_OK);
    check(j1.size == j2.size && memcmp(j1.data, j2.data, j1.size) == 0);
    if (dr_proto_upgrade_resources(m3, &arena, &err) != DR_OK) {
        /* may refuse mixed formats; must not crash */
    }
    dr_buf_deinit(&j1);
    dr_buf_deinit(&j2);
    dr_buf_deinit(&pb);
    dr_arena_deinit(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(&mesos__scheduler__call__descriptor, data, size);
    one(&mesos__executor__call__descriptor, data, size);
    one(&mesos__master__call__descriptor, data, size);
    return 0;
}
