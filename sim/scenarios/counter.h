/* sim/scenarios/counter.h — the "counter" scenario with its knobs exposed, for
 * the determinism tests, the planted-bug test and the fault-coverage sweep.
 * `dromos sim --scenario counter` runs it through dr_sim_scenario_counter. */
#ifndef DR_SIM_SCENARIO_COUNTER_H
#define DR_SIM_SCENARIO_COUNTER_H

#include "sim/sim.h"

extern const dr_sim_scenario dr_sim_scenario_counter;

/* Tweaks that must change the trace hash and nothing else of substance. */
typedef struct dr_counter_tweaks {
    bool flip_one_bit; /* client 0's first INC carries amount ^ 2 (one bit of one message) */
    bool delay_one_ns; /* client 0's first request leaves 1 ns later */
    uint32_t narrate_max; /* highlighted events printed; 0: the default (12) */
} dr_counter_tweaks;

#define DR_COUNTER_KIND_COUNT_MAX 32u

typedef struct dr_counter_report {
    uint64_t trace_hash;
    uint64_t event_count;
    uint64_t virtual_ns;
    uint64_t sent;  /* ground truth: increments clients sent */
    uint64_t acked; /* ground truth: increments acknowledged to clients */
    uint64_t check_count;
    bool violation; /* a safety invariant failed */
    bool stuck;     /* the liveness phase did not finish */
    char why[256];
    size_t kind_count;
    struct {
        const char *kind; /* static string */
        bool enabled;     /* the drawn options switched it on */
        uint64_t fired;
    } kinds[DR_COUNTER_KIND_COUNT_MAX];
} dr_counter_report;

/* Runs the scenario for opts->seed; prints options, highlights and the
 * verdict to out (may be NULL). Returns 0 if every invariant held. */
int dr_counter_scenario_run(const dr_sim_opts *opts, const dr_counter_tweaks *tweaks, FILE *out,
                            dr_counter_report *report);

#endif /* DR_SIM_SCENARIO_COUNTER_H */
