/* src/http/server.c — HTTP/1.1 server over env streams. See server.h.
 *
 * A connection is a state machine fed by stream callbacks and timers:
 *
 *   bytes -> conn->in -> http-parser -> request in a response slot -> handler
 *                                                   |
 *   stream <- flush() <- head slot's out buffer <---+ (send / stream writes)
 *
 * Each request gets a response slot appended to the connection's queue at the
 * end of its headers (so a `100 Continue` and error answers keep their place).
 * Only the head slot's bytes go to the stream; a later slot that is answered
 * first keeps its bytes until it becomes head. That is what keeps pipelined
 * responses in request order with asynchronous handlers.
 *
 * Bounds: at most DR_HTTP_PIPELINE_COUNT_MAX slots per connection and no
 * parsing while the stream pushes back (DR_EAGAIN): the connection pauses its
 * stream instead of buffering. Streaming responses are cut off (abort) once
 * the bytes not yet taken by the client pass the stream queue bound.
 *
 * Lifetimes: a slot is referenced by its connection's queue and by the handler
 * that holds it; it is freed when both let go. A connection is freed only when
 * no callback of ours is on the stack for it (conn->busy).
 */
#include "server.h"

#include <http_parser.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "recordio.h"

#define DEFAULT_IDLE_TIMEOUT_NS (60 * DR_NS_PER_S)
#define DEFAULT_REQUEST_TIMEOUT_NS (30 * DR_NS_PER_S)

typedef struct conn conn;
typedef struct route route;

typedef enum slot_state {
    SLOT_RECEIVING, /* headers in, body coming */
    SLOT_HANDLING,  /* request complete, the handler has not answered */
    SLOT_STREAMING, /* stream_start called, stream not ended */
    SLOT_DONE,      /* every byte of the answer is in out (or was written) */
} slot_state;

struct dr_http_response {
    conn *conn; /* NULL once detached (client gone or server destroyed) */
    dr_http_response *next;
    slot_state state;
    bool in_queue;       /* referenced by conn's queue */
    bool handler_holds;  /* referenced by a handler, until it finishes */
    bool close_after;    /* close the connection once this answer is out */
    bool chunked;        /* streaming with chunked framing (HTTP/1.1) */
    bool head_method;    /* HEAD: headers only */
    bool keep_alive_1_0; /* HTTP/1.0 with keep-alive: say so */
    bool continue_due;   /* Expect: 100-continue not yet answered */
    bool gzip_ok;        /* the request's Accept-Encoding allows gzip */
    dr_buf out;          /* answer bytes not yet given to the stream */
    dr_http_headers extra; /* headers added by the handler */
    dr_http_gone_fn *gone_fn;
    void *gone_ctx;
    /* Routing, resolved when the headers are in. */
    const route *route;    /* NULL: no route (404) or resolve_err */
    dr_err resolve_err;    /* code != DR_OK: answer 400 with it */
    bool stream_body;      /* a streaming route: the body goes to body_fn */
    dr_http_body_fn *body_fn;
    void *body_ctx;
    /* The request, owned here. */
    dr_http_request req;
    char *target;
    char *full_path;
    dr_buf body;
    char peer[64];
};

struct route {
    char *path;
    size_t path_size;
    bool prefix;
    bool streaming; /* handler runs at the end of the headers; body piece by piece */
    dr_http_handler_fn *fn;
    void *ctx;
};

struct conn {
    dr_http_server *server;
    dr_stream *stream;
    conn *prev, *next;
    char peer[64];
    http_parser parser;
    dr_buf in; /* received, not yet parsed */
    /* The request being parsed. */
    bool in_message;
    dr_buf url;
    dr_buf field;
    dr_buf value;
    bool last_was_value;
    size_t header_size;
    size_t header_line_count;
    dr_http_headers headers;
    dr_http_response *current; /* slot of the request whose body is coming */
    dr_http_response *ready;   /* complete request, to dispatch after execute */
    int fail_status;           /* set by a parser callback that rejects */
    char fail_msg[200];
    /* The answers, in request order. */
    dr_http_response *head, *tail;
    size_t slot_count;
    bool input_done;    /* parse nothing more (error, close, shutdown) */
    bool write_blocked; /* the stream said DR_EAGAIN; waiting for drained */
    bool paused;        /* we paused the stream */
    bool dead;          /* stream gone or being closed */
    bool pumping;       /* conn_pump is on the stack (handlers answer inside it) */
    int busy;           /* our frames on the stack for this conn */
    dr_timer_id idle_timer;
    dr_timer_id request_timer;
    dr_timer_id body_timer; /* a body under way made no progress for the idle timeout */
    uint64_t body_progress_ns;
};

struct dr_http_server {
    dr_env *env;
    dr_listener *listener;
    uint64_t idle_timeout_ns;
    uint64_t request_timeout_ns;
    size_t body_size_max;
    size_t stream_queue_size_max;
    char *prefixes[DR_HTTP_PREFIX_COUNT_MAX];
    size_t prefix_count;
    route routes[DR_HTTP_ROUTE_COUNT_MAX];
    size_t route_count;
    conn *conns_head, *conns_tail; /* in accept order */
    size_t conn_count;
    bool shutting_down;
    dr_http_done_fn *done_fn;
    void *done_ctx;
    dr_timer_id done_timer;
};

static const dr_stream_cbs conn_cbs;
static const http_parser_settings parser_settings;

static void conn_flush(conn *c);
static void conn_pump(conn *c);
static void conn_kill(conn *c, bool abort);
static void conn_enter(conn *c);
static void conn_leave(conn *c);
static void conn_reject(conn *c, int status, const char *msg);
static void slot_release_queue(dr_http_response *res);
static void check_shutdown_done(dr_http_server *server);
static void slot_resolve(const dr_http_server *server, dr_http_response *res);

/* ---- server ------------------------------------------------------------------ */

static void accept_fire(dr_env *env, dr_listener *listener, dr_stream *stream, void *ctx)
{
    DR_UNUSED(listener);
    dr_http_server *server = ctx;
    if (server->shutting_down || server->conn_count >= DR_HTTP_SERVER_CONN_COUNT_MAX) {
        char peer[64];
        dr_env_stream_peer(env, stream, peer, sizeof peer);
        DR_WARN(env, "http: refusing connection from %s: %s", peer,
                server->shutting_down ? "shutting down" : "too many connections");
        dr_env_stream_close(env, stream);
        return;
    }
    dr_http_server_adopt(server, stream);
}

