/* sim/sim_int.h — the simulator's internals, shared by its own files only:
 * sim.c (event queue, trace, hosts, clocks, faults), proc.c (process table,
 * programs, spawn, signals), net.c (listeners and streams) and env.c (the
 * dr_env each process gets). Nothing outside sim/ includes this.
 *
 * Lifetimes: a process (sim_proc) lives from start until it ends and is then
 * freed; its pid is never reused, so events name their target by pid and an
 * event for a pid no longer in the table is dropped. A connection (sim_conn)
 * holds both stream handles and lives until both are released and no queued
 * event refers to it (ev_refs).
 */
#ifndef DR_SIM_INT_H
#define DR_SIM_INT_H

#include <stddef.h>
#include <xxhash.h>

#include "sim.h"
#include "disk.h"

/* ---- intrusive lists (insertion order, never address order) ---------------- */

typedef struct sim_link {
    struct sim_link *prev;
    struct sim_link *next;
} sim_link;

static inline void sim_link_init(sim_link *head) { head->prev = head->next = head; }
static inline bool sim_link_empty(const sim_link *head) { return head->next == head; }
static inline void sim_link_push(sim_link *head, sim_link *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}
static inline void sim_link_del(sim_link *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = node;
}
#define SIM_CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- events ------------------------------------------------------------------ */

typedef enum sim_ev_kind {
    EV_FN,          /* ptr: sim_fn_call (dr_sim_schedule) */
    EV_TIMER,       /* arg: timer id; pid: owner */
    EV_CHUNK,       /* ptr: conn; arg: direction (the head chunk of that direction) */
    EV_STREAM,      /* ptr: conn; arg: side | what << 8 | code << 16; pid: owner */
    EV_EXIT_NOTIFY, /* ptr: sim_exit_note; pid: the watcher */
    EV_GENERIC_EXIT,/* pid: the generic process that finishes */
    EV_SIGNAL,      /* arg: signo; pid: target */
} sim_ev_kind;

/* what of EV_STREAM */
enum { STREAM_CLOSED = 1, STREAM_DRAINED = 2, STREAM_RX_FLUSH = 3 };

typedef struct sim_ev {
    uint64_t due_ns;
    uint64_t seq; /* counts schedule calls: ties keep scheduling order */
    void *ptr;
    uint64_t arg;
    dr_pid pid; /* target process; 0: none */
    uint32_t kind;
} sim_ev;

typedef struct sim_fn_call {
    dr_sim_fn *fn;
    void *ctx;
} sim_fn_call;

typedef struct sim_exit_note {
    dr_pid child;
    dr_exit_status status;
    dr_exit_fn *fn;
    void *ctx;
} sim_exit_note;

/* ---- timers: a slab indexed by id; a canceled slot bumps its generation, so
 * the queued event finds a stale id and is skipped (lazy cancel, O(1)). -------- */

typedef struct sim_timer {
    uint32_t gen;
    uint32_t next_free; /* index + 1 in the free list; 0: end */
    bool live;
    dr_pid pid;
    dr_timer_fn *fn;
    void *ctx;
} sim_timer;

/* ---- hosts -------------------------------------------------------------------- */

typedef struct sim_host {
    dr_sim *sim;
    dr_sim_host_id id;
    char name[DR_HOSTNAME_SIZE_MAX];
    char ip[20];
    bool up;
    uint32_t boot_count;
    char boot_id[40];
    uint32_t cpu_count;
    uint64_t mem_bytes;
    int64_t wall_offset_ns; /* drawn offset plus every jump */
    int64_t drift_ppb;      /* local = true + true * drift_ppb / 1e9 */
    dr_rng disk_rng;
    dr_sim_disk_hooks disk_hooks;
    dr_sim_disk *disk; /* NULL without sim/disk.c */
    sim_link procs;     /* sim_proc.host_link, in pid order */
    sim_link listeners; /* sim_listener.host_link */
    uint16_t next_port; /* ephemeral ports */
} sim_host;

