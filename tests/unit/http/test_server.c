/* tests/unit/http/test_server.c — the HTTP/1.1 server, driven byte by byte
 * through the in-memory env (mem_env.h): raw requests in, exact bytes out.
 * Virtual time makes the timeout tests instant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "mem_env.h"
#include "src/http/recordio.h"
#include "src/http/server.h"

typedef struct fixture {
    mem_env me;
    dr_http_server *server;
    uint16_t port;
    dr_http_response *held[32]; /* responses kept by async handlers */
    bool held_is_stream[32];
    size_t held_count;
    char last_path[256];
    char last_query[512];
    char last_accept[256];
    size_t gone_count;
    bool shutdown_done;
} fixture;

static dr_env *env_of(fixture *f) { return &f->me.env; }

static void hold_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                         void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(req);
    fixture *f = ctx;
    assert_true(f->held_count < 32);
    f->held[f->held_count++] = res;
}

static void gone_fire(dr_env *env, dr_http_response *res, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(res);
    fixture *f = ctx;
    f->gone_count++;
}

static void stream_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                           void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(req);
    fixture *f = ctx;
    dr_http_response_on_gone(res, gone_fire, f);
    dr_http_response_stream_start(res, 200, "application/json");
    assert_true(f->held_count < 32);
    f->held_is_stream[f->held_count] = true;
    f->held[f->held_count++] = res;
}

/* Answers with the decoded path, the stripped path and the query pairs. */
static void info_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                         void *ctx)
{
    DR_UNUSED(env);
    fixture *f = ctx;
    snprintf(f->last_path, sizeof f->last_path, "%s|%s", req->full_path, req->path);
    f->last_query[0] = '\0';
    for (size_t i = 0; i < req->query.count; i++) {
        size_t n = strlen(f->last_query);
        snprintf(f->last_query + n, sizeof f->last_query - n, "[%s=%s]", req->query.items[i].key,
                 req->query.items[i].value);
    }
    const char *accept = dr_http_headers_get(&req->headers, "accept");
    snprintf(f->last_accept, sizeof f->last_accept, "%s", accept ? accept : "(none)");
    dr_http_response_send(res, 200, "text/plain", "ok", 2);
}

static void big_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                        void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(req);
    DR_UNUSED(ctx);
    char body[4000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)('a' + (i % 7));
    dr_http_response_header(res, "X-Big", "yes");
    dr_http_response_send(res, 200, "application/json", body, sizeof body);
}

static void body_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                         void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(ctx);
    dr_http_response_send(res, 200, "application/octet-stream", req->body, req->body_size);
}

/* Streaming request bodies: collects pieces; answers at the end, or at once
 * when the query says "early". */
typedef struct input_state {
    dr_buf got;
    int piece_count;
    int end_count;
    dr_http_response *res;
} input_state;

static input_state the_input;

static void input_body(dr_env *env, dr_http_response *res, const uint8_t *data, size_t size,
                       bool end, void *ctx)
{
    DR_UNUSED(env);
    input_state *in = ctx;
    assert_ptr_equal(res, in->res);
    if (end) {
        in->end_count++;
        assert_int_equal(size, 0);
        if (dr_http_response_alive(res) || in->res != NULL) {
            char text[64];
            int n = snprintf(text, sizeof text, "%d pieces, %zu bytes", in->piece_count,
                             in->got.size);
            if (in->res != NULL)
                dr_http_response_send(res, 200, "text/plain", text, (size_t)n);
            in->res = NULL;
        }
        return;
    }
    in->piece_count++;
    dr_buf_append(&in->got, data, size);
}

static void input_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                          void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(ctx);
    input_state *in = &the_input;
    assert_int_equal(req->body_size, 0);
    if (dr_http_params_get(&req->query, "early") != NULL) {
        dr_http_response_send(res, 202, NULL, NULL, 0); /* the body is then dropped */
        return;
    }
    in->res = res;
    dr_http_response_read_body(res, input_body, in);
}

static void fail_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                         void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(ctx);
    dr_err err;
    dr_err_set(&err, DR_ENOENT, "file '%s': no such file", dr_http_params_get(&req->query, "path"));
    dr_http_response_fail(res, &err);
}

