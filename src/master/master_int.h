/* src/master/master_int.h — the master's data model, shared by the files of
 * src/master: the core (master.c, scheduler.c, agents.c, offers.c, tasks.c)
 * and the operator side (operator.c, v0.c, metrics.c), which reads it.
 *
 * Everything here is owned by the dr_master and lives on its env's loop. The
 * operator side READS this model freely and changes it only through the
 * dr__master_* functions declared below (which keep the allocator, the
 * agents' and frameworks' views and the counters in step).
 *
 * Determinism: every collection is a dr_idmap (a sorted array keyed by string
 * id, binary search on lookup), so walking one visits ids in strcmp order,
 * never in address or hash order. Protobuf values kept here (FrameworkInfo,
 * AgentInfo, Task, ExecutorInfo...) are malloc'd deep copies freed with
 * dr_proto_free(); replace them with dr__master_pb_clone(), never edit their
 * strings in place.
 */
#ifndef DR_MASTER_INT_H
#define DR_MASTER_INT_H

#include "src/allocator/allocator.h"
#include "src/http/negotiate.h"
#include "src/http/server.h"
#include "src/master/master.h"
#include "src/proto/proto.h"
#include "src/resources/resources.h"
#include "internal.pb-c.h"

/* ---- ordered maps ----------------------------------------------------------- */

/* A map from string id to pointer, kept sorted by strcmp of the key, with a
 * hash index for lookups (ids share long prefixes such as the master's
 * UUID, so comparisons are not cheap). Keys are borrowed from the values
 * (each value owns its id string), so a value must be removed before its key
 * dies. Lookup O(1) expected, insert and remove O(log n) compares plus an
 * O(n) memmove. Iteration is over items only: the index is never walked. */
typedef struct dr_idmap_entry {
    const char *key; /* borrowed from value */
    void *value;
} dr_idmap_entry;

typedef struct dr_idmap_slot {
    uint64_t hash;
    const char *key; /* NULL: empty */
    void *value;
} dr_idmap_slot;

typedef struct dr_idmap {
    dr_idmap_entry *items; /* sorted by key, no duplicates */
    size_t count;
    size_t capacity;
    dr_idmap_slot *index;  /* open addressing, linear probing; NULL while empty */
    size_t index_capacity; /* a power of two, > 2 * count */
} dr_idmap;

void dr_idmap_init(dr_idmap *map);
void dr_idmap_deinit(dr_idmap *map); /* frees the array, not the values */
void *dr_idmap_get(const dr_idmap *map, const char *key);
/* Adds key -> value; the key must not be present. */
void dr_idmap_put(dr_idmap *map, const char *key, void *value);
/* Removes key; returns its value or NULL. */
void *dr_idmap_remove(dr_idmap *map, const char *key);
/* Walk with: for (size_t i = 0; i < map.count; i++) map.items[i].value. A walk
 * that removes entries must copy the values out first. */

/* ---- tasks -------------------------------------------------------------------- */

/* A task the master knows on a (registered or unreachable) agent. Lives in its
 * framework's `tasks` and its agent's `tasks` maps at once; when it reaches a
 * terminal state AND the terminal update was acknowledged (or it was
 * master-generated), it moves to its framework's completed-task history. */
typedef struct dr_mtask {
    char *id;           /* task id; the key in dr_mframework.tasks */
    char *agent_key;    /* "<framework id> <task id>": the key in dr_magent.tasks */
    char *framework_id; /* owned copies */
    char *agent_id;
    char *role;         /* the allocation role of its resources */
    Mesos__Task *task;  /* owned: Mesos's view (state, statuses = [latest], resources, ...) */
    dr_resources resources; /* task (+ new executor) resources, allocation_info set */
    Mesos__TaskState state; /* = task->state, the latest state known */
    bool unreachable;       /* its agent is unreachable: reported UNREACHABLE/LOST */
    uint64_t launched_ns;   /* env monotonic time of the launch */
} dr_mtask;

/* ---- offers -------------------------------------------------------------------- */

typedef struct dr_moffer {
    dr_master *master; /* back pointer (timer ctx) */
    char *id; /* "<master id>-O<n>" */
    char *framework_id;
    char *agent_id;
    char *role;
    dr_resources resources; /* with allocation_info {role} */
    uint64_t created_ns;
    dr_timer_id timeout_timer; /* offer_timeout_ns; 0: none */
} dr_moffer;

/* ---- frameworks ------------------------------------------------------------------- */

