/* tests/unit/proto/test_proto.c — golden requests through the JSON and
 * protobuf codecs, field by field; bad input with its error texts; the
 * pre-1.4 resource upgrade; JSON output details (defaults, escaping, order).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "src/limits.h"
#include "src/proto/json.h"
#include "src/proto/proto.h"

/* ---- helpers ----------------------------------------------------------------- */

static ProtobufCMessage *decode_ok(const ProtobufCMessageDescriptor *desc, const char *json,
                                   dr_arena *arena)
{
    ProtobufCMessage *m = NULL;
    dr_err err = {0};
    dr_code rc = dr_json_decode(desc, json, strlen(json), arena, &m, &err);
    if (rc != DR_OK)
        print_error("decode failed: %s\n", err.msg);
    assert_int_equal(rc, DR_OK);
    assert_non_null(m);
    return m;
}

/* Decoding must fail with code and an error containing want. */
static void decode_fails(const ProtobufCMessageDescriptor *desc, const char *json, dr_code code,
                         const char *want)
{
    ProtobufCMessage *m = (ProtobufCMessage *)(uintptr_t)0x1;
    dr_err err = {0};
    /* Without an arena, so ASan sees any leak on the failure path. */
    dr_code rc = dr_json_decode(desc, json, strlen(json), NULL, &m, &err);
    if (rc == DR_OK || strstr(err.msg, want) == NULL)
        print_error("input %s\n  got rc=%d '%s'\n  want '%s'\n", json, rc, err.msg, want);
    assert_int_equal(rc, code);
    assert_non_null(strstr(err.msg, want));
    assert_ptr_equal(m, (ProtobufCMessage *)(uintptr_t)0x1); /* untouched */
    /* With an arena the streaming decoder runs: same code, same text. */
    dr_arena arena;
    dr_arena_init(&arena);
    dr_err err2 = {0};
    rc = dr_json_decode(desc, json, strlen(json), &arena, &m, &err2);
    if (rc == DR_OK || strstr(err2.msg, want) == NULL)
        print_error("streaming: input %s\n  got rc=%d '%s'\n  want '%s'\n", json, rc, err2.msg, want);
    assert_int_equal(rc, code);
    assert_non_null(strstr(err2.msg, want));
    assert_ptr_equal(m, (ProtobufCMessage *)(uintptr_t)0x1);
    dr_arena_deinit(&arena);
}

static char *encode_json(const ProtobufCMessage *m, unsigned flags)
{
    dr_buf buf;
    dr_buf_init(&buf);
    dr_err err = {0};
    assert_int_equal(dr_json_encode_flags(m, flags, &buf, &err), DR_OK);
    char *s = dr_strdup(dr_buf_cstr(&buf));
    dr_buf_deinit(&buf);
    return s;
}

/* Dromos's packer and protobuf-c's agree on m. */
static void expect_same_as_protobuf_c(const ProtobufCMessage *m)
{
    dr_buf buf;
    dr_buf_init(&buf);
    dr_err err = {0};
    assert_int_equal(dr_proto_encode(m, &buf, &err), DR_OK);
    size_t size = protobuf_c_message_get_packed_size(m);
    assert_int_equal(buf.size, size);
    uint8_t *c = dr_alloc(size + 1);
    assert_int_equal(protobuf_c_message_pack(m, c), size);
    assert_memory_equal(c, buf.data, size);
    dr_free(c);
    dr_buf_deinit(&buf);
}

static void expect_pb(const ProtobufCMessage *m, const uint8_t *want, size_t want_size)
{
    expect_same_as_protobuf_c(m);
    dr_buf buf;
    dr_buf_init(&buf);
    dr_err err = {0};
    assert_int_equal(dr_proto_encode(m, &buf, &err), DR_OK);
    assert_int_equal(buf.size, want_size);
    assert_memory_equal(buf.data, want, want_size);
    dr_buf_deinit(&buf);
}

static void expect_bytes(ProtobufCBinaryData b, const char *hex)
{
    size_t n = strlen(hex) / 2;
    assert_int_equal(b.len, n);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        assert_int_equal(b.data[i], v);
    }
}

/* JSON -> message -> JSON -> message -> JSON is stable, and protobuf agrees. */
static void expect_round_trip(const ProtobufCMessageDescriptor *desc, const char *json)
{
    ProtobufCMessage *m1 = decode_ok(desc, json, NULL);
    expect_same_as_protobuf_c(m1);
    char *j1 = encode_json(m1, 0);
    ProtobufCMessage *m2 = decode_ok(desc, j1, NULL);
    char *j2 = encode_json(m2, 0);
    assert_string_equal(j1, j2);
    dr_buf pb;
    dr_buf_init(&pb);
    dr_err err = {0};
    assert_int_equal(dr_proto_encode(m2, &pb, &err), DR_OK);
    ProtobufCMessage *m3 = NULL;
    assert_int_equal(dr_proto_decode(desc, pb.data, pb.size, NULL, &m3, &err), DR_OK);
    char *j3 = encode_json(m3, 0);
    assert_string_equal(j1, j3);
    dr_free(j1);
    dr_free(j2);
    dr_free(j3);
    dr_buf_deinit(&pb);
    dr_proto_free(m1);
    dr_proto_free(m2);
    dr_proto_free(m3);
}

/* ---- golden requests ------------------------------------------------------------ */

static const char subscribe_json[] =
    "{\"type\":\"SUBSCRIBE\",\"subscribe\":{\"framework_info\":{\"user\":\"root\","
    "\"name\":\"mesosgo-sched\",\"role\":\"*\",\"capabilities\":null}}}";

