/* tests/unit/demo/test_counter_sweep.c — the counter scenario over a sweep of
 * seeds (argv[1]: first seed, or "random" for one drawn from the clock and
 * printed; argv[2]: count). Fails if any seed breaks an
 * invariant or gets stuck, or if a fault kind that some seed switched on
 * never fired across the whole sweep. Prints the seed count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sim/scenarios/counter.h"

static uint64_t first_seed = 1;
static uint64_t seed_count = 50;

static void sweep(void **state)
{
    (void)state;
    dr_counter_report total;
    memset(&total, 0, sizeof total);
    uint64_t failures = 0, events = 0, virtual_ns = 0;
    for (uint64_t seed = first_seed; seed < first_seed + seed_count; seed++) {
        dr_sim_opts opts;
        memset(&opts, 0, sizeof opts);
        opts.seed = seed;
        dr_counter_report r;
        if (dr_counter_scenario_run(&opts, NULL, NULL, &r) != 0) {
            failures++;
            fprintf(stderr, "seed %llu FAILED: %s\n  replay: dromos sim --seed %llu --scenario counter\n",
                    (unsigned long long)seed, r.why, (unsigned long long)seed);
        }
        events += r.event_count;
        virtual_ns += r.virtual_ns;
        total.kind_count = r.kind_count;
        for (size_t k = 0; k < r.kind_count; k++) {
            total.kinds[k].kind = r.kinds[k].kind;
            total.kinds[k].enabled |= r.kinds[k].enabled;
            if (r.kinds[k].enabled)
                total.kinds[k].fired += r.kinds[k].fired;
        }
    }
    printf("counter sweep: %llu seeds from %llu, %llu events, %.0f virtual seconds, %llu failed\n",
           (unsigned long long)seed_count, (unsigned long long)first_seed,
           (unsigned long long)events, (double)virtual_ns / 1e9, (unsigned long long)failures);
    size_t silent = 0;
    for (size_t k = 0; k < total.kind_count; k++) {
        printf("  %-20s %s fired %llu\n", total.kinds[k].kind,
               total.kinds[k].enabled ? "on " : "off", (unsigned long long)total.kinds[k].fired);
        if (total.kinds[k].enabled && total.kinds[k].fired == 0) {
            fprintf(stderr, "fault kind %s was switched on but never fired\n", total.kinds[k].kind);
            silent++;
        }
    }
    assert_int_equal(failures, 0);
    assert_int_equal(silent, 0);
    assert_true(total.kind_count >= 15);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "random") == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts); /* test code: a fresh range each run */
        first_seed = (uint64_t)ts.tv_sec * 1000003u + (uint64_t)ts.tv_nsec % 1000003u;
    } else if (argc > 1) {
        first_seed = strtoull(argv[1], NULL, 10);
    }
    if (argc > 2)
        seed_count = strtoull(argv[2], NULL, 10);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
