/* bench/bench_allocator.c — Mesos's allocator DeclineOffers benchmark
 * (src/tests/hierarchical_allocator_benchmarks.cpp): agents with
 * cpus:24;mem:4096;disk:4096;ports:[31000-32000], frameworks all in role
 * "*", every offer declined with a refuse filter of INT_MAX seconds (the
 * allocator clamps it to 365 days). Prints the median time of one
 * allocation cycle (allocate() alone; declining is timed apart) over a few
 * cycles after the first, which offers every agent afresh.
 *
 *   bench_allocator           1k agents x 100 frameworks, 10k x 1k
 *   bench_allocator --smoke   200 x 20 (proves it runs)
 * For the smaller sizes it then declines on until every framework has
 * refused every agent and times a cycle that only walks filters.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/allocator/allocator.h"
#include "src/resources/resources.h"

#define CYCLES 7

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int dbl_cmp(const void *x, const void *y)
{
    double p = *(const double *)x, q = *(const double *)y;
    return p < q ? -1 : p > q;
}

static void run(int agent_count, int framework_count, bool mesos_ref, bool until_all_refused)
{
    dr_allocator_opts opts = {
        .min_allocatable_cpus = 0.01,
        .min_allocatable_mem_mb = 32,
        .allocation_interval_ns = DR_NS_PER_S,
    };
    dr_allocator *a = dr_allocator_create(&opts);
    dr_resources agent_res;
    dr_resources_init(&agent_res);
    dr_err err = {0};
    if (dr_resources_parse("cpus:24;mem:4096;disk:4096;ports:[31000-32000]", &agent_res,
                           &err) != DR_OK) {
        fprintf(stderr, "bench_allocator: %s\n", err.msg);
        exit(1);
    }
    double t0 = now_ms();
    char id[32];
    for (int i = 0; i < agent_count; i++) {
        snprintf(id, sizeof id, "agent-%06d", i);
        if (dr_allocator_add_agent(a, id, (const Mesos__Resource *const *)agent_res.items,
                                   agent_res.count, NULL, 0, &err) != DR_OK) {
            fprintf(stderr, "bench_allocator: %s\n", err.msg);
            exit(1);
        }
    }
    const char *roles[] = {"*"};
    for (int i = 0; i < framework_count; i++) {
        snprintf(id, sizeof id, "framework-%05d", i);
        if (dr_allocator_add_framework(a, id, roles, 1, 0, NULL, 0, &err) != DR_OK) {
            fprintf(stderr, "bench_allocator: %s\n", err.msg);
            exit(1);
        }
    }
    double setup_ms = now_ms() - t0;

    double alloc_ms[CYCLES], decline_ms[CYCLES];
    size_t offers[CYCLES];
    uint64_t refuse_ns = (uint64_t)INT_MAX * DR_NS_PER_S;
    for (int c = 0; c < CYCLES; c++) {
        uint64_t now_ns = (uint64_t)(c + 1) * DR_NS_PER_S;
        dr_alloc_grants g;
        double s = now_ms();
        dr_allocator_allocate(a, now_ns, &g);
        alloc_ms[c] = now_ms() - s;
        offers[c] = g.count;
        s = now_ms();
        for (size_t i = 0; i < g.count; i++)
            dr_allocator_recover(a, g.items[i].framework_id, g.items[i].agent_id,
                                 g.items[i].role,
                                 (const Mesos__Resource *const *)g.items[i].resources,
                                 g.items[i].resource_count, refuse_ns, now_ns);
        dr_allocator_grants_free(&g);
        decline_ms[c] = now_ms() - s;
    }
    /* Median of the cycles after the first. */
    double sorted[CYCLES - 1];
    memcpy(sorted, alloc_ms + 1, sizeof sorted);
    qsort(sorted, CYCLES - 1, sizeof *sorted, dbl_cmp);
    double median = sorted[(CYCLES - 1) / 2];
    memcpy(sorted, decline_ms + 1, sizeof sorted);
    qsort(sorted, CYCLES - 1, sizeof *sorted, dbl_cmp);
    double decline_median = sorted[(CYCLES - 1) / 2];
    printf("allocator decline %d agents x %d frameworks: %.1f ms/cycle%s\n", agent_count,
           framework_count, median, mesos_ref ? " (Mesos 1.8: ~1100 ms)" : "");
    printf("  first cycle %.1f ms, %zu offers per cycle; declining them %.1f ms; setup %.0f ms\n",
           alloc_ms[0], offers[1], decline_median, setup_ms);
    if (until_all_refused) {
        /* Keep declining until every framework has refused every agent: then
         * each cycle walks every (agent, framework) pair and offers nothing. */
        size_t cycles = CYCLES;
        for (size_t count = 1; count > 0; cycles++) {
            uint64_t now_ns = (uint64_t)(cycles + 1) * DR_NS_PER_S;
            dr_alloc_grants g;
            dr_allocator_allocate(a, now_ns, &g);
            count = g.count;
            for (size_t i = 0; i < g.count; i++)
                dr_allocator_recover(a, g.items[i].framework_id, g.items[i].agent_id,
                                     g.items[i].role,
                                     (const Mesos__Resource *const *)g.items[i].resources,
                                     g.items[i].resource_count, refuse_ns, now_ns);
            dr_allocator_grants_free(&g);
        }
        double full[3];
        for (int i = 0; i < 3; i++) {
            dr_alloc_grants g;
            double s = now_ms();
            dr_allocator_allocate(a, (uint64_t)(cycles + 1 + (size_t)i) * DR_NS_PER_S, &g);
            full[i] = now_ms() - s;
            if (g.count != 0) {
                fprintf(stderr, "bench_allocator: offers after every refusal\n");
                exit(1);
            }
            dr_allocator_grants_free(&g);
        }
        qsort(full, 3, sizeof *full, dbl_cmp);
        printf("allocator decline %d agents x %d frameworks, all refused: %.1f ms/cycle "
               "(after %zu cycles)\n",
               agent_count, framework_count, full[1], cycles);
    }
    dr_resources_deinit(&agent_res);
    dr_allocator_destroy(a);
}

int main(int argc, char **argv)
{
    bool smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
    if (smoke) {
        run(200, 20, false, true);
        return 0;
    }
    run(1000, 100, false, true);
    run(10000, 1000, true, false);
    return 0;
}
