/* tests/unit/http/test_negotiate.c — every Mesos v1 API content rule that
 * lives at the HTTP layer (shared/reference/mesos.md, "HTTP rules"), as a pure
 * function, and once through the server for the exact answer bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "mem_env.h"
#include "src/http/negotiate.h"

/* Builds a header list from "Name: value" lines. */
static void headers_of(dr_http_headers *h, const char *const *lines, size_t count)
{
    dr_http_headers_init(h);
    for (size_t i = 0; i < count; i++) {
        const char *colon = strchr(lines[i], ':');
        assert_non_null(colon);
        dr_http_headers_addn(h, lines[i], (size_t)(colon - lines[i]), colon + 2,
                             strlen(colon + 2));
    }
}

static dr_http_negotiation run(const char *method, const char *const *lines, size_t count,
                               bool allow_recordio, dr_http_stream_kind kind)
{
    dr_http_headers h;
    headers_of(&h, lines, count);
    dr_http_negotiation n;
    dr_http_negotiate(method, &h, allow_recordio, kind, &n);
    dr_http_headers_deinit(&h);
    return n;
}

#define RUN(method, recordio, kind, ...)                                                         \
    run(method, (const char *const[]){__VA_ARGS__},                                              \
        sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *), recordio, kind)

static void test_post_only(void **state)
{
    (void)state;
    dr_http_negotiation n = RUN("GET", false, DR_HTTP_STREAM_NONE, "Content-Type: application/json");
    assert_int_equal(n.status, 405);
    assert_string_equal(n.allow, "POST");
    assert_string_equal(n.error, "Expecting 'POST', received 'GET'");
    n = RUN("PUT", false, DR_HTTP_STREAM_NONE, "Content-Type: application/json");
    assert_int_equal(n.status, 405);
}

static void test_request_content_type(void **state)
{
    (void)state;
    dr_http_negotiation n = RUN("POST", false, DR_HTTP_STREAM_NONE, "Accept: application/json");
    assert_int_equal(n.status, 400);
    assert_string_equal(n.error, "Expecting 'Content-Type' to be present");
    n = RUN("POST", false, DR_HTTP_STREAM_NONE, "Content-Type: text/html");
    assert_int_equal(n.status, 415);
    assert_string_equal(n.error, "Expecting 'Content-Type' of application/json or "
                                 "application/x-protobuf, received 'text/html'");
    n = RUN("POST", false, DR_HTTP_STREAM_NONE, "Content-Type: application/json; charset=utf-8");
    assert_int_equal(n.status, 0);
    assert_int_equal(n.request_codec, DR_HTTP_CODEC_JSON);
    assert_false(n.request_recordio);
    n = RUN("POST", false, DR_HTTP_STREAM_NONE, "content-type: Application/X-Protobuf");
    assert_int_equal(n.status, 0);
    assert_int_equal(n.request_codec, DR_HTTP_CODEC_PROTOBUF);
    /* RecordIO requests only where the endpoint allows them. */
    n = RUN("POST", false, DR_HTTP_STREAM_NONE, "Content-Type: application/recordio",
            "Message-Content-Type: application/json");
    assert_int_equal(n.status, 415);
}

static void test_recordio_request(void **state)
{
    (void)state;
    dr_http_negotiation n = RUN("POST", true, DR_HTTP_STREAM_NONE,
                                "Content-Type: application/recordio",
                                "Message-Content-Type: application/x-protobuf");
    assert_int_equal(n.status, 0);
    assert_true(n.request_recordio);
    assert_int_equal(n.request_codec, DR_HTTP_CODEC_PROTOBUF);
    n = RUN("POST", true, DR_HTTP_STREAM_NONE, "Content-Type: application/recordio");
    assert_int_equal(n.status, 400);
    assert_string_equal(n.error, "Expecting 'Message-Content-Type' to be present with "
                                 "'Content-Type: application/recordio'");
    n = RUN("POST", true, DR_HTTP_STREAM_NONE, "Content-Type: application/recordio",
            "Message-Content-Type: text/plain");
    assert_int_equal(n.status, 415);
    assert_string_equal(n.error, "Expecting 'Message-Content-Type' of application/json or "
                                 "application/x-protobuf, received 'text/plain'");
    n = RUN("POST", true, DR_HTTP_STREAM_NONE, "Content-Type: text/plain");
    assert_int_equal(n.status, 415);
    assert_string_equal(n.error,
                        "Expecting 'Content-Type' of application/json or application/x-protobuf "
                        "or application/recordio, received 'text/plain'");
}

