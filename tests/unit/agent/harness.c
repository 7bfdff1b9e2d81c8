/* tests/unit/agent/harness.c — see harness.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "src/agent/sim_program.h"
#include "src/http/negotiate.h"
#include "src/resources/resources.h"
#include "test_executor.h"

extern void __lsan_ignore_object(const void *p) __attribute__((weak));

/* ---- programs ------------------------------------------------------------------- */

static void *blank_start(dr_env *env, int argc, char **argv)
{
    (void)env, (void)argc, (void)argv;
    return dr_alloc(1);
}
static void blank_end(void *state) { dr_free(state); }
static const dr_sim_program blank_program = {"blank", blank_start, blank_end, blank_end};

static void *texec_start(dr_env *env, int argc, char **argv)
{
    const char *envp[64];
    size_t envc = 0;
    for (int i = 1; i < argc && envc < 64; i++)
        if (strncmp(argv[i], "--env=", 6) == 0)
            envp[envc++] = argv[i] + 6;
    return texec_create(env, envp, envc);
}
/* Never subscribes: for registration timeouts and shutdowns. */
static void *idle_start(dr_env *env, int argc, char **argv)
{
    (void)env, (void)argc, (void)argv;
    return dr_alloc(1);
}
static const dr_sim_program idle_program = {"idle-executor", idle_start, blank_end, blank_end};

/* A fetcher that fails: one line of its own to the sandbox's stderr, as
 * `dromos fetch` does, then exit status 1 (a start that returns NULL). */
static void *fetch_fail_start(dr_env *env, int argc, char **argv)
{
    const char *sandbox = NULL;
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--sandbox_directory=", 20) == 0)
            sandbox = argv[i] + 20;
    if (sandbox != NULL) {
        char *path = dr_sprintf("%s/stderr", sandbox);
        const char text[] = "fetching 1 URI\ndromos fetch: 'http://nowhere/x.tgz': could not "
                            "resolve host 'nowhere'\n";
        dr_file *f = NULL;
        dr_err err;
        if (dr_env_open(env, path, DR_OPEN_WRITE | DR_OPEN_CREATE, &f, &err) == DR_OK) {
            assert_int_equal(dr_env_append(env, f, text, sizeof text - 1, &err), DR_OK);
            dr_env_close(env, f);
        }
        dr_free(path);
    }
    return NULL;
}
static const dr_sim_program fetch_fail_program = {"fetch-fail", fetch_fail_start, blank_end,
                                                  blank_end};

static void texec_crash(void *state)
{
    if (__lsan_ignore_object != NULL)
        __lsan_ignore_object(state);
}
static void texec_stop(void *state) { texec_destroy(state); }
static const dr_sim_program texec_program = {"test-executor", texec_start, texec_crash,
                                             texec_stop};

/* The test executor, subscribing only 1.5 s after it started. */
typedef struct late_exec {
    int argc;
    char **argv; /* owned copies */
    texec *x;
} late_exec;

static void late_fire(dr_env *env, void *ctx)
{
    late_exec *l = ctx;
    l->x = texec_start(env, l->argc, l->argv);
}

static void *late_start(dr_env *env, int argc, char **argv)
{
    late_exec *l = dr_alloc(sizeof *l);
    l->argc = argc;
    l->argv = dr_alloc_array((size_t)argc + 1, sizeof *l->argv);
    for (int i = 0; i < argc; i++)
        l->argv[i] = dr_strdup(argv[i]);
    dr_env_timer_add(env, 1500 * DR_NS_PER_MS, late_fire, l);
    return l;
}

static void late_free(late_exec *l)
{
    for (int i = 0; i < l->argc; i++)
        dr_free(l->argv[i]);
    dr_free(l->argv);
    dr_free(l);
}

static void late_crash(void *state)
{
    late_exec *l = state;
    if (l->x != NULL)
        texec_crash(l->x);
    late_free(l);
}

static void late_stop(void *state)
{
    late_exec *l = state;
    if (l->x != NULL)
        texec_destroy(l->x);
    late_free(l);
}
static const dr_sim_program late_program = {"late-executor", late_start, late_crash, late_stop};

