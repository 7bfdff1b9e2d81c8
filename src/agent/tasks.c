/* src/agent/tasks.c — frameworks, executors and tasks on the agent: running
 * tasks (RUN_TASK, RUN_TASK_GROUP) by launching executors through the
 * launcher and isolators, killing them, shutting executors down, reacting to
 * their exits; the status update manager (one stream per task: the head goes
 * to the master and is resent with backoff until acknowledged, then the
 * next); and the garbage collection of finished sandboxes.
 *
 * Lifecycles (asserted at each transition):
 *   executor: FETCHING -> LAUNCHED -> RUNNING -> TERMINATING -> TERMINATED
 *             (any state -> TERMINATED when its process ends)
 *   task:     queued (launched=false) -> launched -> terminal update taken ->
 *             terminal update acknowledged: removed
 * A terminated executor is freed once all its tasks are removed, a framework
 * once it has no executors; both happen from a 0-delay "reap" timer so no
 * walk over the lists ever sees an element vanish under it.
 */
#include "agent_int.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "src/proto/json.h"

static void sum_send_head(dr_agent *a, dr__agent_task *t);
static void executor_launch(dr_agent *a, dr__agent_executor *ex);

bool dr__agent_state_terminal(Mesos__TaskState s)
{
    switch (s) {
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

/* ---- the model --------------------------------------------------------------------- */

dr__agent_framework *dr__agent_framework_find(const dr_agent *a, const char *id)
{
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next)
        if (strcmp(fw->id, id) == 0)
            return fw;
    return NULL;
}

dr__agent_framework *dr__agent_framework_add(dr_agent *a, const Mesos__FrameworkInfo *info)
{
    DR_ASSERT(info->id != NULL);
    DR_ASSERT(dr__agent_framework_find(a, info->id->value) == NULL);
    dr__agent_framework *fw = dr_alloc(sizeof *fw);
    fw->id = dr_strdup(info->id->value);
    fw->info = dr__agent_clone(info);
    fw->checkpoint = info->has_checkpoint && info->checkpoint;
    fw->prev = a->frameworks_tail;
    if (a->frameworks_tail != NULL)
        a->frameworks_tail->next = fw;
    else
        a->frameworks = fw;
    a->frameworks_tail = fw;
    a->framework_count++;
    return fw;
}

dr__agent_executor *dr__agent_executor_find(const dr__agent_framework *fw, const char *id)
{
    for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next)
        if (strcmp(ex->id, id) == 0)
            return ex;
    return NULL;
}

dr__agent_task *dr__agent_task_find(const dr__agent_framework *fw, const char *task_id)
{
    for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next)
        for (dr__agent_task *t = ex->tasks; t != NULL; t = t->next)
            if (strcmp(t->id, task_id) == 0)
                return t;
    return NULL;
}

dr__agent_executor *dr__agent_executor_new(dr_agent *a, dr__agent_framework *fw, const Mesos__ExecutorInfo *info,
                               bool generated, const char *container_id)
{
    DR_ASSERT(dr__agent_executor_find(fw, info->executor_id->value) == NULL);
    dr__agent_executor *ex = dr_alloc(sizeof *ex);
    ex->agent = a;
    ex->fw = fw;
    ex->id = dr_strdup(info->executor_id->value);
    ex->info = dr__agent_clone(info);
    if (ex->info->framework_id == NULL)
        ex->info->framework_id = dr__agent_clone(fw->info->id);
    ex->generated = generated;
    dr_strlcpy(ex->container_id, container_id, sizeof ex->container_id);
    ex->sandbox = dr_sprintf("%s/slaves/%s/frameworks/%s/executors/%s/runs/%s", a->opts.work_dir,
                             a->agent_id, fw->id, ex->id, ex->container_id);
    ex->meta_run = dr__agent_meta_path(a, "slaves/%s/frameworks/%s/executors/%s/runs/%s", a->agent_id,
                                 fw->id, ex->id, ex->container_id);
    ex->term_reason = MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED;
    ex->term_state = MESOS__TASK_STATE__TASK_FAILED;
    dr_strlcpy(ex->term_message, "Executor terminated", sizeof ex->term_message);
    ex->launched_wall_ns = dr_env_wall(a->env);
    dr_resources_init(&ex->resources);
    ex->prev = fw->executors_tail;
    if (fw->executors_tail != NULL)
        fw->executors_tail->next = ex;
    else
        fw->executors = ex;
    fw->executors_tail = ex;
    fw->executor_count++;
    return ex;
}

/* The task list and its count agree (O(n): slow checks only). */
static bool list_count_ok(const dr__agent_executor *ex)
{
    uint32_t n = 0;
    for (const dr__agent_task *t = ex->tasks; t != NULL; t = t->next) {
        if (t->ex != ex || (t->next != NULL && t->next->prev != t))
            return false;
        n++;
    }
    return n == ex->task_count;
}

dr__agent_task *dr__agent_task_new(dr__agent_executor *ex, const Mesos__TaskInfo *info)
{
    DR_ASSERT(ex->state != DR__EX_TERMINATED); /* nothing new for a dead executor */
    DR_ASSERT(dr__agent_task_find(ex->fw, info->task_id->value) == NULL);
    dr__agent_task *t = dr_alloc(sizeof *t);
    t->ex = ex;
    t->id = dr_strdup(info->task_id->value);
    t->info = dr__agent_clone(info);
    t->state = MESOS__TASK_STATE__TASK_STAGING;
    dr_buf_init(&t->seen_uuids);
    t->prev = ex->tasks_tail;
    if (ex->tasks_tail != NULL)
        ex->tasks_tail->next = t;
    else
        ex->tasks = t;
    ex->tasks_tail = t;
    ex->task_count++;
    DR_ASSERT_SLOW(list_count_ok(ex));
    return t;
}

void dr__agent_task_remove(dr_agent *a, dr__agent_task *t)
{
    dr__agent_executor *ex = t->ex;
    DR_ASSERT(ex->task_count > 0);
    if (t->retry_timer != 0)
        dr_env_timer_cancel(a->env, t->retry_timer);
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        ex->tasks = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    else
        ex->tasks_tail = t->prev;
    ex->task_count--;
    while (t->head != NULL) {
        dr__agent_update *u = t->head;
        t->head = u->next;
        dr_proto_free(&u->status->base);
        dr_free(u);
    }
    dr_proto_free(&t->info->base);
    if (t->latest != NULL)
        dr_proto_free(&t->latest->base);
    dr_buf_deinit(&t->seen_uuids);
    dr_free(t->id);
    dr_free(t);
}

void dr__agent_executor_free(dr_agent *a, dr__agent_executor *ex)
{
    dr__agent_framework *fw = ex->fw;
    while (ex->tasks != NULL)
        dr__agent_task_remove(a, ex->tasks);
    dr__agent_executor_close_stream(a, ex);
    if (ex->reg_timer != 0)
        dr_env_timer_cancel(a->env, ex->reg_timer);
    if (ex->kill_timer != 0)
        dr_env_timer_cancel(a->env, ex->kill_timer);
    if (ex->prev != NULL)
        ex->prev->next = ex->next;
    else
        fw->executors = ex->next;
    if (ex->next != NULL)
        ex->next->prev = ex->prev;
    else
        fw->executors_tail = ex->prev;
    fw->executor_count--;
    dr_proto_free(&ex->info->base);
    dr_resources_deinit(&ex->resources);
    dr_free(ex->sandbox);
    dr_free(ex->meta_run);
    dr_free(ex->id);
    dr_free(ex);
}

void dr__agent_framework_free(dr_agent *a, dr__agent_framework *fw)
{
    while (fw->executors != NULL)
        dr__agent_executor_free(a, fw->executors);
    if (fw->prev != NULL)
        fw->prev->next = fw->next;
    else
        a->frameworks = fw->next;
    if (fw->next != NULL)
        fw->next->prev = fw->prev;
    else
        a->frameworks_tail = fw->prev;
    a->framework_count--;
    dr_proto_free(&fw->info->base);
    dr_free(fw->id);
    dr_free(fw);
}