/* ---- processes ---------------------------------------------------------------- */

typedef struct sim_watch {
    dr_pid watcher;
    dr_exit_fn *fn;
    void *ctx;
} sim_watch;

typedef struct sim_proc {
    dr_env env; /* handed to the program; env.self points here */
    dr_sim *sim;
    sim_host *host;
    dr_pid pid;
    dr_pid pgid;
    bool subreaper;          /* spawned with dr_spawn_opts.subreaper */
    bool has_children;       /* spawned a process once: its end reparents them */
    int parent_death_signal; /* dr_spawn_opts.parent_death_signal */
    bool paused;
    bool running; /* inside one of its callbacks (crash is deferred) */
    bool generic;
    const dr_sim_program *program;
    void *state;
    char name[DR_NODE_NAME_SIZE_MAX];
    uint64_t seed;
    dr_rng rng;
    dr_log_level log_level;
    sim_link host_link;
    sim_link streams;   /* dr_stream.proc_link */
    sim_link listeners; /* sim_listener.proc_link */
    sim_link files;     /* dr_file.proc_link */
    sim_ev *held;       /* events that came due while paused, in order */
    size_t held_count;
    size_t held_capacity;
    sim_watch *watches; /* [0]: the parent (watcher 0: none, fn NULL: nobody
                           hears; reparented as the kernel does when the
                           parent ends), then dr_env_watch callers */
    size_t watch_count;
    size_t watch_capacity;
    dr_exit_status generic_status;
    char *generic_stdout; /* owned; NULL: /dev/null */
    char *argv0;          /* owned */
    dr_sim_creds *creds;  /* owned: the credentials and limits it runs with */
} sim_proc;

/* A user added with dr_sim_user_add (sim/proc.c). */
#define SIM_USER_COUNT_MAX 16
#define SIM_USER_GROUP_COUNT_MAX 8
typedef struct sim_user {
    char name[32];
    uint32_t uid;
    uint32_t gid;
    uint32_t groups[SIM_USER_GROUP_COUNT_MAX];
    size_t group_count;
} sim_user;

/* ---- network ------------------------------------------------------------------ */

typedef struct dr_listener sim_listener;
struct dr_listener {
    sim_host *host;
    dr_pid pid;
    uint16_t port;
    dr_accept_fn *fn;
    void *ctx;
    sim_link host_link;
    sim_link proc_link;
};

enum { CHUNK_SYN = 1, CHUNK_SYNACK, CHUNK_DATA, CHUNK_FIN };

typedef struct sim_chunk {
    struct sim_chunk *next;
    uint64_t due_ns;
    uint64_t write_seq; /* DATA: the event during which it was written */
    uint32_t size;
    uint32_t capacity;  /* bytes allocated at data (>= size) */
    uint8_t type;
    bool stalled;
    uint8_t data[];
} sim_chunk;

/* One direction of a connection: what side d wrote, on its way to 1 - d. */
typedef struct sim_dir {
    sim_chunk *head;
    sim_chunk *tail;
    sim_chunk *before_tail;    /* the chunk whose next is tail; NULL when head == tail */
    size_t chunk_count;
    uint64_t last_due_ns;      /* FIFO: a later chunk is never due earlier */
    uint64_t blocked_since_ns; /* valid while conn->blocked[d] */
    size_t unacked_size;       /* written, not yet handed to the reader: the writer's queue */
    bool scheduled;            /* the head chunk has an event queued */
} sim_dir;

struct dr_stream {
    struct sim_conn *conn;
    uint8_t side;      /* 0: connecting side, 1: accepting side */
    bool exists;       /* the handle was handed to a process */
    bool released;     /* closed, aborted, or its process ended: no callbacks */
    bool closed_fired; /* closed() ran (or is queued): the stream is dead */
    bool connected;
    bool paused;
    bool want_drained;
    bool fin_pending; /* end of stream arrived while paused */
    bool flush_queued; /* an RX_FLUSH event is queued */
    dr_pid pid;
    const dr_stream_cbs *cbs;
    void *ctx;
    dr_buf rx; /* arrived while paused */
    sim_link proc_link;
};

