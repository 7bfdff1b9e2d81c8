/* src/sched/sched.h — a Mesos v1 scheduler client: the framework side of
 * POST /api/v1/scheduler, over the dr_http client and the env only (so it runs
 * in the simulator and for real).
 *
 * What it owns:
 * - SUBSCRIBE as a streaming call; RecordIO events in JSON or protobuf, decoded
 *   and handed to one callback per event type; the Mesos-Stream-Id of the
 *   answer is captured and sent with every later call.
 * - Calls (ACCEPT, DECLINE, KILL, ACKNOWLEDGE, RECONCILE, SUPPRESS, REVIVE,
 *   TEARDOWN, MESSAGE, ... or any hand-built mesos.scheduler.Call): the
 *   framework id and stream id are filled in; a non-2xx answer is reported
 *   through cbs->call_failed with its status and text.
 * - A heartbeat watchdog: no event for heartbeat_miss_count heartbeat
 *   intervals means the connection is dead.
 * - Reconnection: a broken stream, a refused connect or a dead watchdog
 *   resubscribes with the framework id it was given (failover), after a
 *   jittered, doubling backoff drawn from dr_env_rng("sched.backoff").
 * - 307 redirects (a master that is not the leader): Location is followed,
 *   with or without a scheme ("//10.0.0.2:5050/master/api/v1/scheduler").
 *
 * Leaves to the caller: what to do with offers and updates (the callbacks),
 * task bookkeeping, acknowledgements (see dr_sched_acknowledge).
 *
 * Single-threaded, on the env's loop. Callbacks may call any function here,
 * dr_sched_destroy included.
 */
#ifndef DR_SCHED_H
#define DR_SCHED_H

#include "src/env/env.h"
#include "src/http/negotiate.h"
#include "src/proto/proto.h"

typedef struct dr_sched dr_sched;

typedef enum dr_sched_state {
    DR_SCHED_IDLE = 0,     /* created, not started, or stopped */
    DR_SCHED_SUBSCRIBING,  /* SUBSCRIBE sent, SUBSCRIBED not yet received */
    DR_SCHED_SUBSCRIBED,   /* events flowing; calls allowed */
    DR_SCHED_BACKING_OFF,  /* disconnected; resubscribing after a delay */
} dr_sched_state;

/* Per-event callbacks; any may be NULL. Event pointers are borrowed for the
 * call (they live in an arena freed after it). `event` sees every event,
 * after the typed callback. */
typedef struct dr_sched_cbs {
    void (*subscribed)(dr_sched *s, const Mesos__Scheduler__Event__Subscribed *ev, void *ctx);
    void (*offers)(dr_sched *s, const Mesos__Scheduler__Event__Offers *ev, void *ctx);
    void (*rescind)(dr_sched *s, const Mesos__Scheduler__Event__Rescind *ev, void *ctx);
    void (*update)(dr_sched *s, const Mesos__Scheduler__Event__Update *ev, void *ctx);
    void (*message)(dr_sched *s, const Mesos__Scheduler__Event__Message *ev, void *ctx);
    void (*failure)(dr_sched *s, const Mesos__Scheduler__Event__Failure *ev, void *ctx);
    /* The master refused the framework (it then closes the stream): the
     * client stops (state IDLE) and does not resubscribe. */
    void (*error)(dr_sched *s, const Mesos__Scheduler__Event__Error *ev, void *ctx);
    void (*heartbeat)(dr_sched *s, void *ctx);
    void (*event)(dr_sched *s, const Mesos__Scheduler__Event *ev, void *ctx);
    /* The subscription ended (why says how); a resubscription follows unless
     * the client was stopped. Offers received so far are void. */
    void (*disconnected)(dr_sched *s, const dr_err *why, void *ctx);
    /* A call was answered with a status other than 200/202 (status 0: no
     * answer at all, text says why). text is borrowed. */
    void (*call_failed)(dr_sched *s, Mesos__Scheduler__Call__Type type, int status,
                        const char *text, void *ctx);
} dr_sched_cbs;

typedef struct dr_sched_opts {
    const char *host;   /* the master, copied */
    uint16_t port;
    const char *path;   /* NULL: "/api/v1/scheduler" */
    dr_http_codec codec; /* NONE means PROTOBUF */
    /* The framework to subscribe (borrowed, copied). framework_info->id, when
     * set, resubscribes an existing framework. */
    const Mesos__FrameworkInfo *framework_info;
    uint64_t backoff_min_ns;  /* 0: 1 s */
    uint64_t backoff_max_ns;  /* 0: 60 s */
    uint32_t heartbeat_miss_count; /* 0: 3 */
    uint64_t call_timeout_ns; /* 0: 10 s */
} dr_sched_opts;

