/* sim/scenarios/master_scenarios.c — the master_* scenarios: one plan each
 * for the harness in master_cluster.c (which states the checkers).
 *
 *   master_launch     frameworks (protobuf and JSON) launch, kill and
 *                     reconcile tasks on test agents; latency only.
 *   master_failover   as launch, plus a framework process that stops and is
 *                     replaced by a new one failing over with its id, and a
 *                     master crash and restart (frameworks re-subscribe with ids the new
 *                     master does not know, agents re-register with tasks).
 *   master_partition  as launch, plus an agent cut off from the master for up
 *                     to 10 s (past the unreachable timeout) that then comes
 *                     back.
 *   master_chaos      all of the above at once, plus seeded message delay
 *                     (latency tail), connection resets and stalls.
 */
#include "sim/scenarios/master_cluster.h"

#include <string.h>

static const dr_mcluster_plan plans[] = {
    {.name = "master_launch", .agent_count_min = 2, .agent_count_max = 5,
     .framework_count_min = 1, .framework_count_max = 3, .tasks_per_framework = 16,
     .kills = true, .json_frameworks = true},
    {.name = "master_failover", .agent_count_min = 2, .agent_count_max = 4,
     .framework_count_min = 2, .framework_count_max = 3, .tasks_per_framework = 16,
     .kills = true, .json_frameworks = true, .framework_failover = true,
     .master_restart = true},
    {.name = "master_partition", .agent_count_min = 3, .agent_count_max = 5,
     .framework_count_min = 1, .framework_count_max = 3, .tasks_per_framework = 16,
     .kills = true, .json_frameworks = true, .agent_partition = true},
    {.name = "master_chaos", .agent_count_min = 3, .agent_count_max = 6,
     .framework_count_min = 2, .framework_count_max = 4, .tasks_per_framework = 20,
     .kills = true, .json_frameworks = true, .framework_failover = true,
     .master_restart = true, .agent_partition = true, .net_faults = true},
};

const dr_mcluster_plan *dr_mcluster_plan_find(const char *name)
{
    for (size_t i = 0; i < DR_ARRAY_COUNT(plans); i++)
        if (strcmp(plans[i].name, name) == 0)
            return &plans[i];
    return NULL;
}

#define SCENARIO(ident, index, text)                                                          \
    static int run_##ident(const dr_sim_opts *opts, FILE *out, uint64_t *hash)                \
    {                                                                                         \
        return dr_mcluster_run(&plans[index], opts, out, hash, NULL);                         \
    }                                                                                         \
    const dr_sim_scenario dr_sim_scenario_##ident = {#ident, text, run_##ident}

SCENARIO(master_launch, 0, "master + test agents + frameworks: launch, kill, reconcile");
SCENARIO(master_failover, 1, "master_launch with framework failover and a master restart");
SCENARIO(master_partition, 2, "master_launch with an agent partition and its return");
SCENARIO(master_chaos, 3, "every master fault at once, with message delay, resets and stalls");
