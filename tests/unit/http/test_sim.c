/* tests/unit/http/test_sim.c — server and client end to end on the
 * simulator: two hosts, network latency, resets; virtual time makes the
 * timeouts instant, and each scenario runs twice to show the same trace hash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "sim/sim.h"
#include "src/http/client.h"
#include "src/http/negotiate.h"
#include "src/http/recordio.h"
#include "src/http/server.h"
#include "tests/unit/http/guard_env.h"

static void *blank_start(dr_env *env, int argc, char **argv)
{
    DR_UNUSED(env);
    DR_UNUSED(argc);
    DR_UNUSED(argv);
    return dr_alloc(1);
}

static void blank_end(void *state) { dr_free(state); }

static const dr_sim_program blank_program = {"blank", blank_start, blank_end, blank_end};

typedef struct world {
    dr_sim *sim;
    dr_env *client_env;
    dr_env *server_env;
    dr_http_server *server;
    dr_http_client *client;
    /* the event stream */
    dr_http_response *subscriber;
    dr_timer_id heartbeat_timer;
    int heartbeat_count;
    int heartbeat_max;
} world;

static void world_init(world *w, uint64_t seed, const dr_sim_faults *faults)
{
    memset(w, 0, sizeof *w);
    dr_sim_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.seed = seed;
    opts.scenario = "http-unit";
    if (faults != NULL)
        opts.faults = *faults;
    w->sim = dr_sim_create(&opts);
    dr_sim_register_program(w->sim, &blank_program);
    dr_sim_host_id client_host = dr_sim_host_add(w->sim, "agent-1");
    dr_sim_host_id server_host = dr_sim_host_add(w->sim, "master-1");
    const char *argv[] = {"blank", NULL};
    dr_err err;
    dr_pid cp = dr_sim_process_start(w->sim, client_host, argv, &err);
    dr_pid sp = dr_sim_process_start(w->sim, server_host, argv, &err);
    assert_true(cp > 0 && sp > 0);
    w->client_env = dr_sim_process_env(w->sim, cp);
    w->server_env = dr_sim_process_env(w->sim, sp);
}

static void world_deinit(world *w)
{
    dr_http_client_destroy(w->client);
    dr_http_server_destroy(w->server);
    dr_sim_destroy(w->sim);
}

/* ---- server side: Mesos-like API ------------------------------------------------- */

static void heartbeat_fire(dr_env *env, void *ctx)
{
    world *w = ctx;
    w->heartbeat_timer = 0;
    char record[64];
    int n = snprintf(record, sizeof record, "{\"type\":\"HEARTBEAT\",\"n\":%d}", w->heartbeat_count);
    dr_err err;
    if (dr_http_response_stream_record(w->subscriber, record, (size_t)n, &err) != DR_OK) {
        dr_http_response_stream_end(w->subscriber);
        w->subscriber = NULL;
        return;
    }
    if (++w->heartbeat_count == w->heartbeat_max) {
        dr_http_response_stream_end(w->subscriber);
        w->subscriber = NULL;
        return;
    }
    w->heartbeat_timer = dr_env_timer_add(env, 15 * DR_NS_PER_S, heartbeat_fire, w);
}

static void scheduler_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                              void *ctx)
{
    world *w = ctx;
    dr_http_negotiation n;
    bool subscribe = strstr((const char *)req->body, "SUBSCRIBE") != NULL;
    dr_http_negotiate(req->method, &req->headers, false,
                      subscribe ? DR_HTTP_STREAM_CODEC : DR_HTTP_STREAM_NONE, &n);
    if (n.status != 0) {
        dr_http_negotiation_reject(&n, res);
        return;
    }
    if (!subscribe) {
        /* Echo the body back, as a 202 would carry nothing. */
        dr_http_response_send(res, 200, n.content_type, req->body, req->body_size);
        return;
    }
    dr_http_response_header(res, "Mesos-Stream-Id", "7c2d8a4e-0000-4000-8000-000000000001");
    dr_http_negotiation_stream_start(&n, res, 200);
    w->subscriber = res;
    w->heartbeat_timer = dr_env_timer_add(env, 0, heartbeat_fire, w);
}