static dr_http_codec accept_codec(const char *accept, int *status)
{
    dr_http_negotiation n;
    if (accept == NULL)
        n = RUN("POST", false, DR_HTTP_STREAM_NONE, "Content-Type: application/json");
    else {
        char line[256];
        snprintf(line, sizeof line, "Accept: %s", accept);
        n = RUN("POST", false, DR_HTTP_STREAM_NONE, "Content-Type: application/json", line);
    }
    *status = n.status;
    return n.response_codec;
}

static void test_accept(void **state)
{
    (void)state;
    int status;
    assert_int_equal(accept_codec(NULL, &status), DR_HTTP_CODEC_JSON);
    assert_int_equal(accept_codec("application/x-protobuf", &status), DR_HTTP_CODEC_PROTOBUF);
    assert_int_equal(accept_codec("application/json", &status), DR_HTTP_CODEC_JSON);
    assert_int_equal(accept_codec("*/*", &status), DR_HTTP_CODEC_JSON);
    assert_int_equal(accept_codec("application/*", &status), DR_HTTP_CODEC_JSON);
    /* Ties go to JSON. */
    assert_int_equal(accept_codec("application/x-protobuf, application/json", &status),
                     DR_HTTP_CODEC_JSON);
    /* q-values decide. */
    assert_int_equal(accept_codec("application/json;q=0.5, application/x-protobuf", &status),
                     DR_HTTP_CODEC_PROTOBUF);
    assert_int_equal(accept_codec("application/json; q=0.9, application/x-protobuf;q=0.8",
                                  &status),
                     DR_HTTP_CODEC_JSON);
    /* The most specific range sets a type's quality. */
    assert_int_equal(accept_codec("*/*;q=0.1, application/x-protobuf", &status),
                     DR_HTTP_CODEC_PROTOBUF);
    assert_int_equal(accept_codec("application/*, application/json;q=0", &status),
                     DR_HTTP_CODEC_PROTOBUF);
    /* Nothing acceptable: 406. */
    assert_int_equal(accept_codec("text/html", &status), DR_HTTP_CODEC_NONE);
    assert_int_equal(status, 406);
    assert_int_equal(accept_codec("application/json;q=0, application/x-protobuf;q=0", &status),
                     DR_HTTP_CODEC_NONE);
    assert_int_equal(status, 406);
    dr_http_negotiation n = RUN("POST", false, DR_HTTP_STREAM_NONE,
                                "Content-Type: application/json", "Accept: text/html");
    assert_string_equal(n.error, "Expecting 'Accept' to allow application/json or "
                                 "application/x-protobuf, received 'text/html'");
    /* Malformed q counts as refused. */
    assert_int_equal(accept_codec("application/json;q=abc, application/x-protobuf", &status),
                     DR_HTTP_CODEC_PROTOBUF);
    /* Two Accept lines are joined and both count. */
    n = RUN("POST", false, DR_HTTP_STREAM_NONE, "Content-Type: application/json",
            "Accept: application/json;q=0.1", "Accept: application/x-protobuf");
    assert_int_equal(n.response_codec, DR_HTTP_CODEC_PROTOBUF);
}

static void test_subscribe_stream(void **state)
{
    (void)state;
    dr_http_negotiation n = RUN("POST", false, DR_HTTP_STREAM_CODEC,
                                "Content-Type: application/json",
                                "Accept: application/x-protobuf");
    assert_int_equal(n.status, 0);
    assert_true(n.response_recordio);
    assert_string_equal(n.content_type, "application/x-protobuf"); /* the codec, not recordio */
    assert_null(n.message_content_type);
    n = RUN("POST", false, DR_HTTP_STREAM_NONE, "Content-Type: application/x-protobuf");
    assert_false(n.response_recordio);
    assert_string_equal(n.content_type, "application/json");
}

