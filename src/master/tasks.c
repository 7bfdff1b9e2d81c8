/* src/master/tasks.c — tasks: their records, the state machine, status
 * updates from agents, acknowledgements, kills and reconciliation.
 *
 * The master never retries an update: an agent resends its updates until
 * the framework's ACKNOWLEDGE reaches it; the master forwards each update it
 * gets to the framework (if connected) and each acknowledgement to the agent.
 * Updates the master generates itself (TASK_LOST, TASK_UNREACHABLE,
 * TASK_ERROR, reconciliation answers...) carry no uuid and need no ack.
 *
 * A task holds resources (counted in its framework's and agent's
 * used_resources and in the allocator) while it is neither terminal nor on
 * an unreachable agent. A terminal task leaves the live maps for its
 * framework's completed history once its terminal update is acknowledged
 * (or at once when that update was the master's own).
 */
#include <stdio.h>
#include <string.h>

#include "src/master/master_int.h"

bool dr__task_state_terminal(Mesos__TaskState state)
{
    switch (state) {
    case MESOS__TASK_STATE__TASK_FINISHED:
    case MESOS__TASK_STATE__TASK_FAILED:
    case MESOS__TASK_STATE__TASK_KILLED:
    case MESOS__TASK_STATE__TASK_ERROR:
    case MESOS__TASK_STATE__TASK_LOST:
    case MESOS__TASK_STATE__TASK_DROPPED:
    case MESOS__TASK_STATE__TASK_GONE:
    case MESOS__TASK_STATE__TASK_GONE_BY_OPERATOR:
        return true;
    default:
        return false;
    }
}

static bool holds_resources(const dr_mtask *t)
{
    return !dr__task_state_terminal(t->state) && !t->unreachable;
}

void dr__task_count_terminal(dr_master *m, Mesos__TaskState state)
{
    if (!dr__task_state_terminal(state))
        return;
    DR_ASSERT((unsigned)state < DR_MASTER_TASK_STATE_COUNT);
    m->counters.tasks_terminal[state]++;
}

void dr__task_free(dr_mtask *task)
{
    if (task == NULL)
        return;
    dr_proto_free((ProtobufCMessage *)task->task);
    dr_resources_deinit(&task->resources);
    dr_free(task->id);
    dr_free(task->agent_key);
    dr_free(task->framework_id);
    dr_free(task->agent_id);
    dr_free(task->role);
    dr_free(task);
}

/* Counts t's resources as used (or no longer used) by its framework and
 * agent; with allocator, also recovers them there. As in Mesos (the
 * hierarchical allocator's recoverResources), recovered resources wait for
 * the next allocation cycle: a finishing task does not trigger an
 * allocation, so a busy cluster offers in batches instead of re-running the
 * allocator for every task that ends. */
static void task_release(dr_master *m, dr_mtask *t, bool allocator)
{
    dr_mframework *fw = dr__master_framework(m, t->framework_id);
    dr_magent *agent = dr__master_agent(m, t->agent_id);
    if (fw != NULL)
        dr_resources_subtract(&fw->used_resources, &t->resources);
    if (agent != NULL)
        dr_resources_subtract(&agent->used_resources, &t->resources);
    if (allocator && fw != NULL && agent != NULL && agent->in_allocator) {
        dr_allocator_recover(m->allocator, t->framework_id, t->agent_id, t->role,
                             (const Mesos__Resource *const *)t->resources.items,
                             t->resources.count, 0, dr_env_now(m->env));
    }
}

void dr__task_hold(dr_master *m, dr_mtask *t)
{
    dr_mframework *fw = dr__master_framework(m, t->framework_id);
    dr_magent *agent = dr__master_agent(m, t->agent_id);
    if (fw != NULL)
        dr_resources_add(&fw->used_resources, &t->resources);
    if (agent != NULL)
        dr_resources_add(&agent->used_resources, &t->resources);
}

