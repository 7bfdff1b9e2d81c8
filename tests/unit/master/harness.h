/* tests/unit/master/harness.h — a simulated cluster for the master's unit
 * tests: the master on host "master-1", scheduler clients speaking the v1
 * scheduler API over real HTTP (JSON or protobuf, RecordIO events), and a
 * minimal fake agent speaking the internal protocol (REGISTER stream, PONGs,
 * RUN_TASK answered with status updates resent every second until
 * ACKNOWLEDGE, KILL_TASK answered with TASK_KILLED).
 *
 * Everything runs on the simulator's virtual clock: no sleeps.
 */
#ifndef DR_TEST_MASTER_HARNESS_H
#define DR_TEST_MASTER_HARNESS_H

#include "sim/sim.h"
#include "src/http/client.h"
#include "src/http/negotiate.h"
#include "src/http/recordio.h"
#include "src/master/master.h"
#include "src/proto/json.h"
#include "src/proto/proto.h"
#include "internal.pb-c.h"

typedef struct world world;

typedef struct sched {
    world *w;
    dr_env *env;
    dr_http_client *client;
    dr_http_call *stream_call;
    dr_http_codec codec;
    int sub_status;
    char stream_id[64];
    char fw_id[128];
    dr_recordio_decoder dec;
    Mesos__Scheduler__Event **events; /* malloc'd messages */
    size_t event_count;
    bool stream_done;
    /* the last plain call */
    bool call_done;
    int call_status;
    char call_body[1024];
} sched;

typedef struct fa_task {
    char fw_id[128];
    char id[128];
    Mesos__TaskState state;
    Mesos__TaskInfo *info;       /* malloc'd */
    Mesos__FrameworkInfo *fwinfo; /* malloc'd */
    uint8_t uuid[16];
    bool pending; /* an update waiting for its ACKNOWLEDGE */
} fa_task;

typedef struct fake_agent {
    world *w;
    dr_env *env;
    dr_http_client *client;
    dr_http_call *stream_call;
    char hostname[64];
    const char *resources;
    char agent_id[128];
    char session[64];
    dr_recordio_decoder dec;
    int reg_status;
    bool registered;
    bool answer_pings;
    bool answer_run; /* answer RUN_TASK with TASK_RUNNING */
    int event_counts[16]; /* by AgentEvent type */
    char last_shutdown[256];
    fa_task tasks[32];
    size_t task_count;
    uint32_t uuid_counter;
    dr_timer_id resend_timer;
    int last_call_status;
} fake_agent;

struct world {
    dr_sim *sim;
    dr_env *master_env;
    dr_pid master_pid;
    dr_master *master;
    uint16_t port;
    sched scheds[3];
    fake_agent agents[3];
    dr_env *host_envs[8];
};

void world_init(world *w, uint64_t seed, const dr_master_opts *opts);
void world_deinit(world *w);
void world_run(world *w, uint64_t delta_ns);

/* Schedulers. extra_json is inserted into framework_info ("" or
 * ",\"failover_timeout\":60"). Runs until SUBSCRIBED or an answer. */
sched *sched_new(world *w, int index, dr_http_codec codec);
void sched_subscribe(sched *s, const char *extra_json);
/* Sends SUBSCRIBE without running the simulation. */
void sched_subscribe_start(sched *s, const char *extra_json);
void sched_subscribe_pa(sched *s, const char *extra_json); /* PARTITION_AWARE */
/* A plain call with the framework's stream id; returns the status. */
int sched_call(sched *s, const char *fmt, ...) DR_PRINTF(2, 3);
int sched_call_raw(sched *s, const char *content_type, const char *stream_id, const void *body,
                   size_t size);
void sched_disconnect(sched *s);
/* Callbacks that record a plain call's answer in call_done/status/body. */
const dr_http_call_cbs *harness_sched_call_cbs(void);
size_t sched_count(const sched *s, Mesos__Scheduler__Event__Type type);
/* The index-th event of type (0-based), or NULL. */
const Mesos__Scheduler__Event *sched_event(const sched *s, Mesos__Scheduler__Event__Type type,
                                           size_t index);
const Mesos__Scheduler__Event *sched_last(const sched *s, Mesos__Scheduler__Event__Type type);
void sched_clear(sched *s);
int sched_accept_task(sched *s, const char *offer_id, const char *agent_id, const char *task_id,
                      const char *resources_json);
int sched_ack(sched *s, const Mesos__TaskStatus *st);

/* Agents. */
fake_agent *agent_new(world *w, int index, const char *hostname, const char *resources);
void agent_register(fake_agent *a);
void agent_disconnect(fake_agent *a);
void agent_send_message(fake_agent *a, const char *fw_id, const char *executor_id,
                        const char *data);
void agent_unregister(fake_agent *a);
/* Sends an update with state for t (as a late, older copy would arrive)
 * without changing what the agent believes. */
void agent_send_stale(fake_agent *a, fa_task *t, Mesos__TaskState state);
/* Destroys the master and starts a new one (new id, empty state) on the same port. */
void world_restart_master(world *w);
fa_task *agent_task(fake_agent *a, const char *task_id);
/* Callbacks that record the answer's status in last_call_status. */
const dr_http_call_cbs *harness_agent_post_cbs(void);
void agent_set_state(fake_agent *a, fa_task *t, Mesos__TaskState state);

#endif