static void test_golden_subscribe(void **state)
{
    (void)state;
    dr_arena arena;
    dr_arena_init(&arena);
    Mesos__Scheduler__Call *c =
        (Mesos__Scheduler__Call *)decode_ok(&mesos__scheduler__call__descriptor, subscribe_json, &arena);
    assert_true(c->has_type);
    assert_int_equal(c->type, MESOS__SCHEDULER__CALL__TYPE__SUBSCRIBE);
    assert_null(c->framework_id);
    assert_non_null(c->subscribe);
    Mesos__FrameworkInfo *fi = c->subscribe->framework_info;
    assert_non_null(fi);
    assert_string_equal(fi->user, "root");
    assert_string_equal(fi->name, "mesosgo-sched");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    assert_string_equal(fi->role, "*");
#pragma GCC diagnostic pop
    assert_int_equal(fi->n_capabilities, 0);
    assert_false(fi->has_checkpoint);
    assert_null(fi->id);
    /* base64 EAEaGgoYCgRyb290Eg1tZXNvc2dvLXNjaGVkMgEq */
    static const uint8_t want[] = {0x10, 0x01, 0x1a, 0x1a, 0x0a, 0x18, 0x0a, 0x04, 0x72, 0x6f,
                                   0x6f, 0x74, 0x12, 0x0d, 0x6d, 0x65, 0x73, 0x6f, 0x73, 0x67,
                                   0x6f, 0x2d, 0x73, 0x63, 0x68, 0x65, 0x64, 0x32, 0x01, 0x2a};
    expect_pb(&c->base, want, sizeof want);

    /* The same bytes decode as protobuf to the same JSON. */
    ProtobufCMessage *p = NULL;
    dr_err err = {0};
    assert_int_equal(dr_proto_decode(&mesos__scheduler__call__descriptor, want, sizeof want,
                                     &arena, &p, &err),
                     DR_OK);
    char *a = encode_json(&c->base, 0);
    char *b = encode_json(p, 0);
    assert_string_equal(a, b);
    /* Mesos prints unset fields that have defaults, keys in name order. */
    assert_string_equal(a, "{\"subscribe\":{\"framework_info\":{\"checkpoint\":false,"
                           "\"failover_timeout\":0,\"name\":\"mesosgo-sched\",\"role\":\"*\","
                           "\"user\":\"root\"}},\"type\":\"SUBSCRIBE\"}");
    char *n = encode_json(&c->base, DR_JSON_NO_DEFAULTS);
    assert_string_equal(n, "{\"subscribe\":{\"framework_info\":{\"name\":\"mesosgo-sched\","
                           "\"role\":\"*\",\"user\":\"root\"}},\"type\":\"SUBSCRIBE\"}");
    dr_free(a);
    dr_free(b);
    dr_free(n);
    dr_arena_deinit(&arena);
    expect_round_trip(&mesos__scheduler__call__descriptor, subscribe_json);
}

static const char accept_json[] =
    "{\"framework_id\":{\"value\":\"F\"},\"type\":\"ACCEPT\",\"accept\":{\"offer_ids\":[{\"value\":"
    "\"O2\"}],\"operations\":[{\"type\":\"LAUNCH\",\"launch\":{\"task_infos\":[{\"name\":\"t1\","
    "\"task_id\":{\"value\":\"t1\"},\"agent_id\":{\"value\":\"S1\"},\"resources\":[{\"name\":"
    "\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},\"reservations\":null},{\"name\":"
    "\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":128},\"reservations\":null}],\"command\":"
    "{\"uris\":null,\"shell\":true,\"value\":\"echo hi; sleep 1\"}}]}}],\"filters\":"
    "{\"refuse_seconds\":1}}}";

static void test_golden_accept(void **state)
{
    (void)state;
    Mesos__Scheduler__Call *c =
        (Mesos__Scheduler__Call *)decode_ok(&mesos__scheduler__call__descriptor, accept_json, NULL);
    assert_string_equal(c->framework_id->value, "F");
    assert_int_equal(c->type, MESOS__SCHEDULER__CALL__TYPE__ACCEPT);
    Mesos__Scheduler__Call__Accept *a = c->accept;
    assert_int_equal(a->n_offer_ids, 1);
    assert_string_equal(a->offer_ids[0]->value, "O2");
    assert_int_equal(a->n_operations, 1);
    Mesos__Offer__Operation *op = a->operations[0];
    assert_true(op->has_type);
    assert_int_equal(op->type, MESOS__OFFER__OPERATION__TYPE__LAUNCH);
    assert_int_equal(op->launch->n_task_infos, 1);
    Mesos__TaskInfo *t = op->launch->task_infos[0];
    assert_string_equal(t->name, "t1");
    assert_string_equal(t->task_id->value, "t1");
    assert_string_equal(t->agent_id->value, "S1");
    assert_int_equal(t->n_resources, 2);
    assert_string_equal(t->resources[0]->name, "cpus");
    assert_int_equal(t->resources[0]->type, MESOS__VALUE__TYPE__SCALAR);
    assert_true(t->resources[0]->scalar->value == 1.0);
    assert_int_equal(t->resources[0]->n_reservations, 0);
    assert_string_equal(t->resources[1]->name, "mem");
    assert_true(t->resources[1]->scalar->value == 128.0);
    assert_int_equal(t->command->n_uris, 0);
    assert_true(t->command->has_shell);
    assert_true(t->command->shell);
    assert_string_equal(t->command->value, "echo hi; sleep 1");
    assert_true(a->filters->has_refuse_seconds);
    assert_true(a->filters->refuse_seconds == 1.0);
    dr_err err = {0};
    assert_int_equal(dr_proto_upgrade_resources(&c->base, NULL, &err), DR_OK);
    assert_int_equal(t->resources[0]->n_reservations, 0);
    dr_proto_free(&c->base);
    expect_round_trip(&mesos__scheduler__call__descriptor, accept_json);
}

static void test_golden_decline_ack_teardown(void **state)
{
    (void)state;
    dr_arena arena;
    dr_arena_init(&arena);
    const char *decline = "{\"framework_id\":{\"value\":\"F\"},\"type\":\"DECLINE\",\"decline\":"
                          "{\"offer_ids\":[{\"value\":\"O6\"}],\"filters\":{\"refuse_seconds\":120}}}";
    Mesos__Scheduler__Call *c =
        (Mesos__Scheduler__Call *)decode_ok(&mesos__scheduler__call__descriptor, decline, &arena);
    assert_string_equal(c->framework_id->value, "F");
    assert_int_equal(c->type, MESOS__SCHEDULER__CALL__TYPE__DECLINE);
    assert_int_equal(c->decline->n_offer_ids, 1);
    assert_string_equal(c->decline->offer_ids[0]->value, "O6");
    assert_true(c->decline->filters->refuse_seconds == 120.0);
    expect_round_trip(&mesos__scheduler__call__descriptor, decline);

    const char *ack = "{\"framework_id\":{\"value\":\"F\"},\"type\":\"ACKNOWLEDGE\",\"acknowledge\":"
                      "{\"agent_id\":{\"value\":\"S1\"},\"task_id\":{\"value\":\"t1\"},"
                      "\"uuid\":\"af0iDBXUSEC4ywmxYYvdDA==\"}}";
    c = (Mesos__Scheduler__Call *)decode_ok(&mesos__scheduler__call__descriptor, ack, &arena);
    assert_int_equal(c->type, MESOS__SCHEDULER__CALL__TYPE__ACKNOWLEDGE);
    assert_string_equal(c->acknowledge->agent_id->value, "S1");
    assert_string_equal(c->acknowledge->task_id->value, "t1");
    expect_bytes(c->acknowledge->uuid, "69fd220c15d44840b8cb09b1618bdd0c");
    char *j = encode_json(&c->base, 0);
    assert_non_null(strstr(j, "\"uuid\":\"af0iDBXUSEC4ywmxYYvdDA==\""));
    dr_free(j);
    expect_round_trip(&mesos__scheduler__call__descriptor, ack);

    const char *teardown = "{\"framework_id\":{\"value\":\"F\"},\"type\":\"TEARDOWN\"}";
    c = (Mesos__Scheduler__Call *)decode_ok(&mesos__scheduler__call__descriptor, teardown, &arena);
    assert_int_equal(c->type, MESOS__SCHEDULER__CALL__TYPE__TEARDOWN);
    assert_string_equal(c->framework_id->value, "F");
    assert_null(c->subscribe);
    static const uint8_t want[] = {0x0a, 0x03, 0x0a, 0x01, 'F', 0x10, 0x02};
    expect_pb(&c->base, want, sizeof want);
    dr_arena_deinit(&arena);
}

