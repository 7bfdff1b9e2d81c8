/* src/http/negotiate.h — Mesos's content negotiation for the v1 API
 * endpoints (/api/v1, /api/v1/scheduler, /api/v1/executor), as a pure
 * function of the request's method and headers.
 *
 * The rules (see shared/reference/mesos.md, "HTTP rules"):
 * - POST only: anything else is 405 with `Allow: POST`.
 * - Request Content-Type application/json or application/x-protobuf:
 *   missing -> 400, anything else -> 415. Where the endpoint allows it (the
 *   agent's /api/v1), `Content-Type: application/recordio` with
 *   `Message-Content-Type` json/protobuf marks a streaming request.
 * - Accept picks the response codec with q-values and wildcards; no Accept
 *   means JSON; JSON wins ties; neither acceptable -> 406.
 * - Streaming answers: scheduler and operator SUBSCRIBE reply with
 *   Content-Type equal to the codec (the body is RecordIO nonetheless); agent
 *   streaming calls ask with `Accept: application/recordio` + `Message-Accept`
 *   and get `Content-Type: application/recordio` + `Message-Content-Type`.
 *
 * Which calls stream, and whether the scheduler endpoint checks Accept at all
 * (only on SUBSCRIBE), is the caller's decision: it knows the call type.
 * No message types here: codecs are named, not implemented.
 */
#ifndef DR_HTTP_NEGOTIATE_H
#define DR_HTTP_NEGOTIATE_H

#include "http.h"
#include "server.h"

#define DR_HTTP_MEDIA_JSON "application/json"
#define DR_HTTP_MEDIA_PROTOBUF "application/x-protobuf"
#define DR_HTTP_MEDIA_RECORDIO "application/recordio"

typedef enum dr_http_codec {
    DR_HTTP_CODEC_NONE = 0,
    DR_HTTP_CODEC_JSON,
    DR_HTTP_CODEC_PROTOBUF,
} dr_http_codec;

typedef enum dr_http_stream_kind {
    DR_HTTP_STREAM_NONE = 0, /* a plain answer in the codec */
    DR_HTTP_STREAM_CODEC,    /* SUBSCRIBE: Content-Type = codec, body RecordIO */
    DR_HTTP_STREAM_RECORDIO, /* agent streams: application/recordio + Message-Content-Type */
} dr_http_stream_kind;

typedef struct dr_http_negotiation {
    int status;        /* 0: negotiated; else the status to answer (400/405/406/415) */
    char error[256];   /* the text/plain body when status != 0 */
    const char *allow; /* "POST" with 405, else NULL */
    dr_http_codec request_codec;
    bool request_recordio; /* the body is RecordIO framing request_codec messages */
    dr_http_codec response_codec;
    bool response_recordio;           /* the answer's body is RecordIO */
    const char *content_type;         /* the answer's Content-Type (static) */
    const char *message_content_type; /* its Message-Content-Type, or NULL */
} dr_http_negotiation;

/* "application/json" or "application/x-protobuf"; NULL for NONE. */
const char *dr_http_codec_media_type(dr_http_codec codec);

/* Method and request Content-Type. allow_recordio: the endpoint takes
 * streaming requests. Resets *out; on failure sets status and error. */
void dr_http_negotiate_request(const char *method, const dr_http_headers *headers,
                               bool allow_recordio, dr_http_negotiation *out);

/* Accept (and Message-Accept for agent streams) into the response codec and
 * headers. Keeps what dr_http_negotiate_request filled; on failure sets status
 * and error (406). */
void dr_http_negotiate_response(const dr_http_headers *headers, dr_http_stream_kind kind,
                                dr_http_negotiation *out);

/* Both steps; stops at the first failure. */
void dr_http_negotiate(const char *method, const dr_http_headers *headers, bool allow_recordio,
                       dr_http_stream_kind kind, dr_http_negotiation *out);

/* Answers a failed negotiation (status != 0): its status, Allow when set, and
 * the error text. Finishes res. */
void dr_http_negotiation_reject(const dr_http_negotiation *n, dr_http_response *res);

/* Adds Message-Content-Type when due and starts the streaming answer with the
 * negotiated Content-Type (for successful negotiations with a stream kind). */
void dr_http_negotiation_stream_start(const dr_http_negotiation *n, dr_http_response *res,
                                      int status);

#endif /* DR_HTTP_NEGOTIATE_H */