static void reap_fire(dr_env *env, void *ctx)
{
    (void)env;
    dr_agent *a = ctx;
    a->reap_timer = 0;
    for (dr__agent_framework *fw = a->frameworks, *fnext; fw != NULL; fw = fnext) {
        fnext = fw->next;
        for (dr__agent_executor *ex = fw->executors, *next; ex != NULL; ex = next) {
            next = ex->next;
            if (ex->state != DR__EX_TERMINATED || ex->task_count > 0)
                continue;
            char *virt = dr_sprintf("/frameworks/%s/executors/%s/runs/latest", fw->id, ex->id);
            dr__agent_gc_schedule(a, ex->sandbox, ex->meta_run, virt);
            dr_free(virt);
            dr__agent_executor_free(a, ex);
        }
        if (fw->executor_count == 0)
            dr__agent_framework_free(a, fw);
    }
}

void dr__agent_reap_soon(dr_agent *a)
{
    if (a->reap_timer == 0)
        a->reap_timer = dr_env_timer_add(a->env, 0, reap_fire, a);
}

void dr__agent_resources_used(const dr_agent *a, dr_resources *out)
{
    dr_resources_clear(out);
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next) {
        for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next) {
            if (ex->state == DR__EX_TERMINATED)
                continue;
            for (size_t i = 0; !ex->generated && i < ex->info->n_resources; i++)
                dr_resources_add_one(out, ex->info->resources[i]);
            for (dr__agent_task *t = ex->tasks; t != NULL; t = t->next) {
                if (dr__agent_state_terminal(t->state))
                    continue;
                for (size_t i = 0; i < t->info->n_resources; i++)
                    dr_resources_add_one(out, t->info->resources[i]);
            }
        }
    }
    dr_resources_set_allocation_role(out, NULL);
}

/* ---- status updates generated by the agent ----------------------------------------------- */

static Mesos__TaskStatus *status_new(dr_agent *a, const char *task_id, const char *executor_id,
                                     Mesos__TaskState state, Mesos__TaskStatus__Reason reason,
                                     const char *message)
{
    Mesos__TaskStatus *st = dr_alloc(sizeof *st);
    mesos__task_status__init(st);
    st->task_id = dr_alloc(sizeof *st->task_id);
    mesos__task_id__init(st->task_id);
    st->task_id->value = dr_strdup(task_id);
    st->state = state;
    st->message = dr_strdup(message);
    st->has_source = true;
    st->source = MESOS__TASK_STATUS__SOURCE__SOURCE_AGENT;
    st->has_reason = true;
    st->reason = reason;
    if (a->agent_id[0] != '\0') {
        st->agent_id = dr_alloc(sizeof *st->agent_id);
        mesos__agent_id__init(st->agent_id);
        st->agent_id->value = dr_strdup(a->agent_id);
    }
    if (executor_id != NULL) {
        st->executor_id = dr_alloc(sizeof *st->executor_id);
        mesos__executor_id__init(st->executor_id);
        st->executor_id->value = dr_strdup(executor_id);
    }
    st->has_timestamp = true;
    st->timestamp = (double)dr_env_wall(a->env) / 1e9;
    st->has_uuid = true;
    st->uuid.len = 16;
    st->uuid.data = dr_alloc(16);
    dr__agent_new_uuid(a, st->uuid.data);
    return st;
}

void dr__agent_task_fail(dr_agent *a, dr__agent_task *t, Mesos__TaskState state,
                   Mesos__TaskStatus__Reason reason, const char *message)
{
    DR_ASSERT(dr__agent_state_terminal(state));
    if (dr__agent_state_terminal(t->state))
        return; /* already ended: its terminal update is in the stream */
    Mesos__TaskStatus *st = status_new(a, t->id, t->ex->id, state, reason, message);
    bool dup = false;
    dr_err err;
    if (dr__agent_sum_take(a, t, st, false, &dup, &err) != DR_OK)
        DR_WARN(a->env, "agent: task '%s': %s", t->id, err.msg);
    dr_proto_free(&st->base);
}

/* A task that cannot even get a stream (bad ids, no executor to hold it):
 * one best-effort update; the master's reconciliation covers its loss. */
static void send_orphan_update(dr_agent *a, const char *framework_id, const char *task_id,
                               Mesos__TaskState state, Mesos__TaskStatus__Reason reason,
                               const char *message)
{
    DR_WARN(a->env, "agent: task '%s' of framework '%s': %s", task_id, framework_id, message);
    Mesos__TaskStatus *st = status_new(a, task_id, NULL, state, reason, message);
    Dromos__Internal__AgentCall call = DROMOS__INTERNAL__AGENT_CALL__INIT;
    Dromos__Internal__AgentCall__StatusUpdate up = DROMOS__INTERNAL__AGENT_CALL__STATUS_UPDATE__INIT;
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = (char *)framework_id;
    call.type = DROMOS__INTERNAL__AGENT_CALL__TYPE__STATUS_UPDATE;
    up.framework_id = &fid;
    up.status = st;
    up.has_latest_state = true;
    up.latest_state = state;
    call.status_update = &up;
    dr__agent_call(a, &call);
    a->counters.updates_sent++;
    dr_proto_free(&st->base);
}

/* ---- run, kill, shutdown ------------------------------------------------------------------ */

static Mesos__ExecutorInfo *command_executor_info(dr_agent *a, const Mesos__FrameworkInfo *fi,
                                                  const Mesos__TaskInfo *task)
{
    Mesos__ExecutorInfo *info = dr_alloc(sizeof *info);
    mesos__executor_info__init(info);
    info->executor_id = dr_alloc(sizeof *info->executor_id);
    mesos__executor_id__init(info->executor_id);
    info->executor_id->value = dr_strdup(task->task_id->value);
    info->framework_id = dr__agent_clone(fi->id);
    info->command = dr_alloc(sizeof *info->command);
    mesos__command_info__init(info->command);
    Mesos__CommandInfo *cmd = info->command;
    cmd->has_shell = true;
    cmd->shell = false;
    size_t n = 0;
    while (a->exec_argv[n] != NULL)
        n++;
    cmd->value = dr_strdup(a->exec_argv[0]);
    cmd->n_arguments = n;
    cmd->arguments = dr_alloc_array(n + 1, sizeof *cmd->arguments);
    for (size_t i = 0; i < n; i++)
        cmd->arguments[i] = dr_strdup(a->exec_argv[i]);
    /* the task's URIs are fetched into the executor's sandbox, as Mesos does */
    const Mesos__CommandInfo *tc = task->command;
    if (tc != NULL && tc->n_uris > 0) {
        cmd->n_uris = tc->n_uris;
        cmd->uris = dr_alloc_array(tc->n_uris + 1, sizeof *cmd->uris);
        for (size_t i = 0; i < tc->n_uris; i++)
            cmd->uris[i] = dr__agent_clone(tc->uris[i]);
    }
    if (tc != NULL && tc->user != NULL)
        cmd->user = dr_strdup(tc->user);
    /* the task's container is its command executor's, as in Mesos */
    if (task->container != NULL)
        info->container = dr__agent_clone(task->container);
    const char *value = tc != NULL && tc->value != NULL ? tc->value : "";
    info->name = dr_sprintf("Command Executor (Task: %s) (Command: sh -c '%.80s')",
                            task->task_id->value, value);
    return info;
}

static const char *task_check(const Mesos__TaskInfo *t, bool group)
{
    if (!dr__agent_id_valid(t->task_id->value))
        return "task id is not usable as a path component";
    if (group && t->executor != NULL)
        return "a task of a task group must not name an executor";
    if (!group && (t->executor == NULL) == (t->command == NULL))
        return "a task must have exactly one of 'command' and 'executor'";
    if (t->executor != NULL && !dr__agent_id_valid(t->executor->executor_id->value))
        return "executor id is not usable as a path component";
    return NULL;
}