static void test_golden_executor(void **state)
{
    (void)state;
    dr_arena arena;
    dr_arena_init(&arena);
    const char *sub = "{\"executor_id\":{\"value\":\"E\"},\"framework_id\":{\"value\":\"F\"},"
                      "\"type\":\"SUBSCRIBE\",\"subscribe\":{\"unacknowledged_tasks\":null,"
                      "\"unacknowledged_updates\":null}}";
    Mesos__Executor__Call *c =
        (Mesos__Executor__Call *)decode_ok(&mesos__executor__call__descriptor, sub, &arena);
    assert_string_equal(c->executor_id->value, "E");
    assert_string_equal(c->framework_id->value, "F");
    assert_int_equal(c->type, MESOS__EXECUTOR__CALL__TYPE__SUBSCRIBE);
    assert_non_null(c->subscribe);
    assert_int_equal(c->subscribe->n_unacknowledged_tasks, 0);
    assert_int_equal(c->subscribe->n_unacknowledged_updates, 0);
    expect_round_trip(&mesos__executor__call__descriptor, sub);

    const char *upd = "{\"executor_id\":{\"value\":\"E\"},\"framework_id\":{\"value\":\"F\"},"
                      "\"type\":\"UPDATE\",\"update\":{\"status\":{\"task_id\":{\"value\":\"T\"},"
                      "\"state\":\"TASK_RUNNING\",\"source\":\"SOURCE_EXECUTOR\",\"executor_id\":"
                      "{\"value\":\"E\"},\"timestamp\":1.7955372596704667e+09,\"uuid\":"
                      "\"jGn6sltLR6OoQpgdIKNYMg==\"}}}";
    c = (Mesos__Executor__Call *)decode_ok(&mesos__executor__call__descriptor, upd, &arena);
    assert_int_equal(c->type, MESOS__EXECUTOR__CALL__TYPE__UPDATE);
    Mesos__TaskStatus *s = c->update->status;
    assert_string_equal(s->task_id->value, "T");
    assert_int_equal(s->state, MESOS__TASK_STATE__TASK_RUNNING);
    assert_true(s->has_source);
    assert_int_equal(s->source, MESOS__TASK_STATUS__SOURCE__SOURCE_EXECUTOR);
    assert_string_equal(s->executor_id->value, "E");
    assert_true(s->has_timestamp);
    assert_true(s->timestamp == 1.7955372596704667e+09);
    assert_true(s->has_uuid);
    expect_bytes(s->uuid, "8c69fab25b4b47a3a842981d20a35832");
    assert_false(s->has_reason);
    char *j = encode_json(&c->base, 0);
    assert_non_null(strstr(j, "\"timestamp\":1795537259.6704667,"));
    dr_free(j);
    expect_round_trip(&mesos__executor__call__descriptor, upd);
    dr_arena_deinit(&arena);
}

static void test_golden_get_state(void **state)
{
    (void)state;
    dr_arena arena;
    dr_arena_init(&arena);
    ProtobufCMessage *m = decode_ok(&mesos__master__call__descriptor, "{\"type\":\"GET_STATE\"}", &arena);
    static const uint8_t want[] = {0x08, 0x09};
    expect_pb(m, want, sizeof want);
    ProtobufCMessage *p = NULL;
    dr_err err = {0};
    assert_int_equal(dr_proto_decode(&mesos__master__call__descriptor, want, 2, &arena, &p, &err),
                     DR_OK);
    assert_int_equal(((Mesos__Master__Call *)p)->type, MESOS__MASTER__CALL__TYPE__GET_STATE);
    char *j = encode_json(p, 0);
    assert_string_equal(j, "{\"type\":\"GET_STATE\"}");
    dr_free(j);
    dr_arena_deinit(&arena);
}

/* Dromos's additions are on the wire with Mesos's numbers. */
static void test_additions(void **state)
{
    (void)state;
    dr_arena arena;
    dr_arena_init(&arena);
    ProtobufCMessage *m = decode_ok(&mesos__master__call__descriptor,
                                    "{\"type\":\"MARK_AGENT_GONE\",\"mark_agent_gone\":"
                                    "{\"agent_id\":{\"value\":\"A\"}}}", &arena);
    static const uint8_t gone[] = {0x08, 32, 0x8a, 0x01, 0x05, 0x0a, 0x03, 0x0a, 0x01, 'A'};
    expect_pb(m, gone, sizeof gone);
    m = decode_ok(&mesos__master__call__descriptor,
                  "{\"type\":\"TEARDOWN\",\"teardown\":{\"framework_id\":{\"value\":\"F\"}}}", &arena);
    static const uint8_t td[] = {0x08, 31, 0x82, 0x01, 0x05, 0x0a, 0x03, 0x0a, 0x01, 'F'};
    expect_pb(m, td, sizeof td);
    m = decode_ok(&mesos__scheduler__call__descriptor,
                  "{\"type\":\"UPDATE_FRAMEWORK\",\"update_framework\":{\"framework_info\":"
                  "{\"user\":\"u\",\"name\":\"n\"},\"suppressed_roles\":[\"r\"]}}", &arena);
    assert_int_equal(((Mesos__Scheduler__Call *)m)->type, 17);
    m = decode_ok(&mesos__scheduler__call__descriptor,
                  "{\"type\":\"ACKNOWLEDGE_OPERATION_STATUS\",\"acknowledge_operation_status\":"
                  "{\"uuid\":\"AAAA\",\"operation_id\":{\"value\":\"op\"}}}", &arena);
    static const uint8_t aos[] = {0x10, 15, 0x8a, 0x01, 0x0b, 0x1a, 0x03, 0, 0, 0,
                                  0x22, 0x04, 0x0a, 0x02, 'o', 'p'};
    expect_pb(m, aos, sizeof aos);
    m = decode_ok(&mesos__executor__call__descriptor,
                  "{\"executor_id\":{\"value\":\"E\"},\"framework_id\":{\"value\":\"F\"},"
                  "\"type\":\"HEARTBEAT\"}", &arena);
    static const uint8_t hb[] = {0x0a, 0x03, 0x0a, 0x01, 'E', 0x12, 0x03, 0x0a, 0x01, 'F', 0x18, 0x04};
    expect_pb(m, hb, sizeof hb);
    m = decode_ok(&mesos__master__event__descriptor, "{\"type\":\"HEARTBEAT\"}", &arena);
    static const uint8_t mhb[] = {0x08, 0x09};
    expect_pb(m, mhb, sizeof mhb);
    m = decode_ok(&mesos__master__event__descriptor,
                  "{\"type\":\"SUBSCRIBED\",\"subscribed\":{\"heartbeat_interval_seconds\":15}}",
                  &arena);
    static const uint8_t msub[] = {0x08, 0x01, 0x12, 0x09, 0x11, 0, 0, 0, 0, 0, 0, 0x2e, 0x40};
    expect_pb(m, msub, sizeof msub);
    m = decode_ok(&mesos__scheduler__event__descriptor,
                  "{\"type\":\"UPDATE_OPERATION_STATUS\",\"update_operation_status\":{\"status\":"
                  "{\"state\":\"OPERATION_FINISHED\",\"agent_id\":{\"value\":\"A\"}}}}", &arena);
    static const uint8_t uos[] = {0x08, 11, 0x5a, 0x09, 0x0a, 0x07, 0x10, 0x02,
                                  0x32, 0x03, 0x0a, 0x01, 'A'};
    expect_pb(m, uos, sizeof uos);
    dr_arena_deinit(&arena);
}

