/* fuzz/http_fuzz.c — the HTTP/1.1 server's request parser and the client's
 * response parser (src/http) on arbitrary bytes, over the in-memory env of
 * tests/unit/http/mem_env.h, delivered in pieces.
 *
 * Byte 0: bit 7 picks the side (0: bytes are requests to the server; 1: bytes
 * are the answer a server sends to the client), bit 6 makes the client call a
 * streaming one, bits 0-5 seed the split points. Checks: the server answers
 * only with well-formed status lines and survives every input (then its
 * timeouts and shutdown); the client calls back exactly once. Sanitizers and
 * assertions catch the rest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/http/client.h"
#include "src/http/recordio.h"
#include "src/http/server.h"
#include "tests/unit/http/mem_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

typedef struct fuzz_state {
    dr_http_response *held[DR_HTTP_PIPELINE_COUNT_MAX + 4];
    size_t held_count;
    int done_count;
    dr_http_response *in_res; /* held by the streaming-body route */
    size_t body_total;
} fuzz_state;

static void fuzz_handler(dr_env *env, const dr_http_request *req, dr_http_response *res, void *ctx)
{
    fuzz_state *st = ctx;
    if (strncmp(req->path, "/s", 2) == 0) {
        dr_http_response_stream_start(res, 200, "application/json");
        dr_err err;
        dr_code rc = dr_http_response_stream_record(res, req->body, req->body_size, &err);
        check(rc == DR_OK || rc == DR_ECLOSED || rc == DR_ETOOBIG); /* the client may be gone */
        dr_http_response_stream_end(res);
    } else if (strncmp(req->path, "/a", 2) == 0 &&
               st->held_count < DR_ARRAY_COUNT(st->held)) {
        st->held[st->held_count++] = res;
    } else if (strncmp(req->path, "/e", 2) == 0) {
        dr_http_response_error(res, 400, "bad %s", req->target);
    } else {
        dr_http_echo_handler(env, req, res, NULL);
    }
}

/* A streaming-body route: counts the body, answers at its end (or when the
 * client goes); the one it holds is in st->in_res. */
static void fuzz_body(dr_env *env, dr_http_response *res, const uint8_t *data, size_t size,
                      bool end, void *ctx)
{
    DR_UNUSED(env);
    fuzz_state *st = ctx;
    check(data != NULL);
    check(res == st->in_res);
    st->body_total += size;
    if (end) {
        st->in_res = NULL;
        dr_http_response_send(res, 200, "text/plain", "done", 4);
    }
}

static void fuzz_gone(dr_env *env, dr_http_response *res, void *ctx)
{
    DR_UNUSED(env);
    fuzz_state *st = ctx;
    check(res == st->in_res);
    st->in_res = NULL;
    dr_http_response_send(res, 200, NULL, NULL, 0); /* only frees now */
}

static void fuzz_stream_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                                void *ctx)
{
    DR_UNUSED(env);
    fuzz_state *st = ctx;
    if (req->target[strlen(req->target) - 1] == '!') {
        dr_http_response_send(res, 202, NULL, NULL, 0); /* answer before the body */
        return;
    }
    check(st->in_res == NULL);
    st->in_res = res;
    dr_http_response_on_gone(res, fuzz_gone, st);
    dr_http_response_read_body(res, fuzz_body, st);
}

static size_t next_piece(uint32_t *x, size_t left)
{
    *x = *x * 1103515245u + 12345u;
    return DR_MIN(left, (size_t)(*x >> 16) % 23 + 1);
}