/* Scalars the agent has left (total minus live use) against what a task asks. */
static bool resources_fit(dr_agent *a, const Mesos__TaskInfo *const *tasks, size_t count,
                          const Mesos__ExecutorInfo *new_executor, char *why, size_t why_size)
{
    dr_resources used, want;
    dr_resources_init(&used);
    dr_resources_init(&want);
    dr__agent_resources_used(a, &used);
    for (size_t i = 0; i < count; i++)
        for (size_t r = 0; r < tasks[i]->n_resources; r++)
            dr_resources_add_one(&want, tasks[i]->resources[r]);
    for (size_t r = 0; new_executor != NULL && r < new_executor->n_resources; r++)
        dr_resources_add_one(&want, new_executor->resources[r]);
    static const char *const names[] = {"cpus", "mem", "disk", "gpus"};
    bool fit = true;
    for (size_t i = 0; i < DR_ARRAY_COUNT(names) && fit; i++) {
        int64_t need = dr_resources_scalar_millis(&want, names[i]);
        int64_t have = dr_resources_scalar_millis(&a->total, names[i]) -
                       dr_resources_scalar_millis(&used, names[i]);
        if (need > have) {
            snprintf(why, why_size, "needs %s %.3f but the agent has %.3f left", names[i],
                     (double)need / 1000, (double)(have > 0 ? have : 0) / 1000);
            fit = false;
        }
    }
    dr_resources_deinit(&used);
    dr_resources_deinit(&want);
    return fit;
}

void dr__agent_run_task(dr_agent *a, const Dromos__Internal__AgentEvent__RunTask *rt, bool group)
{
    const Mesos__FrameworkInfo *fi = rt->framework_info;
    if (fi->id == NULL || !dr__agent_id_valid(fi->id->value)) {
        DR_WARN(a->env, "agent: RUN_TASK without a usable framework id");
        return;
    }
    const Mesos__TaskInfo *single[1] = {rt->task};
    const Mesos__TaskInfo *const *tasks = single;
    size_t count = 1;
    if (group) {
        if (rt->task_group == NULL || rt->task_group->n_tasks == 0 || rt->executor == NULL) {
            DR_WARN(a->env, "agent: RUN_TASK_GROUP without tasks or executor");
            return;
        }
        tasks = (const Mesos__TaskInfo *const *)rt->task_group->tasks;
        count = rt->task_group->n_tasks;
    } else if (rt->task == NULL) {
        DR_WARN(a->env, "agent: RUN_TASK without a task");
        return;
    }
    const char *fid = fi->id->value;
    dr__agent_framework *fw = dr__agent_framework_find(a, fid);
    /* idempotence: a task the agent already has is ignored */
    for (size_t i = 0; fw != NULL && i < count; i++)
        if (dr__agent_task_find(fw, tasks[i]->task_id->value) != NULL) {
            DR_DEBUG(a->env, "agent: task '%s' is already here", tasks[i]->task_id->value);
            return;
        }
    for (size_t i = 0; i < count; i++) {
        const char *why = task_check(tasks[i], group);
        if (why != NULL) {
            for (size_t j = 0; j < count; j++)
                send_orphan_update(a, fid, tasks[j]->task_id->value,
                                   MESOS__TASK_STATE__TASK_ERROR,
                                   group ? MESOS__TASK_STATUS__REASON__REASON_TASK_GROUP_INVALID
                                         : MESOS__TASK_STATUS__REASON__REASON_TASK_INVALID,
                                   why);
            return;
        }
    }
    Mesos__ExecutorInfo *generated = NULL;
    const Mesos__ExecutorInfo *exinfo = group ? rt->executor : tasks[0]->executor;
    if (exinfo == NULL)
        exinfo = generated = command_executor_info(a, fi, tasks[0]);
    if (!dr__agent_id_valid(exinfo->executor_id->value)) {
        send_orphan_update(a, fid, tasks[0]->task_id->value, MESOS__TASK_STATE__TASK_ERROR,
                           MESOS__TASK_STATUS__REASON__REASON_TASK_INVALID,
                           "executor id is not usable as a path component");
        return;
    }
    dr__agent_executor *ex = fw != NULL ? dr__agent_executor_find(fw, exinfo->executor_id->value) : NULL;
    char why[200];
    const char *fail = NULL;
    if (ex != NULL && (ex->state == DR__EX_TERMINATING || ex->state == DR__EX_TERMINATED))
        fail = "its executor is shutting down";
    else if (ex != NULL && ex->generated)
        fail = "a command executor runs one task only";
    else if (!resources_fit(a, tasks, count, ex == NULL && generated == NULL ? exinfo : NULL, why,
                            sizeof why))
        fail = why;
    if (fail != NULL) {
        for (size_t i = 0; i < count; i++)
            send_orphan_update(a, fid, tasks[i]->task_id->value,
                               ex != NULL ? MESOS__TASK_STATE__TASK_LOST
                                          : MESOS__TASK_STATE__TASK_ERROR,
                               ex != NULL ? MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED
                                          : MESOS__TASK_STATUS__REASON__REASON_RESOURCES_UNKNOWN,
                               fail);
        if (generated != NULL)
            dr_proto_free(&generated->base);
        return;
    }

    dr_err err;
    if (fw == NULL) {
        fw = dr__agent_framework_add(a, fi);
        if (dr__agent_ckpt_framework(a, fw, &err) != DR_OK)
            DR_WARN(a->env, "agent: %s", err.msg); /* its tasks fail below, with the executor */
    }
    bool new_executor = ex == NULL;
    if (new_executor) {
        char container[40];
        dr__agent_container_id(a, container);
        ex = dr__agent_executor_new(a, fw, exinfo, generated != NULL, container);
        ex->state = DR__EX_FETCHING; /* until executor_launch moves it on */
    }
    if (generated != NULL)
        dr_proto_free(&generated->base);
    uint64_t group_id = group ? ++ex->next_group : 0;
    for (size_t i = 0; i < count; i++) {
        dr__agent_task *t = dr__agent_task_new(ex, tasks[i]);
        t->group = group_id;
    }
    dr_code rc = DR_OK;
    if (new_executor)
        rc = dr__agent_ckpt_executor(a, ex, &err);
    for (dr__agent_task *t = ex->tasks; rc == DR_OK && fw->checkpoint && t != NULL; t = t->next)
        if (!t->launched && t->pending_count == 0)
            rc = dr__agent_ckpt_task(a, t, &err);
    if (rc != DR_OK) {
        DR_WARN(a->env, "agent: %s", err.msg);
        for (dr__agent_task *t = ex->tasks; t != NULL; t = t->next)
            if (!t->launched)
                dr__agent_task_fail(a, t, MESOS__TASK_STATE__TASK_FAILED,
                              MESOS__TASK_STATUS__REASON__REASON_CONTAINER_LAUNCH_FAILED,
                              "the agent could not checkpoint the task");
        if (new_executor) {
            ex->state = DR__EX_TERMINATED;
            dr__agent_reap_soon(a);
        }
        return;
    }
    if (new_executor)
        executor_launch(a, ex);
    else if (ex->state == DR__EX_RUNNING)
        dr__agent_executor_flush(a, ex);
}