/* A task process as the command executor starts one: in a session of its
 * own, with a child of its own (in that session). */
typedef struct session_task {
    dr_pid child;
} session_task;

static void *session_task_start(dr_env *env, int argc, char **argv)
{
    (void)argc, (void)argv;
    session_task *t = dr_alloc(sizeof *t);
    const char *child_argv[] = {"blank", NULL};
    dr_spawn_opts o = {.argv = child_argv};
    dr_err err;
    assert_int_equal(dr_env_spawn(env, &o, NULL, NULL, &t->child, &err), DR_OK);
    return t;
}
static const dr_sim_program session_task_program = {"session-task", session_task_start,
                                                    blank_end, blank_end};

/* The test executor that also starts a session-task (new_session), as
 * `dromos executor` starts its task. */
typedef struct tree_exec {
    texec *x;
    dr_pid task;
    dr_pid job; /* a child in the executor's own session and group */
} tree_exec;

static void *tree_start(dr_env *env, int argc, char **argv)
{
    tree_exec *t = dr_alloc(sizeof *t);
    t->x = texec_start(env, argc, argv);
    assert_non_null(t->x);
    const char *task_argv[] = {"session-task", NULL};
    dr_spawn_opts o = {.argv = task_argv, .new_session = true};
    dr_err err;
    assert_int_equal(dr_env_spawn(env, &o, NULL, NULL, &t->task, &err), DR_OK);
    const char *job_argv[] = {"blank", NULL};
    dr_spawn_opts jo = {.argv = job_argv};
    assert_int_equal(dr_env_spawn(env, &jo, NULL, NULL, &t->job, &err), DR_OK);
    return t;
}
static void tree_crash(void *state)
{
    tree_exec *t = state;
    texec_crash(t->x);
    dr_free(t);
}
static void tree_stop(void *state)
{
    tree_exec *t = state;
    texec_destroy(t->x);
    dr_free(t);
}
static const dr_sim_program tree_program = {"tree-executor", tree_start, tree_crash, tree_stop};

void tree_executor_pids(world *w, dr_pid executor, dr_pid *task, dr_pid *task_child,
                        dr_pid *job)
{
    const tree_exec *t = dr_sim_process_state(w->sim, executor);
    assert_non_null(t);
    *task = t->task;
    *job = t->job;
    const session_task *st = dr_sim_process_state(w->sim, t->task);
    assert_non_null(st);
    *task_child = st->child;
}

unsigned late_executor_subscribe_count(world *w, dr_pid pid)
{
    const late_exec *l = dr_sim_process_state(w->sim, pid);
    return l != NULL && l->x != NULL ? texec_subscribe_count(l->x) : 0;
}

/* ---- the fake master -------------------------------------------------------------- */

void fm_send(world *w, const Dromos__Internal__AgentEvent *ev)
{
    fake_master *fm = &w->fm;
    if (fm->stream == NULL)
        return;
    dr_buf b;
    dr_buf_init(&b);
    dr_err err;
    assert_int_equal(dr_proto_encode(&ev->base, &b, &err), DR_OK);
    if (dr_http_response_stream_record(fm->stream, b.data, b.size, &err) != DR_OK)
        fm->stream = NULL;
    dr_buf_deinit(&b);
}

static void fm_gone(dr_env *env, dr_http_response *res, void *ctx)
{
    (void)env;
    fake_master *fm = ctx;
    if (fm->stream == res)
        fm->stream = NULL;
    dr_http_response_stream_end(res);
}