static fixture *setup_with(const dr_http_server_opts *extra)
{
    fixture *f = dr_alloc(sizeof *f);
    mem_env_init(&f->me);
    static const char *const prefixes[] = {"/master", "/slave(1)"};
    dr_http_server_opts opts = {
        .host = "127.0.0.1",
        .strip_prefixes = prefixes,
        .strip_prefix_count = 2,
        .idle_timeout_ns = 10 * DR_NS_PER_S,
        .request_timeout_ns = 5 * DR_NS_PER_S,
        .body_size_max = 1000,
    };
    if (extra != NULL)
        opts.stream_queue_size_max = extra->stream_queue_size_max;
    dr_err err;
    assert_int_equal(dr_http_server_create(env_of(f), &opts, &f->server, &err), DR_OK);
    f->port = dr_http_server_port(f->server);
    assert_int_equal(f->port, 5050);
    assert_int_equal(dr_http_server_route(f->server, "/echo", false, dr_http_echo_handler, f, &err),
                     DR_OK);
    assert_int_equal(dr_http_server_route(f->server, "/async", false, hold_handler, f, &err),
                     DR_OK);
    assert_int_equal(dr_http_server_route(f->server, "/stream", false, stream_handler, f, &err),
                     DR_OK);
    assert_int_equal(dr_http_server_route(f->server, "/api/v1", false, info_handler, f, &err),
                     DR_OK);
    assert_int_equal(
        dr_http_server_route(f->server, "/api/v1/executor", false, info_handler, f, &err), DR_OK);
    assert_int_equal(dr_http_server_route(f->server, "/files", true, info_handler, f, &err),
                     DR_OK);
    assert_int_equal(dr_http_server_route(f->server, "/big", false, big_handler, f, &err), DR_OK);
    assert_int_equal(dr_http_server_route(f->server, "/fail", false, fail_handler, f, &err), DR_OK);
    assert_int_equal(dr_http_server_route(f->server, "/body", false, body_handler, f, &err),
                     DR_OK);
    assert_int_equal(dr_http_server_route_streaming(f->server, "/api/v1/input", false,
                                                    input_handler, f, &err),
                     DR_OK);
    dr_buf_deinit(&the_input.got);
    memset(&the_input, 0, sizeof the_input);
    dr_buf_init(&the_input.got);
    return f;
}

static int setup(void **state)
{
    *state = setup_with(NULL);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    dr_http_server_destroy(f->server);
    /* Handlers still holding responses finish them: that only frees now. */
    for (size_t i = 0; i < f->held_count; i++) {
        if (f->held[i] != NULL && f->held_is_stream[i])
            dr_http_response_stream_end(f->held[i]);
        else if (f->held[i] != NULL)
            dr_http_response_send(f->held[i], 200, NULL, NULL, 0);
    }
    mem_env_deinit(&f->me);
    dr_free(f);
    dr_buf_deinit(&the_input.got);
    return 0;
}

#define ECHO_OK(line) "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " line

/* ---- basics ------------------------------------------------------------------ */

static void test_keep_alive(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c), ECHO_OK("12\r\n\r\nGET /echo 0\n"));
    dr_buf_reset(&c.got);
    raw_client_sends(&c, "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c), ECHO_OK("13\r\n\r\nPOST /echo 3\n"));
    assert_false(c.ended);
    assert_int_equal(dr_http_server_conn_count(f->server), 1);
    raw_client_deinit(&c);
    mem_env_settle(&f->me);
    assert_int_equal(dr_http_server_conn_count(f->server), 0);
}

static void test_byte_by_byte(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    const char *req = "POST /body HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n";
    for (size_t i = 0; req[i] != '\0'; i++)
        raw_client_send(&c, req + i, 1);
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c),
                        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                        "Content-Length: 8\r\n\r\nabcdefgh");
    raw_client_deinit(&c);
}

static void test_pipelining_in_order(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    /* The first is answered later, the second at once: order must hold. */
    raw_client_sends(&c, "GET /async HTTP/1.1\r\n\r\nGET /echo HTTP/1.1\r\n\r\n"
                         "GET /nowhere HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_int_equal(f->held_count, 1);
    assert_string_equal(raw_client_text(&c), "");
    dr_http_response_send(f->held[0], 202, NULL, NULL, 0);
    f->held[0] = NULL;
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c),
                        "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n" ECHO_OK(
                            "12\r\n\r\nGET /echo 0\n") "HTTP/1.1 404 Not Found\r\n"
                                                       "Content-Type: text/plain; charset=utf-8\r\n"
                                                       "Content-Length: 31\r\n\r\n"
                                                       "no handler for path '/nowhere'\n");
    raw_client_deinit(&c);
}

