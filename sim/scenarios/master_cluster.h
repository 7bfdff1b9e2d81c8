/* sim/scenarios/master_cluster.h — the harness behind the master_* and
 * agent_* scenarios: a simulated cluster of one Dromos master (src/master, as
 * the registered program "master"), agents and simulated frameworks
 * (src/sched, program "simsched"), every call going through HTTP and the
 * codecs over simulated streams. The agents are test agents (src/testagent,
 * program "testagent") or, when the plan names real_agents, the real agent
 * (src/agent) running the real command executor (src/executor) whose tasks
 * are simulated shell processes (sim/scenarios/agent_cluster.c).
 *
 * Checkers run after every event and read ground truth from the agents
 * (the test agents' records; for real agents their checkpoints on the
 * simulated disk and the simulated process table) and the frameworks (never
 * from the master's tables):
 *   offers      an offer id reaches one framework only; on every agent, the
 *               resources of offers outstanding (received, not accepted,
 *               declined or rescinded, subscription alive) plus what its tasks
 *               really hold fit in what the agent advertised;
 *   overcommit  on every agent the tasks it really runs fit its real total;
 *   updates     per task, what a framework receives (uuid-bearing, de-dup'd)
 *               is an in-order prefix of what the agent generated; no update
 *               is sent after its ack (test agents, which log their sends);
 *               after the quiet phase everything generated was received and
 *               acknowledged;
 *   converge    after the faults heal, explicit reconciliation answers, per
 *               task, the state the agent really has it in (a task no agent
 *               runs must not be reported live); with real agents also what
 *               the agent says against what runs (a live state with no
 *               process, a terminal one with its process still there).
 * Planted bugs (one per checker) are compiled in with -D: see
 * src/testagent/testagent.h (DR_PLANTED_AGENT_*), agent_cluster.c
 * (DR_PLANTED_REAL_AGENT_*) and, here, DR_PLANTED_SCHED_KEEP_OFFER (a
 * framework keeps an offer after accepting it).
 */
#ifndef DR_SIM_MASTER_CLUSTER_H
#define DR_SIM_MASTER_CLUSTER_H

#include <stdio.h>

#include "sim/sim.h"
#include "src/proto/proto.h"

typedef enum dr_mcheck {
    DR_MCHECK_OFFERS = 0,
    DR_MCHECK_OVERCOMMIT,
    DR_MCHECK_UPDATES,
    DR_MCHECK_CONVERGE,
    DR_MCHECK_COUNT
} dr_mcheck;

const char *dr_mcheck_name(dr_mcheck check);

/* Ground truth about one task on one agent, whatever the kind of agent. */
#define DR_MTRUTH_UPDATE_MAX 32u
typedef struct dr_mtruth_update {
    Mesos__TaskState state;
    uint8_t uuid[16];
} dr_mtruth_update;

typedef struct dr_mtruth_task {
    char framework_id[128];
    char task_id[64];
    Mesos__TaskState state;  /* latest generated; TASK_STAGING before the first */
    size_t update_count;     /* updates generated (distinct uuids), in order */
    dr_mtruth_update updates[DR_MTRUTH_UPDATE_MAX];
    bool overflow;           /* more than DR_MTRUTH_UPDATE_MAX */
    size_t acked_count;      /* updates[0..acked_count) are acknowledged */
} dr_mtruth_task;

/* Real agents (sim/scenarios/agent_cluster.c): how the harness starts them
 * and reads their truth. Reached through the plan so that builds of the
 * harness without the agent (tests/unit/sched's planted-bug programs) link. */
