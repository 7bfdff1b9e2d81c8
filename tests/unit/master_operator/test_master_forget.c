/* tests/unit/master_operator/test_master_forget.c — a master process that
 * crashes in the simulator: dr_master_forget frees everything and does no
 * I/O.
 *
 * The master runs as a simulated program on a guard env (tests/unit/http/
 * guard_env.h) wrapping its process's env. By the time the crash callback
 * runs, the simulator has discarded the process's listener, streams and
 * timers; the callback arms the guard and forgets the master, so any env
 * operation it still asked for (a write, close, timer cancel, log line) is
 * counted and named. The cluster around it is as busy as we can make it:
 * agents with a running task and outstanding offers, a connected framework,
 * a disconnected one inside its failover timeout, a completed one, a gone
 * agent, operator event subscribers in both codecs, a logging-level revert
 * timer, and a connection stopped in the middle of a request body. Leaks are
 * LeakSanitizer's to find in the ASan build (the crash path used to leave
 * the master's memory behind). A new master then starts on the same port and
 * the agents register with it; the simulator's end crashes that one too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "sim/sim.h"
#include "src/http/client.h"
#include "src/http/recordio.h"
#include "src/master/master.h"
#include "src/proto/proto.h"
#include "src/testagent/testagent.h"
#include "tests/unit/http/guard_env.h"

/* ---- the master as a simulated program on a guard env ------------------------------ */

typedef struct guarded_master {
    guard_env guard;
    dr_master *master;
} guarded_master;

/* What the crash callbacks saw (the program's state is gone after them). */
static struct {
    uint64_t crash_count;
    uint64_t armed_calls; /* summed over crashes */
    char first[32];
} crashes;

static void *gmaster_start(dr_env *env, int argc, char **argv)
{
    DR_UNUSED(argc);
    DR_UNUSED(argv);
    guarded_master *g = dr_alloc(sizeof *g);
    guard_env_init(&g->guard, env);
    dr_master_opts o;
    dr_master_opts_default(&o);
    o.port = 5050;
    o.allocation_interval_ns = 200 * DR_NS_PER_MS;
    o.offer_timeout_ns = 60 * DR_NS_PER_S; /* offers hold a timer each */
    dr_err err;
    if (dr_master_create(&g->guard.env, &o, &g->master, &err) != DR_OK) {
        fprintf(stderr, "master: %s\n", err.msg);
        dr_free(g);
        return NULL;
    }
    return g;
}

static void gmaster_crash(void *state)
{
    guarded_master *g = state;
    g->guard.armed = true;
    dr_master_forget(g->master);
    crashes.crash_count++;
    crashes.armed_calls += g->guard.armed_calls;
    if (g->guard.armed_calls > 0 && crashes.first[0] == '\0')
        memcpy(crashes.first, g->guard.first, sizeof crashes.first);
    dr_free(g);
}

static void gmaster_stop(void *state)
{
    guarded_master *g = state;
    dr_master_destroy(g->master);
    dr_free(g);
}

static const dr_sim_program gmaster_program = {"gmaster", gmaster_start, gmaster_crash,
                                               gmaster_stop};

static void *blank_start(dr_env *env, int argc, char **argv)
{
    DR_UNUSED(env);
    DR_UNUSED(argc);
    DR_UNUSED(argv);
    return dr_alloc(1);
}

static void blank_end(void *state) { dr_free(state); }

static const dr_sim_program blank_program = {"blank", blank_start, blank_end, blank_end};

/* ---- calls from the client process ------------------------------------------------------ */

typedef struct reply {
    bool head, done;
    int status;
    dr_err err;
    char stream_id[64];
    dr_buf body;
    dr_recordio_decoder dec;
    json_t *records; /* decoded JSON records of a stream */
    dr_http_call *call;
} reply;