typedef enum dr_mframework_state {
    DR_MFRAMEWORK_CONNECTED = 1, /* a live SUBSCRIBE stream */
    DR_MFRAMEWORK_DISCONNECTED,  /* stream gone; failover timer running */
    DR_MFRAMEWORK_COMPLETED,     /* torn down or failover expired: history only */
} dr_mframework_state;

typedef struct dr_mframework {
    dr_master *master; /* back pointer (timers' ctx) */
    char *id;
    dr_mframework_state state;
    Mesos__FrameworkInfo *info; /* owned; info->id set */
    bool partition_aware;       /* PARTITION_AWARE capability */
    uint32_t alloc_caps;        /* DR_ALLOC_CAP_* */
    char **roles;               /* owned; the subscribed roles (role "*" if none) */
    size_t role_count;
    char **suppressed_roles;    /* owned; sorted */
    size_t suppressed_count;

    /* the subscription */
    char stream_id[40];              /* Mesos-Stream-Id (UUID text); "" when none */
    dr_http_response *stream;        /* NULL when disconnected */
    dr_http_codec codec;             /* of the stream */
    dr_timer_id heartbeat_timer;
    dr_timer_id failover_timer;
    char *principal;                 /* owned, may be NULL */

    /* wall times (ns since the epoch) for the operator API */
    uint64_t registered_wall_ns;
    uint64_t reregistered_wall_ns;   /* 0: never */
    uint64_t unregistered_wall_ns;   /* 0: still registered */

    dr_idmap tasks;  /* task id -> dr_mtask (live, including unreachable) */
    dr_idmap offers; /* offer id -> dr_moffer (also in dr_master.offers) */
    /* completed tasks, oldest first, at most opts.max_completed_tasks_per_framework */
    dr_mtask **completed_tasks;
    size_t completed_count;

    dr_resources used_resources;    /* tasks (sum over tasks) */
    dr_resources offered_resources; /* outstanding offers */
} dr_mframework;

/* ---- agents ------------------------------------------------------------------------ */

typedef enum dr_magent_state {
    DR_MAGENT_CONNECTED = 1,  /* live REGISTER stream, answering pings */
    DR_MAGENT_DISCONNECTED,   /* stream gone; pings time out until unreachable */
    DR_MAGENT_UNREACHABLE,    /* missed max_agent_ping_timeouts; may come back */
} dr_magent_state;

/* An executor the master knows about on an agent (from launches and the
 * agent's REGISTER). */
typedef struct dr_mexecutor {
    char *key; /* "<framework id> <executor id>": key in dr_magent.executors */
    char *framework_id;
    Mesos__ExecutorInfo *info; /* owned */
} dr_mexecutor;

typedef struct dr_magent {
    dr_master *master; /* back pointer (timers' ctx) */
    char *id; /* "<master id>-S<n>" */
    dr_magent_state state;
    Mesos__AgentInfo *info; /* owned; info->id set */
    char *hostname;         /* owned copy of info->hostname */
    uint16_t port;          /* info->port (5051 default) */
    char *version;          /* owned; "" when not reported */
    char *boot_id;          /* owned; "" when not reported */
    Mesos__AgentInfo__Capability__Type *capabilities; /* owned array */
    size_t capability_count;
    char pid[320];          /* "slave(1)@<ip or hostname>:<port>", for v0 views */

    /* the session */
    char session_id[40];
    dr_http_response *stream; /* NULL when disconnected */
    dr_timer_id ping_timer;
    uint64_t ping_sequence;     /* last PING sent */
    uint64_t pong_sequence;     /* last PING answered */
    uint32_t missed_ping_count; /* consecutive pings without a PONG */
    bool in_allocator;          /* added to the allocator (not unreachable) */

    uint64_t registered_wall_ns;
    uint64_t reregistered_wall_ns; /* 0: never */
    uint64_t unreachable_wall_ns;  /* 0: reachable */

    dr_resources total_resources;
    dr_resources used_resources;    /* tasks */
    dr_resources offered_resources; /* outstanding offers */

    dr_idmap tasks;     /* "<fw> <task>" -> dr_mtask */
    dr_idmap executors; /* "<fw> <executor>" -> dr_mexecutor */
    dr_idmap offers;    /* offer id -> dr_moffer */
} dr_magent;

/* ---- the master ------------------------------------------------------------------------ */

/* Task states are counted by wire number (TASK_UNKNOWN = 13 is the largest). */
#define DR_MASTER_TASK_STATE_COUNT 16