/* A task that held nothing runs again (the master had declared it lost,
 * the agent says otherwise): its resources are in use again, also for the
 * allocator. Offers of them made meanwhile are rescinded first. */
static void task_reacquire(dr_master *m, dr_mtask *t)
{
    dr__task_hold(m, t);
    dr_magent *agent = dr__master_agent(m, t->agent_id);
    if (agent == NULL || !agent->in_allocator || dr__master_framework(m, t->framework_id) == NULL)
        return;
    dr_alloc_use use = {.framework_id = t->framework_id, .role = t->role,
                        .resources = (const Mesos__Resource *const *)t->resources.items,
                        .resource_count = t->resources.count};
    dr_err err;
    if (dr_allocator_add_use(m->allocator, agent->id, &use, &err) == DR_OK)
        return;
    dr__offers_rescind_agent(m, agent);
    if (dr_allocator_add_use(m->allocator, agent->id, &use, &err) != DR_OK)
        DR_ERROR(m->env, "task %s of framework %s on agent %s: resources not available: %s",
                 t->id, t->framework_id, agent->id, err.msg);
}

/* ---- copies of Mesos views ------------------------------------------------------------
 * The task's kept Mesos view (Task, latest TaskStatus) is built on every
 * launch and update. Plain ones are copied field by field, every part
 * malloc'd as protobuf-c's unpack would (dr_proto_free frees them); anything
 * richer goes through the codec (dr__master_pb_clone). */

static bool id_plain(const ProtobufCMessage *id) { return id == NULL || id->n_unknown_fields == 0; }

static char *id_value_dup(const char *value) { return value != NULL ? dr_strdup(value) : NULL; }

static Mesos__TaskID *task_id_copy(const Mesos__TaskID *id)
{
    Mesos__TaskID *c = dr_alloc(sizeof *c);
    mesos__task_id__init(c);
    c->value = id_value_dup(id->value);
    return c;
}

static Mesos__FrameworkID *framework_id_copy(const Mesos__FrameworkID *id)
{
    Mesos__FrameworkID *c = dr_alloc(sizeof *c);
    mesos__framework_id__init(c);
    c->value = id_value_dup(id->value);
    return c;
}

static Mesos__ExecutorID *executor_id_copy(const Mesos__ExecutorID *id)
{
    Mesos__ExecutorID *c = dr_alloc(sizeof *c);
    mesos__executor_id__init(c);
    c->value = id_value_dup(id->value);
    return c;
}

static Mesos__AgentID *agent_id_copy(const Mesos__AgentID *id)
{
    Mesos__AgentID *c = dr_alloc(sizeof *c);
    mesos__agent_id__init(c);
    c->value = id_value_dup(id->value);
    return c;
}

/* A malloc'd deep copy of a freshly built Task view (free with
 * dr_proto_free): field by field when it has no labels, discovery or
 * container info (ids, name, state, resources, user: what a plain launch
 * has), else through the codec. */
static Mesos__Task *task_view_copy(const Mesos__Task *task)
{
    DR_ASSERT(task->n_statuses == 0);
    if (task->labels != NULL || task->discovery != NULL || task->container != NULL ||
        task->task_id == NULL || task->framework_id == NULL || task->agent_id == NULL ||
        !id_plain(&task->task_id->base) || !id_plain(&task->framework_id->base) ||
        !id_plain(&task->agent_id->base) ||
        (task->executor_id != NULL && !id_plain(&task->executor_id->base)))
        return dr__master_pb_clone(task);
    Mesos__Task *c = dr_alloc(sizeof *c);
    mesos__task__init(c);
    c->name = task->name != NULL ? dr_strdup(task->name) : NULL;
    c->task_id = task_id_copy(task->task_id);
    c->framework_id = framework_id_copy(task->framework_id);
    if (task->executor_id != NULL)
        c->executor_id = executor_id_copy(task->executor_id);
    c->agent_id = agent_id_copy(task->agent_id);
    c->state = task->state;
    if (task->n_resources > 0) {
        c->resources = dr_alloc_array(task->n_resources, sizeof *c->resources);
        for (size_t i = 0; i < task->n_resources; i++)
            c->resources[i] = dr_resource_copy(task->resources[i]);
        c->n_resources = task->n_resources;
    }
    c->user = task->user != NULL ? dr_strdup(task->user) : NULL;
    return c;
}

