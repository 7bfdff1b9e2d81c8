/* src/agent/agent_int.h — the agent's data model, shared by its files:
 * agent.c (lifecycle, master connection, recovery), tasks.c (executors,
 * tasks, status update manager, gc), executor_api.c (/api/v1/executor),
 * operator.c (/api/v1, /files, /metrics), checkpoint.c (files under meta/).
 *
 * Determinism: frameworks, executors and tasks live in doubly linked lists in
 * insertion order (lookups walk them by id), never in pointer-keyed tables.
 * Protobuf values kept here are malloc'd deep copies (dr__agent_clone) freed
 * with dr_proto_free().
 */
#ifndef DR_AGENT_INT_H
#define DR_AGENT_INT_H

#include "src/agent/agent.h"
#include "src/agent/checkpoint.h"
#include "src/agent/containerizer.h"
#include "src/http/client.h"
#include "src/http/negotiate.h"
#include "src/http/recordio.h"
#include "src/http/server.h"
#include "src/proto/proto.h"
#include "src/resources/resources.h"
#include "internal.pb-c.h"

#define DR_AGENT_ID_SIZE_MAX 256u /* framework, executor, task ids: bytes with NUL */
#define DR_AGENT_UPDATE_BACKOFF_MIN_NS (10 * DR_NS_PER_S)
#define DR_AGENT_UPDATE_BACKOFF_MAX_NS (10 * 60 * DR_NS_PER_S)
#define DR_AGENT_REGISTER_BACKOFF_MAX_NS (60 * DR_NS_PER_S)
#define DR_AGENT_UPDATE_QUEUE_COUNT_MAX 1024u /* pending updates per task */
#define DR_AGENT_UUID_SIZE_MAX 64u
#define DR_AGENT_READ_FILE_SIZE_MAX (16u * 1024 * 1024)

typedef struct dr__agent_framework dr__agent_framework;
typedef struct dr__agent_executor dr__agent_executor;
typedef struct dr__agent_task dr__agent_task;

/* A pending status update in a task's stream. */
typedef struct dr__agent_update {
    struct dr__agent_update *next;
    Mesos__TaskStatus *status; /* owned; uuid set */
} dr__agent_update;

/* A task from RUN_TASK (or recovered) until its terminal update is
 * acknowledged by the framework. */
struct dr__agent_task {
    dr__agent_task *prev, *next; /* in executor->tasks */
    dr__agent_executor *ex;
    char *id;
    Mesos__TaskInfo *info;       /* owned */
    Mesos__TaskState state;      /* latest state received (STAGING at first) */
    Mesos__TaskStatus *latest;   /* owned copy of the latest status; NULL: none yet */
    bool launched;               /* sent to the executor (LAUNCH or LAUNCH_GROUP) */
    uint64_t group;              /* nonzero: member of task group <group> (launched together) */
    /* status update stream */
    dr__agent_update *head, *tail;     /* pending, oldest first */
    size_t pending_count;
    bool head_sent;
    uint64_t backoff_ns;
    dr_timer_id retry_timer;
    dr_buf seen_uuids;           /* (1-byte size, bytes)* of every update taken */
};

typedef enum dr__agent_executor_state {
    DR__EX_FETCHING = 1, /* the fetcher runs */
    DR__EX_LAUNCHED,     /* its process runs; not subscribed yet */
    DR__EX_RUNNING,      /* subscribed */
    DR__EX_TERMINATING,  /* shutdown asked */
    DR__EX_TERMINATED,   /* process gone; waits for its tasks' acks */
} dr__agent_executor_state;