/* Counters for /metrics (monotonic since start). Gauges (tasks by state,
 * frameworks and agents by state, resources) are computed by walking. */
typedef struct dr_master_counters {
    uint64_t scheduler_calls[32];  /* by Mesos__Scheduler__Call__Type (index = wire number) */
    uint64_t scheduler_calls_invalid;
    uint64_t agent_calls[8];       /* by Dromos__Internal__AgentCall__Type */
    uint64_t agent_calls_invalid;
    uint64_t offers_sent;
    uint64_t offers_accepted;
    uint64_t offers_declined;
    uint64_t offers_rescinded;
    uint64_t offers_timed_out;
    uint64_t tasks_launched;
    uint64_t tasks_invalid;        /* answered with TASK_ERROR */
    /* Transitions into each terminal state (FINISHED, FAILED, KILLED, LOST,
     * ERROR, DROPPED, GONE, GONE_BY_OPERATOR), by Mesos__TaskState wire
     * number: Mesos's master/tasks_<state> counters. Bumped once per task
     * reaching the state (dr__task_count_terminal), including tasks the
     * master refuses at ACCEPT (TASK_ERROR, TASK_DROPPED/LOST), never by
     * reconciliation answers. */
    uint64_t tasks_terminal[DR_MASTER_TASK_STATE_COUNT];
    /* Offer operations dropped in ACCEPT (RESERVE, UNRESERVE, CREATE,
     * DESTROY until reservations land; malformed LAUNCH/LAUNCH_GROUP), by
     * Offer.Operation.Type wire number (0 also for numbers beyond): Mesos's
     * master/operations/error and master/operations/<type>/error. */
    uint64_t operations_error[16];
    uint64_t status_updates;       /* from agents */
    uint64_t status_update_acks;   /* from frameworks */
    uint64_t invalid_status_updates;
    uint64_t framework_to_executor_messages;
    uint64_t executor_to_framework_messages;
    uint64_t dropped_messages;
    uint64_t allocation_runs;
    uint64_t allocation_run_ns_total;
    uint64_t frameworks_subscribed;    /* SUBSCRIBE calls accepted */
    uint64_t frameworks_removed;
    uint64_t agents_registered;
    uint64_t agents_reregistered;
    uint64_t agents_removed;
    uint64_t agents_unreachable;       /* marked unreachable */
    uint64_t agent_ping_timeouts;
} dr_master_counters;

/* A change the operator event stream reports (master/Event types). */
typedef enum dr_master_event_kind {
    DR_MASTER_EV_TASK_ADDED = 1,      /* subject: dr_mtask */
    DR_MASTER_EV_TASK_UPDATED,        /* subject: dr_mtask (its latest status) */
    DR_MASTER_EV_AGENT_ADDED,         /* subject: dr_magent */
    DR_MASTER_EV_AGENT_REMOVED,       /* subject: dr_magent (about to be freed) */
    DR_MASTER_EV_FRAMEWORK_ADDED,     /* subject: dr_mframework */
    DR_MASTER_EV_FRAMEWORK_UPDATED,   /* subject: dr_mframework */
    DR_MASTER_EV_FRAMEWORK_REMOVED,   /* subject: dr_mframework (now COMPLETED) */
} dr_master_event_kind;

/* Hooks the operator side installs (dr__master_operator_init): called after
 * each change, synchronously; they must not change the model. */
typedef struct dr_master_hooks {
    void (*event)(dr_master *m, dr_master_event_kind kind, const void *subject, void *ctx);
    void (*shutdown)(dr_master *m, void *ctx); /* graceful stop: end streams */
    void (*destroy)(dr_master *m, void *ctx);  /* free the operator state */
    void *ctx;
} dr_master_hooks;

struct dr_master {
    dr_env *env;          /* kept */
    dr_master_opts opts;  /* deep copy (strings owned) */
    dr_http_server *server;
    dr_allocator *allocator;
    dr_rng id_rng;        /* ids and stream ids: dr_env_rng(env, "master-ids") */

    char id[40];          /* the master's id (UUID) */
    Mesos__MasterInfo *info; /* owned */
    char pid[320];        /* "master@<ip>:<port>" */
    uint64_t start_wall_ns;
    uint64_t start_ns;
    bool shutting_down;

    uint64_t next_framework_index; /* "<id>-0000", "<id>-0001", ... */
    uint64_t next_agent_index;     /* "<id>-S0", ... */
    uint64_t next_offer_index;     /* "<id>-O0", ... */

