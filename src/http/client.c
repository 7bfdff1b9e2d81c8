/* src/http/client.c — HTTP/1.1 client over env streams. See client.h.
 *
 * A call waits in the client's FIFO until a connection is free (an idle
 * keep-alive one, or a new one while under the connection bound), then owns
 * that connection until its answer is complete. The answer is parsed with
 * http-parser in response mode; a streaming call hands body bytes to its
 * chunk callback as they are parsed.
 *
 * Lifetimes: user callbacks may cancel calls or destroy the client. So no
 * connection or call is freed while one of our frames is on the stack
 * (client->busy): they go to graveyards emptied when the outermost frame
 * leaves, and code after a callback re-checks dead/canceled flags.
 */
#include "client.h"

#include <http_parser.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define DEFAULT_TIMEOUT_NS (30 * DR_NS_PER_S)

typedef struct cconn cconn;

typedef enum cconn_state { CC_CONNECTING, CC_BUSY, CC_IDLE } cconn_state;

struct cconn {
    dr_http_client *client;
    dr_stream *stream;
    cconn *next; /* in client->conns, or in the graveyard once dead */
    cconn_state state;
    bool dead;
    bool reused; /* served an answer before: may have been closed by the server */
    http_parser parser;
    dr_buf field;
    dr_buf value;
    bool last_was_value;
    size_t header_size;
    size_t header_line_count;
    dr_http_call *call;
    bool message_done;
    bool keep_alive;
    dr_err fail; /* set by a parser callback that rejects the answer */
};

struct dr_http_call {
    dr_http_client *client;
    dr_http_call *next; /* in the queue, or in the graveyard once finished */
    cconn *conn;
    const dr_http_call_cbs *cbs;
    void *ctx;
    dr_buf wire;    /* the request as sent */
    char what[160]; /* "POST /api/v1", for errors */
    bool stream;
    bool head_method;
    bool gzip;
    bool queued;
    bool finished; /* done fired or canceled: no more callbacks */
    bool failing;  /* in client->failing: its timer fires fail_fire */
    int attempt_count;
    bool body_streaming; /* chunked request body, written with dr_http_call_write */
    bool body_ended;     /* dr_http_call_end_body was called */
    dr_err pending_err;  /* for call_fail_later */
    uint64_t timeout_ns;
    dr_timer_id timer;
    dr_http_client_response resp;
    dr_buf body;
};

struct dr_http_client {
    dr_env *env;
    char *host;
    uint16_t port;
    uint64_t timeout_ns;
    size_t body_size_max;
    size_t conn_count_max;
    cconn *conns;
    size_t conn_count;
    dr_http_call *queue_head, *queue_tail;
    size_t queued_count;
    cconn *dead_conns;
    dr_http_call *dead_calls;
    /* Calls failed from the loop (call_fail_later): in no queue and on no
     * connection, held only by their 0-delay timer until it fires. Tracked so
     * that destroy and forget reach them. */
    dr_http_call *failing;
    int busy;
    bool doomed;
};

static const dr_stream_cbs cconn_cbs;
static const http_parser_settings response_settings;

static void client_kick(dr_http_client *client);

/* ---- lifetimes ---------------------------------------------------------------- */

static void call_free(dr_http_call *call)
{
    dr_buf_deinit(&call->wire);
    dr_buf_deinit(&call->body);
    dr_http_headers_deinit(&call->resp.headers);
    dr_free(call);
}

static void cconn_free(cconn *conn)
{
    dr_buf_deinit(&conn->field);
    dr_buf_deinit(&conn->value);
    dr_free(conn);
}

static void client_free(dr_http_client *client)
{
    DR_ASSERT(client->conns == NULL);
    DR_ASSERT(client->queue_head == NULL);
    DR_ASSERT(client->failing == NULL);
    dr_free(client->host);
    dr_free(client);
}

static void client_enter(dr_http_client *client) { client->busy++; }

static void client_leave(dr_http_client *client)
{
    DR_ASSERT(client->busy > 0);
    if (--client->busy > 0)
        return;
    while (client->dead_conns != NULL) {
        cconn *conn = client->dead_conns;
        client->dead_conns = conn->next;
        cconn_free(conn);
    }
    while (client->dead_calls != NULL) {
        dr_http_call *call = client->dead_calls;
        client->dead_calls = call->next;
        call_free(call);
    }
    if (client->doomed)
        client_free(client);
}

