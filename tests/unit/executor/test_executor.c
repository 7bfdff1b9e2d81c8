/* tests/unit/executor/test_executor.c — the command and default executors
 * (src/executor) against a fake agent written here (an executor-API server
 * on src/http/server.h), both in this process on the real env, with real
 * /bin/sh tasks: success, failure with an exit code, shell and argv forms,
 * environment, kill (SIGTERM; a task ignoring it gets SIGKILL after the
 * grace period; TASK_KILLING for capable frameworks), health checks (a
 * failing command check kills the task; TCP and HTTP checks report healthy),
 * reconnection after the fake agent restarts (unacknowledged updates and
 * tasks come back in SUBSCRIBE), a lost agent, task groups (one failing task
 * kills its group), JSON and protobuf. Every wait is a loop bounded by a
 * deadline; nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/env/real/real.h"
#include "src/executor/executor.h"
#include "src/http/negotiate.h"
#include "src/http/server.h"
#include "src/proto/json.h"

#define WAIT_NS (10 * DR_NS_PER_S)
#define UPDATE_COUNT_MAX 64

typedef struct seen_update {
    char task_id[64];
    Mesos__TaskState state;
    char message[256];
    int healthy; /* -1 unset */
    int reason;  /* -1 unset */
    uint8_t uuid[16];
    bool resent; /* came in SUBSCRIBE's unacknowledged_updates */
} seen_update;

/* The fake agent. */
typedef struct fake {
    dr_env *env;
    dr_http_server *server;
    uint16_t port;
    dr_http_response *stream;
    dr_http_codec codec;
    bool auto_ack;
    bool task_killing_cap;
    uint64_t shutdown_grace_ns; /* for the executor; 0: its default */
    Mesos__TaskInfo *pending_launch;          /* borrowed; sent after SUBSCRIBED */
    Mesos__TaskGroupInfo *pending_group;      /* borrowed; sent after SUBSCRIBED */
    int subscribe_count;
    size_t last_unacked_tasks;
    size_t last_unacked_updates;
    seen_update updates[UPDATE_COUNT_MAX];
    size_t update_count;
    /* the executor */
    dr_executor *ex;
    bool done;
    int exit_code;
    char sandbox[256];
} fake;

static void send_event(fake *f, const Mesos__Executor__Event *ev)
{
    if (f->stream == NULL)
        return;
    dr_buf buf;
    dr_buf_init(&buf);
    dr_err err;
    dr_code rc = f->codec == DR_HTTP_CODEC_JSON ? dr_json_encode(&ev->base, &buf, &err)
                                                : dr_proto_encode(&ev->base, &buf, &err);
    if (rc != DR_OK)
        fprintf(stderr, "fake agent: encoding an event: %s\n", err.msg);
    assert_int_equal(rc, DR_OK);
    if (dr_http_response_stream_record(f->stream, buf.data, buf.size, &err) != DR_OK)
        f->stream = NULL;
    dr_buf_deinit(&buf);
}

static void ack(fake *f, const seen_update *u)
{
    Mesos__Executor__Event ev = MESOS__EXECUTOR__EVENT__INIT;
    Mesos__Executor__Event__Acknowledged a = MESOS__EXECUTOR__EVENT__ACKNOWLEDGED__INIT;
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    tid.value = (char *)u->task_id;
    a.task_id = &tid;
    a.uuid.data = (uint8_t *)u->uuid;
    a.uuid.len = sizeof u->uuid;
    ev.has_type = true;
    ev.type = MESOS__EXECUTOR__EVENT__TYPE__ACKNOWLEDGED;
    ev.acknowledged = &a;
    send_event(f, &ev);
}

static void ack_all(fake *f)
{
    for (size_t i = 0; i < f->update_count; i++)
        ack(f, &f->updates[i]);
}

static void record(fake *f, const Mesos__TaskStatus *st, bool resent)
{
    assert_true(f->update_count < UPDATE_COUNT_MAX);
    assert_true(st->has_uuid);
    assert_int_equal(st->uuid.len, 16);
    for (size_t i = 0; i < f->update_count; i++)
        if (memcmp(f->updates[i].uuid, st->uuid.data, 16) == 0)
            return; /* a duplicate, as the agent drops it */
    seen_update *u = &f->updates[f->update_count++];
    memset(u, 0, sizeof *u);
    snprintf(u->task_id, sizeof u->task_id, "%s", st->task_id->value);
    u->state = st->state;
    snprintf(u->message, sizeof u->message, "%s", st->message != NULL ? st->message : "");
    u->healthy = st->has_healthy ? st->healthy : -1;
    u->reason = st->has_reason ? (int)st->reason : -1;
    memcpy(u->uuid, st->uuid.data, 16);
    u->resent = resent;
    if (f->auto_ack)
        ack(f, u);
}

static void stream_gone(dr_env *env, dr_http_response *res, void *ctx)
{
    (void)env;
    fake *f = ctx;
    if (f->stream == res)
        f->stream = NULL;
    dr_http_response_stream_end(res);
}

