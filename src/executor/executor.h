/* src/executor/executor.h — Dromos's built-in executors, as Mesos's command
 * executor and default executor, over the v1 executor API (client.h).
 *
 * The command executor (DR_EXECUTOR_COMMAND) runs the one task of a LAUNCH:
 * its CommandInfo in shell form (`/bin/sh -c value`) or argv form (value is
 * the program, searched in PATH; arguments[1..] follow it), with the
 * executor's environment plus the command's variables, in the sandbox, its
 * stdout and stderr appended to the sandbox's stdout and stderr files, in
 * its own session (so a kill reaches the whole tree). It reports
 * TASK_STARTING, TASK_RUNNING, then one of
 *   TASK_FINISHED  exit 0                       "Command exited with status 0"
 *   TASK_FAILED    exit N != 0 or a signal     "Command exited with status N" /
 *                                               "Command terminated with signal Killed"
 *   TASK_KILLED    after KILL or SHUTDOWN       (same message forms)
 * TASK_KILLING first when the framework has the TASK_KILLING_STATE
 * capability (read from SUBSCRIBED's framework_info, as Mesos does, unless
 * opts.task_killing forces it). A kill sends SIGTERM to the task's process
 * group, then SIGKILL after the grace period: KILL's kill_policy, else the
 * task's kill_policy, else opts.kill_grace_period_ns (Mesos: 3 s). SHUTDOWN
 * kills every task with the shutdown grace period less one second.
 *
 * The default executor (DR_EXECUTOR_DEFAULT) runs LAUNCH_GROUP task groups,
 * each task as a child process of its own in <sandbox>/tasks/<task id>
 * (MESOS_SANDBOX points there), each reported separately. As in Mesos, a task
 * of a group that ends TASK_FAILED or TASK_KILLED (a failing health check
 * included) kills the rest of its group, and KILL of one task kills its
 * group; not while the executor shuts down.
 *
 * Health checks (TaskInfo.health_check: COMMAND, HTTP, TCP) follow Mesos:
 * first after delay_seconds, then every interval_seconds, each given
 * timeout_seconds; failures inside grace_period_seconds before the first
 * success are ignored; every failure, the first success and the first
 * success after failures are reported as TASK_RUNNING with `healthy` set and
 * reason REASON_TASK_HEALTH_CHECK_STATUS_UPDATED;
 * consecutive_failures failures in a row kill the task (TASK_KILLED,
 * healthy false).
 *
 * The executor is done (done fires) once every task is terminal and every
 * update acknowledged, or when the agent is lost (client.h), or
 * terminal_ack_timeout_ns after the last terminal update while subscribed.
 *
 * Core code: processes, timers and sockets only through the env.
 */
#ifndef DR_EXECUTOR_H
#define DR_EXECUTOR_H

#include "client.h"

typedef struct dr_executor dr_executor;

typedef enum dr_executor_kind {
    DR_EXECUTOR_COMMAND = 0,
    DR_EXECUTOR_DEFAULT,
} dr_executor_kind;

typedef struct dr_executor_opts {
    dr_executor_kind kind;
    dr_exec_client_opts client; /* the agent and ids (copied by the client) */
    const char *sandbox;        /* MESOS_SANDBOX; copied; required */
    /* The tasks' base environment ("K=V", NULL-terminated; borrowed, copied):
     * usually the executor's own. */
    const char *const *task_env;
    uint64_t kill_grace_period_ns;     /* 0: 3 s (Mesos's default kill policy) */
    uint64_t shutdown_grace_period_ns; /* MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD; 0: 5 s */
    int task_killing; /* < 0: from the framework's capabilities; 0: never; > 0: always */
    uint64_t terminal_ack_timeout_ns; /* 0: 60 s */
} dr_executor_opts;

/* exit_code: 0 when every task's terminal update was acknowledged, 1 when
 * the agent was lost or acknowledgements never came. */
typedef void dr_executor_done_fn(dr_env *env, int exit_code, void *ctx);

/* Creates the executor on env (kept) and subscribes. done (kept) fires once,
 * from the loop. Errors: those of dr_exec_client_create; DR_EINVAL without a
 * sandbox. */
dr_code dr_executor_create(dr_env *env, const dr_executor_opts *opts, dr_executor_done_fn *done,
                           void *ctx, dr_executor **out, dr_err *err) DR_MUST_USE;
/* Frees everything; running tasks keep running; no callback fires. NULL ok.
 * Allowed from inside done (which fires from a timer of its own). */
void dr_executor_destroy(dr_executor *ex);

/* Acts as a SHUTDOWN event (for SIGTERM): every task is killed with the
 * shutdown grace period less a second, then the executor is done. */
void dr_executor_shutdown(dr_executor *ex);

/* For tests: the client, and a task's pid (0 when not running or unknown). */
dr_exec_client *dr_executor_client(dr_executor *ex);
dr_pid dr_executor_task_pid(const dr_executor *ex, const char *task_id);

#endif /* DR_EXECUTOR_H */
