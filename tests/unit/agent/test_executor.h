/* tests/unit/agent/test_executor.h — a tiny executor speaking the v1
 * executor API (protobuf), for the agent's tests until `dromos executor`
 * exists. It runs over any env (a simulator program, or a real process).
 *
 * Configuration comes from the MESOS_* environment, given as "--env=K=V"
 * arguments (the agent's env_in_argv) or, in a real process, read by its main.
 * A task's behaviour is its command value (TaskInfo.command.value):
 *   "finish" TASK_RUNNING, then TASK_FINISHED after 1 s ("finishN": N s)
 *   "fail"   TASK_RUNNING, then TASK_FAILED after 1 s
 *   anything else: TASK_RUNNING until KILL (then TASK_KILLED)
 * Updates stay unacknowledged until ACKNOWLEDGED; an UPDATE answered 5xx (or
 * not at all) is
 * sent again (with the other unacknowledged ones) after 500 ms; when the stream breaks it
 * re-subscribes every 200 ms with its unacknowledged tasks and updates.
 * On SHUTDOWN it reports TASK_KILLED for its live tasks and then waits for
 * the agent to kill it.
 */
#ifndef DR_TEST_EXECUTOR_H
#define DR_TEST_EXECUTOR_H

#include "src/env/env.h"

typedef struct texec texec;

/* envp: "K=V" strings (borrowed). NULL on a missing MESOS_* variable. */
texec *texec_create(dr_env *env, const char *const *envp, size_t envc);
void texec_destroy(texec *x);
/* Counters for tests. */
unsigned texec_subscribe_count(const texec *x);
unsigned texec_ack_count(const texec *x);
unsigned texec_update_refused_count(const texec *x); /* UPDATEs answered 5xx */

#endif