static void handle(dr_env *env, const dr_http_request *req, dr_http_response *res, void *ctx)
{
    (void)env;
    fake *f = ctx;
    dr_http_negotiation n;
    dr_http_negotiate_request(req->method, &req->headers, false, &n);
    if (n.status != 0)
        fprintf(stderr, "fake agent: %s %s: %d %s\n", req->method, req->path, n.status, n.error);
    assert_int_equal(n.status, 0);
    dr_arena arena;
    dr_arena_init(&arena);
    ProtobufCMessage *msg = NULL;
    dr_err err;
    dr_code rc = n.request_codec == DR_HTTP_CODEC_JSON
                     ? dr_json_decode(&mesos__executor__call__descriptor, (const char *)req->body,
                                      req->body_size, &arena, &msg, &err)
                     : dr_proto_decode(&mesos__executor__call__descriptor, req->body,
                                       req->body_size, &arena, &msg, &err);
    if (rc != DR_OK)
        fprintf(stderr, "fake agent: %s\n", err.msg);
    assert_int_equal(rc, DR_OK);
    const Mesos__Executor__Call *call = (const Mesos__Executor__Call *)msg;
    assert_string_equal(call->framework_id->value, "fw-1");
    assert_string_equal(call->executor_id->value, "ex-1");
    switch (call->type) {
    case MESOS__EXECUTOR__CALL__TYPE__SUBSCRIBE: {
        dr_http_negotiate_response(&req->headers, DR_HTTP_STREAM_CODEC, &n);
        assert_int_equal(n.status, 0);
        f->codec = n.response_codec;
        f->subscribe_count++;
        f->last_unacked_tasks = call->subscribe->n_unacknowledged_tasks;
        f->last_unacked_updates = call->subscribe->n_unacknowledged_updates;
        dr_http_negotiation_stream_start(&n, res, 200);
        dr_http_response_on_gone(res, stream_gone, f);
        f->stream = res;
        Mesos__Executor__Event ev = MESOS__EXECUTOR__EVENT__INIT;
        Mesos__Executor__Event__Subscribed s = MESOS__EXECUTOR__EVENT__SUBSCRIBED__INIT;
        Mesos__ExecutorInfo ei = MESOS__EXECUTOR_INFO__INIT;
        Mesos__ExecutorID eid = MESOS__EXECUTOR_ID__INIT;
        Mesos__FrameworkInfo fi = MESOS__FRAMEWORK_INFO__INIT;
        Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
        Mesos__AgentInfo ai = MESOS__AGENT_INFO__INIT;
        Mesos__FrameworkInfo__Capability cap = MESOS__FRAMEWORK_INFO__CAPABILITY__INIT;
        Mesos__FrameworkInfo__Capability *caps[1] = {&cap};
        eid.value = "ex-1";
        fid.value = "fw-1";
        ei.executor_id = &eid;
        fi.id = &fid;
        fi.user = "nobody";
        fi.name = "test";
        if (f->task_killing_cap) {
            cap.has_type = true;
            cap.type = MESOS__FRAMEWORK_INFO__CAPABILITY__TYPE__TASK_KILLING_STATE;
            fi.n_capabilities = 1;
            fi.capabilities = caps;
        }
        ai.hostname = "localhost";
        s.executor_info = &ei;
        s.framework_info = &fi;
        s.agent_info = &ai;
        ev.has_type = true;
        ev.type = MESOS__EXECUTOR__EVENT__TYPE__SUBSCRIBED;
        ev.subscribed = &s;
        send_event(f, &ev);
        for (size_t i = 0; i < call->subscribe->n_unacknowledged_updates; i++)
            record(f, call->subscribe->unacknowledged_updates[i]->status, true);
        if (f->pending_launch != NULL) {
            Mesos__Executor__Event lev = MESOS__EXECUTOR__EVENT__INIT;
            Mesos__Executor__Event__Launch l = MESOS__EXECUTOR__EVENT__LAUNCH__INIT;
            l.task = f->pending_launch;
            lev.has_type = true;
            lev.type = MESOS__EXECUTOR__EVENT__TYPE__LAUNCH;
            lev.launch = &l;
            send_event(f, &lev);
            f->pending_launch = NULL;
        }
        if (f->pending_group != NULL) {
            Mesos__Executor__Event lev = MESOS__EXECUTOR__EVENT__INIT;
            Mesos__Executor__Event__LaunchGroup l = MESOS__EXECUTOR__EVENT__LAUNCH_GROUP__INIT;
            l.task_group = f->pending_group;
            lev.has_type = true;
            lev.type = MESOS__EXECUTOR__EVENT__TYPE__LAUNCH_GROUP;
            lev.launch_group = &l;
            send_event(f, &lev);
            f->pending_group = NULL;
        }
        break;
    }
    case MESOS__EXECUTOR__CALL__TYPE__UPDATE:
        dr_http_response_send(res, 202, NULL, "", 0);
        record(f, call->update->status, false);
        break;
    default:
        dr_http_response_send(res, 202, NULL, "", 0);
        break;
    }
    dr_arena_deinit(&arena);
}

static void health_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                           void *ctx)
{
    (void)env;
    (void)req;
    (void)ctx;
    dr_http_response_send(res, 200, "text/plain", "ok", 2);
}