static void start_server(world *w, uint64_t idle_timeout_ns)
{
    static const char *const prefixes[] = {"/master"};
    dr_http_server_opts opts = {.host = "0.0.0.0", .port = 5050, .strip_prefixes = prefixes,
                                .strip_prefix_count = 1, .idle_timeout_ns = idle_timeout_ns};
    dr_err err;
    assert_int_equal(dr_http_server_create(w->server_env, &opts, &w->server, &err), DR_OK);
    assert_int_equal(dr_http_server_route(w->server, "/api/v1/scheduler", false,
                                          scheduler_handler, w, &err),
                     DR_OK);
    dr_http_client_opts copts = {.timeout_ns = 5 * DR_NS_PER_S};
    assert_int_equal(dr_http_client_create(w->client_env, "master-1", 5050, &copts, &w->client,
                                           &err),
                     DR_OK);
}

/* ---- client side ----------------------------------------------------------------- */

typedef struct call_result {
    bool done;
    dr_err err;
    int status;
    char body[256];
    char content_type[64];
    char stream_id[64];
    dr_recordio_decoder dec;
    int record_count;
    char last_record[64];
} call_result;

static bool on_record(const uint8_t *data, size_t size, void *ctx)
{
    call_result *r = ctx;
    r->record_count++;
    snprintf(r->last_record, sizeof r->last_record, "%.*s", (int)size, (const char *)data);
    return true;
}

static void on_head(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                    void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    call_result *r = ctx;
    r->status = resp->status;
    const char *ct = dr_http_headers_get(&resp->headers, "Content-Type");
    const char *id = dr_http_headers_get(&resp->headers, "Mesos-Stream-Id");
    snprintf(r->content_type, sizeof r->content_type, "%s", ct ? ct : "-");
    snprintf(r->stream_id, sizeof r->stream_id, "%s", id ? id : "-");
}

static void on_chunk(dr_env *env, dr_http_call *call, const uint8_t *data, size_t size, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    call_result *r = ctx;
    dr_err err;
    assert_int_equal(dr_recordio_decoder_feed(&r->dec, data, size, on_record, r, &err), DR_OK);
}

static void on_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                    const dr_err *err, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    call_result *r = ctx;
    assert_false(r->done);
    r->done = true;
    r->err = *err;
    if (resp != NULL) {
        r->status = resp->status;
        snprintf(r->body, sizeof r->body, "%.*s", (int)resp->body_size, (const char *)resp->body);
    }
}

static const dr_http_call_cbs call_cbs = {.head = on_head, .chunk = on_chunk, .done = on_done};

static void send_call(world *w, const char *body, bool stream, call_result *r)
{
    dr_http_header headers[] = {{"Content-Type", "application/json"},
                                {"Accept", "application/json"}};
    dr_http_client_request req = {.method = "POST", .target = "/master/api/v1/scheduler",
                                  .headers = headers, .header_count = 2, .body = body,
                                  .body_size = strlen(body), .stream = stream};
    dr_recordio_decoder_init(&r->dec, 0);
    dr_err err;
    assert_int_equal(dr_http_client_send(w->client, &req, &call_cbs, r, NULL, &err), DR_OK);
}

/* ---- scenarios -------------------------------------------------------------------- */

