/* tests/unit/executor/test_sim.c — the command executor as a simulator
 * program (src/executor/sim_program.h) against a fake agent program on the
 * simulator: its tasks are generic simulated programs (seeded run time and
 * exit status). Checks the update sequence over many seeds, a KILL, the
 * executor ending itself once acknowledged, reconnection after the fake
 * agent crashes and restarts (unacknowledged updates and task resent), a
 * lost agent without checkpointing, and that a seed replays with the same
 * trace hash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "sim/sim.h"
#include "src/executor/sim_program.h"
#include "src/http/negotiate.h"
#include "src/http/server.h"
#include "src/proto/json.h"

#define UPDATE_COUNT_MAX 32

typedef struct upd {
    Mesos__TaskState state;
    uint8_t uuid[16];
    bool resent;
    char message[128];
} upd;

/* What the fake agent saw; kept outside the program's memory so it survives
 * the agent's crash. */
typedef struct record {
    bool auto_ack;
    bool send_kill; /* KILL right after TASK_RUNNING */
    int subscribe_count;
    size_t last_unacked_tasks;
    size_t last_unacked_updates;
    upd updates[UPDATE_COUNT_MAX];
    size_t update_count;
} record;

static record g_rec;

typedef struct fake {
    dr_env *env;
    dr_http_server *server;
    dr_http_response *stream;
    dr_http_codec codec;
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
    DR_ASSERT(rc == DR_OK);
    if (dr_http_response_stream_record(f->stream, buf.data, buf.size, &err) != DR_OK)
        f->stream = NULL;
    dr_buf_deinit(&buf);
}

static void ack(fake *f, const upd *u)
{
    Mesos__Executor__Event ev = MESOS__EXECUTOR__EVENT__INIT;
    Mesos__Executor__Event__Acknowledged a = MESOS__EXECUTOR__EVENT__ACKNOWLEDGED__INIT;
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    tid.value = "t1";
    a.task_id = &tid;
    a.uuid.data = (uint8_t *)u->uuid;
    a.uuid.len = 16;
    ev.has_type = true;
    ev.type = MESOS__EXECUTOR__EVENT__TYPE__ACKNOWLEDGED;
    ev.acknowledged = &a;
    send_event(f, &ev);
}

static void kill_task(fake *f)
{
    Mesos__Executor__Event ev = MESOS__EXECUTOR__EVENT__INIT;
    Mesos__Executor__Event__Kill k = MESOS__EXECUTOR__EVENT__KILL__INIT;
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    tid.value = "t1";
    k.task_id = &tid;
    ev.has_type = true;
    ev.type = MESOS__EXECUTOR__EVENT__TYPE__KILL;
    ev.kill = &k;
    send_event(f, &ev);
}

static void take(fake *f, const Mesos__TaskStatus *st, bool resent)
{
    for (size_t i = 0; i < g_rec.update_count; i++)
        if (memcmp(g_rec.updates[i].uuid, st->uuid.data, 16) == 0)
            return;
    DR_ASSERT(g_rec.update_count < UPDATE_COUNT_MAX);
    DR_ASSERT(st->uuid.len == 16);
    upd *u = &g_rec.updates[g_rec.update_count++];
    u->state = st->state;
    memcpy(u->uuid, st->uuid.data, 16);
    u->resent = resent;
    snprintf(u->message, sizeof u->message, "%s", st->message != NULL ? st->message : "");
    if (g_rec.auto_ack)
        ack(f, u);
    if (g_rec.send_kill && st->state == MESOS__TASK_STATE__TASK_RUNNING)
        kill_task(f);
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
    DR_ASSERT(n.status == 0);
    dr_arena arena;
    dr_arena_init(&arena);
    ProtobufCMessage *msg = NULL;
    dr_err err;
    dr_code rc = n.request_codec == DR_HTTP_CODEC_JSON
                     ? dr_json_decode(&mesos__executor__call__descriptor, (const char *)req->body,
                                      req->body_size, &arena, &msg, &err)
                     : dr_proto_decode(&mesos__executor__call__descriptor, req->body,
                                       req->body_size, &arena, &msg, &err);
    DR_ASSERT(rc == DR_OK);
    const Mesos__Executor__Call *call = (const Mesos__Executor__Call *)msg;
    if (call->type == MESOS__EXECUTOR__CALL__TYPE__SUBSCRIBE) {
        dr_http_negotiate_response(&req->headers, DR_HTTP_STREAM_CODEC, &n);
        f->codec = n.response_codec;
        g_rec.subscribe_count++;
        g_rec.last_unacked_tasks = call->subscribe->n_unacknowledged_tasks;
        g_rec.last_unacked_updates = call->subscribe->n_unacknowledged_updates;
        dr_http_negotiation_stream_start(&n, res, 200);
        dr_http_response_on_gone(res, stream_gone, f);
        f->stream = res;
        Mesos__Executor__Event ev = MESOS__EXECUTOR__EVENT__INIT;
        Mesos__Executor__Event__Subscribed s = MESOS__EXECUTOR__EVENT__SUBSCRIBED__INIT;
        Mesos__ExecutorInfo ei = MESOS__EXECUTOR_INFO__INIT;
        Mesos__ExecutorID eid = MESOS__EXECUTOR_ID__INIT;
        Mesos__FrameworkInfo fi = MESOS__FRAMEWORK_INFO__INIT;
        Mesos__AgentInfo ai = MESOS__AGENT_INFO__INIT;
        eid.value = "ex-1";
        ei.executor_id = &eid;
        fi.user = "u";
        fi.name = "n";
        ai.hostname = "a";
        s.executor_info = &ei;
        s.framework_info = &fi;
        s.agent_info = &ai;
        ev.has_type = true;
        ev.type = MESOS__EXECUTOR__EVENT__TYPE__SUBSCRIBED;
        ev.subscribed = &s;
        send_event(f, &ev);
        for (size_t i = 0; i < call->subscribe->n_unacknowledged_updates; i++)
            take(f, call->subscribe->unacknowledged_updates[i]->status, true);
        if (g_rec.subscribe_count == 1) {
            Mesos__TaskInfo t = MESOS__TASK_INFO__INIT;
            Mesos__TaskID tid = MESOS__TASK_ID__INIT;
            Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
            Mesos__CommandInfo cmd = MESOS__COMMAND_INFO__INIT;
            tid.value = "t1";
            aid.value = "agent-1";
            cmd.value = "sleep 1";
            t.name = "t1";
            t.task_id = &tid;
            t.agent_id = &aid;
            t.command = &cmd;
            Mesos__Executor__Event lev = MESOS__EXECUTOR__EVENT__INIT;
            Mesos__Executor__Event__Launch l = MESOS__EXECUTOR__EVENT__LAUNCH__INIT;
            l.task = &t;
            lev.has_type = true;
            lev.type = MESOS__EXECUTOR__EVENT__TYPE__LAUNCH;
            lev.launch = &l;
            send_event(f, &lev);
        }
    } else {
        dr_http_response_send(res, 202, NULL, "", 0);
        if (call->type == MESOS__EXECUTOR__CALL__TYPE__UPDATE)
            take(f, call->update->status, false);
    }
    dr_arena_deinit(&arena);
}