static void fm_handle(dr_env *env, const dr_http_request *req, dr_http_response *res, void *ctx)
{
    (void)env;
    world *w = ctx;
    fake_master *fm = &w->fm;
    ProtobufCMessage *msg = NULL;
    dr_err err;
    if (dr_proto_decode(&dromos__internal__agent_call__descriptor, req->body, req->body_size, NULL,
                        &msg, &err) != DR_OK) {
        dr_http_response_error(res, 400, "%s", err.msg);
        return;
    }
    Dromos__Internal__AgentCall *call = (Dromos__Internal__AgentCall *)msg;
    if (call->type == DROMOS__INTERNAL__AGENT_CALL__TYPE__REGISTER) {
        fm->register_count++;
        fm->last_register_tasks = call->register_->n_tasks;
        fm->last_register_executors = call->register_->n_executors;
        fm->last_register_task_state =
            call->register_->n_tasks > 0 ? (int)call->register_->tasks[0]->state : -1;
        if (call->agent_id != NULL)
            dr_strlcpy(fm->agent_id, call->agent_id->value, sizeof fm->agent_id);
        else
            snprintf(fm->agent_id, sizeof fm->agent_id, "A-%u", fm->register_count);
        snprintf(fm->session, sizeof fm->session, "s%u", ++fm->session_count);
        if (fm->stream != NULL) {
            dr_http_response *old = fm->stream;
            fm->stream = NULL;
            dr_http_response_stream_end(old);
        }
        dr_http_response_stream_start(res, 200, DR_HTTP_MEDIA_PROTOBUF);
        dr_http_response_on_gone(res, fm_gone, fm);
        fm->stream = res;
        Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
        Dromos__Internal__AgentEvent__Registered r = DROMOS__INTERNAL__AGENT_EVENT__REGISTERED__INIT;
        Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
        aid.value = fm->agent_id;
        r.agent_id = &aid;
        r.session_id = fm->session;
        r.ping_interval_seconds = 15;
        ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__REGISTERED;
        ev.registered = &r;
        fm_send(w, &ev);
        dr_proto_free(msg);
        return;
    }
    if (call->session_id == NULL || strcmp(call->session_id, fm->session) != 0) {
        fm->stale_count++;
        dr_http_response_error(res, 409, "stale session");
        dr_proto_free(msg);
        return;
    }
    if (call->type == DROMOS__INTERNAL__AGENT_CALL__TYPE__STATUS_UPDATE) {
        const Mesos__TaskStatus *st = call->status_update->status;
        if (fm->update_count < FM_UPDATE_MAX) {
            fm_update *u = &fm->updates[fm->update_count++];
            memset(u, 0, sizeof *u);
            dr_strlcpy(u->task_id, st->task_id->value, sizeof u->task_id);
            u->state = (int)st->state;
            u->uuid_size = DR_MIN(st->uuid.len, sizeof u->uuid);
            memcpy(u->uuid, st->uuid.data, u->uuid_size);
            u->reason = st->has_reason ? (int)st->reason : -1;
            dr_strlcpy(u->message, st->message != NULL ? st->message : "", sizeof u->message);
            u->at_ns = dr_sim_now(w->sim);
            if (fm->auto_ack)
                fm_ack(w, call->status_update->framework_id->value, u);
        }
    } else if (call->type == DROMOS__INTERNAL__AGENT_CALL__TYPE__PONG) {
        fm->pong_count++;
    }
    dr_http_response_send(res, 202, NULL, "", 0);
    dr_proto_free(msg);
}

void fm_ack(world *w, const char *fw_id, const fm_update *u)
{
    Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
    Dromos__Internal__AgentEvent__Acknowledge ack = DROMOS__INTERNAL__AGENT_EVENT__ACKNOWLEDGE__INIT;
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    fid.value = (char *)fw_id;
    tid.value = (char *)u->task_id;
    ack.framework_id = &fid;
    ack.task_id = &tid;
    ack.uuid.data = (uint8_t *)u->uuid;
    ack.uuid.len = u->uuid_size;
    ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__ACKNOWLEDGE;
    ev.acknowledge = &ack;
    fm_send(w, &ev);
}

void fm_run_task(world *w, const char *fw_id, const char *task_id, const char *command,
                 bool checkpoint, const char *resources)
{
    fm_task_opts o = {.checkpoint = checkpoint, .resources = resources};
    fm_run_task_with(w, fw_id, task_id, command, &o);
}