static bool on_record(const uint8_t *data, size_t size, void *ctx)
{
    reply *r = ctx;
    json_error_t jerr;
    json_t *v = json_loadb((const char *)data, size, 0, &jerr);
    if (v == NULL)
        v = json_string("(protobuf)"); /* protobuf subscribers: counted, not read */
    json_array_append_new(r->records, v);
    return true;
}

static void on_head(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                    void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    reply *r = ctx;
    r->head = true;
    r->status = resp->status;
    const char *sid = dr_http_headers_get(&resp->headers, "Mesos-Stream-Id");
    snprintf(r->stream_id, sizeof r->stream_id, "%s", sid != NULL ? sid : "");
}

static void on_chunk(dr_env *env, dr_http_call *call, const uint8_t *data, size_t size, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    reply *r = ctx;
    if (r->status != 200) {
        dr_buf_append(&r->body, data, size);
        return;
    }
    dr_err err;
    if (dr_recordio_decoder_feed(&r->dec, data, size, on_record, r, &err) != DR_OK)
        fail_msg("event stream: %s: %.*s", err.msg, (int)DR_MIN(size, 80), (const char *)data);
}

static void on_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                    const dr_err *err, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    reply *r = ctx;
    r->done = true;
    r->call = NULL;
    r->err = *err;
    if (resp != NULL) {
        r->status = resp->status;
        dr_buf_append(&r->body, resp->body, resp->body_size);
    }
}

static const dr_http_call_cbs cbs = {.head = on_head, .chunk = on_chunk, .done = on_done};

typedef struct world {
    dr_sim *sim;
    dr_pid master_pid;
    dr_env *client_env;
    dr_http_client *client;
    dr_testagent *agents[3];
} world;

static void run_for(world *w, uint64_t ns) { dr_sim_run_until(w->sim, dr_sim_now(w->sim) + ns); }

static void run_until(world *w, const bool *flag)
{
    uint64_t deadline = dr_sim_now(w->sim) + 10 * DR_NS_PER_S;
    while (!*flag && dr_sim_now(w->sim) < deadline)
        if (!dr_sim_step(w->sim))
            break;
    assert_true(*flag);
}

static void reply_init(reply *r)
{
    memset(r, 0, sizeof *r);
    dr_buf_init(&r->body);
    dr_recordio_decoder_init(&r->dec, 0);
    r->records = json_array();
}

static void reply_deinit(reply *r)
{
    if (r->call != NULL)
        dr_http_call_cancel(r->call);
    dr_buf_deinit(&r->body);
    dr_recordio_decoder_deinit(&r->dec);
    json_decref(r->records);
}

/* Sends body to target; waits for the answer (or a stream's head). */
static void post(world *w, const char *target, const char *content_type, const char *stream_id,
                 const void *body, size_t size, bool stream, reply *r)
{
    reply_init(r);
    dr_http_header h[3] = {{(char *)"Content-Type", (char *)content_type},
                           {(char *)"Accept", (char *)content_type},
                           {(char *)"Mesos-Stream-Id", (char *)stream_id}};
    dr_http_client_request req = {.method = "POST", .target = target, .headers = h,
                                  .header_count = stream_id != NULL ? 3 : 2, .body = body,
                                  .body_size = size, .stream = stream};
    dr_err err;
    assert_int_equal(dr_http_client_send(w->client, &req, &cbs, r, &r->call, &err), DR_OK);
    run_until(w, stream ? &r->head : &r->done);
    if (!stream)
        assert_int_equal(r->err.code, DR_OK);
}

static int post_json(world *w, const char *target, const char *stream_id, const char *body)
{
    reply r;
    post(w, target, "application/json", stream_id, body, strlen(body), false, &r);
    int status = r.status;
    reply_deinit(&r);
    return status;
}

static json_t *record_of_type(const reply *r, const char *type, size_t nth)
{
    for (size_t i = 0; i < json_array_size(r->records); i++) {
        json_t *ev = json_array_get(r->records, i);
        const char *t = json_string_value(json_object_get(ev, "type"));
        if (t != NULL && strcmp(t, type) == 0 && nth-- == 0)
            return ev;
    }
    return NULL;
}