dr_code dr_http_server_create(dr_env *env, const dr_http_server_opts *opts, dr_http_server **out,
                              dr_err *err)
{
    DR_ASSERT(env != NULL);
    DR_ASSERT(opts != NULL);
    if (opts->strip_prefix_count > DR_HTTP_PREFIX_COUNT_MAX)
        return dr_err_set(err, DR_EINVAL, "http server: %zu strip prefixes, at most %u",
                          opts->strip_prefix_count, DR_HTTP_PREFIX_COUNT_MAX);
    if (opts->body_size_max > DR_HTTP_BODY_SIZE_MAX)
        return dr_err_set(err, DR_EINVAL, "http server: body_size_max %zu above %u",
                          opts->body_size_max, DR_HTTP_BODY_SIZE_MAX);
    if (opts->stream_queue_size_max > DR_HTTP_STREAM_QUEUE_SIZE_MAX)
        return dr_err_set(err, DR_EINVAL, "http server: stream_queue_size_max %zu above %u",
                          opts->stream_queue_size_max, DR_HTTP_STREAM_QUEUE_SIZE_MAX);
    for (size_t i = 0; i < opts->strip_prefix_count; i++) {
        const char *p = opts->strip_prefixes[i];
        size_t n = strlen(p);
        if (n < 2 || p[0] != '/' || p[n - 1] == '/')
            return dr_err_set(err, DR_EINVAL,
                              "http server: strip prefix '%s': expected '/name' without a "
                              "trailing '/'",
                              p);
    }
    dr_http_server *s = dr_alloc(sizeof *s);
    s->env = env;
    s->idle_timeout_ns = opts->idle_timeout_ns ? opts->idle_timeout_ns : DEFAULT_IDLE_TIMEOUT_NS;
    s->request_timeout_ns =
        opts->request_timeout_ns ? opts->request_timeout_ns : DEFAULT_REQUEST_TIMEOUT_NS;
    s->body_size_max = opts->body_size_max ? opts->body_size_max : DR_HTTP_BODY_SIZE_MAX;
    s->stream_queue_size_max =
        opts->stream_queue_size_max ? opts->stream_queue_size_max : DR_HTTP_STREAM_QUEUE_SIZE_MAX;
    for (size_t i = 0; i < opts->strip_prefix_count; i++)
        s->prefixes[s->prefix_count++] = dr_strdup(opts->strip_prefixes[i]);
    if (opts->host != NULL) {
        dr_code rc = dr_env_listen(env, opts->host, opts->port, accept_fire, s, &s->listener, err);
        if (rc != DR_OK) {
            dr_err_wrap(err, "http server on %s:%u", opts->host, (unsigned)opts->port);
            for (size_t i = 0; i < s->prefix_count; i++)
                dr_free(s->prefixes[i]);
            dr_free(s);
            return rc;
        }
    }
    *out = s;
    return DR_OK;
}

uint16_t dr_http_server_port(const dr_http_server *server)
{
    if (server->listener == NULL)
        return 0;
    return dr_env_listener_port(server->env, server->listener);
}

size_t dr_http_server_conn_count(const dr_http_server *server) { return server->conn_count; }

static dr_code route_add(dr_http_server *server, const char *path, bool prefix, bool streaming,
                         dr_http_handler_fn *fn, void *ctx, dr_err *err)
{
    DR_ASSERT(fn != NULL);
    if (path[0] != '/')
        return dr_err_set(err, DR_EINVAL, "route '%s': must start with '/'", path);
    for (size_t i = 0; i < server->route_count; i++) {
        if (server->routes[i].prefix == prefix && strcmp(server->routes[i].path, path) == 0)
            return dr_err_set(err, DR_EEXIST, "route '%s'%s: already registered", path,
                              prefix ? " (prefix)" : "");
    }
    if (server->route_count == DR_HTTP_ROUTE_COUNT_MAX)
        return dr_err_set(err, DR_ETOOBIG, "route '%s': more than %u routes", path,
                          DR_HTTP_ROUTE_COUNT_MAX);
    route *r = &server->routes[server->route_count++];
    r->path = dr_strdup(path);
    r->path_size = strlen(path);
    /* "/files/" as a prefix behaves like "/files". */
    while (r->prefix && r->path_size > 1 && r->path[r->path_size - 1] == '/')
        r->path_size--;
    r->prefix = prefix;
    r->streaming = streaming;
    r->fn = fn;
    r->ctx = ctx;
    return DR_OK;
}

dr_code dr_http_server_route(dr_http_server *server, const char *path, bool prefix,
                             dr_http_handler_fn *fn, void *ctx, dr_err *err)
{
    return route_add(server, path, prefix, false, fn, ctx, err);
}

dr_code dr_http_server_route_streaming(dr_http_server *server, const char *path, bool prefix,
                                       dr_http_handler_fn *fn, void *ctx, dr_err *err)
{
    return route_add(server, path, prefix, true, fn, ctx, err);
}

void dr_http_response_read_body(dr_http_response *res, dr_http_body_fn *fn, void *ctx)
{
    DR_ASSERT(res->handler_holds);
    DR_ASSERT(res->stream_body);
    DR_ASSERT(res->body_fn == NULL);
    res->body_fn = fn;
    res->body_ctx = ctx;
    conn *c = res->conn;
    if (res->continue_due && c != NULL) { /* the client waits for 100 Continue */
        conn_enter(c);
        conn_flush(c);
        conn_leave(c);
    }
}

static const route *route_find(const dr_http_server *server, const char *path)
{
    const route *best = NULL;
    size_t path_size = strlen(path);
    for (size_t i = 0; i < server->route_count; i++) {
        const route *r = &server->routes[i];
        if (!r->prefix) {
            if (strcmp(r->path, path) == 0)
                return r;
            continue;
        }
        bool match = path_size >= r->path_size && memcmp(path, r->path, r->path_size) == 0 &&
                     (path_size == r->path_size || path[r->path_size] == '/' ||
                      r->path_size == 1);
        if (match && (best == NULL || r->path_size > best->path_size))
            best = r;
    }
    return best;
}

