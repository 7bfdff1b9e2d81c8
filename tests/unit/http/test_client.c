/* tests/unit/http/test_client.c — the HTTP client against the HTTP server, in
 * one process over the in-memory env: keep-alive reuse, queueing, streaming
 * with RecordIO, timeouts, refused connections, retry after a dropped
 * keep-alive connection, gzip, malformed answers, cancel and destroy from
 * callbacks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "mem_env.h"
#include "src/http/client.h"
#include "src/http/recordio.h"
#include "src/http/server.h"

typedef struct result {
    bool done;
    int status;
    dr_err err;
    char body[8192];
    size_t body_size;
    char content_type[64];
    char encoding[64];
    bool head_seen;
    int head_status;
    dr_recordio_decoder dec;
    char records[8][64];
    size_t record_count;
    dr_http_call *call;
    bool cancel_in_chunk;
    dr_http_client **destroy_in_done;
} result;

typedef struct fixture {
    mem_env me;
    dr_http_server *server;
    dr_http_client *client;
    uint16_t port;
    dr_http_response *held[8];
    size_t held_count;
} fixture;

static void hold_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                         void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(req);
    fixture *f = ctx;
    f->held[f->held_count++] = res;
}

static void stream_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                           void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(req);
    fixture *f = ctx;
    dr_http_response_stream_start(res, 200, "application/json");
    f->held[f->held_count++] = res;
}

static void headers_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                            void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(ctx);
    char text[512];
    const char *ct = dr_http_headers_get(&req->headers, "content-type");
    const char *host = dr_http_headers_get(&req->headers, "host");
    snprintf(text, sizeof text, "%s ct=%s host=%s body=%.*s", req->method, ct ? ct : "-",
             host ? host : "-", (int)req->body_size, (const char *)req->body);
    dr_http_response_send(res, 200, "text/plain", text, strlen(text));
}

static void big_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                        void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(req);
    DR_UNUSED(ctx);
    char body[5000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)('a' + (i % 5));
    dr_http_response_send(res, 200, "application/json", body, sizeof body);
}

static size_t input_total;

static void input_body(dr_env *env, dr_http_response *res, const uint8_t *data, size_t size,
                       bool end, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(ctx);
    DR_UNUSED(data);
    input_total += size;
    if (end) {
        char text[32];
        int n = snprintf(text, sizeof text, "%zu bytes", input_total);
        dr_http_response_send(res, 200, "text/plain", text, (size_t)n);
    }
}

static void input_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                          void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(req);
    DR_UNUSED(ctx);
    input_total = 0;
    dr_http_response_read_body(res, input_body, NULL);
}

static int setup(void **state)
{
    fixture *f = dr_alloc(sizeof *f);
    mem_env_init(&f->me);
    dr_http_server_opts opts = {.host = "127.0.0.1", .idle_timeout_ns = 10 * DR_NS_PER_S};
    dr_err err;
    assert_int_equal(dr_http_server_create(&f->me.env, &opts, &f->server, &err), DR_OK);
    f->port = dr_http_server_port(f->server);
    assert_int_equal(dr_http_server_route(f->server, "/echo", false, dr_http_echo_handler, f, &err),
                     DR_OK);
    assert_int_equal(dr_http_server_route(f->server, "/async", false, hold_handler, f, &err), DR_OK);
    assert_int_equal(dr_http_server_route(f->server, "/stream", false, stream_handler, f, &err),
                     DR_OK);
    assert_int_equal(dr_http_server_route(f->server, "/headers", false, headers_handler, f, &err),
                     DR_OK);
    assert_int_equal(dr_http_server_route(f->server, "/big", false, big_handler, f, &err), DR_OK);
    assert_int_equal(dr_http_server_route_streaming(f->server, "/input", false, input_handler, f,
                                                    &err),
                     DR_OK);
    dr_http_client_opts copts = {.timeout_ns = 100 * DR_NS_PER_MS};
    assert_int_equal(dr_http_client_create(&f->me.env, "127.0.0.1", f->port, &copts, &f->client,
                                           &err),
                     DR_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    dr_http_client_destroy(f->client);
    dr_http_server_destroy(f->server);
    mem_env_deinit(&f->me);
    dr_free(f);
    return 0;
}

static bool record_fn(const uint8_t *data, size_t size, void *ctx)
{
    result *r = ctx;
    assert_true(r->record_count < 8 && size < 64);
    memcpy(r->records[r->record_count], data, size);
    r->records[r->record_count][size] = '\0';
    r->record_count++;
    return true;
}

static void on_head(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                    void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    result *r = ctx;
    r->head_seen = true;
    r->head_status = resp->status;
    const char *ct = dr_http_headers_get(&resp->headers, "Content-Type");
    snprintf(r->content_type, sizeof r->content_type, "%s", ct ? ct : "-");
    dr_recordio_decoder_init(&r->dec, 0);
}

static void on_chunk(dr_env *env, dr_http_call *call, const uint8_t *data, size_t size, void *ctx)
{
    DR_UNUSED(env);
    result *r = ctx;
    if (r->cancel_in_chunk) {
        dr_http_call_cancel(call);
        return;
    }
    dr_err err;
    assert_int_equal(dr_recordio_decoder_feed(&r->dec, data, size, record_fn, r, &err), DR_OK);
}

static void on_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                    const dr_err *err, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    result *r = ctx;
    assert_false(r->done);
    r->done = true;
    r->err = *err;
    if (err->code == DR_OK) {
        assert_non_null(resp);
        r->status = resp->status;
        assert_true(resp->body_size < sizeof r->body);
        memcpy(r->body, resp->body, resp->body_size + 1);
        r->body_size = resp->body_size;
        const char *enc = dr_http_headers_get(&resp->headers, "Content-Encoding");
        snprintf(r->encoding, sizeof r->encoding, "%s", enc ? enc : "-");
    } else {
        assert_null(resp);
    }
    if (r->destroy_in_done != NULL) {
        dr_http_client_destroy(*r->destroy_in_done);
        *r->destroy_in_done = NULL;
    }
}

static const dr_http_call_cbs cbs = {.head = on_head, .chunk = on_chunk, .done = on_done};

static void send_simple(fixture *f, const char *method, const char *target, result *r)
{
    dr_http_client_request req = {.method = method, .target = target};
    dr_err err;
    assert_int_equal(dr_http_client_send(f->client, &req, &cbs, r, &r->call, &err), DR_OK);
}

static void test_get_and_reuse(void **state)
{
    fixture *f = *state;
    result a = {0}, b = {0};
    send_simple(f, "GET", "/echo", &a);
    mem_env_settle(&f->me);
    assert_true(a.done);
    assert_int_equal(a.err.code, DR_OK);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.body, "GET /echo 0\n");
    assert_int_equal(dr_http_client_conn_count(f->client), 1);
    send_simple(f, "GET", "/echo", &b);
    mem_env_settle(&f->me);
    assert_string_equal(b.body, "GET /echo 0\n");
    assert_int_equal(dr_http_client_conn_count(f->client), 1); /* reused */
    assert_int_equal(dr_http_server_conn_count(f->server), 1);
}

