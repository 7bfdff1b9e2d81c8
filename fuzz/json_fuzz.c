/* fuzz/json_fuzz.c — the JSON codec (src/proto/json.h) on arbitrary input.
 *
 * Decodes the input as a scheduler Call, an executor Call and a master Call,
 * with both decoders (streaming into an arena, jansson tree with malloc), which
 * must agree. Where a decode succeeds, the message must encode, and encode -> decode ->
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
    /* The streaming decoder (arena) and the jansson tree decoder (no arena)
     * agree: what jansson's path refuses the streaming one refuses too, and
     * where both accept they build the same message. (The streaming decoder
     * may refuse more: nesting under ignored keys beyond DR_JSON_DEPTH_MAX,
     * and errors in an earlier value of a key given twice.) */
    ProtobufCMessage *tree = NULL;
    dr_code tree_rc = dr_json_decode(desc, (const char *)data, size, NULL, &tree, &err);
    dr_code stream_rc = dr_json_decode(desc, (const char *)data, size, &arena, &m, &err);
    check(tree_rc == DR_OK || stream_rc != DR_OK);
    if (stream_rc != DR_OK) {
        dr_proto_free(tree);
        dr_arena_deinit(&arena);
        return;
    }
    if (tree_rc == DR_OK) {
        dr_buf a, b;
        dr_buf_init(&a);
        dr_buf_init(&b);
        check(dr_proto_encode(tree, &a, &err) == DR_OK);
        check(dr_proto_encode(m, &b, &err) == DR_OK);
        check(a.size == b.size && memcmp(a.data, b.data, a.size) == 0);
        dr_buf_deinit(&a);
        dr_buf_deinit(&b);
        dr_proto_free(tree);
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