struct dr__agent_executor {
    dr__agent_executor *prev, *next; /* in framework->executors */
    dr_agent *agent;
    dr__agent_framework *fw;
    char *id;
    Mesos__ExecutorInfo *info; /* owned, framework_id set */
    bool generated;            /* the command executor for a TaskInfo.command */
    char container_id[40];
    char *sandbox;             /* owned; <work>/slaves/<a>/frameworks/<f>/executors/<e>/runs/<c> */
    char *meta_run;            /* owned; the meta/ twin of the run directory */
    dr__agent_executor_state state;
    dr_pid pid;                /* 0: none */
    dr_pid fetch_pid;
    bool recovered;            /* found at recovery, waiting to re-subscribe */
    dr_http_response *stream;  /* the SUBSCRIBE answer; NULL: not connected */
    dr_http_codec codec;
    dr__agent_task *tasks, *tasks_tail;
    uint32_t task_count;
    dr_timer_id reg_timer;     /* registration or re-registration timeout */
    dr_timer_id kill_timer;    /* shutdown grace period */
    Mesos__TaskStatus__Reason term_reason; /* for its unfinished tasks */
    Mesos__TaskState term_state;           /* TASK_FAILED, or TASK_LOST after a reboot */
    char term_message[200];
    uint64_t launched_wall_ns;
    uint64_t next_group;
    dr_resources resources;    /* executor's own + its live tasks' */
};

struct dr__agent_framework {
    dr__agent_framework *prev, *next;
    char *id;
    Mesos__FrameworkInfo *info; /* owned, id set */
    bool checkpoint;
    dr__agent_executor *executors, *executors_tail;
    uint32_t executor_count;
};

typedef enum dr__agent_state {
    DR__AGENT_RECOVERING = 1, /* waiting for recovered executors */
    DR__AGENT_DISCONNECTED,   /* backoff before the next REGISTER */
    DR__AGENT_REGISTERING,    /* REGISTER sent, no REGISTERED yet */
    DR__AGENT_REGISTERED,
    DR__AGENT_TERMINATING,
} dr__agent_state;

/* A sandbox waiting for garbage collection. */
typedef struct dr__agent_gc_entry {
    struct dr__agent_gc_entry *next;
    char *sandbox;  /* owned */
    char *meta_run; /* owned; may be NULL */
    char *virtual_path; /* owned; "/frameworks/F/executors/E/runs/latest" or NULL */
    uint64_t since_ns;
} dr__agent_gc_entry;

typedef struct dr__agent_counters {
    uint64_t tasks_finished, tasks_failed, tasks_killed, tasks_lost, tasks_gone, tasks_error;
    uint64_t updates_valid, updates_invalid, updates_sent, updates_acked;
    uint64_t messages_valid, messages_invalid;
    uint64_t executors_launched, executors_terminated, launch_errors;
    uint64_t registrations, gc_removed, recovery_errors, ckpt_skipped;
} dr__agent_counters;

struct dr_agent {
    dr_env *env;
    dr_agent_opts opts;   /* strings and arrays deep-copied (owned) */
    char **exec_argv;     /* owned copies of the argv options */
    char **fetch_argv;
    char **flag_names, **flag_values;
    dr_launcher launcher;
    dr_isolator isolators[3];
    size_t isolator_count;
    dr_rng id_rng;        /* container ids, uuids */
    dr_rng backoff_rng;

    dr__agent_state state;
    char *failure;        /* owned; fatal message or NULL */
    char agent_id[DR_AGENT_ID_SIZE_MAX]; /* "" until registered (or recovered) */
    char session_id[64];
    char boot_id[64];
    char hostname[DR_HOSTNAME_SIZE_MAX];
    char endpoint[300];   /* "ip:port" executors reach us at */
    uint64_t start_ns, start_wall_ns;
    Mesos__AgentInfo *info; /* owned; id set once known */
    dr_resources total;

    dr_file *lock_file;
    dr_http_server *server;
    dr_http_client *master;
    char master_host[DR_HOSTNAME_SIZE_MAX];
    uint16_t master_port;
    dr_http_call *reg_call;
    int reg_status;
    uint64_t reg_gen;
    dr_recordio_decoder dec;
    dr_timer_id reg_timer;     /* backoff before REGISTER */
    uint64_t reg_backoff_ns;
    dr_timer_id ping_timer;    /* master silence watchdog */
    uint64_t ping_interval_ns;
    uint64_t last_event_ns;
    dr_timer_id recovery_timer; /* executor re-registration timeout */
    dr_timer_id gc_timer;
    dr_timer_id disk_timer;
    dr_timer_id reap_timer;
    dr_timer_id heartbeat_timer; /* HEARTBEAT events to executors */
    dr_timer_id mem_timer;       /* posix/mem: containers over their memory limit */     /* frees terminated executors and empty frameworks */
    double disk_usage;          /* last measured, 0..1 */