static void test_post_with_headers(void **state)
{
    fixture *f = *state;
    result r = {0};
    dr_http_header headers[] = {{.name = "Content-Type", .value = "application/json"}};
    dr_http_client_request req = {.method = "POST", .target = "/headers", .headers = headers,
                                  .header_count = 1, .body = "{\"a\":1}", .body_size = 7};
    dr_err err;
    assert_int_equal(dr_http_client_send(f->client, &req, &cbs, &r, NULL, &err), DR_OK);
    mem_env_settle(&f->me);
    assert_string_equal(r.body, "POST ct=application/json host=127.0.0.1:5050 body={\"a\":1}");
}

static void test_bad_requests_refused(void **state)
{
    fixture *f = *state;
    result r = {0};
    dr_err err;
    dr_http_client_request bad_target = {.method = "GET", .target = "no-slash"};
    assert_int_equal(dr_http_client_send(f->client, &bad_target, &cbs, &r, NULL, &err), DR_EINVAL);
    assert_string_equal(err.msg,
                        "127.0.0.1:5050: GET: target 'no-slash' must be an encoded absolute path");
    dr_http_client_request bad_method = {.method = "GE T", .target = "/"};
    assert_int_equal(dr_http_client_send(f->client, &bad_method, &cbs, &r, NULL, &err), DR_EINVAL);
    assert_string_equal(err.msg, "127.0.0.1:5050: bad method 'GE T'");
    dr_http_header inject[] = {{.name = "X", .value = "a\r\nEvil: 1"}};
    dr_http_client_request bad_header = {.method = "GET", .target = "/", .headers = inject,
                                         .header_count = 1};
    assert_int_equal(dr_http_client_send(f->client, &bad_header, &cbs, &r, NULL, &err), DR_EINVAL);
    assert_string_equal(err.msg, "127.0.0.1:5050: GET /: bad header 'X'");
    mem_env_settle(&f->me);
    assert_false(r.done); /* a failed send never calls back */
}

