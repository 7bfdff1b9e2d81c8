/* src/http/client.h — an HTTP/1.1 client over env streams, for agents,
 * executors, the CLI and tests.
 *
 * One dr_http_client talks to one host:port. It keeps up to
 * DR_HTTP_CLIENT_CONN_COUNT_MAX keep-alive connections and reuses idle ones;
 * calls beyond that wait in a bounded FIFO. A call sends a method, target,
 * headers and body; the answer comes back whole (Content-Length, chunked or
 * until close; gzip'd bodies are inflated) or, for streaming calls, chunk by
 * chunk as it arrives (RecordIO event streams: feed chunks to a
 * dr_recordio_decoder). Errors name the peer: "10.0.0.1:5050: POST /api/v1:
 * no response within 5000 ms".
 *
 * A call that was sent on a reused keep-alive connection which turns out to
 * be closed before any byte of the answer is retried once on a new one.
 *
 * Single-threaded, on the env's loop. Leaves to others: what bodies mean,
 * redirects (307 from a non-leading master is handed to the caller), TLS.
 */
#ifndef DR_HTTP_CLIENT_H
#define DR_HTTP_CLIENT_H

#include "../env/env.h"
#include "http.h"

typedef struct dr_http_client dr_http_client;
typedef struct dr_http_call dr_http_call;

typedef struct dr_http_client_opts {
    uint64_t timeout_ns;   /* default per call; 0: 30 s */
    size_t body_size_max;  /* buffered answers; 0: DR_HTTP_BODY_SIZE_MAX; may not exceed it */
    size_t conn_count_max; /* 0: DR_HTTP_CLIENT_CONN_COUNT_MAX; may not exceed it */
} dr_http_client_opts;

typedef struct dr_http_client_request {
    const char *method;            /* "GET", "POST", ... */
    const char *target;            /* already encoded: "/files/read?path=%2Ftmp" */
    const dr_http_header *headers; /* borrowed, copied; no Host/Content-Length needed */
    size_t header_count;
    const void *body; /* borrowed, copied */
    size_t body_size;
    /* Buffered calls: the whole answer. Streaming calls: until the answer's
     * headers (the stream itself may last for ever). 0: the client's. */
    uint64_t timeout_ns;
    bool stream; /* hand the body to cbs->chunk as it arrives */
    /* Send the request body chunked, piece by piece, with dr_http_call_write
     * and dr_http_call_end_body (body above, if any, is the first piece). The
     * call's timeout starts at end_body. Such a call is never retried. */
    bool stream_body;
} dr_http_client_request;

typedef struct dr_http_client_response {
    int status;
    dr_http_headers headers;
    const uint8_t *body; /* buffered calls: never NULL, NUL after; streaming: "" */
    size_t body_size;
} dr_http_client_response;

/* Callbacks; borrowed pointers are valid for the call only. head and chunk
 * fire only for streaming calls and may be NULL; a streaming call answered
 * with an error status (4xx, 5xx) delivers that answer's text through chunk
 * too, so check head's status first. done fires exactly once per
 * call (unless it is canceled or the client destroyed first): with resp and
 * err->code == DR_OK, or with resp NULL and the error. After done the call
 * handle is gone. */
typedef struct dr_http_call_cbs {
    void (*head)(dr_env *env, dr_http_call *call, const dr_http_client_response *resp, void *ctx);
    void (*chunk)(dr_env *env, dr_http_call *call, const uint8_t *data, size_t size, void *ctx);
    void (*done)(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                 const dr_err *err, void *ctx);
} dr_http_call_cbs;

/* Creates a client for host:port (host copied) on env (kept). Connects lazily.
 * DR_EINVAL for an empty host or bad opts. */
dr_code dr_http_client_create(dr_env *env, const char *host, uint16_t port,
                              const dr_http_client_opts *opts, dr_http_client **out,
                              dr_err *err) DR_MUST_USE;
/* Aborts every connection and drops every call without calling back. May be
 * called from inside one of the client's callbacks. client may be NULL. */
void dr_http_client_destroy(dr_http_client *client);
/* The owning process crashed: frees every byte the client owns (connections,
 * buffers, calls waiting, sent or failing) without any env operation and
 * without calling back. The env has already discarded the process's streams
 * and timers (the simulator's dr_sim_process_crash does so before calling the
 * program's crash), so handles the client held are never touched. Not from
 * inside one of the client's callbacks. client may be NULL. */
void dr_http_client_forget(dr_http_client *client);

/* Starts a call. cbs is kept (usually static const); *out (may be NULL) gets
 * a handle valid until done fires. done never fires from inside this
 * function, even for a connect that fails at once. Errors (no callback then): DR_EINVAL for a
 * bad method or target, DR_ETOOBIG when DR_HTTP_CLIENT_QUEUE_COUNT_MAX calls
 * wait already or the body is over DR_HTTP_BODY_SIZE_MAX. */
dr_code dr_http_client_send(dr_http_client *client, const dr_http_client_request *req,
                            const dr_http_call_cbs *cbs, void *ctx, dr_http_call **out,
                            dr_err *err) DR_MUST_USE;

/* Cancels a call: no callback fires for it any more; its connection, if the
 * answer was under way, is aborted. Allowed from inside its own callbacks. */
void dr_http_call_cancel(dr_http_call *call);

/* For calls sent with stream_body: queues one chunk of the request body
 * (borrowed, copied) and sends it as soon as the call has a connection.
 * Not after done fired (the handle is gone). Errors: DR_ECLOSED from inside
 * the call's own callbacks once it is over; DR_ETOOBIG when more than
 * DR_HTTP_STREAM_QUEUE_SIZE_MAX bytes wait for the peer (nothing queued).
 * A fault sending it fails the call later, through done. */
dr_code dr_http_call_write(dr_http_call *call, const void *data, size_t size,
                           dr_err *err) DR_MUST_USE;
/* Ends a streaming request body; the answer's timeout starts now. */
void dr_http_call_end_body(dr_http_call *call);

/* Connections open (idle or busy), and calls waiting, for tests. */
size_t dr_http_client_conn_count(const dr_http_client *client);
size_t dr_http_client_queued_count(const dr_http_client *client);

#endif /* DR_HTTP_CLIENT_H */