/* ---- bad input --------------------------------------------------------------- */

static void test_bad_types(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &mesos__scheduler__call__descriptor;
    decode_fails(d, "{\"type\":\"SUBSCRIBE\",\"subscribe\":{\"framework_info\":{\"user\":7,"
                    "\"name\":\"x\"}}}",
                 DR_EINVAL, "'subscribe.framework_info.user': expected a string, got an integer");
    decode_fails(d, "{\"framework_id\":\"F\"}", DR_EINVAL,
                 "'framework_id': expected an object, got a string");
    decode_fails(d, "{\"accept\":{\"offer_ids\":{\"value\":\"O\"}}}", DR_EINVAL,
                 "'accept.offer_ids': expected an array, got an object");
    decode_fails(d, "{\"accept\":{\"offer_ids\":[{\"value\":\"O\"},{\"value\":true}]}}", DR_EINVAL,
                 "'accept.offer_ids[1].value': expected a string, got a boolean");
    decode_fails(d, "{\"decline\":{\"filters\":{\"refuse_seconds\":\"soon\"}}}", DR_EINVAL,
                 "'decline.filters.refuse_seconds': \"soon\" is not a number");
    decode_fails(d, "{\"subscribe\":{\"framework_info\":{\"user\":\"u\",\"name\":\"n\","
                    "\"checkpoint\":1}}}",
                 DR_EINVAL, "'subscribe.framework_info.checkpoint': expected a boolean, got an integer");
    decode_fails(d, "[]", DR_EINVAL, "mesos.scheduler.Call: '<root>': expected an object, got an array");
    decode_fails(d, "{\"type\":", DR_EINVAL, "mesos.scheduler.Call: invalid JSON at line 1");
    decode_fails(d, "", DR_EINVAL, "invalid JSON");
    decode_fails(d, "{\"type\":[\"SUBSCRIBE\"]}", DR_EINVAL,
                 "'type': expected an enum name, got an array");
}

static void test_missing_required(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &mesos__scheduler__call__descriptor;
    decode_fails(d, "{\"type\":\"SUBSCRIBE\",\"subscribe\":{\"framework_info\":{\"name\":\"x\"}}}",
                 DR_EINVAL, "mesos.scheduler.Call: 'subscribe.framework_info.user' is required");
    decode_fails(d, "{\"type\":\"SUBSCRIBE\",\"subscribe\":{\"framework_info\":{\"name\":\"x\","
                    "\"user\":null}}}",
                 DR_EINVAL, "'subscribe.framework_info.user' is required");
    decode_fails(d, "{\"type\":\"SUBSCRIBE\",\"subscribe\":{}}", DR_EINVAL,
                 "'subscribe.framework_info' is required");
    decode_fails(d, "{\"accept\":{\"offer_ids\":[{},{\"value\":\"O\"}]}}", DR_EINVAL,
                 "'accept.offer_ids[0].value' is required");
    /* Required scalars count too: Acknowledge.uuid (bytes). */
    decode_fails(d, "{\"acknowledge\":{\"agent_id\":{\"value\":\"S\"},\"task_id\":{\"value\":\"t\"}}}",
                 DR_EINVAL, "'acknowledge.uuid' is required");

    /* Protobuf: a missing required field fails the decode, naming the type and the path. */
    static const uint8_t no_user[] = {0x10, 0x01, 0x1a, 0x05, 0x0a, 0x03, 0x12, 0x01, 'x'};
    ProtobufCMessage *m = NULL;
    dr_err err = {0};
    assert_int_equal(dr_proto_decode(d, no_user, sizeof no_user, NULL, &m, &err), DR_EINVAL);
    assert_string_equal(err.msg, "invalid mesos.scheduler.Call protobuf (9 bytes): "
                                 "'subscribe.framework_info.user' is required");
    assert_null(m);
    static const uint8_t garbage[] = {0xff, 0xff, 0xff};
    assert_int_equal(dr_proto_decode(d, garbage, sizeof garbage, NULL, &m, &err), DR_EINVAL);

    /* Encoding a hand-built message without a required field is refused. */
    Mesos__FrameworkID id = MESOS__FRAMEWORK_ID__INIT;
    Mesos__Scheduler__Call c = MESOS__SCHEDULER__CALL__INIT;
    c.framework_id = &id;
    dr_buf buf;
    dr_buf_init(&buf);
    assert_int_equal(dr_proto_encode(&c.base, &buf, &err), DR_EINVAL);
    assert_string_equal(err.msg, "encoding mesos.scheduler.Call: 'framework_id.value' is required");
    assert_int_equal(buf.size, 0);
    dr_buf_deinit(&buf);
}

static void test_unknown_enums(void **state)
{
    (void)state;
    dr_arena arena;
    dr_arena_init(&arena);
    /* Optional: dropped. */
    Mesos__Scheduler__Call *c = (Mesos__Scheduler__Call *)decode_ok(
        &mesos__scheduler__call__descriptor, "{\"type\":\"NO_SUCH_CALL\",\"future\":{}}", &arena);
    assert_false(c->has_type);
    /* By number: known is taken, unknown dropped. */
    c = (Mesos__Scheduler__Call *)decode_ok(&mesos__scheduler__call__descriptor, "{\"type\":4}", &arena);
    assert_true(c->has_type);
    assert_int_equal(c->type, MESOS__SCHEDULER__CALL__TYPE__DECLINE);
    c = (Mesos__Scheduler__Call *)decode_ok(&mesos__scheduler__call__descriptor, "{\"type\":999}", &arena);
    assert_false(c->has_type);
    /* Repeated: the element is dropped. */
    Mesos__CapabilityInfo *ci = (Mesos__CapabilityInfo *)decode_ok(
        &mesos__capability_info__descriptor, "{\"capabilities\":[\"CHOWN\",\"BOGUS\",null,\"KILL\"]}",
        &arena);
    assert_int_equal(ci->n_capabilities, 2);
    assert_int_equal(ci->capabilities[0], MESOS__CAPABILITY_INFO__CAPABILITY__CHOWN);
    assert_int_equal(ci->capabilities[1], MESOS__CAPABILITY_INFO__CAPABILITY__KILL);
    dr_arena_deinit(&arena);
    /* Required: an error. */
    decode_fails(&mesos__executor__call__descriptor,
                 "{\"type\":\"UPDATE\",\"update\":{\"status\":{\"task_id\":{\"value\":\"T\"},"
                 "\"state\":\"TASK_BOGUS\"}}}",
                 DR_EINVAL, "'update.status.state': unknown mesos.TaskState value 'TASK_BOGUS'");
}

