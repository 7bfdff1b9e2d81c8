/* src/master/operator.h — the master's operator side, internal to
 * src/master: the state operator.c keeps for the v1 operator API
 * (POST /api/v1, its SUBSCRIBE event streams, logging-level timers,
 * weights), and the entry points of v0.c (/state, /state-summary, /redirect,
 * /health, /version, /flags, /metrics/snapshot) and metrics.c (metric names and
 * values) that operator.c wires up.
 *
 * The operator side reads the master's model (master_int.h) and changes it
 * only through the dr__master_* functions. It is core code: everything goes
 * through the master's env. Nothing here is public: src/daemon and tests see
 * only master.h (tests of this module also include this header).
 */
#ifndef DR_MASTER_OPERATOR_H
#define DR_MASTER_OPERATOR_H

#include "src/master/master_int.h"
#include "src/master/metrics.h"

/* The operator SUBSCRIBE heartbeat period (Mesos's DEFAULT_HEARTBEAT_INTERVAL). */
#define DR_OPERATOR_HEARTBEAT_NS (15 * DR_NS_PER_S)
/* At most this many operator event streams at once; more: 503. */
#define DR_OPERATOR_SUBSCRIBER_COUNT_MAX 1024u
/* Roles with a weight set by --weights or UPDATE_WEIGHTS. */
#define DR_OPERATOR_WEIGHT_COUNT_MAX 4096u

/* master_int.h's bound on a request's decoding arena, until it is there
 * (/tmp/h/mcrash-master_int.h.patch). */
#ifndef DR_MASTER_ARENA_SIZE_MAX
#define DR_MASTER_ARENA_SIZE_MAX(body_size) (16u * (size_t)(body_size) + DR_ARENA_CHUNK_SIZE)
#endif

typedef struct dr_op_subscriber dr_op_subscriber;

typedef struct dr_op_weight {
    char *role; /* owned */
    double weight;
} dr_op_weight;

/* m->operator_state. Created by dr__master_operator_init, freed by the
 * destroy hook. */
typedef struct dr_operator {
    dr_master *m; /* kept: the operator state dies with its master */

    /* SUBSCRIBE streams, in subscription order (a list, walked in insertion
     * order; never keyed by address). */
    dr_op_subscriber *subscribers_head;
    dr_op_subscriber *subscribers_tail;
    size_t subscriber_count;      /* live ones */
    bool broadcasting;            /* frees of dead subscribers wait until after */
    uint64_t events_sent;         /* records written to subscribers, heartbeats included */
    uint64_t next_subscriber_id;

    /* SET_LOGGING_LEVEL with a duration: the level to go back to. */
    dr_timer_id log_revert_timer;
    dr_log_level log_revert_level;

    /* Weights explicitly set, sorted by role (strcmp). */
    dr_op_weight *weights;
    size_t weight_count;

    /* allocator/mesos/allocation_run_ms: every cycle's duration, noted by
     * offers.c through dr__operator_note_allocation_run. */
    dr_timer_stat allocation_run;
} dr_operator;

/* dr_master_forget's part: frees the operator state and its subscribers
 * without any env operation (the server must be forgotten first, so their
 * responses are detached). No-op when there is none. */
void dr__operator_forget(dr_master *m);

/* The operator state of m (never NULL once dr__master_operator_init ran). */
dr_operator *dr__operator(dr_master *m);

/* Records one allocation cycle's duration (for allocation_run_ms); a no-op
 * without operator state. Also declared in master_int.h for offers.c. */
void dr__operator_note_allocation_run(dr_master *m, uint64_t run_ns);

/* v0.c: routes the v0 JSON endpoints and /health, /version,
 * /metrics/snapshot on m->server. Errors from dr_http_server_route. */
dr_code dr__v0_route(dr_master *m, dr_err *err) DR_MUST_USE;

/* v0.c: the /state document (Mesos's v0 JSON shape) appended to out. */
void dr__v0_state_json(dr_master *m, dr_buf *out);

/* Calls fn(name, value) for each master flag, in name order (GET_FLAGS,
 * /flags and the "flags" of /state): opts.flags when the command gave them,
 * else spelled out from the options. Values are borrowed for the call. */
typedef void dr__operator_flag_fn(const char *name, const char *value, void *ctx);
void dr__operator_flags(dr_master *m, dr__operator_flag_fn *fn, void *ctx);

/* The version Dromos reports (m->opts.version or "1.11.0"). */
const char *dr__operator_version(const dr_master *m);

/* Formats a double as stout's JSON writer does for a number: integral values
 * keep a ".0"; at most 15 significant digits (so 0.1 stays "0.1"). */
void dr__json_number(dr_buf *out, double value);

#endif /* DR_MASTER_OPERATOR_H */