dr_mtask *dr__task_add(dr_master *m, dr_mframework *fw, dr_magent *agent,
                       const Mesos__TaskInfo *info, const dr_resources *resources,
                       const char *role, Mesos__TaskState state)
{
    DR_ASSERT(dr_idmap_get(&fw->tasks, info->task_id->value) == NULL);
    dr_mtask *t = dr_alloc(sizeof *t);
    t->id = dr_strdup(info->task_id->value);
    size_t fw_id_size = strlen(fw->id), id_size = strlen(t->id);
    t->agent_key = dr_alloc(fw_id_size + 1 + id_size + 1); /* "<framework> <task>" */
    memcpy(t->agent_key, fw->id, fw_id_size);
    t->agent_key[fw_id_size] = ' ';
    memcpy(t->agent_key + fw_id_size + 1, t->id, id_size + 1);
    t->framework_id = dr_strdup(fw->id);
    t->agent_id = dr_strdup(agent->id);
    t->role = dr_strdup(role);
    dr_resources_init(&t->resources);
    dr_resources_copy(&t->resources, resources);
    t->state = state;
    t->launched_ns = dr_env_now(m->env);

    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = fw->id;
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    aid.value = agent->id;
    Mesos__Task task = MESOS__TASK__INIT;
    task.name = info->name;
    task.task_id = info->task_id;
    task.framework_id = &fid;
    task.executor_id = info->executor != NULL ? info->executor->executor_id : NULL;
    task.agent_id = &aid;
    task.state = state;
    task.n_resources = info->n_resources;
    task.resources = info->resources;
    task.labels = info->labels;
    task.discovery = info->discovery;
    task.container = info->container;
    task.user = fw->info->user;
    t->task = task_view_copy(&task);

    DR_ASSERT(dr_idmap_get(&agent->tasks, t->agent_key) == NULL);
    dr_idmap_put(&fw->tasks, t->id, t);
    dr_idmap_put(&agent->tasks, t->agent_key, t);
    if (holds_resources(t))
        dr__task_hold(m, t);
    dr__master_emit(m, DR_MASTER_EV_TASK_ADDED, t);
    return t;
}

/* A malloc'd deep copy of status without its data (Mesos strips data from
 * kept statuses); free with dr_proto_free. Every status update goes through
 * here, so the common one (ids, state, source, reason, message, timestamp,
 * uuid, healthy) is copied field by field; one with checks, labels, a
 * container status, an unreachable time or unknown fields goes through the
 * codec (dr__master_pb_clone), which copies anything. */
static Mesos__TaskStatus *status_copy(const Mesos__TaskStatus *status)
{
    if (status->check_status != NULL || status->labels != NULL ||
        status->container_status != NULL || status->unreachable_time != NULL ||
        status->base.n_unknown_fields != 0 || status->task_id == NULL ||
        !id_plain(&status->task_id->base) ||
        (status->agent_id != NULL && !id_plain(&status->agent_id->base)) ||
        (status->executor_id != NULL && !id_plain(&status->executor_id->base))) {
        Mesos__TaskStatus st = *status;
        st.has_data = false;
        return dr__master_pb_clone(&st);
    }
    Mesos__TaskStatus *c = dr_alloc(sizeof *c);
    mesos__task_status__init(c);
    c->task_id = task_id_copy(status->task_id);
    c->state = status->state;
    c->message = status->message != NULL ? dr_strdup(status->message) : NULL;
    c->has_source = status->has_source;
    c->source = status->source;
    c->has_reason = status->has_reason;
    c->reason = status->reason;
    if (status->agent_id != NULL)
        c->agent_id = agent_id_copy(status->agent_id);
    if (status->executor_id != NULL)
        c->executor_id = executor_id_copy(status->executor_id);
    c->has_timestamp = status->has_timestamp;
    c->timestamp = status->timestamp;
    if (status->has_uuid) {
        c->has_uuid = true;
        c->uuid.len = status->uuid.len;
        c->uuid.data = dr_alloc(status->uuid.len);
        if (status->uuid.len > 0)
            memcpy(c->uuid.data, status->uuid.data, status->uuid.len);
    }
    c->has_healthy = status->has_healthy;
    c->healthy = status->healthy;
    return c;
}

