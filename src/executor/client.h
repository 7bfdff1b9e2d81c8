/* src/executor/client.h — a Mesos v1 executor client: the executor side of
 * POST /api/v1/executor on the agent, over the dr_http client and the env
 * only (so it runs in the simulator and for real).
 *
 * What it owns:
 * - SUBSCRIBE as a streaming call; RecordIO events in JSON or protobuf,
 *   decoded and handed to one callback per event type.
 * - UPDATE: a status update gets a fresh UUID (16 bytes from
 *   dr_env_rng("exec.uuid"), version 4) and a timestamp, and is kept until
 *   the agent's ACKNOWLEDGED event names it; an UPDATE the agent answers with
 *   a 5xx (it could not take it now) goes again while subscribed, after
 *   250 ms doubling up to backoff_max (a 4xx is final: logged). A task
 *   launched through LAUNCH or LAUNCH_GROUP is kept until one of its updates
 *   is acknowledged. Both lists travel in every SUBSCRIBE
 *   (unacknowledged_tasks, unacknowledged_updates), so an agent that
 *   restarted gets back what it may have lost.
 * - MESSAGE and HEARTBEAT calls.
 * - Reconnection: when the stream breaks (or the first connect fails) the
 *   client resubscribes after a random delay in [0, backoff_max] (Mesos's
 *   MESOS_SUBSCRIPTION_BACKOFF_MAX), again and again, until
 *   recovery_timeout (MESOS_RECOVERY_TIMEOUT) has passed since the stream was
 *   last up; then cbs->lost fires and the client stays idle. A framework
 *   without checkpointing cannot be recovered by a restarted agent, so with
 *   checkpoint false a broken stream is lost at once, as in Mesos.
 *
 * Leaves to the caller: what tasks are and when to exit (the callbacks).
 *
 * Single-threaded, on the env's loop. Callbacks may call any function here,
 * dr_exec_client_destroy included.
 */
#ifndef DR_EXECUTOR_CLIENT_H
#define DR_EXECUTOR_CLIENT_H

#include "src/env/env.h"
#include "src/http/negotiate.h"
#include "src/proto/proto.h"

/* Bounds on what the client keeps (the agent holds at most this many too). */
#define DR_EXEC_UPDATE_COUNT_MAX 1024u /* unacknowledged updates */
#define DR_EXEC_TASK_COUNT_MAX 1024u   /* unacknowledged tasks */
#define DR_EXEC_UUID_SIZE 16u

typedef struct dr_exec_client dr_exec_client;

typedef enum dr_exec_client_state {
    DR_EXEC_CLIENT_IDLE = 0,    /* not started, stopped, or lost */
    DR_EXEC_CLIENT_SUBSCRIBING, /* SUBSCRIBE sent, SUBSCRIBED not yet received */
    DR_EXEC_CLIENT_SUBSCRIBED,  /* events flowing */
    DR_EXEC_CLIENT_BACKING_OFF, /* disconnected; resubscribing after a delay */
} dr_exec_client_state;

/* Per-event callbacks; any may be NULL. Event pointers are borrowed for the
 * call (they live in an arena freed after it). */
typedef struct dr_exec_client_cbs {
    void (*subscribed)(dr_exec_client *c, const Mesos__Executor__Event__Subscribed *ev, void *ctx);
    void (*launch)(dr_exec_client *c, const Mesos__TaskInfo *task, void *ctx);
    void (*launch_group)(dr_exec_client *c, const Mesos__TaskGroupInfo *group, void *ctx);
    void (*kill)(dr_exec_client *c, const Mesos__Executor__Event__Kill *ev, void *ctx);
    /* After the update was dropped from the unacknowledged list. */
    void (*acknowledged)(dr_exec_client *c, const char *task_id, const uint8_t *uuid,
                         size_t uuid_size, void *ctx);
    void (*message)(dr_exec_client *c, const uint8_t *data, size_t size, void *ctx);
    void (*shutdown)(dr_exec_client *c, void *ctx);
    void (*error)(dr_exec_client *c, const char *message, void *ctx);
    void (*heartbeat)(dr_exec_client *c, void *ctx);
    /* The stream broke; a resubscription follows (why is borrowed). */
    void (*disconnected)(dr_exec_client *c, const dr_err *why, void *ctx);
    /* The agent did not come back within the recovery timeout (or the
     * framework does not checkpoint): the client is idle for good. */
    void (*lost)(dr_exec_client *c, const dr_err *why, void *ctx);
} dr_exec_client_cbs;