static void fuzz_server(const uint8_t *data, size_t size, uint32_t seed)
{
    mem_env me;
    mem_env_init(&me);
    fuzz_state st = {0};
    dr_http_server *server = NULL;
    static const char *const prefixes[] = {"/master"};
    dr_http_server_opts opts = {.host = "127.0.0.1", .strip_prefixes = prefixes,
                                .strip_prefix_count = 1, .body_size_max = 4096};
    dr_err err;
    check(dr_http_server_create(&me.env, &opts, &server, &err) == DR_OK);
    check(dr_http_server_route(server, "/", true, fuzz_handler, &st, &err) == DR_OK);
    check(dr_http_server_route_streaming(server, "/in", true, fuzz_stream_handler, &st, &err) ==
          DR_OK);
    raw_client c;
    raw_client_init(&c, &me, dr_http_server_port(server));
    mem_env_settle(&me);
    size_t pos = 0;
    while (pos < size && !c.ended) {
        size_t piece = next_piece(&seed, size - pos);
        raw_client_send(&c, data + pos, piece);
        mem_env_settle(&me);
        pos += piece;
    }
    /* Answer every held request. Answers unblock the pipeline, so settling can
     * dispatch (and hold) more: repeat until none is left unanswered. */
    size_t answered = 0;
    do {
        while (answered < st.held_count)
            dr_http_response_send(st.held[answered++], 202, NULL, NULL, 0);
        mem_env_settle(&me);
    } while (answered < st.held_count);
    check(c.got.size == 0 || memcmp(c.got.data, "HTTP/1.1 ", 9) == 0);
    mem_env_advance(&me, 120 * DR_NS_PER_S); /* timeouts close everything */
    check(dr_http_server_conn_count(server) == 0);
    raw_client_deinit(&c);
    dr_http_server_destroy(server);
    if (st.in_res != NULL) /* destroy calls nothing back: finish it here */
        dr_http_response_send(st.in_res, 200, NULL, NULL, 0);
    mem_env_deinit(&me);
}

/* ---- client side ------------------------------------------------------------------ */

typedef struct answer {
    const uint8_t *data;
    size_t size;
    uint32_t seed;
} answer;

static void answer_data(dr_env *env, dr_stream *s, const uint8_t *data, size_t size, void *ctx)
{
    DR_UNUSED(data);
    DR_UNUSED(size);
    answer *a = ctx;
    dr_err err;
    size_t pos = 0;
    while (pos < a->size) {
        size_t piece = next_piece(&a->seed, a->size - pos);
        if (dr_env_stream_write(env, s, a->data + pos, piece, &err) != DR_OK)
            break;
        pos += piece;
    }
    a->size = 0; /* answer once */
    dr_env_stream_close(env, s);
}

static const dr_stream_cbs answer_cbs = {.data = answer_data};

static void answer_accept(dr_env *env, dr_listener *l, dr_stream *s, void *ctx)
{
    DR_UNUSED(l);
    dr_env_stream_set_cbs(env, s, &answer_cbs, ctx);
}

static void on_chunk(dr_env *env, dr_http_call *call, const uint8_t *data, size_t size, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    DR_UNUSED(ctx);
    check(data != NULL || size == 0);
}

static void on_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                    const dr_err *err, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    fuzz_state *st = ctx;
    st->done_count++;
    check((err->code == DR_OK) == (resp != NULL));
    check(err->code == DR_OK || err->msg[0] != '\0');
    if (resp != NULL)
        check(resp->body != NULL && resp->body[resp->body_size] == '\0');
}

static const dr_http_call_cbs fuzz_cbs = {.chunk = on_chunk, .done = on_done};

static void fuzz_client(const uint8_t *data, size_t size, uint32_t seed, bool stream)
{
    mem_env me;
    mem_env_init(&me);
    answer a = {.data = data, .size = size, .seed = seed};
    dr_listener *l = NULL;
    dr_err err;
    check(dr_env_listen(&me.env, "127.0.0.1", 7000, answer_accept, &a, &l, &err) == DR_OK);
    dr_http_client *client = NULL;
    dr_http_client_opts opts = {.body_size_max = 4096};
    check(dr_http_client_create(&me.env, "127.0.0.1", 7000, &opts, &client, &err) == DR_OK);
    fuzz_state st = {0};
    dr_http_client_request req = {.method = "GET", .target = "/x", .stream = stream};
    check(dr_http_client_send(client, &req, &fuzz_cbs, &st, NULL, &err) == DR_OK);
    mem_env_settle(&me);
    check(st.done_count == 1); /* the server closed: the call is over either way */
    dr_http_client_destroy(client);
    mem_env_deinit(&me);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t seed = (uint32_t)(data[0] & 0x3f) + 1;
    if (data[0] & 0x80)
        fuzz_client(data + 1, size - 1, seed, (data[0] & 0x40) != 0);
    else
        fuzz_server(data + 1, size - 1, seed);
    return 0;
}