static void test_pipeline_bound_pauses_reading(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    dr_buf many;
    dr_buf_init(&many);
    for (int i = 0; i < 20; i++)
        dr_buf_append_str(&many, "GET /async HTTP/1.1\r\n\r\n");
    raw_client_send(&c, many.data, many.size);
    mem_env_settle(&f->me);
    /* Only DR_HTTP_PIPELINE_COUNT_MAX are taken; the rest waits unread. */
    assert_int_equal(f->held_count, DR_HTTP_PIPELINE_COUNT_MAX);
    /* Answering the first makes room for one more. */
    dr_http_response_send(f->held[0], 200, NULL, NULL, 0);
    f->held[0] = NULL;
    mem_env_settle(&f->me);
    assert_int_equal(f->held_count, DR_HTTP_PIPELINE_COUNT_MAX + 1);
    assert_string_equal(raw_client_text(&c), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    dr_buf_deinit(&many);
    raw_client_deinit(&c);
}

static void test_routing_and_query(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "GET /files/read?path=%2Ftmp%2Fa+b&offset=10&flag HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(f->last_path, "/files/read|/files/read");
    assert_string_equal(f->last_query, "[path=/tmp/a b][offset=10][flag=]");
    raw_client_sends(&c, "POST /master/api/v1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(f->last_path, "/master/api/v1|/api/v1");
    raw_client_sends(&c, "POST /slave(1)/api/v1/executor HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(f->last_path, "/slave(1)/api/v1/executor|/api/v1/executor");
    raw_client_sends(&c, "GET /files HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(f->last_path, "/files|/files");
    dr_buf_reset(&c.got);
    /* A prefix route does not match a longer name ("/filesystem"). */
    raw_client_sends(&c, "GET /filesystem HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_non_null(strstr(raw_client_text(&c), "404 Not Found"));
    assert_non_null(strstr(raw_client_text(&c), "no handler for path '/filesystem'"));
    dr_buf_reset(&c.got);
    /* Unknown process prefix: not stripped. */
    raw_client_sends(&c, "GET /other/api/v1 HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_non_null(strstr(raw_client_text(&c), "no handler for path '/other/api/v1'"));
    dr_buf_reset(&c.got);
    /* Bad percent-encoding: 400 naming it, connection stays usable. */
    raw_client_sends(&c, "GET /files/x?path=%zz HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_non_null(strstr(raw_client_text(&c), "HTTP/1.1 400 Bad Request"));
    assert_non_null(strstr(raw_client_text(&c),
                           "query value '%zz': bad percent-encoding at offset 0\n"));
    assert_false(c.ended);
    dr_buf_reset(&c.got);
    raw_client_sends(&c, "GET /files/a%00b HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_non_null(strstr(raw_client_text(&c), "path '/files/a%00b': encoded NUL byte"));
    raw_client_deinit(&c);
}

static void test_headers_joined_case_insensitive(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "POST /api/v1 HTTP/1.1\r\nAccept: application/json\r\n"
                         "X-Other: 1\r\nACCEPT: application/x-protobuf\r\n\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(f->last_accept, "application/json, application/x-protobuf");
    raw_client_deinit(&c);
}

static void test_fail_maps_code(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "GET /fail?path=%2Fvar%2Fx HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c),
                        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: 28\r\n\r\nfile '/var/x': no such file\n");
    raw_client_deinit(&c);
}

static void test_head_request(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "HEAD /echo HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c), ECHO_OK("13\r\n\r\n"));
    raw_client_deinit(&c);
}

/* ---- errors and limits ---------------------------------------------------------- */

static void test_malformed_then_next_connection(void **state)
{
    fixture *f = *state;
    raw_client bad;
    raw_client_init(&bad, &f->me, f->port);
    raw_client good;
    raw_client_init(&good, &f->me, f->port);
    raw_client_sends(&bad, "GET /echo HTTP/1.1\r\nBad Header\r\n\r\n");
    raw_client_sends(&good, "GET /echo HTTP/1.1\r\n");
    mem_env_settle(&f->me);
    assert_non_null(strstr(raw_client_text(&bad), "HTTP/1.1 400 Bad Request\r\n"));
    assert_non_null(strstr(raw_client_text(&bad), "Connection: close\r\n"));
    assert_non_null(strstr(raw_client_text(&bad), "malformed request: invalid character in header"));
    assert_true(bad.ended);
    /* The other connection, mid-request, is unaffected. */
    raw_client_sends(&good, "\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&good), ECHO_OK("12\r\n\r\nGET /echo 0\n"));
    raw_client_deinit(&bad);
    /* And a new connection is served. */
    raw_client next;
    raw_client_init(&next, &f->me, f->port);
    raw_client_sends(&next, "GET /echo HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&next), ECHO_OK("12\r\n\r\nGET /echo 0\n"));
    raw_client_deinit(&good);
    raw_client_deinit(&next);
}

static void expect_reject(fixture *f, const char *request, size_t request_size,
                          const char *status_line, const char *body)
{
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_send(&c, request, request_size);
    mem_env_settle(&f->me);
    const char *got = raw_client_text(&c);
    assert_true(strncmp(got, status_line, strlen(status_line)) == 0);
    assert_non_null(strstr(got, "Content-Type: text/plain; charset=utf-8\r\n"));
    const char *sep = strstr(got, "\r\n\r\n");
    assert_non_null(sep);
    assert_string_equal(sep + 4, body);
    assert_true(c.ended);
    raw_client_deinit(&c);
}

static void test_limits(void **state)
{
    fixture *f = *state;
    dr_buf req;
    dr_buf_init(&req);
    /* Too many header lines: 431. */
    dr_buf_append_str(&req, "GET /echo HTTP/1.1\r\n");
    for (unsigned i = 0; i <= DR_HTTP_HEADER_COUNT_MAX; i++)
        dr_buf_printf(&req, "X-%u: v\r\n", i);
    dr_buf_append_str(&req, "\r\n");
    expect_reject(f, (const char *)req.data, req.size,
                  "HTTP/1.1 431 Request Header Fields Too Large\r\n",
                  "more than 100 request header lines\n");
    /* Too many header bytes: 431. */
    dr_buf_reset(&req);
    dr_buf_append_str(&req, "GET /echo HTTP/1.1\r\n");
    for (int i = 0; i < 70; i++) {
        dr_buf_printf(&req, "X-%d: ", i);
        for (int j = 0; j < 1000; j++)
            dr_buf_append_str(&req, "v");
        dr_buf_append_str(&req, "\r\n");
    }
    expect_reject(f, (const char *)req.data, req.size,
                  "HTTP/1.1 431 Request Header Fields Too Large\r\n",
                  "request headers larger than 65536 bytes\n");
    /* Too long a target: 414. */
    dr_buf_reset(&req);
    dr_buf_append_str(&req, "GET /");
    for (int j = 0; j < 9000; j++)
        dr_buf_append_str(&req, "a");
    expect_reject(f, (const char *)req.data, req.size, "HTTP/1.1 414 URI Too Long\r\n",
                  "request target longer than 8192 bytes\n");
    /* Declared body too big: 413 at the headers. */
    const char *big = "POST /body HTTP/1.1\r\nContent-Length: 1001\r\n\r\n";
    expect_reject(f, big, strlen(big), "HTTP/1.1 413 Payload Too Large\r\n",
                  "request body of 1001 bytes exceeds the limit of 1000\n");
    /* Chunked body growing too big: 413. */
    dr_buf_reset(&req);
    dr_buf_append_str(&req, "POST /body HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        dr_buf_append_str(&req, "190\r\n"); /* 400 bytes */
        for (int j = 0; j < 400; j++)
            dr_buf_append_str(&req, "b");
        dr_buf_append_str(&req, "\r\n");
    }
    expect_reject(f, (const char *)req.data, req.size, "HTTP/1.1 413 Payload Too Large\r\n",
                  "request body exceeds the limit of 1000 bytes\n");
    /* Garbage: 400 quoting it. */
    const char *junk = "\x16\x03\x01\x02\x00";
    expect_reject(f, junk, 5, "HTTP/1.1 400 Bad Request\r\n",
                  "malformed request: invalid HTTP method, at '\\x16\\x03\\x01\\x02\\x00'\n");
    /* Upgrade: 501. */
    const char *ws = "GET /echo HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    expect_reject(f, ws, strlen(ws), "HTTP/1.1 501 Not Implemented\r\n",
                  "protocol upgrade ('GET') is not supported\n");
    dr_buf_deinit(&req);
}

static void test_expect_continue(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "POST /body HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c), "HTTP/1.1 100 Continue\r\n\r\n");
    raw_client_sends(&c, "abcd");
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c),
                        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
                        "Content-Type: application/octet-stream\r\nContent-Length: 4\r\n\r\nabcd");
    raw_client_deinit(&c);

    const char *too_big = "POST /body HTTP/1.1\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n";
    expect_reject(f, too_big, strlen(too_big), "HTTP/1.1 413 Payload Too Large\r\n",
                  "request body of 5000 bytes exceeds the limit of 1000\n");
    const char *odd = "POST /body HTTP/1.1\r\nContent-Length: 5\r\nExpect: magic\r\n\r\n";
    expect_reject(f, odd, strlen(odd), "HTTP/1.1 417 Expectation Failed\r\n",
                  "unsupported expectation 'Expect: magic'\n");
}

static void test_expect_continue_waits_its_turn(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "GET /async HTTP/1.1\r\n\r\n"
                         "POST /body HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c), ""); /* the first answer is not out yet */
    dr_http_response_send(f->held[0], 204, NULL, NULL, 0);
    f->held[0] = NULL;
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c),
                        "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n");
    raw_client_deinit(&c);
}

/* A streaming body with Expect: 100-continue: the 100 goes out once the handler
 * asks to read the body, and a client that then sends nothing is timed out
 * (before, the server waited for itself and the connection never closed). */
static void test_expect_continue_streaming_body(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "POST /api/v1/input HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                         "Expect: 100-continue\r\n\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c), "HTTP/1.1 100 Continue\r\n\r\n");
    raw_client_sends(&c, "3\r\nabc\r\n");
    mem_env_settle(&f->me);
    assert_int_equal(the_input.got.size, 3);
    mem_env_advance(&f->me, 120 * DR_NS_PER_S); /* then silence */
    /* The handler holds the answer, so no 408 can go out in order: the stalled
     * connection is cut off. The handler still finishes what it holds. */
    assert_true(c.ended);
    assert_int_equal(dr_http_server_conn_count(f->server), 0);
    assert_non_null(the_input.res);
    assert_false(dr_http_response_alive(the_input.res));
    dr_http_response_send(the_input.res, 200, NULL, NULL, 0); /* only frees now */
    the_input.res = NULL;
    raw_client_deinit(&c);
}

/* ---- connection handling ----------------------------------------------------------- */

static void test_connection_close_and_http10(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    /* Bytes after a closing request are ignored. */
    raw_client_sends(&c, "GET /echo HTTP/1.1\r\nConnection: close\r\n\r\nGET /echo HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c),
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
                        "Connection: close\r\n\r\nGET /echo 0\n");
    assert_true(c.ended);
    assert_int_equal(c.end_code, DR_OK);
    raw_client_deinit(&c);

    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "GET /echo HTTP/1.0\r\n\r\n");
    mem_env_settle(&f->me);
    assert_non_null(strstr(raw_client_text(&c), "Connection: close\r\n"));
    assert_true(c.ended);
    raw_client_deinit(&c);

    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    mem_env_settle(&f->me);
    assert_non_null(strstr(raw_client_text(&c), "Connection: keep-alive\r\n"));
    assert_false(c.ended);
    raw_client_deinit(&c);
}

static void test_idle_timeout(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "GET /echo HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    mem_env_advance(&f->me, 9 * DR_NS_PER_S);
    assert_false(c.ended);
    mem_env_advance(&f->me, 2 * DR_NS_PER_S);
    assert_true(c.ended);
    assert_int_equal(dr_http_server_conn_count(f->server), 0);
    raw_client_deinit(&c);
}

static void test_slow_request_timeout(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "GET /echo HTTP/1.1\r\nHost: slow");
    mem_env_settle(&f->me);
    mem_env_advance(&f->me, 4 * DR_NS_PER_S);
    raw_client_sends(&c, "lo");
    mem_env_advance(&f->me, 2 * DR_NS_PER_S);
    assert_string_equal(raw_client_text(&c),
                        "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: 44\r\nConnection: close\r\n\r\n"
                        "request headers not complete within 5000 ms\n");
    assert_true(c.ended);
    raw_client_deinit(&c);
}

static void test_stalled_body_timeout(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "POST /body HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    mem_env_settle(&f->me);
    mem_env_advance(&f->me, 8 * DR_NS_PER_S);
    raw_client_sends(&c, "de"); /* progress restarts the clock */
    mem_env_advance(&f->me, 8 * DR_NS_PER_S);
    assert_false(c.ended);
    mem_env_advance(&f->me, 3 * DR_NS_PER_S);
    assert_string_equal(raw_client_text(&c),
                        "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: 43\r\nConnection: close\r\n\r\n"
                        "request body made no progress for 10000 ms\n");
    assert_true(c.ended);
    raw_client_deinit(&c);
}

/* A request in progress is not idle, and an async answer is not idle either. */
static void test_no_idle_while_busy(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "GET /async HTTP/1.1\r\n\r\n");
    mem_env_advance(&f->me, 30 * DR_NS_PER_S);
    assert_false(c.ended);
    dr_http_response_error(f->held[0], 503, "not yet");
    f->held[0] = NULL;
    mem_env_settle(&f->me);
    assert_non_null(strstr(raw_client_text(&c), "503 Service Unavailable"));
    assert_non_null(strstr(raw_client_text(&c), "\r\n\r\nnot yet\n"));
    raw_client_deinit(&c);
}