/* Ends a connection (close flushes, abort resets) and unlinks it. */
static void cconn_kill(cconn *conn, bool abort)
{
    if (conn->dead)
        return;
    dr_http_client *client = conn->client;
    conn->dead = true;
    if (abort)
        dr_env_stream_abort(client->env, conn->stream);
    else
        dr_env_stream_close(client->env, conn->stream);
    conn->stream = NULL;
    if (conn->call != NULL) {
        conn->call->conn = NULL;
        conn->call = NULL;
    }
    cconn **link = &client->conns;
    while (*link != conn)
        link = &(*link)->next;
    *link = conn->next;
    DR_ASSERT(client->conn_count > 0);
    client->conn_count--;
    conn->next = client->dead_conns;
    client->dead_conns = conn;
}

static void queue_remove(dr_http_client *client, dr_http_call *call)
{
    DR_ASSERT(call->queued);
    dr_http_call **link = &client->queue_head;
    dr_http_call *prev = NULL;
    while (*link != call) {
        prev = *link;
        link = &(*link)->next;
    }
    *link = call->next;
    if (client->queue_tail == call)
        client->queue_tail = prev;
    call->next = NULL;
    call->queued = false;
    client->queued_count--;
}

static void failing_remove(dr_http_client *client, dr_http_call *call)
{
    DR_ASSERT(call->failing);
    dr_http_call **link = &client->failing;
    while (*link != call)
        link = &(*link)->next;
    *link = call->next;
    call->next = NULL;
    call->failing = false;
}

/* Detaches the call from queue, timer and connection (aborting a connection
 * whose answer is under way), and buries it. No callback. */
static void call_retire(dr_http_call *call)
{
    dr_http_client *client = call->client;
    DR_ASSERT(!call->finished);
    call->finished = true;
    if (call->timer != 0) {
        dr_env_timer_cancel(client->env, call->timer);
        call->timer = 0;
    }
    if (call->queued)
        queue_remove(client, call);
    if (call->failing)
        failing_remove(client, call);
    if (call->conn != NULL)
        cconn_kill(call->conn, true);
    call->next = client->dead_calls;
    client->dead_calls = call;
}

/* Finishes the call with its answer (err NULL) or an error; fires done. */
static void call_finish(dr_http_call *call, const dr_err *err)
{
    dr_http_client *client = call->client;
    cconn *conn = call->conn;
    if (conn != NULL) {
        conn->call = NULL; /* keep the connection: the caller decides its fate */
        call->conn = NULL;
    }
    call_retire(call);
    dr_err ok = {.code = DR_OK};
    if (call->cbs->done == NULL || client->doomed)
        return;
    if (err == NULL) {
        dr_buf_append(&call->body, "", 1);
        call->body.size--;
        call->resp.body = call->body.data;
        call->resp.body_size = call->body.size;
        call->cbs->done(client->env, call, &call->resp, &ok, call->ctx);
    } else {
        DR_ASSERT(err->code != DR_OK);
        call->cbs->done(client->env, call, NULL, err, call->ctx);
    }
}

static void format_err(const dr_http_call *call, dr_err *err, dr_code code, const char *fmt,
                       va_list ap)
{
    err->code = code;
    int n = snprintf(err->msg, sizeof err->msg, "%s:%u: %s: ", call->client->host,
                     (unsigned)call->client->port, call->what);
    if (n >= 0 && (size_t)n < sizeof err->msg)
        vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
}

static void call_fail(dr_http_call *call, dr_code code, const char *fmt, ...) DR_PRINTF(3, 4);

static void call_fail(dr_http_call *call, dr_code code, const char *fmt, ...)
{
    dr_err err;
    va_list ap;
    va_start(ap, fmt);
    format_err(call, &err, code, fmt, ap);
    va_end(ap);
    call_finish(call, &err);
}

static void fail_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    dr_http_call *call = ctx;
    dr_http_client *client = call->client;
    DR_ASSERT(call->timer != 0);
    call->timer = 0;
    client_enter(client);
    dr_err err = call->pending_err;
    call_finish(call, &err);
    client_kick(client);
    client_leave(client);
}

/* Fails the call from the loop, not from inside the API call that found the
 * fault (dr_http_client_send, dr_http_call_write): callbacks never run
 * re-entrantly. The call leaves its queue and connection now. */
static void call_fail_later(dr_http_call *call, dr_code code, const char *fmt, ...)
    DR_PRINTF(3, 4);

