/* src/testagent/testagent.h — a test agent: the agent side of Dromos's
 * master–agent protocol (src/proto/internal.proto) with simulated tasks, over
 * dr_env only, so it runs in the simulator and for real (`dromos test-agent`).
 *
 * What it does:
 * - REGISTER as a streaming call to the master's /internal/agent; events
 *   arrive as RecordIO of AgentEvent (protobuf). A broken stream, a refused
 *   connect, a 409 (stale session) or missed pings re-register with every task
 *   it runs and their latest states, after a jittered doubling backoff.
 * - PING -> PONG with the ping's sequence.
 * - RUN_TASK / RUN_TASK_GROUP start simulated tasks: TASK_STARTING, then
 *   TASK_RUNNING, then an end after a run time. The command value decides the
 *   end ("conventions"):
 *       "sleep S"      runs S seconds (decimal), then TASK_FINISHED
 *       "sleep inf"    runs until killed
 *       "exit N"       N == 0: TASK_FINISHED, else TASK_FAILED (after the run time)
 *       "sleep S; exit N" both; anything else: a run time drawn from the
 *       seeded stream "testagent.tasks" in [task_run_min_ns, task_run_max_ns]
 *   Whatever the master launches runs, even when it does not fit: the agent
 *   counts such launches (overcommit_count) and the checkers see the truth.
 * - KILL_TASK -> TASK_KILLED (unknown task: TASK_LOST, no uuid needed but one
 *   is given so it is acknowledged like any other); SHUTDOWN_FRAMEWORK kills
 *   that framework's tasks; SHUTDOWN kills everything and stops.
 * - Status updates form one stream per task: only the head (oldest
 *   unacknowledged) is sent, and resent with backoff (update_retry_min_ns
 *   doubling to update_retry_max_ns; Mesos: 10 s to 10 min) until an
 *   ACKNOWLEDGE with its uuid arrives; uuids are 16 bytes from
 *   dr_env_rng("testagent.uuids").
 *
 * Ground truth for checkers (read-only, never from the master): the tasks it
 * runs, every update it generated with its uuid, when each was sent and
 * acknowledged, and the resources in use against its total.
 *
 * Planted bugs (compiled in with -D, for the simulator's checker tests):
 *   DR_PLANTED_AGENT_OVERCOMMIT     advertises twice its cpus and mem
 *   DR_PLANTED_AGENT_RESEND_ACKED   keeps resending an update after its ack
 *   DR_PLANTED_AGENT_OUT_OF_ORDER   sends each new update at once, ahead of older
 *                                   unacknowledged ones (the head waits for its timer)
 *   DR_PLANTED_AGENT_FORGET_TASKS   re-registers reporting no tasks
 */
#ifndef DR_TESTAGENT_H
#define DR_TESTAGENT_H

#include "src/env/env.h"
#include "src/proto/proto.h"
#include "src/resources/resources.h"

typedef struct dr_testagent dr_testagent;

typedef struct dr_testagent_opts {
    const char *master_host; /* copied */
    uint16_t master_port;
    const char *master_path; /* NULL: "/internal/agent" */
    const char *hostname;    /* advertised; NULL: the env's host name */
    uint16_t port;           /* advertised AgentInfo.port; 0: 5051 */
    const char *resources;   /* --resources text; NULL: cpus and mem of the host */
    uint64_t task_run_min_ns; /* 0: 1 s */
    uint64_t task_run_max_ns; /* 0: 5 s */
    uint64_t task_start_ns;   /* STARTING -> RUNNING; 0: 10 ms */
    uint64_t update_retry_min_ns; /* 0: 10 s */
    uint64_t update_retry_max_ns; /* 0: 10 min */
    uint64_t register_backoff_min_ns; /* 0: 1 s */
    uint64_t register_backoff_max_ns; /* 0: 60 s */
    uint64_t call_timeout_ns;         /* 0: 10 s */
} dr_testagent_opts;