void dr_http_server_destroy(dr_http_server *server)
{
    if (server == NULL)
        return;
    if (server->listener != NULL)
        dr_env_listener_close(server->env, server->listener);
    server->done_fn = NULL;
    if (server->done_timer != 0)
        dr_env_timer_cancel(server->env, server->done_timer);
    while (server->conns_head != NULL) {
        conn *c = server->conns_head;
        DR_ASSERT(c->busy == 0); /* not from inside a handler */
        for (dr_http_response *res = c->head; res != NULL; res = res->next)
            res->gone_fn = NULL; /* destroy calls nothing back */
        conn_kill(c, true);
    }
    for (size_t i = 0; i < server->route_count; i++)
        dr_free(server->routes[i].path);
    for (size_t i = 0; i < server->prefix_count; i++)
        dr_free(server->prefixes[i]);
    dr_free(server);
}

void dr_http_server_forget(dr_http_server *server)
{
    if (server == NULL)
        return;
    /* No env call: the listener, the streams and the timers are the env's,
     * already discarded with the crashed process. Slots handlers hold are
     * detached as destroy does, so finishing them later only frees. */
    while (server->conns_head != NULL) {
        conn *c = server->conns_head;
        DR_ASSERT(c->busy == 0); /* not from inside a handler */
        server->conns_head = c->next;
        dr_http_response *res = c->head;
        while (res != NULL) {
            dr_http_response *next = res->next;
            res->next = NULL;
            res->conn = NULL;
            slot_release_queue(res);
            res = next;
        }
        dr_buf_deinit(&c->in);
        dr_buf_deinit(&c->url);
        dr_buf_deinit(&c->field);
        dr_buf_deinit(&c->value);
        dr_http_headers_deinit(&c->headers);
        dr_free(c);
    }
    for (size_t i = 0; i < server->route_count; i++)
        dr_free(server->routes[i].path);
    for (size_t i = 0; i < server->prefix_count; i++)
        dr_free(server->prefixes[i]);
    dr_free(server);
}

static void shutdown_done_fire(dr_env *env, void *ctx)
{
    dr_http_server *server = ctx;
    server->done_timer = 0;
    dr_http_done_fn *fn = server->done_fn;
    server->done_fn = NULL;
    if (fn != NULL)
        fn(env, server->done_ctx);
}

static void check_shutdown_done(dr_http_server *server)
{
    if (!server->shutting_down || server->conn_count > 0 || server->done_timer != 0 ||
        server->done_fn == NULL)
        return;
    server->done_timer = dr_env_timer_add(server->env, 0, shutdown_done_fire, server);
}

void dr_http_server_shutdown(dr_http_server *server, dr_http_done_fn *done, void *ctx)
{
    DR_ASSERT(!server->shutting_down);
    server->shutting_down = true;
    server->done_fn = done;
    server->done_ctx = ctx;
    if (server->listener != NULL) {
        dr_env_listener_close(server->env, server->listener);
        server->listener = NULL;
    }
    /* Walk in accept order; closing may unlink the connection we stand on. */
    conn *c = server->conns_head;
    while (c != NULL) {
        conn *next = c->next;
        conn_enter(c);
        if (c->current != NULL)
            conn_reject(c, 503, "server shutting down: request body not read");
        c->input_done = true;
        if (c->tail != NULL)
            c->tail->close_after = true;
        conn_flush(c); /* an idle connection closes here */
        if (!c->dead && c->head == NULL)
            conn_kill(c, false);
        conn_leave(c);
        c = next;
    }
    check_shutdown_done(server);
}

/* ---- connections -------------------------------------------------------- */

static void idle_fire(dr_env *env, void *ctx);
static void request_fire(dr_env *env, void *ctx);
static void body_fire(dr_env *env, void *ctx);

void dr_http_server_adopt(dr_http_server *server, dr_stream *stream)
{
    conn *c = dr_alloc(sizeof *c);
    c->server = server;
    c->stream = stream;
    dr_env_stream_peer(server->env, stream, c->peer, sizeof c->peer);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    dr_buf_init(&c->in);
    dr_buf_init(&c->url);
    dr_buf_init(&c->field);
    dr_buf_init(&c->value);
    dr_http_headers_init(&c->headers);
    c->prev = server->conns_tail;
    if (server->conns_tail != NULL)
        server->conns_tail->next = c;
    else
        server->conns_head = c;
    server->conns_tail = c;
    server->conn_count++;
    dr_env_stream_set_cbs(server->env, stream, &conn_cbs, c);
    c->idle_timer = dr_env_timer_add(server->env, server->idle_timeout_ns, idle_fire, c);
}

static void conn_free(conn *c)
{
    DR_ASSERT(c->dead);
    DR_ASSERT(c->busy == 0);
    DR_ASSERT(c->head == NULL);
    dr_http_server *server = c->server;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        server->conns_head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        server->conns_tail = c->prev;
    DR_ASSERT(server->conn_count > 0);
    server->conn_count--;
    dr_buf_deinit(&c->in);
    dr_buf_deinit(&c->url);
    dr_buf_deinit(&c->field);
    dr_buf_deinit(&c->value);
    dr_http_headers_deinit(&c->headers);
    dr_free(c);
    check_shutdown_done(server);
}

static void conn_enter(conn *c) { c->busy++; }

static void conn_leave(conn *c)
{
    DR_ASSERT(c->busy > 0);
    c->busy--;
    if (c->busy == 0 && c->dead)
        conn_free(c);
}

static void cancel_timers(conn *c)
{
    dr_env *env = c->server->env;
    if (c->idle_timer != 0)
        dr_env_timer_cancel(env, c->idle_timer);
    if (c->request_timer != 0)
        dr_env_timer_cancel(env, c->request_timer);
    if (c->body_timer != 0)
        dr_env_timer_cancel(env, c->body_timer);
    c->idle_timer = 0;
    c->request_timer = 0;
    c->body_timer = 0;
}

/* Ends the connection: closes (flushing the stream's queue) or aborts it,
 * detaches every slot and tells handlers still holding one. Frees c unless
 * one of our frames is on the stack for it. */
