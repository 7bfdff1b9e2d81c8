/* tests/unit/demo/test_frame.c — the counter's frames, log records and
 * address parsing: round trips, and bad input rejected with a clear error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "src/demo/counter.h"

static void frame_round_trip(void **state)
{
    (void)state;
    dr_buf buf;
    dr_buf_init(&buf);
    dr_counter_frame_put(&buf, DR_COUNTER_MSG_INC, "abcdefgh", 8);
    dr_counter_frame_put(&buf, DR_COUNTER_MSG_GET, NULL, 0);
    assert_int_equal(buf.size, 8 + DR_COUNTER_FRAME_OVERHEAD_SIZE + DR_COUNTER_FRAME_OVERHEAD_SIZE + 2);

    size_t frame_size = 0, payload_size = 0;
    uint8_t type = 0;
    const uint8_t *payload = NULL;
    dr_err err;
    /* every strict prefix of the first frame asks for more */
    for (size_t n = 0; n < 8 + 13; n++)
        assert_int_equal(dr_counter_frame_get(buf.data, n, &frame_size, &type, &payload,
                                              &payload_size, &err),
                         DR_EAGAIN);
    assert_int_equal(dr_counter_frame_get(buf.data, buf.size, &frame_size, &type, &payload,
                                          &payload_size, &err),
                     DR_OK);
    assert_int_equal(type, DR_COUNTER_MSG_INC);
    assert_int_equal(payload_size, 8);
    assert_memory_equal(payload, "abcdefgh", 8);
    assert_int_equal(frame_size, 8 + 13);
    assert_int_equal(dr_counter_frame_get(buf.data + frame_size, buf.size - frame_size, &frame_size,
                                          &type, &payload, &payload_size, &err),
                     DR_OK);
    assert_int_equal(type, DR_COUNTER_MSG_GET);
    assert_int_equal(payload_size, 0);
    dr_buf_deinit(&buf);
}

static void frame_rejects_corruption(void **state)
{
    (void)state;
    dr_buf buf;
    dr_buf_init(&buf);
    dr_counter_frame_put(&buf, DR_COUNTER_MSG_ACK, "0123456789abcdef", 16);
    size_t frame_size = 0, payload_size = 0;
    uint8_t type = 0;
    const uint8_t *payload = NULL;
    dr_err err;
    /* flipping any single bit is caught */
    for (size_t i = 0; i < buf.size; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf.data[i] ^= (uint8_t)(1u << bit);
            dr_code rc = dr_counter_frame_get(buf.data, buf.size, &frame_size, &type, &payload,
                                              &payload_size, &err);
            assert_int_not_equal(rc, DR_OK);
            buf.data[i] ^= (uint8_t)(1u << bit);
        }
    }
    buf.data[6] ^= 1;
    assert_int_equal(dr_counter_frame_get(buf.data, buf.size, &frame_size, &type, &payload,
                                          &payload_size, &err),
                     DR_ECORRUPT);
    assert_non_null(strstr(err.msg, "counter frame: checksum"));
    dr_buf_deinit(&buf);

    uint8_t huge[16] = {0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(dr_counter_frame_get(huge, sizeof huge, &frame_size, &type, &payload,
                                          &payload_size, &err),
                     DR_ETOOBIG);
    assert_non_null(strstr(err.msg, "exceeds"));
    uint8_t empty[16] = {0};
    assert_int_equal(dr_counter_frame_get(empty, sizeof empty, &frame_size, &type, &payload,
                                          &payload_size, &err),
                     DR_ECORRUPT);
    assert_non_null(strstr(err.msg, "empty body"));
}

static void record_round_trip_and_torn(void **state)
{
    (void)state;
    dr_counter_record rec = {0x1122334455667788u, 42, 3};
    uint8_t bytes[DR_COUNTER_RECORD_SIZE];
    dr_counter_record_encode(&rec, 7, bytes);
    dr_counter_record got = {0};
    dr_err err;
    assert_int_equal(dr_counter_record_decode(bytes, 7, &got, &err), DR_OK);
    assert_memory_equal(&got, &rec, sizeof rec);
    /* the same bytes at another index are not believed */
    dr_counter_record untouched = {9, 9, 9};
    assert_int_equal(dr_counter_record_decode(bytes, 8, &untouched, &err), DR_ECORRUPT);
    assert_string_equal(err.msg, "counter log: record 8 fails its checksum");
    assert_int_equal(untouched.seq, 9);
    /* a torn sector (zeros where new data should be) is caught */
    memset(bytes + 16, 0, 8);
    assert_int_equal(dr_counter_record_decode(bytes, 7, &untouched, &err), DR_ECORRUPT);
}

static void parse_addr(void **state)
{
    (void)state;
    char host[64];
    uint16_t port = 0;
    dr_err err;
    assert_int_equal(dr_counter_parse_addr("replica-1:7000", host, sizeof host, &port, &err), DR_OK);
    assert_string_equal(host, "replica-1");
    assert_int_equal(port, 7000);
    assert_int_equal(dr_counter_parse_addr("nohost", host, sizeof host, &port, &err), DR_EINVAL);
    assert_string_equal(err.msg, "address 'nohost': expected HOST:PORT");
    assert_int_equal(dr_counter_parse_addr(":80", host, sizeof host, &port, &err), DR_EINVAL);
    assert_int_equal(dr_counter_parse_addr("h:0", host, sizeof host, &port, &err), DR_EINVAL);
    assert_string_equal(err.msg, "address 'h:0': port must be 1-65535");
    assert_int_equal(dr_counter_parse_addr("h:99999", host, sizeof host, &port, &err), DR_EINVAL);
    assert_int_equal(dr_counter_parse_addr("h:12x", host, sizeof host, &port, &err), DR_EINVAL);
    assert_string_equal(err.msg, "address 'h:12x': port is not a number");
    assert_int_equal(dr_counter_parse_addr("h:-1", host, sizeof host, &port, &err), DR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frame_round_trip),
        cmocka_unit_test(frame_rejects_corruption),
        cmocka_unit_test(record_round_trip_and_torn),
        cmocka_unit_test(parse_addr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
