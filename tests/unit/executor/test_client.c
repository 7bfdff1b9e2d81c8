/* tests/unit/executor/test_client.c — the executor client (src/executor/
 * client.h) against a fake agent in the same process, on the real env: what
 * it does with an UPDATE the agent cannot take now (5xx: sent again, after a
 * delay, until taken) and with one it refuses for good (4xx: not again). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "src/env/real/real.h"
#include "src/executor/client.h"
#include "src/http/negotiate.h"
#include "src/http/server.h"

#define WAIT_NS (10 * DR_NS_PER_S)

/* The fake agent: SUBSCRIBE gets SUBSCRIBED; the first `refuse` UPDATEs are
 * answered `refuse_status`, later ones 202 and ACKNOWLEDGED. */
typedef struct fake {
    dr_env *env;
    dr_http_server *server;
    dr_http_response *stream;
    int refuse;
    int refuse_status;
    int update_calls;  /* UPDATE calls received */
    int taken;         /* UPDATEs answered 202 */
    dr_exec_client *client;
} fake;

static void send_event(fake *f, const Mesos__Executor__Event *ev)
{
    if (f->stream == NULL)
        return;
    dr_buf buf;
    dr_buf_init(&buf);
    dr_err err;
    assert_int_equal(dr_proto_encode(&ev->base, &buf, &err), DR_OK);
    if (dr_http_response_stream_record(f->stream, buf.data, buf.size, &err) != DR_OK)
        f->stream = NULL;
    dr_buf_deinit(&buf);
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
    assert_int_equal(n.status, 0);
    dr_arena arena;
    dr_arena_init(&arena);
    ProtobufCMessage *msg = NULL;
    dr_err err;
    assert_int_equal(dr_proto_decode(&mesos__executor__call__descriptor, req->body,
                                     req->body_size, &arena, &msg, &err),
                     DR_OK);
    const Mesos__Executor__Call *call = (const Mesos__Executor__Call *)msg;
    if (call->type == MESOS__EXECUTOR__CALL__TYPE__SUBSCRIBE) {
        dr_http_negotiate_response(&req->headers, DR_HTTP_STREAM_CODEC, &n);
        assert_int_equal(n.status, 0);
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
        fi.user = "nobody";
        fi.name = "test";
        ai.hostname = "localhost";
        s.executor_info = &ei;
        s.framework_info = &fi;
        s.agent_info = &ai;
        ev.has_type = true;
        ev.type = MESOS__EXECUTOR__EVENT__TYPE__SUBSCRIBED;
        ev.subscribed = &s;
        send_event(f, &ev);
    } else if (call->type == MESOS__EXECUTOR__CALL__TYPE__UPDATE) {
        f->update_calls++;
        if (f->refuse > 0) {
            f->refuse--;
            dr_http_response_error(res, f->refuse_status, "the agent could not take it");
        } else {
            f->taken++;
            dr_http_response_send(res, 202, NULL, "", 0);
            Mesos__Executor__Event ev = MESOS__EXECUTOR__EVENT__INIT;
            Mesos__Executor__Event__Acknowledged a = MESOS__EXECUTOR__EVENT__ACKNOWLEDGED__INIT;
            a.task_id = call->update->status->task_id;
            a.uuid = call->update->status->uuid;
            ev.has_type = true;
            ev.type = MESOS__EXECUTOR__EVENT__TYPE__ACKNOWLEDGED;
            ev.acknowledged = &a;
            send_event(f, &ev);
        }
    } else {
        dr_http_response_send(res, 202, NULL, "", 0);
    }
    dr_arena_deinit(&arena);
}

static const dr_exec_client_cbs no_cbs = {0};