/* ---- gzip --------------------------------------------------------------------------- */

static void test_gzip(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "GET /big HTTP/1.1\r\nAccept-Encoding: deflate, gzip;q=0.5\r\n\r\n");
    mem_env_settle(&f->me);
    const char *got = raw_client_text(&c);
    assert_non_null(strstr(got, "X-Big: yes\r\nContent-Encoding: gzip\r\nVary: Accept-Encoding\r\n"));
    const char *body = strstr(got, "\r\n\r\n") + 4;
    size_t body_size = c.got.size - (size_t)(body - got);
    assert_true(body_size < 4000);
    char length[32];
    snprintf(length, sizeof length, "Content-Length: %zu\r\n", body_size);
    assert_non_null(strstr(got, length));
    /* Inflate and compare. */
    uint8_t plain[5000];
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)body;
    z.avail_in = (uInt)body_size;
    z.next_out = plain;
    z.avail_out = sizeof plain;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, 4000);
    inflateEnd(&z);
    for (size_t i = 0; i < 4000; i++)
        assert_int_equal(plain[i], 'a' + (i % 7));

    /* Not asked for (or refused with q=0): plain. */
    dr_buf_reset(&c.got);
    raw_client_sends(&c, "GET /big HTTP/1.1\r\nAccept-Encoding: gzip;q=0\r\n\r\n");
    mem_env_settle(&f->me);
    assert_null(strstr(raw_client_text(&c), "Content-Encoding"));
    assert_non_null(strstr(raw_client_text(&c), "Content-Length: 4000\r\n"));
    /* Small bodies stay plain. */
    dr_buf_reset(&c.got);
    raw_client_sends(&c, "GET /echo HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c), ECHO_OK("12\r\n\r\nGET /echo 0\n"));
    raw_client_deinit(&c);
}

