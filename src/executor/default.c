/* src/executor/default.c — the default executor's task groups (see
 * executor.h): each LAUNCH_GROUP gets a group number; its tasks run as child
 * processes of the executor, each in <sandbox>/tasks/<task id>. When one task
 * of a group ends TASK_FAILED or TASK_KILLED (a KILL or a failing health
 * check included), the rest of the group is killed, as Mesos's default
 * executor does (not while the executor shuts down); KILL of one task kills
 * its whole group at once. Nested containers (the agent's
 * LAUNCH_NESTED_CONTAINER) replace the child processes once isolation lands.
 */
#include "executor_int.h"

#include <string.h>

void dr__exec_launch_group(dr_executor *ex, const Mesos__TaskGroupInfo *group)
{
    DR_ASSERT(ex->opts.kind == DR_EXECUTOR_DEFAULT);
    if (group->n_tasks == 0)
        return;
    /* a LAUNCH_GROUP resent after a resubscription: already running */
    for (size_t i = 0; i < group->n_tasks; i++)
        if (dr__exec_task_find(ex, group->tasks[i]->task_id->value) != NULL)
            return;
    uint64_t number = ++ex->group_count;
    DR_INFO(ex->env, "executor: task group %llu with %zu tasks", (unsigned long long)number,
            group->n_tasks);
    for (size_t i = 0; i < group->n_tasks; i++) {
        dr__exec_task *t = dr__exec_task_launch(ex, group->tasks[i], number);
        /* a task that could not start already killed what started before
         * it; the ones after it are not started at all */
        if (t->terminal && t->state != MESOS__TASK_STATE__TASK_FINISHED) {
            for (size_t j = i + 1; j < group->n_tasks; j++) {
                Mesos__TaskInfo *info = group->tasks[j];
                if (dr__exec_task_find(ex, info->task_id->value) != NULL)
                    continue;
                dr__exec_task *rest = dr__exec_task_launch_killed(ex, info, number);
                (void)rest; /* reported TASK_KILLED already */
            }
            return;
        }
    }
}

void dr__exec_group_task_ended(dr_executor *ex, dr__exec_task *t)
{
    DR_ASSERT(t->group != 0);
    DR_ASSERT(t->terminal);
    /* as Mesos: FAILED or KILLED (by KILL or a health check too) takes the
     * group down, unless the group is already going or the executor is */
    if (t->state == MESOS__TASK_STATE__TASK_FINISHED || t->killed_by_group || ex->shutting_down)
        return;
    DR_INFO(ex->env, "executor: task '%s' of group %llu ended %s: killing the rest of its group",
            t->id, (unsigned long long)t->group,
            protobuf_c_enum_descriptor_get_value(&mesos__task_state__descriptor, t->state)->name);
    for (dr__exec_task *s = ex->tasks; s != NULL; s = s->next) {
        if (s == t || s->group != t->group || s->terminal || s->pid == 0)
            continue;
        s->killed_by_group = true;
        dr__exec_task_kill(ex, s, dr__exec_kill_grace_ns(ex, s, NULL));
    }
}

void dr__exec_group_kill(dr_executor *ex, dr__exec_task *t, uint64_t grace_ns)
{
    DR_ASSERT(t->group != 0);
    for (dr__exec_task *s = ex->tasks; s != NULL; s = s->next)
        if (s->group == t->group)
            dr__exec_task_kill(ex, s, grace_ns);
}
