/* tests/unit/http/test_real.c — server and client over real loopback TCP
 * (src/env/real): a keep-alive exchange, a chunked RecordIO stream, gzip, a
 * malformed request answered 400 while another connection is served, and a
 * short real idle timeout. Every wait is a loop bounded by a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "src/env/real/real.h"
#include "src/http/client.h"
#include "src/http/recordio.h"
#include "src/http/server.h"

#define WAIT_NS (10 * DR_NS_PER_S)

typedef struct fixture {
    dr_env *env;
    dr_http_server *server;
    dr_http_client *client;
    uint16_t port;
    dr_http_response *stream;
} fixture;

static void stream_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                           void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(req);
    fixture *f = ctx;
    dr_http_response_stream_start(res, 200, "application/x-protobuf");
    dr_err err;
    for (int i = 0; i < 3; i++)
        assert_int_equal(dr_http_response_stream_record(res, "event", 5, &err), DR_OK);
    f->stream = res;
}

static void big_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                        void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(req);
    DR_UNUSED(ctx);
    static char body[100000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)('0' + (i % 10));
    dr_http_response_send(res, 200, "application/json", body, sizeof body);
}

static int setup(void **state)
{
    fixture *f = dr_alloc(sizeof *f);
    dr_err err;
    dr_env_real_opts eopts = {.log_level = DR_LOG_ERROR};
    assert_int_equal(dr_env_real_create(&eopts, &f->env, &err), DR_OK);
    dr_http_server_opts opts = {.host = "127.0.0.1", .port = 0,
                                .idle_timeout_ns = 300 * DR_NS_PER_MS};
    assert_int_equal(dr_http_server_create(f->env, &opts, &f->server, &err), DR_OK);
    f->port = dr_http_server_port(f->server);
    assert_true(f->port != 0);
    assert_int_equal(dr_http_server_route(f->server, "/echo", false, dr_http_echo_handler, f, &err),
                     DR_OK);
    assert_int_equal(dr_http_server_route(f->server, "/stream", false, stream_handler, f, &err),
                     DR_OK);
    assert_int_equal(dr_http_server_route(f->server, "/big", false, big_handler, f, &err), DR_OK);
    dr_http_client_opts copts = {.timeout_ns = WAIT_NS};
    assert_int_equal(dr_http_client_create(f->env, "127.0.0.1", f->port, &copts, &f->client, &err),
                     DR_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    dr_http_client_destroy(f->client);
    dr_http_server_destroy(f->server);
    if (f->stream != NULL)
        dr_http_response_stream_end(f->stream);
    dr_env_real_destroy(f->env);
    dr_free(f);
    return 0;
}

typedef struct result {
    bool done;
    dr_err err;
    int status;
    size_t body_size;
    char body[64];
    dr_recordio_decoder dec;
    int record_count;
} result;

static bool on_record(const uint8_t *data, size_t size, void *ctx)
{
    result *r = ctx;
    assert_int_equal(size, 5);
    assert_memory_equal(data, "event", 5);
    r->record_count++;
    return true;
}

static void on_chunk(dr_env *env, dr_http_call *call, const uint8_t *data, size_t size, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    result *r = ctx;
    dr_err err;
    assert_int_equal(dr_recordio_decoder_feed(&r->dec, data, size, on_record, r, &err), DR_OK);
}

static void on_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                    const dr_err *err, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    result *r = ctx;
    r->done = true;
    r->err = *err;
    if (resp != NULL) {
        r->status = resp->status;
        r->body_size = resp->body_size;
        snprintf(r->body, sizeof r->body, "%.*s", (int)DR_MIN(resp->body_size, (size_t)60),
                 (const char *)resp->body);
    }
}

static const dr_http_call_cbs cbs = {.chunk = on_chunk, .done = on_done};

/* Runs the loop until *flag or the deadline. */
static void wait_for(fixture *f, const bool *flag)
{
    uint64_t deadline = dr_env_now(f->env) + WAIT_NS;
    while (!*flag && dr_env_now(f->env) < deadline)
        dr_env_real_run_once(f->env, 20 * DR_NS_PER_MS);
    assert_true(*flag);
}

static void call(fixture *f, const char *target, bool stream, const dr_http_header *headers,
                 size_t header_count, result *r)
{
    dr_http_client_request req = {.method = "GET", .target = target, .stream = stream,
                                  .headers = headers, .header_count = header_count};
    dr_err err;
    assert_int_equal(dr_http_client_send(f->client, &req, &cbs, r, NULL, &err), DR_OK);
}

