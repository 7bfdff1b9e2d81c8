/* src/limits.h — every bound on a queue, buffer or untrusted size, in one
 * place. Untrusted input is checked against these before any allocation.
 */
#ifndef DR_LIMITS_H
#define DR_LIMITS_H

#include <stdint.h>

/* Paths and names */
#define DR_PATH_SIZE_MAX 4096u     /* bytes, with NUL */
#define DR_HOSTNAME_SIZE_MAX 256u  /* bytes, with NUL */
#define DR_NODE_NAME_SIZE_MAX 64u  /* bytes, with NUL */
#define DR_DIR_ENTRY_COUNT_MAX 1000000u

/* Streams: a write beyond this many queued bytes gets DR_EAGAIN. */
#define DR_STREAM_WRITE_QUEUE_SIZE_MAX (8u * 1024 * 1024)
/* The drain callback fires once the queue falls to this. */
#define DR_STREAM_WRITE_LOW_WATER_SIZE (256u * 1024)
#define DR_STREAM_READ_CHUNK_SIZE (64u * 1024)

/* Files */
#define DR_FILE_READ_ALL_SIZE_MAX (256u * 1024 * 1024)

/* Processes */
#define DR_SPAWN_ARG_COUNT_MAX 4096u
#define DR_SPAWN_ENV_COUNT_MAX 4096u

/* HTTP (src/http): requests the server accepts, queues it keeps. */
#define DR_HTTP_URL_SIZE_MAX (8u * 1024)            /* request target; longer: 414 */
#define DR_HTTP_HEADER_SIZE_MAX (64u * 1024)        /* request line + headers; more: 431 */
#define DR_HTTP_HEADER_COUNT_MAX 100u               /* header lines; more: 431 */
#define DR_HTTP_BODY_SIZE_MAX (16u * 1024 * 1024)   /* request or buffered response body: 413 */
#define DR_HTTP_QUERY_PARAM_COUNT_MAX 64u           /* key=value pairs; more: 400 */
#define DR_HTTP_PIPELINE_COUNT_MAX 16u              /* requests in flight per connection */
#define DR_HTTP_STREAM_QUEUE_SIZE_MAX (4u * 1024 * 1024) /* unsent bytes per connection */
#define DR_HTTP_GZIP_SIZE_MIN 1024u                 /* smaller bodies are sent plain */
#define DR_HTTP_ROUTE_COUNT_MAX 256u
#define DR_HTTP_PREFIX_COUNT_MAX 16u
#define DR_HTTP_SERVER_CONN_COUNT_MAX 4096u         /* more: new connections are refused */
#define DR_HTTP_CLIENT_CONN_COUNT_MAX 8u            /* per client (host:port) */
#define DR_HTTP_CLIENT_QUEUE_COUNT_MAX 1024u        /* requests waiting for a connection */
#define DR_RECORDIO_RECORD_SIZE_MAX (16u * 1024 * 1024)

/* Mesos v1 messages (src/proto) */
#define DR_PROTO_MESSAGE_SIZE_MAX (256u * 1024 * 1024) /* bytes of one encoded message */
#define DR_JSON_DEPTH_MAX 64u                          /* nested objects and arrays */
#define DR_PROTO_DEPTH_MAX 64u                         /* nested protobuf messages */

/* Allocator (src/allocator) */
#define DR_ALLOC_NAME_COUNT_MAX 32u    /* distinct resource names across all agents */
#define DR_ALLOC_ROLE_DEPTH_MAX 64u    /* components of a role path ("a/b/c": 3) */

/* Log lines */
#define DR_LOG_LINE_SIZE_MAX 4096u

#endif /* DR_LIMITS_H */