static void call_fail_later(dr_http_call *call, dr_code code, const char *fmt, ...)
{
    dr_http_client *client = call->client;
    va_list ap;
    va_start(ap, fmt);
    format_err(call, &call->pending_err, code, fmt, ap);
    va_end(ap);
    if (call->queued)
        queue_remove(client, call);
    if (call->conn != NULL)
        cconn_kill(call->conn, true);
    if (call->timer != 0)
        dr_env_timer_cancel(client->env, call->timer);
    call->timer = dr_env_timer_add(client->env, 0, fail_fire, call);
    if (!call->failing) {
        call->failing = true;
        call->next = client->failing;
        client->failing = call;
    }
}

/* ---- client ------------------------------------------------------------------------ */

dr_code dr_http_client_create(dr_env *env, const char *host, uint16_t port,
                              const dr_http_client_opts *opts, dr_http_client **out, dr_err *err)
{
    DR_ASSERT(env != NULL);
    dr_http_client_opts none = {0};
    if (opts == NULL)
        opts = &none;
    if (host == NULL || host[0] == '\0' || strlen(host) >= DR_HOSTNAME_SIZE_MAX)
        return dr_err_set(err, DR_EINVAL, "http client: host must be 1-%u bytes",
                          DR_HOSTNAME_SIZE_MAX - 1);
    if (opts->body_size_max > DR_HTTP_BODY_SIZE_MAX)
        return dr_err_set(err, DR_EINVAL, "http client: body_size_max %zu above %u",
                          opts->body_size_max, DR_HTTP_BODY_SIZE_MAX);
    if (opts->conn_count_max > DR_HTTP_CLIENT_CONN_COUNT_MAX)
        return dr_err_set(err, DR_EINVAL, "http client: conn_count_max %zu above %u",
                          opts->conn_count_max, DR_HTTP_CLIENT_CONN_COUNT_MAX);
    dr_http_client *c = dr_alloc(sizeof *c);
    c->env = env;
    c->host = dr_strdup(host);
    c->port = port;
    c->timeout_ns = opts->timeout_ns ? opts->timeout_ns : DEFAULT_TIMEOUT_NS;
    c->body_size_max = opts->body_size_max ? opts->body_size_max : DR_HTTP_BODY_SIZE_MAX;
    c->conn_count_max = opts->conn_count_max ? opts->conn_count_max : DR_HTTP_CLIENT_CONN_COUNT_MAX;
    *out = c;
    return DR_OK;
}

void dr_http_client_destroy(dr_http_client *client)
{
    if (client == NULL)
        return;
    DR_ASSERT(!client->doomed);
    client_enter(client);
    client->doomed = true;
    while (client->queue_head != NULL)
        call_retire(client->queue_head);
    while (client->failing != NULL)
        call_retire(client->failing);
    while (client->conns != NULL) {
        cconn *conn = client->conns;
        if (conn->call != NULL)
            call_retire(conn->call); /* kills conn */
        else
            cconn_kill(conn, true);
    }
    client_leave(client); /* frees it, now or when the outer frame leaves */
}

void dr_http_client_forget(dr_http_client *client)
{
    if (client == NULL)
        return;
    /* Outside every callback of ours, so both graveyards are empty: each
     * call and connection is in exactly one of the lists walked here. */
    DR_ASSERT(client->busy == 0);
    DR_ASSERT(client->dead_conns == NULL);
    DR_ASSERT(client->dead_calls == NULL);
    while (client->queue_head != NULL) {
        dr_http_call *call = client->queue_head;
        client->queue_head = call->next;
        call_free(call);
    }
    while (client->failing != NULL) {
        dr_http_call *call = client->failing;
        client->failing = call->next;
        call_free(call);
    }
    while (client->conns != NULL) {
        cconn *conn = client->conns;
        client->conns = conn->next;
        if (conn->call != NULL)
            call_free(conn->call); /* a call on a connection is in no list */
        cconn_free(conn);
    }
    client->queue_tail = NULL;
    client->queued_count = 0;
    client->conn_count = 0;
    client_free(client);
}

size_t dr_http_client_conn_count(const dr_http_client *client) { return client->conn_count; }
size_t dr_http_client_queued_count(const dr_http_client *client) { return client->queued_count; }

static bool token_ok(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s <= ' ' || *s >= 0x7f || *s == ':')
            return false;
    }
    return true;
}