/* Updates the task's Mesos view in place: state, latest status and, when
 * the update carries a uuid, the status-update state and uuid an ack must
 * name. t->task was decoded with protobuf-c's default allocator (malloc), so
 * the parts swapped here are malloc'd too and dr_proto_free frees them all. */
static void task_set_status(dr_master *m, dr_mtask *t, Mesos__TaskState latest,
                            const Mesos__TaskStatus *status)
{
    if (!dr__task_state_terminal(t->state) && dr__task_state_terminal(latest))
        dr__task_count_terminal(m, latest);
    Mesos__Task *task = t->task;
    Mesos__TaskStatus *next = status_copy(status); /* without data, as Mesos keeps it */
    if (task->n_statuses == 0) {
        task->statuses = dr_alloc(sizeof *task->statuses);
        task->n_statuses = 1;
    } else {
        /* Only the latest status is kept. */
        for (size_t i = 1; i < task->n_statuses; i++)
            dr_proto_free(&task->statuses[i]->base);
        dr_proto_free(&task->statuses[0]->base);
        task->n_statuses = 1;
    }
    task->statuses[0] = next;
    task->state = latest;
    if (status->has_uuid) {
        task->has_status_update_state = true;
        task->status_update_state = status->state;
        uint8_t *uuid = dr_alloc(status->uuid.len);
        memcpy(uuid, status->uuid.data, status->uuid.len);
        if (task->has_status_update_uuid)
            dr_free(task->status_update_uuid.data);
        task->has_status_update_uuid = true;
        task->status_update_uuid.data = uuid;
        task->status_update_uuid.len = status->uuid.len;
    }
    t->state = latest;
}

static void send_update(dr_master *m, dr_mframework *fw, const Mesos__TaskStatus *status)
{
    Mesos__Scheduler__Event__Update u = MESOS__SCHEDULER__EVENT__UPDATE__INIT;
    u.status = (Mesos__TaskStatus *)status;
    Mesos__Scheduler__Event ev = MESOS__SCHEDULER__EVENT__INIT;
    ev.has_type = true;
    ev.type = MESOS__SCHEDULER__EVENT__TYPE__UPDATE;
    ev.update = &u;
    dr__scheduler_send(m, fw, &ev);
}

void dr__task_update_latest(dr_master *m, dr_mtask *t, Mesos__TaskState latest,
                            const Mesos__TaskStatus *status, bool forward)
{
    bool held = holds_resources(t);
    task_set_status(m, t, latest, status);
    if (held && !holds_resources(t))
        task_release(m, t, true);
    else if (!held && holds_resources(t))
        task_reacquire(m, t);
    dr__master_emit(m, DR_MASTER_EV_TASK_UPDATED, t);
    if (forward) {
        dr_mframework *fw = dr__master_framework(m, t->framework_id);
        if (fw != NULL)
            send_update(m, fw, t->task->statuses[0]);
    }
}

void dr__task_update(dr_master *m, dr_mtask *task, const Mesos__TaskStatus *status, bool forward)
{
    dr__task_update_latest(m, task, status->state, status, forward);
}

