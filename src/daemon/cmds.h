/* src/daemon/cmds.h — the subcommands of the dromos binary. Each lives in
 * src/daemon/cmds/<name>.c and is listed in the table in main.c.
 * A run function returns the process exit status: 0 success, 1 failure,
 * 2 usage error (after printing one line to stderr). */
#ifndef DR_DAEMON_CMDS_H
#define DR_DAEMON_CMDS_H

typedef struct dr_cmd {
    const char *name;
    const char *summary; /* one line, for `dromos --help` */
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
} dr_cmd;

/* Prints "dromos CMD: MSG" on stderr and returns 2 (usage error). */
int dr_cmd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern const dr_cmd dr_cmd_sim;
extern const dr_cmd dr_cmd_counter;
extern const dr_cmd dr_cmd_test_agent;
extern const dr_cmd dr_cmd_agent;
extern const dr_cmd dr_cmd_master;
extern const dr_cmd dr_cmd_executor; /* src/daemon/cmds/executor.c (src/executor) */
extern const dr_cmd dr_cmd_fetch;    /* src/daemon/cmds/fetch.c (Mesos's fetcher) */
extern const dr_cmd dr_cmd_run;      /* src/daemon/cmds/run.c (src/run) */
extern const dr_cmd dr_cmd_local;    /* src/daemon/cmds/local.c: master + agents as children */

#endif /* DR_DAEMON_CMDS_H */
