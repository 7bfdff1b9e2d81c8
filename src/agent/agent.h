/* src/agent/agent.h — the Dromos agent (Mesos's "slave"): offers its host's
 * resources to the master, runs executors and their tasks, carries status
 * updates reliably, checkpoints and recovers after a restart.
 *
 * Owns: registration with the master over the internal protocol
 * (src/proto/internal.proto, the agent side), the containerizer (launcher and
 * isolators behind interfaces, sandboxes), the executor API
 * (POST /api/v1/executor), the status update manager, checkpoints under
 * <work_dir>/meta/ and recovery, sandbox garbage collection, the agent's
 * operator API (POST /api/v1), /files/... and /metrics/snapshot.
 *
 * Leaves to others: the executors themselves (`dromos executor`, the default
 * executor, `dromos fetch`, spawned as processes), flags and signals
 * (src/daemon/cmds/agent.c), the master.
 *
 * Core code: everything goes through the dr_env (time, files, sockets,
 * processes), so the agent runs unchanged in the simulator.
 */
#ifndef DR_AGENT_H
#define DR_AGENT_H

#include "src/env/env.h"

typedef struct dr_agent dr_agent;
typedef struct dr_launcher dr_launcher;

typedef enum dr_agent_recover {
    DR_AGENT_RECOVER_RECONNECT = 0, /* reconnect to executors of checkpointing frameworks */
    DR_AGENT_RECOVER_CLEANUP,       /* kill them and start afresh */
} dr_agent_recover;

/* One flag as shown by GET_FLAGS (name and value borrowed, copied). */
typedef struct dr_agent_flag {
    const char *name;
    const char *value;
} dr_agent_flag;

typedef struct dr_agent_opts {
    const char *master;   /* "host:port" of the master; required */
    const char *work_dir; /* required */
    const char *ip;       /* address to listen on; NULL: "127.0.0.1" */
    uint16_t port;        /* 0: a free port (tests); dromos agent defaults to 5051 */
    const char *hostname; /* advertised; NULL: the host's name */
    const char *advertise_ip; /* how executors and the master reach us; NULL: ip */
    const char *resources;    /* Mesos --resources text or JSON; NULL: detected */
    const char *attributes;   /* "rack:a;zone:b"; NULL: none */
    dr_agent_recover recover;
    bool strict; /* a corrupt checkpoint stops the agent (default true in dromos agent) */
    uint64_t executor_registration_timeout_ns;   /* 0: 1 min */
    uint64_t executor_reregistration_timeout_ns; /* 0: 2 s */
    uint64_t executor_shutdown_grace_period_ns;  /* 0: 5 s */
    uint64_t recovery_timeout_ns;                /* 0: 15 min (MESOS_RECOVERY_TIMEOUT) */
    uint64_t registration_backoff_factor_ns;     /* 0: 1 s */
    uint64_t gc_delay_ns;                        /* 0: 1 week */
    double gc_disk_headroom;                     /* 0: 0.1 */
    uint64_t disk_watch_interval_ns;             /* 0: 1 min */
    uint64_t mem_watch_interval_ns;              /* posix/mem checks; 0: 1 s */
    uint64_t mem_reserve_bytes; /* detected mem minus this (0: 1 GiB, or half when smaller) */
    /* argv of the command executor (NULL-terminated, borrowed, copied); the
     * default executor gets the same argv plus "--default"; the fetcher is
     * fetcher_argv. NULL: {"dromos", "executor"} / {"dromos", "fetch"}. */
    const char *const *command_executor_argv;
    const char *const *fetcher_argv;
    /* Simulated programs get no environment: pass it as "--env=K=V" argv too. */
    bool env_in_argv;
    const char *switch_user; /* unused (superseded by switch_user_enabled): NULL */
    /* --switch_user (Mesos): containers run as their command's user, else
     * their framework's; false: as the agent's user (dromos agent defaults
     * to true, as Mesos). */
    bool switch_user_enabled;
    const dr_agent_flag *flags; /* for GET_FLAGS; borrowed, copied */
    size_t flag_count;
    const char *version; /* NULL: "0.1.0" */
} dr_agent_opts;

/* Recovers from <work_dir>/meta, locks the work dir, listens, and starts
 * registering with the master (all on env's loop; env kept). Errors: a work
 * dir locked by another agent (DR_EBUSY, "work dir '/w' is locked by another
 * agent"), a corrupt checkpoint under strict ("checkpoint
 * '/w/meta/.../task.updates': bad checksum at offset 48"), listen failures,
 * bad --resources/--attributes (DR_EINVAL). */
dr_code dr_agent_create(dr_env *env, const dr_agent_opts *opts, dr_agent **out,
                        dr_err *err) DR_MUST_USE;

/* Frees everything without I/O beyond closing handles (a crash as far as the
 * checkpoint is concerned): executors keep running. NULL is a no-op. */
void dr_agent_destroy(dr_agent *agent);

/* Graceful stop: ends executor streams and the master stream, leaving
 * executors running (they recover later, as Mesos does on SIGTERM for
 * checkpointing frameworks; others are shut down). done fires from the loop
 * when it is safe to destroy. */
typedef void dr_agent_done_fn(dr_env *env, void *ctx);
void dr_agent_shutdown(dr_agent *agent, dr_agent_done_fn *done, void *ctx);

/* A fatal condition (strict checkpoint corruption found late, disk failure
 * while checkpointing): the message, or NULL while healthy. */
const char *dr_agent_failure(const dr_agent *agent);

uint16_t dr_agent_port(const dr_agent *agent);

typedef struct dr_agent_info {
    bool registered;
    bool recovering;
    char agent_id[128];
    uint64_t registration_count; /* REGISTERED events received */
    uint32_t framework_count;
    uint32_t executor_count;     /* live */
    uint32_t task_count;         /* not yet completed (terminal and acked) */
    uint32_t tasks_running;
    uint64_t tasks_finished, tasks_failed, tasks_killed, tasks_lost;
    uint64_t updates_sent;          /* STATUS_UPDATE calls sent, resends included */
    uint64_t updates_pending;       /* in streams, not yet acknowledged */
    uint64_t updates_acknowledged;
    uint64_t executors_launched;
    uint64_t executors_terminated;
    uint64_t gc_removed;            /* sandboxes removed */
    uint64_t checkpoint_records_skipped; /* non-strict recovery */
} dr_agent_info;

void dr_agent_get_info(const dr_agent *agent, dr_agent_info *out);

/* The latest state of a task (false if unknown) and its pid-less facts, for
 * tests: framework id and task id. */
bool dr_agent_task_state(const dr_agent *agent, const char *framework_id, const char *task_id,
                         int *state_out);

/* The sandbox directory of the latest run of an executor ("" if unknown). */
const char *dr_agent_sandbox(const dr_agent *agent, const char *framework_id,
                             const char *executor_id);

/* The pid of an executor's process (0 if none or unknown), for tests. */
dr_pid dr_agent_executor_pid(const dr_agent *agent, const char *framework_id,
                             const char *executor_id);

#endif /* DR_AGENT_H */