/* Many calls over a slow network, a stream of heartbeats, then idle close. */
static uint64_t run_traffic(uint64_t seed)
{
    dr_sim_faults faults;
    memset(&faults, 0, sizeof faults);
    faults.net_latency_min_ns = 200 * DR_NS_PER_US;
    faults.net_latency_mean_ns = 3 * DR_NS_PER_MS;
    faults.net_latency_tail_p = 0.05;
    faults.net_latency_tail_max_ns = 500 * DR_NS_PER_MS;
    world w;
    world_init(&w, seed, &faults);
    start_server(&w, 60 * DR_NS_PER_S);
    enum { CALLS = 40 };
    call_result *results = dr_alloc_array(CALLS, sizeof *results);
    char bodies[CALLS][48];
    for (int i = 0; i < CALLS; i++) {
        snprintf(bodies[i], sizeof bodies[i], "{\"type\":\"ACKNOWLEDGE\",\"i\":%d}", i);
        send_call(&w, bodies[i], false, &results[i]);
    }
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + 3 * DR_NS_PER_S);
    for (int i = 0; i < CALLS; i++) {
        assert_true(results[i].done);
        assert_int_equal(results[i].err.code, DR_OK);
        assert_int_equal(results[i].status, 200);
        assert_string_equal(results[i].body, bodies[i]);
        dr_recordio_decoder_deinit(&results[i].dec);
    }
    assert_true(dr_http_client_conn_count(w.client) <= DR_HTTP_CLIENT_CONN_COUNT_MAX);
    assert_true(dr_http_client_conn_count(w.client) >= 2); /* they ran in parallel */

    /* SUBSCRIBE: 4 heartbeats, 15 s apart in virtual time, then the end. */
    w.heartbeat_max = 4;
    call_result sub = {0};
    send_call(&w, "{\"type\":\"SUBSCRIBE\"}", true, &sub);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + 35 * DR_NS_PER_S);
    assert_string_equal(sub.content_type, "application/json"); /* the codec, body RecordIO */
    assert_string_equal(sub.stream_id, "7c2d8a4e-0000-4000-8000-000000000001");
    assert_int_equal(sub.record_count, 3);
    assert_false(sub.done);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + 30 * DR_NS_PER_S);
    assert_true(sub.done);
    assert_int_equal(sub.err.code, DR_OK);
    assert_int_equal(sub.record_count, 4);
    assert_string_equal(sub.last_record, "{\"type\":\"HEARTBEAT\",\"n\":3}");
    dr_err err;
    assert_int_equal(dr_recordio_decoder_finish(&sub.dec, &err), DR_OK);
    dr_recordio_decoder_deinit(&sub.dec);

    /* Nothing to do for a minute: the server closes every connection. */
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + 61 * DR_NS_PER_S);
    assert_int_equal(dr_http_server_conn_count(w.server), 0);
    assert_int_equal(dr_http_client_conn_count(w.client), 0);

    /* A later call opens a new connection and works. */
    call_result again = {0};
    send_call(&w, "{\"type\":\"REVIVE\"}", false, &again);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + 2 * DR_NS_PER_S);
    assert_int_equal(again.err.code, DR_OK);
    assert_string_equal(again.body, "{\"type\":\"REVIVE\"}");
    dr_recordio_decoder_deinit(&again.dec);

    uint64_t hash = dr_sim_trace_hash(w.sim);
    dr_free(results);
    world_deinit(&w);
    return hash;
}

static void test_traffic_deterministic(void **state)
{
    (void)state;
    uint64_t a = run_traffic(11);
    uint64_t b = run_traffic(11);
    assert_true(a == b);
    uint64_t c = run_traffic(12);
    assert_true(c != a); /* the seed matters: the test can tell */
}

/* Connections reset at random: every call ends, in success or an error that
 * names the server; the server keeps serving. */
static void test_resets_never_hang(void **state)
{
    (void)state;
    dr_sim_faults faults;
    memset(&faults, 0, sizeof faults);
    faults.net_latency_min_ns = 100 * DR_NS_PER_US;
    faults.net_latency_mean_ns = 1 * DR_NS_PER_MS;
    faults.net_reset_p = 0.2;
    world w;
    world_init(&w, 5, &faults);
    start_server(&w, 60 * DR_NS_PER_S);
    enum { CALLS = 60 };
    call_result *results = dr_alloc_array(CALLS, sizeof *results);
    for (int i = 0; i < CALLS; i++)
        send_call(&w, "{\"type\":\"KILL\"}", false, &results[i]);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + 60 * DR_NS_PER_S);
    int ok = 0;
    int failed = 0;
    for (int i = 0; i < CALLS; i++) {
        assert_true(results[i].done);
        if (results[i].err.code == DR_OK) {
            ok++;
            assert_string_equal(results[i].body, "{\"type\":\"KILL\"}");
        } else {
            failed++;
            const char *prefix = "master-1:5050: POST /master/api/v1/scheduler: ";
            if (strncmp(results[i].err.msg, prefix, strlen(prefix)) != 0)
                fail_msg("unexpected error text: %s", results[i].err.msg);
        }
        dr_recordio_decoder_deinit(&results[i].dec);
    }
    assert_true(ok > 0);
    assert_true(failed > 0);
    uint64_t reset_count = 0;
    dr_sim_fault_count counts[64];
    size_t n = dr_sim_fault_counts(w.sim, counts, 64);
    for (size_t i = 0; i < n && i < 64; i++) {
        if (strcmp(counts[i].kind, "net.reset") == 0)
            reset_count = counts[i].count;
    }
    assert_true(reset_count > 0);
    /* With the faults off, the same client and server carry on. */
    dr_sim_faults none;
    memset(&none, 0, sizeof none);
    dr_sim_set_faults(w.sim, &none);
    call_result after = {0};
    send_call(&w, "{}", false, &after);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + 10 * DR_NS_PER_S);
    assert_int_equal(after.err.code, DR_OK);
    dr_recordio_decoder_deinit(&after.dec);
    dr_free(results);
    world_deinit(&w);
}