    dr_idmap frameworks; /* id -> dr_mframework (CONNECTED or DISCONNECTED) */
    dr_idmap agents;     /* id -> dr_magent (any dr_magent_state) */
    dr_idmap offers;     /* id -> dr_moffer */
    /* Completed frameworks, oldest first, at most opts.max_completed_frameworks. */
    dr_mframework **completed_frameworks;
    size_t completed_framework_count;
    /* Agents removed (MARK_AGENT_GONE, UNREGISTER): id -> dr_mgone. */
    dr_idmap gone_agents;

    dr_timer_id allocation_timer; /* the periodic cycle */
    dr_timer_id allocation_soon_timer; /* 0-delay trigger coalescing events */

    /* Responses whose client went away, finished from a 0-delay timer: a
     * gone callback may run inside a stream write, where finishing the
     * response at once is not safe. */
    dr_http_response **ending;
    size_t ending_count;
    dr_timer_id ending_timer;

    dr_master_counters counters;
    dr_master_hooks hooks;
    void *operator_state; /* owned by the operator side */
};

typedef struct dr_mgone {
    char *id;
    uint64_t gone_wall_ns;
} dr_mgone;

/* ---- functions for the operator side (and between core files) ----------------------- */

/* Operator side entry points, defined in operator.c when it is built
 * (meson defines DR_MASTER_HAS_OPERATOR): routes its endpoints on m->server
 * and installs m->hooks. */
dr_code dr__master_operator_init(dr_master *m, dr_err *err) DR_MUST_USE;

/* Records one allocation cycle's duration for allocator/mesos/allocation_run_ms
 * (a window of real run times; operator.c, a no-op stub in master.c when the
 * operator side is not built). */
void dr__operator_note_allocation_run(dr_master *m, uint64_t run_ns);

/* The arena bound for decoding a request body of body_size bytes (every
 * decode of outside input sets it, STYLE 4): decoded Mesos messages take 2 to
 * 15 times their wire size; crafted input (nested empty messages) up to ~100
 * times, which this cuts off with DR_ETOOBIG, answered 413. */
#ifndef DR_MASTER_ARENA_SIZE_MAX
#define DR_MASTER_ARENA_SIZE_MAX(body_size) (16u * (size_t)(body_size) + DR_ARENA_CHUNK_SIZE)
#endif

/* Deep copy of any message through the protobuf codec (returns owned,
 * malloc'd; free with dr_proto_free). Aborts on a message that cannot be
 * encoded (a programmer error: required fields unset). */
void *dr__master_pb_clone(const void *msg);

dr_mframework *dr__master_framework(dr_master *m, const char *framework_id);
dr_magent *dr__master_agent(dr_master *m, const char *agent_id);

/* Tears a framework down as the TEARDOWN call and operator TEARDOWN do: its
 * tasks are killed (KILL via SHUTDOWN_FRAMEWORK to its agents), its offers
 * rescinded, it moves to completed. DR_ENOENT if unknown. */
dr_code dr__master_teardown_framework(dr_master *m, const char *framework_id,
                                      dr_err *err) DR_MUST_USE;

/* MARK_AGENT_GONE: the agent is removed for good: its tasks become
 * TASK_GONE_BY_OPERATOR, it is told SHUTDOWN. DR_ENOENT if unknown,
 * (already gone: DR_OK, as Mesos answers). */
dr_code dr__master_mark_agent_gone(dr_master *m, const char *agent_id,
                                   dr_err *err) DR_MUST_USE;

/* Sets a role's weight (UPDATE_WEIGHTS) in the allocator and triggers an
 * allocation. Errors from dr_allocator_set_weight. */
dr_code dr__master_set_weight(dr_master *m, const char *role, double weight,
                              dr_err *err) DR_MUST_USE;

/* Reports a model change to the hooks (no-op without an operator side). */
void dr__master_emit(dr_master *m, dr_master_event_kind kind, const void *subject);

/* ---- between the core files (not for the operator side) ------------------------------ */

/* master.c */
void dr__master_new_id(dr_master *m, char out[40]); /* a UUID from id_rng */
/* Finishes res (a stream whose client is gone) soon, from the loop. */
void dr__master_end_later(dr_master *m, dr_http_response *res);
/* scheduler.c */
dr_code dr__scheduler_route(dr_master *m, dr_err *err) DR_MUST_USE;
void dr__scheduler_send(dr_master *m, dr_mframework *fw, const Mesos__Scheduler__Event *ev);
void dr__scheduler_disconnect(dr_master *m, dr_mframework *fw); /* ends the stream */
void dr__framework_free(dr_mframework *fw);
void dr__framework_complete(dr_master *m, dr_mframework *fw); /* -> completed history */
/* A framework an agent reports that the master does not know (after a master
 * failover): added DISCONNECTED, without a failover timer, until its scheduler
 * subscribes again. Returns the (possibly existing) record. */