typedef struct dr_mcluster_real {
    /* Registers the agent, executor and shell programs; returns the reader
     * (owned: destroy). */
    void *(*create)(dr_sim *sim, FILE *out);
    void (*destroy)(void *rt);
    /* Starts the agent process on host; 0 if it could not start. */
    dr_pid (*agent_start)(void *rt, dr_sim_host_id host, const char *master,
                          const char *resources);
    /* After every event: notices processes that started or ended. Returns a
     * number that changes whenever a task process starts or ends. */
    uint64_t (*step)(void *rt);
    /* The agent id the host's agent checkpointed ("" when none yet). */
    const char *(*agent_id)(void *rt, dr_sim_host_id host);
    /* Whether task_id's process runs on host now. */
    bool (*task_runs)(void *rt, dr_sim_host_id host, const char *task_id);
    /* The ids of the tasks whose processes run on host: calls fn for each. */
    void (*running)(void *rt, dr_sim_host_id host,
                    void (*fn)(const char *task_id, void *ctx), void *ctx);
    /* The task's stream as its agent checkpointed it; false if unknown. */
    bool (*task)(void *rt, dr_sim_host_id host, const char *framework_id, const char *task_id,
                 dr_mtruth_task *out);
    /* Every task the host's agent checkpointed (returns owned, dr_free;
     * *count set). */
    dr_mtruth_task *(*tasks)(void *rt, dr_sim_host_id host, size_t *count);
    /* A live executor process on host, the draw-th (modulo their number) in
     * pid order; 0 if none. */
    dr_pid (*executor_pick)(void *rt, dr_sim_host_id host, uint64_t draw);
} dr_mcluster_real;

/* What a scenario does; each master_* and agent_* scenario is one plan. */
typedef struct dr_mcluster_plan {
    const char *name;
    uint32_t agent_count_min, agent_count_max;
    uint32_t framework_count_min, framework_count_max;
    uint32_t tasks_per_framework;
    bool kills;              /* frameworks kill some of their long tasks */
    bool json_frameworks;    /* some frameworks speak JSON */
    bool framework_failover; /* a framework process stops and a new one fails over */
    bool master_restart;     /* the master process crashes and a new one starts */
    bool agent_partition;    /* an agent is cut off from the master, then returns */
    bool net_faults;         /* latency tail, resets and stalls (drawn per seed) */
    /* NULL: test agents; else real agents, executors and task processes. */
    const dr_mcluster_real *real_agents;
    uint32_t agent_crashes_max;  /* agent processes killed (SIGKILL) and restarted */
    uint32_t host_reboots_max;   /* agent hosts crashed (unsynced pages lost) and rebooted */
    /* half the agent crashes come right after a drawn event (by count), not
     * at a drawn time: busy moments get their share of crashes */
    bool crash_after_events;
    /* with each agent crash, one of its executors is paused until after the
     * agent is back (it misses the re-registration window) */
    bool executor_pauses;
} dr_mcluster_plan;

typedef struct dr_mcluster_report {
    uint64_t violation_count[DR_MCHECK_COUNT];
    char first_violation[DR_MCHECK_COUNT][320];
    uint64_t tasks_launched;
    uint64_t updates_generated;
    uint64_t updates_received;
    uint64_t offers_received;
    uint64_t events;
} dr_mcluster_report;

/* Runs plan with opts->seed; prints options and results to out; returns 0 if
 * every checker held. report (may be NULL) gets the details. */
int dr_mcluster_run(const dr_mcluster_plan *plan, const dr_sim_opts *opts, FILE *out,
                    uint64_t *trace_hash_out, dr_mcluster_report *report);

/* The plans of the registered master_* scenarios (master_scenarios.c), and
 * of the agent_* ones (agent_scenarios.c), by scenario name; NULL if
 * unknown. */
const dr_mcluster_plan *dr_mcluster_plan_find(const char *name);
const dr_mcluster_plan *dr_mcluster_agent_plan_find(const char *name);

/* The real agents' reader (agent_cluster.c). */
extern const dr_mcluster_real dr_mcluster_real_agents;

/* The registered programs (kept static const). */
extern const dr_sim_program dr_mcluster_master_program;
extern const dr_sim_program dr_mcluster_agent_program;
extern const dr_sim_program dr_mcluster_sched_program;

#endif /* DR_SIM_MASTER_CLUSTER_H */
