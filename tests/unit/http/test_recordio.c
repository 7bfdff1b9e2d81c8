/* tests/unit/http/test_recordio.c — RecordIO encoder and incremental decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "src/http/recordio.h"

typedef struct collected {
    char records[16][64];
    size_t sizes[16];
    size_t count;
    size_t stop_after; /* 0: never stop */
} collected;

static bool collect(const uint8_t *data, size_t size, void *ctx)
{
    collected *c = ctx;
    assert_true(c->count < 16);
    assert_true(size < 64);
    memcpy(c->records[c->count], data, size);
    c->records[c->count][size] = '\0';
    c->sizes[c->count] = size;
    c->count++;
    return c->stop_after == 0 || c->count < c->stop_after;
}

static void test_encode(void **state)
{
    (void)state;
    dr_buf b;
    dr_buf_init(&b);
    dr_recordio_encode(&b, "hello", 5);
    dr_recordio_encode(&b, "", 0);
    dr_recordio_encode(&b, "{\"a\":1}", 7);
    assert_string_equal(dr_buf_cstr(&b), "5\nhello0\n7\n{\"a\":1}");
    dr_buf_deinit(&b);
}

static void test_decode_several_in_one_feed(void **state)
{
    (void)state;
    dr_recordio_decoder d;
    dr_recordio_decoder_init(&d, 0);
    collected c = {0};
    const char *in = "5\nhello0\n3\nabc";
    dr_err err;
    assert_int_equal(dr_recordio_decoder_feed(&d, (const uint8_t *)in, strlen(in), collect, &c,
                                              &err),
                     DR_OK);
    assert_int_equal(c.count, 3);
    assert_string_equal(c.records[0], "hello");
    assert_int_equal(c.sizes[1], 0);
    assert_string_equal(c.records[2], "abc");
    assert_int_equal(dr_recordio_decoder_finish(&d, &err), DR_OK);
    dr_recordio_decoder_deinit(&d);
}

/* Every split point of a stream gives the same records. */
static void test_decode_every_split(void **state)
{
    (void)state;
    const char *in = "5\nhello12\nhello world!0\n1\nx";
    size_t n = strlen(in);
    for (size_t cut1 = 0; cut1 <= n; cut1++) {
        for (size_t cut2 = cut1; cut2 <= n; cut2++) {
            dr_recordio_decoder d;
            dr_recordio_decoder_init(&d, 0);
            collected c = {0};
            dr_err err;
            const uint8_t *p = (const uint8_t *)in;
            assert_int_equal(dr_recordio_decoder_feed(&d, p, cut1, collect, &c, &err), DR_OK);
            assert_int_equal(dr_recordio_decoder_feed(&d, p + cut1, cut2 - cut1, collect, &c, &err),
                             DR_OK);
            assert_int_equal(dr_recordio_decoder_feed(&d, p + cut2, n - cut2, collect, &c, &err),
                             DR_OK);
            assert_int_equal(c.count, 4);
            assert_string_equal(c.records[0], "hello");
            assert_string_equal(c.records[1], "hello world!");
            assert_int_equal(c.sizes[2], 0);
            assert_string_equal(c.records[3], "x");
            assert_int_equal(dr_recordio_decoder_finish(&d, &err), DR_OK);
            dr_recordio_decoder_deinit(&d);
        }
    }
}

static void expect_error(const char *in, size_t size_max, dr_code code, const char *msg,
                         size_t records_before)
{
    dr_recordio_decoder d;
    dr_recordio_decoder_init(&d, size_max);
    collected c = {0};
    dr_err err;
    assert_int_equal(dr_recordio_decoder_feed(&d, (const uint8_t *)in, strlen(in), collect, &c,
                                              &err),
                     code);
    assert_string_equal(err.msg, msg);
    assert_int_equal(c.count, records_before);
    /* Dead: later feeds repeat the error, even valid ones. */
    dr_err again;
    assert_int_equal(dr_recordio_decoder_feed(&d, (const uint8_t *)"1\nx", 3, collect, &c, &again),
                     code);
    assert_string_equal(again.msg, msg);
    assert_int_equal(c.count, records_before);
    dr_recordio_decoder_deinit(&d);
}