static void conn_kill(conn *c, bool abort)
{
    if (c->dead)
        return;
    dr_env *env = c->server->env;
    c->dead = true;
    c->input_done = true;
    cancel_timers(c);
    if (abort)
        dr_env_stream_abort(env, c->stream);
    else
        dr_env_stream_close(env, c->stream);
    c->stream = NULL;
    if (c->current != NULL && !c->current->in_queue)
        c->current = NULL;
    /* Detach every slot first, then call back: a callback may finish its slot. */
    dr_http_response *gone = NULL;
    dr_http_response **gone_tail = &gone;
    dr_http_response *res = c->head;
    c->head = c->tail = NULL;
    c->slot_count = 0;
    c->current = NULL;
    c->ready = NULL;
    while (res != NULL) {
        dr_http_response *next = res->next;
        res->next = NULL;
        res->conn = NULL;
        if (res->handler_holds && res->gone_fn != NULL) {
            *gone_tail = res;
            gone_tail = &res->next;
        }
        slot_release_queue(res);
        res = next;
    }
    conn_enter(c);
    while (gone != NULL) {
        dr_http_response *next = gone->next;
        gone->next = NULL;
        dr_http_gone_fn *fn = gone->gone_fn;
        gone->gone_fn = NULL;
        fn(env, gone, gone->gone_ctx);
        gone = next;
    }
    conn_leave(c);
}

/* ---- slots ---------------------------------------------------------------- */

static void slot_free(dr_http_response *res)
{
    DR_ASSERT(!res->in_queue);
    DR_ASSERT(!res->handler_holds);
    dr_buf_deinit(&res->out);
    dr_http_headers_deinit(&res->extra);
    dr_http_params_deinit(&res->req.query);
    dr_http_headers_deinit(&res->req.headers);
    dr_free(res->target);
    dr_free(res->full_path);
    dr_buf_deinit(&res->body);
    dr_free(res);
}

static void slot_release_queue(dr_http_response *res)
{
    res->in_queue = false;
    if (!res->handler_holds)
        slot_free(res);
}

static void slot_release_handler(dr_http_response *res)
{
    DR_ASSERT(res->handler_holds);
    res->handler_holds = false;
    if (!res->in_queue)
        slot_free(res);
}

static dr_http_response *slot_append(conn *c)
{
    dr_http_response *res = dr_alloc(sizeof *res);
    res->conn = c;
    res->in_queue = true;
    res->state = SLOT_RECEIVING;
    dr_buf_init(&res->out);
    dr_buf_init(&res->body);
    dr_http_headers_init(&res->extra);
    dr_http_headers_init(&res->req.headers);
    memcpy(res->peer, c->peer, sizeof res->peer);
    res->req.peer = res->peer;
    res->req.method = "";
    res->req.target = "";
    res->req.full_path = "";
    res->req.path = "";
    res->req.body = (const uint8_t *)"";
    res->req.version_minor = 1;
    if (c->tail != NULL)
        c->tail->next = res;
    else
        c->head = res;
    c->tail = res;
    c->slot_count++;
    if (c->idle_timer != 0) {
        dr_env_timer_cancel(c->server->env, c->idle_timer);
        c->idle_timer = 0;
    }
    return res;
}

/* Writes the status line and headers into res->out. */
static void write_head(dr_http_response *res, int status, const char *content_type,
                       const char *framing)
{
    dr_buf *o = &res->out;
    DR_ASSERT(status >= 100 && status <= 999);
    dr_buf_append_str(o, "HTTP/1.1 ");
    dr_buf_append_uint(o, (uint64_t)status, 10);
    dr_buf_append(o, " ", 1);
    dr_buf_append_str(o, dr_http_status_text(status));
    dr_buf_append(o, "\r\n", 2);
    for (size_t i = 0; i < res->extra.count; i++) {
        dr_buf_append_str(o, res->extra.items[i].name);
        dr_buf_append(o, ": ", 2);
        dr_buf_append_str(o, res->extra.items[i].value);
        dr_buf_append(o, "\r\n", 2);
    }
    if (content_type != NULL) {
        dr_buf_append_str(o, "Content-Type: ");
        dr_buf_append_str(o, content_type);
        dr_buf_append(o, "\r\n", 2);
    }
    if (framing != NULL)
        dr_buf_append_str(o, framing);
    if (res->close_after)
        dr_buf_append_str(o, "Connection: close\r\n");
    else if (res->keep_alive_1_0)
        dr_buf_append_str(o, "Connection: keep-alive\r\n");
    dr_buf_append_str(o, "\r\n");
}

/* Compresses data into *out as a gzip member; false if it fails or does not
 * shrink the body. */
static bool gzip_body(const void *data, size_t size, dr_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return false;
    uLong bound = deflateBound(&z, (uLong)size);
    dr_buf_reserve(out, bound);
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)size;
    z.next_out = out->data + out->size;
    z.avail_out = (uInt)bound;
    int zrc = deflate(&z, Z_FINISH);
    size_t produced = bound - z.avail_out;
    deflateEnd(&z);
    if (zrc != Z_STREAM_END || produced >= size)
        return false;
    out->size += produced;
    return true;
}

void dr_http_response_header(dr_http_response *res, const char *name, const char *value)
{
    DR_ASSERT(res->handler_holds);
    DR_ASSERT(res->state == SLOT_HANDLING);
    dr_http_headers_add(&res->extra, name, value);
}

void dr_http_response_on_gone(dr_http_response *res, dr_http_gone_fn *fn, void *ctx)
{
    DR_ASSERT(res->handler_holds);
    res->gone_fn = fn;
    res->gone_ctx = ctx;
}

bool dr_http_response_alive(const dr_http_response *res) { return res->conn != NULL; }

/* Fills res->out with a complete answer and marks it done (no I/O). */
static void slot_complete(dr_http_response *res, int status, const char *content_type,
                          const void *body, size_t size)
{
    DR_ASSERT(res->state == SLOT_RECEIVING || res->state == SLOT_HANDLING);
    DR_ASSERT(status >= 200 && status <= 999);
    bool no_body = status == 204 || status == 304;
    dr_buf packed;
    dr_buf_init(&packed);
    if (!no_body && res->gzip_ok && size >= DR_HTTP_GZIP_SIZE_MIN &&
        dr_http_headers_get(&res->extra, "Content-Encoding") == NULL &&
        gzip_body(body, size, &packed)) {
        dr_http_headers_add(&res->extra, "Content-Encoding", "gzip");
        dr_http_headers_add(&res->extra, "Vary", "Accept-Encoding");
        body = packed.data;
        size = packed.size;
    }
    /* "Content-Length: N\r\n" without printf: one per response. */
    char framing[64] = "Content-Length: ";
    size_t at = strlen(framing);
    char digits[24];
    size_t n = 0;
    size_t rest = size;
    do {
        digits[n++] = (char)('0' + rest % 10);
        rest /= 10;
    } while (rest > 0);
    while (n > 0)
        framing[at++] = digits[--n];
    memcpy(framing + at, "\r\n", 3);
    /* The head and the body in one allocation. */
    dr_buf_reserve(&res->out, 256 + (no_body || res->head_method ? 0 : size));
    write_head(res, status, content_type, no_body ? NULL : framing);
    if (!no_body && !res->head_method && size > 0)
        dr_buf_append(&res->out, body, size);
    dr_buf_deinit(&packed);
    res->continue_due = false;
    res->state = SLOT_DONE;
}