/* Negotiation failures reach the client as statuses with text. */
static void test_negotiation_over_sim(void **state)
{
    (void)state;
    world w;
    world_init(&w, 3, NULL);
    start_server(&w, 60 * DR_NS_PER_S);
    call_result r = {0};
    dr_http_header headers[] = {{"Content-Type", "application/json"}, {"Accept", "text/html"}};
    dr_http_client_request req = {.method = "POST", .target = "/api/v1/scheduler",
                                  .headers = headers, .header_count = 2,
                                  .body = "{\"type\":\"SUBSCRIBE\"}", .body_size = 20};
    dr_err err;
    dr_recordio_decoder_init(&r.dec, 0);
    assert_int_equal(dr_http_client_send(w.client, &req, &call_cbs, &r, NULL, &err), DR_OK);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(r.status, 406);
    assert_string_equal(r.body, "Expecting 'Accept' to allow application/json or "
                                "application/x-protobuf, received 'text/html'\n");
    dr_recordio_decoder_deinit(&r.dec);
    world_deinit(&w);
}

/* A name that does not resolve fails later, through done, never inside send. */
static void test_unknown_host_fails_later(void **state)
{
    (void)state;
    world w;
    world_init(&w, 4, NULL);
    dr_http_client *c = NULL;
    dr_err err;
    assert_int_equal(dr_http_client_create(w.client_env, "nowhere", 80, NULL, &c, &err), DR_OK);
    call_result r = {0};
    dr_recordio_decoder_init(&r.dec, 0);
    dr_http_client_request req = {.method = "GET", .target = "/x"};
    assert_int_equal(dr_http_client_send(c, &req, &call_cbs, &r, NULL, &err), DR_OK);
    assert_false(r.done);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_true(r.done);
    assert_int_equal(r.err.code, DR_ENOTFOUND);
    assert_true(strncmp(r.err.msg, "nowhere:80: GET /x: connecting: ", 32) == 0);
    dr_recordio_decoder_deinit(&r.dec);
    dr_http_client_destroy(c);
    world_deinit(&w);
}


/* A client destroyed while a call waits to fail from the loop (here: a name
 * that does not resolve) takes that call with it: nothing fires later. */
static void test_destroy_with_failing_call(void **state)
{
    (void)state;
    world w;
    world_init(&w, 5, NULL);
    dr_http_client *c = NULL;
    dr_err err;
    assert_int_equal(dr_http_client_create(w.client_env, "nowhere", 80, NULL, &c, &err), DR_OK);
    call_result r = {0};
    dr_recordio_decoder_init(&r.dec, 0);
    dr_http_client_request req = {.method = "GET", .target = "/x"};
    assert_int_equal(dr_http_client_send(c, &req, &call_cbs, &r, NULL, &err), DR_OK);
    dr_http_client_destroy(c);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_false(r.done);
    dr_recordio_decoder_deinit(&r.dec);
    world_deinit(&w);
}

/* ---- a crashed process: forget ---------------------------------------------------- */

/* A simulated program with a server (port 7000: /hold streams and keeps its
 * responses, /wait keeps them unanswered) and two clients (one to master-1,
 * one connection at most so calls queue; one to a name that does not
 * resolve), all on a guard env. Its crash forgets them and reports how many
 * env operations that asked for. */