static const char *str_at(json_t *v, const char *a, const char *b, const char *c)
{
    v = json_object_get(v, a);
    if (b != NULL)
        v = json_object_get(v, b);
    if (c != NULL)
        v = json_object_get(v, c);
    return json_string_value(v);
}

static void subscribe_framework(world *w, const char *name, const char *extra, reply *r)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"type\":\"SUBSCRIBE\",\"subscribe\":{\"framework_info\":"
             "{\"user\":\"bob\",\"name\":\"%s\"%s}}}",
             name, extra);
    post(w, "/api/v1/scheduler", "application/json", NULL, body, strlen(body), true, r);
    assert_int_equal(r->status, 200);
    run_for(w, DR_NS_PER_S);
    assert_non_null(record_of_type(r, "SUBSCRIBED", 0));
}

/* ---- the busy cluster -------------------------------------------------------------------- */

static void agents_start(world *w, const char *const *hosts, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        dr_sim_host_id h = dr_sim_host_find(w->sim, hosts[i]);
        const char *argv[] = {"blank", NULL};
        dr_err err;
        dr_pid p = dr_sim_process_start(w->sim, h, argv, &err);
        assert_true(p > 0);
        dr_testagent_opts o = {.master_host = "master-1", .master_port = 5050,
                               .resources = "cpus:4;mem:4096",
                               .task_run_min_ns = 3600 * DR_NS_PER_S,
                               .task_run_max_ns = 3600 * DR_NS_PER_S};
        assert_int_equal(dr_testagent_create(dr_sim_process_env(w->sim, p), &o, &w->agents[i],
                                             &err),
                         DR_OK);
    }
}

static dr_pid master_start(world *w)
{
    const char *argv[] = {"gmaster", NULL};
    dr_err err;
    dr_pid pid = dr_sim_process_start(w->sim, dr_sim_host_find(w->sim, "master-1"), argv, &err);
    assert_true(pid > 0);
    return pid;
}