void dr__task_remove(dr_master *m, dr_mtask *t)
{
    dr_mframework *fw = dr__master_framework(m, t->framework_id);
    DR_ASSERT(fw != NULL);
    if (holds_resources(t))
        task_release(m, t, true);
    void *r = dr_idmap_remove(&fw->tasks, t->id);
    DR_ASSERT(r == t);
    dr_magent *agent = dr__master_agent(m, t->agent_id);
    if (agent != NULL) {
        r = dr_idmap_remove(&agent->tasks, t->agent_key);
        DR_ASSERT(r == t);
    }
    uint32_t max = m->opts.max_completed_tasks_per_framework;
    if (fw->completed_tasks == NULL)
        fw->completed_tasks = dr_alloc_array(max, sizeof(dr_mtask *));
    if (fw->completed_count == max) {
        dr__task_free(fw->completed_tasks[0]);
        memmove(&fw->completed_tasks[0], &fw->completed_tasks[1],
                (fw->completed_count - 1) * sizeof fw->completed_tasks[0]);
        fw->completed_count--;
    }
    fw->completed_tasks[fw->completed_count++] = t;
}

static void fill_generated(Mesos__TaskStatus *st, Mesos__TaskID *tid, Mesos__AgentID *aid,
                           const char *task_id, const char *agent_id, Mesos__TaskState state,
                           Mesos__TaskStatus__Source source, Mesos__TaskStatus__Reason reason,
                           bool has_reason, const char *message, double now_s)
{
    tid->value = (char *)task_id;
    st->task_id = tid;
    st->state = state;
    st->has_source = true;
    st->source = source;
    st->has_reason = has_reason;
    st->reason = reason;
    st->message = (char *)message;
    if (agent_id != NULL) {
        aid->value = (char *)agent_id;
        st->agent_id = aid;
    }
    st->has_timestamp = true;
    st->timestamp = now_s;
}

static double wall_s(dr_master *m) { return (double)dr_env_wall(m->env) / (double)DR_NS_PER_S; }

void dr__task_send_generated(dr_master *m, dr_mframework *fw, const char *task_id,
                             const char *agent_id, Mesos__TaskState state,
                             Mesos__TaskStatus__Source source, Mesos__TaskStatus__Reason reason,
                             bool has_reason, const char *message)
{
    Mesos__TaskStatus st = MESOS__TASK_STATUS__INIT;
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    fill_generated(&st, &tid, &aid, task_id, agent_id, state, source, reason, has_reason, message,
                   wall_s(m));
    send_update(m, fw, &st);
}

/* A master-generated update for a known task: applied, forwarded, and the
 * task retired at once when terminal (nobody acknowledges it). */
void dr__task_generated(dr_master *m, dr_mtask *t, Mesos__TaskState state,
                        Mesos__TaskStatus__Reason reason, const char *message)
{
    Mesos__TaskStatus st = MESOS__TASK_STATUS__INIT;
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    fill_generated(&st, &tid, &aid, t->id, t->agent_id, state,
                   MESOS__TASK_STATUS__SOURCE__SOURCE_MASTER, reason, true, message, wall_s(m));
    if (t->task->executor_id != NULL)
        st.executor_id = t->task->executor_id;
    dr__task_update(m, t, &st, true);
}

/* ---- calls ---------------------------------------------------------------------------- */

/* The answer for a task the master does not know (Mesos's reconciliation
 * rules; a non-partition-aware framework hears TASK_LOST for all of them). */
static Mesos__TaskState unknown_task_state(dr_master *m, dr_mframework *fw, const char *agent_id)
{
    if (!fw->partition_aware)
        return MESOS__TASK_STATE__TASK_LOST;
    if (agent_id == NULL)
        return MESOS__TASK_STATE__TASK_UNKNOWN;
    if (dr_idmap_get(&m->gone_agents, agent_id) != NULL)
        return MESOS__TASK_STATE__TASK_GONE_BY_OPERATOR;
    dr_magent *agent = dr__master_agent(m, agent_id);
    if (agent == NULL)
        return MESOS__TASK_STATE__TASK_UNKNOWN;
    if (agent->state == DR_MAGENT_UNREACHABLE)
        return MESOS__TASK_STATE__TASK_UNREACHABLE;
    return MESOS__TASK_STATE__TASK_GONE;
}