static bool value_ok(const char *s)
{
    return s[strcspn(s, "\r\n")] == '\0';
}

static void timeout_fire(dr_env *env, void *ctx);

dr_code dr_http_client_send(dr_http_client *client, const dr_http_client_request *req,
                            const dr_http_call_cbs *cbs, void *ctx, dr_http_call **out,
                            dr_err *err)
{
    DR_ASSERT(!client->doomed);
    DR_ASSERT(cbs != NULL);
    DR_ASSERT(req->body != NULL || req->body_size == 0);
    if (!token_ok(req->method))
        return dr_err_set(err, DR_EINVAL, "%s:%u: bad method '%s'", client->host,
                          (unsigned)client->port, req->method ? req->method : "(null)");
    if (req->target == NULL || req->target[0] != '/' || !token_ok(req->target))
        return dr_err_set(err, DR_EINVAL, "%s:%u: %s: target '%s' must be an encoded absolute path",
                          client->host, (unsigned)client->port, req->method,
                          req->target ? req->target : "(null)");
    for (size_t i = 0; i < req->header_count; i++) {
        if (!token_ok(req->headers[i].name) || !value_ok(req->headers[i].value))
            return dr_err_set(err, DR_EINVAL, "%s:%u: %s %s: bad header '%s'", client->host,
                              (unsigned)client->port, req->method, req->target,
                              req->headers[i].name);
    }
    if (req->body_size > DR_HTTP_BODY_SIZE_MAX)
        return dr_err_set(err, DR_ETOOBIG, "%s:%u: %s %s: body of %zu bytes over %u",
                          client->host, (unsigned)client->port, req->method, req->target,
                          req->body_size, DR_HTTP_BODY_SIZE_MAX);
    if (client->queued_count >= DR_HTTP_CLIENT_QUEUE_COUNT_MAX)
        return dr_err_set(err, DR_ETOOBIG, "%s:%u: %s %s: %u calls already waiting",
                          client->host, (unsigned)client->port, req->method, req->target,
                          DR_HTTP_CLIENT_QUEUE_COUNT_MAX);
    dr_http_call *call = dr_alloc(sizeof *call);
    call->client = client;
    call->cbs = cbs;
    call->ctx = ctx;
    call->stream = req->stream;
    call->head_method = strcmp(req->method, "HEAD") == 0;
    call->timeout_ns = req->timeout_ns ? req->timeout_ns : client->timeout_ns;
    size_t method_size = strlen(req->method);
    size_t target_size = strlen(req->target);
    {
        /* "METHOD target", cut to fit (error messages only). */
        size_t m = DR_MIN(method_size, sizeof call->what - 2);
        size_t t = DR_MIN(target_size, sizeof call->what - 2 - m);
        memcpy(call->what, req->method, m);
        call->what[m] = ' ';
        memcpy(call->what + m + 1, req->target, t);
        call->what[m + 1 + t] = '\0';
    }
    dr_buf_init(&call->wire);
    dr_buf_init(&call->body);
    dr_http_headers_init(&call->resp.headers);
    dr_buf *w = &call->wire;
    /* One allocation for the whole request: the head's fixed parts, the
     * numbers and the chunk framing fit in 128 bytes. */
    size_t wire_size = 128 + method_size + target_size + strlen(client->host) + req->body_size;
    for (size_t i = 0; i < req->header_count; i++)
        wire_size += strlen(req->headers[i].name) + strlen(req->headers[i].value) + 4;
    dr_buf_reserve(w, wire_size);
    /* Appends, not printf: a client may send thousands of calls a second. */
    dr_buf_append(w, req->method, method_size);
    dr_buf_append(w, " ", 1);
    dr_buf_append(w, req->target, target_size);
    dr_buf_append_str(w, " HTTP/1.1\r\nHost: ");
    dr_buf_append_str(w, client->host);
    dr_buf_append(w, ":", 1);
    dr_buf_append_uint(w, client->port, 10);
    dr_buf_append(w, "\r\n", 2);
    for (size_t i = 0; i < req->header_count; i++) {
        dr_buf_append_str(w, req->headers[i].name);
        dr_buf_append(w, ": ", 2);
        dr_buf_append_str(w, req->headers[i].value);
        dr_buf_append(w, "\r\n", 2);
    }
    bool needs_length = req->body_size > 0 || strcmp(req->method, "POST") == 0 ||
                        strcmp(req->method, "PUT") == 0;
    call->body_streaming = req->stream_body;
    if (req->stream_body) {
        dr_buf_append_str(w, "Transfer-Encoding: chunked\r\n\r\n");
    } else if (needs_length) {
        dr_buf_append_str(w, "Content-Length: ");
        dr_buf_append_uint(w, req->body_size, 10);
        dr_buf_append(w, "\r\n\r\n", 4);
    } else {
        dr_buf_append_str(w, "\r\n");
    }
    if (req->body_size > 0 && req->stream_body) {
        dr_buf_append_uint(w, req->body_size, 16);
        dr_buf_append(w, "\r\n", 2);
    }
    if (req->body_size > 0)
        dr_buf_append(w, req->body, req->body_size);
    if (req->body_size > 0 && req->stream_body)
        dr_buf_append_str(w, "\r\n");
    /* Enqueue, then let the loop hand it a connection. */
    call->queued = true;
    if (client->queue_tail != NULL)
        client->queue_tail->next = call;
    else
        client->queue_head = call;
    client->queue_tail = call;
    client->queued_count++;
    /* A streaming body may take any time: its clock starts at end_body. */
    if (!call->body_streaming)
        call->timer = dr_env_timer_add(client->env, call->timeout_ns, timeout_fire, call);
    if (out != NULL)
        *out = call;
    client_enter(client);
    client_kick(client);
    client_leave(client);
    return DR_OK;
}