static void test_master_crash_forgets(void **state)
{
    DR_UNUSED(state);
    memset(&crashes, 0, sizeof crashes);
    world w;
    memset(&w, 0, sizeof w);
    dr_sim_opts so;
    memset(&so, 0, sizeof so);
    so.seed = 11;
    so.scenario = "master-forget-unit";
    w.sim = dr_sim_create(&so);
    dr_sim_register_program(w.sim, &gmaster_program);
    dr_sim_register_program(w.sim, &blank_program);
    static const char *const agent_hosts[] = {"agent-1", "agent-2", "agent-3"};
    dr_sim_host_add(w.sim, "master-1");
    for (size_t i = 0; i < 3; i++)
        dr_sim_host_add(w.sim, agent_hosts[i]);
    dr_sim_host_add(w.sim, "client-1");
    w.master_pid = master_start(&w);
    const char *argv[] = {"blank", NULL};
    dr_err err;
    dr_pid cp = dr_sim_process_start(w.sim, dr_sim_host_find(w.sim, "client-1"), argv, &err);
    w.client_env = dr_sim_process_env(w.sim, cp);
    dr_http_client_opts copts = {.timeout_ns = 5 * DR_NS_PER_S};
    assert_int_equal(dr_http_client_create(w.client_env, "master-1", 5050, &copts, &w.client, &err),
                     DR_OK);

    /* Operator subscribers in both codecs. */
    reply ops_json, ops_pb;
    const char *sub = "{\"type\":\"SUBSCRIBE\"}";
    post(&w, "/api/v1", "application/json", NULL, sub, strlen(sub), true, &ops_json);
    assert_int_equal(ops_json.status, 200);
    Mesos__Master__Call sub_call = MESOS__MASTER__CALL__INIT;
    sub_call.has_type = true;
    sub_call.type = MESOS__MASTER__CALL__TYPE__SUBSCRIBE;
    dr_buf sub_pb;
    dr_buf_init(&sub_pb);
    assert_int_equal(dr_proto_encode(&sub_call.base, &sub_pb, &err), DR_OK);
    post(&w, "/api/v1", "application/x-protobuf", NULL, sub_pb.data, sub_pb.size, true, &ops_pb);
    dr_buf_deinit(&sub_pb);
    assert_int_equal(ops_pb.status, 200);
    /* A logging level that reverts in an hour: a timer the crash abandons. */
    assert_int_equal(post_json(&w, "/api/v1", NULL,
                               "{\"type\":\"SET_LOGGING_LEVEL\",\"set_logging_level\":"
                               "{\"level\":1,\"duration\":{\"nanoseconds\":3600000000000}}}"),
                     200);

    agents_start(&w, agent_hosts, 3);
    run_for(&w, 2 * DR_NS_PER_S);
    dr_testagent_info ai[3];
    for (size_t i = 0; i < 3; i++) {
        dr_testagent_get_info(w.agents[i], &ai[i]);
        assert_true(ai[i].registered);
    }

    /* A framework launches a task on one offer and keeps the others. */
    reply fw1;
    subscribe_framework(&w, "busy", "", &fw1);
    char fid[128];
    snprintf(fid, sizeof fid, "%s",
             str_at(record_of_type(&fw1, "SUBSCRIBED", 0), "subscribed", "framework_id", "value"));
    json_t *offers = record_of_type(&fw1, "OFFERS", 0);
    assert_non_null(offers);
    json_t *offer = json_array_get(json_object_get(json_object_get(offers, "offers"), "offers"), 0);
    char accept[2048];
    snprintf(accept, sizeof accept,
             "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"ACCEPT\",\"accept\":{"
             "\"offer_ids\":[{\"value\":\"%s\"}],\"operations\":[{\"type\":\"LAUNCH\","
             "\"launch\":{\"task_infos\":[{\"name\":\"t1\",\"task_id\":{\"value\":\"t1\"},"
             "\"agent_id\":{\"value\":\"%s\"},\"resources\":["
             "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1}}],"
             "\"command\":{\"value\":\"sleep inf\"}}]}}]}}",
             fid, str_at(offer, "id", "value", NULL), str_at(offer, "agent_id", "value", NULL));
    assert_int_equal(post_json(&w, "/api/v1/scheduler", fw1.stream_id, accept), 202);
    run_for(&w, DR_NS_PER_S);
    assert_non_null(record_of_type(&fw1, "UPDATE", 0));

    /* One framework disconnects inside its failover timeout, one is torn down. */
    reply fw2, fw3;
    subscribe_framework(&w, "away", ",\"failover_timeout\":3600", &fw2);
    subscribe_framework(&w, "done", "", &fw3);
    char fid3[128];
    snprintf(fid3, sizeof fid3, "%s",
             str_at(record_of_type(&fw3, "SUBSCRIBED", 0), "subscribed", "framework_id", "value"));
    dr_http_call_cancel(fw2.call);
    fw2.call = NULL;
    char teardown[256];
    snprintf(teardown, sizeof teardown,
             "{\"type\":\"TEARDOWN\",\"teardown\":{\"framework_id\":{\"value\":\"%s\"}}}", fid3);
    assert_int_equal(post_json(&w, "/api/v1", NULL, teardown), 200);
    /* An agent is marked gone. */
    char gone[256];
    snprintf(gone, sizeof gone,
             "{\"type\":\"MARK_AGENT_GONE\",\"mark_agent_gone\":{\"agent_id\":{\"value\":\"%s\"}}}",
             ai[2].agent_id);
    assert_int_equal(post_json(&w, "/api/v1", NULL, gone), 200);
    run_for(&w, DR_NS_PER_S);

    /* A client stops in the middle of a request body. */
    reply half;
    reply_init(&half);
    dr_http_header hh[1] = {{(char *)"Content-Type", (char *)"application/json"}};
    dr_http_client_request hreq = {.method = "POST", .target = "/api/v1", .headers = hh,
                                   .header_count = 1, .body = "{\"type\":", .body_size = 8,
                                   .stream_body = true};
    assert_int_equal(dr_http_client_send(w.client, &hreq, &cbs, &half, &half.call, &err), DR_OK);
    run_for(&w, 100 * DR_NS_PER_MS);
    assert_false(half.done);
    size_t ops_before = json_array_size(ops_json.records);
    assert_true(ops_before >= 5); /* SUBSCRIBED, HEARTBEAT, AGENT_ADDED x3, ... */

    /* The crash. */
    dr_sim_process_crash(w.sim, w.master_pid);
    assert_int_equal(crashes.crash_count, 1);
    if (crashes.armed_calls != 0)
        fail_msg("the crashed master asked for %llu env operation(s), first '%s'",
                 (unsigned long long)crashes.armed_calls, crashes.first);
    run_for(&w, 5 * DR_NS_PER_S);
    /* Its clients saw the connections go, and nothing more came. */
    assert_true(ops_json.done);
    assert_true(fw1.done);
    assert_true(half.done);
    assert_int_equal(json_array_size(ops_json.records), ops_before);
    assert_false(dr_sim_process_alive(w.sim, w.master_pid));

    /* A new master binds the same port; the agents register with it. */
    w.master_pid = master_start(&w);
    run_for(&w, 90 * DR_NS_PER_S);
    assert_int_equal(post_json(&w, "/api/v1", NULL, "{\"type\":\"GET_HEALTH\"}"), 200);
    dr_testagent_info again;
    dr_testagent_get_info(w.agents[0], &again);
    assert_true(again.registered);
    assert_true(again.registered_count >= 2);

    reply_deinit(&half);
    reply_deinit(&fw1);
    reply_deinit(&fw2);
    reply_deinit(&fw3);
    reply_deinit(&ops_json);
    reply_deinit(&ops_pb);
    dr_http_client_destroy(w.client);
    for (size_t i = 0; i < 3; i++)
        dr_testagent_destroy(w.agents[i]);
    /* The end of the simulation crashes the second master too. */
    dr_sim_destroy(w.sim);
    assert_int_equal(crashes.crash_count, 2);
    if (crashes.armed_calls != 0)
        fail_msg("a crashed master asked for %llu env operation(s), first '%s'",
                 (unsigned long long)crashes.armed_calls, crashes.first);
}

static void never_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(ctx);
    fail_msg("a canceled timer fired");
}

/* The guard itself: armed, it counts and names what it is asked for (the
 * test above would not notice a forget that does I/O otherwise). */
static void test_guard_counts(void **state)
{
    DR_UNUSED(state);
    dr_sim_opts so;
    memset(&so, 0, sizeof so);
    so.seed = 3;
    dr_sim *sim = dr_sim_create(&so);
    dr_sim_register_program(sim, &blank_program);
    const char *argv[] = {"blank", NULL};
    dr_err err;
    dr_pid p = dr_sim_process_start(sim, dr_sim_host_add(sim, "h"), argv, &err);
    guard_env g;
    guard_env_init(&g, dr_sim_process_env(sim, p));
    dr_env_timer_cancel(&g.env, dr_env_timer_add(&g.env, DR_NS_PER_S, never_fire, NULL));
    assert_int_equal(g.armed_calls, 0);
    g.armed = true;
    dr_env_timer_cancel(&g.env, 7);
    DR_INFO(&g.env, "a line");
    assert_int_equal(g.armed_calls, 2);
    assert_string_equal(g.first, "timer_cancel");
    dr_sim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guard_counts),
        cmocka_unit_test(test_master_crash_forgets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