static void reconcile_known(dr_master *m, dr_mframework *fw, dr_mtask *t)
{
    Mesos__TaskStatus st = MESOS__TASK_STATUS__INIT;
    if (t->task->n_statuses > 0)
        st = *t->task->statuses[0];
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    tid.value = t->id;
    aid.value = t->agent_id;
    st.task_id = &tid;
    st.agent_id = &aid;
    st.state = t->state;
    st.has_uuid = false; /* reconciliation answers are not acknowledged */
    st.has_source = true;
    st.source = MESOS__TASK_STATUS__SOURCE__SOURCE_MASTER;
    st.has_reason = true;
    st.reason = MESOS__TASK_STATUS__REASON__REASON_RECONCILIATION;
    st.has_timestamp = true;
    st.timestamp = wall_s(m);
    if (t->task->executor_id != NULL)
        st.executor_id = t->task->executor_id;
    send_update(m, fw, &st);
}

void dr__scheduler_reconcile(dr_master *m, dr_mframework *fw,
                             const Mesos__Scheduler__Call__Reconcile *rec)
{
    if (rec->n_tasks == 0) {
        /* Implicit: the latest state of every task the master knows. */
        for (size_t i = 0; i < fw->tasks.count; i++)
            reconcile_known(m, fw, fw->tasks.items[i].value);
        return;
    }
    for (size_t i = 0; i < rec->n_tasks; i++) {
        const Mesos__Scheduler__Call__Reconcile__Task *q = rec->tasks[i];
        dr_mtask *t = dr_idmap_get(&fw->tasks, q->task_id->value);
        if (t != NULL) {
            reconcile_known(m, fw, t);
            continue;
        }
        const char *agent_id = q->agent_id != NULL ? q->agent_id->value : NULL;
        Mesos__TaskState state = unknown_task_state(m, fw, agent_id);
        dr__task_send_generated(m, fw, q->task_id->value, agent_id, state,
                                MESOS__TASK_STATUS__SOURCE__SOURCE_MASTER,
                                MESOS__TASK_STATUS__REASON__REASON_RECONCILIATION, true,
                                "Reconciliation: task is unknown");
    }
}

void dr__scheduler_kill(dr_master *m, dr_mframework *fw, const Mesos__Scheduler__Call__Kill *kill)
{
    dr_mtask *t = dr_idmap_get(&fw->tasks, kill->task_id->value);
    if (t == NULL) {
        /* As Mesos: an unknown task is answered by reconciliation. */
        DR_INFO(m->env, "framework %s: cannot kill unknown task %s; reconciling", fw->id,
                kill->task_id->value);
        Mesos__Scheduler__Call__Reconcile__Task q = MESOS__SCHEDULER__CALL__RECONCILE__TASK__INIT;
        q.task_id = kill->task_id;
        q.agent_id = kill->agent_id;
        Mesos__Scheduler__Call__Reconcile__Task *qp = &q;
        Mesos__Scheduler__Call__Reconcile rec = MESOS__SCHEDULER__CALL__RECONCILE__INIT;
        rec.n_tasks = 1;
        rec.tasks = &qp;
        dr__scheduler_reconcile(m, fw, &rec);
        return;
    }
    dr_magent *agent = dr__master_agent(m, t->agent_id);
    if (agent == NULL || agent->stream == NULL) {
        /* The agent will report the task when it registers again; the
         * framework retries its kill then. */
        DR_INFO(m->env, "framework %s: kill of task %s held: agent %s not connected", fw->id,
                t->id, t->agent_id);
        return;
    }
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = fw->id;
    Dromos__Internal__AgentEvent__KillTask k = DROMOS__INTERNAL__AGENT_EVENT__KILL_TASK__INIT;
    k.framework_id = &fid;
    k.task_id = kill->task_id;
    k.kill_policy = kill->kill_policy;
    Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
    ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK;
    ev.kill_task = &k;
    dr__agent_send(m, agent, &ev);
}

