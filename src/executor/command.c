/* src/executor/command.c — the executor core and the command executor (see
 * executor.h): the client's events, task processes (spawn, kill with a grace
 * period, exit), status updates and when the executor is done. Task groups
 * are default.c's, health checks health.c's. */
#include "executor_int.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_KILL_GRACE_NS (3 * DR_NS_PER_S)
#define DEFAULT_SHUTDOWN_GRACE_NS (5 * DR_NS_PER_S)
#define DEFAULT_TERMINAL_ACK_TIMEOUT_NS (60 * DR_NS_PER_S)

static void check_done(dr_executor *ex);
static void finish(dr_executor *ex, int exit_code);

/* ---- small helpers ---------------------------------------------------------------- */

static const char *signal_text(int signo, char *buf, size_t buf_size)
{
    switch (signo) {
    case SIGHUP: return "Hangup";
    case SIGINT: return "Interrupt";
    case SIGQUIT: return "Quit";
    case SIGILL: return "Illegal instruction";
    case SIGABRT: return "Aborted";
    case SIGFPE: return "Floating point exception";
    case SIGKILL: return "Killed";
    case SIGSEGV: return "Segmentation fault";
    case SIGPIPE: return "Broken pipe";
    case SIGALRM: return "Alarm clock";
    case SIGTERM: return "Terminated";
    case SIGBUS: return "Bus error";
    default: snprintf(buf, buf_size, "Signal %d", signo); return buf;
    }
}

static bool state_terminal(Mesos__TaskState s)
{
    return s == MESOS__TASK_STATE__TASK_FINISHED || s == MESOS__TASK_STATE__TASK_FAILED ||
           s == MESOS__TASK_STATE__TASK_KILLED || s == MESOS__TASK_STATE__TASK_ERROR ||
           s == MESOS__TASK_STATE__TASK_LOST || s == MESOS__TASK_STATE__TASK_DROPPED ||
           s == MESOS__TASK_STATE__TASK_GONE;
}

/* envp list: adds or replaces NAME=value. */
static void env_set(char ***envp, size_t *count, const char *name, const char *value)
{
    size_t n = strlen(name);
    char *entry = dr_sprintf("%s=%s", name, value);
    for (size_t i = 0; i < *count; i++) {
        if (strncmp((*envp)[i], name, n) == 0 && (*envp)[i][n] == '=') {
            dr_free((*envp)[i]);
            (*envp)[i] = entry;
            return;
        }
    }
    *envp = dr_realloc(*envp, (*count + 2) * sizeof **envp);
    (*envp)[(*count)++] = entry;
    (*envp)[*count] = NULL;
}

static void env_free(char **envp, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dr_free(envp[i]);
    dr_free(envp);
}

static ProtobufCMessage *clone_msg(const ProtobufCMessage *msg)
{
    dr_buf buf;
    dr_buf_init(&buf);
    dr_err err;
    ProtobufCMessage *out = NULL;
    dr_code rc = dr_proto_encode(msg, &buf, &err);
    if (rc == DR_OK)
        rc = dr_proto_decode(msg->descriptor, buf.data, buf.size, NULL, &out, &err);
    dr_buf_deinit(&buf);
    DR_ASSERT(rc == DR_OK); /* decoded from the wire once already */
    return out;
}

/* ---- tasks ------------------------------------------------------------------------ */

dr__exec_task *dr__exec_task_find(const dr_executor *ex, const char *task_id)
{
    for (dr__exec_task *t = ex->tasks; t != NULL; t = t->next)
        if (strcmp(t->id, task_id) == 0)
            return t;
    return NULL;
}

static void task_free(dr__exec_task *t)
{
    dr__exec_health_stop(t);
    dr_proto_free(&t->info->base);
    dr_free(t->dir);
    dr_free(t);
}

