/* tests/unit/agent/test_checkpoint.c — the checkpoint record format: framing
 * round trip, torn tails, corruption with the offending offset, single-record
 * files, and the status update record codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "src/agent/checkpoint.h"

typedef struct seen {
    size_t count;
    uint64_t offsets[8];
    size_t sizes[8];
} seen;

static bool record(const uint8_t *payload, size_t size, uint64_t offset, void *ctx)
{
    (void)payload;
    seen *s = ctx;
    if (s->count < 8) {
        s->offsets[s->count] = offset;
        s->sizes[s->count] = size;
    }
    s->count++;
    return true;
}

static void three_records(dr_buf *b)
{
    dr_buf_init(b);
    dr_ckpt_frame(b, "abc", 3);
    dr_ckpt_frame(b, "", 0);
    dr_ckpt_frame(b, "hello world", 11);
}

static void test_round_trip(void **state)
{
    (void)state;
    dr_buf b;
    three_records(&b);
    assert_int_equal(b.size, 3 * 16 + 14);
    seen s = {0};
    dr_ckpt_scan_result res;
    dr_err err;
    assert_int_equal(dr_ckpt_scan(b.data, b.size, false, true, record, &s, &res, &err), DR_OK);
    assert_int_equal(s.count, 3);
    assert_int_equal(s.offsets[1], 19);
    assert_int_equal(s.offsets[2], 35);
    assert_int_equal(s.sizes[2], 11);
    assert_false(res.torn);
    assert_int_equal(res.valid_size, b.size);
    dr_buf_deinit(&b);
}

static void test_torn_tail(void **state)
{
    (void)state;
    dr_buf b;
    three_records(&b);
    dr_err err;
    dr_ckpt_scan_result res;
    /* every cut inside the last record is a torn tail at offset 35 */
    for (size_t cut = 36; cut < b.size; cut++) {
        seen s = {0};
        assert_int_equal(dr_ckpt_scan(b.data, cut, false, true, record, &s, &res, &err), DR_OK);
        assert_true(res.torn);
        assert_int_equal(res.valid_size, 35);
        assert_int_equal(s.count, 2);
    }
    /* garbage in the last record's payload (full length): torn too */
    b.data[b.size - 1] ^= 0x55;
    assert_int_equal(dr_ckpt_scan(b.data, b.size, false, true, NULL, NULL, &res, &err), DR_OK);
    assert_true(res.torn);
    /* without allow_torn it is corruption */
    assert_int_equal(dr_ckpt_scan(b.data, b.size, false, false, NULL, NULL, &res, &err),
                     DR_ECORRUPT);
    assert_string_equal(err.msg, "bad checksum at offset 35");
    dr_buf_deinit(&b);
}

static void test_corruption_in_the_middle(void **state)
{
    (void)state;
    dr_buf b;
    three_records(&b);
    dr_err err;
    dr_ckpt_scan_result res;
    b.data[17] ^= 1; /* the first record's payload */
    assert_int_equal(dr_ckpt_scan(b.data, b.size, false, true, NULL, NULL, &res, &err),
                     DR_ECORRUPT);
    assert_string_equal(err.msg, "bad checksum at offset 0");
    assert_int_equal(res.valid_size, 0);
    b.data[17] ^= 1;
    b.data[27] ^= 1; /* the second's checksum */
    assert_int_equal(dr_ckpt_scan(b.data, b.size, false, true, NULL, NULL, &res, &err),
                     DR_ECORRUPT);
    assert_string_equal(err.msg, "bad checksum at offset 19");
    b.data[27] ^= 1;
    b.data[20] = 'x'; /* its magic: a good record follows, so not a torn tail */
    assert_int_equal(dr_ckpt_scan(b.data, b.size, false, true, NULL, NULL, &res, &err),
                     DR_ECORRUPT);
    assert_string_equal(err.msg, "bad magic at offset 19");
    assert_int_equal(res.valid_size, 19);
    dr_buf_deinit(&b);
}