typedef struct sim_conn {
    dr_sim *sim;
    uint64_t id;
    dr_stream side[2];
    sim_dir dir[2];
    sim_host *host[2];
    uint16_t port[2];
    bool dead; /* reset, refused or ended: nothing more is delivered */
    bool blocked[2]; /* direction d is held back by a partition since dir[d].blocked_since_ns */
    uint32_t ev_refs;
} sim_conn;

/* ---- files -------------------------------------------------------------------- */

struct dr_file {
    dr_sim_file *file;
    dr_pid pid;
    sim_link proc_link;
};

/* ---- the simulator ------------------------------------------------------------ */

#define SIM_FAULT_KIND_MAX 64

struct dr_sim {
    dr_sim_opts opts;
    dr_sim_faults faults;
    uint64_t now_ns;
    uint64_t seq_next;
    uint64_t event_count;
    uint64_t current_seq; /* seq of the event being run */
    bool in_event;        /* an event is being run (not the harness between events) */

    sim_ev *heap;
    size_t heap_count;
    size_t heap_capacity;

    size_t heap_stale_count; /* canceled timers still in the heap */

    sim_timer *timers;
    size_t timer_count;
    size_t timer_capacity;
    uint32_t timer_free; /* index + 1; 0: none */

    sim_host **hosts; /* index id - 1 */
    size_t host_count;
    bool *partition;  /* [a * partition_size + b] blocks host a+1 -> host b+1 */
    size_t partition_size; /* row length (capacity, >= host_count) */

    sim_proc **procs; /* index pid - 1; NULL once ended */
    size_t proc_count;
    size_t proc_capacity;

    const dr_sim_program **programs;
    size_t program_count;

    dr_rng net_rng;
    uint64_t conn_next_id;

    XXH3_state_t *trace;
    uint64_t *checkpoints; /* trace hash after each DR_SIM_CHECKPOINT_EVENTS events */
    size_t checkpoint_count;

    const char *fault_kinds[SIM_FAULT_KIND_MAX];
    uint64_t fault_counts[SIM_FAULT_KIND_MAX];
    size_t fault_kind_count;

    bool destroying; /* dropped events are not re-queued */
    uint64_t fail_countdown[DR_SIM_OP_COUNT]; /* dr_sim_fail_nth; 0: disarmed */

    dr_sim_step_fn *step_fn;
    void *step_ctx;

    sim_user users[SIM_USER_COUNT_MAX]; /* besides the built-in ones (sim/proc.c) */
    size_t user_count;
};

/* sim.c */
void dr__sim_push(dr_sim *sim, uint64_t due_ns, uint32_t kind, dr_pid pid, void *ptr,
                  uint64_t arg);
void dr__sim_trace(dr_sim *sim, const char *kind, dr_pid src, dr_pid dst, uint64_t size,
                   uint64_t payload_hash);
void dr__sim_trace_text(dr_sim *sim, const char *text); /* readable timeline only */
sim_host *dr__sim_host(const dr_sim *sim, dr_sim_host_id id);
sim_host *dr__sim_host_by_addr(const dr_sim *sim, const char *name);
uint64_t dr__sim_host_now(const sim_host *host);
uint64_t dr__sim_host_wall(const sim_host *host);
uint64_t dr__sim_host_delay(const sim_host *host, uint64_t delay_local_ns);
sim_proc *dr__sim_proc(const dr_sim *sim, dr_pid pid);
void dr__sim_describe(const dr_sim *sim, dr_pid pid, char *out, size_t out_size);
void dr__sim_ev_discard(dr_sim *sim, sim_ev *ev); /* releases what a dropped event holds */
/* True if this call of op is the one dr_sim_fail_nth armed (counts the fault). */
bool dr__sim_fail_now(dr_sim *sim, dr_sim_op op);
/* Samples one network delay from a to b (loopback: fixed and fault-free). */
uint64_t dr__sim_net_latency(dr_sim *sim, const sim_host *a, const sim_host *b);
/* True if what a sends cannot reach b (partition, or b is down). */
bool dr__sim_path_blocked(const dr_sim *sim, const sim_host *a, const sim_host *b);