static void test_nulls(void **state)
{
    (void)state;
    dr_arena arena;
    dr_arena_init(&arena);
    Mesos__Scheduler__Call *c = (Mesos__Scheduler__Call *)decode_ok(
        &mesos__scheduler__call__descriptor,
        "{\"framework_id\":null,\"type\":null,\"accept\":{\"offer_ids\":[null,{\"value\":\"O\"},null],"
        "\"operations\":null,\"filters\":null}}",
        &arena);
    assert_null(c->framework_id);
    assert_false(c->has_type);
    assert_int_equal(c->accept->n_offer_ids, 1);
    assert_string_equal(c->accept->offer_ids[0]->value, "O");
    assert_int_equal(c->accept->n_operations, 0);
    assert_null(c->accept->filters);
    /* Unknown keys, whatever their value, are ignored. */
    c = (Mesos__Scheduler__Call *)decode_ok(&mesos__scheduler__call__descriptor,
                                            "{\"x\":[1,{\"y\":null}],\"type\":\"REVIVE\"}", &arena);
    assert_int_equal(c->type, MESOS__SCHEDULER__CALL__TYPE__REVIVE);
    dr_arena_deinit(&arena);
}

static void test_base64(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &mesos__scheduler__call__descriptor;
    decode_fails(d, "{\"acknowledge\":{\"agent_id\":{\"value\":\"S\"},\"task_id\":{\"value\":\"t\"},"
                    "\"uuid\":\"af0i$BXU\"}}",
                 DR_EINVAL, "'acknowledge.uuid': invalid base64: bad character at offset 4");
    decode_fails(d, "{\"acknowledge\":{\"agent_id\":{\"value\":\"S\"},\"task_id\":{\"value\":\"t\"},"
                    "\"uuid\":\"abcde\"}}",
                 DR_EINVAL, "'acknowledge.uuid': invalid base64: length 5");
    decode_fails(d, "{\"acknowledge\":{\"agent_id\":{\"value\":\"S\"},\"task_id\":{\"value\":\"t\"},"
                    "\"uuid\":\"QR==\"}}",
                 DR_EINVAL, "invalid base64: trailing bits are not zero");
    decode_fails(d, "{\"acknowledge\":{\"agent_id\":{\"value\":\"S\"},\"task_id\":{\"value\":\"t\"},"
                    "\"uuid\":17}}",
                 DR_EINVAL, "'acknowledge.uuid': expected a base64 string, got an integer");
    /* Unpadded input is accepted; output is padded. */
    uint8_t out[16];
    size_t n = 0;
    dr_err err = {0};
    assert_int_equal(dr_base64_decode("aGk", 3, out, &n, &err), DR_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "hi", 2);
    dr_buf b;
    dr_buf_init(&b);
    dr_base64_encode((const uint8_t *)"hi", 2, &b);
    dr_base64_encode((const uint8_t *)"", 0, &b);
    dr_base64_encode((const uint8_t *)"abc", 3, &b);
    assert_string_equal(dr_buf_cstr(&b), "aGk=YWJj");
    dr_buf_deinit(&b);
}

static void test_numbers(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *sev = &mesos__scheduler__event__descriptor;
    decode_fails(sev, "{\"failure\":{\"status\":4294967296}}", DR_EINVAL,
                 "'failure.status': 4294967296 is out of range for int32");
    decode_fails(sev, "{\"failure\":{\"status\":1.5}}", DR_EINVAL,
                 "'failure.status': 1.5 is not a valid int32");
    decode_fails(sev, "{\"failure\":{\"status\":99999999999999999999}}", DR_EINVAL,
                 "too big integer");
    decode_fails(sev, "{\"subscribed\":{\"framework_id\":{\"value\":\"F\"},"
                      "\"heartbeat_interval_seconds\":1e999}}",
                 DR_EINVAL, "real number overflow");
    const ProtobufCMessageDescriptor *mc = &mesos__master__call__descriptor;
    decode_fails(mc, "{\"read_file\":{\"path\":\"/x\",\"offset\":-1}}", DR_EINVAL,
                 "'read_file.offset': -1 is out of range for uint64");
    decode_fails(mc, "{\"read_file\":{\"path\":\"/x\",\"offset\":\"12x\"}}", DR_EINVAL,
                 "'read_file.offset': \"12x\" is not a valid uint64");
    decode_fails(mc, "{\"read_file\":{\"path\":\"/x\",\"offset\":\"-5\"}}", DR_EINVAL,
                 "is not a valid uint64");

    /* 64-bit values: numbers, or strings of digits; above INT64_MAX out as strings. */
    dr_arena arena;
    dr_arena_init(&arena);
    Mesos__Master__Call *c = (Mesos__Master__Call *)decode_ok(
        mc, "{\"read_file\":{\"path\":\"/x\",\"offset\":\"18446744073709551615\",\"length\":7.0}}",
        &arena);
    assert_true(c->read_file->offset == UINT64_MAX);
    assert_true(c->read_file->length == 7);
    char *j = encode_json(&c->base, 0);
    assert_string_equal(j, "{\"read_file\":{\"length\":7,\"offset\":\"18446744073709551615\","
                           "\"path\":\"/x\"}}");
    dr_free(j);
    c = (Mesos__Master__Call *)decode_ok(
        mc, "{\"read_file\":{\"path\":\"/x\",\"offset\":9223372036854775807}}", &arena);
    assert_true(c->read_file->offset == INT64_MAX);
    Mesos__Scheduler__Event *e = (Mesos__Scheduler__Event *)decode_ok(
        sev, "{\"subscribed\":{\"framework_id\":{\"value\":\"F\"},\"heartbeat_interval_seconds\":\"NaN\"}}",
        &arena);
    assert_true(e->subscribed->heartbeat_interval_seconds != e->subscribed->heartbeat_interval_seconds);
    j = encode_json(&e->base, 0);
    assert_non_null(strstr(j, "\"heartbeat_interval_seconds\":\"NaN\""));
    dr_free(j);
    e = (Mesos__Scheduler__Event *)decode_ok(
        sev, "{\"subscribed\":{\"framework_id\":{\"value\":\"F\"},\"heartbeat_interval_seconds\":0.1}}",
        &arena);
    j = encode_json(&e->base, 0);
    assert_non_null(strstr(j, "\"heartbeat_interval_seconds\":0.1}"));
    dr_free(j);
    dr_arena_deinit(&arena);
    decode_fails(sev, "{\"subscribed\":{\"framework_id\":{\"value\":\"F\"},"
                      "\"heartbeat_interval_seconds\":\"inf\"}}",
                 DR_EINVAL, "\"inf\" is not a number");
}