static void server_start(fake *f, uint16_t port)
{
    dr_err err;
    dr_http_server_opts o = {.host = "127.0.0.1", .port = port};
    assert_int_equal(dr_http_server_create(f->env, &o, &f->server, &err), DR_OK);
    assert_int_equal(dr_http_server_route(f->server, "/api/v1/executor", false, handle, f, &err),
                     DR_OK);
    assert_int_equal(dr_http_server_route(f->server, "/health", false, health_handler, f, &err),
                     DR_OK);
    f->port = dr_http_server_port(f->server);
}

static void server_stop(fake *f)
{
    if (f->stream != NULL)
        dr_http_response_stream_end(f->stream);
    f->stream = NULL;
    dr_http_server_destroy(f->server);
    f->server = NULL;
}

static int setup(void **state)
{
    fake *f = dr_alloc(sizeof *f);
    dr_err err;
    dr_env_real_opts eo = {.log_level = getenv("EXEC_TEST_LOG") != NULL ? DR_LOG_DEBUG
                                                                        : DR_LOG_ERROR};
    assert_int_equal(dr_env_real_create(&eo, &f->env, &err), DR_OK);
    f->auto_ack = true;
    server_start(f, 0);
    snprintf(f->sandbox, sizeof f->sandbox, "/tmp/dr-exec-test-XXXXXX");
    assert_non_null(mkdtemp(f->sandbox));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fake *f = *state;
    dr_executor_destroy(f->ex);
    if (f->server != NULL)
        server_stop(f);
    dr_env_real_destroy(f->env);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->sandbox);
    assert_int_equal(system(cmd), 0);
    dr_free(f);
    return 0;
}

static void done_cb(dr_env *env, int exit_code, void *ctx)
{
    (void)env;
    fake *f = ctx;
    f->done = true;
    f->exit_code = exit_code;
}

typedef bool cond_fn(fake *f, const void *arg);

static bool wait_for(fake *f, cond_fn *cond, const void *arg, uint64_t timeout_ns)
{
    uint64_t deadline = dr_env_now(f->env) + timeout_ns;
    while (!cond(f, arg)) {
        if (dr_env_now(f->env) > deadline)
            return false;
        dr_env_real_run_once(f->env, 10 * DR_NS_PER_MS);
    }
    return true;
}

static bool is_done(fake *f, const void *arg)
{
    (void)arg;
    return f->done;
}

static const seen_update *find_update(const fake *f, const char *task_id, Mesos__TaskState state)
{
    for (size_t i = 0; i < f->update_count; i++)
        if (strcmp(f->updates[i].task_id, task_id) == 0 && f->updates[i].state == state)
            return &f->updates[i];
    return NULL;
}

typedef struct want {
    const char *task_id;
    Mesos__TaskState state;
} want;

static bool has_update(fake *f, const void *arg)
{
    const want *w = arg;
    return find_update(f, w->task_id, w->state) != NULL;
}

static void wait_update(fake *f, const char *task_id, Mesos__TaskState state)
{
    want w = {task_id, state};
    if (!wait_for(f, has_update, &w, WAIT_NS))
        fail_msg("no %s for task '%s' (%zu updates seen)",
                 protobuf_c_enum_descriptor_get_value(&mesos__task_state__descriptor, state)->name,
                 task_id, f->update_count);
}

static const char *const base_env[] = {"PATH=/usr/bin:/bin", "FOO_BASE=base", NULL};

static void executor_start(fake *f, dr_executor_kind kind, dr_http_codec codec, bool checkpoint)
{
    dr_executor_opts o = {
        .kind = kind,
        .client = {.host = "127.0.0.1",
                   .port = f->port,
                   .codec = codec,
                   .framework_id = "fw-1",
                   .executor_id = "ex-1",
                   .checkpoint = checkpoint,
                   .recovery_timeout_ns = 5 * DR_NS_PER_S,
                   .backoff_max_ns = 50 * DR_NS_PER_MS},
        .sandbox = f->sandbox,
        .task_env = base_env,
        .task_killing = -1,
        .shutdown_grace_period_ns = f->shutdown_grace_ns,
    };
    dr_err err;
    assert_int_equal(dr_executor_create(f->env, &o, done_cb, f, &f->ex, &err), DR_OK);
}

/* A task (static storage, reset per call) running cmd in shell form. */
typedef struct task_buf {
    Mesos__TaskInfo task;
    Mesos__TaskID id;
    Mesos__AgentID agent;
    Mesos__CommandInfo cmd;
    Mesos__Environment env;
    Mesos__Environment__Variable var;
    Mesos__Environment__Variable *vars[1];
    char *args[4];
    Mesos__HealthCheck hc;
    Mesos__HealthCheck__TCPCheckInfo tcp;
    Mesos__HealthCheck__HTTPCheckInfo http;
    Mesos__CommandInfo hc_cmd;
    Mesos__KillPolicy kp;
    Mesos__DurationInfo grace;
} task_buf;

static Mesos__TaskInfo *task_make(task_buf *b, const char *id, const char *shell_cmd)
{
    memset(b, 0, sizeof *b);
    mesos__task_info__init(&b->task);
    mesos__task_id__init(&b->id);
    mesos__command_info__init(&b->cmd);
    b->id.value = (char *)id;
    mesos__agent_id__init(&b->agent);
    b->agent.value = "agent-1";
    b->task.agent_id = &b->agent;
    b->cmd.value = (char *)shell_cmd;
    b->task.name = (char *)id;
    b->task.task_id = &b->id;
    b->task.command = &b->cmd;
    return &b->task;
}