void dr_http_response_send(dr_http_response *res, int status, const char *content_type,
                           const void *body, size_t size)
{
    DR_ASSERT(res->handler_holds);
    DR_ASSERT(res->state == SLOT_HANDLING);
    DR_ASSERT(body != NULL || size == 0);
    conn *c = res->conn;
    if (c == NULL) {
        slot_release_handler(res);
        return;
    }
    slot_complete(res, status, content_type, body, size);
    conn_enter(c);
    slot_release_handler(res);
    conn_flush(c);
    conn_pump(c); /* a full pipeline may have room now */
    conn_leave(c);
}

void dr_http_response_error(dr_http_response *res, int status, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text - 1, fmt, ap);
    va_end(ap);
    size_t size = n < 0 ? 0 : DR_MIN((size_t)n, sizeof text - 2);
    text[size++] = '\n';
    text[size] = '\0';
    dr_http_response_send(res, status, "text/plain; charset=utf-8", text, size);
}

void dr_http_response_fail(dr_http_response *res, const dr_err *err)
{
    DR_ASSERT(err->code != DR_OK);
    dr_http_response_error(res, dr_http_status_of(err->code), "%s", err->msg);
}

void dr_http_response_stream_start(dr_http_response *res, int status, const char *content_type)
{
    DR_ASSERT(res->handler_holds);
    DR_ASSERT(res->state == SLOT_HANDLING);
    DR_ASSERT(status >= 200 && status <= 999);
    res->state = SLOT_STREAMING;
    conn *c = res->conn;
    if (c == NULL)
        return;
    /* HTTP/1.0 has no chunked framing: the end of the stream is the close. */
    res->chunked = res->req.version_minor >= 1;
    if (!res->chunked) {
        res->close_after = true;
        res->keep_alive_1_0 = false;
    }
    write_head(res, status, content_type,
               res->chunked && !res->head_method ? "Transfer-Encoding: chunked\r\n" : NULL);
    conn_enter(c);
    conn_flush(c);
    conn_leave(c);
}

static size_t conn_unsent_size(const conn *c)
{
    size_t total = 0;
    for (const dr_http_response *r = c->head; r != NULL; r = r->next)
        total += r->out.size;
    return total + dr_env_stream_queued(c->server->env, c->stream);
}

static dr_code stream_append(dr_http_response *res, const void *data, size_t size, bool record,
                             dr_err *err)
{
    DR_ASSERT(res->handler_holds);
    DR_ASSERT(res->state == SLOT_STREAMING);
    DR_ASSERT(data != NULL || size == 0);
    conn *c = res->conn;
    if (c == NULL)
        return dr_err_set(err, DR_ECLOSED, "http stream to %s: the client is gone", res->peer);
    if (res->head_method || (size == 0 && !record))
        return DR_OK; /* an empty chunk would end the stream */
    if (res->chunked) {
        size_t framed = size;
        if (record) {
            size_t digits = 1;
            for (size_t v = size; v >= 10; v /= 10)
                digits++;
            framed += digits + 1; /* "<size>\n" */
        }
        dr_buf_append_uint(&res->out, framed, 16);
        dr_buf_append(&res->out, "\r\n", 2);
    }
    if (record)
        dr_recordio_encode(&res->out, data, size);
    else
        dr_buf_append(&res->out, data, size);
    if (res->chunked)
        dr_buf_append_str(&res->out, "\r\n");
    /* A failed flush runs the gone callbacks, whose handler may finish (and
     * free) res: from here on only the copies below and c are used. */
    char peer[sizeof res->peer];
    memcpy(peer, res->peer, sizeof peer);
    conn_enter(c);
    conn_flush(c);
    dr_code rc = DR_OK;
    if (!c->dead) {
        size_t unsent = conn_unsent_size(c);
        if (unsent > c->server->stream_queue_size_max) {
            rc = dr_err_set(err, DR_ETOOBIG,
                            "http stream to %s: client not reading, %zu bytes queued (max %zu); "
                            "connection cut off",
                            peer, unsent, c->server->stream_queue_size_max);
            DR_WARN(c->server->env, "%s", err != NULL ? err->msg : "http: slow reader cut off");
            conn_kill(c, true);
        }
    } else {
        rc = dr_err_set(err, DR_ECLOSED, "http stream to %s: the client is gone", peer);
    }
    conn_leave(c);
    return rc;
}

dr_code dr_http_response_stream_write(dr_http_response *res, const void *data, size_t size,
                                      dr_err *err)
{
    return stream_append(res, data, size, false, err);
}

dr_code dr_http_response_stream_record(dr_http_response *res, const void *data, size_t size,
                                       dr_err *err)
{
    return stream_append(res, data, size, true, err);
}

void dr_http_response_stream_end(dr_http_response *res)
{
    DR_ASSERT(res->handler_holds);
    DR_ASSERT(res->state == SLOT_STREAMING);
    conn *c = res->conn;
    res->state = SLOT_DONE;
    if (c == NULL) {
        slot_release_handler(res);
        return;
    }
    if (res->chunked && !res->head_method)
        dr_buf_append_str(&res->out, "0\r\n\r\n");
    conn_enter(c);
    slot_release_handler(res);
    conn_flush(c);
    conn_pump(c);
    conn_leave(c);
}

void dr_http_echo_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                          void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(ctx);
    char text[DR_HTTP_URL_SIZE_MAX + 64];
    int n = snprintf(text, sizeof text, "%s %s %zu\n", req->method, req->path, req->body_size);
    dr_http_response_send(res, 200, "text/plain", text,
                          n < 0 ? 0 : DR_MIN((size_t)n, sizeof text - 1));
}

/* ---- output ---------------------------------------------------------------- */

static void arm_idle(conn *c)
{
    if (c->dead || c->idle_timer != 0 || c->head != NULL || c->in_message)
        return;
    c->idle_timer = dr_env_timer_add(c->server->env, c->server->idle_timeout_ns, idle_fire, c);
}

/* Moves the head slot's bytes to the stream, pops finished slots, closes the
 * connection after a closing answer. Call inside conn_enter/leave. */