void dr__agent_kill_task(dr_agent *a, const Dromos__Internal__AgentEvent__KillTask *kt)
{
    dr__agent_framework *fw = dr__agent_framework_find(a, kt->framework_id->value);
    dr__agent_task *t = fw != NULL ? dr__agent_task_find(fw, kt->task_id->value) : NULL;
    if (t == NULL) {
        send_orphan_update(a, kt->framework_id->value, kt->task_id->value,
                           MESOS__TASK_STATE__TASK_LOST,
                           MESOS__TASK_STATUS__REASON__REASON_TASK_UNKNOWN,
                           "the agent does not know this task");
        return;
    }
    if (dr__agent_state_terminal(t->state))
        return;
    dr__agent_executor *ex = t->ex;
    if (!t->launched) {
        dr__agent_task_fail(a, t, MESOS__TASK_STATE__TASK_KILLED,
                      MESOS__TASK_STATUS__REASON__REASON_TASK_KILLED_DURING_LAUNCH,
                      "killed before it was delivered to the executor");
        bool live = false;
        for (dr__agent_task *o = ex->tasks; o != NULL; o = o->next)
            live = live || !dr__agent_state_terminal(o->state);
        if (!live)
            dr__agent_executor_shutdown(a, ex, MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED,
                                  "no tasks left");
        return;
    }
    if (ex->stream == NULL) {
        DR_INFO(a->env, "agent: kill of task '%s' waits: its executor is not connected", t->id);
        return; /* the scheduler retries kills */
    }
    Mesos__Executor__Event ev = MESOS__EXECUTOR__EVENT__INIT;
    Mesos__Executor__Event__Kill kill = MESOS__EXECUTOR__EVENT__KILL__INIT;
    ev.has_type = true;
    ev.type = MESOS__EXECUTOR__EVENT__TYPE__KILL;
    kill.task_id = t->info->task_id;
    kill.kill_policy = kt->kill_policy != NULL ? kt->kill_policy : t->info->kill_policy;
    ev.kill = &kill;
    dr__agent_executor_send(a, ex, &ev);
}

void dr__agent_shutdown_framework(dr_agent *a, const char *framework_id)
{
    dr__agent_framework *fw = dr__agent_framework_find(a, framework_id);
    if (fw == NULL)
        return;
    for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next)
        dr__agent_executor_shutdown(a, ex, MESOS__TASK_STATUS__REASON__REASON_FRAMEWORK_REMOVED,
                              "the framework was shut down");
}

static void kill_timer_fire(dr_env *env, void *ctx)
{
    (void)env;
    dr__agent_executor *ex = ctx;
    ex->kill_timer = 0;
    if (ex->state == DR__EX_TERMINATING)
        dr__agent_executor_kill(ex->agent, ex);
}

void dr__agent_executor_shutdown(dr_agent *a, dr__agent_executor *ex, Mesos__TaskStatus__Reason reason,
                           const char *message)
{
    if (ex->state == DR__EX_TERMINATING || ex->state == DR__EX_TERMINATED)
        return;
    ex->term_reason = reason;
    dr_strlcpy(ex->term_message, message, sizeof ex->term_message);
    for (dr__agent_task *t = ex->tasks; t != NULL; t = t->next)
        if (!t->launched)
            dr__agent_task_fail(a, t, MESOS__TASK_STATE__TASK_KILLED, reason, message);
    if (ex->state == DR__EX_FETCHING || ex->pid == 0) {
        /* no executor yet (only a fetcher, or nothing): nobody to ask */
        ex->state = DR__EX_TERMINATING;
        dr__agent_executor_kill(a, ex);
        return;
    }
    /* As Mesos: SHUTDOWN, and SIGKILL only once the grace period is over.
     * An executor that is not connected (not subscribed yet, reconnecting,
     * or not yet back after an agent restart) gets the same grace: it may
     * end on its own, and it is never killed sooner than a connected one. */
    if (ex->stream != NULL) {
        Mesos__Executor__Event ev = MESOS__EXECUTOR__EVENT__INIT;
        ev.has_type = true;
        ev.type = MESOS__EXECUTOR__EVENT__TYPE__SHUTDOWN;
        dr__agent_executor_send(a, ex, &ev);
    } else {
        DR_INFO(a->env, "agent: executor '%s' of framework '%s' is not connected: it is killed "
                        "after the shutdown grace period unless it ends first",
                ex->id, ex->fw->id);
    }
    ex->state = DR__EX_TERMINATING;
    uint64_t grace_ns = a->opts.executor_shutdown_grace_period_ns;
    if (ex->info->shutdown_grace_period != NULL &&
        ex->info->shutdown_grace_period->nanoseconds > 0)
        grace_ns = (uint64_t)ex->info->shutdown_grace_period->nanoseconds;
    DR_ASSERT(ex->kill_timer == 0);
    ex->kill_timer = dr_env_timer_add(a->env, grace_ns, kill_timer_fire, ex);
}

void dr__agent_executor_kill(dr_agent *a, dr__agent_executor *ex)
{
    if (ex->state == DR__EX_TERMINATED)
        return;
    if (ex->state != DR__EX_TERMINATING)
        ex->state = DR__EX_TERMINATING;
    dr_err err;
    bool signaled = false;
    if (ex->pid != 0) {
        if (a->launcher.ops->kill(a->launcher.self, a->env, ex->pid, SIGKILL, &err) == DR_OK)
            signaled = true;
        else
            DR_INFO(a->env, "agent: killing executor '%s': %s", ex->id, err.msg);
    }
    if (ex->fetch_pid != 0) {
        if (a->launcher.ops->kill(a->launcher.self, a->env, ex->fetch_pid, SIGKILL, &err) == DR_OK)
            signaled = true;
    }
    if (!signaled) {
        ex->pid = 0;
        ex->fetch_pid = 0;
        dr__agent_executor_exited(a, ex); /* nothing left to wait for */
    }
}

void dr__agent_executor_exited(dr_agent *a, dr__agent_executor *ex)
{
    if (ex->state == DR__EX_TERMINATED)
        return;
    DR_ASSERT(ex->pid == 0); /* its process is gone (or never was) */
    ex->state = DR__EX_TERMINATED;
    ex->recovered = false;
    a->counters.executors_terminated++;
    if (ex->reg_timer != 0)
        dr_env_timer_cancel(a->env, ex->reg_timer);
    if (ex->kill_timer != 0)
        dr_env_timer_cancel(a->env, ex->kill_timer);
    ex->reg_timer = ex->kill_timer = 0;
    dr__agent_executor_close_stream(a, ex);
    for (dr__agent_task *t = ex->tasks; t != NULL; t = t->next) {
        Mesos__TaskState state = ex->term_state;
        Mesos__TaskStatus__Reason reason = ex->term_reason;
        if (!t->launched && ex->term_reason == MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED)
            state = MESOS__TASK_STATE__TASK_FAILED;
        dr__agent_task_fail(a, t, state, reason, ex->term_message);
    }
    for (size_t i = 0; i < a->isolator_count; i++)
        a->isolators[i].ops->cleanup(a->isolators[i].self, a->env, ex->container_id);
    dr__agent_reap_soon(a);
    dr__agent_recovery_check(a);
    dr__agent_shutdown_check(a);
}

void dr__agent_executor_exit_cb(dr_env *env, dr_pid pid, dr_exit_status status, void *ctx)
{
    (void)env;
    dr__agent_executor *ex = ctx;
    dr_agent *a = ex->agent;
    if (pid != ex->pid)
        return; /* a stale watch */
    ex->pid = 0;
    /* As Mesos destroys a container once its executor ended: what is left
     * in the executor's session or process group (a custom executor's
     * background jobs) dies now. Its children elsewhere went to init when
     * it ended: out of the POSIX launcher's reach. */
    dr_err kill_err;
    dr_code kill_rc = a->launcher.ops->kill(a->launcher.self, a->env, pid, SIGKILL, &kill_err);
    if (kill_rc == DR_OK)
        DR_INFO(a->env, "agent: executor '%s' of framework '%s' left processes behind: killed",
                ex->id, ex->fw->id);
    else if (kill_rc != DR_ESRCH)
        DR_WARN(a->env, "agent: killing what executor '%s' left behind: %s", ex->id,
                kill_err.msg);
    if (ex->term_reason == MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED &&
        strcmp(ex->term_message, "Executor terminated") == 0) {
        if (status.signaled)
            snprintf(ex->term_message, sizeof ex->term_message,
                     "Executor terminated: killed by signal %d", status.code);
        else if (status.code >= 0)
            snprintf(ex->term_message, sizeof ex->term_message,
                     "Executor terminated: exited with status %d", status.code);
    }
    DR_INFO(a->env, "agent: executor '%s' of framework '%s' ended (%s)", ex->id, ex->fw->id,
            ex->term_message);
    dr__agent_executor_exited(a, ex);
}

