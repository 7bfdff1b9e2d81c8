/* tests/unit/agent/harness.h — a simulated world for the agent's tests: a
 * fake master (the master side of the internal protocol: REGISTER streams
 * answered with REGISTERED, status updates recorded and, when auto_ack is
 * on, acknowledged at once) on host "master", the real agent (its simulator
 * program) on host "agent1", and the test executor (test_executor.h) as the
 * program the agent launches for command tasks. No sleeps: virtual time.
 */
#ifndef DR_TEST_AGENT_HARNESS_H
#define DR_TEST_AGENT_HARNESS_H

#include "sim/sim.h"
#include "src/agent/agent.h"
#include "src/http/client.h"
#include "src/http/server.h"
#include "src/proto/proto.h"
#include "internal.pb-c.h"

#define FM_UPDATE_MAX 512

typedef struct fm_update {
    char task_id[64];
    int state;
    uint8_t uuid[64];
    size_t uuid_size;
    int reason;
    char message[200];
    uint64_t at_ns;
} fm_update;

typedef struct fake_master {
    dr_env *env;
    dr_http_server *server;
    dr_http_response *stream;
    char agent_id[64];
    char session[32];
    unsigned session_count;
    unsigned register_count;
    size_t last_register_tasks;
    size_t last_register_executors;
    int last_register_task_state; /* of the first task reported */
    bool auto_ack;
    fm_update updates[FM_UPDATE_MAX];
    size_t update_count;
    unsigned pong_count;
    unsigned stale_count; /* calls refused with 409 */
} fake_master;

typedef struct world {
    dr_sim *sim;
    fake_master fm;
    dr_sim_host_id master_host, agent_host;
    dr_pid master_pid, agent_pid;
    dr_env *agent_host_env; /* a blank process on the agent's host, for file access */
    const char *extra_args[8];
} world;

void world_init(world *w, uint64_t seed);
void world_deinit(world *w);
void world_run(world *w, uint64_t ns);
/* Starts the agent process (argv: defaults plus w->extra_args). */
dr_pid world_agent_start(world *w);
dr_agent *world_agent(world *w); /* NULL when its process is gone */
void world_agent_crash(world *w);

void fm_run_task(world *w, const char *fw_id, const char *task_id, const char *command,
                 bool checkpoint, const char *resources);
/* fm_run_task with more of the task: users and ContainerInfo.rlimit_info. */
typedef struct fm_task_opts {
    bool checkpoint;
    const char *resources;             /* NULL: none */
    const char *framework_user;        /* NULL: "tester" */
    const char *command_user;          /* NULL: unset */
    const Mesos__RLimitInfo *rlimit_info; /* NULL: no ContainerInfo */
} fm_task_opts;
void fm_run_task_with(world *w, const char *fw_id, const char *task_id, const char *command,
                      const fm_task_opts *o);
void fm_kill_task(world *w, const char *fw_id, const char *task_id);
/* SUBSCRIBED events a "late-executor" (the test executor, subscribing 1.5 s
 * after its start) received; 0 before it tried or once gone. */
unsigned late_executor_subscribe_count(world *w, dr_pid pid);
/* A "tree-executor" (the test executor that also starts a task process in
 * a session of its own, which has a child there, as `dromos executor`
 * does, and a job: a child in the executor's own session and group): the
 * pids of that task process, its child and the job. */
void tree_executor_pids(world *w, dr_pid executor, dr_pid *task, dr_pid *task_child,
                        dr_pid *job);
/* RUN_TASK with the task's command carrying one URI (fetched first). */
void fm_run_task_uri(world *w, const char *fw_id, const char *task_id, const char *command,
                     const char *uri);
/* RUN_TASK_GROUP of task_count tasks under a DEFAULT executor ex_id. */
void fm_run_group(world *w, const char *fw_id, const char *ex_id, const char *const *task_ids,
                  size_t task_count, const char *command);
void fm_shutdown_framework(world *w, const char *fw_id);
void fm_ack(world *w, const char *fw_id, const fm_update *u);
void fm_send(world *w, const Dromos__Internal__AgentEvent *ev);
/* Updates seen for task with state (any state: -1). */
size_t fm_count(const world *w, const char *task_id, int state);
const fm_update *fm_last(const world *w, const char *task_id);

/* A GET or POST on the agent (blank process on master host); returns the
 * status and fills body (reset first). */
int agent_http(world *w, const char *method, const char *target, const char *content_type,
               const char *body, dr_buf *out);

#endif