static void task_grace(task_buf *b, uint64_t grace_ns)
{
    mesos__kill_policy__init(&b->kp);
    mesos__duration_info__init(&b->grace);
    b->grace.nanoseconds = (int64_t)grace_ns;
    b->kp.grace_period = &b->grace;
    b->task.kill_policy = &b->kp;
}

static char *read_file(const char *dir, const char *name)
{
    char *path = dr_sprintf("%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    dr_free(path);
    if (fp == NULL)
        return dr_strdup("");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return dr_strdup(buf);
}

static void send_kill(fake *f, const char *task_id)
{
    Mesos__Executor__Event ev = MESOS__EXECUTOR__EVENT__INIT;
    Mesos__Executor__Event__Kill k = MESOS__EXECUTOR__EVENT__KILL__INIT;
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    tid.value = (char *)task_id;
    k.task_id = &tid;
    ev.has_type = true;
    ev.type = MESOS__EXECUTOR__EVENT__TYPE__KILL;
    ev.kill = &k;
    send_event(f, &ev);
}

static bool file_has(fake *f, const void *arg)
{
    (void)f;
    const char *const *pa = arg;
    char *text = read_file(pa[0], pa[1]);
    bool found = strstr(text, pa[2]) != NULL;
    dr_free(text);
    return found;
}

/* ---- tests ------------------------------------------------------------------- */

static void run_success(void **state, dr_http_codec codec)
{
    fake *f = *state;
    task_buf b;
    f->pending_launch = task_make(&b, "t1", "echo out-line; echo err-line >&2");
    executor_start(f, DR_EXECUTOR_COMMAND, codec, false);
    assert_true(wait_for(f, is_done, NULL, WAIT_NS));
    assert_int_equal(f->exit_code, 0);
    assert_int_equal(f->update_count, 3);
    assert_int_equal(f->updates[0].state, MESOS__TASK_STATE__TASK_STARTING);
    assert_int_equal(f->updates[1].state, MESOS__TASK_STATE__TASK_RUNNING);
    assert_int_equal(f->updates[2].state, MESOS__TASK_STATE__TASK_FINISHED);
    assert_string_equal(f->updates[2].message, "Command exited with status 0");
    char *out = read_file(f->sandbox, "stdout");
    char *err = read_file(f->sandbox, "stderr");
    assert_non_null(strstr(out, "out-line"));
    assert_non_null(strstr(err, "err-line"));
    assert_null(strstr(out, "err-line"));
    dr_free(out);
    dr_free(err);
    assert_int_equal(dr_exec_client_unacked_update_count(dr_executor_client(f->ex)), 0);
    assert_int_equal(dr_exec_client_unacked_task_count(dr_executor_client(f->ex)), 0);
}

static void test_success_protobuf(void **state) { run_success(state, DR_HTTP_CODEC_PROTOBUF); }
static void test_success_json(void **state) { run_success(state, DR_HTTP_CODEC_JSON); }

static void test_failure_exit_code(void **state)
{
    fake *f = *state;
    task_buf b;
    f->pending_launch = task_make(&b, "t1", "exit 3");
    executor_start(f, DR_EXECUTOR_COMMAND, DR_HTTP_CODEC_PROTOBUF, false);
    assert_true(wait_for(f, is_done, NULL, WAIT_NS));
    assert_int_equal(f->exit_code, 0);
    const seen_update *u = find_update(f, "t1", MESOS__TASK_STATE__TASK_FAILED);
    assert_non_null(u);
    assert_string_equal(u->message, "Command exited with status 3");
    assert_null(find_update(f, "t1", MESOS__TASK_STATE__TASK_FINISHED));
}

static void test_argv_form_and_environment(void **state)
{
    fake *f = *state;
    task_buf b;
    Mesos__TaskInfo *t = task_make(&b, "t1", "/bin/sh");
    /* argv form: no shell expansion of the arguments themselves */
    b.cmd.has_shell = true;
    b.cmd.shell = false;
    b.args[0] = "sh";
    b.args[1] = "-c";
    b.args[2] = "echo \"$0|$FOO|$FOO_BASE|$MESOS_SANDBOX|$PWD\"";
    b.args[3] = "$NOT_EXPANDED";
    b.cmd.n_arguments = 4;
    b.cmd.arguments = b.args;
    mesos__environment__init(&b.env);
    mesos__environment__variable__init(&b.var);
    b.var.name = "FOO";
    b.var.value = "from-task";
    b.vars[0] = &b.var;
    b.env.n_variables = 1;
    b.env.variables = b.vars;
    b.cmd.environment = &b.env;
    f->pending_launch = t;
    executor_start(f, DR_EXECUTOR_COMMAND, DR_HTTP_CODEC_PROTOBUF, false);
    assert_true(wait_for(f, is_done, NULL, WAIT_NS));
    assert_non_null(find_update(f, "t1", MESOS__TASK_STATE__TASK_FINISHED));
    char *out = read_file(f->sandbox, "stdout");
    char want_line[600];
    snprintf(want_line, sizeof want_line, "$NOT_EXPANDED|from-task|base|%s|%s\n", f->sandbox,
             f->sandbox);
    assert_string_equal(out, want_line);
    dr_free(out);
}

static void test_shell_form_expands(void **state)
{
    fake *f = *state;
    task_buf b;
    f->pending_launch = task_make(&b, "t1", "X=shell; echo \"$X $FOO_BASE\" | tr a-z A-Z");
    executor_start(f, DR_EXECUTOR_COMMAND, DR_HTTP_CODEC_PROTOBUF, false);
    assert_true(wait_for(f, is_done, NULL, WAIT_NS));
    char *out = read_file(f->sandbox, "stdout");
    assert_string_equal(out, "SHELL BASE\n");
    dr_free(out);
}

static void test_kill_sigterm(void **state)
{
    fake *f = *state;
    task_buf b;
    f->pending_launch = task_make(&b, "t1", "echo ready; exec sleep 30");
    executor_start(f, DR_EXECUTOR_COMMAND, DR_HTTP_CODEC_PROTOBUF, false);
    wait_update(f, "t1", MESOS__TASK_STATE__TASK_RUNNING);
    const char *probe[] = {f->sandbox, "stdout", "ready"};
    assert_true(wait_for(f, file_has, probe, WAIT_NS));
    send_kill(f, "t1");
    assert_true(wait_for(f, is_done, NULL, WAIT_NS));
    const seen_update *u = find_update(f, "t1", MESOS__TASK_STATE__TASK_KILLED);
    assert_non_null(u);
    assert_string_equal(u->message, "Command terminated with signal Terminated");
    /* no TASK_KILLING without the framework's capability */
    assert_null(find_update(f, "t1", MESOS__TASK_STATE__TASK_KILLING));
}

static void test_kill_grace_then_sigkill(void **state)
{
    fake *f = *state;
    f->task_killing_cap = true;
    task_buf b;
    /* ignores SIGTERM (and so does its sleep, which inherits the disposition) */
    f->pending_launch = task_make(&b, "t1", "trap '' TERM; echo ready; while :; do sleep 0.05; done");
    const uint64_t grace_ns = 400 * DR_NS_PER_MS;
    task_grace(&b, grace_ns);
    executor_start(f, DR_EXECUTOR_COMMAND, DR_HTTP_CODEC_PROTOBUF, false);
    const char *probe[] = {f->sandbox, "stdout", "ready"};
    assert_true(wait_for(f, file_has, probe, WAIT_NS));
    uint64_t kill_ns = dr_env_now(f->env);
    send_kill(f, "t1");
    wait_update(f, "t1", MESOS__TASK_STATE__TASK_KILLING);
    wait_update(f, "t1", MESOS__TASK_STATE__TASK_KILLED);
    uint64_t took_ns = dr_env_now(f->env) - kill_ns;
    assert_true(took_ns >= grace_ns);
    const seen_update *u = find_update(f, "t1", MESOS__TASK_STATE__TASK_KILLED);
    assert_string_equal(u->message, "Command terminated with signal Killed");
    assert_true(wait_for(f, is_done, NULL, WAIT_NS));
    assert_int_equal(f->exit_code, 0);
}

/* SHUTDOWN while a KILL with a long grace period is under way brings the
 * SIGKILL forward (the agent's own SIGKILL of the executor would otherwise
 * come first and leave the task behind). */
static void test_shutdown_shortens_kill(void **state)
{
    fake *f = *state;
    f->shutdown_grace_ns = 1500 * DR_NS_PER_MS; /* tasks get half: 0.75 s */
    task_buf b;
    f->pending_launch = task_make(&b, "t1", "trap '' TERM; echo ready; while :; do sleep 0.05; done");
    task_grace(&b, 60 * DR_NS_PER_S);
    executor_start(f, DR_EXECUTOR_COMMAND, DR_HTTP_CODEC_PROTOBUF, false);
    const char *probe[] = {f->sandbox, "stdout", "ready"};
    assert_true(wait_for(f, file_has, probe, WAIT_NS));
    uint64_t kill_ns = dr_env_now(f->env);
    send_kill(f, "t1");
    Mesos__Executor__Event sd = MESOS__EXECUTOR__EVENT__INIT;
    sd.has_type = true;
    sd.type = MESOS__EXECUTOR__EVENT__TYPE__SHUTDOWN;
    send_event(f, &sd);
    wait_update(f, "t1", MESOS__TASK_STATE__TASK_KILLED);
    uint64_t took_ns = dr_env_now(f->env) - kill_ns;
    assert_true(took_ns >= 700 * DR_NS_PER_MS);
    assert_true(took_ns < 5 * DR_NS_PER_S);
    assert_string_equal(find_update(f, "t1", MESOS__TASK_STATE__TASK_KILLED)->message,
                        "Command terminated with signal Killed");
    assert_true(wait_for(f, is_done, NULL, WAIT_NS));
}

static void test_health_command_failing_kills(void **state)
{
    fake *f = *state;
    task_buf b;
    Mesos__TaskInfo *t = task_make(&b, "t1", "exec sleep 30");
    mesos__health_check__init(&b.hc);
    mesos__command_info__init(&b.hc_cmd);
    b.hc_cmd.value = "exit 1";
    b.hc.has_type = true;
    b.hc.type = MESOS__HEALTH_CHECK__TYPE__COMMAND;
    b.hc.command = &b.hc_cmd;
    b.hc.has_delay_seconds = true;
    b.hc.delay_seconds = 0;
    b.hc.has_interval_seconds = true;
    b.hc.interval_seconds = 0.05;
    b.hc.has_timeout_seconds = true;
    b.hc.timeout_seconds = 2;
    b.hc.has_consecutive_failures = true;
    b.hc.consecutive_failures = 2;
    b.hc.has_grace_period_seconds = true;
    b.hc.grace_period_seconds = 0;
    t->health_check = &b.hc;
    f->pending_launch = t;
    executor_start(f, DR_EXECUTOR_COMMAND, DR_HTTP_CODEC_PROTOBUF, false);
    assert_true(wait_for(f, is_done, NULL, WAIT_NS));
    /* RUNNING, then RUNNING healthy=false, then KILLED healthy=false */
    const seen_update *unhealthy = NULL;
    int unhealthy_count = 0;
    for (size_t i = 0; i < f->update_count; i++)
        if (f->updates[i].state == MESOS__TASK_STATE__TASK_RUNNING && f->updates[i].healthy == 0) {
            unhealthy = &f->updates[i];
            unhealthy_count++;
        }
    assert_non_null(unhealthy);
    assert_int_equal(unhealthy_count, 2); /* each of the consecutive_failures is reported */
    assert_string_equal(unhealthy->message, "Task is unhealthy: the command exited with status 1");
    assert_int_equal(unhealthy->reason,
                     MESOS__TASK_STATUS__REASON__REASON_TASK_HEALTH_CHECK_STATUS_UPDATED);
    const seen_update *k = find_update(f, "t1", MESOS__TASK_STATE__TASK_KILLED);
    assert_non_null(k);
    assert_int_equal(k->healthy, 0);
}

static bool has_healthy(fake *f, const void *arg)
{
    (void)arg;
    for (size_t i = 0; i < f->update_count; i++)
        if (f->updates[i].state == MESOS__TASK_STATE__TASK_RUNNING && f->updates[i].healthy == 1)
            return true;
    return false;
}

static void run_health_ok(void **state, Mesos__HealthCheck__Type type)
{
    fake *f = *state;
    task_buf b;
    Mesos__TaskInfo *t = task_make(&b, "t1", "exec sleep 30");
    mesos__health_check__init(&b.hc);
    b.hc.has_type = true;
    b.hc.type = type;
    if (type == MESOS__HEALTH_CHECK__TYPE__TCP) {
        mesos__health_check__tcpcheck_info__init(&b.tcp);
        b.tcp.port = f->port; /* the fake agent listens there */
        b.hc.tcp = &b.tcp;
    } else {
        mesos__health_check__httpcheck_info__init(&b.http);
        b.http.port = f->port;
        b.http.path = "/health";
        b.hc.http = &b.http;
    }
    b.hc.has_delay_seconds = true;
    b.hc.delay_seconds = 0;
    b.hc.has_interval_seconds = true;
    b.hc.interval_seconds = 0.05;
    b.hc.has_timeout_seconds = true;
    b.hc.timeout_seconds = 2;
    t->health_check = &b.hc;
    f->pending_launch = t;
    executor_start(f, DR_EXECUTOR_COMMAND, DR_HTTP_CODEC_PROTOBUF, false);
    assert_true(wait_for(f, has_healthy, NULL, WAIT_NS));
    send_kill(f, "t1");
    assert_true(wait_for(f, is_done, NULL, WAIT_NS));
    const seen_update *k = find_update(f, "t1", MESOS__TASK_STATE__TASK_KILLED);
    assert_non_null(k);
    assert_int_equal(k->healthy, -1); /* killed by KILL, not for its health */
}

static void test_health_tcp_ok(void **state) { run_health_ok(state, MESOS__HEALTH_CHECK__TYPE__TCP); }
static void test_health_http_ok(void **state)
{
    run_health_ok(state, MESOS__HEALTH_CHECK__TYPE__HTTP);
}

static bool subscribed_twice(fake *f, const void *arg)
{
    (void)arg;
    return f->subscribe_count >= 2 &&
           dr_exec_client_get_state(dr_executor_client(f->ex)) == DR_EXEC_CLIENT_SUBSCRIBED;
}

static void test_reconnect_resends_unacked(void **state)
{
    fake *f = *state;
    f->auto_ack = false; /* nothing acknowledged before the restart */
    task_buf b;
    f->pending_launch = task_make(&b, "t1", "echo ready; read line < fifo; exit 0");
    char fifo[300];
    snprintf(fifo, sizeof fifo, "%s/fifo", f->sandbox);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "mkfifo '%s'", fifo);
    assert_int_equal(system(cmd), 0);
    executor_start(f, DR_EXECUTOR_COMMAND, DR_HTTP_CODEC_PROTOBUF, true);
    wait_update(f, "t1", MESOS__TASK_STATE__TASK_RUNNING);
    assert_int_equal(f->subscribe_count, 1);

    /* the agent goes away; the task finishes meanwhile */
    uint16_t port = f->port;
    server_stop(f);
    f->update_count = 0;
    snprintf(cmd, sizeof cmd, "echo go > '%s'", fifo);
    assert_int_equal(system(cmd), 0);
    uint64_t until = dr_env_now(f->env) + 300 * DR_NS_PER_MS;
    while (dr_env_now(f->env) < until)
        dr_env_real_run_once(f->env, 10 * DR_NS_PER_MS);
    assert_false(f->done);
    assert_int_equal(dr_exec_client_unacked_update_count(dr_executor_client(f->ex)), 3);

    /* it comes back on the same port: everything unacknowledged returns */
    server_start(f, port);
    assert_true(wait_for(f, subscribed_twice, NULL, WAIT_NS));
    assert_int_equal(f->last_unacked_tasks, 1);
    assert_int_equal(f->last_unacked_updates, 3);
    const seen_update *fin = find_update(f, "t1", MESOS__TASK_STATE__TASK_FINISHED);
    assert_non_null(fin);
    assert_true(fin->resent);
    assert_false(f->done); /* not before the acknowledgements */
    ack_all(f);
    assert_true(wait_for(f, is_done, NULL, WAIT_NS));
    assert_int_equal(f->exit_code, 0);
    assert_int_equal(dr_exec_client_unacked_task_count(dr_executor_client(f->ex)), 0);
}

