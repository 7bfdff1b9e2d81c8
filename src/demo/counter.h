/* src/demo/counter.h — the demo service: a tiny replicated, durable counter.
 *
 * It exists to prove that the env works both ways: the same code runs on the
 * real env (`dromos counter serve|client`) and in the simulator (scenario
 * "counter"), where every fault the simulator knows is thrown at it.
 *
 * Design (kept small on purpose):
 * - N replicas (normally 3); replica 0 is the fixed leader. Followers connect
 *   to the leader, say HELLO with their log length, and receive APPENDs.
 * - A client sends INC(client_id, seq, amount) or GET to any replica; a
 *   follower answers REDIRECT with the leader's address.
 * - The leader appends the increment to its log file at once (page cache) and
 *   fsyncs on a short group-commit timer; only fsynced records are sent to the
 *   followers, which append, fsync (also grouped) and report their durable
 *   length. A record is committed once a majority has it durable; the client
 *   gets its ACK only then.
 * - Retries are idempotent: a client has one operation in flight, and the
 *   leader remembers the last (seq, index) per client id (rebuilt from the log).
 * - Recovery reads the log, drops a torn tail (a record whose checksum fails,
 *   or a partial record), truncates and fsyncs. A restarted leader serves
 *   again once a majority holds its whole recovered log, so the value it
 *   reports never goes back.
 * - Any disk error makes a replica stop serving (dr_counter_server_failed):
 *   after a failed fsync nothing unsynced can be trusted, so the owner
 *   restarts the process (the sim scenario does; the CLI exits 1).
 *
 * Frame (every message, little-endian):
 *   offset  size  field
 *   0       4     body_size: bytes of type + payload (1..DR_COUNTER_FRAME_BODY_SIZE_MAX)
 *   4       1     type (dr_counter_msg_type)
 *   5       n     payload (n = body_size - 1)
 *   5+n     8     XXH3-64 of bytes [0, 5+n)
 *
 * Log record (file <data_dir>/counter.log, record i at offset (i-1)*32):
 *   0   8  client_id
 *   8   8  seq
 *   16  8  amount
 *   24  8  XXH3-64 of bytes [0,24) seeded with the record's 1-based index
 *
 * Build variant: compiled with -DDR_PLANTED_ACK_BEFORE_FSYNC (library
 * dr_demo_planted, or -Dplanted_bug=demo_ack_before_fsync) every replica
 * counts a record as durable as soon as it is written, before its fsync: a
 * deliberate bug that the simulator's checker must catch.
 */
#ifndef DR_DEMO_COUNTER_H
#define DR_DEMO_COUNTER_H

#include "src/env/env.h"

/* Bounds (kept with the module; candidates for src/limits.h). */
#define DR_COUNTER_REPLICA_COUNT_MAX 7u
#define DR_COUNTER_FRAME_BODY_SIZE_MAX (64u * 1024)  /* bytes */
#define DR_COUNTER_FRAME_OVERHEAD_SIZE 12u           /* size field + checksum */
#define DR_COUNTER_RECORD_SIZE 32u
#define DR_COUNTER_LOG_RECORD_COUNT_MAX (1u << 22)   /* 128 MiB of log */
#define DR_COUNTER_APPEND_BATCH_COUNT_MAX 256u       /* records per APPEND */
#define DR_COUNTER_FOLLOWER_WINDOW_COUNT 1024u       /* records sent but unacked */
#define DR_COUNTER_WAITER_COUNT_MAX 1024u            /* client ACKs pending commit */
#define DR_COUNTER_CLIENT_TABLE_COUNT_MAX 1024u      /* dedup entries (oldest evicted) */
#define DR_COUNTER_CONN_COUNT_MAX 256u               /* inbound streams per replica */
#define DR_COUNTER_ADDR_SIZE_MAX 300u                /* "host:port", with NUL */

typedef enum dr_counter_msg_type {
    DR_COUNTER_MSG_INC = 1,         /* client: client_id u64, seq u64, amount u64 */
    DR_COUNTER_MSG_GET = 2,         /* client: client_id u64, seq u64, local u8 */
    DR_COUNTER_MSG_ACK = 3,         /* server: seq u64, value u64 (committed value) */
    DR_COUNTER_MSG_VALUE = 4,       /* server: seq u64, value u64 */
    DR_COUNTER_MSG_REDIRECT = 5,    /* server: seq u64, leader "host:port" (rest) */
    DR_COUNTER_MSG_UNAVAILABLE = 6, /* server: seq u64 (recovering or busy: retry) */
    DR_COUNTER_MSG_HELLO = 7,       /* follower: replica_id u32, length u64 */
    DR_COUNTER_MSG_APPEND = 8,      /* leader: first_index u64, count u32, records */
    DR_COUNTER_MSG_ACKED = 9,       /* follower: durable length u64 */
} dr_counter_msg_type;

/* ---- frames (pure) -------------------------------------------------------- */

/* Appends one frame (type + payload) to out. payload_size must be below
 * DR_COUNTER_FRAME_BODY_SIZE_MAX (a programmer error otherwise). */
void dr_counter_frame_put(dr_buf *out, uint8_t type, const void *payload, size_t payload_size);

/* Decodes the first frame of data[0..size). Returns DR_OK and sets *frame_size
 * (bytes consumed), *type, *payload (borrowed from data) and *payload_size;
 * DR_EAGAIN if more bytes are needed (outputs untouched); DR_ETOOBIG or
 * DR_ECORRUPT (err names the fault) if the stream cannot be trusted. */
