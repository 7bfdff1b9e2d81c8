/* src/http/server.h — an HTTP/1.1 server over env streams.
 *
 * Owns: connections, request parsing (http-parser), keep-alive and pipelining
 * (responses leave in request order, whether handlers answer at once or
 * later), Content-Length and chunked request bodies, routing on exact paths and
 * prefixes (also under Mesos process prefixes such as "/master" or
 * "/slave(1)"), query strings, limits (431, 413, 414), idle and slow-request
 * timeouts on env timers, `Expect: 100-continue`, gzip for plain responses,
 * chunked streaming responses with a bounded per-connection queue, and graceful
 * close. Every error answer has a text/plain body saying what was wrong.
 *
 * Leaves to others: what bodies mean (see negotiate.h for Mesos's content-type
 * rules and recordio.h for event framing), authentication, TLS.
 *
 * Single-threaded, on the env's loop. Handlers must not destroy the server.
 */
#ifndef DR_HTTP_SERVER_H
#define DR_HTTP_SERVER_H

#include "../env/env.h"
#include "http.h"

typedef struct dr_http_server dr_http_server;
typedef struct dr_http_response dr_http_response;

/* A received request. Borrowed by the handler; valid until its response is
 * finished (sent, errored or its stream ended). */
typedef struct dr_http_request {
    const char *method;    /* "GET", "POST", ... */
    const char *target;    /* as received: "/master/api/v1?x=1" */
    const char *full_path; /* percent-decoded path: "/master/api/v1" */
    const char *path;      /* the path routed on, process prefix stripped: "/api/v1" */
    dr_http_params query;  /* decoded key/value pairs, in order */
    dr_http_headers headers;
    const uint8_t *body; /* never NULL; body[body_size] is a NUL not counted */
    size_t body_size;
    int version_minor; /* HTTP/1.<version_minor> */
    const char *peer;  /* "host:port" of the client */
} dr_http_request;

/* Answers req through res, now or later; the handler takes res and must finish
 * it exactly once: dr_http_response_send, _error, or _stream_start ... _end. */
typedef void dr_http_handler_fn(dr_env *env, const dr_http_request *req, dr_http_response *res,
                                void *ctx);
/* The client of a response went away (reset, closed, cut off, server
 * destroyed excepted). res must still be finished by its owner. */
typedef void dr_http_gone_fn(dr_env *env, dr_http_response *res, void *ctx);
typedef void dr_http_done_fn(dr_env *env, void *ctx);
/* A piece of a streaming request body (borrowed), as parsed; end is true once,
 * with size 0, when the body is complete. */
typedef void dr_http_body_fn(dr_env *env, dr_http_response *res, const uint8_t *data,
                             size_t size, bool end, void *ctx);

typedef struct dr_http_server_opts {
    const char *host; /* NULL: do not listen (streams come through dr_http_server_adopt) */
    uint16_t port;    /* 0: a free port (see dr_http_server_port) */
    /* Process prefixes stripped when no route matches the full path:
     * {"/master", "/slave(1)"} serves "/master/api/v1" as "/api/v1". Copied. */
    const char *const *strip_prefixes;
    size_t strip_prefix_count;
    uint64_t idle_timeout_ns;    /* keep-alive connection with nothing to do; 0: 60 s */
    uint64_t request_timeout_ns; /* first byte to end of headers; 0: 30 s */
    size_t body_size_max;        /* 0: DR_HTTP_BODY_SIZE_MAX; may not exceed it */
    size_t stream_queue_size_max; /* 0: DR_HTTP_STREAM_QUEUE_SIZE_MAX; may not exceed it */
} dr_http_server_opts;

/* Creates a server on env (kept) and, if opts->host is set, listens. Errors:
 * those of dr_env_listen, wrapped with the address; DR_EINVAL for bad opts. */
dr_code dr_http_server_create(dr_env *env, const dr_http_server_opts *opts,
                              dr_http_server **out, dr_err *err) DR_MUST_USE;
/* Closes the listener and every connection at once (abort); no callback fires.
 * Responses still held by handlers are detached: finishing them only frees. */
void dr_http_server_destroy(dr_http_server *server);
/* The owning process crashed: frees the server, its connections, buffers and
 * routes without any env operation and without calling back (no on_gone, no
 * shutdown done). The env has already discarded the process's listener,
 * streams and timers (the simulator's dr_sim_process_crash does so before
 * calling the program's crash), so the handles the server held are never
 * touched. Responses still held by handlers are detached, as by destroy:
 * finishing them only frees (no I/O). Not from inside a handler. NULL ok. */