static void test_agent_lost_without_checkpoint(void **state)
{
    fake *f = *state;
    task_buf b;
    f->pending_launch = task_make(&b, "t1", "exec sleep 30");
    executor_start(f, DR_EXECUTOR_COMMAND, DR_HTTP_CODEC_PROTOBUF, false);
    wait_update(f, "t1", MESOS__TASK_STATE__TASK_RUNNING);
    dr_pid pid = dr_executor_task_pid(f->ex, "t1");
    assert_true(pid > 0);
    server_stop(f);
    assert_true(wait_for(f, is_done, NULL, WAIT_NS));
    assert_int_equal(f->exit_code, 1);
    /* the task was killed with the executor's loss */
    uint64_t deadline = dr_env_now(f->env) + WAIT_NS;
    while (dr_executor_task_pid(f->ex, "t1") != 0 && dr_env_now(f->env) < deadline)
        dr_env_real_run_once(f->env, 10 * DR_NS_PER_MS);
    assert_int_equal(dr_executor_task_pid(f->ex, "t1"), 0);
}

static void test_group_failure_kills_group(void **state)
{
    fake *f = *state;
    task_buf a, b;
    Mesos__TaskInfo *ta = task_make(&a, "long", "echo long-out; exec sleep 30");
    Mesos__TaskInfo *tb = task_make(&b, "bad", "sleep 0.3; exit 2");
    Mesos__TaskInfo *tasks[2] = {ta, tb};
    Mesos__TaskGroupInfo g = MESOS__TASK_GROUP_INFO__INIT;
    g.n_tasks = 2;
    g.tasks = tasks;
    f->pending_group = &g;
    executor_start(f, DR_EXECUTOR_DEFAULT, DR_HTTP_CODEC_JSON, false);
    assert_true(wait_for(f, is_done, NULL, WAIT_NS));
    assert_int_equal(f->exit_code, 0);
    assert_non_null(find_update(f, "long", MESOS__TASK_STATE__TASK_RUNNING));
    assert_non_null(find_update(f, "bad", MESOS__TASK_STATE__TASK_RUNNING));
    const seen_update *u = find_update(f, "bad", MESOS__TASK_STATE__TASK_FAILED);
    assert_non_null(u);
    assert_string_equal(u->message, "Command exited with status 2");
    assert_non_null(find_update(f, "long", MESOS__TASK_STATE__TASK_KILLED));
    char dir[400];
    snprintf(dir, sizeof dir, "%s/tasks/long", f->sandbox);
    char *out = read_file(dir, "stdout");
    assert_string_equal(out, "long-out\n");
    dr_free(out);
}

