/* sim/scenarios/master_cluster.h — the harness behind the master_* scenarios:
 * a simulated cluster of one Dromos master (src/master, as the registered
 * program "master"), test agents (src/testagent, program "testagent") and
 * simulated frameworks (src/sched, program "simsched"), every call going
 * through HTTP and the codecs over simulated streams.
 *
 * Checkers run after every event and read ground truth from the test agents
 * and the frameworks (never from the master's tables):
 *   offers      an offer id reaches one framework only; on every agent, the
 *               resources of offers outstanding (received, not accepted,
 *               declined or rescinded, subscription alive) plus what its tasks
 *               really hold fit in what the agent advertised;
 *   overcommit  on every agent the tasks it really runs fit its real total;
 *   updates     per task, what a framework receives (uuid-bearing, de-dup'd)
 *               is an in-order prefix of what the agent generated; no update
 *               is sent after its ack; after the quiet phase everything
 *               generated was received and acknowledged;
 *   converge    after the faults heal, explicit reconciliation answers, per
 *               task, the state the agent really has it in (a task no agent
 *               runs must not be reported live).
 * Planted bugs (one per checker) are compiled in with -D: see
 * src/testagent/testagent.h (DR_PLANTED_AGENT_*) and, here,
 * DR_PLANTED_SCHED_KEEP_OFFER (a framework keeps an offer after accepting it).
 */
#ifndef DR_SIM_MASTER_CLUSTER_H
#define DR_SIM_MASTER_CLUSTER_H

#include <stdio.h>

#include "sim/sim.h"

typedef enum dr_mcheck {
    DR_MCHECK_OFFERS = 0,
    DR_MCHECK_OVERCOMMIT,
    DR_MCHECK_UPDATES,
    DR_MCHECK_CONVERGE,
    DR_MCHECK_COUNT
} dr_mcheck;

const char *dr_mcheck_name(dr_mcheck check);

/* What a scenario does; each master_* scenario is one plan. */
typedef struct dr_mcluster_plan {
    const char *name;
    uint32_t agent_count_min, agent_count_max;
    uint32_t framework_count_min, framework_count_max;
    uint32_t tasks_per_framework;
    bool kills;              /* frameworks kill some of their long tasks */
    bool json_frameworks;    /* some frameworks speak JSON */
    bool framework_failover; /* a framework process stops and a new one fails over */
    bool master_restart;     /* the master process stops and a new one starts */
    bool agent_partition;    /* an agent is cut off from the master, then returns */
    bool net_faults;         /* latency tail, resets and stalls (drawn per seed) */
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

/* The plans of the registered scenarios, by scenario name; NULL if unknown. */
const dr_mcluster_plan *dr_mcluster_plan_find(const char *name);

/* The registered programs (kept static const). */
extern const dr_sim_program dr_mcluster_master_program;
extern const dr_sim_program dr_mcluster_agent_program;
extern const dr_sim_program dr_mcluster_sched_program;

#endif /* DR_SIM_MASTER_CLUSTER_H */