static void *agent_start(dr_env *env, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fake *f = dr_alloc(sizeof *f);
    f->env = env;
    dr_http_server_opts o = {.host = "0.0.0.0", .port = 5051};
    dr_err err;
    if (dr_http_server_create(env, &o, &f->server, &err) != DR_OK ||
        dr_http_server_route(f->server, "/api/v1/executor", false, handle, f, &err) != DR_OK) {
        dr_http_server_destroy(f->server);
        dr_free(f);
        return NULL;
    }
    return f;
}

static void agent_stop(void *state)
{
    fake *f = state;
    if (f->stream != NULL)
        dr_http_response_stream_end(f->stream);
    dr_http_server_destroy(f->server);
    dr_free(f);
}

extern void __lsan_ignore_object(const void *p) __attribute__((weak));
static void agent_crash(void *state)
{
    if (__lsan_ignore_object != NULL)
        __lsan_ignore_object(state);
}

static const dr_sim_program agent_program = {"fakeagent", agent_start, agent_crash, agent_stop};

typedef struct world {
    dr_sim *sim;
    dr_sim_host_id host;
    dr_pid agent_pid;
    dr_pid exec_pid;
} world;

static void world_start(world *w, uint64_t seed, bool checkpoint)
{
    memset(&g_rec, 0, sizeof g_rec);
    g_rec.auto_ack = true;
    dr_sim_opts opts = {.seed = seed};
    w->sim = dr_sim_create(&opts);
    dr_sim_register_program(w->sim, &agent_program);
    dr_sim_register_program(w->sim, &dr_executor_sim_program);
    w->host = dr_sim_host_add(w->sim, "a");
    dr_err err;
    const char *aargv[] = {"fakeagent", NULL};
    w->agent_pid = dr_sim_process_start(w->sim, w->host, aargv, &err);
    assert_true(w->agent_pid > 0);
    const char *eargv[] = {"executor",
                           "--env=MESOS_FRAMEWORK_ID=fw-1",
                           "--env=MESOS_EXECUTOR_ID=ex-1",
                           "--env=MESOS_AGENT_ENDPOINT=a:5051",
                           "--env=MESOS_SANDBOX=/sandbox",
                           checkpoint ? "--env=MESOS_CHECKPOINT=1" : "--env=MESOS_CHECKPOINT=0",
                           "--env=MESOS_RECOVERY_TIMEOUT=20secs",
                           "--env=MESOS_SUBSCRIPTION_BACKOFF_MAX=500ms",
                           NULL};
    w->exec_pid = dr_sim_process_start(w->sim, w->host, eargv, &err);
    assert_true(w->exec_pid > 0);
}

static void world_stop(world *w)
{
    dr_sim_destroy(w->sim);
}