void dr__exec_task_update(dr_executor *ex, dr__exec_task *t, Mesos__TaskState state,
                          const char *message, int reason, int healthy)
{
    DR_ASSERT(!t->terminal);
    Mesos__TaskStatus st = MESOS__TASK_STATUS__INIT;
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    tid.value = t->id;
    st.task_id = &tid;
    st.state = state;
    st.message = (char *)message;
    if (reason >= 0) {
        st.has_reason = true;
        st.reason = (Mesos__TaskStatus__Reason)reason;
    }
    if (healthy >= 0) {
        st.has_healthy = true;
        st.healthy = healthy != 0;
    }
    t->state = state;
    if (state_terminal(state)) {
        t->terminal = true;
        dr__exec_health_stop(t);
    }
    DR_INFO(ex->env, "executor: task '%s' %s%s%s", t->id,
            protobuf_c_enum_descriptor_get_value(&mesos__task_state__descriptor, state)->name,
            message != NULL ? ": " : "", message != NULL ? message : "");
    dr_err err;
    if (dr_exec_client_update(ex->client, &st, NULL, &err) != DR_OK)
        DR_ERROR(ex->env, "executor: %s", err.msg); /* over the bound: the agent is stuck */
}

/* Ends t with a terminal update, then lets the group policy and the done
 * check look. */
static void task_end(dr_executor *ex, dr__exec_task *t, Mesos__TaskState state,
                     const char *message, int reason, int healthy)
{
    dr__exec_task_update(ex, t, state, message, reason, healthy);
    if (t->group != 0)
        dr__exec_group_task_ended(ex, t);
    check_done(ex);
}

static void task_exit_cb(dr_env *env, dr_pid pid, dr_exit_status status, void *ctx)
{
    (void)env;
    (void)pid;
    dr__exec_task *t = ctx;
    dr_executor *ex = t->ex;
    t->pid = 0;
    if (ex == NULL) { /* the executor was destroyed while the task ran */
        task_free(t);
        return;
    }
    if (t->kill_timer != 0)
        dr_env_timer_cancel(ex->env, t->kill_timer);
    t->kill_timer = 0;
    dr__exec_health_stop(t);
    if (t->terminal)
        return;
    char msg[128];
    char sig[32];
    if (status.signaled)
        snprintf(msg, sizeof msg, "Command terminated with signal %s",
                 signal_text(status.code, sig, sizeof sig));
    else
        snprintf(msg, sizeof msg, "Command exited with status %d", status.code);
    Mesos__TaskState state;
    if (!status.signaled && status.code == 0)
        state = MESOS__TASK_STATE__TASK_FINISHED;
    else if (t->kill_requested || t->killed_by_health || t->killed_by_group)
        state = MESOS__TASK_STATE__TASK_KILLED;
    else
        state = MESOS__TASK_STATE__TASK_FAILED;
    /* Mesos marks a task killed for its health as unhealthy at the end */
    task_end(ex, t, state, msg, -1, t->killed_by_health ? 0 : -1);
}

static void kill_fire(dr_env *env, void *ctx)
{
    dr__exec_task *t = ctx;
    t->kill_timer = 0;
    if (t->pid == 0)
        return;
    DR_INFO(env, "executor: task '%s' still running after its grace period: SIGKILL", t->id);
    dr_err err;
    if (dr_env_signal(env, t->pid, SIGKILL, true, &err) != DR_OK)
        DR_WARN(env, "executor: SIGKILL to task '%s': %s", t->id, err.msg);
}

uint64_t dr__exec_kill_grace_ns(const dr_executor *ex, const dr__exec_task *t,
                                const Mesos__KillPolicy *kill_policy)
{
    if (kill_policy != NULL && kill_policy->grace_period != NULL &&
        kill_policy->grace_period->nanoseconds >= 0)
        return (uint64_t)kill_policy->grace_period->nanoseconds;
    const Mesos__KillPolicy *own = t->info->kill_policy;
    if (own != NULL && own->grace_period != NULL && own->grace_period->nanoseconds >= 0)
        return (uint64_t)own->grace_period->nanoseconds;
    return ex->opts.kill_grace_period_ns;
}