void fm_run_task_with(world *w, const char *fw_id, const char *task_id, const char *command,
                      const fm_task_opts *o)
{
    bool checkpoint = o->checkpoint;
    const char *resources = o->resources;
    Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
    Dromos__Internal__AgentEvent__RunTask rt = DROMOS__INTERNAL__AGENT_EVENT__RUN_TASK__INIT;
    Mesos__FrameworkInfo fi = MESOS__FRAMEWORK_INFO__INIT;
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    Mesos__TaskInfo ti = MESOS__TASK_INFO__INIT;
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    Mesos__CommandInfo cmd = MESOS__COMMAND_INFO__INIT;
    fid.value = (char *)fw_id;
    fi.id = &fid;
    fi.user = (char *)(o->framework_user != NULL ? o->framework_user : "tester");
    fi.name = (char *)"test framework";
    fi.has_checkpoint = true;
    fi.checkpoint = checkpoint;
    tid.value = (char *)task_id;
    aid.value = w->fm.agent_id;
    ti.name = (char *)task_id;
    ti.task_id = &tid;
    ti.agent_id = &aid;
    cmd.value = (char *)command;
    cmd.user = (char *)o->command_user;
    ti.command = &cmd;
    Mesos__ContainerInfo ci = MESOS__CONTAINER_INFO__INIT;
    if (o->rlimit_info != NULL) {
        ci.type = MESOS__CONTAINER_INFO__TYPE__MESOS;
        ci.rlimit_info = (Mesos__RLimitInfo *)o->rlimit_info;
        ti.container = &ci;
    }
    dr_resources rs;
    dr_resources_init(&rs);
    if (resources != NULL) {
        dr_err err;
        assert_int_equal(dr_resources_parse(resources, &rs, &err), DR_OK);
        ti.n_resources = rs.count;
        ti.resources = rs.items;
    }
    rt.framework_info = &fi;
    rt.task = &ti;
    ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK;
    ev.run_task = &rt;
    fm_send(w, &ev);
    dr_resources_deinit(&rs);
}

static void framework_info(Mesos__FrameworkInfo *fi, Mesos__FrameworkID *fid, const char *fw_id)
{
    mesos__framework_info__init(fi);
    mesos__framework_id__init(fid);
    fid->value = (char *)fw_id;
    fi->id = fid;
    fi->user = (char *)"tester";
    fi->name = (char *)"test framework";
    fi->has_checkpoint = true;
    fi->checkpoint = true;
}

void fm_run_task_uri(world *w, const char *fw_id, const char *task_id, const char *command,
                     const char *uri)
{
    Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
    Dromos__Internal__AgentEvent__RunTask rt = DROMOS__INTERNAL__AGENT_EVENT__RUN_TASK__INIT;
    Mesos__FrameworkInfo fi;
    Mesos__FrameworkID fid;
    framework_info(&fi, &fid, fw_id);
    Mesos__TaskInfo ti = MESOS__TASK_INFO__INIT;
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    Mesos__CommandInfo cmd = MESOS__COMMAND_INFO__INIT;
    Mesos__CommandInfo__URI u = MESOS__COMMAND_INFO__URI__INIT;
    Mesos__CommandInfo__URI *uris[1] = {&u};
    u.value = (char *)uri;
    tid.value = (char *)task_id;
    aid.value = w->fm.agent_id;
    ti.name = (char *)task_id;
    ti.task_id = &tid;
    ti.agent_id = &aid;
    cmd.value = (char *)command;
    cmd.n_uris = 1;
    cmd.uris = uris;
    ti.command = &cmd;
    rt.framework_info = &fi;
    rt.task = &ti;
    ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK;
    ev.run_task = &rt;
    fm_send(w, &ev);
}