/* ---- launching -------------------------------------------------------------------------- */

static void reg_timeout_fire(dr_env *env, void *ctx)
{
    (void)env;
    dr__agent_executor *ex = ctx;
    ex->reg_timer = 0;
    if (ex->state != DR__EX_LAUNCHED)
        return;
    dr_agent *a = ex->agent;
    ex->term_reason = MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_REGISTRATION_TIMEOUT;
    snprintf(ex->term_message, sizeof ex->term_message,
             "Executor did not register within %.1fs",
             (double)a->opts.executor_registration_timeout_ns / 1e9);
    DR_WARN(a->env, "agent: executor '%s': %s", ex->id, ex->term_message);
    dr__agent_executor_kill(a, ex);
}

static void spec_build(dr_agent *a, dr__agent_executor *ex, dr_container_spec *spec)
{
    dr_container_spec_init(spec);
    spec->container_id = ex->container_id;
    spec->sandbox = ex->sandbox;
    /* the built-in executors (command: generated; default: no command)
     * reap what they adopt */
    spec->subreaper = ex->generated || ex->info->command == NULL;
    const Mesos__CommandInfo *cmd = ex->info->command;
    static const Mesos__CommandInfo no_command = MESOS__COMMAND_INFO__INIT;
    if (cmd == NULL) {
        /* the default executor (ExecutorInfo.type DEFAULT) runs task groups */
        for (size_t i = 0; a->exec_argv[i] != NULL; i++)
            dr_container_spec_add_arg(spec, a->exec_argv[i]);
        dr_container_spec_add_arg(spec, "--default");
        cmd = &no_command;
    } else if (cmd->has_shell && !cmd->shell) {
        if (cmd->n_arguments == 0)
            dr_container_spec_add_arg(spec, cmd->value);
        for (size_t i = 0; i < cmd->n_arguments; i++)
            dr_container_spec_add_arg(spec, i == 0 ? cmd->value : cmd->arguments[i]);
    } else {
        dr_container_spec_add_arg(spec, "/bin/sh");
        dr_container_spec_add_arg(spec, "-c");
        dr_container_spec_add_arg(spec, cmd->value != NULL ? cmd->value : "");
    }
    dr_container_spec_set_env(spec, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    if (cmd->environment != NULL)
        for (size_t i = 0; i < cmd->environment->n_variables; i++) {
            const Mesos__Environment__Variable *v = cmd->environment->variables[i];
            if (v->name != NULL && v->value != NULL && v->name[0] != '\0' &&
                strchr(v->name, '=') == NULL)
                dr_container_spec_set_env(spec, v->name, v->value);
        }
    char text[64];
    dr_container_spec_set_env(spec, "MESOS_FRAMEWORK_ID", ex->fw->id);
    dr_container_spec_set_env(spec, "MESOS_EXECUTOR_ID", ex->id);
    dr_container_spec_set_env(spec, "MESOS_AGENT_ENDPOINT", a->endpoint);
    dr_container_spec_set_env(spec, "MESOS_SLAVE_ID", a->agent_id);
    dr_container_spec_set_env(spec, "MESOS_DIRECTORY", ex->sandbox);
    dr_container_spec_set_env(spec, "MESOS_SANDBOX", ex->sandbox);
    dr_container_spec_set_env(spec, "MESOS_CONTAINER_ID", ex->container_id);
    dr_container_spec_set_env(spec, "MESOS_CHECKPOINT", ex->fw->checkpoint ? "1" : "0");
    dr_container_spec_set_env(spec, "MESOS_HTTP_COMMAND_EXECUTOR", "1");
    snprintf(text, sizeof text, "%llums",
             (unsigned long long)(a->opts.recovery_timeout_ns / DR_NS_PER_MS));
    dr_container_spec_set_env(spec, "MESOS_RECOVERY_TIMEOUT", text);
    snprintf(text, sizeof text, "%llums",
             (unsigned long long)(a->opts.executor_reregistration_timeout_ns / DR_NS_PER_MS / 2 +
                                  1));
    dr_container_spec_set_env(spec, "MESOS_SUBSCRIPTION_BACKOFF_MAX", text);
    uint64_t grace_ns = a->opts.executor_shutdown_grace_period_ns;
    if (ex->info->shutdown_grace_period != NULL &&
        ex->info->shutdown_grace_period->nanoseconds > 0)
        grace_ns = (uint64_t)ex->info->shutdown_grace_period->nanoseconds;
    snprintf(text, sizeof text, "%llums", (unsigned long long)(grace_ns / DR_NS_PER_MS));
    dr_container_spec_set_env(spec, "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", text);
    spec->mem_limit_bytes = dr__agent_executor_mem_limit(ex);
    if (ex->info->container != NULL)
        spec->rlimit_info = ex->info->container->rlimit_info;
}

/* Who the executor's container runs as (Mesos): with --switch_user, the
 * command's user, else the framework's; without it (or when neither names
 * one), the agent's own user: NULL. */
static const char *container_user(const dr_agent *a, const dr__agent_executor *ex)
{
    if (!a->opts.switch_user_enabled)
        return NULL;
    const Mesos__CommandInfo *cmd = ex->info->command;
    if (cmd != NULL && cmd->user != NULL && cmd->user[0] != '\0')
        return cmd->user;
    const char *fw_user = ex->fw->info->user;
    return fw_user != NULL && fw_user[0] != '\0' ? fw_user : NULL;
}

/* Sets spec's user from container_user(); the error names the user. */
static dr_code spec_user(dr_agent *a, const dr__agent_executor *ex, dr_container_spec *spec,
                         dr_err *err)
{
    const char *user = container_user(a, ex);
    if (user == NULL)
        return DR_OK;
    return dr_container_spec_set_user(spec, a->env, user, err);
}

static void launch_failed(dr_agent *a, dr__agent_executor *ex, const char *message)
{
    a->counters.launch_errors++;
    ex->term_reason = MESOS__TASK_STATUS__REASON__REASON_CONTAINER_LAUNCH_FAILED;
    dr_strlcpy(ex->term_message, message, sizeof ex->term_message);
    DR_WARN(a->env, "agent: executor '%s' of framework '%s': %s", ex->id, ex->fw->id, message);
    ex->pid = 0;
    ex->fetch_pid = 0;
    dr__agent_executor_exited(a, ex);
}

static void start_process(dr_agent *a, dr__agent_executor *ex)
{
    DR_ASSERT(ex->state == DR__EX_FETCHING);
    DR_ASSERT(ex->fetch_pid == 0);
    DR_ASSERT(ex->pid == 0);
    dr_container_spec spec;
    spec_build(a, ex, &spec);
    dr_err err;
    dr_code rc = spec_user(a, ex, &spec, &err);
    for (size_t i = 0; rc == DR_OK && i < a->isolator_count; i++)
        rc = a->isolators[i].ops->prepare(a->isolators[i].self, a->env, &spec, &err);
    if (rc == DR_OK)
        rc = a->launcher.ops->launch(a->launcher.self, a->env, &spec, dr__agent_executor_exit_cb, ex,
                                     &ex->pid, &err);
    dr_container_spec_deinit(&spec);
    if (rc != DR_OK) {
        char msg[300];
        snprintf(msg, sizeof msg, "Failed to launch the executor: %s", err.msg);
        launch_failed(a, ex, msg);
        return;
    }
    DR_ASSERT(ex->pid > 0);
    ex->state = DR__EX_LAUNCHED;
    a->counters.executors_launched++;
    if (dr__agent_ckpt_pid(a, ex, &err) != DR_OK)
        DR_WARN(a->env, "agent: %s (the executor cannot be recovered)", err.msg);
    ex->reg_timer = dr_env_timer_add(a->env, a->opts.executor_registration_timeout_ns,
                                     reg_timeout_fire, ex);
}

static void fetch_exit_cb(dr_env *env, dr_pid pid, dr_exit_status status, void *ctx)
{
    (void)env;
    dr__agent_executor *ex = ctx;
    dr_agent *a = ex->agent;
    if (pid != ex->fetch_pid)
        return;
    ex->fetch_pid = 0;
    if (ex->state != DR__EX_FETCHING) {
        dr__agent_executor_exited(a, ex); /* killed while fetching */
        return;
    }
    if (status.signaled || status.code != 0) {
        /* the fetcher's own words: its last line on stderr */
        char *path = dr_sprintf("%s/stderr", ex->sandbox);
        char line[160];
        dr_err err;
        if (dr_env_read_last_line(a->env, path, line, sizeof line, &err) != DR_OK) {
            DR_DEBUG(a->env, "agent: executor '%s': %s", ex->id, err.msg);
            line[0] = '\0';
        }
        dr_free(path);
        char how[64];
        snprintf(how, sizeof how, "%s %d",
                 status.signaled ? "was killed by signal" : "exited with status", status.code);
        char msg[300];
        if (line[0] != '\0')
            snprintf(msg, sizeof msg, "Failed to fetch the URIs: %s (the fetcher %s)", line, how);
        else
            snprintf(msg, sizeof msg, "Failed to fetch the URIs: the fetcher %s", how);
        launch_failed(a, ex, msg);
        return;
    }
    start_process(a, ex);
}

static void executor_launch(dr_agent *a, dr__agent_executor *ex)
{
    DR_ASSERT(ex->state == DR__EX_FETCHING);
    dr_err err;
    char *runs_latest = dr_sprintf("%s/slaves/%s/frameworks/%s/executors/%s/runs/latest",
                                   a->opts.work_dir, a->agent_id, ex->fw->id, ex->id);
    dr_code rc = dr_env_mkdir_p(a->env, ex->sandbox, &err);
    if (rc == DR_OK)
        rc = dr__agent_ckpt_symlink(a, ex->container_id, runs_latest, false, &err);
    dr_free(runs_latest);
    if (rc != DR_OK) {
        char msg[300];
        snprintf(msg, sizeof msg, "Failed to create the sandbox: %s", err.msg);
        launch_failed(a, ex, msg);
        return;
    }
    const Mesos__CommandInfo *cmd = ex->info->command;
    if (cmd == NULL && !(ex->info->has_type &&
                         ex->info->type == MESOS__EXECUTOR_INFO__TYPE__DEFAULT)) {
        launch_failed(a, ex, "the executor has no command");
        return;
    }
    if (cmd == NULL || cmd->n_uris == 0) {
        start_process(a, ex);
        return;
    }
    /* `dromos fetch --sandbox_directory=DIR --uris=JSON [--user=U]`, as its own process */
    dr_container_spec spec;
    dr_container_spec_init(&spec);
    spec.container_id = ex->container_id;
    spec.sandbox = ex->sandbox;
    for (size_t i = 0; a->fetch_argv[i] != NULL; i++)
        dr_container_spec_add_arg(&spec, a->fetch_argv[i]);
    dr_buf uris;
    dr_buf_init(&uris);
    dr_buf_append_str(&uris, "[");
    for (size_t i = 0; i < cmd->n_uris && rc == DR_OK; i++) {
        if (i > 0)
            dr_buf_append_str(&uris, ",");
        rc = dr_json_encode(&cmd->uris[i]->base, &uris, &err);
    }
    dr_buf_append_str(&uris, "]");
    char *arg = dr_sprintf("--sandbox_directory=%s", ex->sandbox);
    dr_container_spec_add_arg(&spec, arg);
    dr_free(arg);
    arg = dr_sprintf("--uris=%s", dr_buf_cstr(&uris));
    dr_container_spec_add_arg(&spec, arg);
    dr_free(arg);
    if (cmd->user != NULL) {
        arg = dr_sprintf("--user=%s", cmd->user);
        dr_container_spec_add_arg(&spec, arg);
        dr_free(arg);
    }
    dr_buf_deinit(&uris);
    dr_container_spec_set_env(&spec, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    dr_container_spec_set_env(&spec, "MESOS_SANDBOX", ex->sandbox);
    /* the fetcher runs as the container's user: what it fetches is theirs,
     * and it reads only what they may */
    const char *failed = "start the fetcher";
    if (rc == DR_OK && (rc = spec_user(a, ex, &spec, &err)) != DR_OK)
        failed = "launch the executor";
    if (rc == DR_OK)
        rc = a->launcher.ops->launch(a->launcher.self, a->env, &spec, fetch_exit_cb, ex,
                                     &ex->fetch_pid, &err);
    dr_container_spec_deinit(&spec);
    if (rc != DR_OK) {
        char msg[300];
        snprintf(msg, sizeof msg, "Failed to %s: %s", failed, err.msg);
        launch_failed(a, ex, msg);
    }
}

void dr__agent_executor_flush(dr_agent *a, dr__agent_executor *ex)
{
    DR_ASSERT(ex->state == DR__EX_RUNNING);
    for (dr__agent_task *t = ex->tasks; t != NULL;) {
        if (t->launched || dr__agent_state_terminal(t->state)) {
            t = t->next;
            continue;
        }
        Mesos__Executor__Event ev = MESOS__EXECUTOR__EVENT__INIT;
        ev.has_type = true;
        if (t->group == 0) {
            Mesos__Executor__Event__Launch launch = MESOS__EXECUTOR__EVENT__LAUNCH__INIT;
            ev.type = MESOS__EXECUTOR__EVENT__TYPE__LAUNCH;
            launch.task = t->info;
            ev.launch = &launch;
            t->launched = true;
            dr__agent_executor_send(a, ex, &ev);
            t = t->next;
            continue;
        }
        uint64_t group = t->group;
        size_t n = 0;
        for (dr__agent_task *g = t; g != NULL && g->group == group; g = g->next)
            n++;
        Mesos__TaskInfo **infos = dr_alloc_array(n, sizeof *infos);
        n = 0;
        dr__agent_task *g = t;
        for (; g != NULL && g->group == group; g = g->next) {
            if (!dr__agent_state_terminal(g->state))
                infos[n++] = g->info;
            g->launched = true;
        }
        Mesos__TaskGroupInfo tg = MESOS__TASK_GROUP_INFO__INIT;
        tg.n_tasks = n;
        tg.tasks = infos;
        Mesos__Executor__Event__LaunchGroup lg = MESOS__EXECUTOR__EVENT__LAUNCH_GROUP__INIT;
        lg.task_group = &tg;
        ev.type = MESOS__EXECUTOR__EVENT__TYPE__LAUNCH_GROUP;
        ev.launch_group = &lg;
        if (n > 0)
            dr__agent_executor_send(a, ex, &ev);
        dr_free(infos);
        t = g;
    }
}

/* ---- status update manager -------------------------------------------------------------- */

static bool uuid_seen(const dr__agent_task *t, const ProtobufCBinaryData *uuid)
{
    for (size_t at = 0; at < t->seen_uuids.size; at += 1 + t->seen_uuids.data[at]) {
        size_t n = t->seen_uuids.data[at];
        if (n == uuid->len && memcmp(t->seen_uuids.data + at + 1, uuid->data, n) == 0)
            return true;
    }
    return false;
}

static void count_terminal(dr_agent *a, Mesos__TaskState s)
{
    switch (s) {
    case MESOS__TASK_STATE__TASK_FINISHED: a->counters.tasks_finished++; break;
    case MESOS__TASK_STATE__TASK_FAILED: a->counters.tasks_failed++; break;
    case MESOS__TASK_STATE__TASK_KILLED: a->counters.tasks_killed++; break;
    case MESOS__TASK_STATE__TASK_LOST: a->counters.tasks_lost++; break;
    case MESOS__TASK_STATE__TASK_ERROR: a->counters.tasks_error++; break;
    default: a->counters.tasks_gone++; break;
    }
}

dr_code dr__agent_sum_take(dr_agent *a, dr__agent_task *t, const Mesos__TaskStatus *status,
                           bool must_checkpoint, bool *duplicate, dr_err *err)
{
    DR_ASSERT(status->has_uuid);
    *duplicate = false;
    if (status->uuid.len == 0 || status->uuid.len > DR_AGENT_UUID_SIZE_MAX)
        return dr_err_set(err, DR_EINVAL, "status update uuid of %zu bytes", status->uuid.len);
    if (uuid_seen(t, &status->uuid)) {
        *duplicate = true;
        return DR_OK;
    }
    if (dr__agent_state_terminal(t->state))
        return dr_err_set(err, DR_EINVAL, "task '%s' is already in terminal state %s", t->id,
                          protobuf_c_enum_descriptor_get_value(&mesos__task_state__descriptor,
                                                               t->state)->name);
    if (t->pending_count >= DR_AGENT_UPDATE_QUEUE_COUNT_MAX)
        return dr_err_set(err, DR_ETOOBIG, "task '%s' has %u unacknowledged updates", t->id,
                          DR_AGENT_UPDATE_QUEUE_COUNT_MAX);
    if (t->ex->fw->checkpoint) {
        dr_buf rec;
        dr_buf_init(&rec);
        dr_code rc = dr_ckpt_encode_update(status, &rec, err);
        if (rc == DR_OK)
            rc = dr__agent_ckpt_append(a, t, &rec, true, err);
        dr_buf_deinit(&rec);
        if (rc != DR_OK && must_checkpoint)
            return rc;
        if (rc != DR_OK) /* kept in memory only: a crash now loses it to reconciliation */
            DR_WARN(a->env, "agent: task '%s': update not checkpointed: %s", t->id, err->msg);
    }
    uint8_t n = (uint8_t)status->uuid.len;
    dr_buf_append(&t->seen_uuids, &n, 1);
    dr_buf_append(&t->seen_uuids, status->uuid.data, n);
    dr__agent_update *u = dr_alloc(sizeof *u);
    u->status = dr__agent_clone(status);
    bool was_empty = t->head == NULL;
    if (t->tail != NULL)
        t->tail->next = u;
    else
        t->head = u;
    t->tail = u;
    t->pending_count++;
    t->state = status->state;
    if (t->latest != NULL)
        dr_proto_free(&t->latest->base);
    t->latest = dr__agent_clone(status);
    if (dr__agent_state_terminal(status->state))
        count_terminal(a, status->state);
    DR_ASSERT(t->pending_count >= 1);
    DR_ASSERT(t->tail == u);
    DR_ASSERT(was_empty == (t->head == u));
    if (was_empty)
        sum_send_head(a, t);
    return DR_OK;
}

static void retry_fire(dr_env *env, void *ctx)
{
    (void)env;
    dr__agent_task *t = ctx;
    t->retry_timer = 0;
    if (t->head != NULL)
        sum_send_head(t->ex->agent, t);
}

static void sum_send_head(dr_agent *a, dr__agent_task *t)
{
    DR_ASSERT(t->head != NULL);
    if (a->state != DR__AGENT_REGISTERED || a->shutting_down)
        return; /* dr__agent_sum_resend_all sends it after registration */
    Dromos__Internal__AgentCall call = DROMOS__INTERNAL__AGENT_CALL__INIT;
    Dromos__Internal__AgentCall__StatusUpdate up = DROMOS__INTERNAL__AGENT_CALL__STATUS_UPDATE__INIT;
    call.type = DROMOS__INTERNAL__AGENT_CALL__TYPE__STATUS_UPDATE;
    up.framework_id = t->ex->fw->info->id;
    up.status = t->head->status;
    up.executor_id = t->ex->info->executor_id;
    up.has_latest_state = true;
    up.latest_state = t->state;
    call.status_update = &up;
    dr__agent_call(a, &call);
    a->counters.updates_sent++;
    t->head_sent = true;
    t->backoff_ns = t->backoff_ns == 0 ? DR_AGENT_UPDATE_BACKOFF_MIN_NS
                                       : DR_MIN(t->backoff_ns * 2, DR_AGENT_UPDATE_BACKOFF_MAX_NS);
    if (t->retry_timer != 0)
        dr_env_timer_cancel(a->env, t->retry_timer);
    t->retry_timer = dr_env_timer_add(a->env, t->backoff_ns, retry_fire, t);
}

void dr__agent_sum_ack(dr_agent *a, const char *framework_id, const char *task_id,
                 const ProtobufCBinaryData *uuid)
{
    dr__agent_framework *fw = dr__agent_framework_find(a, framework_id);
    dr__agent_task *t = fw != NULL ? dr__agent_task_find(fw, task_id) : NULL;
    if (t == NULL || t->head == NULL || t->head->status->uuid.len != uuid->len ||
        memcmp(t->head->status->uuid.data, uuid->data, uuid->len) != 0) {
        DR_DEBUG(a->env, "agent: unexpected acknowledgement for task '%s' dropped", task_id);
        return;
    }
    if (fw->checkpoint) {
        dr_buf rec;
        dr_buf_init(&rec);
        dr_ckpt_encode_ack(uuid->data, uuid->len, &rec);
        dr_err err;
        dr_code rc = dr__agent_ckpt_append(a, t, &rec, false, &err);
        dr_buf_deinit(&rec);
        if (rc != DR_OK) {
            DR_WARN(a->env, "agent: %s: the acknowledgement waits for a resend", err.msg);
            return;
        }
    }
    dr__agent_update *u = t->head;
    t->head = u->next;
    if (t->head == NULL)
        t->tail = NULL;
    DR_ASSERT(t->pending_count > 0);
    t->pending_count--;
    dr_proto_free(&u->status->base);
    dr_free(u);
    a->counters.updates_acked++;
    if (t->retry_timer != 0)
        dr_env_timer_cancel(a->env, t->retry_timer);
    t->retry_timer = 0;
    t->backoff_ns = 0;
    t->head_sent = false;
    if (t->head != NULL) {
        sum_send_head(a, t);
        return;
    }
    DR_ASSERT(t->pending_count == 0);
    if (dr__agent_state_terminal(t->state)) {
        dr__agent_executor *ex = t->ex;
        dr__agent_task_remove(a, t);
        bool live = false;
        for (dr__agent_task *o = ex->tasks; o != NULL; o = o->next)
            live = live || !dr__agent_state_terminal(o->state);
        /* a command executor whose task is done has nothing left to do */
        if (!live && ex->generated && ex->task_count == 0 && ex->state != DR__EX_TERMINATED)
            dr__agent_executor_shutdown(a, ex, MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED,
                                  "its task ended");
        dr__agent_reap_soon(a);
    }
}

void dr__agent_sum_resend_all(dr_agent *a)
{
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next)
        for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next)
            for (dr__agent_task *t = ex->tasks; t != NULL; t = t->next) {
                if (t->head == NULL)
                    continue;
                t->backoff_ns = 0;
                sum_send_head(a, t);
            }
}