/* Creates a client on env (kept); cbs kept (usually static const), ctx kept.
 * Nothing is sent until dr_sched_start. Errors: DR_EINVAL for a missing host
 * or framework_info, or a framework_info that does not encode. */
dr_code dr_sched_create(dr_env *env, const dr_sched_opts *opts, const dr_sched_cbs *cbs, void *ctx,
                        dr_sched **out, dr_err *err) DR_MUST_USE;
/* Closes the subscription (if any) and frees everything; no callback fires.
 * s may be NULL. */
void dr_sched_destroy(dr_sched *s);

/* Subscribes (or resubscribes). Idempotent while already subscribing. */
void dr_sched_start(dr_sched *s);
/* Closes the subscription and stops resubscribing (state IDLE); no callback. */
void dr_sched_stop(dr_sched *s);

dr_sched_state dr_sched_get_state(const dr_sched *s);
/* The framework id ("" until SUBSCRIBED was received once). Borrowed. */
const char *dr_sched_framework_id(const dr_sched *s);
/* The current Mesos-Stream-Id ("" while not subscribed). Borrowed. */
const char *dr_sched_stream_id(const dr_sched *s);
/* Where the master is now (after redirects). */
const char *dr_sched_master_host(const dr_sched *s);
uint16_t dr_sched_master_port(const dr_sched *s);
/* Counters for tests: subscriptions made, events received, calls sent. */
typedef struct dr_sched_stats {
    uint64_t subscribe_count;
    uint64_t subscribed_count;
    uint64_t event_count;
    uint64_t call_count;
    uint64_t call_failed_count;
    uint64_t redirect_count;
    uint64_t watchdog_count;
} dr_sched_stats;
void dr_sched_get_stats(const dr_sched *s, dr_sched_stats *out);

/* ---- calls -------------------------------------------------------------------- */

/* Sends call (borrowed: encoded before returning); sets its framework_id.
 * Errors: DR_ECLOSED when not subscribed; DR_EINVAL when it does not encode;
 * those of dr_http_client_send. On error nothing was sent. */
dr_code dr_sched_call(dr_sched *s, Mesos__Scheduler__Call *call, dr_err *err) DR_MUST_USE;

/* Convenience forms. Ids are plain strings (borrowed). */
dr_code dr_sched_accept(dr_sched *s, const char *const *offer_ids, size_t offer_count,
                        Mesos__Offer__Operation *const *ops, size_t op_count,
                        double refuse_seconds, dr_err *err) DR_MUST_USE;
dr_code dr_sched_decline(dr_sched *s, const char *const *offer_ids, size_t offer_count,
                         double refuse_seconds, dr_err *err) DR_MUST_USE;
dr_code dr_sched_kill(dr_sched *s, const char *task_id, const char *agent_id,
                      dr_err *err) DR_MUST_USE;
/* Acknowledges an update (agent_id and uuid from its TaskStatus). */
dr_code dr_sched_acknowledge(dr_sched *s, const char *agent_id, const char *task_id,
                             const uint8_t *uuid, size_t uuid_size, dr_err *err) DR_MUST_USE;
/* Explicit reconciliation of task_count tasks (agent_ids[i] may be NULL), or
 * implicit with task_count 0. */
dr_code dr_sched_reconcile(dr_sched *s, const char *const *task_ids,
                           const char *const *agent_ids, size_t task_count,
                           dr_err *err) DR_MUST_USE;
/* role NULL: every role. */
dr_code dr_sched_revive(dr_sched *s, const char *role, dr_err *err) DR_MUST_USE;
dr_code dr_sched_suppress(dr_sched *s, const char *role, dr_err *err) DR_MUST_USE;
dr_code dr_sched_message(dr_sched *s, const char *agent_id, const char *executor_id,
                         const uint8_t *data, size_t size, dr_err *err) DR_MUST_USE;
/* Sends TEARDOWN and stops the client once it is answered. */
dr_code dr_sched_teardown(dr_sched *s, dr_err *err) DR_MUST_USE;

/* ---- helpers ------------------------------------------------------------------ */

/* Parses a 307 Location into host/port/path: "//h:p/x", "http://h:p/x", "/x"
 * (same host). host_out gets the host (size host_size), *port_out the port
 * (default 5050 with a scheme-less host and no port), path_out the path.
 * DR_EINVAL for what cannot be followed ("https://" included). */
dr_code dr_sched_parse_location(const char *location, char *host_out, size_t host_size,
                                uint16_t *port_out, char *path_out, size_t path_size,
                                dr_err *err) DR_MUST_USE;

/* Returns a stable name for a call type ("ACCEPT"). */
const char *dr_sched_call_type_name(Mesos__Scheduler__Call__Type type);

#endif /* DR_SCHED_H */