static void conn_flush(conn *c)
{
    dr_env *env = c->server->env;
    while (!c->dead && !c->write_blocked && c->head != NULL) {
        dr_http_response *res = c->head;
        /* 100 Continue once the body is wanted: while it is buffered for the
         * handler, or once a streaming handler asked to read it. */
        if (res->continue_due &&
            (res->state == SLOT_RECEIVING || (res->stream_body && res->body_fn != NULL))) {
            dr_buf_append_str(&res->out, "HTTP/1.1 100 Continue\r\n\r\n");
            res->continue_due = false;
        }
        if (res->out.size > 0) {
            dr_err err;
            dr_code rc = dr_env_stream_write(env, c->stream, res->out.data, res->out.size, &err);
            if (rc == DR_EAGAIN) {
                c->write_blocked = true;
                break;
            }
            if (rc != DR_OK) {
                DR_DEBUG(env, "http: writing to %s: %s", c->peer, err.msg);
                conn_kill(c, true);
                return;
            }
            dr_buf_reset(&res->out);
        }
        if (res->state != SLOT_DONE || res == c->current)
            break; /* not answered yet, or its (streaming) request body still arrives */
        bool close = res->close_after;
        c->head = res->next;
        if (c->head == NULL)
            c->tail = NULL;
        c->slot_count--;
        res->next = NULL;
        res->conn = NULL;
        if (c->current == res)
            c->current = NULL;
        slot_release_queue(res);
        if (close) {
            conn_kill(c, false);
            return;
        }
    }
    if (!c->dead && c->head == NULL && c->input_done && !c->in_message) {
        conn_kill(c, false); /* nothing more will come or go */
        return;
    }
    arm_idle(c);
}

/* Queues an error answer for a request that could not be read and stops
 * reading: the connection closes once the answer is out. */
static void conn_reject(conn *c, int status, const char *msg)
{
    if (c->dead)
        return;
    dr_http_response *res = c->current;
    if (res != NULL && res->stream_body && res->handler_holds) {
        /* A streaming body broke while its handler waits for the end, which
         * will not come: an error queued behind that handler's answer would
         * never leave. Cut the client off; the handler hears of it through
         * on_gone. */
        DR_DEBUG(c->server->env, "http: %s: %d %s; connection cut off", c->peer, status, msg);
        conn_kill(c, true);
        return;
    }
    if (res == NULL || res->state != SLOT_RECEIVING)
        res = slot_append(c);
    c->current = NULL;
    c->in_message = false;
    if (c->request_timer != 0) {
        dr_env_timer_cancel(c->server->env, c->request_timer);
        c->request_timer = 0;
    }
    if (c->body_timer != 0) {
        dr_env_timer_cancel(c->server->env, c->body_timer);
        c->body_timer = 0;
    }
    res->close_after = true;
    res->keep_alive_1_0 = false;
    res->gzip_ok = false;
    res->head_method = false;
    char text[320];
    int n = snprintf(text, sizeof text, "%s\n", msg);
    slot_complete(res, status, "text/plain; charset=utf-8", text,
                  n < 0 ? 0 : DR_MIN((size_t)n, sizeof text - 1));
    c->input_done = true;
    dr_buf_reset(&c->in);
    DR_DEBUG(c->server->env, "http: %s: %d %s", c->peer, status, msg);
}

/* ---- timers --------------------------------------------------------------- */

static void idle_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    conn *c = ctx;
    DR_ASSERT(c->idle_timer != 0);
    c->idle_timer = 0;
    if (c->head != NULL || c->in_message)
        return;
    conn_enter(c);
    conn_kill(c, false);
    conn_leave(c);
}

/* A body under way stalls: fires idle_timeout after the last body bytes. */
static void body_fire(dr_env *env, void *ctx)
{
    conn *c = ctx;
    DR_ASSERT(c->body_timer != 0);
    c->body_timer = 0;
    if (c->current == NULL)
        return; /* no body under way */
    uint64_t now_ns = dr_env_now(env);
    if (c->current->continue_due || c->paused)
        c->body_progress_ns = now_ns; /* the client waits for us, not we for it */
    uint64_t due_ns = c->body_progress_ns + c->server->idle_timeout_ns;
    if (now_ns < due_ns) {
        c->body_timer = dr_env_timer_add(env, due_ns - now_ns, body_fire, c);
        return;
    }
    conn_enter(c);
    char msg[128];
    snprintf(msg, sizeof msg, "request body made no progress for %llu ms",
             (unsigned long long)(c->server->idle_timeout_ns / DR_NS_PER_MS));
    conn_reject(c, 408, msg);
    conn_flush(c);
    conn_leave(c);
}

static void request_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    conn *c = ctx;
    DR_ASSERT(c->request_timer != 0);
    c->request_timer = 0;
    if (!c->in_message || c->current != NULL)
        return; /* headers are complete */
    conn_enter(c);
    char msg[128];
    snprintf(msg, sizeof msg, "request headers not complete within %llu ms",
             (unsigned long long)(c->server->request_timeout_ns / DR_NS_PER_MS));
    conn_reject(c, 408, msg);
    conn_flush(c);
    conn_leave(c);
}

/* ---- parser callbacks ------------------------------------------------------ */

static int reject_in_parser(conn *c, int status, const char *fmt, ...) DR_PRINTF(3, 4);

static int reject_in_parser(conn *c, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->fail_msg, sizeof c->fail_msg, fmt, ap);
    va_end(ap);
    c->fail_status = status;
    return -1; /* an error for every callback (1 from on_headers_complete means "no body") */
}

static int count_header_bytes(conn *c, size_t size)
{
    c->header_size += size;
    if (c->header_size > DR_HTTP_HEADER_SIZE_MAX)
        return reject_in_parser(c, 431, "request headers larger than %u bytes",
                                DR_HTTP_HEADER_SIZE_MAX);
    return 0;
}