void dr__agent_sum_stop_timers(dr_agent *a)
{
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next)
        for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next)
            for (dr__agent_task *t = ex->tasks; t != NULL; t = t->next) {
                if (t->retry_timer != 0)
                    dr_env_timer_cancel(a->env, t->retry_timer);
                t->retry_timer = 0;
            }
}

/* ---- garbage collection ---------------------------------------------------------------- */

/* Mesos: sandboxes live for gc_delay * max(0, 1 - headroom - disk usage). */
static uint64_t gc_max_age_ns(const dr_agent *a)
{
    double factor = 1.0 - a->opts.gc_disk_headroom - a->disk_usage;
    if (factor < 0)
        factor = 0;
    return (uint64_t)((double)a->opts.gc_delay_ns * factor);
}

static void gc_arm(dr_agent *a);

static void gc_fire(dr_env *env, void *ctx)
{
    dr_agent *a = ctx;
    a->gc_timer = 0;
    uint64_t now = dr_env_now(env);
    uint64_t max_age = gc_max_age_ns(a);
    while (a->gc_head != NULL && now - a->gc_head->since_ns >= max_age) {
        dr__agent_gc_entry *e = a->gc_head;
        a->gc_head = e->next;
        if (a->gc_head == NULL)
            a->gc_tail = NULL;
        dr_err err;
        if (dr_env_remove_tree(env, e->sandbox, &err) != DR_OK)
            DR_WARN(env, "agent: gc of '%s': %s", e->sandbox, err.msg);
        if (e->meta_run != NULL && dr_env_remove_tree(env, e->meta_run, &err) != DR_OK)
            DR_WARN(env, "agent: gc of '%s': %s", e->meta_run, err.msg);
        DR_DEBUG(env, "agent: gc removed '%s'", e->sandbox);
        a->counters.gc_removed++;
        dr_free(e->sandbox);
        dr_free(e->meta_run);
        dr_free(e->virtual_path);
        dr_free(e);
    }
    gc_arm(a);
}