static void test_parallel_and_queued(void **state)
{
    fixture *f = *state;
    dr_http_client_destroy(f->client);
    dr_http_client_opts copts = {.timeout_ns = DR_NS_PER_S, .conn_count_max = 2};
    dr_err err;
    assert_int_equal(dr_http_client_create(&f->me.env, "127.0.0.1", f->port, &copts, &f->client,
                                           &err),
                     DR_OK);
    result r[4] = {0};
    send_simple(f, "GET", "/async", &r[0]);
    send_simple(f, "GET", "/async", &r[1]);
    send_simple(f, "GET", "/echo", &r[2]);
    mem_env_settle(&f->me);
    assert_int_equal(dr_http_client_conn_count(f->client), 2);
    assert_int_equal(dr_http_client_queued_count(f->client), 1);
    assert_int_equal(f->held_count, 2);
    dr_http_response_send(f->held[1], 200, "text/plain", "second", 6);
    mem_env_settle(&f->me);
    assert_true(r[1].done);
    assert_false(r[0].done);
    assert_true(r[2].done); /* went out on the freed connection */
    assert_string_equal(r[2].body, "GET /echo 0\n");
    dr_http_response_send(f->held[0], 200, "text/plain", "first", 5);
    mem_env_settle(&f->me);
    assert_string_equal(r[0].body, "first");
    assert_string_equal(r[1].body, "second");
}

static void test_streaming_recordio(void **state)
{
    fixture *f = *state;
    result r = {0};
    dr_http_client_request req = {.method = "POST", .target = "/stream", .stream = true};
    dr_err err;
    assert_int_equal(dr_http_client_send(f->client, &req, &cbs, &r, NULL, &err), DR_OK);
    mem_env_settle(&f->me);
    assert_true(r.head_seen);
    assert_int_equal(r.head_status, 200);
    assert_string_equal(r.content_type, "application/json");
    /* The stream outlives the call timeout (100 ms): it only covers the head. */
    mem_env_advance(&f->me, DR_NS_PER_S);
    assert_false(r.done);
    dr_http_response *res = f->held[0];
    assert_int_equal(dr_http_response_stream_record(res, "{\"type\":\"SUBSCRIBED\"}", 21, &err),
                     DR_OK);
    assert_int_equal(dr_http_response_stream_record(res, "{\"type\":\"HEARTBEAT\"}", 20, &err),
                     DR_OK);
    mem_env_settle(&f->me);
    assert_int_equal(r.record_count, 2);
    assert_string_equal(r.records[0], "{\"type\":\"SUBSCRIBED\"}");
    assert_string_equal(r.records[1], "{\"type\":\"HEARTBEAT\"}");
    dr_http_response_stream_end(res);
    mem_env_settle(&f->me);
    assert_true(r.done);
    assert_int_equal(r.err.code, DR_OK);
    assert_int_equal(r.body_size, 0);
    assert_int_equal(dr_recordio_decoder_finish(&r.dec, &err), DR_OK);
    dr_recordio_decoder_deinit(&r.dec);
}

