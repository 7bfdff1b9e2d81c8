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

/* Log lines */
#define DR_LOG_LINE_SIZE_MAX 4096u

#endif /* DR_LIMITS_H */