static int on_message_begin(http_parser *p)
{
    conn *c = p->data;
    if (c->dead)
        return -1; /* killed from a callback earlier in this execute */
    DR_ASSERT(!c->in_message);
    c->in_message = true;
    dr_buf_reset(&c->url);
    dr_buf_reset(&c->field);
    dr_buf_reset(&c->value);
    c->last_was_value = false;
    c->header_size = 0;
    c->header_line_count = 0;
    dr_http_headers_deinit(&c->headers);
    if (c->idle_timer != 0) {
        dr_env_timer_cancel(c->server->env, c->idle_timer);
        c->idle_timer = 0;
    }
    DR_ASSERT(c->request_timer == 0);
    c->request_timer =
        dr_env_timer_add(c->server->env, c->server->request_timeout_ns, request_fire, c);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t size)
{
    conn *c = p->data;
    if (c->dead)
        return -1; /* killed from a callback earlier in this execute */
    if (c->url.size + size > DR_HTTP_URL_SIZE_MAX)
        return reject_in_parser(c, 414, "request target longer than %u bytes",
                                DR_HTTP_URL_SIZE_MAX);
    dr_buf_append(&c->url, at, size);
    return count_header_bytes(c, size);
}

static int header_done(conn *c)
{
    if (!c->last_was_value)
        return 0;
    c->last_was_value = false;
    c->header_line_count++;
    if (c->header_line_count > DR_HTTP_HEADER_COUNT_MAX)
        return reject_in_parser(c, 431, "more than %u request header lines",
                                DR_HTTP_HEADER_COUNT_MAX);
    dr_http_headers_addn(&c->headers, (const char *)c->field.data, c->field.size,
                         (const char *)c->value.data, c->value.size);
    dr_buf_reset(&c->field);
    dr_buf_reset(&c->value);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t size)
{
    conn *c = p->data;
    if (c->dead)
        return -1; /* killed from a callback earlier in this execute */
    if (header_done(c) != 0)
        return -1;
    dr_buf_append(&c->field, at, size);
    return count_header_bytes(c, size);
}

static int on_header_value(http_parser *p, const char *at, size_t size)
{
    conn *c = p->data;
    if (c->dead)
        return -1; /* killed from a callback earlier in this execute */
    c->last_was_value = true;
    dr_buf_append(&c->value, at, size);
    return count_header_bytes(c, size);
}