void fm_run_group(world *w, const char *fw_id, const char *ex_id, const char *const *task_ids,
                  size_t task_count, const char *command)
{
    Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
    Dromos__Internal__AgentEvent__RunTask rt = DROMOS__INTERNAL__AGENT_EVENT__RUN_TASK__INIT;
    Mesos__FrameworkInfo fi;
    Mesos__FrameworkID fid;
    framework_info(&fi, &fid, fw_id);
    Mesos__ExecutorInfo ei = MESOS__EXECUTOR_INFO__INIT;
    Mesos__ExecutorID eid = MESOS__EXECUTOR_ID__INIT;
    eid.value = (char *)ex_id;
    ei.executor_id = &eid;
    ei.framework_id = &fid;
    ei.has_type = true;
    ei.type = MESOS__EXECUTOR_INFO__TYPE__DEFAULT;
    Mesos__TaskInfo tis[8];
    Mesos__TaskInfo *ptrs[8];
    Mesos__TaskID tids[8];
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    Mesos__CommandInfo cmd = MESOS__COMMAND_INFO__INIT;
    aid.value = w->fm.agent_id;
    cmd.value = (char *)command;
    assert_true(task_count <= 8);
    for (size_t i = 0; i < task_count; i++) {
        mesos__task_info__init(&tis[i]);
        mesos__task_id__init(&tids[i]);
        tids[i].value = (char *)task_ids[i];
        tis[i].name = (char *)task_ids[i];
        tis[i].task_id = &tids[i];
        tis[i].agent_id = &aid;
        tis[i].command = &cmd;
        ptrs[i] = &tis[i];
    }
    Mesos__TaskGroupInfo tg = MESOS__TASK_GROUP_INFO__INIT;
    tg.n_tasks = task_count;
    tg.tasks = ptrs;
    rt.framework_info = &fi;
    rt.executor = &ei;
    rt.task_group = &tg;
    ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK_GROUP;
    ev.run_task = &rt;
    fm_send(w, &ev);
}

void fm_shutdown_framework(world *w, const char *fw_id)
{
    Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
    Dromos__Internal__AgentEvent__ShutdownFramework sf =
        DROMOS__INTERNAL__AGENT_EVENT__SHUTDOWN_FRAMEWORK__INIT;
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = (char *)fw_id;
    sf.framework_id = &fid;
    ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN_FRAMEWORK;
    ev.shutdown_framework = &sf;
    fm_send(w, &ev);
}

void fm_kill_task(world *w, const char *fw_id, const char *task_id)
{
    Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
    Dromos__Internal__AgentEvent__KillTask kt = DROMOS__INTERNAL__AGENT_EVENT__KILL_TASK__INIT;
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    fid.value = (char *)fw_id;
    tid.value = (char *)task_id;
    kt.framework_id = &fid;
    kt.task_id = &tid;
    ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK;
    ev.kill_task = &kt;
    fm_send(w, &ev);
}

size_t fm_count(const world *w, const char *task_id, int state)
{
    size_t n = 0;
    for (size_t i = 0; i < w->fm.update_count; i++)
        if (strcmp(w->fm.updates[i].task_id, task_id) == 0 &&
            (state < 0 || w->fm.updates[i].state == state))
            n++;
    return n;
}

const fm_update *fm_last(const world *w, const char *task_id)
{
    for (size_t i = w->fm.update_count; i > 0; i--)
        if (strcmp(w->fm.updates[i - 1].task_id, task_id) == 0)
            return &w->fm.updates[i - 1];
    return NULL;
}

/* ---- the world -------------------------------------------------------------------- */

void world_init(world *w, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    dr_sim_opts so;
    memset(&so, 0, sizeof so);
    so.seed = seed;
    so.scenario = "agent-unit";
    if (getenv("AGENT_TEST_LOG") != NULL) {
        so.log_out = stderr;
        so.log_level = DR_LOG_DEBUG;
    }
    w->sim = dr_sim_create(&so);
    dr_sim_register_program(w->sim, &blank_program);
    dr_sim_register_program(w->sim, &texec_program);
    dr_sim_register_program(w->sim, &idle_program);
    dr_sim_register_program(w->sim, &late_program);
    dr_sim_register_program(w->sim, &fetch_fail_program);
    dr_sim_register_program(w->sim, &session_task_program);
    dr_sim_register_program(w->sim, &tree_program);
    dr_sim_register_program(w->sim, &dr_agent_sim_program);
    w->master_host = dr_sim_host_add(w->sim, "master");
    w->agent_host = dr_sim_host_add(w->sim, "agent1");
    const char *argv[] = {"blank", NULL};
    dr_err err;
    w->master_pid = dr_sim_process_start(w->sim, w->master_host, argv, &err);
    assert_true(w->master_pid > 0);
    w->fm.env = dr_sim_process_env(w->sim, w->master_pid);
    w->fm.auto_ack = true;
    dr_http_server_opts o = {.host = "master", .port = 5050};
    assert_int_equal(dr_http_server_create(w->fm.env, &o, &w->fm.server, &err), DR_OK);
    assert_int_equal(dr_http_server_route(w->fm.server, "/internal/agent", false, fm_handle, w,
                                          &err),
                     DR_OK);
    dr_pid blank = dr_sim_process_start(w->sim, w->agent_host, argv, &err);
    assert_true(blank > 0);
    w->agent_host_env = dr_sim_process_env(w->sim, blank);
}

