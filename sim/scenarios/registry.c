/* sim/scenarios/registry.c — the table of scenarios `dromos sim` can run.
 * Each scenario lives in sim/scenarios/<name>.c and exports one
 * dr_sim_scenario; add it to the table below (keep the table sorted by name:
 * --list prints it in this order).
 */
#include "sim/sim.h"

#include <string.h>

extern const dr_sim_scenario dr_sim_scenario_ping;
#ifdef DR_SIM_HAVE_COUNTER
extern const dr_sim_scenario dr_sim_scenario_counter;
#endif
#ifdef DR_SIM_HAVE_AGENT
extern const dr_sim_scenario dr_sim_scenario_agent_chaos;
extern const dr_sim_scenario dr_sim_scenario_agent_crash;
extern const dr_sim_scenario dr_sim_scenario_agent_crash_steps;
extern const dr_sim_scenario dr_sim_scenario_agent_launch;
extern const dr_sim_scenario dr_sim_scenario_agent_stall;
#endif
#ifdef DR_SIM_HAVE_MASTER
extern const dr_sim_scenario dr_sim_scenario_master_chaos;
extern const dr_sim_scenario dr_sim_scenario_master_failover;
extern const dr_sim_scenario dr_sim_scenario_master_launch;
extern const dr_sim_scenario dr_sim_scenario_master_partition;
#endif

static const dr_sim_scenario *const scenarios[] = {
#ifdef DR_SIM_HAVE_AGENT
    &dr_sim_scenario_agent_chaos, /* real agents in the master harness (agent_scenarios.c) */
    &dr_sim_scenario_agent_crash,
    &dr_sim_scenario_agent_crash_steps,
    &dr_sim_scenario_agent_launch,
    &dr_sim_scenario_agent_stall,
#endif
#ifdef DR_SIM_HAVE_COUNTER
    &dr_sim_scenario_counter, /* the replicated counter demo (src/demo) */
#endif
#ifdef DR_SIM_HAVE_MASTER
    &dr_sim_scenario_master_chaos,     /* the master scenarios (master_cluster.c) */
    &dr_sim_scenario_master_failover,
    &dr_sim_scenario_master_launch,
    &dr_sim_scenario_master_partition,
#endif
    &dr_sim_scenario_ping,
    /* new scenarios go here */
};

const dr_sim_scenario *dr_sim_scenario_find(const char *name)
{
    for (size_t i = 0; i < DR_ARRAY_COUNT(scenarios); i++)
        if (strcmp(scenarios[i]->name, name) == 0)
            return scenarios[i];
    return NULL;
}

size_t dr_sim_scenario_count(void) { return DR_ARRAY_COUNT(scenarios); }

const dr_sim_scenario *dr_sim_scenario_at(size_t index)
{
    DR_ASSERT(index < DR_ARRAY_COUNT(scenarios));
    return scenarios[index];
}