/* timers */
dr_timer_id dr__sim_timer_add(dr_sim *sim, sim_proc *proc, uint64_t delay_ns, dr_timer_fn *fn,
                              void *ctx);
void dr__sim_timer_cancel(dr_sim *sim, sim_proc *proc, dr_timer_id id);

/* proc.c */
dr_code dr__sim_spawn(dr_sim *sim, sim_host *host, dr_pid parent, const dr_spawn_opts *opts,
                      dr_exit_fn *fn, void *ctx, dr_pid *out, dr_err *err);
dr_code dr__sim_watch(dr_sim *sim, sim_proc *watcher, dr_pid pid, dr_exit_fn *fn, void *ctx,
                      dr_err *err);
dr_code dr__sim_user_lookup(const dr_sim *sim, sim_proc *from, const char *name,
                            dr_user_info *out, dr_err *err);
dr_code dr__sim_signal(dr_sim *sim, sim_proc *from, dr_pid pid, int signo, bool group,
                       dr_err *err);
void dr__sim_proc_hold(sim_proc *proc, const sim_ev *ev);
void dr__sim_on_exit_notify(dr_sim *sim, sim_ev *ev);
void dr__sim_on_generic_exit(dr_sim *sim, sim_ev *ev);
void dr__sim_on_signal(dr_sim *sim, sim_ev *ev);
void dr__sim_procs_end_all(dr_sim *sim);
/* Runs a callback of proc: marks it running so that a crash inside is deferred. */
void dr__sim_proc_enter(sim_proc *proc);
void dr__sim_proc_leave(sim_proc *proc);

/* net.c */
dr_code dr__sim_listen(sim_proc *proc, const char *host, uint16_t port, dr_accept_fn *fn,
                       void *ctx, dr_listener **out, dr_err *err);
uint16_t dr__sim_listener_port(dr_listener *listener);
void dr__sim_listener_close(sim_proc *proc, dr_listener *listener);
dr_code dr__sim_connect(sim_proc *proc, const char *host, uint16_t port, const dr_stream_cbs *cbs,
                        void *ctx, dr_stream **out, dr_err *err);
void dr__sim_stream_set_cbs(sim_proc *proc, dr_stream *s, const dr_stream_cbs *cbs, void *ctx);
dr_code dr__sim_stream_write(sim_proc *proc, dr_stream *s, const void *data, size_t size,
                             dr_err *err);
size_t dr__sim_stream_queued(dr_stream *s);
void dr__sim_stream_pause(sim_proc *proc, dr_stream *s, bool paused);
void dr__sim_stream_close(sim_proc *proc, dr_stream *s);
void dr__sim_stream_abort(sim_proc *proc, dr_stream *s);
void dr__sim_stream_peer(dr_stream *s, char *out, size_t out_size);
void dr__sim_on_chunk(dr_sim *sim, sim_ev *ev);
void dr__sim_on_stream(dr_sim *sim, sim_ev *ev);
void dr__sim_conn_unref(sim_conn *conn);
/* A chunk event that will not run: re-queues the head (a paused reader's
 * event dropped with it) unless the connection is dead or the sim ends. */
void dr__sim_chunk_discard(dr_sim *sim, sim_ev *ev);
/* The process ends: graceful closes its streams (FIN), else resets them. */
void dr__sim_net_proc_end(sim_proc *proc, bool graceful);

/* env.c */
void dr__sim_env_init(sim_proc *proc);
void dr__sim_files_close_all(sim_proc *proc);

#endif /* DR_SIM_INT_H */