void world_deinit(world *w)
{
    if (w->agent_pid != 0 && dr_sim_process_alive(w->sim, w->agent_pid))
        dr_sim_process_stop(w->sim, w->agent_pid);
    dr_http_server_destroy(w->fm.server);
    if (w->fm.stream != NULL) /* detached by the destroy: finishing it frees it */
        dr_http_response_stream_end(w->fm.stream);
    dr_sim_destroy(w->sim);
}

void world_run(world *w, uint64_t ns) { dr_sim_run_until(w->sim, dr_sim_now(w->sim) + ns); }

dr_pid world_agent_start(world *w)
{
    const char *argv[24] = {"agent", "--master=master:5050", "--work_dir=/work", "--port=5051",
                            "--resources=cpus:4;mem:1024;disk:2000",
                            "--executor=test-executor",
                            "--executor_shutdown_grace_period_ms=1000",
                            "--fetcher=fetch-fail"};
    size_t n = 8;
    for (size_t i = 0; i < 8 && w->extra_args[i] != NULL; i++)
        argv[n++] = w->extra_args[i];
    argv[n] = NULL;
    dr_err err;
    w->agent_pid = dr_sim_process_start(w->sim, w->agent_host, argv, &err);
    return w->agent_pid;
}

dr_agent *world_agent(world *w)
{
    return w->agent_pid != 0 ? dr_sim_process_state(w->sim, w->agent_pid) : NULL;
}

void world_agent_crash(world *w)
{
    assert_true(dr_sim_process_alive(w->sim, w->agent_pid));
    dr_sim_process_crash(w->sim, w->agent_pid);
}

/* ---- HTTP to the agent --------------------------------------------------------------- */

typedef struct http_ctx {
    bool done;
    int status;
    dr_buf *out;
} http_ctx;

static void http_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                      const dr_err *err, void *ctx)
{
    (void)env, (void)call, (void)err;
    http_ctx *hc = ctx;
    hc->done = true;
    hc->status = resp != NULL ? resp->status : -1;
    if (resp != NULL)
        dr_buf_append(hc->out, resp->body, resp->body_size);
}

static const dr_http_call_cbs http_cbs = {.done = http_done};

int agent_http(world *w, const char *method, const char *target, const char *content_type,
               const char *body, dr_buf *out)
{
    dr_buf_reset(out);
    dr_http_client *c = NULL;
    dr_err err;
    assert_int_equal(dr_http_client_create(w->fm.env, "agent1", 5051, NULL, &c, &err), DR_OK);
    const dr_http_header headers[] = {{(char *)"Content-Type", (char *)content_type},
                                      {(char *)"Accept", (char *)"application/json"}};
    http_ctx hc = {.out = out};
    dr_http_client_request req = {.method = method,
                                  .target = target,
                                  .headers = headers,
                                  .header_count = content_type != NULL ? 2 : 0,
                                  .body = body,
                                  .body_size = body != NULL ? strlen(body) : 0};
    assert_int_equal(dr_http_client_send(c, &req, &http_cbs, &hc, NULL, &err), DR_OK);
    for (int i = 0; i < 1000 && !hc.done; i++)
        world_run(w, 10 * DR_NS_PER_MS);
    dr_http_client_destroy(c);
    return hc.status;
}
