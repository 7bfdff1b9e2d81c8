/* tests/unit/http/test_http.c — header lists, query strings, percent
 * decoding, media types and Accept qualities. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "src/http/http.h"

static void test_headers(void **state)
{
    (void)state;
    dr_http_headers h;
    dr_http_headers_init(&h);
    dr_http_headers_add(&h, "Accept", "application/json");
    dr_http_headers_add(&h, "X-A", "1");
    dr_http_headers_add(&h, "accept", "application/x-protobuf");
    assert_int_equal(h.count, 2);
    assert_string_equal(dr_http_headers_get(&h, "ACCEPT"),
                        "application/json, application/x-protobuf");
    assert_string_equal(h.items[0].name, "Accept"); /* first spelling kept */
    dr_http_headers_set(&h, "x-a", "2");
    assert_string_equal(dr_http_headers_get(&h, "X-A"), "2");
    dr_http_headers_remove(&h, "accept");
    assert_null(dr_http_headers_get(&h, "Accept"));
    assert_int_equal(h.count, 1);
    dr_http_headers_remove(&h, "missing");
    dr_http_headers_deinit(&h);
}

static void test_query(void **state)
{
    (void)state;
    dr_http_params p;
    dr_err err;
    const char *q = "path=%2Fvar%2Flog%2Fx+y&offset=10&&flag&empty=&k=%e2%82%ac";
    assert_int_equal(dr_http_query_parse(q, strlen(q), &p, &err), DR_OK);
    assert_int_equal(p.count, 5);
    assert_string_equal(dr_http_params_get(&p, "path"), "/var/log/x y");
    assert_string_equal(dr_http_params_get(&p, "offset"), "10");
    assert_string_equal(dr_http_params_get(&p, "flag"), "");
    assert_string_equal(dr_http_params_get(&p, "empty"), "");
    assert_string_equal(dr_http_params_get(&p, "k"), "\xe2\x82\xac");
    assert_null(dr_http_params_get(&p, "nope"));
    dr_http_params_deinit(&p);

    assert_int_equal(dr_http_query_parse("a=%4", 4, &p, &err), DR_EINVAL);
    assert_string_equal(err.msg, "query value '%4': bad percent-encoding at offset 0");
    assert_int_equal(dr_http_query_parse("a%00=1", 6, &p, &err), DR_EINVAL);
    assert_string_equal(err.msg, "query key 'a%00': encoded NUL byte at offset 1");
    dr_buf many;
    dr_buf_init(&many);
    for (unsigned i = 0; i <= DR_HTTP_QUERY_PARAM_COUNT_MAX; i++)
        dr_buf_printf(&many, "k%u=v&", i);
    assert_int_equal(dr_http_query_parse((const char *)many.data, many.size, &p, &err), DR_ETOOBIG);
    assert_string_equal(err.msg, "query: more than 64 parameters");
    dr_buf_deinit(&many);
}

static void test_path_decode(void **state)
{
    (void)state;
    char *out = NULL;
    dr_err err;
    assert_int_equal(dr_http_path_decode("/slave(1)/a%20b+c", 17, &out, &err), DR_OK);
    assert_string_equal(out, "/slave(1)/a b+c"); /* '+' is literal in paths */
    dr_free(out);
    assert_int_equal(dr_http_path_decode("/x%G0", 5, &out, &err), DR_EINVAL);
    assert_string_equal(err.msg, "path '/x%G0': bad percent-encoding at offset 2");
}

static void test_media_and_accept(void **state)
{
    (void)state;
    assert_true(dr_http_media_type_is(" application/json ; charset=utf-8", "application/json"));
    assert_false(dr_http_media_type_is("application/jsonx", "application/json"));
    assert_false(dr_http_media_type_is(NULL, "application/json"));
    assert_int_equal(dr_http_accept_quality(NULL, "a/b"), 1000);
    assert_int_equal(dr_http_accept_quality("", "a/b"), 1000);
    assert_int_equal(dr_http_accept_quality("a/b;q=0.25", "a/b"), 250);
    assert_int_equal(dr_http_accept_quality("a/*;q=0.5, */*;q=0.1", "a/b"), 500);
    assert_int_equal(dr_http_accept_quality("a/*;q=0.5, */*;q=0.1", "c/d"), 100);
    assert_int_equal(dr_http_accept_quality("c/d", "a/b"), 0);
    assert_int_equal(dr_http_accept_quality("a/b;q=1.5", "a/b"), 0); /* malformed q */
    assert_int_equal(dr_http_accept_quality("a/b;level=1;q=0.7", "a/b"), 700);
    assert_true(dr_http_accepts_gzip("gzip"));
    assert_true(dr_http_accepts_gzip("deflate, gzip;q=0.3"));
    assert_true(dr_http_accepts_gzip("*"));
    assert_false(dr_http_accepts_gzip("gzip;q=0"));
    assert_false(dr_http_accepts_gzip("identity"));
    assert_false(dr_http_accepts_gzip(""));
    assert_false(dr_http_accepts_gzip(NULL));
    assert_string_equal(dr_http_status_text(431), "Request Header Fields Too Large");
    assert_string_equal(dr_http_status_text(299), "Unknown");
    assert_int_equal(dr_http_status_of(DR_OK), 200);
    assert_int_equal(dr_http_status_of(DR_EINVAL), 400);
    assert_int_equal(dr_http_status_of(DR_ENOENT), 404);
    assert_int_equal(dr_http_status_of(DR_EEXIST), 409);
    assert_int_equal(dr_http_status_of(DR_ETOOBIG), 413);
    assert_int_equal(dr_http_status_of(DR_ENOTSUP), 501);
    assert_int_equal(dr_http_status_of(DR_ETIMEDOUT), 504);
    assert_int_equal(dr_http_status_of(DR_EIO), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_path_decode),
        cmocka_unit_test(test_media_and_accept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