    dr__agent_framework *frameworks, *frameworks_tail;
    uint32_t framework_count;
    dr__agent_gc_entry *gc_head, *gc_tail;

    dr__agent_counters counters;
    int busy;          /* inside a callback that may end in destroy */
    bool shutting_down;
    bool done_armed; /* the done timer of a graceful stop is set */
    dr_agent_done_fn *done_fn;
    void *done_ctx;
};

/* ---- agent.c -------------------------------------------------------------------- */

void *dr__agent_clone(const void *msg); /* deep copy via protobuf (returns owned) */
void dr__agent_fail(dr_agent *a, const char *fmt, ...) DR_PRINTF(2, 3);
/* Sends an internal call to the master (no-op when not registered). */
void dr__agent_call(dr_agent *a, Dromos__Internal__AgentCall *call);
bool dr__agent_id_valid(const char *id);
void dr__agent_new_uuid(dr_agent *a, uint8_t out[16]);
void dr__agent_container_id(dr_agent *a, char out[40]);
void dr__agent_recovery_check(dr_agent *a); /* a recovered executor re-subscribed */
/* During dr_agent_shutdown: arms done once every executor of a framework
 * that does not checkpoint has ended (an executor ended). */
void dr__agent_shutdown_check(dr_agent *a);

/* ---- tasks.c ---------------------------------------------------------------------- */

dr__agent_framework *dr__agent_framework_find(const dr_agent *a, const char *id);
dr__agent_framework *dr__agent_framework_add(dr_agent *a, const Mesos__FrameworkInfo *info);
dr__agent_executor *dr__agent_executor_find(const dr__agent_framework *fw, const char *id);
dr__agent_task *dr__agent_task_find(const dr__agent_framework *fw, const char *task_id);
dr__agent_executor *dr__agent_executor_new(dr_agent *a, dr__agent_framework *fw, const Mesos__ExecutorInfo *info,
                               bool generated, const char *container_id);
dr__agent_task *dr__agent_task_new(dr__agent_executor *ex, const Mesos__TaskInfo *info);
void dr__agent_executor_free(dr_agent *a, dr__agent_executor *ex);
void dr__agent_task_remove(dr_agent *a, dr__agent_task *t); /* unlinks and frees */
void dr__agent_framework_free(dr_agent *a, dr__agent_framework *fw);

void dr__agent_run_task(dr_agent *a, const Dromos__Internal__AgentEvent__RunTask *rt, bool group);
void dr__agent_kill_task(dr_agent *a, const Dromos__Internal__AgentEvent__KillTask *kt);
void dr__agent_shutdown_framework(dr_agent *a, const char *framework_id);
void dr__agent_executor_shutdown(dr_agent *a, dr__agent_executor *ex, Mesos__TaskStatus__Reason reason,
                           const char *message);
void dr__agent_executor_kill(dr_agent *a, dr__agent_executor *ex); /* SIGKILL the tree now */
void dr__agent_executor_exited(dr_agent *a, dr__agent_executor *ex);
dr_exit_fn dr__agent_executor_exit_cb; /* ctx: the dr__agent_executor */
/* Generates and takes an agent-sourced update (uuid set) for task. */
void dr__agent_task_fail(dr_agent *a, dr__agent_task *t, Mesos__TaskState state,
                   Mesos__TaskStatus__Reason reason, const char *message);
/* Sends queued tasks to a subscribed executor. */
void dr__agent_executor_flush(dr_agent *a, dr__agent_executor *ex);
bool dr__agent_state_terminal(Mesos__TaskState s);

/* Status update manager. take: a new update for t (status borrowed; its uuid
 * set). Duplicates (uuid seen) return DR_OK with *duplicate. Checkpoints
 * first when the framework checkpoints; on a disk error nothing changes when
 * must_checkpoint (executor updates: the executor retries), else the update
 * is kept in memory only (the agent's own: nobody would retry them). */
