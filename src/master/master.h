/* src/master/master.h — the Dromos master: public API.
 *
 * The master speaks Mesos's v1 scheduler API (POST /api/v1/scheduler) to
 * frameworks and Dromos's internal protocol (POST /internal/agent, see
 * src/proto/internal.proto) to agents, makes offers through the allocator
 * (src/allocator/allocator.h) and keeps tasks, frameworks and agents in
 * memory (no registry yet: a restarted master learns agents when they
 * re-register and accepts framework ids it does not know, as Mesos does
 * without a registry). The operator API (/api/v1, /state, /metrics...) lives in
 * operator.c, v0.c and metrics.c of this module.
 *
 * A core module: everything goes through the dr_env it is created on; it is
 * deterministic under the simulator (ids come from a seeded stream).
 */
#ifndef DR_MASTER_H
#define DR_MASTER_H

#include "src/env/env.h"

typedef struct dr_master dr_master;

typedef struct dr_master_weight {
    const char *role;
    double weight;
} dr_master_weight;

/* One command-line flag with its effective value, as GET_FLAGS, /flags and
 * /state's "flags" show it (Mesos: flags by name, values as strings). */
typedef struct dr_master_flag {
    const char *name;
    const char *value;
} dr_master_flag;

/* Every Mesos master flag value the core needs. Zero values mean "the Mesos
 * default" where one is noted. Strings and arrays are copied. */
typedef struct dr_master_opts {
    const char *listen_host;     /* address to bind: NULL means "0.0.0.0" */
    uint16_t port;               /* 0: pick a free port (see dr_master_port) */
    const char *hostname;        /* advertised; NULL: the env's host name */
    const char *ip;              /* advertised; NULL: resolved from hostname, else listen_host */
    const char *cluster;         /* --cluster; NULL: none */
    const char *version;         /* reported version; NULL: "1.11.0" (Mesos API level) */

    uint64_t allocation_interval_ns;  /* 0: 1 s */
    uint64_t offer_timeout_ns;        /* 0: offers never time out */
    uint64_t agent_ping_timeout_ns;   /* 0: 15 s (also the ping interval) */
    uint32_t max_agent_ping_timeouts; /* 0: 5 */
    uint64_t framework_heartbeat_ns;  /* 0: 15 s (SUBSCRIBED heartbeat_interval_seconds) */
    uint64_t default_refuse_ns;       /* 0: 5 s (Filters.refuse_seconds default) */
    uint32_t max_completed_frameworks;          /* 0: 50 */
    uint32_t max_completed_tasks_per_framework; /* 0: 1000 */
    uint32_t max_unreachable_tasks_per_framework; /* 0: 1000 (kept for the API) */

    const dr_master_weight *weights; /* --weights */
    size_t weight_count;
    const char *const *roles;        /* --roles (whitelist); count 0: any valid role */
    size_t role_count;

    /* allocator flags */
    double min_allocatable_cpus;   /* 0: 0.01; < 0: no bound */
    double min_allocatable_mem_mb; /* 0: 32; < 0: no bound */
    const char *const *fair_sharing_excluded_names;
    size_t fair_sharing_excluded_count;
    bool filter_gpu_resources;

    /* Every flag of the command that runs the master (`dromos master`), with
     * its effective value, for GET_FLAGS, /flags and /state; copied and shown
     * in name order ("port" shows the port bound when 0 was asked for). A
     * name may appear once. Count 0 (a master built by a program or a test):
     * the flags are spelled out from the options above. */
    const dr_master_flag *flags;
    size_t flag_count;
} dr_master_opts;

/* Fills opts with Mesos's defaults (the zero values above, spelled out). */
void dr_master_opts_default(dr_master_opts *opts);

/* Creates a master on env (kept): its HTTP server listens on
 * listen_host:port and serves the scheduler and agent endpoints (and the
 * operator ones when built). Errors: DR_EINVAL for bad opts (naming the
 * flag); those of the HTTP server (address in use...). On failure nothing is
 * left running. *out is returned owned (dr_master_destroy). */
dr_code dr_master_create(dr_env *env, const dr_master_opts *opts, dr_master **out,
                         dr_err *err) DR_MUST_USE;

/* The port the master listens on. */
uint16_t dr_master_port(const dr_master *m);
/* The master's id (a UUID, new on every start). */
const char *dr_master_id(const dr_master *m);

/* Graceful shutdown: stops accepting, ends every scheduler and agent stream
 * (they will reconnect to the next master), then calls done from the loop.
 * The master must still be destroyed afterwards. */
void dr_master_shutdown(dr_master *m, void (*done)(dr_env *env, void *ctx), void *ctx);

/* Frees everything at once (connections aborted, timers canceled). NULL ok. */
void dr_master_destroy(dr_master *m);

/* The master's process crashed: frees every byte the master owns (model,
 * allocator, offers, frameworks, agents, operator subscribers, metrics, its
 * HTTP server and the responses it holds) without any env operation (no
 * write, close, timer cancel or log line) and without calling back. For a
 * simulated program's crash (see dr_sim_program): the simulator has already
 * discarded the process's listener, streams and timers, which the master's
 * handles pointed at, so none of them is touched. Not from inside one of the
 * master's own callbacks. NULL ok. */
void dr_master_forget(dr_master *m);

#endif /* DR_MASTER_H */