typedef struct node {
    guard_env guard;
    dr_http_server *server;
    dr_http_client *client;
    dr_http_client *lost;
    dr_http_response *held[8];
    bool held_streaming[8];
    size_t held_count;
    call_result results[4];
} node;

static struct {
    uint64_t crash_count;
    uint64_t armed_calls;
    char first[32];
} node_crashes;

static void hold_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                         void *ctx)
{
    DR_UNUSED(env);
    node *n = ctx;
    assert_true(n->held_count < DR_ARRAY_COUNT(n->held));
    bool stream = strcmp(req->path, "/hold") == 0;
    if (stream) {
        dr_http_response_stream_start(res, 200, "application/json");
        dr_err err;
        assert_int_equal(dr_http_response_stream_record(res, "{}", 2, &err), DR_OK);
    }
    n->held_streaming[n->held_count] = stream;
    n->held[n->held_count++] = res;
}

static void held_finish(node *n)
{
    for (size_t i = 0; i < n->held_count; i++) {
        if (n->held_streaming[i])
            dr_http_response_stream_end(n->held[i]);
        else
            dr_http_response_send(n->held[i], 200, NULL, "", 0);
    }
    n->held_count = 0;
}

static void *node_start(dr_env *env, int argc, char **argv)
{
    DR_UNUSED(argc);
    DR_UNUSED(argv);
    node *n = dr_alloc(sizeof *n);
    guard_env_init(&n->guard, env);
    dr_http_server_opts so = {.host = "0.0.0.0", .port = 7000};
    dr_err err;
    assert_int_equal(dr_http_server_create(&n->guard.env, &so, &n->server, &err), DR_OK);
    assert_int_equal(dr_http_server_route(n->server, "/hold", false, hold_handler, n, &err), DR_OK);
    assert_int_equal(dr_http_server_route(n->server, "/wait", false, hold_handler, n, &err), DR_OK);
    dr_http_client_opts co = {.conn_count_max = 1};
    assert_int_equal(dr_http_client_create(&n->guard.env, "master-1", 5050, &co, &n->client, &err),
                     DR_OK);
    assert_int_equal(dr_http_client_create(&n->guard.env, "nowhere", 80, NULL, &n->lost, &err),
                     DR_OK);
    /* A stream that stays open on the only connection, then calls that queue. */
    static const char *const bodies[] = {"{\"type\":\"SUBSCRIBE\"}", "{\"type\":\"A\"}",
                                         "{\"type\":\"B\"}"};
    dr_http_header headers[] = {{"Content-Type", "application/json"},
                                {"Accept", "application/json"}};
    for (size_t i = 0; i < 3; i++) {
        dr_http_client_request req = {.method = "POST", .target = "/master/api/v1/scheduler",
                                      .headers = headers, .header_count = 2, .body = bodies[i],
                                      .body_size = strlen(bodies[i]), .stream = i == 0};
        dr_recordio_decoder_init(&n->results[i].dec, 0);
        assert_int_equal(dr_http_client_send(n->client, &req, &call_cbs, &n->results[i], NULL,
                                             &err),
                         DR_OK);
    }
    dr_http_client_request req = {.method = "GET", .target = "/x"};
    dr_recordio_decoder_init(&n->results[3].dec, 0);
    assert_int_equal(dr_http_client_send(n->lost, &req, &call_cbs, &n->results[3], NULL, &err),
                     DR_OK);
    return n;
}

static void node_free(node *n)
{
    for (size_t i = 0; i < DR_ARRAY_COUNT(n->results); i++)
        dr_recordio_decoder_deinit(&n->results[i].dec);
    dr_free(n);
}

static void node_crash(void *state)
{
    node *n = state;
    n->guard.armed = true;
    dr_http_client_forget(n->client);
    dr_http_client_forget(n->lost);
    dr_http_server_forget(n->server);
    held_finish(n); /* detached now: finishing them only frees */
    node_crashes.crash_count++;
    node_crashes.armed_calls += n->guard.armed_calls;
    if (n->guard.armed_calls > 0 && node_crashes.first[0] == '\0')
        memcpy(node_crashes.first, n->guard.first, sizeof node_crashes.first);
    node_free(n);
}

