/* sim/sim.h — the deterministic simulator: public API for scenarios, tests,
 * benchmarks and `dromos sim`.
 *
 * One thread, one event queue ordered by (virtual time, sequence number); the
 * clock jumps to the next event. The simulator hosts many simulated hosts, each
 * with a disk (sim/disk.h) and processes; each process gets its own dr_env
 * (sim/env.c) whose I/O goes to the simulated network, disk and process table.
 * Every event feeds an XXH3-64 trace hash; one seed replays a run bit-for-bit.
 *
 * Faults are switchable and drawn from seeded streams: network latency with a
 * long tail, refused and reset connections, stalls, one- and two-way
 * partitions; disk EIO/ENOSPC on write and fsync, unsynced pages kept, dropped
 * or torn on a host crash; process crash (memory lost, files and children
 * survive), host crash (everything on the host ends, boot id changes), pause;
 * per-node clock offset and drift, wall-clock jumps; spawned programs either
 * registered (run in-process) or generic (seeded run time, output and status).
 */
#ifndef DR_SIM_H
#define DR_SIM_H

#include <stdio.h>

#include "src/env/env.h"

typedef struct dr_sim dr_sim;
typedef uint32_t dr_sim_host_id; /* 1-based, in creation order */

/* Fault switches and probabilities. Zero-initialized means "no faults". */
typedef struct dr_sim_faults {
    /* network */
    uint64_t net_latency_min_ns;  /* each delivery: min + exponential tail */
    uint64_t net_latency_mean_ns; /* mean of the exponential part */
    double net_latency_tail_p;    /* chance of a long-tail delay (up to net_latency_tail_max_ns) */
    uint64_t net_latency_tail_max_ns;
    double net_refuse_p; /* chance a connect is refused although someone listens */
    double net_reset_p;  /* chance per delivered chunk that the connection resets */
    double net_stall_p;  /* chance per delivered chunk of a stall (delivery held back) */
    uint64_t net_stall_max_ns;
    /* disk (per write / fsync call) */
    double disk_eio_write_p;
    double disk_eio_fsync_p;
    double disk_enospc_p;
    /* On a host crash (itself the fault, so not off when zeroed) each unsynced
     * page is kept, dropped, or torn (the rest): with both 0, all are torn. */
    double disk_crash_keep_p;
    double disk_crash_drop_p;
    /* clocks */
    uint64_t clock_offset_max_ns; /* per node wall-clock offset, +/- */
    double clock_drift_max_ppm;   /* per node monotonic drift, +/- */
} dr_sim_faults;

typedef struct dr_sim_opts {
    uint64_t seed;
    dr_sim_faults faults;
    FILE *trace_out;       /* non-NULL: print a readable timeline line per event */
    FILE *log_out;         /* non-NULL: processes' dr_log lines go here; NULL: dropped */
    dr_log_level log_level;
    const char *scenario;  /* kept; named in the replay command a failed DR_ASSERT prints */
} dr_sim_opts;

/* A program the simulator can run in-process: a node's main. start returns the
 * program's state (owned by the program) or NULL on failure; crash frees that
 * state without any I/O (the process's memory is simply gone); stop is a
 * graceful shutdown request (may be NULL: then crash is used): it may write and
 * close what it likes, must free the state, and the process ends when it
 * returns (exit status 0): its remaining timers are dropped, its files closed
 * and its open streams closed gracefully (queued data is still delivered). */
typedef struct dr_sim_program {
    const char *name;
    void *(*start)(dr_env *env, int argc, char **argv);
    void (*crash)(void *state);
    void (*stop)(void *state);
} dr_sim_program;

/* Returns owned; copies opts (the FILE*s and opts->scenario are kept). Installs
 * the assertion hook (process-wide: the latest sim wins; destroy removes it). */
dr_sim *dr_sim_create(const dr_sim_opts *opts);
void dr_sim_destroy(dr_sim *sim); /* crashes every process first, then drops the queue */
uint64_t dr_sim_seed(const dr_sim *sim);

/* Programs: register before use. The struct is kept (static const). */
void dr_sim_register_program(dr_sim *sim, const dr_sim_program *program);

/* Hosts. Each host has a name (also its address for connect/resolve; borrowed,
 * copied; unique), an IP "10.0.<id/256>.<id%256>", a disk, a boot id, and a
 * clock whose wall offset and drift are drawn now from the seed and
 * faults.clock_*. */
dr_sim_host_id dr_sim_host_add(dr_sim *sim, const char *hostname);
/* Host facts reported through dr_env_host_info (defaults: 8 cpus, 16 GiB). */
void dr_sim_host_set_resources(dr_sim *sim, dr_sim_host_id host, uint32_t cpu_count,
                               uint64_t mem_bytes);