dr_code dr_counter_frame_get(const uint8_t *data, size_t size, size_t *frame_size, uint8_t *type,
                             const uint8_t **payload, size_t *payload_size,
                             dr_err *err) DR_MUST_USE;

/* ---- log records (pure) --------------------------------------------------- */

typedef struct dr_counter_record {
    uint64_t client_id;
    uint64_t seq;
    uint64_t amount;
} dr_counter_record;

/* Encodes record number index (1-based) into out[DR_COUNTER_RECORD_SIZE]. */
void dr_counter_record_encode(const dr_counter_record *rec, uint64_t index, uint8_t *out);
/* Decodes and checks a record; DR_ECORRUPT if its checksum (seeded with
 * index) fails. On failure *rec is untouched. */
dr_code dr_counter_record_decode(const uint8_t *in, uint64_t index, dr_counter_record *rec,
                                 dr_err *err) DR_MUST_USE;

/* Splits "host:port" into host (NUL-terminated, host_size bytes at most) and
 * port (1-65535). DR_EINVAL with the input quoted otherwise. */
dr_code dr_counter_parse_addr(const char *text, char *host, size_t host_size, uint16_t *port,
                              dr_err *err) DR_MUST_USE;

/* ---- server ----------------------------------------------------------------- */

typedef struct dr_counter_server dr_counter_server;

typedef struct dr_counter_server_opts {
    uint32_t id;                    /* 0 is the leader */
    uint32_t replica_count;         /* 1..DR_COUNTER_REPLICA_COUNT_MAX */
    const char *const *peers;       /* borrows: replica_count "host:port", index = id */
    const char *listen_host;        /* borrows; NULL: "0.0.0.0" */
    uint16_t listen_port;           /* 0: the port of peers[id] */
    const char *data_dir;           /* borrows: created if missing */
    uint64_t flush_delay_ns;        /* group-commit window; 0: 1 ms */
} dr_counter_server_opts;

/* Recovers the log in data_dir, listens and (as a follower) starts
 * connecting to the leader. Returns owned; on failure nothing is left open. */
dr_code dr_counter_server_create(dr_env *env, const dr_counter_server_opts *opts,
                                 dr_counter_server **out, dr_err *err) DR_MUST_USE;
/* Graceful: closes streams, files and timers, frees. */
void dr_counter_server_destroy(dr_counter_server *server);
/* After a crash: frees memory only, touching nothing in the env (its handles
 * died with the process). */
void dr_counter_server_drop(dr_counter_server *server);

typedef struct dr_counter_server_info {
    bool failed;            /* a disk error stopped it: restart the process */
    bool serving;           /* leader: answers INC/GET (recovery complete) */
    uint64_t length;        /* records in the log (written, maybe unsynced) */
    uint64_t synced_length; /* records fsynced */
    uint64_t durable_length;/* records fsynced (or believed so) */
    uint64_t commit_length; /* leader: records durable on a majority */
    uint64_t log_value;     /* sum of every record in the log */
    uint64_t commit_value;  /* sum of committed records */
    uint16_t port;          /* the listening port */
} dr_counter_server_info;
void dr_counter_server_get_info(const dr_counter_server *server, dr_counter_server_info *out);

/* ---- client ----------------------------------------------------------------- */

typedef struct dr_counter_client dr_counter_client;

typedef struct dr_counter_client_opts {
    const char *const *servers; /* borrows: "host:port" entries, tried in turn */
    size_t server_count;        /* 1..DR_COUNTER_REPLICA_COUNT_MAX */
    uint64_t client_id;         /* 0: drawn from dr_env_random */
    uint64_t attempt_timeout_ns;/* per attempt; 0: 1 s */
    uint64_t op_timeout_ns;     /* whole operation; 0: retry forever */
} dr_counter_client_opts;

typedef struct dr_counter_result {
    dr_code code;   /* DR_OK, or DR_ETIMEDOUT after op_timeout_ns */
    uint64_t value; /* INC: committed value at the ACK; GET: the value */
} dr_counter_result;

typedef void dr_counter_done_fn(dr_env *env, const dr_counter_result *result, void *ctx);

dr_code dr_counter_client_create(dr_env *env, const dr_counter_client_opts *opts,
                                 dr_counter_client **out, dr_err *err) DR_MUST_USE;
void dr_counter_client_destroy(dr_counter_client *client); /* fn is never called after */
void dr_counter_client_drop(dr_counter_client *client);    /* after a crash: memory only */
uint64_t dr_counter_client_id(const dr_counter_client *client);

/* Starts one operation; DR_EBUSY while another is in flight. fn fires once,
 * later, from the loop. local (GET only): ask the replica contacted for its
 * own log value instead of the leader's committed value (not linearizable;
 * for checking that a follower caught up). amount must be >= 1. */
dr_code dr_counter_client_inc(dr_counter_client *client, uint64_t amount, dr_counter_done_fn *fn,
                              void *ctx, dr_err *err) DR_MUST_USE;
dr_code dr_counter_client_get(dr_counter_client *client, bool local, dr_counter_done_fn *fn,
                              void *ctx, dr_err *err) DR_MUST_USE;

#endif /* DR_DEMO_COUNTER_H */