static void test_group_health_kill_kills_group(void **state)
{
    fake *f = *state;
    task_buf a, b;
    Mesos__TaskInfo *ta = task_make(&a, "sick", "exec sleep 30");
    Mesos__TaskInfo *tb = task_make(&b, "other", "exec sleep 30");
    mesos__health_check__init(&a.hc);
    mesos__command_info__init(&a.hc_cmd);
    a.hc_cmd.value = "exit 1";
    a.hc.has_type = true;
    a.hc.type = MESOS__HEALTH_CHECK__TYPE__COMMAND;
    a.hc.command = &a.hc_cmd;
    a.hc.has_delay_seconds = true;
    a.hc.delay_seconds = 0;
    a.hc.has_interval_seconds = true;
    a.hc.interval_seconds = 0.05;
    a.hc.has_consecutive_failures = true;
    a.hc.consecutive_failures = 1;
    a.hc.has_grace_period_seconds = true;
    a.hc.grace_period_seconds = 0;
    ta->health_check = &a.hc;
    Mesos__TaskInfo *tasks[2] = {ta, tb};
    Mesos__TaskGroupInfo g = MESOS__TASK_GROUP_INFO__INIT;
    g.n_tasks = 2;
    g.tasks = tasks;
    f->pending_group = &g;
    executor_start(f, DR_EXECUTOR_DEFAULT, DR_HTTP_CODEC_PROTOBUF, false);
    assert_true(wait_for(f, is_done, NULL, WAIT_NS));
    const seen_update *sick = find_update(f, "sick", MESOS__TASK_STATE__TASK_KILLED);
    assert_non_null(sick);
    assert_int_equal(sick->healthy, 0);
    const seen_update *other = find_update(f, "other", MESOS__TASK_STATE__TASK_KILLED);
    assert_non_null(other);
    assert_string_equal(other->message, "Command terminated with signal Terminated");
}