/* Host by name (or IP "10.0.x.y"); 0 if none. */
dr_sim_host_id dr_sim_host_find(const dr_sim *sim, const char *name);
const char *dr_sim_host_name(const dr_sim *sim, dr_sim_host_id host);
/* The host's disk (NULL until sim/disk.c is built in). */
struct dr_sim_disk *dr_sim_host_disk(dr_sim *sim, dr_sim_host_id host);
/* Host crash: every process on it ends, each unsynced page is kept, dropped or
 * torn, the boot id changes. The host stays down until dr_sim_host_restart. */
void dr_sim_host_crash(dr_sim *sim, dr_sim_host_id host);
void dr_sim_host_restart(dr_sim *sim, dr_sim_host_id host);
bool dr_sim_host_up(const dr_sim *sim, dr_sim_host_id host);

/* Processes. argv (borrowed, copied) [0] names a registered program (by name
 * or last path component; its start runs now, in-process) or anything else (a generic program with seeded run
 * time, output and exit status). Returns the pid (> 0, never reused) or 0 with
 * err set (DR_ESRCH: host down; DR_EINTERNAL: start returned NULL). A process
 * named host:pidN gets its own seeded random stream and a dr_env. */
dr_pid dr_sim_process_start(dr_sim *sim, dr_sim_host_id host, const char *const *argv,
                            dr_err *err);
/* Process crash: memory lost; its files (synced or not) and children survive.
 * Crash, stop and host crash act at once, so they must not be called from
 * inside a callback of the process they end (a process ends itself through
 * dr_env_signal, which is delivered from the loop). */
void dr_sim_process_crash(dr_sim *sim, dr_pid pid);
/* Graceful stop (the program's stop, else crash). */
void dr_sim_process_stop(dr_sim *sim, dr_pid pid);
/* Pause: nothing of the process runs (its timers, deliveries and callbacks are
 * held) until resume, which runs them at the resume time in their order. */
void dr_sim_process_pause(dr_sim *sim, dr_pid pid);
void dr_sim_process_resume(dr_sim *sim, dr_pid pid);
bool dr_sim_process_alive(const dr_sim *sim, dr_pid pid);
dr_env *dr_sim_process_env(dr_sim *sim, dr_pid pid); /* NULL if not alive */
void *dr_sim_process_state(dr_sim *sim, dr_pid pid); /* what start returned; NULL if not alive */

/* Users, the same on every host (what dr_env_user_lookup reads): root (uid
 * and gid 0), daemon (1) and nobody (65534) are built in; add others before
 * use (at most 16; name 1-31 bytes, borrowed, copied; groups at most 8, the
 * primary gid first). A process runs as its spawner's user unless the spawn
 * sets one; the first process of a host runs as root. */
void dr_sim_user_add(dr_sim *sim, const char *name, uint32_t uid, uint32_t gid,
                     const uint32_t *groups, size_t group_count);
/* The credentials and resource limits a live process was spawned with. */
typedef struct dr_sim_creds {
    uint32_t uid;
    uint32_t gid;
    uint32_t groups[DR_USER_GROUP_COUNT_MAX];
    size_t group_count;
    dr_rlimit rlimits[DR_SPAWN_RLIMIT_COUNT_MAX]; /* as given to spawn */
    size_t rlimit_count;
} dr_sim_creds;
bool dr_sim_process_creds(const dr_sim *sim, dr_pid pid, dr_sim_creds *out); /* false if not alive */

/* Network faults on demand. A one-way partition drops what a sends to b. */
void dr_sim_partition(dr_sim *sim, dr_sim_host_id a, dr_sim_host_id b, bool one_way);
void dr_sim_heal(dr_sim *sim); /* removes every partition */

/* Clock faults on demand: jumps the host's wall clock by delta (may be negative). */
void dr_sim_wall_jump(dr_sim *sim, dr_sim_host_id host, int64_t delta_ns);

/* Single deterministic faults, like sqlite's test VFS: the nth call from now
 * (1: the next one) of op, by any process, fails; 0 disarms. WRITE (pwrite and
 * append) and FSYNC return DR_EIO without touching the disk (after a failed
 * fsync the dirty pages stay undurable); SEND resets the stream's connection
 * (the data is lost, both sides see closed(DR_ECONNRESET)) and returns DR_OK;
 * SPAWN returns DR_EAGAIN. Each firing counts as "inject.<op>". */
typedef enum dr_sim_op {
    DR_SIM_OP_WRITE,
    DR_SIM_OP_FSYNC,
    DR_SIM_OP_SEND,
    DR_SIM_OP_SPAWN,
    DR_SIM_OP_COUNT
} dr_sim_op;
void dr_sim_fail_nth(dr_sim *sim, dr_sim_op op, uint64_t nth);

/* Changes fault settings from now on (for safety-then-liveness phases). */
void dr_sim_set_faults(dr_sim *sim, const dr_sim_faults *faults);