typedef struct dr_exec_client_opts {
    const char *host; /* the agent, copied */
    uint16_t port;
    const char *path;         /* NULL: "/api/v1/executor" (copied) */
    dr_http_codec codec;      /* NONE means PROTOBUF */
    const char *framework_id; /* copied; required */
    const char *executor_id;  /* copied; required */
    bool checkpoint;          /* MESOS_CHECKPOINT: reconnect after a break */
    uint64_t recovery_timeout_ns;  /* 0: 15 min */
    uint64_t backoff_max_ns;       /* 0: 2 s */
    uint64_t call_timeout_ns;      /* 0: 10 s */
} dr_exec_client_opts;

/* Creates a client on env (kept); cbs kept (usually static const), ctx kept.
 * Nothing is sent until dr_exec_client_start. Errors: DR_EINVAL for a missing
 * host, framework id or executor id. */
dr_code dr_exec_client_create(dr_env *env, const dr_exec_client_opts *opts,
                              const dr_exec_client_cbs *cbs, void *ctx, dr_exec_client **out,
                              dr_err *err) DR_MUST_USE;
/* Drops the subscription and everything kept; no callback fires. NULL ok. */
void dr_exec_client_destroy(dr_exec_client *c);

/* Subscribes. Idempotent while subscribing or subscribed. */
void dr_exec_client_start(dr_exec_client *c);
/* Closes the subscription and stops resubscribing (IDLE); no callback. */
void dr_exec_client_stop(dr_exec_client *c);

dr_exec_client_state dr_exec_client_get_state(const dr_exec_client *c);

/* Sends a status update (borrowed; copied with a new uuid, the executor id
 * and a timestamp) and keeps it until acknowledged; while not subscribed it
 * waits for the next SUBSCRIBE. task_id and state are required. uuid_out
 * (may be NULL) gets the uuid (DR_EXEC_UUID_SIZE bytes). Errors: DR_EINVAL
 * for a status without task id; DR_ETOOBIG past DR_EXEC_UPDATE_COUNT_MAX. */
dr_code dr_exec_client_update(dr_exec_client *c, const Mesos__TaskStatus *status,
                              uint8_t *uuid_out, dr_err *err) DR_MUST_USE;
/* Keeps a launched task (copied) until one of its updates is acknowledged;
 * the client does this itself for LAUNCH and LAUNCH_GROUP. */
void dr_exec_client_keep_task(dr_exec_client *c, const Mesos__TaskInfo *task);
/* MESSAGE to the framework (data borrowed). DR_ECLOSED when not subscribed. */
dr_code dr_exec_client_message(dr_exec_client *c, const uint8_t *data, size_t size,
                               dr_err *err) DR_MUST_USE;
/* HEARTBEAT. DR_ECLOSED when not subscribed. */
dr_code dr_exec_client_heartbeat(dr_exec_client *c, dr_err *err) DR_MUST_USE;

/* Updates not yet acknowledged, and tasks kept. */
size_t dr_exec_client_unacked_update_count(const dr_exec_client *c);
size_t dr_exec_client_unacked_task_count(const dr_exec_client *c);

typedef struct dr_exec_client_stats {
    uint64_t subscribe_count;  /* SUBSCRIBE calls sent */
    uint64_t subscribed_count; /* SUBSCRIBED events */
    uint64_t event_count;
    uint64_t update_count;     /* UPDATE calls sent (resends in SUBSCRIBE not counted) */
    uint64_t update_resent_count; /* of which: again after the agent answered 5xx */
    uint64_t call_failed_count;
} dr_exec_client_stats;
void dr_exec_client_get_stats(const dr_exec_client *c, dr_exec_client_stats *out);

/* Parses MESOS_AGENT_ENDPOINT ("host:port", optionally "http://host:port/")
 * into host_out[host_size] and *port_out. DR_EINVAL quoting the text. */
dr_code dr_exec_parse_endpoint(const char *text, char *host_out, size_t host_size,
                               uint16_t *port_out, dr_err *err) DR_MUST_USE;

#endif /* DR_EXECUTOR_CLIENT_H */
