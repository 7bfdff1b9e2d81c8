/* src/http/negotiate.c — Mesos v1 API content negotiation. See negotiate.h.
 * Error texts follow Mesos's ("Expecting 'Content-Type' to be present") and
 * quote what was received.
 */
#include "negotiate.h"

#include <stdio.h>
#include <string.h>

#include "recordio.h"

const char *dr_http_codec_media_type(dr_http_codec codec)
{
    switch (codec) {
    case DR_HTTP_CODEC_JSON: return DR_HTTP_MEDIA_JSON;
    case DR_HTTP_CODEC_PROTOBUF: return DR_HTTP_MEDIA_PROTOBUF;
    case DR_HTTP_CODEC_NONE: return NULL;
    }
    return NULL;
}

static void fail(dr_http_negotiation *out, int status, const char *fmt, ...) DR_PRINTF(3, 4);

static void fail(dr_http_negotiation *out, int status, const char *fmt, ...)
{
    out->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error, sizeof out->error, fmt, ap);
    va_end(ap);
}

static void quote(const char *value, char *q, size_t q_size)
{
    if (value == NULL) {
        snprintf(q, q_size, "(none)");
        return;
    }
    dr_http_quote((const uint8_t *)value, strlen(value), q, q_size);
}

/* Content-Type (or Message-Content-Type) to a codec; NONE if neither. */
static dr_http_codec codec_of(const char *value)
{
    if (dr_http_media_type_is(value, DR_HTTP_MEDIA_JSON))
        return DR_HTTP_CODEC_JSON;
    if (dr_http_media_type_is(value, DR_HTTP_MEDIA_PROTOBUF))
        return DR_HTTP_CODEC_PROTOBUF;
    return DR_HTTP_CODEC_NONE;
}

/* Picks a codec from an Accept-style header: higher q wins, JSON on ties,
 * NONE if both are refused. A missing header accepts both (JSON). */
static dr_http_codec codec_accepted(const char *accept)
{
    int json_q = dr_http_accept_quality(accept, DR_HTTP_MEDIA_JSON);
    int proto_q = dr_http_accept_quality(accept, DR_HTTP_MEDIA_PROTOBUF);
    if (json_q <= 0 && proto_q <= 0)
        return DR_HTTP_CODEC_NONE;
    return json_q >= proto_q ? DR_HTTP_CODEC_JSON : DR_HTTP_CODEC_PROTOBUF;
}

void dr_http_negotiate_request(const char *method, const dr_http_headers *headers,
                               bool allow_recordio, dr_http_negotiation *out)
{
    memset(out, 0, sizeof *out);
    char q[160];
    if (strcmp(method, "POST") != 0) {
        out->allow = "POST";
        quote(method, q, sizeof q);
        fail(out, 405, "Expecting 'POST', received '%s'", q);
        return;
    }
    const char *ct = dr_http_headers_get(headers, "Content-Type");
    if (ct == NULL) {
        fail(out, 400, "Expecting 'Content-Type' to be present");
        return;
    }
    if (allow_recordio && dr_http_media_type_is(ct, DR_HTTP_MEDIA_RECORDIO)) {
        const char *mct = dr_http_headers_get(headers, "Message-Content-Type");
        if (mct == NULL) {
            fail(out, 400, "Expecting 'Message-Content-Type' to be present with "
                           "'Content-Type: application/recordio'");
            return;
        }
        out->request_codec = codec_of(mct);
        if (out->request_codec == DR_HTTP_CODEC_NONE) {
            quote(mct, q, sizeof q);
            fail(out, 415, "Expecting 'Message-Content-Type' of application/json or "
                           "application/x-protobuf, received '%s'", q);
            return;
        }
        out->request_recordio = true;
        return;
    }
    out->request_codec = codec_of(ct);
    if (out->request_codec == DR_HTTP_CODEC_NONE) {
        quote(ct, q, sizeof q);
        fail(out, 415, "Expecting 'Content-Type' of application/json or application/x-protobuf%s, "
                       "received '%s'", allow_recordio ? " or application/recordio" : "", q);
    }
}

void dr_http_negotiate_response(const dr_http_headers *headers, dr_http_stream_kind kind,
                                dr_http_negotiation *out)
{
    char q[160];
    const char *accept = dr_http_headers_get(headers, "Accept");
    if (kind == DR_HTTP_STREAM_RECORDIO) {
        if (dr_http_accept_quality(accept, DR_HTTP_MEDIA_RECORDIO) <= 0) {
            quote(accept, q, sizeof q);
            fail(out, 406, "Expecting 'Accept' to allow application/recordio, received '%s'", q);
            return;
        }
        const char *message_accept = dr_http_headers_get(headers, "Message-Accept");
        out->response_codec = codec_accepted(message_accept);
        if (out->response_codec == DR_HTTP_CODEC_NONE) {
            quote(message_accept, q, sizeof q);
            fail(out, 406, "Expecting 'Message-Accept' to allow application/json or "
                           "application/x-protobuf, received '%s'", q);
            return;
        }
        out->response_recordio = true;
        out->content_type = DR_HTTP_MEDIA_RECORDIO;
        out->message_content_type = dr_http_codec_media_type(out->response_codec);
        return;
    }
    out->response_codec = codec_accepted(accept);
    if (out->response_codec == DR_HTTP_CODEC_NONE) {
        quote(accept, q, sizeof q);
        fail(out, 406, "Expecting 'Accept' to allow application/json or application/x-protobuf, "
                       "received '%s'", q);
        return;
    }
    out->response_recordio = kind == DR_HTTP_STREAM_CODEC;
    out->content_type = dr_http_codec_media_type(out->response_codec);
    out->message_content_type = NULL;
}

void dr_http_negotiate(const char *method, const dr_http_headers *headers, bool allow_recordio,
                       dr_http_stream_kind kind, dr_http_negotiation *out)
{
    dr_http_negotiate_request(method, headers, allow_recordio, out);
    if (out->status == 0)
        dr_http_negotiate_response(headers, kind, out);
}

void dr_http_negotiation_reject(const dr_http_negotiation *n, dr_http_response *res)
{
    DR_ASSERT(n->status >= 400);
    if (n->allow != NULL)
        dr_http_response_header(res, "Allow", n->allow);
    dr_http_response_error(res, n->status, "%s", n->error);
}

void dr_http_negotiation_stream_start(const dr_http_negotiation *n, dr_http_response *res,
                                      int status)
{
    DR_ASSERT(n->status == 0);
    DR_ASSERT(n->content_type != NULL);
    if (n->message_content_type != NULL)
        dr_http_response_header(res, "Message-Content-Type", n->message_content_type);
    dr_http_response_stream_start(res, status, n->content_type);
}