static void test_cancel_in_chunk(void **state)
{
    fixture *f = *state;
    result r = {.cancel_in_chunk = true};
    dr_http_client_request req = {.method = "POST", .target = "/stream", .stream = true};
    dr_err err;
    assert_int_equal(dr_http_client_send(f->client, &req, &cbs, &r, NULL, &err), DR_OK);
    mem_env_settle(&f->me);
    dr_http_response *res = f->held[0];
    assert_int_equal(dr_http_response_stream_record(res, "x", 1, &err), DR_OK);
    mem_env_settle(&f->me);
    assert_false(r.done);
    assert_int_equal(dr_http_client_conn_count(f->client), 0); /* aborted */
    assert_false(dr_http_response_alive(res));                 /* the server saw it go */
    dr_http_response_stream_end(res);
    dr_recordio_decoder_deinit(&r.dec);
}

static void test_timeout(void **state)
{
    fixture *f = *state;
    result r = {0};
    send_simple(f, "GET", "/async", &r);
    mem_env_advance(&f->me, 99 * DR_NS_PER_MS);
    assert_false(r.done);
    mem_env_advance(&f->me, 2 * DR_NS_PER_MS);
    assert_true(r.done);
    assert_int_equal(r.err.code, DR_ETIMEDOUT);
    assert_string_equal(r.err.msg, "127.0.0.1:5050: GET /async: no response within 100 ms");
    mem_env_settle(&f->me);
    assert_false(dr_http_response_alive(f->held[0]));
    dr_http_response_send(f->held[0], 200, NULL, NULL, 0);
    /* The client still works. */
    result ok = {0};
    send_simple(f, "GET", "/echo", &ok);
    mem_env_settle(&f->me);
    assert_int_equal(ok.status, 200);
}

static void test_refused(void **state)
{
    fixture *f = *state;
    dr_http_client *c = NULL;
    dr_err err;
    assert_int_equal(dr_http_client_create(&f->me.env, "127.0.0.1", 6000, NULL, &c, &err), DR_OK);
    result r = {0};
    dr_http_client_request req = {.method = "GET", .target = "/x"};
    assert_int_equal(dr_http_client_send(c, &req, &cbs, &r, NULL, &err), DR_OK);
    mem_env_settle(&f->me);
    assert_true(r.done);
    assert_int_equal(r.err.code, DR_ECONNREFUSED);
    assert_string_equal(r.err.msg, "127.0.0.1:6000: GET /x: DR_ECONNREFUSED");
    dr_http_client_destroy(c);
}

static void test_retry_after_server_dropped_idle(void **state)
{
    fixture *f = *state;
    result a = {0};
    send_simple(f, "GET", "/echo", &a);
    mem_env_settle(&f->me);
    assert_int_equal(a.status, 200);
    /* Run only the server's idle timer: its close has not reached us yet. */
    f->me.now_ns += 10 * DR_NS_PER_S;
    assert_true(mem_env_step(&f->me, f->me.now_ns));
    assert_int_equal(dr_http_server_conn_count(f->server), 0);
    assert_int_equal(dr_http_client_conn_count(f->client), 1);
    result b = {0};
    send_simple(f, "GET", "/echo", &b); /* goes out on the dead connection */
    mem_env_settle(&f->me);
    assert_true(b.done);
    assert_int_equal(b.err.code, DR_OK);
    assert_string_equal(b.body, "GET /echo 0\n");
}