static void run_for(world *w, uint64_t ns) { dr_sim_run_until(w->sim, dr_sim_now(w->sim) + ns); }

static const upd *find(Mesos__TaskState s)
{
    for (size_t i = 0; i < g_rec.update_count; i++)
        if (g_rec.updates[i].state == s)
            return &g_rec.updates[i];
    return NULL;
}

static bool terminal(Mesos__TaskState s)
{
    return s == MESOS__TASK_STATE__TASK_FINISHED || s == MESOS__TASK_STATE__TASK_FAILED ||
           s == MESOS__TASK_STATE__TASK_KILLED;
}

/* Over many seeds: STARTING, RUNNING, one terminal update with the exit
 * message, then the executor ends itself. */
static void test_sequence_many_seeds(void **state)
{
    (void)state;
    int finished = 0, failed = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        world w;
        world_start(&w, seed, false);
        run_for(&w, 600 * DR_NS_PER_S);
        assert_true(g_rec.update_count == 3);
        assert_int_equal(g_rec.updates[0].state, MESOS__TASK_STATE__TASK_STARTING);
        assert_int_equal(g_rec.updates[1].state, MESOS__TASK_STATE__TASK_RUNNING);
        const upd *last = &g_rec.updates[2];
        assert_true(terminal(last->state));
        if (last->state == MESOS__TASK_STATE__TASK_FINISHED) {
            finished++;
            assert_string_equal(last->message, "Command exited with status 0");
        } else {
            failed++;
            assert_true(strncmp(last->message, "Command ", 8) == 0);
        }
        assert_false(dr_sim_process_alive(w.sim, w.exec_pid));
        world_stop(&w);
    }
    /* the seeded generic tasks both succeed and fail over these seeds */
    assert_true(finished > 0);
    assert_true(failed > 0);
}

static void test_kill(void **state)
{
    (void)state;
    world w;
    world_start(&w, 7, false);
    g_rec.send_kill = true;
    run_for(&w, 600 * DR_NS_PER_S);
    const upd *u = find(MESOS__TASK_STATE__TASK_KILLED);
    assert_non_null(u); /* with this seed the task is still running at the KILL */
    assert_string_equal(u->message, "Command terminated with signal Terminated");
    assert_false(dr_sim_process_alive(w.sim, w.exec_pid));
    world_stop(&w);
}

static void test_reconnect_after_agent_crash(void **state)
{
    (void)state;
    world w;
    world_start(&w, 11, true);
    g_rec.auto_ack = false;
    /* until the task runs */
    for (int i = 0; i < 10000 && find(MESOS__TASK_STATE__TASK_RUNNING) == NULL; i++)
        assert_true(dr_sim_step(w.sim));
    dr_sim_process_crash(w.sim, w.agent_pid);
    run_for(&w, 3 * DR_NS_PER_S);
    assert_true(dr_sim_process_alive(w.sim, w.exec_pid));
    const char *aargv[] = {"fakeagent", NULL};
    dr_err err;
    w.agent_pid = dr_sim_process_start(w.sim, w.host, aargv, &err);
    g_rec.auto_ack = true;
    run_for(&w, 600 * DR_NS_PER_S);
    assert_true(g_rec.subscribe_count >= 2);
    assert_true(g_rec.last_unacked_updates >= 2); /* STARTING, RUNNING at least */
    assert_int_equal(g_rec.last_unacked_tasks, 1);
    bool any_resent = false;
    for (size_t i = 0; i < g_rec.update_count; i++)
        any_resent = any_resent || g_rec.updates[i].resent;
    assert_true(any_resent);
    assert_true(terminal(g_rec.updates[g_rec.update_count - 1].state));
    assert_false(dr_sim_process_alive(w.sim, w.exec_pid)); /* done once all were acked */
    world_stop(&w);
}

static void test_lost_without_checkpoint(void **state)
{
    (void)state;
    world w;
    world_start(&w, 5, false);
    for (int i = 0; i < 10000 && find(MESOS__TASK_STATE__TASK_RUNNING) == NULL; i++)
        assert_true(dr_sim_step(w.sim));
    dr_sim_process_crash(w.sim, w.agent_pid);
    run_for(&w, 5 * DR_NS_PER_S);
    assert_false(dr_sim_process_alive(w.sim, w.exec_pid));
    world_stop(&w);
}

static uint64_t replay_hash(uint64_t seed)
{
    world w;
    world_start(&w, seed, true);
    run_for(&w, 600 * DR_NS_PER_S);
    uint64_t h = dr_sim_trace_hash(w.sim);
    world_stop(&w);
    return h;
}

static void test_replay_same_hash(void **state)
{
    (void)state;
    assert_true(replay_hash(3) == replay_hash(3));
    assert_true(replay_hash(3) != replay_hash(4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequence_many_seeds),
        cmocka_unit_test(test_kill),
        cmocka_unit_test(test_reconnect_after_agent_crash),
        cmocka_unit_test(test_lost_without_checkpoint),
        cmocka_unit_test(test_replay_same_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
