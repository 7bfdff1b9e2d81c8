/* src/daemon/cmds/sim.c — `dromos sim`: runs a simulator scenario for one
 * seed or a sweep of seeds, printing the options each seed drew, how often
 * each fault kind fired and the trace hash. Exit status: 0 if every invariant
 * held, 1 if one did not, 2 on a usage error.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "../cmds.h"
#include "../flags.h"
#include "sim/sim.h"

static const char summary[] = "run a deterministic simulation scenario";

static int run(int argc, char **argv)
{
    uint64_t seed = 1;
    uint64_t seed_count = 1;
    const char *scenario_name = "ping";
    bool trace = false;
    bool log = false;
    bool list = false;
    bool twice = false;
    bool verbose = false;
    const dr_flag flags[] = {
        {"seed", DR_FLAG_U64, &seed, "the seed (every choice of the run derives from it)"},
        {"seeds", DR_FLAG_U64, &seed_count, "sweep this many seeds, from --seed on"},
        {"scenario", DR_FLAG_STRING, &scenario_name, "the scenario to run (see --list)"},
        {"trace", DR_FLAG_BOOL, &trace, "print a timeline line per event"},
        {"log", DR_FLAG_BOOL, &log, "print the processes' log lines"},
        {"list", DR_FLAG_BOOL, &list, "list the scenarios and exit"},
        {"verbose", DR_FLAG_BOOL, &verbose, "in a sweep, print every seed's full report"},
        {"twice", DR_FLAG_BOOL, &twice,
         "run each seed a second time (quietly) and fail unless the trace hashes match"},
    };
    dr_flags_result res;
    dr_err err;
    if (dr_flags_parse(flags, DR_ARRAY_COUNT(flags), argc, argv, &res, &err) != DR_OK)
        return dr_cmd_usage_error("sim", "%s", err.msg);
    if (res.help) {
        dr_flags_usage(stdout, "sim", summary, flags, DR_ARRAY_COUNT(flags));
        return 0;
    }
    if (res.positional_index < argc)
        return dr_cmd_usage_error("sim", "unexpected argument '%s'", argv[res.positional_index]);
    if (list) {
        for (size_t i = 0; i < dr_sim_scenario_count(); i++) {
            const dr_sim_scenario *s = dr_sim_scenario_at(i);
            printf("%-12s %s\n", s->name, s->summary);
        }
        return 0;
    }
    const dr_sim_scenario *scenario = dr_sim_scenario_find(scenario_name);
    if (scenario == NULL)
        return dr_cmd_usage_error("sim", "unknown scenario '%s'", scenario_name);
    if (seed_count == 0)
        return dr_cmd_usage_error("sim", "--seeds must be at least 1");
    if (seed > UINT64_MAX - (seed_count - 1))
        return dr_cmd_usage_error("sim", "--seed %" PRIu64 " + --seeds %" PRIu64 " overflows",
                                  seed, seed_count);

    /* One seed prints everything; a sweep prints a line per seed and the whole
     * report of each seed that failed (or of every seed with --verbose). */
    bool compact = seed_count > 1 && !verbose && !trace && !log;
    uint64_t failed_count = 0;
    for (uint64_t i = 0; i < seed_count; i++) {
        dr_sim_opts opts = {0};
        opts.seed = seed + i;
        opts.trace_out = trace ? stdout : NULL;
        opts.log_out = log ? stdout : NULL;
        opts.log_level = DR_LOG_INFO;
        opts.scenario = scenario->name;
        char *report = NULL;
        size_t report_size = 0;
        FILE *out = compact ? open_memstream(&report, &report_size) : stdout;
        if (out == NULL) {
            fprintf(stderr, "dromos sim: cannot buffer the report\n");
            return 1;
        }
        uint64_t hash = 0;
        int rc = scenario->run(&opts, out, &hash);
        if (twice) {
            /* the replay: same seed, no output; any difference is nondeterminism */
            FILE *sink = fopen("/dev/null", "w");
            if (sink == NULL) {
                fprintf(stderr, "dromos sim: cannot open /dev/null\n");
                return 1;
            }
            dr_sim_opts again = opts;
            again.trace_out = NULL;
            again.log_out = NULL;
            uint64_t hash2 = 0;
            int rc2 = scenario->run(&again, sink, &hash2);
            fclose(sink);
            if (hash2 != hash || rc2 != rc) {
                fprintf(out, "determinism: DIVERGED: second run gave trace hash 0x%016" PRIx64
                        " (result %d)\n", hash2, rc2);
                rc = 1;
            } else {
                fprintf(out, "determinism: ok (second run, same trace hash)\n");
            }
        }
        if (compact) {
            fclose(out);
            if (rc != 0)
                fwrite(report, 1, report_size, stdout);
            else
                printf("seed %" PRIu64 ": ok, trace hash 0x%016" PRIx64 "\n", opts.seed, hash);
            free(report);
        }
        if (rc != 0) {
            failed_count++;
            printf("seed %" PRIu64 " FAILED; replay: dromos sim --seed %" PRIu64
                   " --scenario %s\n",
                   opts.seed, opts.seed, scenario->name);
        }
        fflush(stdout);
    }
    if (seed_count > 1)
        printf("%" PRIu64 " seeds run, %" PRIu64 " failed\n", seed_count, failed_count);
    return failed_count == 0 ? 0 : 1;
}

const dr_cmd dr_cmd_sim = {"sim", summary, run};