static void test_gzip_inflated(void **state)
{
    fixture *f = *state;
    result r = {0};
    dr_http_header headers[] = {{.name = "Accept-Encoding", .value = "gzip"}};
    dr_http_client_request req = {.method = "GET", .target = "/big", .headers = headers,
                                  .header_count = 1};
    dr_err err;
    assert_int_equal(dr_http_client_send(f->client, &req, &cbs, &r, NULL, &err), DR_OK);
    mem_env_settle(&f->me);
    assert_int_equal(r.err.code, DR_OK);
    assert_int_equal(r.body_size, 5000);
    assert_string_equal(r.encoding, "-");
    for (size_t i = 0; i < 5000; i++)
        assert_int_equal(r.body[i], 'a' + (i % 5));
}

static void test_body_limit(void **state)
{
    fixture *f = *state;
    dr_http_client_destroy(f->client);
    dr_http_client_opts copts = {.body_size_max = 1000};
    dr_err err;
    assert_int_equal(dr_http_client_create(&f->me.env, "127.0.0.1", f->port, &copts, &f->client,
                                           &err),
                     DR_OK);
    result r = {0};
    send_simple(f, "GET", "/big", &r);
    mem_env_settle(&f->me);
    assert_int_equal(r.err.code, DR_ETOOBIG);
    assert_string_equal(r.err.msg,
                        "127.0.0.1:5050: GET /big: response body of 5000 bytes exceeds the limit of 1000");
}

/* A raw server that answers anything with fixed bytes, then closes. */
typedef struct raw_server {
    const char *answer;
    bool close_after;
} raw_server;

static void raw_server_data(dr_env *env, dr_stream *s, const uint8_t *data, size_t size, void *ctx)
{
    DR_UNUSED(data);
    DR_UNUSED(size);
    raw_server *rs = ctx;
    dr_err err;
    assert_int_equal(dr_env_stream_write(env, s, rs->answer, strlen(rs->answer), &err), DR_OK);
    if (rs->close_after)
        dr_env_stream_close(env, s);
}

static const dr_stream_cbs raw_server_cbs = {.data = raw_server_data};

static void raw_accept(dr_env *env, dr_listener *l, dr_stream *s, void *ctx)
{
    DR_UNUSED(l);
    dr_env_stream_set_cbs(env, s, &raw_server_cbs, ctx);
}

static void run_against_raw(fixture *f, raw_server *rs, result *r)
{
    dr_listener *l = NULL;
    dr_err err;
    assert_int_equal(dr_env_listen(&f->me.env, "127.0.0.1", 7000, raw_accept, rs, &l, &err), DR_OK);
    dr_http_client *c = NULL;
    assert_int_equal(dr_http_client_create(&f->me.env, "127.0.0.1", 7000, NULL, &c, &err), DR_OK);
    dr_http_client_request req = {.method = "GET", .target = "/x"};
    assert_int_equal(dr_http_client_send(c, &req, &cbs, r, NULL, &err), DR_OK);
    mem_env_settle(&f->me);
    dr_http_client_destroy(c);
    dr_env_listener_close(&f->me.env, l);
}

static void test_malformed_answer(void **state)
{
    fixture *f = *state;
    raw_server rs = {.answer = "HTTP/1.1 2x0 OK\r\n\r\n"};
    result r = {0};
    run_against_raw(f, &rs, &r);
    assert_true(r.done);
    assert_int_equal(r.err.code, DR_EPROTO);
    assert_string_equal(r.err.msg, "127.0.0.1:7000: GET /x: malformed response: invalid HTTP status code");
}

static void test_answer_framed_by_close(void **state)
{
    fixture *f = *state;
    raw_server rs = {.answer = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
                     .close_after = true};
    result r = {0};
    run_against_raw(f, &rs, &r);
    assert_int_equal(r.err.code, DR_OK);
    assert_string_equal(r.body, "until the end");
}

