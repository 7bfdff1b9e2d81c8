/* tests/unit/demo/test_counter_planted.c — linked with dr_demo_planted, whose
 * replicas acknowledge before they fsync: the counter scenario's checker must
 * catch it (an acknowledged increment lost) within a few dozen seeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim/scenarios/counter.h"

#define SEED_COUNT_MAX 200u

static void checker_catches_ack_before_fsync(void **state)
{
    (void)state;
    uint64_t caught = 0, tried = 0;
    for (uint64_t seed = 1; seed <= SEED_COUNT_MAX && caught < 3; seed++) {
        dr_sim_opts opts;
        memset(&opts, 0, sizeof opts);
        opts.seed = seed;
        dr_counter_report r;
        tried++;
        if (dr_counter_scenario_run(&opts, NULL, NULL, &r) != 0 && r.violation) {
            caught++;
            printf("seed %llu: caught: %s\n", (unsigned long long)seed, r.why);
        }
    }
    printf("planted ack-before-fsync: caught in %llu of %llu seeds\n", (unsigned long long)caught,
           (unsigned long long)tried);
    assert_true(caught >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checker_catches_ack_before_fsync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