void dr_http_call_cancel(dr_http_call *call)
{
    if (call->finished)
        return;
    dr_http_client *client = call->client;
    client_enter(client);
    call_retire(call);
    client_leave(client);
}

/* ---- connections ------------------------------------------------------------------- */

static void cconn_start_call(cconn *conn)
{
    dr_http_call *call = conn->call;
    DR_ASSERT(call != NULL);
    DR_ASSERT(!conn->dead);
    conn->state = CC_BUSY;
    http_parser_init(&conn->parser, HTTP_RESPONSE);
    conn->parser.data = conn;
    conn->message_done = false;
    conn->keep_alive = false;
    conn->last_was_value = false;
    conn->header_size = 0;
    conn->header_line_count = 0;
    dr_buf_reset(&conn->field);
    dr_buf_reset(&conn->value);
    memset(&conn->fail, 0, sizeof conn->fail);
    call->attempt_count++;
    dr_err err;
    dr_code rc = dr_env_stream_write(conn->client->env, conn->stream, call->wire.data,
                                     call->wire.size, &err);
    if (rc != DR_OK) {
        call_fail_later(call, rc, "sending the request: %s", err.msg);
        return;
    }
    if (call->body_streaming)
        dr_buf_reset(&call->wire); /* sent; later chunks queue here (no retry for streams) */
}

/* Moves a streaming body's queued chunks to the connection, if it has one. */
static void call_pump_body(dr_http_call *call)
{
    cconn *conn = call->conn;
    if (!call->body_streaming || conn == NULL || conn->dead || conn->state != CC_BUSY ||
        call->wire.size == 0)
        return; /* (plain calls keep their wire for a retry: never resend it here) */
    dr_err err;
    dr_code rc = dr_env_stream_write(conn->client->env, conn->stream, call->wire.data,
                                     call->wire.size, &err);
    if (rc == DR_EAGAIN)
        return; /* drained will call again */
    if (rc != DR_OK) {
        call_fail_later(call, rc, "sending the request body: %s", err.msg);
        return;
    }
    dr_buf_reset(&call->wire);
}

dr_code dr_http_call_write(dr_http_call *call, const void *data, size_t size, dr_err *err)
{
    DR_ASSERT(call->body_streaming);
    DR_ASSERT(!call->body_ended);
    DR_ASSERT(data != NULL || size == 0);
    dr_http_client *client = call->client;
    if (call->finished)
        return dr_err_set(err, DR_ECLOSED, "%s:%u: %s: the call is over", client->host,
                          (unsigned)client->port, call->what);
    if (size == 0)
        return DR_OK; /* an empty chunk would end the body */
    size_t queued = call->wire.size;
    if (call->conn != NULL && call->conn->stream != NULL)
        queued += dr_env_stream_queued(client->env, call->conn->stream);
    if (queued + size > DR_HTTP_STREAM_QUEUE_SIZE_MAX)
        return dr_err_set(err, DR_ETOOBIG, "%s:%u: %s: %zu request bytes not yet taken by the peer",
                          client->host, (unsigned)client->port, call->what, queued);
    dr_buf_printf(&call->wire, "%zx\r\n", size);
    dr_buf_append(&call->wire, data, size);
    dr_buf_append_str(&call->wire, "\r\n");
    client_enter(client);
    call_pump_body(call);
    client_leave(client);
    return DR_OK;
}