static void test_command_executor_refuses_second_task(void **state)
{
    fake *f = *state;
    task_buf a;
    f->pending_launch = task_make(&a, "t1", "exec sleep 30");
    executor_start(f, DR_EXECUTOR_COMMAND, DR_HTTP_CODEC_PROTOBUF, false);
    wait_update(f, "t1", MESOS__TASK_STATE__TASK_RUNNING);
    task_buf b;
    Mesos__Executor__Event ev = MESOS__EXECUTOR__EVENT__INIT;
    Mesos__Executor__Event__Launch l = MESOS__EXECUTOR__EVENT__LAUNCH__INIT;
    l.task = task_make(&b, "t2", "true");
    ev.has_type = true;
    ev.type = MESOS__EXECUTOR__EVENT__TYPE__LAUNCH;
    ev.launch = &l;
    send_event(f, &ev);
    wait_update(f, "t2", MESOS__TASK_STATE__TASK_FAILED);
    assert_string_equal(find_update(f, "t2", MESOS__TASK_STATE__TASK_FAILED)->message,
                        "Attempted to run multiple tasks using a command executor");
    /* SHUTDOWN kills the first one */
    Mesos__Executor__Event sd = MESOS__EXECUTOR__EVENT__INIT;
    sd.has_type = true;
    sd.type = MESOS__EXECUTOR__EVENT__TYPE__SHUTDOWN;
    send_event(f, &sd);
    assert_true(wait_for(f, is_done, NULL, WAIT_NS));
    assert_non_null(find_update(f, "t1", MESOS__TASK_STATE__TASK_KILLED));
}