/* ---- streaming ---------------------------------------------------------------------- */

static void test_stream_chunks_and_records(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "POST /stream HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                             "Transfer-Encoding: chunked\r\n\r\n");
    dr_buf_reset(&c.got);
    dr_err err;
    assert_int_equal(dr_http_response_stream_record(f->held[0], "{\"type\":\"HEARTBEAT\"}", 20, &err),
                     DR_OK);
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c), "17\r\n20\n{\"type\":\"HEARTBEAT\"}\r\n");
    dr_buf_reset(&c.got);
    assert_int_equal(dr_http_response_stream_write(f->held[0], "raw", 3, &err), DR_OK);
    dr_http_response_stream_end(f->held[0]);
    f->held[0] = NULL;
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c), "3\r\nraw\r\n0\r\n\r\n");
    /* The connection is reusable after the stream. */
    dr_buf_reset(&c.got);
    raw_client_sends(&c, "GET /echo HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_string_equal(raw_client_text(&c), ECHO_OK("12\r\n\r\nGET /echo 0\n"));
    raw_client_deinit(&c);
}

static void test_stream_client_gone(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "POST /stream HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    dr_env_stream_abort(env_of(f), c.stream);
    mem_env_settle(&f->me);
    assert_int_equal(f->gone_count, 1);
    assert_false(dr_http_response_alive(f->held[0]));
    dr_err err;
    assert_int_equal(dr_http_response_stream_record(f->held[0], "x", 1, &err), DR_ECLOSED);
    assert_string_equal(err.msg, "http stream to 127.0.0.1:40050: the client is gone");
    dr_http_response_stream_end(f->held[0]);
    f->held[0] = NULL;
    raw_client_deinit(&c);
}