static void test_depth_and_size(void **state)
{
    (void)state;
    /* 3000 nested arrays under an unknown key: jansson's own depth guard. */
    size_t depth = 3000;
    char *deep = dr_alloc(2 * depth + 16);
    size_t n = 0;
    n += (size_t)sprintf(deep, "{\"x\":");
    for (size_t i = 0; i < depth; i++)
        deep[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    decode_fails(&mesos__scheduler__call__descriptor, deep, DR_EINVAL, "maximum parsing depth");
    dr_free(deep);

    ProtobufCMessage *m = NULL;
    dr_err err = {0};
    assert_int_equal(dr_json_decode(&mesos__scheduler__call__descriptor, "{}",
                                    (size_t)DR_PROTO_MESSAGE_SIZE_MAX + 1, NULL, &m, &err),
                     DR_ETOOBIG);
    assert_int_equal(dr_proto_decode(&mesos__scheduler__call__descriptor, (const uint8_t *)"",
                                     (size_t)DR_PROTO_MESSAGE_SIZE_MAX + 1, NULL, &m, &err),
                     DR_ETOOBIG);
    assert_null(m);
}

static void test_strings(void **state)
{
    (void)state;
    dr_arena arena;
    dr_arena_init(&arena);
    /* Non-ASCII in, \u escapes out (surrogate pairs above U+FFFF); controls escaped. */
    Mesos__FrameworkID *id = (Mesos__FrameworkID *)decode_ok(
        &mesos__framework_id__descriptor, "{\"value\":\"\\u00e9\\ud83d\\ude00\\\"\\\\\\n\\u0001/\"}",
        &arena);
    assert_string_equal(id->value, "\xc3\xa9\xf0\x9f\x98\x80\"\\\n\x01/");
    char *j = encode_json(&id->base, 0);
    assert_string_equal(j, "{\"value\":\"\\u00e9\\ud83d\\ude00\\\"\\\\\\n\\u0001/\"}");
    dr_free(j);
    /* Invalid UTF-8 (possible from protobuf) cannot be written as JSON. */
    Mesos__Scheduler__Call c = MESOS__SCHEDULER__CALL__INIT;
    Mesos__FrameworkID bad = MESOS__FRAMEWORK_ID__INIT;
    bad.value = "ok\xff";
    c.framework_id = &bad;
    dr_buf buf;
    dr_buf_init(&buf);
    dr_buf_append_str(&buf, "keep");
    dr_err err = {0};
    assert_int_equal(dr_json_encode(&c.base, &buf, &err), DR_EINVAL);
    assert_string_equal(err.msg, "encoding mesos.scheduler.Call as JSON: 'framework_id.value': "
                                 "string is not valid UTF-8 (byte 2)");
    assert_int_equal(buf.size, 4); /* unchanged */
    /* The path names repeated elements too. */
    Mesos__Offer__Operation__Launch l = MESOS__OFFER__OPERATION__LAUNCH__INIT;
    Mesos__TaskInfo t0 = MESOS__TASK_INFO__INIT, t1 = MESOS__TASK_INFO__INIT;
    Mesos__TaskInfo *ts[] = {&t0, &t1};
    t0.name = "fine";
    t1.name = "bad\xc3(";
    l.n_task_infos = 2;
    l.task_infos = ts;
    assert_int_equal(dr_json_encode(&l.base, &buf, &err), DR_EINVAL);
    assert_string_equal(err.msg, "encoding mesos.Offer.Operation.Launch as JSON: "
                                 "'task_infos[1].name': string is not valid UTF-8 (byte 3)");
    dr_buf_deinit(&buf);
    dr_arena_deinit(&arena);
}


/* The streaming decoder accepts what jansson accepts, and refuses the rest
 * with the same words (decode_fails runs both decoders). */
static void test_json_syntax(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &mesos__framework_id__descriptor;
    static const char *const bad[][2] = {
        {"{\"value\":\"a\\", "invalid JSON"},
        {"{\"value\":\"a", "invalid JSON"},
        {"{\"value\":\"a\\q\"}", "invalid JSON"},
        {"{\"value\":\"\\u0000\"}", "invalid JSON"},
        {"{\"value\":\"\\ud800\"}", "invalid JSON"},
        {"{\"value\":\"\\udc00x\"}", "invalid JSON"},
        {"{\"value\":\"\\u12\"}", "invalid JSON"},
        {"{\"value\":\"\x01\"}", "invalid JSON"},
        {"{\"value\":\"\xc3\"}", "invalid JSON"},
        {"{\"value\":\"\xed\xa0\x80\"}", "invalid JSON"},
        {"{\"value\":\"v\",}", "invalid JSON"},
        {"{\"value\":\"v\"} x", "invalid JSON"},
        {"{\"value\" \"v\"}", "invalid JSON"},
        {"{\"x\":01,\"value\":\"v\"}", "invalid JSON"},
        {"{\"x\":1.,\"value\":\"v\"}", "invalid JSON"},
        {"{\"x\":-,\"value\":\"v\"}", "invalid JSON"},
        {"{\"x\":1e,\"value\":\"v\"}", "invalid JSON"},
        {"{\"x\":tru,\"value\":\"v\"}", "invalid JSON"},
        {"{\"x\":[1,],\"value\":\"v\"}", "invalid JSON"},
        {"{\"x\":{\"a\"},\"value\":\"v\"}", "invalid JSON"},
        {"{\"x\":-99999999999999999999,\"value\":\"v\"}", "too big negative integer"},
        {"\"value\"", "invalid JSON"},
        {"   ", "invalid JSON"},
    };
    for (size_t i = 0; i < DR_ARRAY_COUNT(bad); i++)
        decode_fails(d, bad[i][0], DR_EINVAL, bad[i][1]);

    dr_arena arena;
    dr_arena_init(&arena);
    /* Escapes, whitespace, ignored values of every kind, last key wins. */
    Mesos__FrameworkID *id = (Mesos__FrameworkID *)decode_ok(
        d, " \r\n\t{ \"x\" : [ 1 , -2.5e-3 , true , false , null , \"s\\\"\" , { \"k\" : [ ] } ] ,"
           "\"v\\u0061lue\" : \"a\\/b\\b\\f\\n\\r\\t\\u20ac\" , \"value\":\"last\\u00e9\" } ",
        &arena);
    assert_string_equal(id->value, "last\xc3\xa9");
    Mesos__Scheduler__Call *c = (Mesos__Scheduler__Call *)decode_ok(
        &mesos__scheduler__call__descriptor,
        "{\"type\":\"ACCEPT\",\"type\":\"BOGUS\",\"framework_id\":{\"value\":\"a\"},"
        "\"framework_id\":null,\"accept\":{\"offer_ids\":[{\"value\":\"1\"}],"
        "\"offer_ids\":[{\"value\":\"2\"},{\"value\":\"3\"}]}}",
        &arena);
    assert_false(c->has_type);
    assert_null(c->framework_id);
    assert_int_equal(c->accept->n_offer_ids, 2);
    assert_string_equal(c->accept->offer_ids[1]->value, "3");
    /* Nesting under an ignored key counts towards the limit too. */
    char deep[300];
    size_t n = 0;
    n += (size_t)sprintf(deep, "{\"x\":");
    for (int i = 0; i < 70; i++)
        deep[n++] = '[';
    for (int i = 0; i < 70; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    ProtobufCMessage *m = NULL;
    dr_err err = {0};
    assert_int_equal(dr_json_decode(d, deep, n, &arena, &m, &err), DR_EINVAL);
    assert_non_null(strstr(err.msg, "maximum parsing depth reached"));
    dr_arena_deinit(&arena);
}


/* Recursive messages (ContainerID.parent) cannot nest past the limits: not in
 * protobuf (protobuf-c would recurse off the stack), not in JSON. */
static void test_nesting_limits(void **state)
{
    (void)state;
    /* Built from the innermost out: value "x", then parent = previous. */
    size_t levels = 100000;
    dr_buf pb, tmp;
    dr_buf_init(&pb);
    dr_buf_init(&tmp);
    dr_buf_append(&pb, "\x0a\x01x", 3);
    for (size_t i = 1; i < levels; i++) {
        dr_buf_reset(&tmp);
        dr_buf_append(&tmp, "\x0a\x01x\x12", 4);
        uint8_t len[10];
        size_t n = 0;
        for (uint64_t v = pb.size; ; v >>= 7) {
            len[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
            if (v < 0x80)
                break;
        }
        dr_buf_append(&tmp, len, n);
        dr_buf_append(&tmp, pb.data, pb.size);
        dr_buf t = pb;
        pb = tmp;
        tmp = t;
        if (i == 64) { /* 65 messages: the root and 64 nested: accepted */
            dr_arena arena;
            dr_arena_init(&arena);
            ProtobufCMessage *m = NULL;
            dr_err err = {0};
            assert_int_equal(dr_proto_decode(&mesos__container_id__descriptor, pb.data, pb.size,
                                             &arena, &m, &err), DR_OK);
            dr_arena_deinit(&arena);
        }
        if (i == 65) {
            ProtobufCMessage *m = NULL;
            dr_err err = {0};
            assert_int_equal(dr_proto_decode(&mesos__container_id__descriptor, pb.data, pb.size,
                                             NULL, &m, &err), DR_EINVAL);
            assert_non_null(strstr(err.msg, "messages nested deeper than 64"));
        }
    }
    ProtobufCMessage *m = NULL;
    dr_err err = {0};
    assert_int_equal(dr_proto_decode(&mesos__container_id__descriptor, pb.data, pb.size, NULL, &m,
                                     &err), DR_EINVAL);
    assert_string_equal(err.msg + strlen(err.msg) - strlen("messages nested deeper than 64"),
                        "messages nested deeper than 64");
    dr_buf_deinit(&pb);
    dr_buf_deinit(&tmp);

    /* JSON: 70 nested ContainerIDs. */
    dr_buf js;
    dr_buf_init(&js);
    for (int i = 0; i < 70; i++)
        dr_buf_append_str(&js, "{\"value\":\"x\",\"parent\":");
    dr_buf_append_str(&js, "{\"value\":\"x\"}");
    for (int i = 0; i < 70; i++)
        dr_buf_append_str(&js, "}");
    decode_fails(&mesos__container_id__descriptor, dr_buf_cstr(&js), DR_EINVAL,
                 "maximum parsing depth");
    dr_buf_deinit(&js);
}


/* An arena with a limit stops both decoders with DR_ETOOBIG. */
static void test_arena_limit(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &mesos__scheduler__call__descriptor;
    dr_buf pb;
    dr_buf_init(&pb);
    ProtobufCMessage *m = decode_ok(d, accept_json, NULL);
    dr_err err = {0};
    assert_int_equal(dr_proto_encode(m, &pb, &err), DR_OK);
    dr_proto_free(m);
    for (int limited = 0; limited < 2; limited++) {
        dr_arena arena;
        dr_arena_init(&arena);
        dr_arena_set_size_max(&arena, limited ? 512 : 64 * 1024);
        dr_code want = limited ? DR_ETOOBIG : DR_OK;
        assert_int_equal(dr_json_decode(d, accept_json, strlen(accept_json), &arena, &m, &err), want);
        if (limited)
            assert_non_null(strstr(err.msg, "over the arena's limit of 512 bytes"));
        dr_arena_deinit(&arena);
        dr_arena_init(&arena);
        dr_arena_set_size_max(&arena, limited ? 512 : 64 * 1024);
        assert_int_equal(dr_proto_decode(d, pb.data, pb.size, &arena, &m, &err), want);
        if (limited)
            assert_string_equal(err.msg, "decoding mesos.scheduler.Call protobuf (113 bytes): over "
                                         "the arena's limit of 512 bytes");
        dr_arena_deinit(&arena);
    }
    dr_buf_deinit(&pb);
}

/* ---- resources ------------------------------------------------------------------- */

static void test_upgrade_resources(void **state)
{
    (void)state;
    const char *json =
        "{\"type\":\"ACCEPT\",\"accept\":{\"operations\":[{\"type\":\"RESERVE\",\"reserve\":"
        "{\"resources\":["
        "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},\"role\":\"*\"},"
        "{\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":2},\"role\":\"web\"},"
        "{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":3},\"role\":\"db\","
        "\"reservation\":{\"principal\":\"ops\",\"labels\":{\"labels\":[{\"key\":\"k\"}]}}},"
        "{\"name\":\"gpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":4},"
        "\"reservations\":[{\"type\":\"STATIC\",\"role\":\"ml\"}]}]}}]}}";
    for (int use_arena = 0; use_arena < 2; use_arena++) {
        dr_arena arena;
        dr_arena_init(&arena);
        dr_arena *a = use_arena ? &arena : NULL;
        Mesos__Scheduler__Call *c =
            (Mesos__Scheduler__Call *)decode_ok(&mesos__scheduler__call__descriptor, json, a);
        dr_err err = {0};
        assert_int_equal(dr_proto_upgrade_resources(&c->base, a, &err), DR_OK);
        Mesos__Resource **r = c->accept->operations[0]->reserve->resources;
        assert_int_equal(r[0]->n_reservations, 0);
        assert_int_equal(r[1]->n_reservations, 1);
        assert_int_equal(r[1]->reservations[0]->type, MESOS__RESOURCE__RESERVATION_INFO__TYPE__STATIC);
        assert_string_equal(r[1]->reservations[0]->role, "web");
        assert_int_equal(r[2]->n_reservations, 1);
        assert_int_equal(r[2]->reservations[0]->type, MESOS__RESOURCE__RESERVATION_INFO__TYPE__DYNAMIC);
        assert_string_equal(r[2]->reservations[0]->role, "db");
        assert_string_equal(r[2]->reservations[0]->principal, "ops");
        assert_string_equal(r[2]->reservations[0]->labels->labels[0]->key, "k");
        assert_int_equal(r[3]->n_reservations, 1);
        assert_string_equal(r[3]->reservations[0]->role, "ml");
        for (int i = 0; i < 4; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
            assert_null(r[i]->reservation);
            assert_true(r[i]->role == NULL || strcmp(r[i]->role, "*") == 0);
#pragma GCC diagnostic pop
        }
        char *j = encode_json(&r[2]->base, 0);
        assert_string_equal(j, "{\"name\":\"disk\",\"reservations\":[{\"labels\":{\"labels\":"
                               "[{\"key\":\"k\"}]},\"principal\":\"ops\",\"role\":\"db\",\"type\":"
                               "\"DYNAMIC\"}],\"role\":\"*\",\"scalar\":{\"value\":3},\"type\":\"SCALAR\"}");
        dr_free(j);
        /* Upgrading twice changes nothing. */
        assert_int_equal(dr_proto_upgrade_resources(&c->base, a, &err), DR_OK);
        assert_int_equal(r[1]->n_reservations, 1);
        if (a == NULL)
            dr_proto_free(&c->base);
        dr_arena_deinit(&arena);
    }

    const char *both = "{\"accept\":{\"operations\":[{\"launch\":{\"task_infos\":[{\"name\":\"t\","
                       "\"task_id\":{\"value\":\"t\"},\"agent_id\":{\"value\":\"a\"},\"resources\":["
                       "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"role\":\"r\",\"reservations\":"
                       "[{\"role\":\"r\"}]}]}]}}]}}";
    const char *star = "{\"accept\":{\"operations\":[{\"reserve\":{\"resources\":[{\"name\":\"cpus\","
                       "\"type\":\"SCALAR\",\"reservation\":{\"principal\":\"p\"}}]}}]}}";
    dr_arena arena;
    dr_arena_init(&arena);
    dr_err err = {0};
    ProtobufCMessage *m = decode_ok(&mesos__scheduler__call__descriptor, both, &arena);
    assert_int_equal(dr_proto_upgrade_resources(m, &arena, &err), DR_EINVAL);
    assert_string_equal(err.msg, "'accept.operations[0].launch.task_infos[0].resources[0]': "
                                 "'reservations' cannot be combined with the pre-1.4 'role' or "
                                 "'reservation'");
    m = decode_ok(&mesos__scheduler__call__descriptor, star, &arena);
    assert_int_equal(dr_proto_upgrade_resources(m, &arena, &err), DR_EINVAL);
    assert_string_equal(err.msg, "'accept.operations[0].reserve.resources[0]': 'reservation' "
                                 "needs a role other than '*'");
    dr_arena_deinit(&arena);
}

