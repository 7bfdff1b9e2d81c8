/* tests/unit/sched/planted_main.c — proves a master-scenario checker fires on
 * its planted bug. Built once per planted bug (the bug is in the test agent
 * library or, for sched_keep_offer, in the harness compiled with it):
 *
 *   master_planted_<bug> --scenario NAME --expect CHECKER [--seeds N]
 *
 * runs seeds 1..N and exits 0 as soon as CHECKER reports a violation, 1 if it
 * never does (the checker is blind to the bug), 2 on bad usage. Built without
 * a bug as master_sim, and run without --expect, it runs seeds from --seed
 * and exits 0 iff every checker held (--log prints the processes' logs).
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
    uint64_t first = 1;
    bool log = false;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--log") == 0)
            log = true;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--log") == 0)
            i--;
        else if (strcmp(argv[i], "--seed") == 0)
            first = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--scenario") == 0)
            scenario = argv[i + 1];
        else if (strcmp(argv[i], "--expect") == 0)
            expect = argv[i + 1];
        else if (strcmp(argv[i], "--seeds") == 0)
            seeds = strtoull(argv[i + 1], NULL, 10);
    }
    const dr_mcluster_plan *plan = scenario ? dr_mcluster_plan_find(scenario) : NULL;
    int check = -1;
    for (int k = 0; expect != NULL && k < DR_MCHECK_COUNT; k++)
        if (strcmp(dr_mcheck_name((dr_mcheck)k), expect) == 0)
            check = k;
    if (plan == NULL || (expect != NULL && check < 0) || seeds == 0) {
        fprintf(stderr,
                "usage: %s --scenario master_NAME [--expect CHECKER] [--seed S] [--seeds N] [--log]\n",
                argv[0]);
        return 2;
    }
    int failed = 0;
    for (uint64_t seed = first; seed < first + seeds; seed++) {
        dr_sim_opts opts;
        memset(&opts, 0, sizeof opts);
        opts.seed = seed;
        opts.scenario = scenario;
        if (log) {
            opts.log_out = stderr;
            opts.log_level = DR_LOG_DEBUG;
        }
        if (check < 0) {
            failed |= dr_mcluster_run(plan, &opts, stdout, NULL, NULL);
            continue;
        }
        dr_mcluster_report report;
        uint64_t hash = 0;
        (void)dr_mcluster_run(plan, &opts, stdout, &hash, &report); /* failure is expected */
        if (report.violation_count[check] != 0) {
            printf("planted bug caught by the '%s' checker on seed %" PRIu64 "\n", expect, seed);
            return 0;
        }
    }
    if (check < 0)
        return failed;
    printf("the '%s' checker never fired in %" PRIu64 " seeds\n", expect, seeds);
    return 1;
}