static int setup_small_queue(void **state)
{
    dr_http_server_opts extra = {.stream_queue_size_max = 64 * 1024};
    fixture *f = setup_with(&extra);
    f->me.default_queue_size_max = 16 * 1024; /* the env pushes back early */
    *state = f;
    return 0;
}

static void test_slow_reader_cut_off(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "POST /stream HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    dr_env_stream_pause(env_of(f), c.stream, true); /* the client stops reading */
    char record[1000];
    memset(record, 'r', sizeof record);
    dr_err err;
    dr_code rc = DR_OK;
    int written = 0;
    for (; written < 1000 && rc == DR_OK; written++) {
        rc = dr_http_response_stream_record(f->held[0], record, sizeof record, &err);
        mem_env_settle(&f->me);
    }
    assert_int_equal(rc, DR_ETOOBIG);
    assert_true(written > 60 && written < 100); /* cut near 64 KiB, never unbounded */
    assert_non_null(strstr(err.msg, "client not reading"));
    assert_non_null(strstr(err.msg, "connection cut off"));
    assert_int_equal(f->gone_count, 1);
    assert_int_equal(dr_http_response_stream_record(f->held[0], "x", 1, &err), DR_ECLOSED);
    dr_http_response_stream_end(f->held[0]);
    f->held[0] = NULL;
    assert_int_equal(dr_http_server_conn_count(f->server), 0);
    raw_client_deinit(&c);
}