void dr__exec_task_kill(dr_executor *ex, dr__exec_task *t, uint64_t grace_ns)
{
    if (t->terminal || t->pid == 0)
        return;
    uint64_t now_ns = dr_env_now(ex->env);
    if (t->kill_timer != 0) {
        /* already dying: a later kill (SHUTDOWN after KILL) may only bring
         * the SIGKILL forward, never push it back */
        if (now_ns + grace_ns >= t->kill_deadline_ns)
            return;
        dr_env_timer_cancel(ex->env, t->kill_timer);
        t->kill_timer = 0;
        t->kill_deadline_ns = now_ns + grace_ns;
        if (grace_ns > 0) {
            t->kill_timer = dr_env_timer_add(ex->env, grace_ns, kill_fire, t);
        } else {
            dr_err err;
            if (dr_env_signal(ex->env, t->pid, SIGKILL, true, &err) != DR_OK)
                DR_WARN(ex->env, "executor: SIGKILL to task '%s': %s", t->id, err.msg);
        }
        return;
    }
    if (t->kill_requested && grace_ns > 0)
        return; /* SIGKILL was sent already: nothing gentler follows */
    t->kill_requested = true;
    if (ex->task_killing && t->state != MESOS__TASK_STATE__TASK_KILLING)
        dr__exec_task_update(ex, t, MESOS__TASK_STATE__TASK_KILLING, NULL, -1, -1);
    dr__exec_health_stop(t);
    DR_INFO(ex->env, "executor: killing task '%s' (grace period %llu ms)", t->id,
            (unsigned long long)(grace_ns / DR_NS_PER_MS));
    dr_err err;
    if (dr_env_signal(ex->env, t->pid, grace_ns > 0 ? SIGTERM : SIGKILL, true, &err) != DR_OK)
        DR_WARN(ex->env, "executor: signal to task '%s': %s", t->id, err.msg);
    t->kill_deadline_ns = now_ns + grace_ns;
    if (grace_ns > 0)
        t->kill_timer = dr_env_timer_add(ex->env, grace_ns, kill_fire, t);
}