static void gc_arm(dr_agent *a)
{
    if (a->gc_timer != 0) {
        dr_env_timer_cancel(a->env, a->gc_timer);
        a->gc_timer = 0;
    }
    if (a->gc_head == NULL)
        return;
    uint64_t now = dr_env_now(a->env);
    uint64_t due = a->gc_head->since_ns + gc_max_age_ns(a);
    a->gc_timer = dr_env_timer_add(a->env, due > now ? due - now : 0, gc_fire, a);
}

void dr__agent_gc_schedule(dr_agent *a, const char *sandbox, const char *meta_run,
                           const char *virtual_path)
{
    dr__agent_gc_entry *e = dr_alloc(sizeof *e);
    e->sandbox = dr_strdup(sandbox);
    e->meta_run = meta_run != NULL ? dr_strdup(meta_run) : NULL;
    e->virtual_path = virtual_path != NULL ? dr_strdup(virtual_path) : NULL;
    e->since_ns = dr_env_now(a->env);
    if (a->gc_tail != NULL)
        a->gc_tail->next = e;
    else
        a->gc_head = e;
    a->gc_tail = e;
    if (a->gc_timer == 0)
        gc_arm(a);
}

static void disk_fire(dr_env *env, void *ctx)
{
    dr_agent *a = ctx;
    a->disk_timer = 0;
    uint64_t free_bytes = 0, total_bytes = 0;
    dr_err err;
    if (dr_env_disk_space(env, a->opts.work_dir, &free_bytes, &total_bytes, &err) == DR_OK &&
        total_bytes > 0) {
        a->disk_usage = 1.0 - (double)free_bytes / (double)total_bytes;
        gc_arm(a); /* the allowed age may have shrunk */
    }
    a->disk_timer = dr_env_timer_add(env, a->opts.disk_watch_interval_ns, disk_fire, a);
}