/* Unknown fields survive protobuf round trips; field number 0 is refused;
 * negative int32 take ten bytes, as protobuf-c and Mesos write them. */
static void test_protobuf_edges(void **state)
{
    (void)state;
    dr_arena arena;
    dr_arena_init(&arena);
    dr_err err = {0};
    ProtobufCMessage *m = NULL;
    /* type=TEARDOWN, unknown field 99 (varint 5), unknown field 100 (bytes "hi") */
    static const uint8_t unk[] = {0x10, 0x02, 0x98, 0x06, 0x05, 0xa2, 0x06, 0x02, 'h', 'i'};
    assert_int_equal(dr_proto_decode(&mesos__scheduler__call__descriptor, unk, sizeof unk, &arena,
                                     &m, &err),
                     DR_OK);
    assert_int_equal(m->n_unknown_fields, 2);
    expect_pb(m, unk, sizeof unk);
    static const uint8_t zero[] = {0x82, 0x00, 0x01, 0x41};
    assert_int_equal(dr_proto_decode(&mesos__scheduler__call__descriptor, zero, sizeof zero, &arena,
                                     &m, &err),
                     DR_EINVAL);
    assert_string_equal(err.msg, "invalid mesos.scheduler.Call protobuf (4 bytes): field number 0 at "
                                 "byte 0");
    m = decode_ok(&mesos__scheduler__event__descriptor, "{\"type\":\"FAILURE\",\"failure\":{\"status\":-1}}",
                  &arena);
    static const uint8_t neg[] = {0x08, 0x06, 0x3a, 0x0b, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0x01};
    expect_pb(m, neg, sizeof neg);
    dr_arena_deinit(&arena);
}