/* A big plain answer to a client that reads slowly goes out once it reads. */
static void test_back_pressure_plain(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    dr_env_stream_pause(env_of(f), c.stream, true);
    for (int i = 0; i < 8; i++)
        raw_client_sends(&c, "GET /big HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_int_equal(c.got.size, 0);
    dr_env_stream_pause(env_of(f), c.stream, false);
    mem_env_settle(&f->me);
    const char *p = raw_client_text(&c);
    int count = 0;
    while ((p = strstr(p, "X-Big: yes")) != NULL) {
        count++;
        p++;
    }
    assert_int_equal(count, 8);
    raw_client_deinit(&c);
}

/* ---- shutdown --------------------------------------------------------------------- */

static void shutdown_done(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    ((fixture *)ctx)->shutdown_done = true;
}

static void test_graceful_shutdown(void **state)
{
    fixture *f = *state;
    raw_client busy;
    raw_client_init(&busy, &f->me, f->port);
    raw_client idle;
    raw_client_init(&idle, &f->me, f->port);
    raw_client_sends(&busy, "GET /async HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    dr_http_server_shutdown(f->server, shutdown_done, f);
    mem_env_settle(&f->me);
    assert_true(idle.ended); /* nothing in flight: closed at once */
    assert_false(busy.ended);
    assert_false(f->shutdown_done);
    /* New connections are refused. */
    raw_client late;
    raw_client_init(&late, &f->me, f->port);
    mem_env_settle(&f->me);
    assert_true(late.ended);
    assert_int_equal(late.end_code, DR_ECONNREFUSED);
    /* The answer in flight finishes, then the connection closes. */
    dr_http_response_send(f->held[0], 200, "text/plain", "bye", 3);
    f->held[0] = NULL;
    mem_env_settle(&f->me);
    assert_non_null(strstr(raw_client_text(&busy), "Connection: close\r\n\r\nbye"));
    assert_true(busy.ended);
    assert_true(f->shutdown_done);
    raw_client_deinit(&busy);
    raw_client_deinit(&idle);
    raw_client_deinit(&late);
}

static void test_destroy_with_held_responses(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "GET /async HTTP/1.1\r\n\r\nPOST /stream HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_int_equal(f->held_count, 2);
    /* teardown destroys the server first, then finishes both: no leak, no
     * callback (gone_count stays 0). */
    dr_http_server_destroy(f->server);
    f->server = NULL;
    assert_int_equal(f->gone_count, 0);
    dr_http_response_send(f->held[0], 200, NULL, NULL, 0);
    dr_http_response_stream_end(f->held[1]);
    f->held[0] = f->held[1] = NULL;
    raw_client_deinit(&c);
}

static void test_streaming_request_body(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    /* Far over body_size_max (1000) in total, and over time. */
    raw_client_sends(&c, "POST /master/api/v1/input HTTP/1.1\r\nContent-Type: application/recordio\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n");
    mem_env_settle(&f->me);
    assert_non_null(the_input.res); /* the handler ran before any body */
    char piece[700];
    memset(piece, 'p', sizeof piece);
    for (int i = 0; i < 5; i++) {
        char head[16];
        snprintf(head, sizeof head, "%zx\r\n", sizeof piece);
        raw_client_sends(&c, head);
        raw_client_send(&c, piece, sizeof piece);
        raw_client_sends(&c, "\r\n");
        mem_env_advance(&f->me, 5 * DR_NS_PER_S); /* slow, but never stalled 10 s */
    }
    assert_int_equal(the_input.got.size, 3500);
    assert_int_equal(the_input.end_count, 0);
    assert_string_equal(raw_client_text(&c), "");
    /* A pipelined request behind it waits for the body to end. */
    raw_client_sends(&c, "0\r\n\r\nGET /echo HTTP/1.1\r\n\r\n");
    mem_env_settle(&f->me);
    assert_int_equal(the_input.end_count, 1);
    char expect[256];
    snprintf(expect, sizeof expect,
             "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n"
             "%d pieces, 3500 bytes" ECHO_OK("12\r\n\r\nGET /echo 0\n"),
             strlen("N pieces, 3500 bytes") + (the_input.piece_count >= 10 ? 1 : 0),
             the_input.piece_count);
    assert_string_equal(raw_client_text(&c), expect);
    raw_client_deinit(&c);
}

static void test_streaming_request_answered_early(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "POST /api/v1/input?early HTTP/1.1\r\nContent-Length: 100000000000\r\n\r\n"
                         "some of it");
    mem_env_settle(&f->me);
    /* Answered although the (huge) body has not ended: no 413 for streams. */
    assert_string_equal(raw_client_text(&c), "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
    assert_false(c.ended);
    assert_int_equal(the_input.piece_count, 0);
    /* The body stalls: 408 after the idle timeout, then close. */
    mem_env_advance(&f->me, 11 * DR_NS_PER_S);
    assert_non_null(strstr(raw_client_text(&c), "408 Request Timeout"));
    assert_true(c.ended);
    raw_client_deinit(&c);
}

static void test_streaming_request_stalls(void **state)
{
    fixture *f = *state;
    raw_client c;
    raw_client_init(&c, &f->me, f->port);
    raw_client_sends(&c, "POST /api/v1/input HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "3\r\nabc\r\n");
    mem_env_settle(&f->me);
    assert_int_equal(the_input.got.size, 3);
    mem_env_advance(&f->me, 11 * DR_NS_PER_S);
    /* The handler waits for an end that will not come: the client is cut off. */
    assert_true(c.ended);
    assert_int_equal(c.end_code, DR_ECONNRESET);
    assert_false(dr_http_response_alive(the_input.res));
    assert_int_equal(the_input.end_count, 0);
    dr_http_response_send(the_input.res, 200, NULL, NULL, 0); /* only frees now */
    the_input.res = NULL;
    raw_client_deinit(&c);
}

static void test_route_errors(void **state)
{
    fixture *f = *state;
    dr_err err;
    assert_int_equal(dr_http_server_route(f->server, "/echo", false, dr_http_echo_handler, f, &err),
                     DR_EEXIST);
    assert_string_equal(err.msg, "route '/echo': already registered");
    assert_int_equal(dr_http_server_route(f->server, "echo", true, dr_http_echo_handler, f, &err),
                     DR_EINVAL);
    assert_string_equal(err.msg, "route 'echo': must start with '/'");
    dr_http_server *s = NULL;
    static const char *const bad[] = {"/master/"};
    dr_http_server_opts opts = {.strip_prefixes = bad, .strip_prefix_count = 1};
    assert_int_equal(dr_http_server_create(env_of(f), &opts, &s, &err), DR_EINVAL);
    assert_string_equal(err.msg,
                        "http server: strip prefix '/master/': expected '/name' without a trailing '/'");
    dr_http_server_opts clash = {.host = "127.0.0.1", .port = f->port};
    assert_int_equal(dr_http_server_create(env_of(f), &clash, &s, &err), DR_EADDRINUSE);
    assert_string_equal(err.msg, "http server on 127.0.0.1:5050: port 5050: address in use");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_by_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelining_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_bound_pauses_reading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routing_and_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headers_joined_case_insensitive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_maps_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_then_next_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_continue_waits_its_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_continue_streaming_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_close_and_http10, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_request_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_idle_while_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_body_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_chunks_and_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_client_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader_cut_off, setup_small_queue, teardown),
        cmocka_unit_test_setup_teardown(test_back_pressure_plain, setup_small_queue, teardown),
        cmocka_unit_test_setup_teardown(test_graceful_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_with_held_responses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streaming_request_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streaming_request_answered_early, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streaming_request_stalls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