void dr__agent_gc_start(dr_agent *a)
{
    a->disk_timer = dr_env_timer_add(a->env, 0, disk_fire, a);
}

void dr__agent_gc_free(dr_agent *a)
{
    while (a->gc_head != NULL) {
        dr__agent_gc_entry *e = a->gc_head;
        a->gc_head = e->next;
        dr_free(e->sandbox);
        dr_free(e->meta_run);
        dr_free(e->virtual_path);
        dr_free(e);
    }
    a->gc_tail = NULL;
}

/* ---- posix/mem: memory limits ----------------------------------------------------- */

#define COMMAND_EXECUTOR_MEM_BYTES (32u * 1024 * 1024)

uint64_t dr__agent_executor_mem_limit(const dr__agent_executor *ex)
{
    dr_resources rs;
    dr_resources_init(&rs);
    for (size_t i = 0; i < ex->info->n_resources; i++)
        dr_resources_add_one(&rs, ex->info->resources[i]);
    for (const dr__agent_task *t = ex->tasks; t != NULL; t = t->next)
        if (!dr__agent_state_terminal(t->state))
            for (size_t i = 0; i < t->info->n_resources; i++)
                dr_resources_add_one(&rs, t->info->resources[i]);
    uint64_t bytes = (uint64_t)(dr_resources_mem(&rs) * 1024 * 1024);
    dr_resources_deinit(&rs);
    if (bytes > 0 && ex->generated)
        bytes += COMMAND_EXECUTOR_MEM_BYTES;
    return bytes;
}

/* Every executor with a memory limit, measured in one look at the host's
 * processes (per executor it would be O(executors x processes) each time). */
static void mem_fire(dr_env *env, void *ctx)
{
    dr_agent *a = ctx;
    a->mem_timer = 0;
    const dr_isolator *iso = NULL;
    for (size_t i = 0; i < a->isolator_count; i++)
        if (a->isolators[i].ops->mem_usage != NULL)
            iso = &a->isolators[i];
    if (iso == NULL)
        return;
    /* The watched executors, in list order, with their limits and pids
     * (measuring calls back nothing: they stay valid until the kills below,
     * which only signal). */
    size_t count = 0, capacity = 0;
    dr__agent_executor **watched = NULL;
    uint64_t *limits = NULL;
    dr_pid *pids = NULL;
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next) {
        for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next) {
            if (ex->pid == 0 || ex->state == DR__EX_TERMINATED || ex->state == DR__EX_FETCHING ||
                ex->term_reason == MESOS__TASK_STATUS__REASON__REASON_CONTAINER_LIMITATION_MEMORY)
                continue;
            uint64_t limit = dr__agent_executor_mem_limit(ex);
            if (limit == 0)
                continue;
            if (count == capacity) {
                capacity = capacity != 0 ? 2 * capacity : 16;
                watched = dr_realloc(watched, capacity * sizeof *watched);
                limits = dr_realloc(limits, capacity * sizeof *limits);
                pids = dr_realloc(pids, capacity * sizeof *pids);
            }
            watched[count] = ex;
            limits[count] = limit;
            pids[count] = ex->pid;
            count++;
        }
    }
    bool watching = true;
    if (count > 0) {
        uint64_t *rss = dr_alloc_array(count, sizeof *rss);
        dr_err err;
        dr_code rc = iso->ops->mem_usage(iso->self, env, pids, count, rss, &err);
        if (rc == DR_ENOTSUP) {
            DR_INFO(env, "agent: %s: %s; memory limits are not watched", iso->ops->name, err.msg);
            watching = false; /* no procfs (the simulator) */
        } else if (rc != DR_OK) {
            DR_DEBUG(env, "agent: memory of the executors: %s", err.msg);
        }
        for (size_t i = 0; rc == DR_OK && i < count; i++) {
            dr__agent_executor *ex = watched[i];
            DR_DEBUG(env, "agent: executor '%s' uses %llu of %llu bytes", ex->id,
                     (unsigned long long)rss[i], (unsigned long long)limits[i]);
            if (rss[i] <= limits[i])
                continue;
            ex->term_reason = MESOS__TASK_STATUS__REASON__REASON_CONTAINER_LIMITATION_MEMORY;
            ex->term_state = MESOS__TASK_STATE__TASK_FAILED;
            snprintf(ex->term_message, sizeof ex->term_message,
                     "Memory limit exceeded: Requested: %lluMB Maximum Used: %lluMB",
                     (unsigned long long)(limits[i] >> 20), (unsigned long long)(rss[i] >> 20));
            DR_WARN(env, "agent: executor '%s' of framework '%s': %s", ex->id, ex->fw->id,
                    ex->term_message);
            dr__agent_executor_kill(a, ex);
        }
        dr_free(rss);
    }
    dr_free(pids);
    dr_free(limits);
    dr_free(watched);
    if (watching)
        a->mem_timer = dr_env_timer_add(env, a->opts.mem_watch_interval_ns, mem_fire, a);
}

void dr__agent_mem_watch_start(dr_agent *a)
{
    a->mem_timer = dr_env_timer_add(a->env, a->opts.mem_watch_interval_ns, mem_fire, a);
}
