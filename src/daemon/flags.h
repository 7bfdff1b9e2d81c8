/* src/daemon/flags.h — Mesos-style command-line flags for every subcommand.
 *
 * `--name=value` or `--name value`; booleans also as `--name` / `--no-name`;
 * durations in Mesos's syntax ("500ms", "10secs", "5mins", "2hrs", "1days",
 * also "ns", "us"); a value "file://path" is read from that file. Each flag
 * can also come from the environment as DROMOS_<NAME> or MESOS_<NAME> (upper
 * case); the command line wins, then DROMOS_, then MESOS_. Unknown MESOS_*
 * variables are ignored (a daemon started inside a task inherits many);
 * unknown DROMOS_* ones are reported through the warn callback.
 */
#ifndef DR_DAEMON_FLAGS_H
#define DR_DAEMON_FLAGS_H

#include <stdio.h>

#include "src/base/base.h"

typedef enum dr_flag_kind {
    DR_FLAG_STRING,   /* char ** (points into argv/environ or a static default; not freed) */
    DR_FLAG_U64,      /* uint64_t * */
    DR_FLAG_DOUBLE,   /* double * */
    DR_FLAG_BOOL,     /* bool * */
    DR_FLAG_DURATION, /* uint64_t * nanoseconds */
} dr_flag_kind;

typedef struct dr_flag {
    const char *name; /* snake_case, as Mesos spells it: "work_dir" */
    dr_flag_kind kind;
    void *value;      /* keeps: written on success; holds the default before */
    const char *help; /* one line */
} dr_flag;

typedef struct dr_flags_result {
    int positional_index; /* argv index of the first positional argument (after "--" too) */
    bool help;            /* --help was given */
} dr_flags_result;

/* Parses argv[1..argc) against flags, then the environment. On failure err
 * says which flag and why, and values may be partly written (callers exit 2).
 * file:// values are read with stdio: flags are parsed before any env exists. */
dr_code dr_flags_parse(const dr_flag *flags, size_t flag_count, int argc, char **argv,
                       dr_flags_result *out, dr_err *err) DR_MUST_USE;

/* Parses a Mesos duration ("10secs") into nanoseconds. */
dr_code dr_flags_parse_duration(const char *text, uint64_t *out_ns, dr_err *err) DR_MUST_USE;

/* Prints "usage: dromos CMD [flags]" with each flag, its default and help. */
void dr_flags_usage(FILE *out, const char *cmd, const char *summary, const dr_flag *flags,
                    size_t flag_count);

#endif /* DR_DAEMON_FLAGS_H */