static void test_agent_stream(void **state)
{
    (void)state;
    dr_http_negotiation n = RUN("POST", true, DR_HTTP_STREAM_RECORDIO,
                                "Content-Type: application/json",
                                "Accept: application/recordio",
                                "Message-Accept: application/x-protobuf");
    assert_int_equal(n.status, 0);
    assert_true(n.response_recordio);
    assert_string_equal(n.content_type, "application/recordio");
    assert_string_equal(n.message_content_type, "application/x-protobuf");
    n = RUN("POST", true, DR_HTTP_STREAM_RECORDIO, "Content-Type: application/json",
            "Accept: application/recordio");
    assert_int_equal(n.status, 0);
    assert_string_equal(n.message_content_type, "application/json");
    n = RUN("POST", true, DR_HTTP_STREAM_RECORDIO, "Content-Type: application/json",
            "Accept: application/json");
    assert_int_equal(n.status, 406);
    assert_string_equal(n.error,
                        "Expecting 'Accept' to allow application/recordio, received 'application/json'");
    n = RUN("POST", true, DR_HTTP_STREAM_RECORDIO, "Content-Type: application/json",
            "Accept: application/recordio", "Message-Accept: text/xml");
    assert_int_equal(n.status, 406);
    assert_string_equal(n.error, "Expecting 'Message-Accept' to allow application/json or "
                                 "application/x-protobuf, received 'text/xml'");
}

/* ---- through the server: the exact answers ------------------------------------ */

static void api_handler(dr_env *env, const dr_http_request *req, dr_http_response *res, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(ctx);
    dr_http_negotiation n;
    bool subscribe = dr_http_params_get(&req->query, "subscribe") != NULL;
    dr_http_negotiate(req->method, &req->headers, true,
                      subscribe ? DR_HTTP_STREAM_RECORDIO : DR_HTTP_STREAM_NONE, &n);
    if (n.status != 0) {
        dr_http_negotiation_reject(&n, res);
        return;
    }
    if (subscribe) {
        dr_http_negotiation_stream_start(&n, res, 200);
        dr_err err;
        assert_int_equal(dr_http_response_stream_record(res, "{}", 2, &err), DR_OK);
        dr_http_response_stream_end(res);
        return;
    }
    dr_http_response_send(res, 200, n.content_type, "{}", 2);
}

static void exchange(const char *request, const char *expected)
{
    mem_env me;
    mem_env_init(&me);
    dr_http_server *server = NULL;
    dr_http_server_opts opts = {.host = "127.0.0.1"};
    dr_err err;
    assert_int_equal(dr_http_server_create(&me.env, &opts, &server, &err), DR_OK);
    assert_int_equal(dr_http_server_route(server, "/api/v1", false, api_handler, NULL, &err), DR_OK);
    raw_client c;
    raw_client_init(&c, &me, dr_http_server_port(server));
    raw_client_sends(&c, request);
    mem_env_settle(&me);
    assert_string_equal(raw_client_text(&c), expected);
    raw_client_deinit(&c);
    dr_http_server_destroy(server);
    mem_env_deinit(&me);
}

static void test_through_server(void **state)
{
    (void)state;
    exchange("GET /api/v1 HTTP/1.1\r\n\r\n",
             "HTTP/1.1 405 Method Not Allowed\r\nAllow: POST\r\n"
             "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 33\r\n\r\n"
             "Expecting 'POST', received 'GET'\n");
    exchange("POST /api/v1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
             "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Content-Length: 39\r\n\r\nExpecting 'Content-Type' to be present\n");
    exchange("POST /api/v1 HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    exchange("POST /api/v1?subscribe HTTP/1.1\r\nContent-Type: application/json\r\n"
             "Accept: application/recordio\r\nMessage-Accept: application/json\r\n"
             "Content-Length: 0\r\n\r\n",
             "HTTP/1.1 200 OK\r\nMessage-Content-Type: application/json\r\n"
             "Content-Type: application/recordio\r\nTransfer-Encoding: chunked\r\n\r\n"
             "4\r\n2\n{}\r\n0\r\n\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_only),
        cmocka_unit_test(test_request_content_type),
        cmocka_unit_test(test_recordio_request),
        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_subscribe_stream),
        cmocka_unit_test(test_agent_stream),
        cmocka_unit_test(test_through_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