static void node_stop(void *state)
{
    node *n = state;
    dr_http_client_destroy(n->client);
    dr_http_client_destroy(n->lost);
    dr_http_server_destroy(n->server);
    held_finish(n);
    node_free(n);
}

static const dr_sim_program node_program = {"node", node_start, node_crash, node_stop};

/* Crashes the node at once (connections still connecting, a call waiting to
 * fail) or after traffic (a stream open each way, calls queued, held
 * responses, a connection stopped in the middle of a request body). Either
 * way forget asks the env for nothing; LeakSanitizer checks it freed all. */
static void crash_node(uint64_t traffic_ns)
{
    memset(&node_crashes, 0, sizeof node_crashes);
    world w;
    world_init(&w, 9, NULL);
    start_server(&w, 60 * DR_NS_PER_S);
    dr_sim_register_program(w.sim, &node_program);
    const char *argv[] = {"node", NULL};
    dr_err err;
    dr_pid np = dr_sim_process_start(w.sim, dr_sim_host_find(w.sim, "agent-1"), argv, &err);
    assert_true(np > 0);
    /* The world's client process calls the node. */
    dr_http_client *to_node = NULL;
    assert_int_equal(dr_http_client_create(w.client_env, "agent-1", 7000, NULL, &to_node, &err),
                     DR_OK);
    call_result r[3];
    memset(r, 0, sizeof r);
    static const char *const targets[] = {"/hold", "/wait", "/wait"};
    for (size_t i = 0; i < 3; i++) {
        dr_recordio_decoder_init(&r[i].dec, 0);
        dr_http_client_request req = {.method = "POST", .target = targets[i], .body = "x",
                                      .body_size = 1, .stream = i == 0, .stream_body = i == 2};
        assert_int_equal(dr_http_client_send(to_node, &req, &call_cbs, &r[i], NULL, &err), DR_OK);
    }
    w.heartbeat_max = 1000;
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + traffic_ns);
    if (traffic_ns > 0) {
        node *n = dr_sim_process_state(w.sim, np);
        assert_int_equal(n->held_count, 2); /* /hold and the whole /wait */
        assert_true(n->results[3].done);    /* "nowhere" failed */
        assert_int_equal(dr_http_server_conn_count(n->server), 3);
    }
    dr_sim_process_crash(w.sim, np);
    assert_int_equal(node_crashes.crash_count, 1);
    if (node_crashes.armed_calls != 0)
        fail_msg("the crashed node asked for %llu env operation(s), first '%s'",
                 (unsigned long long)node_crashes.armed_calls, node_crashes.first);
    /* Its peers see the resets (the world's server finds its stream gone at
     * the next heartbeat, 15 s on); its port is free again. */
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + 20 * DR_NS_PER_S);
    assert_null(w.subscriber);
    for (size_t i = 0; i < 3; i++) {
        if (i < 2 || traffic_ns == 0)
            assert_true(r[i].done);
        assert_int_not_equal(r[i].err.code, DR_OK);
        dr_recordio_decoder_deinit(&r[i].dec);
    }
    np = dr_sim_process_start(w.sim, dr_sim_host_find(w.sim, "agent-1"), argv, &err);
    assert_true(np > 0);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    dr_http_client_destroy(to_node);
    dr_env_timer_cancel(w.server_env, w.heartbeat_timer);
    dr_http_response *sub = w.subscriber; /* the second node's stream */
    world_deinit(&w); /* crashes the second node: forget again */
    if (sub != NULL)
        dr_http_response_stream_end(sub); /* detached by the server's destroy: frees */
    assert_int_equal(node_crashes.crash_count, 2);
    assert_int_equal(node_crashes.armed_calls, 0);
}

static void test_crash_forgets_at_once(void **state)
{
    (void)state;
    crash_node(0);
}

static void test_crash_forgets_after_traffic(void **state)
{
    (void)state;
    crash_node(2 * DR_NS_PER_S);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traffic_deterministic),
        cmocka_unit_test(test_resets_never_hang),
        cmocka_unit_test(test_negotiation_over_sim),
        cmocka_unit_test(test_unknown_host_fails_later),
        cmocka_unit_test(test_destroy_with_failing_call),
        cmocka_unit_test(test_crash_forgets_at_once),
        cmocka_unit_test(test_crash_forgets_after_traffic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
