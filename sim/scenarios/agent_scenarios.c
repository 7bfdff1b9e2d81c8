/* sim/scenarios/agent_scenarios.c — the agent_* scenarios: the master_*
 * harness (master_cluster.c, which states the checkers) with real agents
 * (src/agent), the real command executor (src/executor) and simulated task
 * processes (agent_cluster.c) instead of test agents. Every framework
 * checkpoints, so its executors and tasks outlive an agent crash.
 *
 *   agent_launch  frameworks (protobuf and JSON) launch, kill and reconcile
 *                 tasks through real agents and executors; latency only.
 *   agent_crash   as launch, plus agent processes killed (SIGKILL: memory
 *                 gone, written pages kept) at seeded nanoseconds and
 *                 restarted after up to 5 s: the agent recovers from its
 *                 checkpoint, executors re-subscribe, tasks keep running,
 *                 pending updates are resent.
 *   agent_crash_steps  as crash, with half the crashes right after a drawn
 *                 event (by count), so they land inside busy moments (between
 *                 an executor's SUBSCRIBE and its first task, ...).
 *   agent_stall   as crash, and with each crash one of the agent's executors
 *                 is paused until 3 s after the agent is back: it misses the
 *                 re-registration window, the agent gives its tasks up and
 *                 kills it.
 *   agent_chaos   agent crashes, host reboots (every process on the host
 *                 ends; unsynced pages dropped or torn; new boot id), an
 *                 agent partition, framework failover, a master restart, and
 *                 seeded message delay, resets and stalls.
 */
#include "sim/scenarios/master_cluster.h"

#include <string.h>

static const dr_mcluster_plan plans[] = {
    {.name = "agent_launch", .agent_count_min = 2, .agent_count_max = 3,
     .framework_count_min = 1, .framework_count_max = 2, .tasks_per_framework = 24,
     .kills = true, .json_frameworks = true, .real_agents = &dr_mcluster_real_agents},
    {.name = "agent_crash", .agent_count_min = 2, .agent_count_max = 3,
     .framework_count_min = 1, .framework_count_max = 2, .tasks_per_framework = 24,
     .kills = true, .json_frameworks = true, .real_agents = &dr_mcluster_real_agents,
     .agent_crashes_max = 6},
    {.name = "agent_crash_steps", .agent_count_min = 2, .agent_count_max = 3,
     .framework_count_min = 1, .framework_count_max = 2, .tasks_per_framework = 24,
     .kills = true, .json_frameworks = true, .real_agents = &dr_mcluster_real_agents,
     .agent_crashes_max = 6, .crash_after_events = true},
    {.name = "agent_stall", .agent_count_min = 2, .agent_count_max = 3,
     .framework_count_min = 1, .framework_count_max = 2, .tasks_per_framework = 24,
     .kills = true, .json_frameworks = true, .real_agents = &dr_mcluster_real_agents,
     .agent_crashes_max = 4, .executor_pauses = true},
    {.name = "agent_chaos", .agent_count_min = 2, .agent_count_max = 4,
     .framework_count_min = 1, .framework_count_max = 3, .tasks_per_framework = 24,
     .kills = true, .json_frameworks = true, .framework_failover = true,
     .master_restart = true, .agent_partition = true, .net_faults = true,
     .real_agents = &dr_mcluster_real_agents, .agent_crashes_max = 4, .host_reboots_max = 2},
};

const dr_mcluster_plan *dr_mcluster_agent_plan_find(const char *name)
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

SCENARIO(agent_launch, 0, "master + real agents and executors + frameworks: launch, kill, reconcile");
SCENARIO(agent_crash, 1, "agent_launch with agent processes crashed and recovered at many points");
SCENARIO(agent_crash_steps, 2, "agent_crash with crashes placed by event count");
SCENARIO(agent_stall, 3, "agent_crash with an executor paused past the re-registration window");
SCENARIO(agent_chaos, 4, "agent crashes, host reboots, partition, failover, master restart, net faults");