static int setup(void **state)
{
    fake *f = dr_alloc(sizeof *f);
    dr_err err;
    dr_env_real_opts eo = {.log_level = getenv("EXEC_TEST_LOG") != NULL ? DR_LOG_DEBUG
                                                                        : DR_LOG_ERROR};
    assert_int_equal(dr_env_real_create(&eo, &f->env, &err), DR_OK);
    dr_http_server_opts so = {.host = "127.0.0.1", .port = 0};
    assert_int_equal(dr_http_server_create(f->env, &so, &f->server, &err), DR_OK);
    assert_int_equal(dr_http_server_route(f->server, "/api/v1/executor", false, handle, f, &err),
                     DR_OK);
    dr_exec_client_opts co = {.host = "127.0.0.1",
                              .port = dr_http_server_port(f->server),
                              .framework_id = "fw-1",
                              .executor_id = "ex-1",
                              .backoff_max_ns = 300 * DR_NS_PER_MS};
    assert_int_equal(dr_exec_client_create(f->env, &co, &no_cbs, f, &f->client, &err), DR_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fake *f = *state;
    dr_exec_client_destroy(f->client);
    if (f->stream != NULL)
        dr_http_response_stream_end(f->stream);
    dr_http_server_destroy(f->server);
    dr_env_real_destroy(f->env);
    dr_free(f);
    return 0;
}

/* Runs the loop until cond holds (true) or WAIT_NS pass (false). */
static bool run_until(fake *f, bool (*cond)(const fake *f))
{
    uint64_t deadline = dr_env_now(f->env) + WAIT_NS;
    while (!cond(f)) {
        if (dr_env_now(f->env) > deadline)
            return false;
        dr_env_real_run_once(f->env, 10 * DR_NS_PER_MS);
    }
    return true;
}

static bool subscribed(const fake *f)
{
    return dr_exec_client_get_state(f->client) == DR_EXEC_CLIENT_SUBSCRIBED;
}

static bool all_acked(const fake *f) { return dr_exec_client_unacked_update_count(f->client) == 0; }

static bool one_call(const fake *f) { return f->update_calls >= 1; }

static void send_running(fake *f)
{
    Mesos__TaskStatus st = MESOS__TASK_STATUS__INIT;
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    tid.value = "t1";
    st.task_id = &tid;
    st.state = MESOS__TASK_STATE__TASK_RUNNING;
    dr_err err;
    assert_int_equal(dr_exec_client_update(f->client, &st, NULL, &err), DR_OK);
}

/* 503 twice (a full disk, say): the same UPDATE goes again until taken. */
static void test_update_refused_503_is_resent(void **state)
{
    fake *f = *state;
    f->refuse = 2;
    f->refuse_status = 503;
    dr_exec_client_start(f->client);
    assert_true(run_until(f, subscribed));
    send_running(f);
    assert_true(run_until(f, all_acked));
    assert_int_equal(f->update_calls, 3);
    assert_int_equal(f->taken, 1);
    dr_exec_client_stats st;
    dr_exec_client_get_stats(f->client, &st);
    assert_int_equal(st.update_count, 3);
    assert_int_equal(st.update_resent_count, 2);
    assert_int_equal(st.call_failed_count, 2);
    assert_int_equal(st.subscribe_count, 1); /* no resubscription needed */
}

/* 400 (bad input) is final: the update is never sent again and stays
 * unacknowledged (it goes with a later SUBSCRIBE, should there be one). */
static void test_update_refused_400_is_not_resent(void **state)
{
    fake *f = *state;
    f->refuse = 1;
    f->refuse_status = 400;
    dr_exec_client_start(f->client);
    assert_true(run_until(f, subscribed));
    send_running(f);
    assert_true(run_until(f, one_call));
    /* four times the longest resend delay (backoff_max, 300 ms here) */
    uint64_t until = dr_env_now(f->env) + 1200 * DR_NS_PER_MS;
    while (dr_env_now(f->env) < until)
        dr_env_real_run_once(f->env, 10 * DR_NS_PER_MS);
    assert_int_equal(f->update_calls, 1);
    assert_int_equal(dr_exec_client_unacked_update_count(f->client), 1);
    dr_exec_client_stats st;
    dr_exec_client_get_stats(f->client, &st);
    assert_int_equal(st.update_resent_count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_update_refused_503_is_resent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_refused_400_is_not_resent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