/* Schedules fn(ctx) at virtual time now + delay_ns, outside any process (for
 * scenario drivers: crash a host at t=5s, heal at t=20s). ctx is kept; an
 * event still queued at dr_sim_destroy is dropped without calling fn. */
typedef void dr_sim_fn(dr_sim *sim, void *ctx);
void dr_sim_schedule(dr_sim *sim, uint64_t delay_ns, dr_sim_fn *fn, void *ctx);

/* Runs events until the queue is empty or virtual time would pass until_ns,
 * then sets the clock to until_ns (unless UINT64_MAX). Returns the number of
 * events run. */
uint64_t dr_sim_run_until(dr_sim *sim, uint64_t until_ns);
/* Runs exactly one event; false if the queue is empty. */
bool dr_sim_step(dr_sim *sim);
uint64_t dr_sim_now(const dr_sim *sim); /* true (global) virtual time */

/* Called after every event (for invariant checkers); ctx is kept. */
typedef void dr_sim_step_fn(dr_sim *sim, void *ctx);
void dr_sim_set_step_hook(dr_sim *sim, dr_sim_step_fn *fn, void *ctx);

/* Trace: XXH3-64 over every event (time, seq, kind, source, destination,
 * payload hash). */
uint64_t dr_sim_trace_hash(const dr_sim *sim);
uint64_t dr_sim_event_count(const dr_sim *sim);
/* The trace hash after every DR_SIM_CHECKPOINT_EVENTS events, so the first
 * divergence of two runs can be bisected: fills up to out_count and returns
 * how many there are. */
#define DR_SIM_CHECKPOINT_EVENTS (UINT64_C(1) << 16)
size_t dr_sim_trace_checkpoints(const dr_sim *sim, uint64_t *out, size_t out_count);
/* Mixes a caller-chosen value into the trace (scenarios record decisions). */
void dr_sim_trace_note(dr_sim *sim, const char *kind, uint64_t value);

/* How often each fault kind fired: fills up to out_count entries and returns
 * the number of kinds (all of them, zero counts too, in a stable order). Kinds
 * are stable names ("net.refuse", "net.reset", "net.stall", "net.latency_tail",
 * "net.partition", "net.partition_drop", "net.timeout", "disk.eio_write",
 * "disk.eio_fsync", "disk.enospc", "disk.crash_drop", "disk.crash_torn",
 * "disk.crash_keep", "proc.crash", "host.crash", "proc.pause", "clock.jump",
 * "clock.drift", ...). */
typedef struct dr_sim_fault_count {
    const char *kind;
    uint64_t count;
} dr_sim_fault_count;
size_t dr_sim_fault_counts(const dr_sim *sim, dr_sim_fault_count *out, size_t out_count);
void dr_sim_fault_fired(dr_sim *sim, const char *kind); /* counts (and traces) one firing */

/* Scenario registry for `dromos sim`: each scenario builds its cluster and
 * faults from the seed and returns 0 if every invariant held. */
typedef struct dr_sim_scenario {
    const char *name;
    const char *summary;
    /* Draws its options from opts->seed (printing them to out), runs, checks. */
    int (*run)(const dr_sim_opts *opts, FILE *out, uint64_t *trace_hash_out);
} dr_sim_scenario;
const dr_sim_scenario *dr_sim_scenario_find(const char *name);
size_t dr_sim_scenario_count(void);
const dr_sim_scenario *dr_sim_scenario_at(size_t index);

/* Helpers for scenarios (swarm testing): draws which fault kinds are on and
 * how strongly from seed (a stream of its own), prints them one per line. */
void dr_sim_faults_draw(uint64_t seed, dr_sim_faults *out);
void dr_sim_faults_print(const dr_sim_faults *faults, FILE *out);
/* Prints "faults fired:" with every kind's count (stable order), the event
 * count and "trace hash: 0x...". */
void dr_sim_print_summary(const dr_sim *sim, FILE *out);

/* Virtual-time constants of the network model. */
#define DR_SIM_LOOPBACK_LATENCY_NS (10 * DR_NS_PER_US)
#define DR_SIM_CONNECT_TIMEOUT_NS (10 * DR_NS_PER_S) /* connect across a partition */
#define DR_SIM_STREAM_TIMEOUT_NS (10 * DR_NS_PER_S)  /* unacked data across a partition */
#define DR_SIM_RETRANSMIT_NS (200 * DR_NS_PER_MS)    /* retry interval while partitioned */
/* Longer timer delays are cut to this (about 146 years of virtual time). */
#define DR_SIM_TIMER_DELAY_MAX_NS (UINT64_C(1) << 62)
/* Wall clock of every host at virtual time 0: 2026-01-01T00:00:00Z. */
#define DR_SIM_EPOCH_WALL_NS (UINT64_C(1767225600) * DR_NS_PER_S)

#endif /* DR_SIM_H */