static void test_single(void **state)
{
    (void)state;
    dr_buf b;
    dr_buf_init(&b);
    dr_err err;
    dr_ckpt_scan_result res;
    assert_int_equal(dr_ckpt_scan(b.data, 0, true, false, NULL, NULL, &res, &err), DR_ECORRUPT);
    assert_string_equal(err.msg, "empty at offset 0");
    dr_ckpt_frame(&b, "x", 1);
    assert_int_equal(dr_ckpt_scan(b.data, b.size, true, false, NULL, NULL, &res, &err), DR_OK);
    dr_ckpt_frame(&b, "y", 1);
    assert_int_equal(dr_ckpt_scan(b.data, b.size, true, false, NULL, NULL, &res, &err),
                     DR_ECORRUPT);
    assert_string_equal(err.msg, "expected one record, found more at offset 17");
    /* a protobuf record */
    Mesos__FrameworkID id = MESOS__FRAMEWORK_ID__INIT;
    id.value = (char *)"F1";
    dr_buf payload;
    dr_buf_init(&payload);
    assert_int_equal(dr_proto_encode(&id.base, &payload, &err), DR_OK);
    dr_buf_reset(&b);
    dr_ckpt_frame(&b, payload.data, payload.size);
    ProtobufCMessage *msg = NULL;
    assert_int_equal(dr_ckpt_decode_single(b.data, b.size, &mesos__framework_id__descriptor, &msg,
                                           &err),
                     DR_OK);
    assert_string_equal(((Mesos__FrameworkID *)msg)->value, "F1");
    dr_proto_free(msg);
    b.data[b.size - 1] ^= 0xff;
    assert_int_equal(dr_ckpt_decode_single(b.data, b.size, &mesos__framework_id__descriptor, &msg,
                                           &err),
                     DR_ECORRUPT);
    assert_string_equal(err.msg, "bad checksum at offset 0");
    dr_buf_deinit(&payload);
    dr_buf_deinit(&b);
}

static void test_update_records(void **state)
{
    (void)state;
    Mesos__TaskStatus st = MESOS__TASK_STATUS__INIT;
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    uint8_t uuid[16] = {1, 2, 3};
    tid.value = (char *)"t1";
    st.task_id = &tid;
    st.state = MESOS__TASK_STATE__TASK_RUNNING;
    dr_buf b;
    dr_buf_init(&b);
    dr_err err;
    /* no uuid: refused when read back */
    assert_int_equal(dr_ckpt_encode_update(&st, &b, &err), DR_OK);
    int type = 0;
    Mesos__TaskStatus *out = NULL;
    const uint8_t *u = NULL;
    size_t usize = 0;
    assert_int_equal(dr_ckpt_decode_update(b.data + 16, b.size - 16, &type, &out, &u, &usize,
                                           &err),
                     DR_ECORRUPT);
    assert_string_equal(err.msg, "update record without a uuid");
    dr_buf_reset(&b);
    st.has_uuid = true;
    st.uuid.data = uuid;
    st.uuid.len = 16;
    assert_int_equal(dr_ckpt_encode_update(&st, &b, &err), DR_OK);
    assert_int_equal(dr_ckpt_decode_update(b.data + 16, b.size - 16, &type, &out, &u, &usize,
                                           &err),
                     DR_OK);
    assert_int_equal(type, DR_CKPT_UPDATE);
    assert_int_equal(out->state, MESOS__TASK_STATE__TASK_RUNNING);
    assert_memory_equal(out->uuid.data, uuid, 16);
    dr_proto_free(&out->base);
    dr_buf_reset(&b);
    dr_ckpt_encode_ack(uuid, 16, &b);
    assert_int_equal(dr_ckpt_decode_update(b.data + 16, b.size - 16, &type, &out, &u, &usize,
                                           &err),
                     DR_OK);
    assert_int_equal(type, DR_CKPT_ACK);
    assert_int_equal(usize, 16);
    assert_memory_equal(u, uuid, 16);
    const uint8_t bad[] = {7, 1};
    assert_int_equal(dr_ckpt_decode_update(bad, 2, &type, &out, &u, &usize, &err), DR_ECORRUPT);
    assert_string_equal(err.msg, "unknown update record type 7");
    dr_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_corruption_in_the_middle),
        cmocka_unit_test(test_single),
        cmocka_unit_test(test_update_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