void dr_http_server_forget(dr_http_server *server);
/* The port listened on (0 when not listening). */
uint16_t dr_http_server_port(const dr_http_server *server);

/* Routes path (copied) to fn. prefix=false: exact match; prefix=true: the path
 * itself and anything below "path/". Exact routes win, then the longest prefix.
 * Errors: DR_EEXIST for the same path and kind twice, DR_ETOOBIG past
 * DR_HTTP_ROUTE_COUNT_MAX, DR_EINVAL for a path not starting with '/'. */
dr_code dr_http_server_route(dr_http_server *server, const char *path, bool prefix,
                             dr_http_handler_fn *fn, void *ctx, dr_err *err) DR_MUST_USE;

/* Like dr_http_server_route, for requests whose body streams (the agent's
 * ATTACH_CONTAINER_INPUT): the handler runs as soon as the headers are in,
 * with an empty req->body, and may read the body piece by piece with
 * dr_http_response_read_body. No body size limit applies (the handler bounds
 * what it keeps); the stalled-body timeout does. If the body breaks (bad
 * chunk framing, stall, shutdown) while the handler still holds res, the
 * connection is aborted and on_gone fires: no answer could follow in order. */
dr_code dr_http_server_route_streaming(dr_http_server *server, const char *path, bool prefix,
                                       dr_http_handler_fn *fn, void *ctx, dr_err *err) DR_MUST_USE;

/* Serves an already connected stream (taken): sets its callbacks. */
void dr_http_server_adopt(dr_http_server *server, dr_stream *stream);

/* Graceful shutdown: stops listening, reads no new requests, lets responses in
 * flight finish (streams must be ended by their owners), closes each connection
 * once its queue is empty, then calls done from the loop. */
void dr_http_server_shutdown(dr_http_server *server, dr_http_done_fn *done, void *ctx);

/* Open connections (for tests and metrics). */
size_t dr_http_server_conn_count(const dr_http_server *server);

/* ---- answering ------------------------------------------------------------ */

/* Adds a response header (copied) before send or stream_start. */
void dr_http_response_header(dr_http_response *res, const char *name, const char *value);
/* Called if the client goes away before res is finished. */
void dr_http_response_on_gone(dr_http_response *res, dr_http_gone_fn *fn, void *ctx);
/* True while the client is still there to receive the answer. */
bool dr_http_response_alive(const dr_http_response *res);

/* For a streaming route, from inside its handler: hands the request body to
 * fn (kept until the body ends or res is finished). Without it the body is
 * read and dropped. The answer may be sent before the body ends. */
void dr_http_response_read_body(dr_http_response *res, dr_http_body_fn *fn, void *ctx);

/* Finishes res with a complete body (borrowed, copied). content_type may be
 * NULL (no header). Gzip'd when the request allows it and it pays. */
void dr_http_response_send(dr_http_response *res, int status, const char *content_type,
                           const void *body, size_t size);
/* Finishes res with a text/plain body formatted from fmt. */
void dr_http_response_error(dr_http_response *res, int status, const char *fmt, ...)
    DR_PRINTF(3, 4);

/* Finishes res with the status err->code maps to (dr_http_status_of) and
 * err->msg as the text/plain body. err->code must not be DR_OK. */
void dr_http_response_fail(dr_http_response *res, const dr_err *err);

/* Starts a chunked response kept open for later writes (event streams). */
void dr_http_response_stream_start(dr_http_response *res, int status, const char *content_type);
/* Writes one chunk (borrowed). DR_ECLOSED if the client is gone; DR_ETOOBIG if
 * the client stopped reading and the connection's unsent bytes passed the
 * queue bound: the connection is then aborted (on_gone fires). */
dr_code dr_http_response_stream_write(dr_http_response *res, const void *data, size_t size,
                                      dr_err *err) DR_MUST_USE;
/* Writes data as one RecordIO record in one chunk. Errors as stream_write. */
dr_code dr_http_response_stream_record(dr_http_response *res, const void *data, size_t size,
                                       dr_err *err) DR_MUST_USE;
/* Ends the stream (last chunk) and finishes res. */
void dr_http_response_stream_end(dr_http_response *res);

/* ---- parser-level access (tests and fuzzing) -------------------------------- */

/* Answers every request with 200 and a text/plain echo "METHOD path body_size"
 * (a handler for the fuzz harness and tests). */
void dr_http_echo_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                          void *ctx);

#endif /* DR_HTTP_SERVER_H */
