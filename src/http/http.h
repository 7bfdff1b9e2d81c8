/* src/http/http.h — HTTP vocabulary shared by the server, the client and the
 * negotiation helpers: header lists (case-insensitive names, repeated headers
 * joined with ", "), query strings decoded into key/value pairs, status texts,
 * media-type and Accept parsing.
 *
 * Pure byte and string handling: no env, no message types. What a body means
 * (JSON, protobuf, RecordIO) is left to the callers.
 */
#ifndef DR_HTTP_H
#define DR_HTTP_H

#include "../base/base.h"
#include "../limits.h"

typedef struct dr_http_header {
    char *name;  /* as first received; compare with strcasecmp */
    char *value; /* repeated headers joined with ", " */
} dr_http_header;

/* A header list in arrival order. Owns its strings: every name and value
 * lives in one store (NUL-terminated, back to back), so a list of n headers
 * costs two allocations, not 2n + 1; the item pointers follow the store when
 * it grows. A joined or removed header leaves its old bytes in the store
 * until the list is deinitialised (bounded: every byte came from an add). */
typedef struct dr_http_headers {
    dr_http_header *items;
    size_t count;
    size_t capacity;
    char *store;
    size_t store_size;
    size_t store_capacity;
} dr_http_headers;

void dr_http_headers_init(dr_http_headers *h);
void dr_http_headers_deinit(dr_http_headers *h);
/* Adds a header (copies name and value). If a header of that name (any case)
 * is already there, appends ", value" to it instead, as RFC 7230 3.2.2 allows. */
void dr_http_headers_add(dr_http_headers *h, const char *name, const char *value);
void dr_http_headers_addn(dr_http_headers *h, const char *name, size_t name_size,
                          const char *value, size_t value_size);
/* Replaces (or adds) a header. */
void dr_http_headers_set(dr_http_headers *h, const char *name, const char *value);
/* Returns the value (borrowed, valid until the list changes) or NULL. */
const char *dr_http_headers_get(const dr_http_headers *h, const char *name);
void dr_http_headers_remove(dr_http_headers *h, const char *name);

/* A decoded query parameter. */
typedef struct dr_http_param {
    char *key;
    char *value; /* "" for a bare "key" */
} dr_http_param;

typedef struct dr_http_params {
    dr_http_param *items;
    size_t count;
} dr_http_params;

void dr_http_params_deinit(dr_http_params *p);
/* First value of key (borrowed) or NULL. */
const char *dr_http_params_get(const dr_http_params *p, const char *key);

/* Parses "a=1&b=x%20y&c" (no leading '?') into *out: '+' is a space, %XX is
 * decoded, empty pieces are skipped. Errors (out untouched): DR_EINVAL for bad
 * percent-encoding or a NUL byte, quoting the piece; DR_ETOOBIG for more than
 * DR_HTTP_QUERY_PARAM_COUNT_MAX pairs. */
dr_code dr_http_query_parse(const char *query, size_t query_size, dr_http_params *out,
                            dr_err *err) DR_MUST_USE;

/* Percent-decodes a path (no '+' rule). Returns owned string in *out.
 * DR_EINVAL on bad encoding or an encoded NUL. */
dr_code dr_http_path_decode(const char *path, size_t path_size, char **out,
                            dr_err *err) DR_MUST_USE;

/* The status an operating error maps to (STYLE: "HTTP maps codes to
 * statuses"): DR_EINVAL/DR_EPROTO/DR_ECORRUPT 400, DR_EACCES 403,
 * DR_ENOENT/DR_ENOTFOUND 404, DR_EEXIST/DR_EBUSY/DR_ENOTEMPTY 409,
 * DR_ETOOBIG 413, DR_ENOTSUP 501, DR_EAGAIN/DR_ECONNREFUSED/DR_ECONNRESET/
 * DR_ECLOSED/DR_ECANCELED 503, DR_ETIMEDOUT 504, anything else 500. DR_OK is
 * 200. */
int dr_http_status_of(dr_code code);

/* "Not Found" for 404; "Unknown" for codes it does not know. */
const char *dr_http_status_text(int status);

/* Compares a media type ("application/json; charset=utf-8") with a bare type
 * ("application/json"), ignoring case, parameters and surrounding spaces. */
bool dr_http_media_type_is(const char *value, const char *type);

/* The quality (0..1000) an Accept-style header gives to type ("a/b") or to a
 * token (Accept-Encoding, when type has no '/'): the most specific matching
 * range wins ("a/b" over "a/ *" over "* / *"); q=0 means refused. A NULL or
 * empty header accepts everything (1000). A malformed q counts as 0. */
int dr_http_accept_quality(const char *header, const char *type);

/* True if an Accept-Encoding header allows gzip (q > 0 for gzip or "*"). */
bool dr_http_accepts_gzip(const char *accept_encoding);

#endif /* DR_HTTP_H */