/* Creates the agent on env (kept) and registers at once. Errors: DR_EINVAL
 * for a missing master host or bad resources (quoting them). */
dr_code dr_testagent_create(dr_env *env, const dr_testagent_opts *opts, dr_testagent **out,
                            dr_err *err) DR_MUST_USE;
/* Frees everything; connections aborted. NULL ok. */
void dr_testagent_destroy(dr_testagent *a);
/* ---- ground truth (read-only) ------------------------------------------------ */

typedef struct dr_testagent_update {
    Mesos__TaskState state;
    uint8_t uuid[16];
    uint64_t generated_ns;
    uint64_t send_count;
    uint64_t last_sent_ns;   /* 0: never sent */
    uint64_t acked_ns;       /* 0: not acknowledged */
    uint64_t sent_after_ack_count; /* sends after acked_ns: must stay 0 */
} dr_testagent_update;

typedef struct dr_testagent_task {
    const char *task_id;
    const char *framework_id;
    Mesos__TaskState state; /* latest */
    bool holds_resources;   /* launched and not terminal */
    const dr_resources *resources;
    size_t update_count;
    const dr_testagent_update *updates; /* in generation order */
    size_t acked_count;                 /* updates[0..acked_count) are acknowledged */
} dr_testagent_task;

typedef struct dr_testagent_info {
    const char *agent_id; /* "" until registered */
    bool registered;      /* a live REGISTER stream */
    uint64_t register_count;
    uint64_t registered_count;
    uint64_t ping_count;
    uint64_t update_send_count;
    uint64_t ack_count;
    uint64_t ack_unknown_count; /* acks for no pending update (duplicates) */
    uint64_t run_task_count;
    uint64_t run_task_dup_count;
    uint64_t kill_count;
    uint64_t sent_after_ack_count; /* sends of an already acknowledged update */
    uint64_t overcommit_count; /* launches that did not fit (planted bug ran them) */
    bool shut_down;
} dr_testagent_info;

void dr_testagent_get_info(const dr_testagent *a, dr_testagent_info *out);
/* Tasks in launch order (stable indices). Borrowed until the next event. */
size_t dr_testagent_task_count(const dr_testagent *a);
void dr_testagent_task_at(const dr_testagent *a, size_t index, dr_testagent_task *out);
/* index of task (framework_id, task_id), or SIZE_MAX. */
size_t dr_testagent_task_find(const dr_testagent *a, const char *framework_id,
                              const char *task_id);
/* The real total (not what a planted bug advertises) and what tasks hold. */
const dr_resources *dr_testagent_total(const dr_testagent *a);
const dr_resources *dr_testagent_used(const dr_testagent *a);
/* What REGISTER reports as the total (differs only under a planted bug). */
const dr_resources *dr_testagent_advertised(const dr_testagent *a);

/* Names of the task-state enum ("TASK_RUNNING"), for messages. */
const char *dr_testagent_state_name(Mesos__TaskState state);
bool dr_testagent_state_terminal(Mesos__TaskState state);

/* ---- command line --------------------------------------------------------------- */

/* The flags of `dromos test-agent` and of the simulator program "testagent"
 * (sim/scenarios/master_cluster.c):
 *   --master HOST:PORT [--resources TEXT] [--port P] [--hostname H]
 *   [--task_run_min_ms N] [--task_run_max_ms N] [--update_retry_min_ms N]
 *   [--update_retry_max_ms N] [--register_backoff_min_ms N]
 *   [--register_backoff_max_ms N]
 * Parses argv (argv[0] is the program name) into opts; strings
 * point into argv or host_buf. Errors name the flag. */
dr_code dr_testagent_parse_args(int argc, char **argv, dr_testagent_opts *opts, char *host_buf,
                                size_t host_size, dr_err *err) DR_MUST_USE;

#endif /* DR_TESTAGENT_H */