void dr__scheduler_acknowledge(dr_master *m, dr_mframework *fw,
                               const Mesos__Scheduler__Call__Acknowledge *ack, dr_err *err,
                               int *status_out)
{
    *status_out = 202;
    if (ack->uuid.len != 16) {
        dr_err_set(err, DR_EINVAL,
                   "Failed to validate scheduler::Call: 'acknowledge.uuid' is not a valid UUID "
                   "(%zu bytes)",
                   ack->uuid.len);
        *status_out = 400;
        return;
    }
    m->counters.status_update_acks++;
    dr_magent *agent = dr__master_agent(m, ack->agent_id->value);
    dr_mtask *t = dr_idmap_get(&fw->tasks, ack->task_id->value);
    if (t != NULL && strcmp(t->agent_id, ack->agent_id->value) == 0 &&
        t->task->has_status_update_uuid && t->task->status_update_uuid.len == 16 &&
        memcmp(t->task->status_update_uuid.data, ack->uuid.data, 16) == 0 &&
        dr__task_state_terminal(t->task->status_update_state)) {
        /* The terminal update is acknowledged: the task is done. */
        dr__task_remove(m, t);
    }
    if (agent == NULL || agent->stream == NULL) {
        DR_INFO(m->env, "framework %s: ack for task %s dropped: agent %s not connected",
                fw->id, ack->task_id->value, ack->agent_id->value);
        m->counters.dropped_messages++;
        return;
    }
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = fw->id;
    Dromos__Internal__AgentEvent__Acknowledge a = DROMOS__INTERNAL__AGENT_EVENT__ACKNOWLEDGE__INIT;
    a.framework_id = &fid;
    a.task_id = ack->task_id;
    a.uuid = ack->uuid;
    Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
    ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__ACKNOWLEDGE;
    ev.acknowledge = &a;
    dr__agent_send(m, agent, &ev);
}

/* ---- agents' updates ------------------------------------------------------------------- */

void dr__agent_status_update(dr_master *m, dr_magent *agent,
                             const Dromos__Internal__AgentCall__StatusUpdate *up)
{
    m->counters.status_updates++;
    dr_mframework *fw = dr__master_framework(m, up->framework_id->value);
    if (fw == NULL) {
        /* Unknown (or completed) framework: the agent keeps the update and
         * retries; a completed framework's updates are never wanted. */
        DR_INFO(m->env, "agent %s: update for unknown framework %s dropped", agent->id,
                up->framework_id->value);
        m->counters.dropped_messages++;
        return;
    }
    Mesos__TaskStatus st = *up->status;
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    aid.value = agent->id;
    st.agent_id = &aid;
    if (st.executor_id == NULL && up->executor_id != NULL)
        st.executor_id = up->executor_id;
    dr_mtask *t = dr_idmap_get(&fw->tasks, st.task_id->value);
    if (t == NULL || strcmp(t->agent_id, agent->id) != 0) {
        /* Mesos forwards updates of tasks it does not know. */
        send_update(m, fw, &st);
        return;
    }
    Mesos__TaskState latest = up->has_latest_state ? up->latest_state : st.state;
    if (dr__task_state_terminal(t->state) && !dr__task_state_terminal(latest)) {
        /* A terminal state is final: this is an older update that overtook
         * nothing but arrived late (resends travel on several connections).
         * Forward it (the framework acks it, the agent stops resending) but
         * keep the task's state, its released resources and the update the
         * terminal ack must name. */
        send_update(m, fw, &st);
        return;
    }
    dr__task_update_latest(m, t, latest, &st, false);
    send_update(m, fw, &st);
    if (!st.has_uuid && dr__task_state_terminal(st.state))
        dr__task_remove(m, t); /* nobody will acknowledge it */
}
