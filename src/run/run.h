/* src/run/run.h — a small run-to-completion framework: the scheduler behind
 * `dromos run`. It launches N copies of one shell command across the agents
 * that offer room, follows them to a terminal state, reads each task's
 * output from its agent, and tears the framework down.
 *
 * What it owns:
 * - The framework's lifecycle over src/sched (Mesos v1 scheduler API):
 *   SUBSCRIBE, ACCEPT/DECLINE, ACKNOWLEDGE of every update that carries a
 *   uuid, TEARDOWN at the end.
 * - Placement: offers are gathered for a short window (gather_ns) so that
 *   every agent's offer is seen, then tasks are dealt round-robin across
 *   agents (in the order their first offer arrived) while they fit, so ten
 *   tasks on two agents land five and five. Offers left over are declined.
 * - Output: on a task's terminal update, before it is acknowledged (the
 *   agent keeps the executor's sandbox reachable under its virtual path
 *   until then), GET /files/read?path=/frameworks/F/executors/E/runs/latest/stdout
 *   on the agent (Offer.url's address), Mesos's JSON {"data":..,"offset":..}.
 *   An agent that serves no HTTP at all (the test agent) gets the note
 *   "(no output: test agent)".
 * - A deadline (timeout_ns) after which unfinished tasks are given up and
 *   the framework torn down (which kills them).
 *
 * Leaves to the caller: flags, printing (progress lines arrive through a
 * callback, results are read after done), the env's loop.
 *
 * Core code: env, http, proto, sched and jansson only; runs on the sim too.
 */
#ifndef DR_RUN_H
#define DR_RUN_H

#include "src/env/env.h"
#include "src/http/negotiate.h"
#include "src/proto/proto.h"

typedef struct dr_run dr_run;

#define DR_RUN_INSTANCE_COUNT_MAX 1000u
#define DR_RUN_ID_SIZE_MAX 128u

typedef struct dr_run_opts {
    const char *master_host; /* borrows (copied) */
    uint16_t master_port;
    dr_http_codec codec;     /* NONE: PROTOBUF */
    const char *name;        /* framework name and task id prefix; NULL: "dromos-run" */
    const char *user;        /* FrameworkInfo.user; NULL: "root" */
    const char *command;     /* the shell command each task runs; required */
    uint32_t instance_count; /* 1..DR_RUN_INSTANCE_COUNT_MAX */
    double cpus;             /* per task, > 0 */
    double mem_mb;           /* per task, > 0 */
    uint64_t timeout_ns;     /* 0: none */
    uint64_t gather_ns;      /* 0: 500 ms */
    size_t output_size_max;  /* bytes of stdout read per task; 0: 4096 */
} dr_run_opts;

/* One task as last seen. Strings are owned by the dr_run (borrowed by readers). */
typedef struct dr_run_task {
    char id[DR_RUN_ID_SIZE_MAX];
    bool launched;
    bool has_state;        /* an update arrived */
    Mesos__TaskState state;
    char agent_id[DR_RUN_ID_SIZE_MAX]; /* "" until launched */
    char agent_name[300];              /* "hostname:port" of the agent */
    char *message;        /* the latest update's message, or NULL */
    char *output;         /* stdout as read from the agent, or NULL */
    char *output_note;    /* why there is no output ("(no output: test agent)"), or NULL */
    bool terminal_done;   /* terminal update handled (output read, acknowledged) */
} dr_run_task;

typedef struct dr_run_cbs {
    /* A line of progress ("task hello-03 TASK_RUNNING on debian:5051"); borrowed. */
    void (*progress)(dr_run *r, const char *line, void *ctx);
    /* The run is over (every task terminal and torn down, or given up);
     * called once, from the loop. The caller may destroy r from here. */
    void (*done)(dr_run *r, void *ctx);
} dr_run_cbs;

/* Creates a run on env (kept); opts copied; cbs and ctx kept. Nothing is sent
 * before dr_run_start. Errors: DR_EINVAL naming the bad option. */
dr_code dr_run_create(dr_env *env, const dr_run_opts *opts, const dr_run_cbs *cbs, void *ctx,
                      dr_run **out, dr_err *err) DR_MUST_USE;
/* Frees everything (connections aborted, no callback). r may be NULL. */
void dr_run_destroy(dr_run *r);

/* Subscribes and starts the deadline. */
void dr_run_start(dr_run *r);
/* Gives up (a signal, say): tears the framework down, which kills unfinished
 * tasks, then calls done. why (borrowed, copied) becomes dr_run_failure. A
 * run already ending is left alone. */
void dr_run_cancel(dr_run *r, const char *why);

/* Results, valid until dr_run_destroy. */
size_t dr_run_task_count(const dr_run *r);
const dr_run_task *dr_run_task_at(const dr_run *r, size_t index);
/* True when every task reached TASK_FINISHED. */
bool dr_run_succeeded(const dr_run *r);
/* Why the run ended early ("timed out after 60 s: ..."), or "" . Borrowed. */
const char *dr_run_failure(const dr_run *r);
/* The framework id ("" until subscribed). Borrowed. */
const char *dr_run_framework_id(const dr_run *r);
/* Agents that got at least one task. */
size_t dr_run_agent_count(const dr_run *r);

/* "TASK_FINISHED" for a state; "UNKNOWN" otherwise. */
const char *dr_run_state_name(Mesos__TaskState state);
bool dr_run_state_terminal(Mesos__TaskState state);

#endif /* DR_RUN_H */