dr_mframework *dr__framework_recover(dr_master *m, const Mesos__FrameworkInfo *info);
/* True when id names a framework in the completed history. */
bool dr__framework_completed(const dr_master *m, const char *id);
/* agents.c */
dr_code dr__agents_route(dr_master *m, dr_err *err) DR_MUST_USE;
void dr__agent_send(dr_master *m, dr_magent *agent, const Dromos__Internal__AgentEvent *ev);
void dr__agent_free(dr_magent *agent);
void dr__agents_shutdown(dr_master *m);
dr_mexecutor *dr__agent_add_executor(dr_magent *agent, const char *framework_id,
                                     const Mesos__ExecutorInfo *info);
/* offers.c */
/* Mesos's id rules (non-empty, <= 255 bytes, not "." or "..", no '/', '\\',
 * space or control characters); what names the id in the error. They also
 * keep the "<framework> <task>" composite keys unambiguous. */
dr_code dr__validate_id(const char *what, const char *id, dr_err *err) DR_MUST_USE;
void dr__offers_start(dr_master *m);
void dr__offers_stop(dr_master *m);
void dr__allocate_soon(dr_master *m);
/* Removes an offer: recovers its resources (refuse_ns filter, 0: none) and
 * optionally tells the framework RESCIND. */
void dr__offer_remove(dr_master *m, dr_moffer *offer, bool rescind, uint64_t refuse_ns);
void dr__offers_rescind_agent(dr_master *m, dr_magent *agent);
void dr__offers_rescind_framework(dr_master *m, dr_mframework *fw, bool tell);
void dr__scheduler_accept(dr_master *m, dr_mframework *fw, Mesos__Scheduler__Call__Accept *acc);
void dr__scheduler_decline(dr_master *m, dr_mframework *fw, Mesos__Scheduler__Call__Decline *dec);
/* tasks.c */
dr_mtask *dr__task_add(dr_master *m, dr_mframework *fw, dr_magent *agent,
                       const Mesos__TaskInfo *info, const dr_resources *resources,
                       const char *role, Mesos__TaskState state);
/* Applies a new state (and status) to a task and, with forward, sends UPDATE
 * to its framework. A terminal state releases its resources. */
void dr__task_update(dr_master *m, dr_mtask *task, const Mesos__TaskStatus *status,
                     bool forward);
/* Sends a master-generated update (no uuid) for a task the master may not know. */
void dr__task_send_generated(dr_master *m, dr_mframework *fw, const char *task_id,
                             const char *agent_id, Mesos__TaskState state,
                             Mesos__TaskStatus__Source source, Mesos__TaskStatus__Reason reason,
                             bool has_reason, const char *message);
void dr__task_update_latest(dr_master *m, dr_mtask *task, Mesos__TaskState latest,
                            const Mesos__TaskStatus *status, bool forward);
/* A master-generated update (no uuid) applied to a known task and forwarded. */
void dr__task_generated(dr_master *m, dr_mtask *task, Mesos__TaskState state,
                        Mesos__TaskStatus__Reason reason, const char *message);
void dr__task_hold(dr_master *m, dr_mtask *task); /* counts its resources as used */
void dr__task_remove(dr_master *m, dr_mtask *task); /* to history, resources recovered */
void dr__task_free(dr_mtask *task);
bool dr__task_state_terminal(Mesos__TaskState state);
/* Counts one transition into state in counters.tasks_terminal (no-op for a
 * state that is not terminal). */
void dr__task_count_terminal(dr_master *m, Mesos__TaskState state);
void dr__scheduler_reconcile(dr_master *m, dr_mframework *fw,
                             const Mesos__Scheduler__Call__Reconcile *rec);
void dr__scheduler_acknowledge(dr_master *m, dr_mframework *fw,
                               const Mesos__Scheduler__Call__Acknowledge *ack,
                               dr_err *err, int *status_out);
void dr__scheduler_kill(dr_master *m, dr_mframework *fw, const Mesos__Scheduler__Call__Kill *kill);
void dr__agent_status_update(dr_master *m, dr_magent *agent,
                             const Dromos__Internal__AgentCall__StatusUpdate *up);

#endif /* DR_MASTER_INT_H */