static void test_empty_command_fails(void **state)
{
    fake *f = *state;
    task_buf b;
    f->pending_launch = task_make(&b, "t1", "");
    executor_start(f, DR_EXECUTOR_COMMAND, DR_HTTP_CODEC_PROTOBUF, false);
    assert_true(wait_for(f, is_done, NULL, WAIT_NS));
    const seen_update *u = find_update(f, "t1", MESOS__TASK_STATE__TASK_FAILED);
    assert_non_null(u);
    assert_string_equal(u->message,
                        "Failed to launch the command of task 't1': the command's value is empty");
    assert_int_equal(u->reason, MESOS__TASK_STATUS__REASON__REASON_COMMAND_EXECUTOR_FAILED);
    assert_null(find_update(f, "t1", MESOS__TASK_STATE__TASK_RUNNING));
}

static void test_create_errors(void **state)
{
    fake *f = *state;
    dr_err err;
    dr_executor *ex = NULL;
    dr_executor_opts o = {.client = {.host = "127.0.0.1", .port = 1, .framework_id = "fw",
                                     .executor_id = "ex"}};
    assert_int_equal(dr_executor_create(f->env, &o, done_cb, f, &ex, &err), DR_EINVAL);
    assert_string_equal(err.msg, "executor: a sandbox directory is required");
    o.sandbox = f->sandbox;
    o.client.executor_id = NULL;
    assert_int_equal(dr_executor_create(f->env, &o, done_cb, f, &ex, &err), DR_EINVAL);
    assert_string_equal(err.msg, "executor client: framework id and executor id are required");
    o.client.executor_id = "ex";
    o.client.host = "";
    assert_int_equal(dr_executor_create(f->env, &o, done_cb, f, &ex, &err), DR_EINVAL);
    assert_string_equal(err.msg, "executor client: agent host missing or too long");
    assert_null(ex);
}

static void test_parse_endpoint(void **state)
{
    (void)state;
    char host[64];
    uint16_t port = 0;
    dr_err err;
    assert_int_equal(dr_exec_parse_endpoint("10.0.0.1:5051", host, sizeof host, &port, &err),
                     DR_OK);
    assert_string_equal(host, "10.0.0.1");
    assert_int_equal(port, 5051);
    assert_int_equal(dr_exec_parse_endpoint("http://h:1/", host, sizeof host, &port, &err),
                     DR_OK);
    assert_string_equal(host, "h");
    assert_int_equal(dr_exec_parse_endpoint("nohost", host, sizeof host, &port, &err), DR_EINVAL);
    assert_string_equal(err.msg, "agent endpoint 'nohost': expected HOST:PORT");
    assert_int_equal(dr_exec_parse_endpoint("h:99999", host, sizeof host, &port, &err),
                     DR_EINVAL);
    assert_string_equal(err.msg, "agent endpoint 'h:99999': bad port");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_endpoint),
        cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_command_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_success_protobuf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_success_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_exit_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_argv_form_and_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shell_form_expands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_sigterm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_grace_then_sigkill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_shortens_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_command_failing_kills, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_tcp_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_http_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_resends_unacked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_lost_without_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_failure_kills_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_health_kill_kills_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_executor_refuses_second_task, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