static void test_cut_short(void **state)
{
    fixture *f = *state;
    raw_server rs = {.answer = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
                     .close_after = true};
    result r = {0};
    run_against_raw(f, &rs, &r);
    assert_int_equal(r.err.code, DR_EPROTO);
    assert_string_equal(r.err.msg,
                        "127.0.0.1:7000: GET /x: malformed response: stream ended at an unexpected time");
}

static void test_destroy_in_done(void **state)
{
    fixture *f = *state;
    result a = {0}, b = {0};
    a.destroy_in_done = &f->client;
    send_simple(f, "GET", "/echo", &a);
    send_simple(f, "GET", "/async", &b);
    mem_env_settle(&f->me);
    assert_true(a.done);
    assert_null(f->client);
    assert_false(b.done); /* destroyed: no callback */
    mem_env_settle(&f->me);
    assert_int_equal(f->held_count, 1);
    assert_false(dr_http_response_alive(f->held[0]));
    dr_http_response_send(f->held[0], 200, NULL, NULL, 0);
}

static void test_cancel_queued(void **state)
{
    fixture *f = *state;
    result r = {0};
    send_simple(f, "GET", "/echo", &r);
    dr_http_call_cancel(r.call);
    mem_env_advance(&f->me, DR_NS_PER_S);
    assert_false(r.done);
}

static void test_streaming_request_body(void **state)
{
    fixture *f = *state;
    result r = {0};
    dr_http_client_request req = {.method = "POST", .target = "/input", .body = "ab",
                                  .body_size = 2, .stream_body = true};
    dr_err err;
    dr_http_call *call = NULL;
    assert_int_equal(dr_http_client_send(f->client, &req, &cbs, &r, &call, &err), DR_OK);
    assert_int_equal(dr_http_call_write(call, "cde", 3, &err), DR_OK); /* before connecting */
    mem_env_settle(&f->me);
    assert_int_equal(input_total, 5);
    /* Longer than the call timeout (100 ms): the clock has not started. */
    mem_env_advance(&f->me, DR_NS_PER_S);
    assert_false(r.done);
    assert_int_equal(dr_http_call_write(call, "f", 1, &err), DR_OK);
    assert_int_equal(dr_http_call_write(call, "", 0, &err), DR_OK); /* nothing sent */
    dr_http_call_end_body(call);
    mem_env_settle(&f->me);
    assert_true(r.done);
    assert_int_equal(r.err.code, DR_OK);
    assert_string_equal(r.body, "6 bytes");
    /* The connection is reused afterwards. */
    result next = {0};
    send_simple(f, "GET", "/echo", &next);
    mem_env_settle(&f->me);
    assert_string_equal(next.body, "GET /echo 0\n");
    assert_int_equal(dr_http_client_conn_count(f->client), 1);
}

static void test_streaming_request_body_bound(void **state)
{
    fixture *f = *state;
    result r = {0};
    dr_http_client_request req = {.method = "POST", .target = "/input", .stream_body = true};
    dr_err err;
    dr_http_call *call = NULL;
    assert_int_equal(dr_http_client_send(f->client, &req, &cbs, &r, &call, &err), DR_OK);
    static char piece[1024 * 1024];
    dr_code rc = DR_OK;
    int n = 0;
    for (; n < 10 && rc == DR_OK; n++)
        rc = dr_http_call_write(call, piece, sizeof piece, &err); /* never connected yet */
    assert_int_equal(rc, DR_ETOOBIG);
    assert_int_equal(n, 4); /* 3 pieces fit under 4 MiB with their framing */
    assert_non_null(strstr(err.msg, "127.0.0.1:5050: POST /input: "));
    assert_non_null(strstr(err.msg, "request bytes not yet taken by the peer"));
    dr_http_call_cancel(call);
    mem_env_settle(&f->me);
    assert_false(r.done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_and_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_with_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parallel_and_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streaming_recordio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_in_chunk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_server_dropped_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_inflated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_framed_by_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_short, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_in_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streaming_request_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streaming_request_body_bound, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