void dr_http_call_end_body(dr_http_call *call)
{
    DR_ASSERT(call->body_streaming);
    DR_ASSERT(!call->body_ended);
    call->body_ended = true;
    if (call->finished)
        return;
    dr_http_client *client = call->client;
    dr_buf_append_str(&call->wire, "0\r\n\r\n");
    DR_ASSERT(call->timer == 0);
    call->timer = dr_env_timer_add(client->env, call->timeout_ns, timeout_fire, call);
    client_enter(client);
    call_pump_body(call);
    client_leave(client);
}

/* Hands waiting calls to idle connections, opening new ones under the bound. */
static void client_kick(dr_http_client *client)
{
    while (client->queue_head != NULL && !client->doomed) {
        cconn *idle = NULL;
        for (cconn *c = client->conns; c != NULL && idle == NULL; c = c->next) {
            if (c->state == CC_IDLE && c->call == NULL)
                idle = c;
        }
        if (idle == NULL && client->conn_count >= client->conn_count_max)
            return;
        dr_http_call *call = client->queue_head;
        if (idle == NULL) {
            cconn *conn = dr_alloc(sizeof *conn);
            conn->client = client;
            conn->state = CC_CONNECTING;
            dr_buf_init(&conn->field);
            dr_buf_init(&conn->value);
            dr_err err;
            dr_code rc = dr_env_connect(client->env, client->host, client->port, &cconn_cbs, conn,
                                        &conn->stream, &err);
            if (rc != DR_OK) {
                cconn_free(conn);
                call_fail_later(call, rc, "connecting: %s", err.msg);
                continue;
            }
            conn->next = client->conns;
            client->conns = conn;
            client->conn_count++;
            queue_remove(client, call);
            conn->call = call;
            call->conn = conn;
            continue; /* the request goes out once connected */
        }
        queue_remove(client, call);
        idle->call = call;
        call->conn = idle;
        cconn_start_call(idle);
        call_pump_body(call);
    }
}

static void timeout_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    dr_http_call *call = ctx;
    dr_http_client *client = call->client;
    DR_ASSERT(call->timer != 0);
    call->timer = 0;
    client_enter(client);
    if (call->conn != NULL)
        cconn_kill(call->conn, true);
    call_fail(call, DR_ETIMEDOUT, "no %s within %llu ms",
              call->stream ? "response headers" : "response",
              (unsigned long long)(call->timeout_ns / DR_NS_PER_MS));
    client_kick(client);
    client_leave(client);
}

/* ---- parser callbacks ------------------------------------------------------------ */

static int reject(cconn *conn, dr_code code, const char *fmt, ...) DR_PRINTF(3, 4);

static int reject(cconn *conn, dr_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    conn->fail.code = code;
    vsnprintf(conn->fail.msg, sizeof conn->fail.msg, fmt, ap);
    va_end(ap);
    return -1;
}

static int count_header_bytes(cconn *conn, size_t size)
{
    conn->header_size += size;
    if (conn->header_size > DR_HTTP_HEADER_SIZE_MAX)
        return reject(conn, DR_ETOOBIG, "response headers larger than %u bytes",
                      DR_HTTP_HEADER_SIZE_MAX);
    return 0;
}

static int header_done(cconn *conn)
{
    if (!conn->last_was_value)
        return 0;
    conn->last_was_value = false;
    if (++conn->header_line_count > DR_HTTP_HEADER_COUNT_MAX)
        return reject(conn, DR_ETOOBIG, "more than %u response header lines",
                      DR_HTTP_HEADER_COUNT_MAX);
    dr_http_headers_addn(&conn->call->resp.headers, (const char *)conn->field.data,
                         conn->field.size, (const char *)conn->value.data, conn->value.size);
    dr_buf_reset(&conn->field);
    dr_buf_reset(&conn->value);
    return 0;
}

static int on_status(http_parser *p, const char *at, size_t size)
{
    DR_UNUSED(at);
    return count_header_bytes(p->data, size);
}

static int on_header_field(http_parser *p, const char *at, size_t size)
{
    cconn *conn = p->data;
    if (header_done(conn) != 0)
        return -1;
    dr_buf_append(&conn->field, at, size);
    return count_header_bytes(conn, size);
}