bool dr__exec_spawn_command(dr_executor *ex, const Mesos__CommandInfo *cmd, const char *dir,
                            bool output, dr_exit_fn *fn, void *ctx, dr_pid *pid_out, char *why,
                            size_t why_size)
{
    bool shell = !cmd->has_shell || cmd->shell;
    if (cmd->value == NULL || cmd->value[0] == '\0') {
        snprintf(why, why_size, "the command's value is empty");
        return false;
    }
    size_t argc = shell ? 3 : DR_MAX(cmd->n_arguments, (size_t)1);
    if (argc > DR_SPAWN_ARG_COUNT_MAX) {
        snprintf(why, why_size, "%zu arguments (at most %u)", argc, DR_SPAWN_ARG_COUNT_MAX);
        return false;
    }
    const char **argv = dr_alloc_array(argc + 1, sizeof *argv);
    if (shell) {
        argv[0] = "/bin/sh";
        argv[1] = "-c";
        argv[2] = cmd->value;
    } else {
        /* Mesos execs value with arguments as argv; the env's spawn takes
         * argv[0] as the program, so value stands in for arguments[0]. */
        argv[0] = cmd->value;
        for (size_t i = 1; i < cmd->n_arguments; i++)
            argv[i] = cmd->arguments[i];
    }
    char **envp = NULL;
    size_t envc = 0;
    for (size_t i = 0; i < ex->task_env_count; i++) {
        const char *eq = strchr(ex->task_env[i], '=');
        char *name = dr_strndup(ex->task_env[i], (size_t)(eq - ex->task_env[i]));
        env_set(&envp, &envc, name, eq + 1);
        dr_free(name);
    }
    env_set(&envp, &envc, "MESOS_SANDBOX", dir);
    if (cmd->environment != NULL)
        for (size_t i = 0; i < cmd->environment->n_variables; i++) {
            const Mesos__Environment__Variable *v = cmd->environment->variables[i];
            if (v->name == NULL || v->name[0] == '\0' || strchr(v->name, '=') != NULL)
                continue;
            env_set(&envp, &envc, v->name, v->value != NULL ? v->value : "");
        }
    bool has_path = false;
    for (size_t i = 0; i < envc; i++)
        has_path = has_path || strncmp(envp[i], "PATH=", 5) == 0;
    if (!has_path)
        env_set(&envp, &envc, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    char *out_path = output ? dr_sprintf("%s/stdout", dir) : NULL;
    char *err_path = output ? dr_sprintf("%s/stderr", dir) : NULL;
    dr_spawn_opts so = {
        .argv = argv,
        .envp = (const char *const *)envp,
        .cwd = dir,
        .stdout_path = out_path,
        .stderr_path = err_path,
        .new_session = true,
        /* a task outliving its executor would be orphaned to init, out of
         * the container's tree: it dies with the executor (Mesos reports it
         * failed then anyway) */
        .parent_death_signal = SIGKILL,
    };
    dr_err err;
    dr_code rc = dr_env_spawn(ex->env, &so, fn, ctx, pid_out, &err);
    dr_free(out_path);
    dr_free(err_path);
    env_free(envp, envc);
    dr_free(argv);
    if (rc != DR_OK) {
        snprintf(why, why_size, "%s", err.msg);
        return false;
    }
    return true;
}

/* Spawns t's command. Returns false (with why) when it cannot start. */
static bool task_spawn(dr_executor *ex, dr__exec_task *t, char *why, size_t why_size)
{
    const Mesos__CommandInfo *cmd = t->info->command;
    if (cmd == NULL) {
        snprintf(why, why_size, "Task '%s' has no command", t->id);
        return false;
    }
    char inner[300];
    if (!dr__exec_spawn_command(ex, cmd, t->dir, true, task_exit_cb, t, &t->pid, inner,
                                sizeof inner)) {
        snprintf(why, why_size, "Failed to launch the command of task '%s': %s", t->id, inner);
        return false;
    }
    t->started = true;
    return true;
}

static dr__exec_task *task_add(dr_executor *ex, const Mesos__TaskInfo *info, uint64_t group)
{
    dr__exec_task *t = dr_alloc(sizeof *t);
    t->ex = ex;
    t->info = (Mesos__TaskInfo *)clone_msg(&info->base);
    dr_strlcpy(t->id, info->task_id->value, sizeof t->id);
    t->group = group;
    t->healthy = -1;
    t->state = MESOS__TASK_STATE__TASK_STAGING;
    t->dir = group == 0 ? dr_strdup(ex->sandbox) : dr_sprintf("%s/tasks/%s", ex->sandbox, t->id);
    dr__exec_task **tail = &ex->tasks;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = t;
    return t;
}

dr__exec_task *dr__exec_task_launch(dr_executor *ex, const Mesos__TaskInfo *info, uint64_t group)
{
    dr__exec_task *t = task_add(ex, info, group);
    char why[1024];
    dr_err err;
    if (group != 0 && dr_env_mkdir_p(ex->env, t->dir, &err) != DR_OK) {
        snprintf(why, sizeof why, "Failed to create the task's sandbox: %s", err.msg);
        task_end(ex, t, MESOS__TASK_STATE__TASK_FAILED, why,
                 MESOS__TASK_STATUS__REASON__REASON_CONTAINER_LAUNCH_FAILED, -1);
        return t;
    }
    dr__exec_task_update(ex, t, MESOS__TASK_STATE__TASK_STARTING, NULL, -1, -1);
    if (!task_spawn(ex, t, why, sizeof why)) {
        task_end(ex, t, MESOS__TASK_STATE__TASK_FAILED, why,
                 MESOS__TASK_STATUS__REASON__REASON_COMMAND_EXECUTOR_FAILED, -1);
        return t;
    }
    dr__exec_task_update(ex, t, MESOS__TASK_STATE__TASK_RUNNING, NULL, -1, -1);
    if (info->health_check != NULL)
        dr__exec_health_start(ex, t);
    return t;
}

dr__exec_task *dr__exec_task_launch_killed(dr_executor *ex, const Mesos__TaskInfo *info,
                                           uint64_t group)
{
    dr__exec_task *t = task_add(ex, info, group);
    t->killed_by_group = true;
    task_end(ex, t, MESOS__TASK_STATE__TASK_KILLED, "Another task of its group failed to launch",
             MESOS__TASK_STATUS__REASON__REASON_TASK_KILLED_DURING_LAUNCH, -1);
    return t;
}

/* ---- when the executor is done ----------------------------------------------------- */

static void done_fire(dr_env *env, void *ctx)
{
    dr_executor *ex = ctx;
    ex->done_timer = 0;
    /* last thing: done may destroy ex */
    ex->done(env, ex->exit_code, ex->ctx);
}

static void finish(dr_executor *ex, int exit_code)
{
    if (ex->finished)
        return;
    ex->finished = true;
    ex->exit_code = exit_code;
    if (ex->ack_timer != 0)
        dr_env_timer_cancel(ex->env, ex->ack_timer);
    ex->ack_timer = 0;
    DR_INFO(ex->env, "executor: done (exit status %d)", exit_code);
    ex->done_timer = dr_env_timer_add(ex->env, 0, done_fire, ex);
}

static bool all_terminal(const dr_executor *ex)
{
    for (const dr__exec_task *t = ex->tasks; t != NULL; t = t->next)
        if (!t->terminal || t->pid != 0)
            return false;
    return true;
}

static void ack_timeout_fire(dr_env *env, void *ctx)
{
    dr_executor *ex = ctx;
    ex->ack_timer = 0;
    if (dr_exec_client_get_state(ex->client) == DR_EXEC_CLIENT_SUBSCRIBED) {
        DR_WARN(env, "executor: %zu terminal updates not acknowledged; exiting",
                dr_exec_client_unacked_update_count(ex->client));
        finish(ex, 1);
        return;
    }
    /* the agent is away: the client's recovery timeout decides */
    ex->ack_timer = dr_env_timer_add(env, ex->opts.terminal_ack_timeout_ns, ack_timeout_fire, ex);
}

static void check_done(dr_executor *ex)
{
    if (ex->finished || (ex->tasks == NULL && !ex->shutting_down) || !all_terminal(ex))
        return;
    if (dr_exec_client_unacked_update_count(ex->client) == 0) {
        finish(ex, 0);
        return;
    }
    if (ex->ack_timer == 0)
        ex->ack_timer =
            dr_env_timer_add(ex->env, ex->opts.terminal_ack_timeout_ns, ack_timeout_fire, ex);
}

static void kill_all(dr_executor *ex, uint64_t grace_ns)
{
    for (dr__exec_task *t = ex->tasks; t != NULL; t = t->next)
        dr__exec_task_kill(ex, t, grace_ns);
}

/* ---- the client's events ------------------------------------------------------------ */

static void on_subscribed(dr_exec_client *c, const Mesos__Executor__Event__Subscribed *ev,
                          void *ctx)
{
    (void)c;
    dr_executor *ex = ctx;
    if (ex->opts.task_killing >= 0) {
        ex->task_killing = ex->opts.task_killing > 0;
        return;
    }
    ex->task_killing = false;
    const Mesos__FrameworkInfo *fi = ev->framework_info;
    for (size_t i = 0; fi != NULL && i < fi->n_capabilities; i++)
        if (fi->capabilities[i]->has_type &&
            fi->capabilities[i]->type == MESOS__FRAMEWORK_INFO__CAPABILITY__TYPE__TASK_KILLING_STATE)
            ex->task_killing = true;
}

/* A task this executor cannot run: refused with TASK_FAILED. */
static void refuse(dr_executor *ex, const Mesos__TaskInfo *info, const char *why)
{
    if (dr__exec_task_find(ex, info->task_id->value) != NULL)
        return;
    dr__exec_task *t = task_add(ex, info, 0);
    task_end(ex, t, MESOS__TASK_STATE__TASK_FAILED, why,
             MESOS__TASK_STATUS__REASON__REASON_COMMAND_EXECUTOR_FAILED, -1);
}

static void on_launch(dr_exec_client *c, const Mesos__TaskInfo *task, void *ctx)
{
    (void)c;
    dr_executor *ex = ctx;
    if (dr__exec_task_find(ex, task->task_id->value) != NULL)
        return; /* a LAUNCH seen again after a resubscription */
    if (ex->shutting_down) {
        refuse(ex, task, "The executor is shutting down");
        return;
    }
    if (ex->opts.kind == DR_EXECUTOR_DEFAULT) {
        refuse(ex, task, "The default executor runs task groups only (LAUNCH_GROUP)");
        return;
    }
    if (ex->tasks != NULL) {
        refuse(ex, task, "Attempted to run multiple tasks using a command executor");
        return;
    }
    dr__exec_task_launch(ex, task, 0);
}

static void on_launch_group(dr_exec_client *c, const Mesos__TaskGroupInfo *group, void *ctx)
{
    (void)c;
    dr_executor *ex = ctx;
    if (ex->opts.kind != DR_EXECUTOR_DEFAULT || ex->shutting_down) {
        for (size_t i = 0; i < group->n_tasks; i++)
            refuse(ex, group->tasks[i],
                   ex->shutting_down ? "The executor is shutting down"
                                     : "The command executor does not run task groups");
        return;
    }
    dr__exec_launch_group(ex, group);
}

static void on_kill(dr_exec_client *c, const Mesos__Executor__Event__Kill *ev, void *ctx)
{
    (void)c;
    dr_executor *ex = ctx;
    dr__exec_task *t = ev->task_id != NULL ? dr__exec_task_find(ex, ev->task_id->value) : NULL;
    if (t == NULL) {
        DR_INFO(ex->env, "executor: KILL for unknown task '%s' ignored",
                ev->task_id != NULL ? ev->task_id->value : "");
        return;
    }
    uint64_t grace_ns = dr__exec_kill_grace_ns(ex, t, ev->kill_policy);
    if (t->group != 0)
        dr__exec_group_kill(ex, t, grace_ns);
    else
        dr__exec_task_kill(ex, t, grace_ns);
}

static void on_acknowledged(dr_exec_client *c, const char *task_id, const uint8_t *uuid,
                            size_t uuid_size, void *ctx)
{
    (void)c;
    (void)task_id;
    (void)uuid;
    (void)uuid_size;
    check_done(ctx);
}

static void on_shutdown(dr_exec_client *c, void *ctx)
{
    (void)c;
    DR_INFO(((dr_executor *)ctx)->env, "executor: SHUTDOWN");
    dr_executor_shutdown(ctx);
}

void dr_executor_shutdown(dr_executor *ex)
{
    ex->shutting_down = true;
    uint64_t grace_ns = ex->opts.shutdown_grace_period_ns;
    /* leave the agent a second to see our updates before its own SIGKILL */
    grace_ns = grace_ns > 2 * DR_NS_PER_S ? grace_ns - DR_NS_PER_S : grace_ns / 2;
    kill_all(ex, grace_ns);
    check_done(ex);
}

static void on_lost(dr_exec_client *c, const dr_err *why, void *ctx)
{
    (void)c;
    dr_executor *ex = ctx;
    DR_ERROR(ex->env, "executor: %s; killing the tasks", why->msg);
    kill_all(ex, 0);
    finish(ex, 1);
}

static void on_error(dr_exec_client *c, const char *message, void *ctx)
{
    (void)c;
    dr_executor *ex = ctx;
    DR_ERROR(ex->env, "executor: the agent reported an error: %s", message);
    dr_exec_client_stop(ex->client);
    kill_all(ex, 0);
    finish(ex, 1);
}

static const dr_exec_client_cbs client_cbs = {
    .subscribed = on_subscribed,
    .launch = on_launch,
    .launch_group = on_launch_group,
    .kill = on_kill,
    .acknowledged = on_acknowledged,
    .shutdown = on_shutdown,
    .error = on_error,
    .lost = on_lost,
};

/* ---- lifetime ------------------------------------------------------------------------ */

dr_code dr_executor_create(dr_env *env, const dr_executor_opts *opts, dr_executor_done_fn *done,
                           void *ctx, dr_executor **out, dr_err *err)
{
    DR_ASSERT(done != NULL);
    if (opts->sandbox == NULL || opts->sandbox[0] == '\0')
        return dr_err_set(err, DR_EINVAL, "executor: a sandbox directory is required");
    dr_executor *ex = dr_alloc(sizeof *ex);
    ex->env = env;
    ex->opts = *opts;
    ex->done = done;
    ex->ctx = ctx;
    ex->sandbox = dr_strdup(opts->sandbox);
    ex->opts.sandbox = ex->sandbox;
    for (size_t i = 0; opts->task_env != NULL && opts->task_env[i] != NULL; i++) {
        const char *e = opts->task_env[i];
        const char *eq = strchr(e, '=');
        if (eq == NULL || eq == e || ex->task_env_count >= DR_SPAWN_ENV_COUNT_MAX)
            continue;
        ex->task_env = dr_realloc(ex->task_env, (ex->task_env_count + 2) * sizeof *ex->task_env);
        ex->task_env[ex->task_env_count++] = dr_strdup(e);
        ex->task_env[ex->task_env_count] = NULL;
    }
    ex->opts.task_env = (const char *const *)ex->task_env;
    if (ex->opts.kill_grace_period_ns == 0)
        ex->opts.kill_grace_period_ns = DEFAULT_KILL_GRACE_NS;
    if (ex->opts.shutdown_grace_period_ns == 0)
        ex->opts.shutdown_grace_period_ns = DEFAULT_SHUTDOWN_GRACE_NS;
    if (ex->opts.terminal_ack_timeout_ns == 0)
        ex->opts.terminal_ack_timeout_ns = DEFAULT_TERMINAL_ACK_TIMEOUT_NS;
    ex->task_killing = ex->opts.task_killing > 0;
    dr_code rc = dr_exec_client_create(env, &opts->client, &client_cbs, ex, &ex->client, err);
    if (rc != DR_OK) {
        env_free(ex->task_env, ex->task_env_count);
        dr_free(ex->sandbox);
        dr_free(ex);
        return rc;
    }
    dr_exec_client_start(ex->client);
    *out = ex;
    return DR_OK;
}

void dr_executor_destroy(dr_executor *ex)
{
    if (ex == NULL)
        return;
    dr_exec_client_destroy(ex->client);
    if (ex->done_timer != 0)
        dr_env_timer_cancel(ex->env, ex->done_timer);
    if (ex->ack_timer != 0)
        dr_env_timer_cancel(ex->env, ex->ack_timer);
    for (dr__exec_task *t = ex->tasks, *next; t != NULL; t = next) {
        next = t->next;
        if (t->kill_timer != 0)
            dr_env_timer_cancel(ex->env, t->kill_timer);
        t->kill_timer = 0;
        dr__exec_health_stop(t);
        if (t->pid != 0) {
            t->ex = NULL; /* its exit callback frees it */
            continue;
        }
        task_free(t);
    }
    env_free(ex->task_env, ex->task_env_count);
    dr_free(ex->sandbox);
    dr_free(ex);
}

dr_exec_client *dr_executor_client(dr_executor *ex) { return ex->client; }

dr_pid dr_executor_task_pid(const dr_executor *ex, const char *task_id)
{
    const dr__exec_task *t = dr__exec_task_find(ex, task_id);
    return t != NULL ? t->pid : 0;
}