static int on_headers_complete(http_parser *p)
{
    conn *c = p->data;
    if (c->dead)
        return -1; /* killed from a callback earlier in this execute */
    if (header_done(c) != 0)
        return -1;
    if (c->request_timer != 0) {
        dr_env_timer_cancel(c->server->env, c->request_timer);
        c->request_timer = 0;
    }
    dr_http_response *res = slot_append(c);
    c->current = res;
    /* Move the request line and headers into the slot. */
    res->req.headers = c->headers;
    dr_http_headers_init(&c->headers);
    res->target = dr_strndup((const char *)c->url.data, c->url.size);
    res->req.target = res->target;
    res->req.method = http_method_str((enum http_method)p->method);
    res->req.version_minor = p->http_major == 1 ? (int)p->http_minor : 0;
    res->head_method = p->method == HTTP_HEAD;
    res->gzip_ok = dr_http_accepts_gzip(dr_http_headers_get(&res->req.headers, "Accept-Encoding"));
    if (p->http_major != 1)
        return reject_in_parser(c, 505, "HTTP/%u.%u is not supported, only HTTP/1.x",
                                p->http_major, p->http_minor);
    if (p->upgrade)
        return reject_in_parser(c, 501, "protocol upgrade ('%s') is not supported",
                                res->req.method);
    slot_resolve(c->server, res);
    res->stream_body = res->route != NULL && res->route->streaming;
    size_t body_max = res->stream_body ? SIZE_MAX : c->server->body_size_max;
    bool has_length = (p->flags & F_CONTENTLENGTH) != 0;
    const char *expect = dr_http_headers_get(&res->req.headers, "Expect");
    if (expect != NULL && strcasecmp(expect, "100-continue") != 0) {
        char q[160];
        dr_http_quote((const uint8_t *)expect, strlen(expect), q, sizeof q);
        return reject_in_parser(c, 417, "unsupported expectation 'Expect: %s'", q);
    }
    if (has_length && p->content_length > body_max)
        return reject_in_parser(c, 413, "request body of %llu bytes exceeds the limit of %zu",
                                (unsigned long long)p->content_length, body_max);
    if (expect != NULL && (has_length ? p->content_length > 0 : (p->flags & F_CHUNKED) != 0))
        res->continue_due = true;
    if (has_length && !res->stream_body)
        dr_buf_reserve(&res->body, (size_t)p->content_length);
    c->body_progress_ns = dr_env_now(c->server->env);
    DR_ASSERT(c->body_timer == 0);
    c->body_timer = dr_env_timer_add(c->server->env, c->server->idle_timeout_ns, body_fire, c);
    if (res->stream_body) {
        c->ready = res;
        http_parser_pause(p, 1); /* run the handler before the body, outside the parser */
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t size)
{
    conn *c = p->data;
    if (c->dead)
        return -1; /* killed from a callback earlier in this execute */
    dr_http_response *res = c->current;
    DR_ASSERT(res != NULL);
    if (res->stream_body) {
        res->continue_due = false;
        c->body_progress_ns = dr_env_now(c->server->env);
        if (res->handler_holds && res->body_fn != NULL)
            res->body_fn(c->server->env, res, (const uint8_t *)at, size, false, res->body_ctx);
        return 0;
    }
    if (res->body.size + size > c->server->body_size_max)
        return reject_in_parser(c, 413, "request body exceeds the limit of %zu bytes",
                                c->server->body_size_max);
    res->continue_due = false; /* the client did not wait */
    dr_buf_append(&res->body, at, size);
    c->body_progress_ns = dr_env_now(c->server->env);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    conn *c = p->data;
    if (c->dead)
        return -1; /* killed from a callback earlier in this execute */
    dr_http_response *res = c->current;
    DR_ASSERT(res != NULL);
    DR_ASSERT(res->stream_body || res->state == SLOT_RECEIVING);
    c->current = NULL;
    c->in_message = false;
    if (c->body_timer != 0) {
        dr_env_timer_cancel(c->server->env, c->body_timer);
        c->body_timer = 0;
    }
    res->continue_due = false;
    if (!http_should_keep_alive(p)) {
        res->close_after = true;
        c->input_done = true;
    } else if (p->http_minor == 0) {
        res->keep_alive_1_0 = true;
    }
    if (res->stream_body) {
        /* Already dispatched at the end of the headers: just say the body ended. */
        if (res->handler_holds && res->body_fn != NULL)
            res->body_fn(c->server->env, res, (const uint8_t *)"", 0, true, res->body_ctx);
        return 0;
    }
    c->ready = res;
    http_parser_pause(p, 1); /* dispatch outside the parser */
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- dispatch --------------------------------------------------------------- */

/* Decodes the target into path and query and finds the route (at the end of
 * the headers, so streaming routes are known before the body). Failures are
 * kept in res->resolve_err and answered at dispatch. */
static void slot_resolve(const dr_http_server *server, dr_http_response *res)
{
    const char *target = res->target;
    size_t target_size = strlen(target);
    const char *qmark = memchr(target, '?', target_size);
    const char *hash = memchr(target, '#', target_size);
    size_t path_size = qmark != NULL ? (size_t)(qmark - target) : target_size;
    if (hash != NULL && (size_t)(hash - target) < path_size)
        path_size = (size_t)(hash - target);
    dr_err *err = &res->resolve_err;
    dr_code rc = DR_OK;
    if (path_size == 0 || target[0] != '/') {
        char q[160];
        dr_http_quote((const uint8_t *)target, target_size, q, sizeof q);
        rc = dr_err_set(err, DR_EINVAL, "request target '%s': expected an absolute path", q);
    }
    if (rc == DR_OK)
        rc = dr_http_path_decode(target, path_size, &res->full_path, err);
    if (rc == DR_OK && qmark != NULL) {
        const char *q = qmark + 1;
        const char *q_end = hash != NULL && hash > qmark ? hash : target + target_size;
        rc = dr_http_query_parse(q, (size_t)(q_end - q), &res->req.query, err);
    }
    if (rc != DR_OK)
        return;
    res->req.full_path = res->full_path;
    res->req.path = res->full_path;
    const route *r = route_find(server, res->full_path);
    for (size_t i = 0; r == NULL && i < server->prefix_count; i++) {
        size_t n = strlen(server->prefixes[i]);
        if (strncmp(res->full_path, server->prefixes[i], n) == 0 && res->full_path[n] == '/') {
            r = route_find(server, res->full_path + n);
            if (r != NULL)
                res->req.path = res->full_path + n;
        }
    }
    res->route = r;
}

static void dispatch(conn *c, dr_http_response *res)
{
    dr_http_server *server = c->server;
    res->state = SLOT_HANDLING;
    if (!res->stream_body) {
        dr_buf_append(&res->body, "", 1); /* a NUL after the body, not counted */
        res->body.size--;
        res->req.body = res->body.data;
        res->req.body_size = res->body.size;
    }
    res->handler_holds = true; /* from here on, finished like any handler answer */
    if (res->resolve_err.code != DR_OK) {
        dr_http_response_error(res, 400, "%s", res->resolve_err.msg);
        return;
    }
    if (res->route == NULL) {
        char q[160];
        dr_http_quote((const uint8_t *)res->full_path, strlen(res->full_path), q, sizeof q);
        dr_http_response_error(res, 404, "no handler for path '%s'", q);
        return;
    }
    res->route->fn(server->env, &res->req, res, res->route->ctx);
}

/* Parses what is in c->in while the pipeline has room and the stream takes
 * our writes; dispatches each complete request. Call inside enter/leave. */
static void conn_pump(conn *c)
{
    dr_env *env = c->server->env;
    if (c->pumping)
        return; /* a handler answered from inside dispatch: the outer loop goes on */
    c->pumping = true;
    while (!c->dead && !c->input_done && c->in.size > 0) {
        if (c->slot_count >= DR_HTTP_PIPELINE_COUNT_MAX || c->write_blocked)
            break;
        size_t n = http_parser_execute(&c->parser, &parser_settings, (const char *)c->in.data,
                                       c->in.size);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (c->dead)
            break; /* a callback ended the connection */
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            dr_buf_consume(&c->in, n);
            dr_http_response *res = c->ready;
            DR_ASSERT(res != NULL);
            c->ready = NULL;
            if (c->input_done)
                dr_buf_reset(&c->in); /* not keep-alive: ignore what follows */
            dispatch(c, res);
            conn_flush(c);
            continue;
        }
        if (e != HPE_OK) {
            if (c->fail_status != 0) {
                conn_reject(c, c->fail_status, c->fail_msg);
            } else {
                char q[160];
                size_t at = DR_MIN(n, c->in.size);
                dr_http_quote(c->in.data + at, c->in.size - at, q, sizeof q);
                char msg[300];
                snprintf(msg, sizeof msg, "malformed request: %s, at '%s'",
                         http_errno_description(e), q);
                conn_reject(c, 400, msg);
            }
            break;
        }
        DR_ASSERT(n == c->in.size);
        dr_buf_reset(&c->in);
    }
    c->pumping = false;
    conn_flush(c); /* a 100 Continue or an error answer may be due */
    if (c->dead)
        return;
    bool want_pause = !c->input_done && (c->slot_count >= DR_HTTP_PIPELINE_COUNT_MAX ||
                                         c->write_blocked);
    if (want_pause != c->paused) {
        c->paused = want_pause;
        dr_env_stream_pause(env, c->stream, want_pause);
    }
}

/* ---- stream callbacks ----------------------------------------------------------- */

static void conn_data(dr_env *env, dr_stream *stream, const uint8_t *data, size_t size, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(stream);
    conn *c = ctx;
    if (c->dead || c->input_done)
        return;
    if (c->in.size + size > DR_HTTP_HEADER_SIZE_MAX + DR_HTTP_STREAM_QUEUE_SIZE_MAX) {
        /* The stream kept delivering although paused: drop the peer. */
        conn_enter(c);
        conn_kill(c, true);
        conn_leave(c);
        return;
    }
    dr_buf_append(&c->in, data, size);
    conn_enter(c);
    conn_pump(c);
    conn_leave(c);
}

static void conn_drained(dr_env *env, dr_stream *stream, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(stream);
    conn *c = ctx;
    if (c->dead)
        return;
    conn_enter(c);
    c->write_blocked = false;
    conn_flush(c);
    conn_pump(c);
    conn_leave(c);
}

static void conn_closed(dr_env *env, dr_stream *stream, const dr_err *why, void *ctx)
{
    DR_UNUSED(stream);
    conn *c = ctx;
    if (c->dead)
        return;
    DR_DEBUG(env, "http: connection from %s ended: %s", c->peer,
             why->code == DR_OK ? "closed by peer" : why->msg);
    conn_enter(c);
    /* The env has no half-close: the stream is dead, so is what it owed. */
    conn_kill(c, false);
    conn_leave(c);
}

static const dr_stream_cbs conn_cbs = {
    .data = conn_data,
    .drained = conn_drained,
    .closed = conn_closed,
};