static int on_header_value(http_parser *p, const char *at, size_t size)
{
    cconn *conn = p->data;
    conn->last_was_value = true;
    dr_buf_append(&conn->value, at, size);
    return count_header_bytes(conn, size);
}

static int on_headers_complete(http_parser *p)
{
    cconn *conn = p->data;
    dr_http_call *call = conn->call;
    if (header_done(conn) != 0)
        return -1;
    if (p->status_code / 100 == 1)
        return 0; /* an interim answer: its message ends here, the real one follows */
    call->resp.status = (int)p->status_code;
    size_t body_max = conn->client->body_size_max;
    if (!call->stream && (p->flags & F_CONTENTLENGTH) != 0 && p->content_length > body_max)
        return reject(conn, DR_ETOOBIG, "response body of %llu bytes exceeds the limit of %zu",
                      (unsigned long long)p->content_length, body_max);
    const char *encoding = dr_http_headers_get(&call->resp.headers, "Content-Encoding");
    call->gzip = !call->stream && encoding != NULL && strcasecmp(encoding, "gzip") == 0;
    if (call->stream) {
        if (call->timer != 0) { /* the stream is up: its length is unbounded */
            dr_env_timer_cancel(conn->client->env, call->timer);
            call->timer = 0;
        }
        call->resp.body = (const uint8_t *)"";
        if (call->cbs->head != NULL)
            call->cbs->head(conn->client->env, call, &call->resp, call->ctx);
        if (call->finished || conn->dead)
            return -1; /* canceled from the callback */
    }
    return call->head_method ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t size)
{
    cconn *conn = p->data;
    dr_http_call *call = conn->call;
    if (call->stream) {
        if (call->cbs->chunk != NULL)
            call->cbs->chunk(conn->client->env, call, (const uint8_t *)at, size, call->ctx);
        return call->finished || conn->dead ? -1 : 0;
    }
    if (call->body.size + size > conn->client->body_size_max)
        return reject(conn, DR_ETOOBIG, "response body exceeds the limit of %zu bytes",
                      conn->client->body_size_max);
    dr_buf_append(&call->body, at, size);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    cconn *conn = p->data;
    if (p->status_code / 100 == 1) {
        dr_http_headers_deinit(&conn->call->resp.headers);
        conn->header_size = 0;
        conn->header_line_count = 0;
        return 0;
    }
    conn->message_done = true;
    conn->keep_alive = http_should_keep_alive(p) != 0;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings response_settings = {
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Inflates a gzip'd body in place (bounded); false with *why on failure. */
static bool gunzip_body(dr_http_call *call, size_t size_max, const char **why)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        *why = "zlib failed to start";
        return false;
    }
    dr_buf plain;
    dr_buf_init(&plain);
    z.next_in = call->body.data;
    z.avail_in = (uInt)call->body.size;
    int zrc = Z_OK;
    while (zrc == Z_OK) {
        if (plain.size >= size_max) {
            *why = "inflated body exceeds the limit";
            zrc = Z_MEM_ERROR;
            break;
        }
        dr_buf_reserve(&plain, 64 * 1024);
        size_t room = DR_MIN(plain.capacity - plain.size, size_max + 1 - plain.size);
        z.next_out = plain.data + plain.size;
        z.avail_out = (uInt)room;
        zrc = inflate(&z, Z_NO_FLUSH);
        plain.size += room - z.avail_out;
        if (zrc == Z_BUF_ERROR && z.avail_in == 0) {
            *why = "gzip body is truncated";
            zrc = Z_DATA_ERROR;
        }
    }
    inflateEnd(&z);
    if (zrc != Z_STREAM_END || plain.size > size_max) {
        if (zrc == Z_DATA_ERROR && *why == NULL)
            *why = "gzip body is corrupt";
        if (*why == NULL)
            *why = "inflated body exceeds the limit";
        dr_buf_deinit(&plain);
        return false;
    }
    dr_buf_deinit(&call->body);
    call->body = plain;
    dr_http_headers_remove(&call->resp.headers, "Content-Encoding");
    return true;
}

