/* tests/integration/counter_sim_main.c — runs the counter scenario for one
 * seed and prints what `dromos sim --seed N --scenario counter` prints; the
 * determinism script falls back to it when dromos lacks the scenario. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scenarios/counter.h"

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--seed") != 0) {
        fprintf(stderr, "usage: counter_sim --seed N\n");
        return 2;
    }
    dr_sim_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.seed = strtoull(argv[2], NULL, 10);
    opts.scenario = "counter";
    dr_counter_report report;
    return dr_counter_scenario_run(&opts, NULL, stdout, &report);
}