dr_code dr__agent_sum_take(dr_agent *a, dr__agent_task *t, const Mesos__TaskStatus *status,
                           bool must_checkpoint, bool *duplicate, dr_err *err) DR_MUST_USE;
void dr__agent_sum_ack(dr_agent *a, const char *framework_id, const char *task_id,
                 const ProtobufCBinaryData *uuid);
void dr__agent_sum_resend_all(dr_agent *a); /* after (re-)registration */
void dr__agent_sum_stop_timers(dr_agent *a);

void dr__agent_reap_soon(dr_agent *a);
/* virtual_path: the /files alias that keeps serving the sandbox until it
 * is removed (NULL: none). */
void dr__agent_gc_schedule(dr_agent *a, const char *sandbox, const char *meta_run,
                           const char *virtual_path);
void dr__agent_gc_start(dr_agent *a);
void dr__agent_gc_free(dr_agent *a);
void dr__agent_resources_used(const dr_agent *a, dr_resources *out);
/* Bytes of memory an executor may use: its own and its live tasks' mem, plus
 * 32 MB for a command executor (Mesos's DEFAULT_EXECUTOR_MEM); 0: no limit. */
uint64_t dr__agent_executor_mem_limit(const dr__agent_executor *ex);
void dr__agent_mem_watch_start(dr_agent *a);

/* ---- checkpoint.c ---------------------------------------------------------------- */

char *dr__agent_meta_path(const dr_agent *a, const char *fmt, ...) DR_PRINTF(2, 3); /* owned */
dr_code dr__agent_ckpt_write_msg(dr_agent *a, const char *path, const ProtobufCMessage *msg,
                           dr_err *err) DR_MUST_USE;
dr_code dr__agent_ckpt_write_text(dr_agent *a, const char *path, const char *text,
                            dr_err *err) DR_MUST_USE;
/* Replaces a symlink atomically (tmp link, rename). */
/* Replaces a symlink atomically (tmp link, rename); durable: fsync'd into
 * its directory, which is created durably too. */
dr_code dr__agent_ckpt_symlink(dr_agent *a, const char *target, const char *link, bool durable,
                               dr_err *err) DR_MUST_USE;
dr_code dr__agent_ckpt_framework(dr_agent *a, dr__agent_framework *fw, dr_err *err) DR_MUST_USE;
dr_code dr__agent_ckpt_executor(dr_agent *a, dr__agent_executor *ex, dr_err *err) DR_MUST_USE;
dr_code dr__agent_ckpt_pid(dr_agent *a, dr__agent_executor *ex, dr_err *err) DR_MUST_USE;
dr_code dr__agent_ckpt_task(dr_agent *a, dr__agent_task *t, dr_err *err) DR_MUST_USE;
/* Appends a record to t's task.updates; sync: fsync before returning (an
 * acknowledgement need not be: losing one only means a resend). */
dr_code dr__agent_ckpt_append(dr_agent *a, dr__agent_task *t, const dr_buf *record, bool sync,
                              dr_err *err) DR_MUST_USE;
/* Recovers meta/ into the model (frameworks, executors, tasks, streams).
 * *rebooted: the boot id changed. */
dr_code dr__agent_ckpt_recover(dr_agent *a, bool *rebooted, dr_err *err) DR_MUST_USE;

/* ---- executor_api.c / operator.c ---------------------------------------------------- */

dr_code dr__agent_executor_api_route(dr_agent *a, dr_err *err) DR_MUST_USE;
void dr__agent_executor_send(dr_agent *a, dr__agent_executor *ex, const Mesos__Executor__Event *ev);
void dr__agent_executor_close_stream(dr_agent *a, dr__agent_executor *ex);
dr_code dr__agent_operator_route(dr_agent *a, dr_err *err) DR_MUST_USE;
void dr__agent_metrics_json(const dr_agent *a, dr_buf *out);

#endif /* DR_AGENT_INT_H */