static void test_keep_alive_and_gzip(void **state)
{
    fixture *f = *state;
    result a = {0}, b = {0};
    call(f, "/echo", false, NULL, 0, &a);
    wait_for(f, &a.done);
    assert_int_equal(a.err.code, DR_OK);
    assert_string_equal(a.body, "GET /echo 0\n");
    dr_http_header gz[] = {{"Accept-Encoding", "gzip"}};
    call(f, "/big", false, gz, 1, &b);
    wait_for(f, &b.done);
    assert_int_equal(b.err.code, DR_OK);
    assert_int_equal(b.body_size, 100000); /* inflated by the client */
    assert_true(strncmp(b.body, "0123456789", 10) == 0);
    assert_int_equal(dr_http_client_conn_count(f->client), 1);
    assert_int_equal(dr_http_server_conn_count(f->server), 1);
    /* The short idle timeout closes it for real. */
    uint64_t deadline = dr_env_now(f->env) + WAIT_NS;
    while (dr_http_client_conn_count(f->client) > 0 && dr_env_now(f->env) < deadline)
        dr_env_real_run_once(f->env, 20 * DR_NS_PER_MS);
    assert_int_equal(dr_http_client_conn_count(f->client), 0);
    assert_int_equal(dr_http_server_conn_count(f->server), 0);
}

static void test_stream(void **state)
{
    fixture *f = *state;
    result r = {0};
    dr_recordio_decoder_init(&r.dec, 0);
    call(f, "/stream", true, NULL, 0, &r);
    uint64_t deadline = dr_env_now(f->env) + WAIT_NS;
    while (r.record_count < 3 && dr_env_now(f->env) < deadline)
        dr_env_real_run_once(f->env, 20 * DR_NS_PER_MS);
    assert_int_equal(r.record_count, 3);
    assert_false(r.done);
    dr_http_response_stream_end(f->stream);
    f->stream = NULL;
    wait_for(f, &r.done);
    assert_int_equal(r.err.code, DR_OK);
    dr_err err;
    assert_int_equal(dr_recordio_decoder_finish(&r.dec, &err), DR_OK);
    dr_recordio_decoder_deinit(&r.dec);
}

/* Raw bytes from a plain stream of the real env. */
typedef struct raw {
    dr_buf got;
    bool ended;
    bool connected;
} raw;

static void raw_connected(dr_env *env, dr_stream *s, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(s);
    ((raw *)ctx)->connected = true;
}
static void raw_data(dr_env *env, dr_stream *s, const uint8_t *data, size_t size, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(s);
    dr_buf_append(&((raw *)ctx)->got, data, size);
}
static void raw_closed(dr_env *env, dr_stream *s, const dr_err *why, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(s);
    DR_UNUSED(why);
    ((raw *)ctx)->ended = true;
}
static const dr_stream_cbs raw_cbs = {.connected = raw_connected, .data = raw_data,
                                      .closed = raw_closed};

static void test_malformed_does_not_hurt_others(void **state)
{
    fixture *f = *state;
    raw bad = {0};
    dr_buf_init(&bad.got);
    dr_stream *s = NULL;
    dr_err err;
    assert_int_equal(dr_env_connect(f->env, "127.0.0.1", f->port, &raw_cbs, &bad, &s, &err), DR_OK);
    wait_for(f, &bad.connected);
    assert_int_equal(dr_env_stream_write(f->env, s, "BREW /pot HTCPCP/1.0\r\n\r\n", 24, &err), DR_OK);
    result ok = {0};
    call(f, "/echo", false, NULL, 0, &ok);
    wait_for(f, &bad.ended);
    wait_for(f, &ok.done);
    assert_true(strncmp(dr_buf_cstr(&bad.got), "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
    assert_non_null(strstr(dr_buf_cstr(&bad.got), "malformed request: "));
    assert_int_equal(ok.err.code, DR_OK);
    assert_string_equal(ok.body, "GET /echo 0\n");
    dr_env_stream_close(f->env, s);
    dr_buf_deinit(&bad.got);
}

static void test_refused_names_peer(void **state)
{
    fixture *f = *state;
    dr_http_client *c = NULL;
    dr_err err;
    dr_http_server_destroy(f->server); /* frees the port */
    f->server = NULL;
    assert_int_equal(dr_http_client_create(f->env, "127.0.0.1", f->port, NULL, &c, &err), DR_OK);
    result r = {0};
    dr_http_client_request req = {.method = "GET", .target = "/x"};
    assert_int_equal(dr_http_client_send(c, &req, &cbs, &r, NULL, &err), DR_OK);
    wait_for(f, &r.done);
    assert_int_equal(r.err.code, DR_ECONNREFUSED);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "127.0.0.1:%u: GET /x: ", (unsigned)f->port);
    assert_true(strncmp(r.err.msg, prefix, strlen(prefix)) == 0);
    dr_http_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keep_alive_and_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_does_not_hurt_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_names_peer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
