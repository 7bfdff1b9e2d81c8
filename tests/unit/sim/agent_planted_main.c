/* tests/unit/sim/agent_planted_main.c — proves an agent-scenario checker
 * fires on its planted bug. Built once per planted bug (in the real agents'
 * harness, sim/scenarios/agent_cluster.c, or in the frameworks of
 * master_cluster.c), with the harness compiled in:
 *
 *   agent_planted_<bug> --scenario agent_NAME --expect CHECKER [--seeds N]
 *
 * runs seeds 1..N and exits 0 as soon as CHECKER reports a violation, 1 if it
 * never does (the checker is blind to the bug), 2 on bad usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scenarios/master_cluster.h"

int main(int argc, char **argv)
{
    const char *scenario = NULL;
    const char *expect = NULL;
    uint64_t seeds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--scenario") == 0)
            scenario = argv[i + 1];
        else if (strcmp(argv[i], "--expect") == 0)
            expect = argv[i + 1];
        else if (strcmp(argv[i], "--seeds") == 0)
            seeds = strtoull(argv[i + 1], NULL, 10);
    }
    const dr_mcluster_plan *plan = scenario ? dr_mcluster_agent_plan_find(scenario) : NULL;
    int check = -1;
    for (int k = 0; expect != NULL && k < DR_MCHECK_COUNT; k++)
        if (strcmp(dr_mcheck_name((dr_mcheck)k), expect) == 0)
            check = k;
    if (plan == NULL || check < 0 || seeds == 0) {
        fprintf(stderr, "usage: %s --scenario agent_NAME --expect CHECKER [--seeds N]\n",
                argv[0]);
        return 2;
    }
    for (uint64_t seed = 1; seed <= seeds; seed++) {
        dr_sim_opts opts;
        memset(&opts, 0, sizeof opts);
        opts.seed = seed;
        opts.scenario = scenario;
        dr_mcluster_report report;
        uint64_t hash = 0;
        (void)dr_mcluster_run(plan, &opts, stdout, &hash, &report); /* failure is expected */
        if (report.violation_count[check] != 0) {
            printf("planted bug caught by the '%s' checker on seed %" PRIu64 "\n", expect, seed);
            return 0;
        }
    }
    printf("the '%s' checker never fired in %" PRIu64 " seeds\n", expect, seeds);
    return 1;
}