/* Called after http_parser_execute: completes the call, or fails it. */
static void cconn_after_parse(cconn *conn, size_t parsed, size_t size)
{
    dr_http_call *call = conn->call;
    enum http_errno e = HTTP_PARSER_ERRNO(&conn->parser);
    if (call == NULL || call->finished || conn->dead) {
        if (!conn->dead)
            cconn_kill(conn, true); /* canceled mid-answer: the stream is unusable */
        return;
    }
    if (conn->message_done) {
        http_parser_pause(&conn->parser, 0);
        /* A body still streaming when the answer came leaves the stream mid-request. */
        bool reusable = conn->keep_alive && parsed == size &&
                        (!call->body_streaming || (call->body_ended && call->wire.size == 0));
        const char *why = NULL;
        if (call->gzip && !gunzip_body(call, conn->client->body_size_max, &why)) {
            cconn_kill(conn, true);
            call_fail(call, DR_EPROTO, "%s", why);
            return;
        }
        call_finish(call, NULL);
        if (conn->dead)
            return;
        if (reusable) {
            conn->state = CC_IDLE;
            conn->reused = true;
        } else {
            cconn_kill(conn, false);
        }
        return;
    }
    if (e != HPE_OK) {
        dr_err fail = conn->fail;
        cconn_kill(conn, true);
        if (fail.code != DR_OK)
            call_fail(call, fail.code, "%s", fail.msg);
        else
            call_fail(call, DR_EPROTO, "malformed response: %s", http_errno_description(e));
    }
}

static void cconn_connected(dr_env *env, dr_stream *stream, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(stream);
    cconn *conn = ctx;
    dr_http_client *client = conn->client;
    if (conn->dead)
        return;
    client_enter(client);
    if (conn->call != NULL) {
        dr_http_call *call = conn->call;
        cconn_start_call(conn);
        call_pump_body(call); /* no-op if start failed: the call has no connection */
    } else {
        conn->state = CC_IDLE; /* its call went away meanwhile */
        client_kick(client);
    }
    client_leave(client);
}

static void cconn_data(dr_env *env, dr_stream *stream, const uint8_t *data, size_t size,
                       void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(stream);
    cconn *conn = ctx;
    dr_http_client *client = conn->client;
    if (conn->dead)
        return;
    client_enter(client);
    if (conn->call == NULL) {
        /* Bytes nobody asked for: the connection is out of step. */
        cconn_kill(conn, true);
    } else {
        size_t n = http_parser_execute(&conn->parser, &response_settings, (const char *)data, size);
        cconn_after_parse(conn, n, size);
    }
    client_kick(client);
    client_leave(client);
}

static void cconn_closed(dr_env *env, dr_stream *stream, const dr_err *why, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(stream);
    cconn *conn = ctx;
    dr_http_client *client = conn->client;
    if (conn->dead)
        return;
    client_enter(client);
    dr_http_call *call = conn->call;
    bool got_bytes = conn->parser.nread > 0 || conn->parser.status_code != 0;
    if (call != NULL && conn->state == CC_BUSY && why->code == DR_OK) {
        /* End of stream may complete an answer framed by the close. */
        size_t n = http_parser_execute(&conn->parser, &response_settings, NULL, 0);
        cconn_after_parse(conn, n, 0);
        call = conn->dead ? NULL : conn->call;
        if (call != NULL && conn->message_done)
            call = NULL;
    }
    if (!conn->dead) {
        bool retry = call != NULL && !call->finished && conn->reused && !got_bytes &&
                     call->attempt_count < 2 && !call->body_streaming;
        cconn_kill(conn, false);
        if (call != NULL && !call->finished) {
            if (retry) {
                /* The server dropped an idle keep-alive connection as we used it. */
                call->queued = true;
                call->next = client->queue_head;
                client->queue_head = call;
                if (client->queue_tail == NULL)
                    client->queue_tail = call;
                client->queued_count++;
            } else if (why->code == DR_OK) {
                call_fail(call, DR_ECONNRESET, "connection closed before the answer was complete");
            } else {
                call_fail(call, why->code, "%s", why->msg);
            }
        }
    }
    client_kick(client);
    client_leave(client);
}

static void cconn_drained(dr_env *env, dr_stream *stream, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(stream);
    cconn *conn = ctx;
    if (conn->dead || conn->call == NULL)
        return;
    dr_http_client *client = conn->client;
    client_enter(client);
    call_pump_body(conn->call);
    client_leave(client);
}

static const dr_stream_cbs cconn_cbs = {
    .connected = cconn_connected,
    .drained = cconn_drained,
    .data = cconn_data,
    .closed = cconn_closed,
};