/* A message decoded from protobuf into the arena round-trips byte for byte. */
static void test_protobuf_round_trip(void **state)
{
    (void)state;
    ProtobufCMessage *m = decode_ok(&mesos__scheduler__call__descriptor, accept_json, NULL);
    dr_buf a, b;
    dr_buf_init(&a);
    dr_buf_init(&b);
    dr_err err = {0};
    assert_int_equal(dr_proto_encode(m, &a, &err), DR_OK);
    dr_arena arena;
    dr_arena_init(&arena);
    ProtobufCMessage *p = NULL;
    assert_int_equal(dr_proto_decode(&mesos__scheduler__call__descriptor, a.data, a.size, &arena,
                                     &p, &err),
                     DR_OK);
    assert_int_equal(dr_proto_encode(p, &b, &err), DR_OK);
    assert_int_equal(a.size, b.size);
    assert_memory_equal(a.data, b.data, a.size);
    assert_true(arena.used_size > 0);
    dr_arena_deinit(&arena);
    dr_buf_deinit(&a);
    dr_buf_deinit(&b);
    dr_proto_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_subscribe),
        cmocka_unit_test(test_golden_accept),
        cmocka_unit_test(test_golden_decline_ack_teardown),
        cmocka_unit_test(test_golden_executor),
        cmocka_unit_test(test_golden_get_state),
        cmocka_unit_test(test_additions),
        cmocka_unit_test(test_bad_types),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_unknown_enums),
        cmocka_unit_test(test_nulls),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_depth_and_size),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_json_syntax),
        cmocka_unit_test(test_nesting_limits),
        cmocka_unit_test(test_arena_limit),
        cmocka_unit_test(test_upgrade_resources),
        cmocka_unit_test(test_protobuf_round_trip),
        cmocka_unit_test(test_protobuf_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