static void test_decode_errors(void **state)
{
    (void)state;
    expect_error("12a\nxx", 0, DR_EPROTO,
                 "recordio: record 1: expected a digit or '\\n', got '12a\\nxx'", 0);
    expect_error(" 5\nhello", 0, DR_EPROTO,
                 "recordio: record 1: expected a decimal length, got ' 5\\nhello'", 0);
    expect_error("2\nok\n5\nhello", 0, DR_EPROTO,
                 "recordio: record 2: empty length before '\\n' in '\\n5\\nhello'", 1);
    expect_error("-1\n", 0, DR_EPROTO,
                 "recordio: record 1: expected a decimal length, got '-1\\n'", 0);
    expect_error("123456789012345678901\n", 0, DR_EPROTO,
                 "recordio: record 1: length longer than 20 digits: '123456789012345678901\\n'",
                 0);
    expect_error("99999999999999999999\n", 0, DR_ETOOBIG,
                 "recordio: record 1: length '99999999999999999999' overflows", 0);
    expect_error("3\nabc11\n", 10, DR_ETOOBIG,
                 "recordio: record 2: length 11 exceeds the maximum of 10 bytes", 1);
    /* Binary garbage is quoted with escapes. */
    expect_error("\x01\xff", 0, DR_EPROTO,
                 "recordio: record 1: expected a decimal length, got '\\x01\\xff'", 0);
}

static void test_decode_cut_off(void **state)
{
    (void)state;
    dr_recordio_decoder d;
    dr_recordio_decoder_init(&d, 0);
    collected c = {0};
    dr_err err;
    assert_int_equal(dr_recordio_decoder_feed(&d, (const uint8_t *)"1\na12\nhello", 11, collect,
                                              &c, &err),
                     DR_OK);
    assert_int_equal(dr_recordio_decoder_finish(&d, &err), DR_EPROTO);
    assert_string_equal(err.msg, "recordio: record 2 cut off after 5 of 12 bytes");
    dr_recordio_decoder_deinit(&d);

    dr_recordio_decoder_init(&d, 0);
    assert_int_equal(dr_recordio_decoder_feed(&d, (const uint8_t *)"12", 2, collect, &c, &err),
                     DR_OK);
    assert_int_equal(dr_recordio_decoder_finish(&d, &err), DR_EPROTO);
    assert_string_equal(err.msg, "recordio: record 1 cut off inside its length '12'");
    dr_recordio_decoder_deinit(&d);
}

static void test_decode_stop(void **state)
{
    (void)state;
    dr_recordio_decoder d;
    dr_recordio_decoder_init(&d, 0);
    collected c = {.stop_after = 1};
    dr_err err;
    assert_int_equal(dr_recordio_decoder_feed(&d, (const uint8_t *)"1\na1\nb", 6, collect, &c,
                                              &err),
                     DR_ECANCELED);
    assert_int_equal(c.count, 1);
    dr_recordio_decoder_deinit(&d);
}

static void test_quote(void **state)
{
    (void)state;
    char q[40];
    dr_http_quote((const uint8_t *)"a'b\\c", 5, q, sizeof q);
    assert_string_equal(q, "a\\'b\\\\c");
    char big[100];
    memset(big, 'x', sizeof big);
    dr_http_quote((const uint8_t *)big, sizeof big, q, sizeof q);
    assert_int_equal(strlen(q), 35); /* 32 shown + "..." */
    char tiny[12];
    dr_http_quote((const uint8_t *)"\x01\x02\x03\x04", 4, tiny, sizeof tiny);
    assert_string_equal(tiny, "\\x01\\x02...");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_decode_several_in_one_feed),
        cmocka_unit_test(test_decode_every_split),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_decode_cut_off),
        cmocka_unit_test(test_decode_stop),
        cmocka_unit_test(test_quote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
